"""Fixtures of the whole suite: the real servers, a fresh store of every backend, and the parametrized ``store``.

Servers start once per session on free loopback ports (``testservers/``) unless ``KVSTORES_TEST_<BACKEND>_URL``
(``REDIS``, ``VALKEY``, ``MONGO``, ``POSTGRES``) names one to use instead; the clusters are always started here. A
server that cannot start fails the run. Every backend ``<name>`` of ``tests/support/backends.py`` has two fixtures:

- ``<name>_store``: a fresh, empty, entered store in a namespace unique to the test;
- ``<name>_traits``: a :class:`litestar_kvstores.testing.ContractTraits` describing the backend, including an
  ``opener`` that opens the same namespace from another process when the backend is shared across processes.

``store`` and ``contract_traits`` resolve them for the backend under test (``backend`` is parametrized over all).
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from litestar_kvstores import FileStore, MemoryStore
from litestar_kvstores._redis.store import RedisLikeStore
from litestar_kvstores.base import KVStore
from litestar_kvstores.mongo import MongoStore
from litestar_kvstores.postgres import PostgresStore
from litestar_kvstores.sqlite import SQLiteStore
from litestar_kvstores.testing import ContractTraits
from testservers.mongo import start_mongo_server
from testservers.postgres import postgres_url as postgres_server_url
from testservers.process import free_port
from testservers.redis import Kind, start_cluster, start_server

from .support.backends import BACKENDS
from .support.mongo import CommandLog, collect_sockets_leaked_by_pymongo
from .support.stores import (
    FILE_NAMESPACE,
    MONGO_URL_VARIABLE,
    SQLITE_NAMESPACE,
    TEST_DATABASE,
    open_mongo_store,
    open_postgres_store,
    open_store,
    unique_namespace,
    url_for,
)

# --- the backend under test ----------------------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The name of the backend under test."""
    return str(request.param)


@pytest.fixture
def store(backend: str, request: pytest.FixtureRequest) -> KVStore:
    """A fresh, empty, entered store of every backend in ``tests/support/backends.py``."""
    resolved = request.getfixturevalue(f"{backend}_store")
    assert isinstance(resolved, KVStore)
    return resolved


@pytest.fixture
def contract_traits(backend: str, request: pytest.FixtureRequest) -> ContractTraits:
    """What the contract suite needs to know about the backend under test."""
    traits = request.getfixturevalue(f"{backend}_traits")
    assert isinstance(traits, ContractTraits)
    return traits


@pytest.fixture
def store_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A ``store_from_url`` URL of the backend under test in a namespace unique to the test."""
    return url_for(backend, request, tmp_path / "store")


# --- memory, file, SQLite ------------------------------------------------------------------------------------------


@pytest.fixture
async def memory_store() -> AsyncIterator[MemoryStore]:
    async with MemoryStore().with_namespace("test") as store:
        yield store


@pytest.fixture
def memory_traits() -> ContractTraits:
    return ContractTraits(expires_natively=False, opener=None)


@pytest.fixture
async def file_store(tmp_path: Path) -> AsyncIterator[FileStore]:
    async with FileStore(tmp_path / "store", namespace=FILE_NAMESPACE) as store:
        yield store


@pytest.fixture
def file_traits(tmp_path: Path) -> ContractTraits:
    opener = functools.partial(FileStore, str(tmp_path / "store"), namespace=FILE_NAMESPACE)
    return ContractTraits(expires_natively=False, opener=opener)


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    """The database file of the test's SQLite store."""
    return tmp_path / "store.db"


@pytest.fixture
async def sqlite_store(sqlite_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore(sqlite_path, namespace=SQLITE_NAMESPACE) as store:
        yield store


@pytest.fixture
def sqlite_traits(sqlite_path: Path) -> ContractTraits:
    return ContractTraits(opener=functools.partial(SQLiteStore, str(sqlite_path), namespace=SQLITE_NAMESPACE))


# --- Redis and Valkey: single servers and 3-master clusters --------------------------------------------------------


def _server_url(kind: Kind) -> Iterator[str]:
    url = os.environ.get(f"KVSTORES_TEST_{kind.upper()}_URL")
    if url:
        yield url
        return
    server = start_server(kind)
    try:
        yield server.url
    finally:
        server.stop()


def _cluster_url(kind: Kind) -> Iterator[str]:
    cluster = start_cluster(kind)
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of the session's Redis server."""
    yield from _server_url("redis")


@pytest.fixture(scope="session")
def valkey_url() -> Iterator[str]:
    """URL of the session's Valkey server."""
    yield from _server_url("valkey")


@pytest.fixture(scope="session")
def redis_cluster_url() -> Iterator[str]:
    """URL of one node of the session's 3-master Redis cluster."""
    yield from _cluster_url("redis")


@pytest.fixture(scope="session")
def valkey_cluster_url() -> Iterator[str]:
    """URL of one node of the session's 3-master Valkey cluster."""
    yield from _cluster_url("valkey")


async def _fresh_redis_store(kind: Kind, url: str, cluster: bool) -> AsyncIterator[RedisLikeStore]:
    """Yield an entered store in a new namespace; afterwards delete its keys (from a new client: the test may
    have closed the store) and close it."""
    namespace = f"LITESTAR/{unique_namespace()}"
    async with open_store(kind, url, cluster, namespace) as store:
        yield store
    async with open_store(kind, url, cluster, namespace) as cleaner:
        await cleaner.delete_all()


def _redis_traits(kind: Kind, url: str, cluster: bool, store: RedisLikeStore) -> ContractTraits:
    """Traits whose opener opens ``store``'s namespace on the same server."""
    return ContractTraits(
        expires_natively=True, opener=functools.partial(open_store, kind, url, cluster, store.namespace)
    )


@pytest.fixture
async def redis_store(redis_url: str) -> AsyncIterator[RedisLikeStore]:
    async for store in _fresh_redis_store("redis", redis_url, cluster=False):
        yield store


@pytest.fixture
async def valkey_store(valkey_url: str) -> AsyncIterator[RedisLikeStore]:
    async for store in _fresh_redis_store("valkey", valkey_url, cluster=False):
        yield store


@pytest.fixture
async def redis_cluster_store(redis_cluster_url: str) -> AsyncIterator[RedisLikeStore]:
    async for store in _fresh_redis_store("redis", redis_cluster_url, cluster=True):
        yield store


@pytest.fixture
async def valkey_cluster_store(valkey_cluster_url: str) -> AsyncIterator[RedisLikeStore]:
    async for store in _fresh_redis_store("valkey", valkey_cluster_url, cluster=True):
        yield store


@pytest.fixture
def redis_traits(redis_url: str, redis_store: RedisLikeStore) -> ContractTraits:
    return _redis_traits("redis", redis_url, False, redis_store)


@pytest.fixture
def valkey_traits(valkey_url: str, valkey_store: RedisLikeStore) -> ContractTraits:
    return _redis_traits("valkey", valkey_url, False, valkey_store)


@pytest.fixture
def redis_cluster_traits(redis_cluster_url: str, redis_cluster_store: RedisLikeStore) -> ContractTraits:
    return _redis_traits("redis", redis_cluster_url, True, redis_cluster_store)


@pytest.fixture
def valkey_cluster_traits(valkey_cluster_url: str, valkey_cluster_store: RedisLikeStore) -> ContractTraits:
    return _redis_traits("valkey", valkey_cluster_url, True, valkey_cluster_store)


# --- MongoDB (a SecantusDB wire-protocol server) -------------------------------------------------------------------


@pytest.fixture(scope="session")
def mongo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of the MongoDB server the tests use: ``KVSTORES_TEST_MONGO_URL`` or a SecantusDB child process."""
    given = os.environ.get(MONGO_URL_VARIABLE)
    if given:
        yield given
        return
    server = start_mongo_server(free_port(), tmp_path_factory.mktemp("mongo"))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def mongo_namespace() -> str:
    """A root namespace unique to the test, so tests never see each other's keys."""
    return unique_namespace()


@pytest.fixture
async def mongo_store(mongo_url: str, mongo_namespace: str) -> AsyncIterator[MongoStore]:
    async with open_mongo_store(mongo_url, mongo_namespace) as store:
        yield store
        await store.delete_all()
    collect_sockets_leaked_by_pymongo()


@pytest.fixture
def mongo_traits(mongo_url: str, mongo_namespace: str) -> ContractTraits:
    return ContractTraits(expires_natively=True, opener=functools.partial(open_mongo_store, mongo_url, mongo_namespace))


@pytest.fixture
def mongo_command_log() -> CommandLog:
    """Records the commands of the client of ``logged_mongo_store``."""
    return CommandLog()


@pytest.fixture
async def logged_mongo_store(
    mongo_url: str, mongo_namespace: str, mongo_command_log: CommandLog
) -> AsyncIterator[MongoStore]:
    """Like ``mongo_store``, with ``mongo_command_log`` recording the commands its client sends."""
    store = MongoStore.with_client(
        mongo_url, database=TEST_DATABASE, namespace=mongo_namespace, event_listeners=[mongo_command_log]
    )
    async with store:
        yield store
        await store.delete_all()
    collect_sockets_leaked_by_pymongo()


@pytest.fixture
async def unindexed_mongo_store(mongo_url: str) -> AsyncIterator[MongoStore]:
    """A store on a new collection that has no TTL index until the store's first write.

    Documents written directly into it with a past expiry stay until the store removes them, which shows that
    reads filter on expiry by themselves rather than relying on the server's TTL sweep.
    """
    collection = f"unindexed-{uuid.uuid4().hex}"
    async with MongoStore.with_client(mongo_url, database=TEST_DATABASE, collection=collection) as store:
        yield store
        await store.collection.drop()
    collect_sockets_leaked_by_pymongo()


# --- PostgreSQL (PostgreSQL 16 from the pgserver wheel) ------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of the PostgreSQL server the tests use: ``KVSTORES_TEST_POSTGRES_URL`` or a child process."""
    with postgres_server_url() as url:
        yield url


@pytest.fixture
def postgres_namespace() -> str:
    """A root namespace path unique to the test, so tests never see each other's rows."""
    return f"LITESTAR/{unique_namespace()}"


@pytest.fixture
async def postgres_store(postgres_url: str, postgres_namespace: str) -> AsyncIterator[PostgresStore]:
    async with open_postgres_store(postgres_url, postgres_namespace) as store:
        yield store
    async with open_postgres_store(postgres_url, postgres_namespace) as cleaner:  # the test may have closed it
        await cleaner.delete_all()


@pytest.fixture
def postgres_traits(postgres_url: str, postgres_namespace: str) -> ContractTraits:
    return ContractTraits(opener=functools.partial(open_postgres_store, postgres_url, postgres_namespace))
