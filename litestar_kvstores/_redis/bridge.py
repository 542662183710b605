"""What the shared Redis/Valkey implementation needs from one client library, and the defaults of its clients.

``redis-py`` and ``valkey-py`` share one API and differ in class and exception names. :mod:`litestar_kvstores.redis`
and :mod:`litestar_kvstores.valkey` each describe their library in one :class:`ClientBridge`; nothing else in this
package imports either library.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType, ModuleType
from typing import Any

from ..urls import parameter_names
from .pool import WaitingPoolMixin

__all__ = ("CLUSTER_DEFAULTS", "NETWORK_DEFAULTS", "POOL_DEFAULTS", "ClientBridge")

NETWORK_DEFAULTS: Mapping[str, Any] = MappingProxyType({"socket_connect_timeout": 2.0, "socket_timeout": 5.0})
"""The timeouts of every client the stores make (single server, Sentinel, cluster): never a long hang."""

POOL_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        **NETWORK_DEFAULTS,
        "max_connections": 100,
        "timeout": 5.0,  # how long a command waits for a free connection of the pool
    }
)
"""The defaults of a single server's client (``with_client``, ``redis://``): a waiting pool of 100 connections."""

CLUSTER_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        **NETWORK_DEFAULTS,
        # Per node. A cluster client fails rather than waits when all are in use, and its default of 100 fails
        # 200 concurrent commands, so the limit is generous.
        "max_connections": 1000,
    }
)
"""The defaults of a cluster client (``with_cluster``, ``+cluster://``)."""


@dataclass(frozen=True)
class ClientBridge:
    """What the shared implementation needs from one client library.

    Attributes:
        product: The server's name for messages (``"Redis"``, ``"Valkey"``).
        client_class: The asyncio client (``redis.asyncio.Redis``).
        cluster_class: The asyncio cluster client (``redis.asyncio.RedisCluster``).
        pool_class: The connection pool of clients made by ``with_client`` (a ``WaitingPoolMixin`` pool), so that
            more concurrent commands than connections wait for a free connection instead of failing.
        sentinel_class: The asyncio Sentinel client (``redis.asyncio.Sentinel``).
        cluster_node_class: A cluster's startup node (``redis.asyncio.cluster.ClusterNode``).
        connection_classes: The connection classes a URL can select (plain and TLS); their options are the
            client options a store accepts.
        url_schemes: The URL schemes ``with_client`` accepts (``redis``, ``rediss``, ``unix``, ...).
        parse_url: The library's parser of a client URL into client options (query values converted, credentials
            percent-decoded), so that a URL means the same to every factory.
        errors: Every exception the library raises for a failed command.
        unavailable_errors: The subset meaning "the server cannot be reached" (connection, timeout, cluster down).
        response_error: An error reply of the server.
        no_script_error: The reply to ``EVALSHA`` of a script the server has not loaded.
        connection_error: A broken or refused connection (a subset of ``unavailable_errors``).
        timeout_error: A server that did not answer in time (a subset of ``unavailable_errors``).
        redirect_errors: The replies of a cluster node that does not serve a key's slot (``MOVED``, ``ASK``,
            ``TRYAGAIN``): the command was not run, and the cluster client can run it on the right node.
        release_node_connection: Puts a connection taken with a cluster node's ``acquire_connection`` back into
            that node's pool (``release_node_connection(node, connection)``).
        pool_arguments: The positional arguments of the connection pool's ``get_connection``.
        retry_options: Returns the retry options of the connections of clients made by ``with_client``.
    """

    product: str
    client_class: type[Any]
    cluster_class: type[Any]
    pool_class: type[Any]
    sentinel_class: type[Any]
    cluster_node_class: type[Any]
    connection_classes: tuple[type[Any], ...]
    url_schemes: tuple[str, ...]
    parse_url: Callable[[str], Mapping[str, Any]]
    errors: tuple[type[Exception], ...]
    unavailable_errors: tuple[type[Exception], ...]
    response_error: type[Exception]
    no_script_error: type[Exception]
    connection_error: type[Exception]
    timeout_error: type[Exception]
    redirect_errors: tuple[type[Exception], ...]
    release_node_connection: Callable[[Any, Any], None]
    pool_arguments: tuple[str, ...]
    retry_options: Callable[[], dict[str, Any]]

    @classmethod
    def for_library(
        cls,
        product: str,
        asyncio_api: ModuleType,
        exceptions: ModuleType,
        backoff_class: type[Any],
        *,
        pool_exhausted_error: type[Exception],
        url_schemes: tuple[str, ...],
        pool_arguments: tuple[str, ...] = (),
    ) -> ClientBridge:
        """Return the bridge of a redis-py-shaped library (redis-py, valkey-py).

        The libraries share their layout (``asyncio_api`` is their ``asyncio`` package, ``exceptions`` their
        exceptions module) and differ in the names that start with ``product``: ``Redis`` / ``Valkey``,
        ``RedisCluster``, ``RedisError``, ... . Clients made by ``with_client`` get a waiting connection pool and one
        quick retry of a broken connection, with ``backoff_class``'s exponential backoff (e.g. to a restarted
        server); a timeout is not retried, so a silent server is reported after one timeout.
        ``pool_exhausted_error`` is what the library's asyncio pool raises when all connections are in use;
        ``pool_arguments`` are what its pool's ``get_connection`` needs (valkey-py wants a command name).
        """
        cluster_error = getattr(exceptions, f"{product}ClusterException")
        connection_error = exceptions.ConnectionError
        pool_class = type(
            f"{product}WaitingConnectionPool",
            (WaitingPoolMixin, asyncio_api.ConnectionPool),
            {
                "__doc__": "A connection pool that waits for a free connection when all are in use.",
                "exhausted_error": pool_exhausted_error,
                "connection_error": connection_error,
            },
        )

        def retry_options() -> dict[str, Any]:
            backoff = backoff_class(cap=0.2, base=0.02)
            retry = asyncio_api.retry.Retry(backoff, retries=1, supported_errors=(connection_error,))
            return {"retry": retry, "retry_on_error": [connection_error]}

        return cls(
            product=product,
            client_class=getattr(asyncio_api, product),
            cluster_class=getattr(asyncio_api, f"{product}Cluster"),
            pool_class=pool_class,
            sentinel_class=asyncio_api.Sentinel,
            cluster_node_class=asyncio_api.cluster.ClusterNode,
            connection_classes=(asyncio_api.Connection, asyncio_api.SSLConnection),
            url_schemes=url_schemes,
            parse_url=asyncio_api.connection.parse_url,
            errors=(getattr(exceptions, f"{product}Error"), cluster_error),
            unavailable_errors=(connection_error, exceptions.TimeoutError, exceptions.ClusterDownError, cluster_error),
            response_error=exceptions.ResponseError,
            no_script_error=exceptions.NoScriptError,
            connection_error=connection_error,
            timeout_error=exceptions.TimeoutError,
            redirect_errors=(exceptions.AskError, exceptions.TryAgainError),  # MovedError is an AskError
            # valkey-py's nodes have no release(): their own commands put the connection back on the free queue
            release_node_connection=getattr(asyncio_api.cluster.ClusterNode, "release", _put_back),
            pool_arguments=pool_arguments,
            retry_options=retry_options,
        )

    @functools.cached_property
    def closed_error(self) -> type[Exception]:
        """A connection error for a connection that the client library closed while commands were on it (a cluster
        client replacing its map of slots closes every node's connections): they may have run, so they are not
        sent again. A subclass of ``connection_error``."""
        doc = "A connection the client library closed under the commands on it (they may have run)."
        return type(f"{self.product}ConnectionClosedUnderCommand", (self.connection_error,), {"__doc__": doc})

    @functools.cached_property
    def client_options(self) -> frozenset[str]:
        """Every option of a single server's client: of its waiting pool and of any of its connection classes."""
        return _init_parameters(self.pool_class, *self.connection_classes)

    @functools.cached_property
    def sentinel_options(self) -> frozenset[str]:
        """Every option of the client of a Sentinel-managed primary (it has the library's pool, not ours)."""
        return self.client_options - _init_parameters(WaitingPoolMixin)

    @functools.cached_property
    def cluster_options(self) -> frozenset[str]:
        """Every option of the cluster client."""
        return _init_parameters(self.cluster_class)


def _put_back(node: Any, connection: Any) -> None:
    """Put ``connection`` back on the free queue of the cluster ``node`` it was taken from."""
    node._free.append(connection)


def _init_parameters(*classes: type[Any]) -> frozenset[str]:
    """The keyword parameters of the ``__init__`` of ``classes`` and of their base classes, which take the rest of
    the options as ``**kwargs``."""
    inits = [vars(base)["__init__"] for cls in classes for base in cls.__mro__[:-1] if "__init__" in vars(base)]
    return frozenset(parameter_names(*inits))
