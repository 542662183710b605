"""Benchmark the wrappers' overhead: encryption, compression, and a tiered near hit against a bare Redis get.

Run ``python -m benchmarks wrappers`` or ``python -m benchmarks.bench_wrappers [--ops N] [--rounds R]``. Prints:

- encryption: set+get through ``EncryptedStore(MemoryStore())`` minus the same on the bare ``MemoryStore``, per
  operation, for 1 KiB and 64 KiB values (target: under 10 µs per 1 KiB operation);
- compression of a 64 KiB JSON value with zstd and zlib: the stored size ratio and the time per set+get;
- a tiered near hit (``TieredStore(MemoryStore(), RedisStore)``) against a bare ``RedisStore.get`` on a real Redis
  server (target: at least 20x faster), and the near hit rate of a read-mostly workload;
- ``EncryptedStore.reencrypt`` of ``5 x ops`` values an older key encrypted, on a real Redis server.

Each figure is the median of several rounds; the subjects of one comparison take turns, so load hits them alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable

from litestar_kvstores import MemoryStore
from litestar_kvstores.base import KVStore
from litestar_kvstores.redis import RedisStore
from litestar_kvstores.wrappers import CompressedStore, EncryptedStore, InstrumentedStore, TieredStore
from testservers.redis import start_server

KEY = bytes(range(32))
JSON_64K = json.dumps([{"id": i, "name": f"user {i}", "email": f"user{i}@example.com"} for i in range(2000)]).encode()[
    :65536
]

Op = Callable[[int], Awaitable[object]]


async def seconds_per_call(op: Op, calls: int) -> float:
    start = time.perf_counter()
    for i in range(calls):
        await op(i)
    return (time.perf_counter() - start) / calls


async def compare(subjects: dict[str, Op], calls: int, rounds: int) -> dict[str, float]:
    """Return the median seconds per call of each subject, the subjects taking turns round by round."""
    for op in subjects.values():
        await seconds_per_call(op, max(calls // 10, 2))  # warm-up
    results: dict[str, list[float]] = {name: [] for name in subjects}
    for _ in range(rounds):
        for name, op in subjects.items():
            results[name].append(await seconds_per_call(op, calls))
    return {name: statistics.median(values) for name, values in results.items()}


def set_get(store: KVStore, value: bytes) -> Op:
    async def op(i: int) -> None:
        await store.set("key", value)
        await store.get("key")

    return op


async def encryption(ops: int, rounds: int) -> list[str]:
    lines = ["| value | bare set+get | encrypted set+get | overhead per operation |", "|---|---|---|---|"]
    for label, value in (("1 KiB", b"x" * 1024), ("64 KiB", b"x" * 65536)):
        bare = MemoryStore()
        timings = await compare(
            {"bare": set_get(bare, value), "encrypted": set_get(EncryptedStore(MemoryStore(), keys=[KEY]), value)},
            ops,
            rounds,
        )
        overhead = (timings["encrypted"] - timings["bare"]) / 2
        lines.append(
            f"| {label} | {timings['bare'] * 1e6:.1f} µs | {timings['encrypted'] * 1e6:.1f} µs | "
            f"{overhead * 1e6:.1f} µs |"
        )
    return lines


async def compression(ops: int, rounds: int) -> list[str]:
    lines = ["| algorithm | stored size | ratio | set+get |", "|---|---|---|---|"]
    stores = {"none": MemoryStore()} | {
        algorithm: CompressedStore(MemoryStore(), algorithm=algorithm) for algorithm in ("zstd", "zlib")
    }
    timings = await compare({name: set_get(store, JSON_64K) for name, store in stores.items()}, ops // 10, rounds)
    for name, store in stores.items():
        inner = store.store if isinstance(store, CompressedStore) else store
        stored = await inner.get("key")
        assert stored is not None
        lines.append(
            f"| {name} | {len(stored):,} B | {len(JSON_64K) / len(stored):.1f}x | {timings[name] * 1e6:.0f} µs |"
        )
    return lines


async def tiered(ops: int, rounds: int) -> list[str]:
    server = start_server("redis")
    try:
        async with RedisStore.with_client(server.url, namespace="bench-wrappers") as redis:
            far = InstrumentedStore(redis, prometheus=False, opentelemetry=False)
            store = TieredStore(MemoryStore(max_entries=10_000), far, near_ttl=5)
            for i in range(100):
                await redis.set(f"k{i}", b"x" * 100)
            await store.get("k0")
            timings = await compare(
                {"redis get": lambda i: redis.get("k0"), "tiered near hit": lambda i: store.get("k0")}, ops, rounds
            )
            before = far.stats()["operations"]
            reads = 10 * ops
            started = time.perf_counter()
            for i in range(reads):  # 100 keys, read over and over: the far store is asked once per key per near_ttl
                await store.get(f"k{i % 100}")
            elapsed = time.perf_counter() - started
            far_reads = (far.stats()["operations"] - before) / 2  # a read-through is a get and an expires_in
            await redis.delete_all()
    finally:
        server.stop()
    bare, near = timings["redis get"], timings["tiered near hit"]
    return [
        "| read | latency | vs bare Redis get |",
        "|---|---|---|",
        f"| bare Redis get | {bare * 1e6:.1f} µs | 1.0x |",
        f"| tiered near hit | {near * 1e6:.2f} µs | {bare / near:.0f}x faster |",
        f"| tiered, 100 hot keys, {reads:,} reads | {elapsed / reads * 1e6:.2f} µs | near hit rate "
        f"{1 - far_reads / reads:.2%} |",
    ]


async def reencryption(ops: int, rounds: int) -> list[str]:
    keys = 5 * ops
    older_key, newer_key = KEY, bytes(reversed(KEY))
    durations = []
    server = start_server("redis")
    try:
        async with RedisStore.with_client(server.url, namespace="bench-reencrypt") as redis:
            for _ in range(rounds):
                await EncryptedStore(redis, keys=[older_key]).set_many({f"k{i}": b"x" * 100 for i in range(keys)})
                started = time.perf_counter()
                rewritten = await EncryptedStore(redis, keys=[newer_key, older_key]).reencrypt()
                durations.append(time.perf_counter() - started)
                if rewritten != keys:
                    raise RuntimeError(f"reencrypt rewrote {rewritten} of {keys} values")
                await redis.delete_all()
    finally:
        server.stop()
    seconds = statistics.median(durations)
    return [
        "| values (100 B) | reencrypt | per value |",
        "|---|---|---|",
        f"| {keys:,} | {seconds:.2f} s | {seconds / keys * 1e6:.1f} µs |",
    ]


async def main(ops: int = 2000, rounds: int = 5) -> None:
    print(f"### Wrappers: median of {rounds} rounds\n")
    for title, section in (
        ("Encryption (AES-256-GCM) over MemoryStore", encryption),
        ("Compression of a 64 KiB JSON value over MemoryStore", compression),
        ("Tiered store (MemoryStore near, Redis 8 far)", tiered),
        ("Re-encryption under a new key, Redis 8", reencryption),
    ):
        print(f"#### {title}\n")
        print("\n".join(await section(ops, rounds)) + "\n", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=2000, help="operations per round and subject")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per comparison")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.ops, arguments.rounds))
