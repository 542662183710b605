"""A store on Valkey: single server, Sentinel-managed primary or cluster (``pip install litestar-kvstores[valkey]``).

The same implementation as :mod:`litestar_kvstores.redis` over the ``valkey`` client library; see ``docs/redis.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import valkey.asyncio
from litestar.types import Empty, EmptyType
from valkey import exceptions
from valkey.asyncio import Valkey, ValkeyCluster
from valkey.backoff import ExponentialBackoff

from ._redis.bridge import ClientBridge
from ._redis.store import RedisLikeStore

if TYPE_CHECKING:
    from typing import Self

__all__ = ("ValkeyStore",)


_VALKEY = ClientBridge.for_library(
    "Valkey",
    valkey.asyncio,
    exceptions,
    ExponentialBackoff,
    pool_exhausted_error=exceptions.ConnectionError,  # its asyncio pool raises a plain ConnectionError when full
    url_schemes=("valkey", "valkeys", "redis", "rediss", "unix"),
    pool_arguments=("GET",),  # its pool's get_connection needs a command name, which it ignores
)


class ValkeyStore(RedisLikeStore):
    """Valkey based, thread- and process-safe, namespaced asynchronous key/value store.

    A drop-in for :class:`litestar.stores.valkey.ValkeyStore` (same constructor and :meth:`with_client`),
    behaving exactly like :class:`~litestar_kvstores.redis.RedisStore`. Works with ``valkey.asyncio.Valkey``
    (also one from ``valkey.asyncio.Sentinel.master_for``) and ``valkey.asyncio.ValkeyCluster``.
    """

    __slots__ = ()

    _bridge = _VALKEY

    def __init__(
        self,
        valkey: Valkey | ValkeyCluster,
        namespace: str | EmptyType | None = Empty,
        handle_client_shutdown: bool = False,
        *,
        auto_pipeline: bool = True,
    ) -> None:
        """Create a store on ``valkey``; the arguments are those of :class:`~litestar_kvstores.redis.RedisStore`.

        Raises:
            TypeError: ``valkey`` is not a Valkey client.
            ValueError: a namespace name is invalid.
        """
        super().__init__(valkey, namespace, handle_client_shutdown, auto_pipeline=auto_pipeline)

    @classmethod
    def with_client(
        cls,
        url: str = "valkey://localhost:6379",
        *,
        db: int | None = None,
        port: int | None = None,
        username: str | None = None,
        password: str | None = None,
        namespace: str | EmptyType | None = Empty,
        auto_pipeline: bool = True,
        **client_options: Any,
    ) -> Self:
        """Return a store owning a new client for ``url`` (``valkey://``, ``valkeys://``, ``redis://``, ...).

        Same defaults and arguments as :meth:`litestar_kvstores.redis.RedisStore.with_client`.
        """
        explicit = {"db": db, "port": port, "username": username, "password": password}
        return cls._with_client(
            url, namespace=namespace, auto_pipeline=auto_pipeline, explicit=explicit, client_options=client_options
        )
