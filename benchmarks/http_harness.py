"""Serving an application factory on uvicorn over loopback and loading it with ``wrk``: the HTTP benchmarks' parts.

Each subject of a benchmark is an application factory (``module:function``) that reads its settings from the
environment. :class:`Served` runs it on uvicorn; :func:`load` runs ``wrk`` against it; :func:`best_rates` serves
several subjects at once and loads them in turns, so the machine's other load falls on all of them alike.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from testservers.process import wait_until

ROOT = Path(__file__).resolve().parent.parent


def require_wrk() -> None:
    """Exit with how to install ``wrk`` when it is missing.

    Raises:
        SystemExit: ``wrk`` is not on the ``PATH``.
    """
    if shutil.which("wrk") is None:
        raise SystemExit("This benchmark needs wrk: install it with `apt-get install -y wrk` (as root)")


@dataclass
class Subject:
    """One application to serve: its factory, its environment and what the load sends."""

    factory: str
    """``module:function`` returning the Litestar application."""
    environment: Mapping[str, str]
    path: str = "/"
    """The path the load requests."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Headers every request of the load carries (e.g. a session cookie)."""


class Served:
    """uvicorn serving one subject on a listening socket made here (see :func:`listening_socket`)."""

    def __init__(self, subject: Subject, workers: int, log: Path) -> None:
        self.socket = listening_socket()
        port = self.socket.getsockname()[1]
        fd = self.socket.fileno()
        argv = [sys.executable, "-m", "uvicorn", "--factory", subject.factory, "--fd", str(fd)]
        argv += ["--workers", str(workers), "--no-access-log", "--log-level", "warning"]
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**os.environ, **subject.environment},
            pass_fds=[fd],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.base = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited:\n{log.read_text(errors='replace')}")
            return httpx.get(self.base + "/", timeout=1).status_code < 500

        try:
            wait_until(answers, 30, f"uvicorn ({subject.factory})")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.socket.close()
        self._log.close()


def listening_socket() -> socket.socket:
    """A loopback listening socket with ``TCP_NODELAY``, which the connections it accepts inherit.

    With ``--workers``, uvicorn's workers receive the socket from the parent process and asyncio then leaves
    ``TCP_NODELAY`` off on the connections (it only sets it for sockets whose protocol reads as TCP): every
    response waits for the client's delayed ACK, ~40 ms, and all subjects measure the same ~700 requests/s.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    return sock


def load(url: str, duration: int, connections: int, headers: Mapping[str, str] | None = None) -> tuple[float, int]:
    """Run wrk against ``url``; return requests per second and how many answers were not 2xx/3xx."""
    argv = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{duration}s"]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    output = subprocess.run([*argv, url], capture_output=True, text=True, check=True, timeout=duration + 30).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if rate is None:
        raise RuntimeError(f"wrk printed no rate:\n{output}")
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return float(rate.group(1)), int(errors.group(1)) if errors else 0


def best_rates(
    subjects: Mapping[str, Subject], workers: int, workdir: Path, duration: int, connections: int, rounds: int
) -> dict[str, float]:
    """Serve every subject at once and load them in turns, ``rounds`` times; return each one's best requests per
    second.

    Raises:
        SystemExit: a subject answered a request with an error status (its uvicorn log is named).
    """
    servers: dict[str, Served] = {}
    try:
        for name, subject in subjects.items():
            servers[name] = Served(subject, workers, workdir / f"uvicorn-{name}-{workers}.log")
            load(servers[name].base + subject.path, 1, connections, subject.headers)  # warm up
        rates = dict.fromkeys(servers, 0.0)
        for _ in range(rounds):
            for name, server in servers.items():
                subject = subjects[name]
                rate, errors = load(server.base + subject.path, duration, connections, subject.headers)
                if errors:
                    raise SystemExit(f"{errors} failed requests ({name}); see {workdir}")
                rates[name] = max(rates[name], rate)
        return rates
    finally:
        for server in servers.values():
            server.stop()
