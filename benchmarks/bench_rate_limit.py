"""Rate limiting over HTTP: requests per second of a rate-limited route, served by uvicorn on loopback, loaded by wrk.

Subjects, each on the same route (``GET /`` answering ``"ok"``):

- ``kv, 2 limits``: :class:`~litestar_kvstores.rate_limit.KVRateLimitConfig` with two limits (per second and per
  hour, fixed windows, headers on) over this package's store of the backend;
- ``stock, 1 limit``: Litestar's ``RateLimitConfig`` / ``RateLimitMiddleware`` with one limit over Litestar's own store
  of the backend (what a Litestar application has today);
- ``none``: the ``kv`` application without the rate-limiting middleware (memory only: the floor);
- ``quiet``: ``kv`` with ``set_rate_limit_headers=False`` (memory only): what the four ``RateLimit-*`` headers of
  every response cost, which the server spends most of serialising.

The limits are far above what the load reaches, so every request is counted and admitted. Litestar's middleware
keeps a JSON list of every request's time in its window, so its limit is per second, the window that keeps the
list shortest. Backends: memory, file, Redis (a server started here); one uvicorn process, then two (see
:class:`~benchmarks.http_harness.Served`).

Run: ``python -m benchmarks.bench_rate_limit [--duration 5] [--connections 32] [--rounds 3] [--backends ...]``;
``--in-process`` instead times each subject on memory called in process, without a server or wrk.
The subjects of a backend are served at once and loaded in turns; each one's best round counts. Needs ``wrk`` (Debian:
``apt-get install -y wrk``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from litestar import Litestar, get
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.stores.base import Store
from litestar.stores.file import FileStore as LitestarFileStore
from litestar.stores.memory import MemoryStore as LitestarMemoryStore
from litestar.stores.redis import RedisStore as LitestarRedisStore

from litestar_kvstores import KVStoresConfig, KVStoresPlugin
from litestar_kvstores.rate_limit import KVRateLimitConfig
from testservers.redis import start_server

from .asgi_timing import cpu_per_request
from .http_harness import Subject, best_rates, describe_server, require_wrk

BACKENDS = ("memory", "file", "redis")
SUBJECTS = ("kv", "stock", "none", "quiet")
LABELS = ("kv, 2 limits", "stock, 1 limit", "none", "kv, no headers")
MEMORY_ONLY = ("none", "quiet")
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
    return build_app(subject, backend, os.environ.get("BENCH_RL_LOCATION", ""))


def build_app(subject: str, backend: str, location: str = "") -> Litestar:
    """The application of ``subject`` on ``backend`` (``location``: the file store's directory or Redis's URL)."""
    if subject == "stock":
        stock = RateLimitConfig(rate_limit=("second", HUGE))
        return Litestar([index], middleware=[stock.middleware], stores={"rate_limit": _stock_store(backend, location)})
    url = {"memory": "memory://", "file": f"file://{location}", "redis": location}[backend]
    plugin = KVStoresPlugin(KVStoresConfig(stores={"rate_limit": url}, cleanup_interval=None))
    if subject == "none":  # the same application without the rate-limiting middleware
        return Litestar([index], plugins=[plugin])
    limits = [("second", HUGE), ("hour", HUGE)]
    limited = KVRateLimitConfig(limits=limits, set_rate_limit_headers=subject != "quiet")
    return Litestar([index], middleware=[limited.middleware], plugins=[plugin])


def subjects(backend: str, redis_url: str, workdir: Path, workers: int) -> dict[str, Subject]:
    """The subjects measured on ``backend``: ``kv`` and ``stock``, and ``none`` on memory."""
    chosen: dict[str, Subject] = {}
    for subject in SUBJECTS:
        if subject in MEMORY_ONLY and backend != "memory":
            continue
        location = {"memory": "", "redis": redis_url}.get(backend, "")
        if backend == "file":
            location = str(workdir / f"{subject}-{workers}-{time.monotonic_ns()}")
        environment = {"BENCH_RL_SUBJECT": subject, "BENCH_RL_BACKEND": backend, "BENCH_RL_LOCATION": location}
        chosen[subject] = Subject("benchmarks.bench_rate_limit:create_app", environment)
    return chosen


def _rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:,.0f}"


def _ratio(numerator: float | None, denominator: float | None) -> str:
    return "-" if numerator is None or denominator is None else f"{numerator / denominator:.2f}x"


def in_process(requests: int, rounds: int) -> None:
    """Print each memory subject's own CPU time per request, called in process (see :mod:`benchmarks.asgi_timing`)."""
    times = {subject: cpu_per_request(build_app(subject, "memory"), "/", requests, rounds) for subject in SUBJECTS}
    print(f"### In process (uvloop), memory, best of {rounds} x {requests:,} requests\n")
    print("| subject | µs per request | over none |")
    print("|---|---|---|")
    for subject, label in zip(SUBJECTS, LABELS, strict=True):
        print(f"| {label} | {times[subject]:.1f} | {times[subject] - times['none']:+.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per run (default 5)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--rounds", type=int, default=3, help="turns per subject, the best counts (default 3)")
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=BACKENDS, help="default: all")
    parser.add_argument(
        "--in-process", action="store_true", help="only each memory subject's CPU time per request, without a server"
    )
    args = parser.parse_args()
    if args.in_process:
        in_process(20_000, 5)
        return
    require_wrk()
    redis_server = start_server("redis")
    workdir = Path(tempfile.mkdtemp(prefix="bench-rate-limit-"))
    try:
        for workers in (1, 2):
            processes = f"{workers} process{'es' if workers > 1 else ''}"
            print(f"### {describe_server()}, {processes}, wrk -c {args.connections}\n")
            print(
                "| backend | kv, 2 limits | stock, 1 limit | none | kv, no headers | kv vs stock | none / kv "
                "| none / kv, no headers |"
            )
            print("|---|---|---|---|---|---|---|---|")
            for backend in args.backends:
                chosen = subjects(backend, redis_server.url, workdir, workers)
                rates = best_rates(chosen, workers, workdir, args.duration, args.connections, args.rounds)
                kv, stock, none, quiet = (rates.get(subject) for subject in ("kv", "stock", "none", "quiet"))
                print(
                    f"| {backend} | {_rate(kv)} | {_rate(stock)} | {_rate(none)} | {_rate(quiet)} "
                    f"| {_ratio(kv, stock)} | {_ratio(none, kv)} | {_ratio(none, quiet)} |",
                    flush=True,
                )
            print()
    finally:
        redis_server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
