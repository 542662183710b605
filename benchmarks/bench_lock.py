"""Benchmark the primitives' users: locks per backend, the cold-route stampede, and the session route.

Run ``python -m benchmarks.bench_lock [--ops N]``. It starts its own Redis, Valkey and MongoDB-protocol servers (the
test suite's launchers) and prints three Markdown tables:

1. ``store.lock(...)`` acquire + release per second on each backend, next to the raw server's ``SET NX PX`` + ``DEL``
   through the client library (Redis and Valkey);
2. the cold-route stampede: 20 concurrent requests on a cold cached route whose handler takes 50 ms, repeated on new
   keys, with and without ``cache_single_flight`` (handler calls per round and p99 latency), on memory and Redis;
3. the session route: requests per second of a route that changes the session, with Litestar's
   ``ServerSideSessionConfig`` and with ``CASSessionConfig``, on Redis.

The machine is shared and loaded: compare figures within one run, as ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import httpx
import redis.asyncio
import valkey.asyncio
from litestar import Litestar, Request, get, post
from litestar.middleware.session.server_side import ServerSideSessionConfig

from litestar_kvstores import (
    CASSessionConfig,
    FileStore,
    KVStore,
    KVStoresConfig,
    KVStoresPlugin,
    MemoryStore,
    MongoStore,
    RedisStore,
    ValkeyStore,
)
from testservers.mongo import start_mongo_server
from testservers.process import free_port
from testservers.redis import start_server

STAMPEDE = 20
HANDLER_SECONDS = 0.05


async def per_second(op: Callable[[int], Awaitable[object]], ops: int) -> float:
    start = time.perf_counter()
    for i in range(ops):
        await op(i)
    return ops / (time.perf_counter() - start)


async def lock_cycle(store: KVStore, ops: int) -> float:
    async def cycle(i: int) -> None:
        async with store.lock("bench-lock", ttl=10, timeout=0):
            pass

    return await per_second(cycle, ops)


async def raw_cycle(client: Any, ops: int) -> float:
    async def cycle(i: int) -> None:
        assert await client.set("bench-raw-lock", b"token", nx=True, px=10_000)
        await client.delete("bench-raw-lock")

    return await per_second(cycle, ops)


async def locks(urls: dict[str, str], ops: int) -> None:
    print("| backend | store.lock acquire+release/s | raw SET NX + DEL/s | ratio |")
    print("| --- | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as directory:
        stores: dict[str, tuple[KVStore, Any]] = {
            "memory": (MemoryStore(), None),
            "file": (FileStore(Path(directory) / "locks"), None),
            "redis": (RedisStore.with_client(urls["redis"]), redis.asyncio.Redis.from_url(urls["redis"])),
            "valkey": (ValkeyStore.with_client(urls["valkey"]), valkey.asyncio.Valkey.from_url(urls["valkey"])),
            "mongo": (MongoStore.with_client(urls["mongo"]), None),
        }
        for name, (store, raw) in stores.items():
            async with store:
                # alternating turns, best of three each, so a burst of load elsewhere hits both alike
                ours, floor = 0.0, None
                for _ in range(3):
                    ours = max(ours, await lock_cycle(store, ops))
                    if raw is not None:
                        floor = max(floor or 0.0, await raw_cycle(raw, ops))
                if raw is not None:
                    await raw.aclose()
            ratio = "" if floor is None else f"{ours / floor:.2f}"
            print(f"| {name} | {ours:,.0f} | {'' if floor is None else f'{floor:,.0f}'} | {ratio} |")


def stampede_app(default: str, single_flight: bool, calls: list[int]) -> Litestar:
    @get("/cold", cache=60)
    async def cold(n: int) -> dict[str, int]:
        calls[0] += 1
        await asyncio.sleep(HANDLER_SECONDS)
        return {"n": n}

    config = KVStoresConfig(default=default, cache_single_flight=single_flight, cleanup_interval=None)
    return Litestar([cold], plugins=[KVStoresPlugin(config)])


@asynccontextmanager
async def serving(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=httpx.ASGITransport(cast(Any, app)), base_url="http://app") as client,
    ):
        yield client


async def stampede(urls: dict[str, str], rounds: int) -> None:
    print("| backend | single flight | handler calls per round | p99 latency (ms) |")
    print("| --- | --- | ---: | ---: |")
    for name in ("memory", "redis"):
        for single_flight in (False, True):
            default = "memory://" if name == "memory" else f"{urls['redis']}/0?namespace=bench-{time.time_ns()}"
            calls = [0]
            latencies: list[float] = []
            async with serving(stampede_app(default, single_flight, calls)) as client:

                async def timed(n: int, client: httpx.AsyncClient = client, latencies: list[float] = latencies) -> None:
                    start = time.perf_counter()
                    (await client.get("/cold", params={"n": n})).raise_for_status()
                    latencies.append(time.perf_counter() - start)

                for n in range(rounds):
                    await asyncio.gather(*(timed(n) for _ in range(STAMPEDE)))
            p99 = statistics.quantiles(latencies, n=100)[98] * 1000
            print(f"| {name} | {'on' if single_flight else 'off'} | {calls[0] / rounds:.1f} | {p99:.0f} |")


@post("/visit")
async def visit(request: Request[Any, Any, Any]) -> None:
    request.session["visits"] = request.session.get("visits", 0) + 1


async def sessions(urls: dict[str, str], ops: int) -> None:
    print("| session config (Redis) | requests/s | ratio |")
    print("| --- | ---: | ---: |")
    results: dict[str, float] = {}
    for label, config in (
        ("ServerSideSessionConfig", ServerSideSessionConfig(store="sessions")),
        ("CASSessionConfig", CASSessionConfig(store="sessions")),
    ):
        plugin = KVStoresPlugin(KVStoresConfig(stores={"sessions": f"{urls['redis']}/0"}, cleanup_interval=None))
        app = Litestar([visit], middleware=[config.middleware], plugins=[plugin])
        async with serving(app) as client:
            await client.post("/visit")
            results[label] = await per_second(lambda i: client.post("/visit"), ops)  # awaited in this iteration
    base = results["ServerSideSessionConfig"]
    for label, value in results.items():
        print(f"| {label} | {value:,.0f} | {value / base:.2f} |")


async def main(ops: int = 2000, rounds: int = 10) -> None:
    redis_server, valkey_server = start_server("redis"), start_server("valkey")
    mongo_server = start_mongo_server(free_port(), Path(tempfile.mkdtemp(prefix="kvstores-bench-mongo-")))
    urls = {"redis": redis_server.url, "valkey": valkey_server.url, "mongo": mongo_server.url}
    try:
        await locks(urls, ops)
        print()
        await stampede(urls, rounds)
        print()
        await sessions(urls, max(ops // 4, 100))
    finally:
        for server in (redis_server, valkey_server, mongo_server):
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=10)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.ops, arguments.rounds))
