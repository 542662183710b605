"""SQLiteStore: ours vs the raw floor (``sqlite3`` in a thread, the same statements), aiosqlite and FileStore.

- ``raw floor``: one ``sqlite3`` connection in WAL mode on a one-thread executor, each operation one
  ``run_in_executor`` call running the statement SQLiteStore runs, without validation or error translation.
- ``aiosqlite``: the same statements through aiosqlite (the alternative to our own worker thread).
- ``FileStore``: our file store, for ``set`` and ``get`` (the question is whether SQLite writes many small entries
  faster than one file per entry).

Run: ``python -m benchmarks.bench_sqlite`` (data goes to a temporary directory; ``BENCH_DIR`` chooses its parent).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiosqlite

from litestar_kvstores import FileStore
from litestar_kvstores.sqlite import SQLiteStore

from .bench_file import _fill as fill
from .harness import Row, delete_expired_row, format_table, ops_per_second

N = 2_000
ROUNDS = 5
SMALL = b"x" * 100
LARGE = b"x" * 65_536
EXPIRED_AND_LIVE = 10_000
NAMESPACE = "LITESTAR"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS kv (namespace TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, "
    "expires_at REAL, PRIMARY KEY (namespace, key)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS kv_expires_at ON kv (expires_at) WHERE expires_at IS NOT NULL;"
)
_SET = (
    "INSERT INTO kv (namespace, key, value, expires_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (namespace, key) "
    "DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at"
)
_GET = "SELECT value, expires_at FROM kv WHERE namespace = ?1 AND key = ?2"
_RENEW = (
    "UPDATE kv SET expires_at = CASE WHEN expires_at IS NULL THEN NULL ELSE ?3 END "
    "WHERE namespace = ?1 AND key = ?2 AND (expires_at IS NULL OR expires_at > ?4) RETURNING value"
)
_INCR = (
    "INSERT INTO kv (namespace, key, value, expires_at) VALUES (?1, ?2, ?3, NULL) ON CONFLICT (namespace, key) "
    "DO UPDATE SET value = CAST(CAST(CAST(CAST(value AS TEXT) AS INTEGER) + ?4 AS TEXT) AS BLOB) RETURNING value"
)
_DELETE_EXPIRED = "DELETE FROM kv WHERE expires_at <= ?1"


def _expiry(seconds: float | None) -> float | None:
    return None if seconds is None else time.time() + seconds


def _live(row: tuple[Any, ...] | None) -> bytes | None:
    if row is None or (row[1] is not None and row[1] <= time.time()):
        return None
    return bytes(row[0])


class RawFloor:
    """The statements of SQLiteStore on one connection, one ``run_in_executor`` call each."""

    def __init__(self, path: Path) -> None:
        self._executor = ThreadPoolExecutor(1)
        self._connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._connection.execute("PRAGMA journal_mode = WAL")
        self._connection.execute("PRAGMA synchronous = NORMAL")
        self._connection.executescript(_SCHEMA)

    async def _run(self, function: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def _get(self, key: str, renew_for: float | None) -> bytes | None:
        if renew_for is None:
            return _live(self._connection.execute(_GET, (NAMESPACE, key)).fetchone())
        now = time.time()
        row = self._connection.execute(_RENEW, (NAMESPACE, key, now + renew_for, now)).fetchone()
        return None if row is None else bytes(row[0])

    async def set(self, key: str, value: bytes, expires_in: float | None = None) -> None:
        await self._run(self._connection.execute, _SET, (NAMESPACE, key, value, _expiry(expires_in)))

    async def get(self, key: str, renew_for: float | None = None) -> bytes | None:
        result: bytes | None = await self._run(self._get, key, renew_for)
        return result

    def _incr(self, key: str) -> int:
        return int(self._connection.execute(_INCR, (NAMESPACE, key, b"1", 1)).fetchone()[0])

    async def incr(self, key: str) -> int:
        result: int = await self._run(self._incr, key)
        return result

    def _delete_expired(self) -> int:
        return self._connection.execute(_DELETE_EXPIRED, (time.time(),)).rowcount

    async def delete_expired(self) -> int:
        result: int = await self._run(self._delete_expired)
        return result

    async def aclose(self) -> None:
        await self._run(self._connection.close)
        self._executor.shutdown()


class AioSQLite:
    """The same statements through aiosqlite (its own thread per connection; a query and its rows are two hops)."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    @classmethod
    async def open(cls, path: Path) -> AioSQLite:
        connection = await aiosqlite.connect(path, isolation_level=None)
        await connection.execute("PRAGMA journal_mode = WAL")
        await connection.execute("PRAGMA synchronous = NORMAL")
        await connection.executescript(_SCHEMA)
        return cls(connection)

    async def set(self, key: str, value: bytes, expires_in: float | None = None) -> None:
        await self._connection.execute(_SET, (NAMESPACE, key, value, _expiry(expires_in)))

    async def get(self, key: str, renew_for: float | None = None) -> bytes | None:
        if renew_for is None:
            async with self._connection.execute(_GET, (NAMESPACE, key)) as cursor:
                return _live(tuple(row) if (row := await cursor.fetchone()) else None)
        now = time.time()
        async with self._connection.execute(_RENEW, (NAMESPACE, key, now + renew_for, now)) as cursor:
            renewed = await cursor.fetchone()
        return None if renewed is None else bytes(renewed[0])

    async def incr(self, key: str) -> int:
        async with self._connection.execute(_INCR, (NAMESPACE, key, b"1", 1)) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        return int(row[0])

    async def delete_expired(self) -> int:
        cursor = await self._connection.execute(_DELETE_EXPIRED, (time.time(),))
        return cursor.rowcount

    async def aclose(self) -> None:
        await self._connection.close()


Subjects = dict[str, Any]
OpFactory = Callable[[Any], Callable[[int], Awaitable[object]]]


async def interleaved(subjects: Subjects, make_op: OpFactory, ops: int, ops_per_call: int = 1) -> dict[str, float]:
    """Median ops/s per subject, the subjects taking turns round by round so that load changes hit all alike.

    (Also used by ``bench_postgres``.)
    """
    results: dict[str, list[float]] = {name: [] for name in subjects}
    for _ in range(ROUNDS):
        for name, store in subjects.items():
            results[name].append(await ops_per_second(make_op(store), ops, rounds=1, ops_per_call=ops_per_call))
    return {name: statistics.median(values) for name, values in results.items()}


def gather_gets(keys: list[str]) -> OpFactory:
    def make(store: Any) -> Callable[[int], Awaitable[object]]:
        async def gets(_: int) -> None:
            await asyncio.gather(*(store.get(key) for key in keys))

        return gets

    return make


async def measure(sql: Subjects, file_store: FileStore) -> list[Row]:
    keys = [f"key-{i}" for i in range(N)]
    with_file = {**sql, "FileStore": file_store}
    rows: list[Row] = []

    async def row(name: str, subjects: Subjects, make_op: OpFactory, ops: int = N, ops_per_call: int = 1) -> None:
        rows.append(Row(name, await interleaved(subjects, make_op, ops, ops_per_call)))

    await row("set 100 B", with_file, lambda s: lambda i: s.set(keys[i], SMALL, 3600))
    await row("get hit", with_file, lambda s: lambda i: s.get(keys[i]))
    await row("get miss", sql, lambda s: lambda i: s.get("missing"))
    await row("get with renew", with_file, lambda s: lambda i: s.get(keys[i], renew_for=3600))
    await row("incr", sql, lambda s: lambda i: s.incr(keys[i % 100] + "-counter"))
    await row("100 concurrent gets", sql, gather_gets(keys[:100]), ops=N // 100, ops_per_call=100)
    await row("set 64 KiB", with_file, lambda s: lambda i: s.set(keys[i % 100], LARGE), ops=N // 4)
    await row("get 64 KiB", sql, lambda s: lambda i: s.get(keys[i % 100]), ops=N // 4)

    rows.append(await delete_expired_row(sql, lambda store: fill(store, EXPIRED_AND_LIVE)))
    return rows


async def main() -> None:
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as root:
        base = Path(root)
        ours = SQLiteStore(base / "ours.db")
        raw = RawFloor(base / "raw.db")
        aio = await AioSQLite.open(base / "aiosqlite.db")
        async with ours:
            rows = await measure({"ours": ours, "raw floor": raw, "aiosqlite": aio}, FileStore(base / "files"))
        await raw.aclose()
        await aio.aclose()
    title = f"SQLiteStore (ops/s, median of {ROUNDS} interleaved rounds of {N}; delete_expired: one run)"
    print(format_table(title, rows, "ours", ["raw floor", "aiosqlite", "FileStore"]))


if __name__ == "__main__":
    asyncio.run(main())
