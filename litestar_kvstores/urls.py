"""Stores by URL: ``store_from_url("redis://localhost:6379/0?namespace=app")``.

One factory per URL scheme. Built in: ``memory://``, ``file://``, ``redis://``, ``rediss://``, ``valkey://``,
``valkeys://``, ``redis+sentinel://``, ``valkey+sentinel://``, ``redis+cluster://``, ``valkey+cluster://``,
``mongodb://``, ``mongodb+srv://``, ``sqlite://``, ``postgresql://`` and ``postgres://``. The network backends are
imported only when their scheme is used. Other packages add schemes with :func:`register_scheme` or through the
``litestar_kvstores.schemes`` entry-point group (the entry point's name is the scheme, its object a
:data:`SchemeFactory`).

Query parameters carry options (``?namespace=app&max_entries=1000``); keyword arguments of :func:`store_from_url`
do too and win over the query. An unknown scheme or option raises ``ValueError`` naming it before any connection
is made. No credential of a URL appears in an error message: see :func:`redact_url`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

if TYPE_CHECKING:
    from litestar.stores.base import Store

__all__ = (
    "ENTRY_POINT_GROUP",
    "SchemeFactory",
    "bools_like_defaults",
    "parameter_names",
    "positive_int",
    "redact_url",
    "register_scheme",
    "registered_schemes",
    "reject_unknown",
    "split_options",
    "store_from_url",
    "unsplit_url",
    "url_credentials",
    "url_hosts",
)

SchemeFactory = Callable[..., "Store"]
"""Called as ``factory(url, **options)`` with the full URL and the keyword options of :func:`store_from_url`.

It parses the URL itself, raises ``ValueError`` for an option it does not understand, and returns a store that
has not connected yet.
"""

ENTRY_POINT_GROUP = "litestar_kvstores.schemes"
"""Entry-point group through which installed packages add URL schemes."""

_SENSITIVE_QUERY_WORDS = ("pass", "secret", "token", "key", "auth", "credential")
_schemes: dict[str, SchemeFactory] = {}

_BUILT_IN_SCHEMES: dict[str, str] = {
    "memory": "litestar_kvstores.memory:MemoryStore",
    "file": "litestar_kvstores.file:FileStore",
    **dict.fromkeys(
        ("redis", "rediss", "redis+sentinel", "redis+cluster"),
        "litestar_kvstores.redis:RedisStore",
    ),
    **dict.fromkeys(
        ("valkey", "valkeys", "valkey+sentinel", "valkey+cluster"),
        "litestar_kvstores.valkey:ValkeyStore",
    ),
    **dict.fromkeys(("mongodb", "mongodb+srv"), "litestar_kvstores.mongo:MongoStore"),
    "sqlite": "litestar_kvstores.sqlite:SQLiteStore",
    **dict.fromkeys(("postgresql", "postgres"), "litestar_kvstores.postgres:PostgresStore"),
}
"""Each built-in scheme and the store class whose ``from_url`` builds it, imported on first use (so an optional
client library is needed only when its scheme is used)."""


def register_scheme(scheme: str, factory: SchemeFactory, *, replace: bool = False) -> None:
    """Make :func:`store_from_url` hand URLs of ``scheme`` to ``factory``.

    Raises:
        ValueError: ``scheme`` is already registered and ``replace`` is false, or is not a valid scheme name.
    """
    name = scheme.lower()
    if not name or not all(c.isalnum() or c in "+-." for c in name) or not name[0].isalpha():
        raise ValueError(f"Invalid URL scheme {scheme!r}")
    if (name in _schemes or name in _BUILT_IN_SCHEMES) and not replace:
        raise ValueError(f"The URL scheme {name!r} is already registered")
    _schemes[name] = factory


def registered_schemes() -> list[str]:
    """Return every scheme :func:`store_from_url` understands (built-in, registered and from entry points)."""
    _load_entry_points()
    return sorted({*_schemes, *_BUILT_IN_SCHEMES})


def _factory_for(scheme: str) -> SchemeFactory | None:
    """The factory of ``scheme``: registered, built in (importing its backend now), or from an entry point."""
    factory = _schemes.get(scheme)
    if factory is None and scheme in _BUILT_IN_SCHEMES:
        module_name, _, class_name = _BUILT_IN_SCHEMES[scheme].partition(":")
        factory = _schemes.setdefault(scheme, getattr(import_module(module_name), class_name).from_url)
    if factory is None:
        _load_entry_points()
        factory = _schemes.get(scheme)
    return factory


def _load_entry_points() -> None:
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        _schemes.setdefault(entry_point.name.lower(), entry_point.load())


def store_from_url(url: str, **options: Any) -> Store:
    """Return a new, not yet connected store for ``url``.

    Args:
        url: ``scheme://...``; query parameters are options of the scheme's factory or of its client.
        **options: More options; they win over the query's.

    Raises:
        ValueError: the scheme is unknown, or an option or part of the URL is invalid (the message names it and
            never a credential).
    """
    if not isinstance(url, str):
        raise TypeError(f"A store URL must be a str, not {type(url).__name__}")
    scheme = urlsplit(url).scheme.lower()
    factory = _factory_for(scheme)
    if factory is None:
        known = ", ".join(f"{name}://" for name in registered_schemes())
        raise ValueError(f"Unknown store URL scheme {scheme!r} in {redact_url(url)!r}; known schemes: {known}")
    return factory(url, **options)


def redact_url(url: str) -> str:
    """Return ``url`` without credentials: user info becomes ``***`` and secret-looking query values ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    query = urlencode(
        [
            (name, "***" if any(word in name.lower() for word in _SENSITIVE_QUERY_WORDS) else value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*",
    )
    return unsplit_url(parts.scheme, netloc, parts.path, query, parts.fragment)


def unsplit_url(scheme: str, netloc: str, path: str, query: str, fragment: str = "") -> str:
    """Join URL parts, always with ``//`` (``urlunsplit`` drops it for unknown schemes without a host)."""
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "") + (f"#{fragment}" if fragment else "")


# -- option handling shared by the built-in factories ------------------------------------------------------------


def split_options(
    url: str, options: Mapping[str, Any], ours: Iterable[str]
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Split the query and ``options`` into (URL without our options, our options, the client's options).

    Query values are strings; keyword options keep their types and win over the query.
    """
    parts = urlsplit(url)
    own_names = set(ours)
    own: dict[str, Any] = {}
    client_query: list[tuple[str, str]] = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in own_names:
            own[name] = value
        else:
            client_query.append((name, value))
    client: dict[str, Any] = {}
    for name, value in options.items():
        if name in own_names:
            own[name] = value
        else:
            client[name] = value
    stripped = unsplit_url(parts.scheme, parts.netloc, parts.path, urlencode(client_query), parts.fragment)
    return stripped, own, client


def reject_unknown(scheme: str, names: Iterable[str], accepted: Iterable[str]) -> None:
    allowed = set(accepted)
    unknown = sorted(name for name in names if name not in allowed)
    if unknown:
        raise ValueError(f"Unknown option(s) {', '.join(map(repr, unknown))} for {scheme}:// store URLs")


def positive_int(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise ValueError(f"The option {name!r} must be a positive integer, got {value!r}") from None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"The option {name!r} must be a positive integer, got {value!r}")
    return value


def _namespaced(store: Store, namespace: Any) -> Store:
    if namespace is None:
        return store
    if namespace == "":
        raise ValueError("The option 'namespace' must not be empty")
    if not hasattr(store, "with_namespace"):
        raise ValueError(f"{type(store).__name__} does not support the option 'namespace'")
    namespaced: Store = store.with_namespace(namespace)
    return namespaced


def parameter_names(*callables: Callable[..., Any]) -> set[str]:
    names: set[str] = set()
    for function in callables:
        for parameter in inspect.signature(function).parameters.values():
            if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
                names.add(parameter.name)
    return names - {"self", "args", "kwargs"}


# -- memory:// and file:// ---------------------------------------------------------------------------------------


def _memory_from_url(url: str, **options: Any) -> Store:
    """``memory://?max_entries=N&max_bytes=N&namespace=NAME``: a new :class:`~litestar_kvstores.memory.MemoryStore`."""
    from .memory import MemoryStore

    stripped, own, client = split_options(url, options, ("max_entries", "max_bytes", "namespace"))
    parts = urlsplit(stripped)
    reject_unknown("memory", [*client, *(name for name, _ in parse_qsl(parts.query))], ())
    if parts.netloc or parts.path not in ("", "/"):
        raise ValueError(f"A memory:// URL has no host or path, got {redact_url(url)!r}")
    store = MemoryStore(
        max_entries=positive_int("max_entries", own.get("max_entries")),
        max_bytes=positive_int("max_bytes", own.get("max_bytes")),
    )
    return _namespaced(store, own.get("namespace"))


def _file_path(url: str) -> Path:
    """``file://./relative`` and ``file://relative`` are relative to the working directory, ``file:///abs`` is not."""
    parts = urlsplit(url)
    path = parts.path if parts.netloc in ("", "localhost") else parts.netloc + parts.path
    if not path:
        raise ValueError(f"A file:// URL needs a directory, got {redact_url(url)!r}")
    return Path(path)


def _file_from_url(url: str, **options: Any) -> Store:
    """``file:///abs/dir?namespace=NAME`` or ``file://./relative/dir``: a :class:`~litestar_kvstores.file.FileStore`."""
    file_module = import_module(".file", __package__)
    accepted = parameter_names(file_module.FileStore) - {"path"}
    stripped, own, client = split_options(url, options, accepted)
    reject_unknown("file", [*client, *(name for name, _ in parse_qsl(urlsplit(stripped).query))], ())
    store: Store = file_module.FileStore(_file_path(stripped), **bools_like_defaults(file_module.FileStore, own))
    return store


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def bools_like_defaults(function: Callable[..., Any], options: dict[str, Any]) -> dict[str, Any]:
    """Convert query strings of options whose parameter defaults to a ``bool`` (``fsync=true``) to ``bool``.

    Raises:
        ValueError: such a value is not one of ``1 true yes on 0 false no off``.
    """
    parameters = inspect.signature(function).parameters
    typed = dict(options)
    for name, value in options.items():
        if isinstance(value, str) and isinstance(parameters[name].default, bool):
            if value.lower() not in _TRUE | _FALSE:
                raise ValueError(f"The option {name!r} must be true or false, got {value!r}")
            typed[name] = value.lower() in _TRUE
    return typed


# -- Redis and Valkey --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ClientLibrary:
    """Where a redis-py-like library (redis-py or valkey-py) keeps what the URL factories need."""

    name: str
    query_parsers_module: str
    cluster_class: str
    store_module: str
    store_class: str

    def query_parsers(self) -> Mapping[str, Callable[[str], Any]]:
        parsers: Mapping[str, Callable[[str], Any]] = import_module(
            self.query_parsers_module
        ).URL_QUERY_ARGUMENT_PARSERS
        return parsers

    def client_options(self) -> set[str]:
        """Every option the library's connection pool and connections accept (query or keyword)."""
        connection = import_module(f"{self.name}.asyncio.connection")
        accepted = parameter_names(
            connection.AbstractConnection.__init__,
            connection.Connection.__init__,
            connection.SSLConnection.__init__,
            connection.BlockingConnectionPool.__init__,
        )
        return (accepted | set(self.query_parsers())) - {"connection_class", "host", "port"}

    def parsed_query(self, url: str) -> dict[str, Any]:
        """The query of ``url`` with values converted as the library converts them in ``from_url``."""
        parsers = self.query_parsers()
        options: dict[str, Any] = {}
        for name, value in parse_qsl(urlsplit(url).query):
            parser = parsers.get(name)
            try:
                options[name] = parser(value) if parser else value
            except (TypeError, ValueError):
                raise ValueError(f"Invalid value for the option {name!r}") from None
        return options


_REDIS = _ClientLibrary("redis", "redis.asyncio.connection", "RedisCluster", ".redis", "RedisStore")
_VALKEY = _ClientLibrary("valkey", "valkey._parsers.url_parser", "ValkeyCluster", ".valkey", "ValkeyStore")


def _redis_like_factory(library: _ClientLibrary) -> SchemeFactory:
    """Return the URL factory of the schemes of ``library`` (``redis``/``valkey`` with ``s``, ``+sentinel``, ...).

    ``redis://`` / ``rediss://`` (and the ``valkey`` spellings) give ``Store.with_client(url, namespace=...,
    **client_options)``; ``+sentinel://host:port[,host:port]/SERVICE[/DB]`` a Sentinel-managed primary and
    ``+cluster://host:port[,host:port]`` a cluster client, both owned (closed) by the store.
    """

    def factory(url: str, **options: Any) -> Store:
        scheme = urlsplit(url).scheme.lower()
        stripped, own, client = split_options(url, options, ("namespace",))
        query_names = [name for name, _ in parse_qsl(urlsplit(stripped).query)]
        reject_unknown(scheme, [*client, *query_names], library.client_options())
        if "namespace" in own and not own["namespace"]:
            raise ValueError("The option 'namespace' must not be empty")
        namespace = {"namespace": own["namespace"]} if "namespace" in own else {}
        topology = scheme.partition("+")[2]
        if topology == "sentinel":
            redis_client = _sentinel_primary(library, stripped, client)
        elif topology == "cluster":
            redis_client = _cluster_client(library, stripped, client)
        else:
            store: Store = _store_class(library).with_client(stripped, **namespace, **client)
            return store
        owning: Store = _store_class(library)(redis_client, handle_client_shutdown=True, **namespace)
        return owning

    return factory


def _store_class(library: _ClientLibrary) -> Any:
    return getattr(import_module(library.store_module, __package__), library.store_class)


def url_hosts(url: str, default_port: int) -> list[tuple[str, int]]:
    """The ``host:port`` pairs of a comma-separated netloc (credentials removed; ``[v6]:port`` understood)."""
    hosts = []
    for item in urlsplit(url).netloc.rpartition("@")[2].split(","):
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port = rest.removeprefix(":")
        else:
            host, _, port = item.partition(":")
        if not host:
            raise ValueError(f"Missing host in {redact_url(url)!r}")
        try:
            hosts.append((host, int(port) if port else default_port))
        except ValueError:
            raise ValueError(f"Invalid port {port!r} in {redact_url(url)!r}") from None
    return hosts


def url_credentials(url: str) -> dict[str, str]:
    """``username`` and ``password`` from the URL's user info, percent-decoded; absent ones left out."""
    userinfo, at, _ = urlsplit(url).netloc.rpartition("@")
    if not at:
        return {}
    user, _, password = userinfo.partition(":")
    found = {"username": unquote(user), "password": unquote(password)}
    return {name: value for name, value in found.items() if value}


_NETWORK_DEFAULTS = {"socket_connect_timeout": 2.0, "socket_timeout": 5.0}
"""Timeouts of the Sentinel and cluster clients made here, as ``with_client`` sets them: never a long hang."""

_CLUSTER_MAX_CONNECTIONS = 1000
"""Per node; the cluster client's default of 100 fails 200 concurrent commands (see FACTS.md)."""


def _sentinel_primary(library: _ClientLibrary, url: str, options: dict[str, Any]) -> Any:
    """A client of the primary that the Sentinels at ``url``'s hosts know as the service named by the path."""
    segments = [segment for segment in urlsplit(url).path.split("/") if segment]
    if not segments or len(segments) > 2:
        raise ValueError(f"A sentinel URL needs /SERVICE or /SERVICE/DB as path, got {redact_url(url)!r}")
    options = {**_NETWORK_DEFAULTS, **library.parsed_query(url), **options, **url_credentials(url)}
    if len(segments) == 2:
        try:
            options["db"] = int(segments[1])
        except ValueError:
            raise ValueError(f"Invalid database number {segments[1]!r} in {redact_url(url)!r}") from None
    timeouts = {name: options[name] for name in ("socket_timeout", "socket_connect_timeout") if name in options}
    sentinel = import_module(f"{library.name}.asyncio.sentinel").Sentinel(
        url_hosts(url, 26379), sentinel_kwargs=timeouts
    )
    return sentinel.master_for(segments[0], **options)


def _cluster_client(library: _ClientLibrary, url: str, options: dict[str, Any]) -> Any:
    """A cluster client that discovers the cluster from every ``host:port`` of ``url``."""
    cluster_module = import_module(f"{library.name}.asyncio.cluster")
    defaults = {**_NETWORK_DEFAULTS, "max_connections": _CLUSTER_MAX_CONNECTIONS}
    options = {**defaults, **library.parsed_query(url), **options, **url_credentials(url)}
    options.pop("db", None)  # a cluster has database 0 only
    nodes = [cluster_module.ClusterNode(host, port) for host, port in url_hosts(url, 6379)]
    return getattr(cluster_module, library.cluster_class)(startup_nodes=nodes, **options)


# -- MongoDB -----------------------------------------------------------------------------------------------------


def _mongo_from_url(url: str, **options: Any) -> Store:
    """``mongodb://host/?database=DB&collection=C&namespace=NAME`` (and ``mongodb+srv://``): a MongoStore."""
    scheme = urlsplit(url).scheme.lower()
    common = import_module("pymongo.common")
    aliases = {alias.lower() for names in common.URI_OPTIONS_ALIAS_MAP.values() for alias in names}
    uri_options = {name.lower() for name in common.URI_OPTIONS_VALIDATOR_MAP} | aliases
    keyword_options = uri_options | {name.lower() for name in common.VALIDATORS}
    stripped, own, client = split_options(url, options, ("database", "collection", "namespace"))
    query_names = [name for name, _ in parse_qsl(urlsplit(stripped).query)]
    reject_unknown(scheme, [name for name in query_names if name.lower() not in uri_options], ())
    reject_unknown(scheme, [name for name in client if name.lower() not in keyword_options], ())
    store_cls = import_module(".mongo", __package__).MongoStore
    store: Store = store_cls.with_client(stripped, **own, **client)
    return store
