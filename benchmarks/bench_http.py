"""Stores behind HTTP: requests per second of a session route and a cached route, uvicorn on loopback, wrk.

Routes:

- ``GET /session``: Litestar's ``ServerSideSessionConfig`` session; each request reads the session (a store
  ``get``) and writes it back changed (a ``set``). Every request of the load carries the same session cookie.
- ``GET /cached``: a handler with ``cache=60`` and no session; after the first request every request is a cache hit
  (a ``get``).

Subjects, each the same application:

- ``ours-redis``: this package's ``RedisStore`` through :class:`~litestar_kvstores.KVStoresPlugin` (automatic
  pipelining on);
- ``litestar-redis``: Litestar's own ``RedisStore`` on the same server (another database);
- ``ours-postgres``: this package's ``PostgresStore`` (a PostgreSQL server started here), for reference.

Run: ``python -m benchmarks.bench_http [--duration 5] [--connections 64] [--rounds 3] [--workers 1]``. Needs
``wrk`` (Debian: ``apt-get install -y wrk``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar, Request, get
from litestar.config.response_cache import ResponseCacheConfig
from litestar.middleware.session.server_side import ServerSideSessionConfig
from litestar.stores.redis import RedisStore as LitestarRedisStore

from litestar_kvstores import KVStoresConfig, KVStoresPlugin
from testservers.postgres import postgres_url
from testservers.redis import start_server

from .http_harness import Served, Subject, best_rates, describe_server, require_wrk

SUBJECTS = ("ours-redis", "litestar-redis", "ours-postgres")
ROUTES = ("/session", "/cached")
PAGE = {"title": "A cached page", "items": [f"item {number}" for number in range(20)]}


@get("/session", sync_to_thread=False)
def session_view(request: Request[Any, Any, Any]) -> dict[str, int]:
    visits = int(request.session.get("visits", 0)) + 1
    request.set_session({"visits": visits, "user": "bench"})
    return {"visits": visits}


@get("/cached", cache=60, sync_to_thread=False, skip_session=True)  # only the cache's store at work
def cached_view() -> dict[str, Any]:
    return PAGE


def create_app() -> Litestar:
    """The application of ``BENCH_HTTP_SUBJECT`` on the store at ``BENCH_HTTP_URL``."""
    subject, url = os.environ["BENCH_HTTP_SUBJECT"], os.environ["BENCH_HTTP_URL"]
    sessions = ServerSideSessionConfig()
    handlers = [session_view, cached_view]
    if subject == "litestar-redis":
        store = LitestarRedisStore.with_client(url)
        return Litestar(
            handlers,
            middleware=[sessions.middleware],
            stores={"sessions": store, "response_cache": store.with_namespace("response_cache")},
            response_cache_config=ResponseCacheConfig(),
        )
    plugin = KVStoresPlugin(KVStoresConfig(stores={"sessions": url, "response_cache": url}, cleanup_interval=None))
    return Litestar(handlers, middleware=[sessions.middleware], plugins=[plugin])


def session_cookie(subject: Subject, workdir: Path) -> str:
    """Start a session on a server of ``subject`` and return its cookie (the store keeps it for the load)."""
    served = Served(subject, 1, workdir / "uvicorn-session.log")
    try:
        response = httpx.get(served.base + "/session", timeout=10)
        response.raise_for_status()
        return f"session={response.cookies['session']}"
    finally:
        served.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per run (default 5)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--rounds", type=int, default=3, help="turns per subject, the best counts (default 3)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn processes (default 1)")
    args = parser.parse_args()
    require_wrk()
    redis_server = start_server("redis")
    workdir = Path(tempfile.mkdtemp(prefix="bench-http-"))
    try:
        with postgres_url() as postgres:
            urls = {
                "ours-redis": f"{redis_server.url}/0",
                "litestar-redis": f"{redis_server.url}/1",
                "ours-postgres": postgres,
            }
            print(f"### {describe_server()}, {args.workers} process(es), wrk -c {args.connections}, requests/s\n")
            print(
                "| route | ours, Redis | Litestar's RedisStore | ours vs Litestar | ours, PostgreSQL "
                "| PostgreSQL vs Litestar's Redis |"
            )
            print("|---|---|---|---|---|---|")
            for route in ROUTES:
                subjects = {
                    name: Subject(
                        "benchmarks.bench_http:create_app",
                        {"BENCH_HTTP_SUBJECT": name, "BENCH_HTTP_URL": urls[name]},
                        route,
                    )
                    for name in SUBJECTS
                }
                if route == "/session":
                    for subject in subjects.values():
                        subject.headers = {"Cookie": session_cookie(subject, workdir)}
                rates = best_rates(subjects, args.workers, workdir, args.duration, args.connections, args.rounds)
                ours, theirs, postgres_rate = (rates[name] for name in SUBJECTS)
                print(
                    f"| `{route}` | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.2f}x | {postgres_rate:,.0f} "
                    f"| {postgres_rate / theirs:.2f}x |",
                    flush=True,
                )
    finally:
        redis_server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
