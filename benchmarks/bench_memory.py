"""MemoryStore: ours vs Litestar's ``MemoryStore`` vs a plain dict behind an async call (the floor).

Run: ``python -m benchmarks.bench_memory``
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from litestar.stores.memory import MemoryStore as LitestarMemoryStore

from litestar_kvstores import MemoryStore

from .harness import Row, format_table, ops_per_second

N = 50_000
SMALL = b"x" * 100
LARGE = b"x" * 65_536


class DictFloor:
    """The least any async in-memory store can do: a dict lookup behind a coroutine call."""

    def __init__(self) -> None:
        self.data: dict[str, tuple[bytes, float | None]] = {}

    async def set(self, key: str, value: bytes, expires_in: float | None = None) -> None:
        self.data[key] = (value, None if expires_in is None else time.monotonic() + expires_in)

    async def get(self, key: str, renew_for: float | None = None) -> bytes | None:
        entry = self.data.get(key)
        if entry is None:
            return None
        if renew_for is not None:
            self.data[key] = (entry[0], time.monotonic() + renew_for)
        return entry[0]

    async def exists(self, key: str) -> bool:
        return key in self.data

    async def delete(self, key: str) -> None:
        self.data.pop(key, None)

    async def delete_expired(self) -> None:
        now = time.monotonic()
        for key in [k for k, (_, exp) in self.data.items() if exp is not None and exp <= now]:
            del self.data[key]


async def measure(subjects: dict[str, Any]) -> list[Row]:
    rows = [Row(name) for name in ("set 100 B", "get hit", "get miss", "get with renew", "exists", "delete")]
    rows += [
        Row("set 64 KiB"),
        Row("get 64 KiB"),
        Row("100 concurrent gets"),
        Row("delete_expired 10k of 20k", unit="s"),
    ]
    by_name = {row.operation: row for row in rows}
    keys = [f"key-{i}" for i in range(N)]
    for name, store in subjects.items():
        by_name["set 100 B"].values[name] = await ops_per_second(lambda i, s=store: s.set(keys[i], SMALL), N)
        by_name["get hit"].values[name] = await ops_per_second(lambda i, s=store: s.get(keys[i]), N)
        by_name["get miss"].values[name] = await ops_per_second(lambda i, s=store: s.get("missing"), N)
        await asyncio.gather(*(store.set(k, SMALL, expires_in=3600) for k in keys))
        by_name["get with renew"].values[name] = await ops_per_second(
            lambda i, s=store: s.get(keys[i], renew_for=3600), N
        )
        by_name["exists"].values[name] = await ops_per_second(lambda i, s=store: s.exists(keys[i]), N)
        by_name["delete"].values[name] = await ops_per_second(lambda i, s=store: s.delete(keys[i]), N, rounds=1)
        by_name["set 64 KiB"].values[name] = await ops_per_second(lambda i, s=store: s.set(keys[i % 100], LARGE), N)
        by_name["get 64 KiB"].values[name] = await ops_per_second(lambda i, s=store: s.get(keys[i % 100]), N)

        async def gather_gets(_: int, s: Any = store) -> None:
            await asyncio.gather(*(s.get(keys[j]) for j in range(100)))

        by_name["100 concurrent gets"].values[name] = await ops_per_second(gather_gets, 500, ops_per_call=100)

        timings = []
        for _ in range(3):
            await store.delete_all() if hasattr(store, "delete_all") else store.data.clear()
            for i in range(10_000):
                await store.set(f"expired-{i}", SMALL, expires_in=0.001)
                await store.set(f"live-{i}", SMALL, expires_in=3600)
            await asyncio.sleep(0.01)
            start = time.perf_counter()
            await store.delete_expired()
            timings.append(time.perf_counter() - start)
        by_name["delete_expired 10k of 20k"].values[name] = sorted(timings)[1]
    return rows


async def main() -> None:
    subjects = {"ours": MemoryStore(), "litestar": LitestarMemoryStore(), "dict floor": DictFloor()}
    rows = await measure(subjects)
    print(format_table("MemoryStore (ops/s, median of 5 rounds)", rows, "ours", ["litestar", "dict floor"]))


if __name__ == "__main__":
    asyncio.run(main())
