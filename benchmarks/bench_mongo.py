"""MongoStore: ours vs the raw ``AsyncMongoClient`` doing the same single operation on the same server.

The raw subject is the floor: ``find_one`` by ``_id`` for reads, ``replace_one(..., upsert=True)`` for writes,
``find_one_and_update`` for a renewing read, without validation, expiry filters or error translation.

Run: ``python -m benchmarks.bench_mongo``. It uses the server at ``KVSTORES_TEST_MONGO_URL`` if set, else starts
the test suite's SecantusDB child process (a MongoDB wire-protocol server written in Python, so absolute figures
are far below a real ``mongod``; the ratios show the store's own overhead).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from pymongo import AsyncMongoClient

from litestar_kvstores.mongo import MongoStore

from .harness import Row, format_table, ops_per_second

N = 1_000
ROUNDS = 4
SMALL = b"x" * 100
LARGE = b"x" * 65_536
DATABASE = "kvstores_bench"


class Subject(Protocol):
    async def set(self, key: str, value: bytes, expires_in: int | None = None) -> None: ...
    async def get(self, key: str, renew_for: int | None = None) -> bytes | None: ...
    async def exists(self, key: str) -> bool: ...
    async def delete(self, key: str) -> None: ...


class RawMongo:
    """The raw client doing each operation as one plain command on its own collection."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]]) -> None:
        self.collection = client[DATABASE]["raw"]

    async def set(self, key: str, value: bytes, expires_in: int | None = None) -> None:
        expiry = None if expires_in is None else datetime.now(UTC) + timedelta(seconds=expires_in)
        await self.collection.replace_one({"_id": key}, {"v": value, "exp": expiry}, upsert=True)

    async def get(self, key: str, renew_for: int | None = None) -> bytes | None:
        if renew_for is None:
            document = await self.collection.find_one({"_id": key})
        else:
            expiry = datetime.now(UTC) + timedelta(seconds=renew_for)
            document = await self.collection.find_one_and_update({"_id": key}, {"$set": {"exp": expiry}})
        return None if document is None else bytes(document["v"])

    async def exists(self, key: str) -> bool:
        return await self.collection.find_one({"_id": key}, {"_id": 1}) is not None

    async def delete(self, key: str) -> None:
        await self.collection.delete_one({"_id": key})


@asynccontextmanager
async def server_url() -> AsyncIterator[str]:
    """The URL of ``KVSTORES_TEST_MONGO_URL``, or of a SecantusDB child process started for the run."""
    given = os.environ.get("KVSTORES_TEST_MONGO_URL")
    if given:
        yield given
        return
    from testservers.mongo import start_mongo_server
    from testservers.process import free_port

    server = start_mongo_server(free_port(), Path(tempfile.mkdtemp(prefix="kvstores-bench-mongo-")))
    try:
        yield server.url
    finally:
        server.stop()


Case = tuple[str, Callable[[Subject], Callable[[int], Awaitable[object]]], int, int]


def cases(keys: list[str]) -> list[Case]:
    """``(operation, make_op(subject), calls, ops_per_call)`` in run order, each on the data the earlier ones left.

    Renewing reads and large writes get fewer calls: they are much slower than the others on the Python test server.
    """

    def concurrent_gets(subject: Subject) -> Callable[[int], Awaitable[object]]:
        async def gather(_: int) -> None:
            await asyncio.gather(*(subject.get(keys[j]) for j in range(100)))

        return gather

    return [
        ("set 100 B", lambda s: lambda i: s.set(keys[i], SMALL, expires_in=3600), N, 1),
        ("get hit", lambda s: lambda i: s.get(keys[i]), N, 1),
        ("get miss", lambda s: lambda i: s.get("missing"), N, 1),
        ("get with renew", lambda s: lambda i: s.get(keys[i], renew_for=3600), N // 5, 1),
        ("exists", lambda s: lambda i: s.exists(keys[i]), N, 1),
        ("100 concurrent gets", concurrent_gets, N // 100, 100),
        ("set 64 KiB", lambda s: lambda i: s.set(keys[i % 100], LARGE), N // 5, 1),
        ("get 64 KiB", lambda s: lambda i: s.get(keys[i % 100]), N, 1),
        ("delete", lambda s: lambda i: s.delete(keys[i]), N, 1),
    ]


async def measure(subjects: dict[str, Subject]) -> list[Row]:
    """Run every case on every subject, the subjects taking turns round by round.

    The test server slows down as its write history grows, so a subject measured after the other would be at a
    disadvantage; alternating who goes first evens that out. Each figure is the median of the rounds.
    """
    keys = [f"key-{i}" for i in range(N)]
    rows = []
    for operation, make_op, calls, ops_per_call in cases(keys):
        samples: dict[str, list[float]] = {name: [] for name in subjects}
        rounds = 1 if operation == "delete" else ROUNDS
        for round_number in range(rounds):
            order = list(subjects.items())
            for name, subject in order[round_number % 2 :] + order[: round_number % 2]:
                op = make_op(subject)
                samples[name].append(await ops_per_second(op, calls, rounds=1, ops_per_call=ops_per_call))
        rows.append(Row(operation, {name: statistics.median(values) for name, values in samples.items()}))
    return rows


async def main() -> None:
    async with server_url() as url:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
        async with MongoStore(client, database=DATABASE, namespace="bench") as ours:
            raw = RawMongo(client)
            await ours.delete_all()
            await raw.collection.delete_many({})
            # the same data layout for both, so both pay for maintaining the TTL index on writes
            await raw.collection.create_index("exp", expireAfterSeconds=0)
            for subject in (ours, raw):  # connections and the TTL index exist before timing starts
                await subject.set("warm-up", SMALL, expires_in=3600)
                await asyncio.gather(*(subject.get("warm-up") for _ in range(100)))
            rows = await measure({"ours": ours, "raw client": raw})
            await ours.delete_all()
            await raw.collection.drop()
        await client.close()
    title = f"MongoStore vs raw AsyncMongoClient (ops/s, median of {ROUNDS} rounds of {N})"
    print(format_table(title, rows, "ours", ["raw client"]))


if __name__ == "__main__":
    asyncio.run(main())
