"""Fixtures of the Redis/Valkey tests, parametrized over the servers (the stores themselves: ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio
import valkey.asyncio

from litestar_kvstores._redis.store import RedisLikeStore
from tests.support.stores import STORE_CLASSES, unique_namespace
from testservers.redis import Kind


@pytest.fixture(params=["redis", "valkey"])
def kind(request: pytest.FixtureRequest) -> Kind:
    """Each single-server kind: ``redis``, ``valkey``."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def url(kind: Kind, request: pytest.FixtureRequest) -> str:
    """The URL of the session's server of ``kind``."""
    return str(request.getfixturevalue(f"{kind}_url"))


@pytest.fixture(params=["redis", "valkey", "redis_cluster", "valkey_cluster", "redis_python", "valkey_python"])
def any_store(request: pytest.FixtureRequest) -> RedisLikeStore:
    """A fresh store on each of: Redis, Valkey, Redis cluster, Valkey cluster, and Redis and Valkey read through the
    client library's pure-Python reply parser (the default parser is the C one the extras install)."""
    store = request.getfixturevalue(f"{request.param}_store")
    assert isinstance(store, RedisLikeStore)
    return store


async def _python_parser_store(kind: Kind, url: str) -> AsyncIterator[RedisLikeStore]:
    library = redis if kind == "redis" else valkey
    client = library.asyncio.Redis.from_url(url, parser_class=library._parsers._AsyncRESP2Parser)
    async with STORE_CLASSES[kind](client, f"LITESTAR/{unique_namespace()}", handle_client_shutdown=True) as store:
        connection = await client.connection_pool.get_connection(*store._conn.bridge.pool_arguments)
        # not the C parser (a RESP3 connection, redis-py's default, swaps in the Python RESP3 parser)
        assert isinstance(connection._parser, library._parsers._AsyncRESP2Parser | library._parsers._AsyncRESP3Parser)
        await client.connection_pool.release(connection)
        yield store
        await store.delete_all()


@pytest.fixture
async def redis_python_store(redis_url: str) -> AsyncIterator[RedisLikeStore]:
    """A Redis store whose client reads replies with redis-py's pure-Python parser."""
    async for store in _python_parser_store("redis", redis_url):
        yield store


@pytest.fixture
async def valkey_python_store(valkey_url: str) -> AsyncIterator[RedisLikeStore]:
    """A Valkey store whose client reads replies with valkey-py's pure-Python parser."""
    async for store in _python_parser_store("valkey", valkey_url):
        yield store
