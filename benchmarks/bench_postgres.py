"""PostgresStore: ours vs the raw driver running the same statements on the same server.

- ``raw asyncpg``: an asyncpg pool of the same size, without asyncpg's per-release reset query (as ours), running
  the statement PostgresStore runs for each operation, without validation or error translation. The floor.
- ``raw psycopg``: psycopg 3 on one connection (binary parameters, prepared statements), the same statements: the
  reference for the choice of driver (sequential operations only; one connection serialises concurrent ones).

Run: ``python -m benchmarks.bench_postgres``. It uses the server at ``KVSTORES_TEST_POSTGRES_URL`` if set, else
starts the test suite's PostgreSQL 16 from the ``pgserver`` wheel (``fsync=off``: the figures show the cost of the
client side and of the server's work, not of the disk).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import psycopg

from litestar_kvstores.postgres import PostgresStore
from testservers.postgres import postgres_url

from .bench_file import _fill as fill
from .bench_sqlite import ROUNDS, OpFactory, Subjects, gather_gets, interleaved
from .harness import Row, format_table

N = 1_000
SMALL = b"x" * 100
LARGE = b"x" * 65_536
EXPIRED_AND_LIVE = 10_000
POOL_SIZE = 10
TABLE = "kvstores_bench"
NAMESPACE = "RAW"
"""The raw subjects' namespace path (ours keeps its rows under ``LITESTAR``)."""

_SET = (
    f"INSERT INTO {TABLE} AS e (namespace, key, value, expires_at) "
    "VALUES ($1, $2, $3, now() + $4::float8 * interval '1 second') "
    "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at"
)
_LIVE = "(expires_at IS NULL OR expires_at > now())"
_GET = f"SELECT value FROM {TABLE} WHERE namespace = $1 AND key = $2 AND {_LIVE}"
_RENEW = (
    f"UPDATE {TABLE} SET expires_at = CASE WHEN expires_at IS NULL THEN NULL "
    f"ELSE now() + $3::float8 * interval '1 second' END WHERE namespace = $1 AND key = $2 AND {_LIVE} RETURNING value"
)
_INCR = (
    f"INSERT INTO {TABLE} AS e (namespace, key, value, expires_at) VALUES ($1, $2, '1', NULL) "
    "ON CONFLICT (namespace, key) DO UPDATE SET "
    "value = convert_to((encode(e.value, 'escape')::numeric + 1)::text, 'UTF8') RETURNING value"
)


def _psycopg(statement: str) -> str:
    """The statement with psycopg's named placeholders ``%(pN)s`` for asyncpg's ``$N``."""
    for n in range(4, 0, -1):
        statement = statement.replace(f"${n}", f"%(p{n})s")
    return statement


def _named(args: tuple[Any, ...]) -> dict[str, Any]:
    return {f"p{n}": value for n, value in enumerate(args, 1)}


async def _no_reset(connection: asyncpg.Connection) -> None:
    return None


class RawAsyncpg:
    """The statements of PostgresStore on an asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def set(self, key: str, value: bytes, expires_in: float | None = None) -> None:
        await self.pool.execute(_SET, NAMESPACE, key.encode(), value, expires_in)

    async def get(self, key: str, renew_for: float | None = None) -> bytes | None:
        if renew_for is None:
            value: bytes | None = await self.pool.fetchval(_GET, NAMESPACE, key.encode())
        else:
            value = await self.pool.fetchval(_RENEW, NAMESPACE, key.encode(), renew_for)
        return value

    async def incr(self, key: str) -> int:
        return int(await self.pool.fetchval(_INCR, NAMESPACE, key.encode()))


class RawPsycopg:
    """The same statements through psycopg 3 on one connection."""

    def __init__(self, connection: psycopg.AsyncConnection[Any]) -> None:
        self.connection = connection

    async def _value(self, statement: str, *args: Any) -> Any:
        cursor = await self.connection.execute(_psycopg(statement), _named(args), binary=True, prepare=True)
        row = await cursor.fetchone()
        return None if row is None else row[0]

    async def set(self, key: str, value: bytes, expires_in: float | None = None) -> None:
        args = _named((NAMESPACE, key.encode(), value, expires_in))
        await self.connection.execute(_psycopg(_SET), args, binary=True, prepare=True)

    async def get(self, key: str, renew_for: float | None = None) -> bytes | None:
        if renew_for is None:
            value: bytes | None = await self._value(_GET, NAMESPACE, key.encode())
        else:
            value = await self._value(_RENEW, NAMESPACE, key.encode(), renew_for)
        return value

    async def incr(self, key: str) -> int:
        return int(await self._value(_INCR, NAMESPACE, key.encode()))


async def measure(subjects: Subjects) -> list[Row]:
    keys = [f"key-{i}" for i in range(N)]
    pooled = {name: store for name, store in subjects.items() if name != "raw psycopg"}
    rows: list[Row] = []

    async def row(name: str, make_op: OpFactory, ops: int = N, ops_per_call: int = 1, every: bool = True) -> None:
        rows.append(Row(name, await interleaved(subjects if every else pooled, make_op, ops, ops_per_call)))

    await row("set 100 B", lambda s: lambda i: s.set(keys[i], SMALL, 3600))
    await row("get hit", lambda s: lambda i: s.get(keys[i]))
    await row("get miss", lambda s: lambda i: s.get("missing"))
    await row("get with renew", lambda s: lambda i: s.get(keys[i], renew_for=3600))
    await row("incr", lambda s: lambda i: s.incr(keys[i % 100] + "-counter"))
    await row("100 concurrent gets", gather_gets(keys[:100]), ops=N // 100, ops_per_call=100, every=False)
    await row("set 64 KiB", lambda s: lambda i: s.set(keys[i % 100], LARGE), ops=N // 4)
    await row("get 64 KiB", lambda s: lambda i: s.get(keys[i % 100]), ops=N // 4)
    return rows


async def delete_expired_seconds(store: PostgresStore) -> float:
    """Seconds ``delete_expired`` takes for half of ``2 * EXPIRED_AND_LIVE`` rows."""
    await fill(store, EXPIRED_AND_LIVE)
    await asyncio.sleep(1.1)
    started = time.perf_counter()
    await store.delete_expired()
    return time.perf_counter() - started


async def main() -> None:
    with postgres_url() as url:
        ours = PostgresStore.with_client(url, table=TABLE, max_connections=POOL_SIZE)
        await ours.setup()
        await ours.delete_all()
        pool = await asyncpg.create_pool(url, min_size=POOL_SIZE, max_size=POOL_SIZE, reset=_no_reset)
        connection = await psycopg.AsyncConnection.connect(url, autocommit=True)
        subjects: Subjects = {"ours": ours, "raw asyncpg": RawAsyncpg(pool), "raw psycopg": RawPsycopg(connection)}
        for subject in subjects.values():  # connections open and statements prepared before timing starts
            await subject.set("warm-up", SMALL, 3600)
            await subject.get("warm-up")
        rows = await measure(subjects)
        await ours.delete_all()
        rows.append(Row("delete_expired 10k of 20k", {"ours": await delete_expired_seconds(ours)}, unit="s"))
        await pool.execute(f"DROP TABLE {TABLE}")
        await connection.close()
        await pool.close()
        await ours.aclose()
    title = f"PostgresStore (ops/s, median of {ROUNDS} interleaved rounds of {N}; delete_expired: one run)"
    print(format_table(title, rows, "ours", ["raw asyncpg", "raw psycopg"]))


if __name__ == "__main__":
    asyncio.run(main())
