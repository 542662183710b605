"""Fixtures of the Redis/Valkey tests, parametrized over the servers (the stores themselves: ``tests/conftest.py``)."""

from __future__ import annotations

import pytest

from litestar_kvstores._redis.store import RedisLikeStore
from testservers.redis import Kind


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
