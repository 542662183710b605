"""Benchmark ``copy_tree``: keys per second copying a file store of 100,000 keys to Redis.

Run ``python -m benchmarks.bench_copy [--keys N]``. It fills a file store in a temporary directory with ``N`` keys of
100 bytes (half of them with an expiry, in 10 namespaces), starts its own Redis server, and times
:func:`litestar_kvstores.operations.copy_tree` to a fresh namespace, then the floor: the same keys read with the
file store's ``get_many`` and written with a raw redis-py pipeline of ``SET`` per batch (no expiry reads), which is
what a hand-written one-off migration script would do.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import redis.asyncio

from litestar_kvstores import FileStore
from litestar_kvstores.operations import BATCH_SIZE, copy_tree
from litestar_kvstores.redis import RedisStore
from testservers.redis import start_server

NAMESPACES = 10


async def fill(store: FileStore, keys: int) -> None:
    per_namespace = keys // NAMESPACES
    for n in range(NAMESPACES):
        child = store.with_namespace(f"ns{n}")
        for start in range(0, per_namespace, 1000):
            batch = {f"key-{i}": b"v" * 100 for i in range(start, min(start + 1000, per_namespace))}
            await child.set_many(batch, expires_in=3600 if n % 2 else None)


async def raw_floor(source: FileStore, url: str) -> float:
    client = redis.asyncio.Redis.from_url(url)
    started = time.perf_counter()
    try:
        for n in range(NAMESPACES):
            child = source.with_namespace(f"ns{n}")
            keys = [key async for key in child.keys()]  # noqa: SIM118  (KVStore.keys)
            for start in range(0, len(keys), BATCH_SIZE):
                values = await child.get_many(keys[start : start + BATCH_SIZE])
                pipe = client.pipeline(transaction=False)
                for key, value in values.items():
                    if value is not None:
                        pipe.set(f"raw/ns{n}:{key}", value)
                await pipe.execute()
    finally:
        await client.aclose()
    return time.perf_counter() - started


async def main(keys: int = 100_000) -> None:
    server = start_server("redis")
    try:
        with tempfile.TemporaryDirectory() as directory:
            source = FileStore(Path(directory) / "source")
            await fill(source, keys)
            async with RedisStore.with_client(server.url, namespace="bench-copy") as destination:
                started = time.perf_counter()
                summary = await copy_tree(source, destination)
                ours = time.perf_counter() - started
                assert summary.copied == keys, summary
                floor = await raw_floor(source, server.url)
        print("### copy_tree: file store -> Redis\n")
        print("| keys | copy_tree | keys/s | raw floor (no expiry reads) | keys/s | copy_tree vs floor |")
        print("|---|---|---|---|---|---|")
        print(
            f"| {keys:,} | {ours:.1f} s | {keys / ours:,.0f} | {floor:.1f} s | {keys / floor:,.0f} "
            f"| {floor / ours:.2f}x |"
        )
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=100_000)
    asyncio.run(main(parser.parse_args().keys))
