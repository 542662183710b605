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


PLAIN_SERVER = os.environ.get("BENCH_UVICORN") == "plain"
"""``BENCH_UVICORN=plain``: serve on uvicorn's plain server (``--loop asyncio --http h11``) instead of its defaults."""


def describe_server() -> str:
    """Which uvicorn serves the subjects: its defaults (``--loop auto --http auto``) take uvloop and httptools when
    they are installed (the ``bench`` extra installs them, as ``litestar[standard]`` does); see :data:`PLAIN_SERVER`."""
    import importlib.util

    import uvicorn

    loop = "uvloop" if importlib.util.find_spec("uvloop") and not PLAIN_SERVER else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") and not PLAIN_SERVER else "h11"
    return f"uvicorn {uvicorn.__version__} ({loop}, {http})"


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
    """One subject on ``workers`` uvicorn processes, each on its own listening socket of the same loopback port.

    Not ``uvicorn --workers``: its workers share one listening socket, and asyncio accepts every pending connection
    at once, so whichever worker wakes first can take all of wrk's connections and the other idles (the runs then
    swing by up to 2x). Sockets of one port with ``SO_REUSEPORT`` get the connections spread by the kernel.
    """

    def __init__(self, subject: Subject, workers: int, log: Path) -> None:
        self.sockets: list[socket.socket] = []
        self.processes: list[subprocess.Popen[bytes]] = []
        self._log = log.open("wb")
        try:
            for _ in range(workers):
                sock = listening_socket(self.sockets[0].getsockname()[1] if self.sockets else 0)
                self.sockets.append(sock)
                fd = sock.fileno()
                argv = [sys.executable, "-m", "uvicorn", "--factory", subject.factory, "--fd", str(fd)]
                argv += ["--no-access-log", "--log-level", "warning"]
                argv += ["--loop", "asyncio", "--http", "h11"] if PLAIN_SERVER else []
                self.processes.append(
                    subprocess.Popen(
                        argv,
                        cwd=ROOT,
                        env={**os.environ, **subject.environment},
                        pass_fds=[fd],
                        stdout=self._log,
                        stderr=subprocess.STDOUT,
                    )
                )
            self.base = f"http://127.0.0.1:{self.sockets[0].getsockname()[1]}"

            def answers() -> bool:
                if any(process.poll() is not None for process in self.processes):
                    raise RuntimeError(f"uvicorn exited:\n{log.read_text(errors='replace')}")
                return httpx.get(self.base + "/", timeout=1).status_code < 500

            wait_until(answers, 30, f"uvicorn ({subject.factory})")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for sock in self.sockets:
            sock.close()
        self._log.close()


def listening_socket(port: int = 0) -> socket.socket:
    """A loopback listening socket on ``port`` (0: a free one) with ``SO_REUSEPORT``, and with ``TCP_NODELAY``,
    which the connections it accepts inherit.

    uvicorn serving a socket passed with ``--fd`` leaves ``TCP_NODELAY`` as the socket has it (asyncio only sets it
    for sockets whose protocol reads as TCP): without it every response waits for the client's delayed ACK, ~40 ms,
    and all subjects measure the same ~700 requests/s.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", port))
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
