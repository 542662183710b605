"""Rate limiting over HTTP: requests per second of a rate-limited route, served by uvicorn on loopback, loaded by wrk.

Subjects, each on the same route (``GET /`` answering ``"ok"``):

- ``kv, 2 limits``: :class:`~litestar_kvstores.rate_limit.KVRateLimitConfig` with two limits (per second and per
  hour, fixed windows, headers on) over this package's store of the backend;
- ``stock, 1 limit``: Litestar's ``RateLimitConfig`` / ``RateLimitMiddleware`` with one limit over Litestar's own store
  of the backend (what a Litestar application has today);
- ``none``: no rate limiting (memory only: the floor).

The limits are far above what the load reaches, so every request is counted and admitted. Litestar's middleware
keeps a JSON list of every request's time in its window, so its limit is per second, the window that keeps the
list shortest. Backends: memory, file, Redis (a server started here); one uvicorn worker, then two.

Run: ``python -m benchmarks.bench_rate_limit [--duration 5] [--connections 32] [--rounds 3] [--backends ...]``.
The subjects of a backend are served at once and loaded in turns; each one's best round counts. Needs ``wrk`` (Debian:
``apt-get install -y wrk``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from litestar import Litestar, get
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.stores.base import Store
from litestar.stores.file import FileStore as LitestarFileStore
from litestar.stores.memory import MemoryStore as LitestarMemoryStore
from litestar.stores.redis import RedisStore as LitestarRedisStore

from litestar_kvstores import KVStoresConfig, KVStoresPlugin
from litestar_kvstores.rate_limit import KVRateLimitConfig
from testservers.process import wait_until
from testservers.redis import start_server

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("memory", "file", "redis")
SUBJECTS = ("kv", "stock", "none")
HUGE = 10**9


@get("/", sync_to_thread=False)
def index() -> str:
    return "ok"


def _stock_store(backend: str, location: str) -> Store:
    if backend == "memory":
        return LitestarMemoryStore()
    if backend == "file":
        return LitestarFileStore(Path(location))
    return LitestarRedisStore.with_client(location)


def create_app() -> Litestar:
    """The app one benchmark run serves: ``BENCH_RL_SUBJECT``, ``BENCH_RL_BACKEND``, ``BENCH_RL_LOCATION``."""
    subject, backend = os.environ["BENCH_RL_SUBJECT"], os.environ["BENCH_RL_BACKEND"]
    location = os.environ.get("BENCH_RL_LOCATION", "")
    if subject == "kv":
        url = {"memory": "memory://", "file": f"file://{location}", "redis": location}[backend]
        plugin = KVStoresPlugin(KVStoresConfig(stores={"rate_limit": url}, cleanup_interval=None))
        limited = KVRateLimitConfig(limits=[("second", HUGE), ("hour", HUGE)])
        return Litestar([index], middleware=[limited.middleware], plugins=[plugin])
    if subject == "stock":
        stock = RateLimitConfig(rate_limit=("second", HUGE))
        return Litestar([index], middleware=[stock.middleware], stores={"rate_limit": _stock_store(backend, location)})
    return Litestar([index])


class Served:
    """uvicorn serving one subject on a listening socket made here (see :func:`listening_socket`)."""

    def __init__(self, subject: str, backend: str, location: str, workers: int, log: Path) -> None:
        self.socket = listening_socket()
        port = self.socket.getsockname()[1]
        fd = self.socket.fileno()
        env = dict(os.environ, BENCH_RL_SUBJECT=subject, BENCH_RL_BACKEND=backend, BENCH_RL_LOCATION=location)
        argv = [sys.executable, "-m", "uvicorn", "--factory", "benchmarks.bench_rate_limit:create_app"]
        argv += ["--fd", str(fd), "--workers", str(workers), "--no-access-log", "--log-level", "warning"]
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env=env, pass_fds=[fd], stdout=self._log, stderr=subprocess.STDOUT
        )
        self.url = f"http://127.0.0.1:{port}/"

        def answers() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited:\n{log.read_text(errors='replace')}")
            return httpx.get(self.url, timeout=1).status_code == 200

        try:
            wait_until(answers, 30, f"uvicorn ({subject}, {backend})")
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


def load(url: str, duration: int, connections: int) -> tuple[float, int]:
    """Run wrk against ``url``; return requests per second and how many answers were not 2xx/3xx."""
    argv = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{duration}s", url]
    output = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=duration + 30).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if rate is None:
        raise RuntimeError(f"wrk printed no rate:\n{output}")
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return float(rate.group(1)), int(errors.group(1)) if errors else 0


def measure(
    backend: str, workers: int, redis_url: str, workdir: Path, duration: int, connections: int, rounds: int
) -> dict[str, float]:
    """Serve every subject of ``backend`` at once and load them in turns, ``rounds`` times; return each subject's
    best requests per second (taking turns spreads the machine's other load over all subjects alike)."""
    servers: dict[str, Served] = {}
    try:
        for subject in SUBJECTS:
            if subject == "none" and backend != "memory":
                continue
            location = {"memory": "", "redis": redis_url}.get(backend, "")
            if backend == "file":
                location = str(workdir / f"{subject}-{workers}-{time.monotonic_ns()}")
            log = workdir / f"uvicorn-{subject}-{backend}-{workers}.log"
            servers[subject] = Served(subject, backend, location, workers, log)
            load(servers[subject].url, 1, connections)  # warm up
        rates: dict[str, float] = dict.fromkeys(servers, 0.0)
        for _ in range(rounds):
            for subject, server in servers.items():
                rate, errors = load(server.url, duration, connections)
                if errors:
                    raise SystemExit(f"{errors} failed requests ({subject}, {backend}); see {workdir}")
                rates[subject] = max(rates[subject], rate)
        return rates
    finally:
        for server in servers.values():
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per run (default 5)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--rounds", type=int, default=3, help="turns per subject, the best counts (default 3)")
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=BACKENDS, help="default: all")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("This benchmark needs wrk: install it with `apt-get install -y wrk` (as root)")
    redis_server = start_server("redis")
    workdir = Path(tempfile.mkdtemp(prefix="bench-rate-limit-"))
    try:
        for workers in (1, 2):
            print(f"### {workers} uvicorn worker{'s' if workers > 1 else ''}, wrk -c {args.connections}\n")
            print("| backend | kv, 2 limits | stock, 1 limit | none | kv vs stock | none / kv |")
            print("|---|---|---|---|---|---|")
            for backend in args.backends:
                rates = measure(
                    backend, workers, redis_server.url, workdir, args.duration, args.connections, args.rounds
                )
                none = f"{rates['none']:,.0f}" if "none" in rates else "-"
                floor = f"{rates['none'] / rates['kv']:.2f}x" if "none" in rates else "-"
                print(
                    f"| {backend} | {rates['kv']:,.0f} | {rates['stock']:,.0f} | {none} "
                    f"| {rates['kv'] / rates['stock']:.2f}x | {floor} |",
                    flush=True,
                )
            print()
    finally:
        redis_server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
