"""Fixtures for the Redis and Valkey backends: real servers, 3-master clusters and contract stores.

Backend names: ``redis``, ``valkey``, ``redis_cluster``, ``valkey_cluster``. The single servers are started once per
session unless ``KVSTORES_TEST_REDIS_URL`` / ``KVSTORES_TEST_VALKEY_URL`` name one to use instead; the clusters are
always started here. A server that cannot start fails the run.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from litestar_kvstores._redis.store import RedisLikeStore
from litestar_kvstores.redis import RedisStore
from litestar_kvstores.testing import ContractTraits
from litestar_kvstores.valkey import ValkeyStore
from testservers.redis import Kind, start_cluster, start_server

STORE_CLASSES: dict[Kind, type[RedisLikeStore]] = {"redis": RedisStore, "valkey": ValkeyStore}


def open_store(kind: Kind, url: str, cluster: bool, namespace: str | None) -> RedisLikeStore:
    """Return a new (not entered) store of ``kind`` owning its client, on ``namespace`` of the server at ``url``.

    Module level, so that ``functools.partial`` of it is picklable (the contract's cross-process opener).
    """
    store_class = STORE_CLASSES[kind]
    if cluster:
        return store_class.with_cluster(url, namespace=namespace)
    return store_class.with_client(url, namespace=namespace)


def unique_namespace() -> str:
    """Return a namespace path no other test uses."""
    return f"LITESTAR/test-{uuid.uuid4().hex[:16]}"


async def fresh_store(kind: Kind, url: str, cluster: bool) -> AsyncIterator[RedisLikeStore]:
    """Yield an entered store in a new namespace; afterwards delete its keys (from a new client: the test may
    have closed the store) and close it."""
    namespace = unique_namespace()
    store = open_store(kind, url, cluster, namespace)
    async with store:
        yield store
    async with open_store(kind, url, cluster, namespace) as cleaner:
        await cleaner.delete_all()


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


def _traits(kind: Kind, url: str, cluster: bool, store: RedisLikeStore) -> ContractTraits:
    """Traits whose opener opens ``store``'s namespace on the same server."""
    opener = functools.partial(open_store, kind, url, cluster, store.namespace)
    return ContractTraits(expires_natively=True, opener=opener)


@pytest.fixture
async def redis_store(redis_url: str) -> AsyncIterator[RedisLikeStore]:
    async for store in fresh_store("redis", redis_url, cluster=False):
        yield store


@pytest.fixture
async def valkey_store(valkey_url: str) -> AsyncIterator[RedisLikeStore]:
    async for store in fresh_store("valkey", valkey_url, cluster=False):
        yield store


@pytest.fixture
async def redis_cluster_store(redis_cluster_url: str) -> AsyncIterator[RedisLikeStore]:
    async for store in fresh_store("redis", redis_cluster_url, cluster=True):
        yield store


@pytest.fixture
async def valkey_cluster_store(valkey_cluster_url: str) -> AsyncIterator[RedisLikeStore]:
    async for store in fresh_store("valkey", valkey_cluster_url, cluster=True):
        yield store


@pytest.fixture
def redis_traits(redis_url: str, redis_store: RedisLikeStore) -> ContractTraits:
    return _traits("redis", redis_url, False, redis_store)


@pytest.fixture
def valkey_traits(valkey_url: str, valkey_store: RedisLikeStore) -> ContractTraits:
    return _traits("valkey", valkey_url, False, valkey_store)


@pytest.fixture
def redis_cluster_traits(redis_cluster_url: str, redis_cluster_store: RedisLikeStore) -> ContractTraits:
    return _traits("redis", redis_cluster_url, True, redis_cluster_store)


@pytest.fixture
def valkey_cluster_traits(valkey_cluster_url: str, valkey_cluster_store: RedisLikeStore) -> ContractTraits:
    return _traits("valkey", valkey_cluster_url, True, valkey_cluster_store)


# --- parametrised over the backends, for the Redis/Valkey test modules -------------------------------------------


@pytest.fixture(params=["redis", "valkey"])
def kind(request: pytest.FixtureRequest) -> Kind:
    """Each single-server kind: ``redis``, ``valkey``."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def url(kind: Kind, request: pytest.FixtureRequest) -> str:
    """The URL of the session's server of ``kind``."""
    return str(request.getfixturevalue(f"{kind}_url"))


@pytest.fixture(params=["redis", "valkey", "redis_cluster", "valkey_cluster"])
def any_store(request: pytest.FixtureRequest) -> RedisLikeStore:
    """A fresh store on each of: Redis, Valkey, Redis cluster, Valkey cluster."""
    store = request.getfixturevalue(f"{request.param}_store")
    assert isinstance(store, RedisLikeStore)
    return store
