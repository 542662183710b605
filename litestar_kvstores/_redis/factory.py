"""The clients of Redis/Valkey stores: ``with_client``, ``with_cluster`` and the URL factory with its topologies.

``redis://`` / ``rediss://`` (and the ``valkey`` spellings) name a single server, ``+sentinel://host:port[,...]
/SERVICE[/DB]`` the primary the Sentinels know as ``SERVICE``, and ``+cluster://host:port[,...]`` a cluster found
through any of its nodes. Every option is checked here, by name, before a client exists; nothing connects before
the first command. The defaults of each kind of client are stated once, in :mod:`.bridge`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl

from ..urls import bools_like_defaults, redact_url, reject_unknown, split_options, split_url, unsplit_url, url_hosts
from ..validation import check_namespace
from .bridge import CLUSTER_DEFAULTS, NETWORK_DEFAULTS, POOL_DEFAULTS, ClientBridge

if TYPE_CHECKING:
    from .store import RedisLikeStore

__all__ = ("new_client", "new_cluster_client", "store_from_url")

S = TypeVar("S", bound="RedisLikeStore")

_TOPOLOGIES = ("", "sentinel", "cluster")
_SENTINEL_PORT = 26379
_SERVER_PORT = 6379


def new_client(
    bridge: ClientBridge, url: str, options: Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> Any:
    """Return a client for ``url`` on a waiting connection pool, with :data:`POOL_DEFAULTS` and one quick retry.

    ``options`` (pool and connection options) win over the defaults, the URL (its query, path and user info) wins
    over ``options`` as in the library's ``from_url``, and ``overrides`` win over the URL.

    Raises:
        ValueError: the URL's scheme is not one of the library's, or an option is unknown (named in the message).
    """
    _check_scheme(bridge, url, bridge.url_schemes)
    _check_database(url)
    overrides = overrides or {}
    _check_options(url, [*options, *overrides], bridge.client_options)
    url_options = bridge.parse_url(url)
    pool = bridge.pool_class(
        **{**POOL_DEFAULTS, **bridge.retry_options(), **options, **url_options, **overrides, "decode_responses": False}
    )
    try:
        pool.make_connection()  # builds, does not open, a connection: an option it does not take fails now
    except TypeError as exc:
        raise ValueError(f"An option does not fit the connections of {redact_url(url)!r}: {exc}") from None
    return bridge.client_class(connection_pool=pool)


def _check_database(url: str) -> None:
    """Check that a server URL's path is empty or ``/DB`` (a database number).

    Raises:
        ValueError: the path is anything else (the client library would read ``/1/2`` as database 12 and ``/x`` as
            database 0).
    """
    parts = split_url(url)
    if parts.scheme.lower() == "unix":  # the path is the socket's; the database is ?db=
        return
    database = parts.path[1:]
    if database and not (database.isascii() and database.isdigit()):
        raise ValueError(f"The path of a server URL is /DB, a database number, got {parts.path!r}")


def new_cluster_client(bridge: ClientBridge, url: str, options: Mapping[str, Any]) -> Any:
    """Return a cluster client with :data:`CLUSTER_DEFAULTS` that discovers the cluster from the node at ``url``.

    ``options`` (cluster client options) win over the defaults; the URL's query wins over ``options`` (as in the
    library).

    Raises:
        ValueError: the URL's scheme is not one of the library's, or an option is unknown (named in the message).
    """
    _check_scheme(bridge, url, [scheme for scheme in bridge.url_schemes if scheme != "unix"])
    _check_options(url, options, bridge.cluster_options)
    return bridge.cluster_class.from_url(url, **_cluster_settings(options))


def _cluster_settings(options: Mapping[str, Any]) -> dict[str, Any]:
    return {**CLUSTER_DEFAULTS, **options, "decode_responses": False}


def store_from_url(store_class: type[S], url: str, options: Mapping[str, Any]) -> S:
    """Return a store of ``store_class`` owning a new client for ``url`` (see the module's docstring).

    ``?namespace=NAME`` gives ``with_namespace(NAME)`` of the store the URL names without it (root ``LITESTAR``),
    which owns the client; ``?auto_pipeline=false`` turns automatic pipelining off; keyword ``options`` win over the
    query's.

    Raises:
        ValueError: the scheme, a part of the URL or an option is invalid or unknown (named in the message, never a
            credential).
    """
    bridge = store_class._bridge
    scheme = split_url(url).scheme.lower()
    base, _, topology = scheme.partition("+")
    if topology not in _TOPOLOGIES or base not in bridge.url_schemes or base == "unix":
        raise ValueError(f"{store_class.__name__} cannot be built from {scheme}:// URLs")
    stripped, own, client_options = split_options(url, options, ("namespace", "auto_pipeline"))
    namespace = own.pop("namespace", None)
    if namespace is not None:
        if namespace == "":
            raise ValueError("The option 'namespace' must not be empty")
        check_namespace(namespace)
    if topology == "sentinel":
        client = _sentinel_client(bridge, stripped, client_options)
    elif topology == "cluster":
        client = _cluster_client(bridge, stripped, client_options)
    else:
        client = new_client(bridge, stripped, {}, overrides=client_options)
    store = store_class(client, handle_client_shutdown=True, **bools_like_defaults(store_class, own))
    if namespace is None:
        return store
    child = store.with_namespace(namespace)
    child.handle_client_shutdown = True  # the child is the only store that ever sees this client
    return child


def _sentinel_client(bridge: ClientBridge, url: str, client_options: Mapping[str, Any]) -> Any:
    """A client of the primary that the Sentinels at ``url``'s hosts know as the service named by the path."""
    segments = [segment for segment in split_url(url).path.split("/") if segment]
    if not segments or len(segments) > 2:
        raise ValueError(f"A sentinel URL needs /SERVICE or /SERVICE/DB as path, got {redact_url(url)!r}")
    _check_options(url, client_options, bridge.sentinel_options)
    options = {**NETWORK_DEFAULTS, **_url_options(bridge, url), **client_options}
    if len(segments) == 2:
        try:
            options["db"] = int(segments[1])
        except ValueError:
            raise ValueError(f"Invalid database number {segments[1]!r} in {redact_url(url)!r}") from None
    timeouts = {name: options[name] for name in NETWORK_DEFAULTS}
    sentinel = bridge.sentinel_class(url_hosts(url, _SENTINEL_PORT), sentinel_kwargs=timeouts)
    return sentinel.master_for(segments[0], **options)


def _cluster_client(bridge: ClientBridge, url: str, client_options: Mapping[str, Any]) -> Any:
    """A cluster client that discovers the cluster from every ``host:port`` of ``url``."""
    _check_options(url, client_options, bridge.cluster_options)
    options = {**_url_options(bridge, url), **client_options}
    options.pop("db", None)  # a cluster has database 0 only
    nodes = [bridge.cluster_node_class(host, port) for host, port in url_hosts(url, _SERVER_PORT)]
    return bridge.cluster_class(startup_nodes=nodes, **_cluster_settings(options))


def _url_options(bridge: ClientBridge, url: str) -> dict[str, Any]:
    """The client options of a multi-host URL's credentials and query, converted by the library's own parser (so
    they mean what they mean in a ``redis://`` URL)."""
    parts = split_url(url)
    userinfo, at, _ = parts.netloc.rpartition("@")
    single_host = unsplit_url(parts.scheme.partition("+")[0], f"{userinfo}{at}localhost", "", parts.query)
    options = dict(bridge.parse_url(single_host))
    del options["host"]
    return options


def _check_scheme(bridge: ClientBridge, url: str, schemes: Iterable[str]) -> None:
    accepted = list(schemes)
    if split_url(url).scheme.lower() not in accepted:
        known = ", ".join(f"{scheme}://" for scheme in accepted)
        raise ValueError(f"A {bridge.product} URL needs one of the schemes {known}, got {redact_url(url)!r}")


def _check_options(url: str, options: Iterable[str], accepted: frozenset[str]) -> None:
    """Raise ``ValueError`` naming every option of ``options`` and of ``url``'s query that is not ``accepted``."""
    parts = split_url(url)
    reject_unknown(parts.scheme.lower(), [*options, *(name for name, _ in parse_qsl(parts.query))], accepted)
