"""Servers stopped mid-load and restarted: Redis, Valkey, MongoDB; a cluster with one primary stopped.

While worker tasks keep writing and reading their own keys, the server is stopped (killed), left down for a while
and started again on the same port (empty: the test servers keep nothing). Throughout, every operation either
succeeds with a right answer or raises ``StoreUnavailableError`` naming the server's address, none takes longer
than its timeout allows, and the same store objects work again after the restart.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest
from redis.crc import key_slot

from litestar_kvstores import StoreUnavailableError
from litestar_kvstores.base import KVStore
from litestar_kvstores.mongo import MongoStore
from litestar_kvstores.postgres import PostgresStore
from tests.support.mongo import collect_sockets_leaked_by_pymongo
from tests.support.stores import STORE_CLASSES, unique_namespace
from testservers.mongo import start_mongo_server
from testservers.postgres import start_postgres_server
from testservers.process import free_port
from testservers.redis import Kind, _slot_ranges, start_cluster, start_server

TIMEOUT = 1.0
"""The store's socket / server-selection timeout in these tests, seconds."""
SLACK = 6.0
"""How much longer than ``TIMEOUT`` an operation may take on this loaded machine before it counts as a hang."""
WORKERS = 8


class Restartable(Protocol):
    """A server the test can stop and start again on the same port."""

    port: int

    def down(self) -> None: ...
    def up(self) -> None: ...
    def close(self) -> None: ...


@dataclass
class RedisLike:
    kind: Kind
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self.server = start_server(self.kind, port=self.port)

    def store(self) -> KVStore:
        url = f"redis://127.0.0.1:{self.port}"
        return STORE_CLASSES[self.kind].with_client(url, namespace=unique_namespace(), socket_timeout=TIMEOUT)

    def down(self) -> None:
        self.server.process.process.kill()
        self.server.stop()

    def up(self) -> None:
        self.server = start_server(self.kind, port=self.port)

    def close(self) -> None:
        self.server.stop()


@dataclass
class Mongo:
    directory: Path
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self.server = start_mongo_server(self.port, self.directory)

    def store(self) -> KVStore:
        timeouts: dict[str, Any] = {
            name: int(TIMEOUT * 1000) for name in ("serverSelectionTimeoutMS", "connectTimeoutMS")
        }
        return MongoStore.with_client(self.server.url, database="kvstores_tests", namespace="outage", **timeouts)

    def down(self) -> None:
        self.server.kill()

    def up(self) -> None:
        self.server.start()

    def close(self) -> None:
        self.server.kill()


@dataclass
class Postgres:
    """PostgreSQL stopped with a fast shutdown (its connections closed under the load) and started on its data."""

    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self.server = start_postgres_server(self.port)

    def store(self) -> KVStore:
        return PostgresStore.with_client(
            self.server.url, namespace=unique_namespace(), connect_timeout=TIMEOUT, command_timeout=TIMEOUT
        )

    def down(self) -> None:
        self.server.halt()

    def up(self) -> None:
        self.server.start()

    def close(self) -> None:
        self.server.stop()


Server = RedisLike | Mongo | Postgres


@pytest.fixture(params=["redis", "valkey", "mongo", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    made: Server
    if request.param == "mongo":
        made = Mongo(tmp_path)
    elif request.param == "postgres":
        made = Postgres()
    else:
        made = RedisLike(request.param)
    try:
        yield made
    finally:
        made.close()
        collect_sockets_leaked_by_pymongo()


@dataclass
class Tally:
    """What the workers saw."""

    ok: int = 0
    unavailable: int = 0
    slowest: float = 0.0
    ok_times: list[float] = field(default_factory=list)
    unavailable_times: list[float] = field(default_factory=list)
    restarted: bool = False
    """Set when the server goes down: its data is gone, so a read may then return ``None`` for any key."""


async def worker(store: KVStore, number: int, address: str, tally: Tally, stop: asyncio.Event) -> None:
    """Write, read and count on keys of its own, checking every answer: a read returns ``None`` (the restarted
    server is empty) or a value this worker wrote (one whose write failed may or may not have landed)."""
    rng = random.Random(number)
    possible: dict[str, set[bytes | None]] = {f"w{number}-{n}": {None} for n in range(4)}
    counter = f"w{number}-n"
    generation = 0
    while not stop.is_set():
        key = rng.choice(list(possible))
        generation += 1
        value = f"{key}:{generation}".encode()
        operation = rng.choice(["set", "get", "get", "incr", "delete"])
        started = time.monotonic()
        try:
            if operation == "set":
                possible[key].add(value)
                await store.set(key, value, expires_in=600)
                possible[key] = {value}
            elif operation == "get":
                got = await store.get(key, renew_for=600)
                allowed = possible[key] | {None} if tally.restarted else possible[key]
                assert got in allowed, f"{key} read {got!r}, expected one of {allowed}"
            elif operation == "delete":
                possible[key].add(None)
                await store.delete(key)
                possible[key] = {None}
            else:
                assert await store.incr(counter) >= 1
        except StoreUnavailableError as error:
            assert address in str(error), f"{error} does not name {address}"  # noqa: PT017
            tally.unavailable += 1
            tally.unavailable_times.append(time.monotonic())
        else:
            tally.ok += 1
            tally.ok_times.append(time.monotonic())
        elapsed = time.monotonic() - started
        tally.slowest = max(tally.slowest, elapsed)
        assert elapsed < TIMEOUT + SLACK, f"{operation} took {elapsed:.1f} s"
        await asyncio.sleep(0.005)


async def wait_for(check: Callable[[], Awaitable[object]], within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            await check()
            return
        except StoreUnavailableError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_a_server_stopped_mid_load_fails_fast_and_the_same_store_recovers(server: Server) -> None:
    address = f"127.0.0.1:{server.port}"
    tally = Tally()
    stop = asyncio.Event()
    async with server.store() as store:
        await store.delete_all()
        workers = [asyncio.create_task(worker(store, n, address, tally, stop)) for n in range(WORKERS)]
        try:
            await asyncio.sleep(1.0)
            assert tally.ok > 0
            tally.restarted = True
            await asyncio.to_thread(server.down)
            outage_started = time.monotonic() + 0.5  # operations in flight when the server died may still succeed
            await asyncio.sleep(2.5)
            outage_ended = time.monotonic()
            await asyncio.to_thread(server.up)
            await wait_for(store.ping, within=20)
            recovered = time.monotonic()
            await asyncio.sleep(1.5)
        finally:
            stop.set()
            await asyncio.gather(*workers)
        during = [t for t in tally.ok_times if outage_started < t < outage_ended]
        failed = [t for t in tally.unavailable_times if outage_started < t < outage_ended]
        assert during == [], f"{len(during)} operations succeeded while the server was down"
        assert len(failed) >= WORKERS, "the workers kept trying during the outage"
        assert any(t > recovered for t in tally.ok_times), "no operation succeeded after the restart"
        await store.set("after", b"restart")
        assert await store.get("after") == b"restart"
        await store.delete_all()
    print(f"{server}: {tally.ok} ok, {tally.unavailable} unavailable, slowest {tally.slowest:.2f} s")


@pytest.fixture(params=["redis", "valkey"])
def cluster_kind(request: pytest.FixtureRequest) -> Kind:
    return request.param  # type: ignore[no-any-return]


async def test_a_cluster_with_one_primary_stopped_serves_the_other_slots(cluster_kind: Kind) -> None:
    # partial availability is what an operator configures: by default the cluster stops serving every slot once the
    # stopped primary is marked failed (cluster-node-timeout, 5 s here), which a slow machine reaches mid-test
    cluster = start_cluster(cluster_kind, require_full_coverage=False)
    try:
        namespace = unique_namespace()
        store = STORE_CLASSES[cluster_kind].with_cluster(
            cluster.url, namespace=namespace, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT
        )
        async with store:
            keys = [f"k{n}" for n in range(60)]
            await store.set_many({key: key for key in keys})
            stopped = cluster.nodes[2]
            first, last = _slot_ranges(len(cluster.nodes))[2]
            on_stopped = [key for key in keys if first <= key_slot(f"{namespace}:{key}".encode()) <= last]
            elsewhere = [key for key in keys if key not in on_stopped]
            assert on_stopped
            assert elsewhere
            stopped.stop()
            address = f"127.0.0.1:{stopped.port}".replace(".", r"\.")
            for key in on_stopped[:5]:
                for operation in (store.get(key), store.set(key, b"new"), store.incr(key)):
                    started = time.monotonic()
                    with pytest.raises(StoreUnavailableError, match=address):
                        await operation
                    assert time.monotonic() - started < TIMEOUT + SLACK
            for key in elsewhere:
                assert await store.get(key) == key.encode()
                await store.set(key, b"again")
                assert await store.get(key) == b"again"
            for whole in (store.count(), store.delete_all()):
                started = time.monotonic()
                with pytest.raises(StoreUnavailableError):
                    await whole
                assert time.monotonic() - started < 2 * (TIMEOUT + SLACK)
    finally:
        cluster.stop()
