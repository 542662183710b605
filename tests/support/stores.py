"""Helpers behind the store fixtures of ``tests/conftest.py``, importable by the tests: the one unique-namespace
helper, and the store openers the cross-process contract tests pickle (so they live at module level)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from litestar.stores.base import Store

from litestar_kvstores import KVStore
from litestar_kvstores._redis.store import RedisLikeStore
from litestar_kvstores.mongo import MongoStore
from litestar_kvstores.postgres import PostgresStore
from litestar_kvstores.redis import RedisStore
from litestar_kvstores.valkey import ValkeyStore
from testservers.redis import Kind

FILE_NAMESPACE = "test"
"""The namespace of the ``file_store`` fixture's store."""

SQLITE_NAMESPACE = "LITESTAR/test"
"""The namespace path of the ``sqlite_store`` fixture's store."""

MONGO_URL_VARIABLE = "KVSTORES_TEST_MONGO_URL"
TEST_DATABASE = "kvstores_tests"
"""The MongoDB database every Mongo test uses."""

STORE_CLASSES: dict[Kind, type[RedisStore] | type[ValkeyStore]] = {"redis": RedisStore, "valkey": ValkeyStore}
"""The store class of each kind (each defines its own ``with_client``, which ``RedisLikeStore`` has not)."""


def as_kv_store(store: Store) -> KVStore:
    """``store`` typed as the :class:`~litestar_kvstores.KVStore` it is (``store_from_url`` and ``app.stores.get``
    return Litestar's ``Store``, whose ``async with`` gives ``None``).
    """
    assert isinstance(store, KVStore), f"{type(store).__name__} is not a KVStore"
    return store


def unique_namespace() -> str:
    """Return a namespace name no other test uses (valid alone or as a path, on every backend)."""
    return f"test-{uuid.uuid4().hex[:16]}"


def open_store(kind: Kind, url: str, cluster: bool, namespace: str | None) -> RedisLikeStore:
    """Return a new (not entered) Redis/Valkey store of ``kind`` owning its client, on ``namespace`` at ``url``."""
    store_class = STORE_CLASSES[kind]
    if cluster:
        return store_class.with_cluster(url, namespace=namespace)
    return store_class.with_client(url, namespace=namespace)


def open_mongo_store(url: str, namespace: str) -> MongoStore:
    """Return a new, not yet entered store owning its client, in ``namespace`` of the test database."""
    return MongoStore.with_client(url, database=TEST_DATABASE, namespace=namespace)


def open_postgres_store(url: str, namespace: str, table: str = "kvstores") -> PostgresStore:
    """Return a new, not yet entered store owning its pool."""
    return PostgresStore.with_client(url, namespace=namespace, table=table)


SCHEMES = {
    "redis": "redis",
    "valkey": "valkey",
    "redis_cluster": "redis+cluster",
    "valkey_cluster": "valkey+cluster",
    "mongo": "mongodb",
    "postgres": "postgresql",
}
"""The ``store_from_url`` scheme of each network backend (its server fixture may hand out ``redis://`` for all)."""


def server_url(backend: str, request: pytest.FixtureRequest) -> str:
    """The URL of the backend's test server (``<backend>_url`` fixture) with the scheme that selects the backend."""
    url = str(request.getfixturevalue(f"{backend}_url"))
    scheme, _, rest = url.partition("://")
    secure = "s" if scheme in ("rediss", "valkeys") and "+" not in SCHEMES[backend] else ""
    return f"{SCHEMES[backend]}{secure}://{rest}"


def url_for(backend: str, request: pytest.FixtureRequest, directory: Path) -> str:
    """A ``store_from_url`` URL of ``backend`` in a fresh namespace (network backends: their test server)."""
    namespace = unique_namespace()
    if backend == "memory":
        return f"memory://?namespace={namespace}"
    if backend == "file":
        return f"file://{directory}?namespace={namespace}"
    if backend == "sqlite":
        return f"sqlite://{directory}.db?namespace={namespace}"
    server = server_url(backend, request)
    return f"{server}{'&' if '?' in server else '?'}namespace={namespace}"
