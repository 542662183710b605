"""A store on Redis: single server, Sentinel-managed primary or cluster (``pip install litestar-kvstores[redis]``).

See ``docs/redis.md`` for the key layout, cluster and Sentinel use, and the differences from Litestar's store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import redis.asyncio
from litestar.types import Empty, EmptyType
from redis import exceptions
from redis.asyncio import Redis, RedisCluster
from redis.backoff import ExponentialBackoff

from ._redis.bridge import ClientBridge
from ._redis.store import RedisLikeStore

if TYPE_CHECKING:
    from typing import Self

__all__ = ("RedisStore",)


_REDIS = ClientBridge.for_library(
    "Redis",
    redis.asyncio,
    exceptions,
    ExponentialBackoff,
    pool_exhausted_error=exceptions.MaxConnectionsError,
    url_schemes=("redis", "rediss", "unix"),
)


class RedisStore(RedisLikeStore):
    """Redis based, thread- and process-safe, namespaced asynchronous key/value store.

    A drop-in for :class:`litestar.stores.redis.RedisStore` (same constructor and :meth:`with_client`) with the
    litestar-kvstores contract: exact ``delete_all``, atomic renewal with millisecond precision, atomic ``incr``,
    and errors as :class:`~litestar_kvstores.StoreError`. Works with ``redis.asyncio.Redis`` (also one from
    ``redis.asyncio.Sentinel.master_for``) and ``redis.asyncio.RedisCluster``.
    """

    __slots__ = ()

    _bridge = _REDIS

    def __init__(
        self,
        redis: Redis | RedisCluster,
        namespace: str | EmptyType | None = Empty,
        handle_client_shutdown: bool = False,
        *,
        auto_pipeline: bool = True,
    ) -> None:
        """Create a store on ``redis``.

        Args:
            redis: A ``redis.asyncio.Redis`` or ``RedisCluster`` created with ``decode_responses=False``.
            namespace: ``LITESTAR`` when not given; ``None`` stores keys verbatim (then :meth:`delete_all` raises);
                else namespace names (letters, digits, ``_-.``) joined by ``/``.
            handle_client_shutdown: Close ``redis`` in :meth:`aclose` / ``__aexit__``.
            auto_pipeline: Send the commands that callers issue concurrently, in one event-loop turn, as one
                pipeline (one per cluster node); ``False`` sends each command alone. A lone command is always sent
                at once.

        Raises:
            TypeError: ``redis`` is not a Redis client.
            ValueError: a namespace name is invalid.
        """
        super().__init__(redis, namespace, handle_client_shutdown, auto_pipeline=auto_pipeline)

    @classmethod
    def with_client(
        cls,
        url: str = "redis://localhost:6379",
        *,
        db: int | None = None,
        port: int | None = None,
        username: str | None = None,
        password: str | None = None,
        namespace: str | EmptyType | None = Empty,
        auto_pipeline: bool = True,
        **client_options: Any,
    ) -> Self:
        """Return a store owning a new client for ``url`` (closed by :meth:`aclose` / ``__aexit__``).

        The client uses a pool of 100 connections (more concurrent commands wait up to ``timeout=5`` seconds for a
        free one), a 2 s connect timeout, a 5 s read timeout and one retry of a broken connection;
        ``client_options`` (any option of ``redis.asyncio.ConnectionPool`` or its connections) override these.

        Args:
            url: ``redis://``, ``rediss://`` or ``unix://`` URL.
            db: Database number, overriding the URL's.
            port: Port, overriding the URL's.
            username: User name, overriding the URL's.
            password: Password, overriding the URL's.
            namespace: As for the constructor.
            auto_pipeline: As for the constructor.
            client_options: More options for the pool and its connections.

        Raises:
            ValueError: the URL is invalid, or an option is unknown to ``redis``; nothing connects before the first
                command.
        """
        explicit = {"db": db, "port": port, "username": username, "password": password}
        return cls._with_client(
            url, namespace=namespace, auto_pipeline=auto_pipeline, explicit=explicit, client_options=client_options
        )
