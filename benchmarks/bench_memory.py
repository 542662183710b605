"""MemoryStore: ours vs Litestar's ``MemoryStore`` vs a plain dict behind an async call (the floor).

Run: ``python -m benchmarks.bench_memory``
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from litestar.stores.memory import MemoryStore as LitestarMemoryStore

from litestar_kvstores import MemoryStore

from .harness import Op, Row, format_table, take_turns

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
    """Run every case on every subject, the subjects taking turns round by round within each case."""
    keys = [f"key-{i}" for i in range(N)]

    async def row(name: str, op_on: Callable[[Any], Op], ops: int = N, **options: int) -> Row:
        """Measure ``op_on(store)`` (the operation of call number ``i`` on one store) on every subject."""
        return Row(
            name, await take_turns({subject: op_on(store) for subject, store in subjects.items()}, ops, **options)
        )

    def gather_gets(store: Any) -> Op:
        return lambda _: asyncio.gather(*(store.get(keys[j]) for j in range(100)))

    rows = [
        await row("set 100 B", lambda s: lambda i: s.set(keys[i], SMALL)),
        await row("get hit", lambda s: lambda i: s.get(keys[i])),
        await row("get miss", lambda s: lambda i: s.get("missing")),
    ]
    for store in subjects.values():
        await asyncio.gather(*(store.set(k, SMALL, expires_in=3600) for k in keys))
    rows += [
        await row("get with renew", lambda s: lambda i: s.get(keys[i], renew_for=3600)),
        await row("exists", lambda s: lambda i: s.exists(keys[i])),
        await row("delete", lambda s: lambda i: s.delete(keys[i]), rounds=1),
        await row("set 64 KiB", lambda s: lambda i: s.set(keys[i % 100], LARGE)),
        await row("get 64 KiB", lambda s: lambda i: s.get(keys[i % 100])),
        await row("100 concurrent gets", gather_gets, 500, ops_per_call=100),
    ]

    timings: dict[str, list[float]] = {name: [] for name in subjects}
    for _ in range(3):
        for name, store in subjects.items():
            await store.delete_all() if hasattr(store, "delete_all") else store.data.clear()
            for i in range(10_000):
                await store.set(f"expired-{i}", SMALL, expires_in=0.001)
                await store.set(f"live-{i}", SMALL, expires_in=3600)
            await asyncio.sleep(0.01)
            start = time.perf_counter()
            await store.delete_expired()
            timings[name].append(time.perf_counter() - start)
    rows.append(
        Row("delete_expired 10k of 20k", {name: sorted(t)[1] for name, t in timings.items()}, unit="s"),
    )
    return rows


async def main() -> None:
    subjects = {"ours": MemoryStore(), "litestar": LitestarMemoryStore(), "dict floor": DictFloor()}
    rows = await measure(subjects)
    print(
        format_table(
            "MemoryStore (ops/s, median of 5 rounds, subjects taking turns)", rows, "ours", ["litestar", "dict floor"]
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
