"""Helpers shared by the Redis/Valkey test modules: raw clients for inspection and a round-trip counter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio
import valkey.asyncio
from redis.asyncio.connection import AbstractConnection

from litestar_kvstores._redis.store import RedisLikeStore
from tests.support.stores import STORE_CLASSES
from testservers.redis import Kind

SINGLE_KINDS: list[Kind] = ["redis", "valkey"]
ALL_BACKENDS = ["redis", "valkey", "redis_cluster", "valkey_cluster"]


def raw_client(url: str) -> redis.asyncio.Redis:
    """A plain client (speaks to Redis and Valkey alike) for looking at what the store wrote."""
    return redis.asyncio.Redis.from_url(url)


async def execute(client: redis.asyncio.Redis, *command: object) -> Any:
    """Send one raw command with ``client`` and return its reply (redis-py leaves ``execute_command`` unannotated)."""
    execute_command: Callable[..., Awaitable[Any]] = client.execute_command
    return await execute_command(*command)


def new_connection(client: redis.asyncio.Redis) -> AbstractConnection:
    """A new, not yet opened connection of ``client``'s pool (redis-py leaves ``make_connection`` unannotated)."""
    make_connection: Callable[[], AbstractConnection] = client.connection_pool.make_connection
    return make_connection()


class CountingWriter:
    """A connection's stream writer that counts the writes of whole commands or pipelines (one per round trip)."""

    def __init__(self, writer: Any, owner: type) -> None:
        self._writer = writer
        self._owner = owner

    def writelines(self, data: Any) -> None:
        self._owner.sends += 1  # type: ignore[attr-defined]
        self._writer.writelines(data)

    def write(self, data: Any) -> None:
        self._owner.sends += 1  # type: ignore[attr-defined]
        self._writer.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)


class _RedisCountingConnection(redis.asyncio.Connection):
    sends = 0

    async def _connect(self) -> None:
        await super()._connect()  # type: ignore[no-untyped-call]
        self._writer = CountingWriter(self._writer, type(self))  # type: ignore[assignment]


class _ValkeyCountingConnection(valkey.asyncio.Connection):
    sends = 0

    async def _connect(self) -> None:
        await super()._connect()  # type: ignore[no-untyped-call]
        self._writer = CountingWriter(self._writer, type(self))  # type: ignore[assignment]


def library_client(kind: Kind, url: str) -> Any:
    """A client of ``kind``'s own library (``redis.asyncio.Redis`` or ``valkey.asyncio.Valkey``)."""
    client_class = redis.asyncio.Redis if kind == "redis" else valkey.asyncio.Valkey
    return client_class.from_url(url)


COUNTING_CONNECTIONS: dict[Kind, Any] = {"redis": _RedisCountingConnection, "valkey": _ValkeyCountingConnection}


def counting_store(kind: Kind, url: str, namespace: str, **options: Any) -> tuple[RedisLikeStore, Any]:
    """Return a store whose connections count the writes they send (one per round trip), and that counter class;
    ``options`` go to ``with_client``."""
    connection_class = COUNTING_CONNECTIONS[kind]
    store = STORE_CLASSES[kind].with_client(url, namespace=namespace, connection_class=connection_class, **options)
    return store, connection_class
