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
from importlib import import_module
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

from .validation import check_namespace

if TYPE_CHECKING:
    from litestar.stores.base import Store

__all__ = (
    "ENTRY_POINT_GROUP",
    "SchemeFactory",
    "bools_like_defaults",
    "namespace_option",
    "parameter_names",
    "positive_int",
    "redact_url",
    "register_scheme",
    "registered_schemes",
    "reject_unknown",
    "split_options",
    "store_from_url",
    "unsplit_url",
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


def split_url(url: str) -> SplitResult:
    """Split a store URL into scheme, netloc, path, query and fragment, like ``urllib.parse.urlsplit``.

    Unlike ``urlsplit`` on Pythons with its stricter host checks (3.11.4+, and patched 3.11.2), a netloc listing
    several hosts (``mongodb://a:1,[::1]:2/``, ``redis+cluster://a:1,b:2``) is kept as it is; the factories split
    it themselves (:func:`url_hosts`).
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        return urlsplit(url)
    rest, _, fragment = rest.partition("#")
    rest, _, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    return SplitResult(scheme.lower(), netloc, slash + path, query, fragment)


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
    scheme = split_url(url).scheme.lower()
    factory = _factory_for(scheme)
    if factory is None:
        known = ", ".join(f"{name}://" for name in registered_schemes())
        raise ValueError(f"Unknown store URL scheme {scheme!r} in {redact_url(url)!r}; known schemes: {known}")
    return factory(url, **options)


def redact_url(url: str) -> str:
    """Return ``url`` without credentials: user info becomes ``***`` and secret-looking query values ``***``."""
    try:
        parts = split_url(url)
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
    parts = split_url(url)
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


def namespace_option(value: Any) -> str | None:
    """Return the name a URL's ``namespace`` option gives (``None`` when it is absent), checked.

    Every backend's ``from_url`` returns ``with_namespace(NAME)`` of the store the URL names without the option.

    Raises:
        TypeError: a keyword ``namespace`` that is not a ``str``.
        ValueError: the name is empty (the message names the option) or not a valid namespace name.
    """
    if value is None:
        return None
    if value == "":
        raise ValueError("The option 'namespace' must not be empty")
    return check_namespace(value)


def parameter_names(*callables: Callable[..., Any]) -> set[str]:
    names: set[str] = set()
    for function in callables:
        for parameter in inspect.signature(function).parameters.values():
            if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
                names.add(parameter.name)
    return names - {"self", "args", "kwargs"}


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def parse_bool(value: str, described: str) -> bool:
    """Return the ``bool`` a URL option's or an environment variable's ``value`` spells (``described`` names it in the
    error): ``1 true yes on`` or ``0 false no off``, in any case.

    Raises:
        ValueError: ``value`` is none of these.
    """
    lowered = value.lower()
    if lowered not in _TRUE | _FALSE:
        raise ValueError(f"{described} must be true or false, got {value!r}")
    return lowered in _TRUE


def bools_like_defaults(function: Callable[..., Any], options: dict[str, Any]) -> dict[str, Any]:
    """Convert query strings of options whose parameter defaults to a ``bool`` (``fsync=true``) to ``bool``.

    Raises:
        ValueError: such a value is not one of ``1 true yes on 0 false no off``.
    """
    parameters = inspect.signature(function).parameters
    typed = dict(options)
    for name, value in options.items():
        if isinstance(value, str) and isinstance(parameters[name].default, bool):
            typed[name] = parse_bool(value, f"The option {name!r}")
    return typed


# -- helpers for URLs with several hosts ------------------------------------------------------------------------


def url_hosts(url: str, default_port: int) -> list[tuple[str, int]]:
    """The ``host:port`` pairs of a comma-separated netloc (credentials removed; ``[v6]:port`` understood)."""
    hosts = []
    for item in split_url(url).netloc.rpartition("@")[2].split(","):
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
