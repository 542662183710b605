"""Control over Litestar's response cache: invalidation by path, prefix, handler or tag, and single flight.

With :class:`~litestar_kvstores.KVStoresPlugin` (or :class:`KVResponseCacheConfig` and its ``middleware`` without
the plugin), every cached response is also recorded in an index kept in the response cache store itself, so these
functions find what to delete without listing the cache::

    @get("/items/{item_id:int}", cache=60, opt={"cache_tags": ["items"]})
    async def get_item(item_id: int) -> Item: ...


    @post("/items/{item_id:int}")
    async def update_item(request: Request, item_id: int) -> None:
        ...
        await invalidate_path(request.app, f"/items/{item_id}")  # every cached query variant of the item
        await invalidate_path_prefix(request.app, "/items")  # /items, /items/1, /items/1/tags, ...
        await invalidate_handler(request.app, get_item)  # or its name=
        await invalidate_tags(request.app, "items")

Each costs time in proportion to what it removes (plus a constant per index shard), never to the size of the cache.

**The index.** It lives in the child namespace ``kvstores-cache-index`` of the response cache store, as sets of
members with deadlines. A set is spread over :data:`SHARDS` entries by a hash of the member; each entry is a JSON
object ``{member: deadline}`` (Unix time, ``null``: never) changed only by ``compare_and_set``, so concurrent
writers never lose each other's members. Sets: ``h:<handler>`` and ``t:<tag>`` hold cache keys, ``p:<path>`` the
cache keys of exactly that path, and ``c:<path>`` the names of the child path segments under which responses were
cached, so a prefix is found by walking the path tree from it. A writer stores the response first and records it
afterwards; invalidation removes the members from the index first and deletes the responses afterwards. Either
order of two such operations leaves no cached response unrecorded. Members outlive their response by a grace period
and are dropped by the next write to their entry once due (stale members only cost a redundant delete), and each
entry expires with its last member. Child links are never removed by invalidation, only once due.

**Single flight.** With ``single_flight=True``, a request that misses the cache takes a lock named after the cache
key (:meth:`~litestar_kvstores.base.KVStore.lock`, in the same namespace) and runs the handler; concurrent requests
missing the same key wait for the response to appear in the cache, at most ``lock_timeout`` seconds, then run the
handler themselves. The lock is released as soon as the response is stored, and when the request ends in any other
way (the handler raised, or the response was not cacheable), so the next waiter computes at once.

Without the index (plain ``Litestar(stores=...)`` and Litestar's own ``ResponseCacheConfig``),
:func:`invalidate_path` and :func:`invalidate_path_prefix` fall back to listing the store's keys, which costs time
in proportion to the size of the cache and finds only keys of Litestar's ``default_cache_key_builder``.
"""

from __future__ import annotations

import asyncio
import json
import time
import zlib
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, cast

from litestar.config.response_cache import ResponseCacheConfig, default_cache_key_builder
from litestar.enums import ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.stores.base import NamespacedStore, Store

from .base import KVStore
from .errors import LockTimeoutError, StoreError
from .lock import StoreLock
from .validation import ttl_seconds

if TYPE_CHECKING:
    from datetime import timedelta

    from litestar import Litestar
    from litestar.types import ASGIApp, Receive, Scope, Send

__all__ = (
    "INDEX_NAMESPACE",
    "SHARDS",
    "KVResponseCacheConfig",
    "ResponseCacheControlMiddleware",
    "cache_tags",
    "check_response_cache",
    "handler_id",
    "invalidate_handler",
    "invalidate_path",
    "invalidate_path_prefix",
    "invalidate_tags",
    "response_cache_store",
)

INDEX_NAMESPACE = "kvstores-cache-index"
"""The child namespace of the response cache store that holds the index and the single-flight locks."""

SHARDS = 8
"""How many store entries one index set is spread over."""

_GRACE = 60.0
"""Seconds a member stays in the index after its response's expiry, to absorb clock differences between hosts."""

_BATCH = 500
"""How many keys are deleted with one ``delete_many``."""

_CAS_ATTEMPTS = 100
"""How often an index update is retried when other writers keep changing the same entry first."""

_FIRST_POLL = 0.005
_MAX_POLL = 0.05
"""Seconds between a single-flight waiter's looks at the cache: doubling from the first to the maximum."""


# --- the index -----------------------------------------------------------------------------------------------------

_Members = dict[str, float | None]


def _decode(raw: bytes | None) -> _Members:
    if raw is None:
        return {}
    try:
        decoded = json.loads(raw)
    except ValueError:
        return {}  # a damaged entry is replaced by the next write; its members are lost, never misread
    return decoded if isinstance(decoded, dict) else {}


def _expiry_of(members: _Members, now: float) -> float | None:
    """Seconds until the entry holding ``members`` may expire: when its last member is due (``None``: never)."""
    deadlines = list(members.values())
    if any(deadline is None for deadline in deadlines):
        return None
    return max(1.0, max(cast("list[float]", deadlines)) + _GRACE - now)


def _live(members: _Members, now: float) -> _Members:
    return {member: due for member, due in members.items() if due is None or due + _GRACE > now}


def _shard_key(name: str, member: str) -> str:
    return f"{name}:{zlib.crc32(member.encode()) % SHARDS}"


async def _update(index: KVStore, key: str, change: Callable[[_Members], _Members | None]) -> bool:
    """Apply ``change`` to the members in ``key`` by ``compare_and_set``, retried while other writers win.

    ``change`` returns the new members, or ``None`` when nothing is to be written. Returns whether it wrote.

    Raises:
        StoreError: other writers kept winning for every attempt.
    """
    for _ in range(_CAS_ATTEMPTS):
        raw = await index.get(key)
        members = change(_decode(raw))
        if members is None:
            return False
        if not members:
            if raw is None or await index.compare_and_delete(key, raw):
                return True
            continue
        encoded = json.dumps(members, separators=(",", ":"))
        if await index.compare_and_set(key, raw, encoded, expires_in=_expiry_of(members, time.time())):
            return True
    raise StoreError(f"The response cache index entry {key!r} kept changing; gave up after {_CAS_ATTEMPTS} tries")


async def _record(index: KVStore, name: str, member: str, due: float | None) -> None:
    """Add ``member`` to the set ``name`` unless it is there with a deadline at least ``due``."""
    now = time.time()
    # recorded for twice the response's lifetime, so the next write of the same response rarely rewrites the entry
    kept = None if due is None else due + (due - now)

    def change(members: _Members) -> _Members | None:
        if member in members:
            current = members[member]
            if current is None or (due is not None and current >= due):
                return None
        updated = _live(members, now)
        updated[member] = kept
        return updated

    await _update(index, _shard_key(name, member), change)


async def _drain(index: KVStore, name: str, wanted: Callable[[str], bool] | None = None) -> list[str]:
    """Remove the members of the set ``name`` that ``wanted`` accepts (all by default) and return them."""
    keys = [f"{name}:{shard}" for shard in range(SHARDS)]
    removed: list[str] = []
    taken: list[str] = []

    def change(members: _Members) -> _Members | None:
        taken[:] = [member for member in members if wanted is None or wanted(member)]
        if not taken:
            return None
        return {member: due for member, due in _live(members, time.time()).items() if member not in taken}

    for key, raw in (await index.get_many(keys)).items():
        if raw is not None and await _update(index, key, change):
            removed.extend(taken)
    return removed


async def _members(index: KVStore, name: str) -> list[str]:
    values = await index.get_many([f"{name}:{shard}" for shard in range(SHARDS)])
    now = time.time()
    return [member for raw in values.values() for member in _live(_decode(raw), now)]


def _segments(path: str) -> list[str]:
    """``/a/b`` -> ``["a", "b"]``; ``/`` -> ``[]``; ``/a/`` -> ``["a", ""]``."""
    return path[1:].split("/") if path != "/" else []


def _node(segments: list[str]) -> str:
    return "/" + "/".join(segments)


def handler_id(handler: HTTPRouteHandler) -> str:
    """The name under which a route handler's responses are indexed: its ``name=``, else ``module.qualname``."""
    return handler.name or str(handler)


def cache_tags(handler: HTTPRouteHandler) -> list[str]:
    """Return the handler's ``opt["cache_tags"]``.

    Raises:
        TypeError: ``cache_tags`` is not a list or tuple of ``str``.
        ValueError: a tag is empty.
    """
    tags = handler.opt.get("cache_tags", ())
    if not isinstance(tags, list | tuple) or not all(isinstance(tag, str) for tag in tags):
        raise TypeError(f"opt['cache_tags'] of {handler_id(handler)} must be a list of str, got {tags!r}")
    return [_check_tag(tag) for tag in tags]


def _check_tag(tag: object) -> str:
    if not isinstance(tag, str):
        raise TypeError(f"A cache tag must be a str, not {type(tag).__name__}")
    if not tag:
        raise ValueError("A cache tag must be a non-empty str")
    return tag


async def _index_response(index: KVStore, key: str, request: _Request, expires_in: float | None) -> None:
    """Record the cached response ``key`` under its path, its handler and its tags (see the module docstring)."""
    due = None if expires_in is None else time.time() + expires_in
    segments = _segments(request.path)
    writes = [
        _record(index, f"p:{request.path}", key, due),
        _record(index, f"h:{request.handler_id}", key, due),
        *(_record(index, f"t:{tag}", key, due) for tag in request.tags),
        *(_record(index, f"c:{_node(segments[:depth])}", segments[depth], due) for depth in range(len(segments))),
    ]
    await asyncio.gather(*writes)


async def _delete_responses(cache: KVStore, keys: list[str]) -> int:
    """Delete the cached responses ``keys`` and return how many were there."""
    unique = list(dict.fromkeys(keys))
    present = 0
    for start in range(0, len(unique), _BATCH):
        batch = unique[start : start + _BATCH]
        present += sum(await asyncio.gather(*(cache.exists(key) for key in batch)))
        await cache.delete_many(batch)
    return present


# --- the request context and the store front -----------------------------------------------------------------------


@dataclass
class _Request:
    """What the cache front needs to know about the request being served (set by the middleware)."""

    path: str
    handler_id: str
    tags: list[str]
    locks: list[StoreLock] = field(default_factory=list)


_CURRENT: ContextVar[_Request | None] = ContextVar("litestar_kvstores_cache_request", default=None)


class _CacheFront(Store):
    """The response cache store as Litestar sees it: reads wait for single flight, writes are indexed."""

    def __init__(self, cache: KVStore, index: KVStore, config: KVResponseCacheConfig) -> None:
        self.cache = cache
        self.index = index
        self._config = config

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        value = await self.cache.get(key, renew_for)
        request = _CURRENT.get()
        if value is not None or not self._config.single_flight or request is None:
            return value
        return await self._get_single_flight(key, request)

    async def _get_single_flight(self, key: str, request: _Request) -> bytes | None:
        timeout = self._config.lock_timeout
        lock = self.index.lock(f"lock:{key}", ttl=timeout, timeout=0)
        deadline = time.monotonic() + timeout
        pause = _FIRST_POLL
        while True:
            try:
                await lock.acquire()
            except LockTimeoutError:
                pass
            else:
                request.locks.append(lock)
                # a holder may have stored the response and released between our read and our lock
                return await self.cache.get(key)
            left = deadline - time.monotonic()
            if left <= 0:
                return None  # waited long enough: compute the response without the lock
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, _MAX_POLL)
            value = await self.cache.get(key)
            if value is not None:
                return value

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        await self.cache.set(key, value, expires_in)
        request = _CURRENT.get()
        if request is None:
            return
        try:
            await _index_response(self.index, key, request, ttl_seconds(expires_in))
        finally:
            await _release(request)

    async def delete(self, key: str) -> None:
        await self.cache.delete(key)

    async def delete_all(self) -> None:
        await self.cache.delete_all()

    async def exists(self, key: str) -> bool:
        return await self.cache.exists(key)

    async def expires_in(self, key: str) -> int | None:
        return await self.cache.expires_in(key)


async def _release(request: _Request) -> None:
    locks, request.locks = request.locks, []
    for lock in locks:
        await lock.release()


class ResponseCacheControlMiddleware:
    """Tells the response cache front which request it serves, and releases single-flight locks when it ends.

    Installed by :class:`~litestar_kvstores.KVStoresPlugin`; without the plugin, add
    :attr:`KVResponseCacheConfig.middleware` to the application's ``middleware``. Requests to handlers without
    ``cache=`` pass straight through.
    """

    __slots__ = ("_handlers", "app")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._handlers: dict[HTTPRouteHandler, tuple[str, list[str]]] = {}
        """Each cached handler's id and tags, worked out at its first request, not at every one (bench_http)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        if scope["type"] != ScopeType.HTTP or not isinstance(handler, HTTPRouteHandler) or not handler.cache:
            await self.app(scope, receive, send)
            return
        known = self._handlers.get(handler)
        if known is None:
            known = self._handlers[handler] = (handler_id(handler), cache_tags(handler))
        request = _Request(scope.get("root_path", "") + scope["path"], *known)
        token = _CURRENT.set(request)
        try:
            await self.app(scope, receive, send)
        finally:
            _CURRENT.reset(token)
            await _release(request)


@dataclass
class KVResponseCacheConfig(ResponseCacheConfig):
    """Litestar's :class:`~litestar.config.response_cache.ResponseCacheConfig` with an index and single flight.

    :class:`~litestar_kvstores.KVStoresPlugin` installs one (copying the application's settings) and its middleware.
    Without the plugin, pass it as ``response_cache_config`` and add its :attr:`middleware`.

    Attributes:
        single_flight: Concurrent requests that miss the same cache key run the handler once; the others wait.
        lock_timeout: Seconds a waiter waits for the response before it runs the handler itself; also how long a
            crashed holder's lock lasts.
    """

    single_flight: bool = False
    lock_timeout: float = 10.0
    _front: tuple[Store, _CacheFront] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        timeout = self.lock_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            raise TypeError(f"lock_timeout must be a number of seconds, not {type(timeout).__name__}")
        if not 0 < timeout < float("inf"):
            raise ValueError(f"lock_timeout must be a positive number of seconds, got {timeout!r}")

    @classmethod
    def from_config(cls, config: ResponseCacheConfig, **options: Any) -> KVResponseCacheConfig:
        """Return a copy of Litestar's ``config`` with this class's ``options``."""
        copied = {item.name: getattr(config, item.name) for item in fields(ResponseCacheConfig)}
        return cls(**copied, **options)

    @property
    def middleware(self) -> DefineMiddleware:
        """The :class:`ResponseCacheControlMiddleware` to add to the application (the plugin adds it itself)."""
        return DefineMiddleware(ResponseCacheControlMiddleware)

    def get_store_from_app(self, app: Litestar) -> Store:
        """Return the front of the response cache store that indexes writes and, optionally, waits on misses.

        Raises:
            TypeError: the store lacks the atomic primitives (it is not a store of the contract) or namespaces.
        """
        cache = app.stores.get(self.store)
        front = self._front
        if front is None or front[0] is not cache:  # built once per store, not per request (bench_http, /cached)
            front = self._front = (cache, _CacheFront(_kv_store(cache), _index_of(cache), self))
        return front[1]


def _kv_store(store: Store) -> KVStore:
    if not isinstance(store, KVStore):
        raise TypeError(
            f"The response cache needs a store with atomic compare_and_set (a KVStore); {type(store).__name__} is not"
        )
    return store


def _index_of(store: Store) -> KVStore:
    if not isinstance(store, NamespacedStore):
        raise TypeError(f"The response cache index needs a namespaced store; {type(store).__name__} is not")
    return _kv_store(store.with_namespace(INDEX_NAMESPACE))


# --- the public functions ------------------------------------------------------------------------------------------


def response_cache_store(app: Litestar) -> KVStore:
    """Return the store of ``app``'s response cache.

    Raises:
        ValueError: the app has no index (see the module docstring) and builds cache keys with another key builder
            than Litestar's default.
        TypeError: the store is not a litestar-kvstores store.
    """
    config = app.response_cache_config
    if not isinstance(config, KVResponseCacheConfig) and config.key_builder is not default_cache_key_builder:
        raise ValueError("Cached responses can be found by path only under Litestar's default_cache_key_builder")
    store: Store = app.stores.get(config.store)
    if not isinstance(store, KVStore):
        raise TypeError(f"The response cache store must list its keys; {type(store).__name__} cannot")
    return store


def _indexed(app_or_store: Litestar | KVStore) -> tuple[KVStore, KVStore] | None:
    """The cache store and its index for an app with a :class:`KVResponseCacheConfig`, else ``None``."""
    if isinstance(app_or_store, KVStore) or not isinstance(app_or_store.response_cache_config, KVResponseCacheConfig):
        return None
    cache = response_cache_store(app_or_store)
    return cache, _index_of(cache)


def _require_index(app: Litestar) -> tuple[KVStore, KVStore]:
    indexed = _indexed(app)
    if indexed is None:
        raise ValueError(
            "Invalidation by handler or tag needs the response cache index: use KVStoresPlugin, or "
            "KVResponseCacheConfig and its middleware"
        )
    return indexed


def _split_key(key: str) -> tuple[str, str] | None:
    """``GET/items?...`` -> (``GET``, ``/items...``); ``None`` for keys the default key builder does not make."""
    slash = key.find("/")
    if slash <= 0 or not key[:slash].isalpha() or not key[:slash].isupper():
        return None
    return key[:slash], key[slash:]


def _is_query(rest: str) -> bool:
    """Whether ``rest`` (what follows a path in a key) is an encoded query: empty, or ``name=value&...``."""
    return not rest or ("=" in rest and not rest.startswith("/"))


def _method_filter(methods: Iterable[str] | None) -> Callable[[str], bool] | None:
    """Whether a cache key's method (the default key builder's leading capitals) is one of ``methods``."""
    if methods is None:
        return None
    wanted = {method.upper() for method in methods}
    return lambda key: (parts := _split_key(key)) is not None and parts[0] in wanted


async def _scan(app_or_store: Litestar | KVStore, matches: Callable[[str], bool], methods: Iterable[str] | None) -> int:
    """The fallback without an index: list every key of the store."""
    store = app_or_store if isinstance(app_or_store, KVStore) else response_cache_store(app_or_store)
    wanted = _method_filter(methods)
    doomed = []
    async for key in store.keys():
        parts = _split_key(key)
        if parts is not None and (wanted is None or wanted(key)) and matches(parts[1]):
            doomed.append(key)
    for start in range(0, len(doomed), _BATCH):
        await store.delete_many(doomed[start : start + _BATCH])
    return len(doomed)


async def _invalidate_sets(
    cache: KVStore, index: KVStore, names: Iterable[str], wanted: Callable[[str], bool] | None = None
) -> int:
    keys: list[str] = []
    for name in names:
        keys.extend(await _drain(index, name, wanted))
    return await _delete_responses(cache, keys)


async def invalidate_path(app_or_store: Litestar | KVStore, path: str, *, methods: Iterable[str] | None = None) -> int:
    """Delete the cached responses of ``path``, with any query string.

    Args:
        app_or_store: The application (its response cache is used) or the response cache store itself (then the
            store's keys are listed: see the module docstring).
        path: The request path, as ``request.url.path`` gives it (``/items/1``).
        methods: Only these methods' responses (``None``: any method).

    Returns:
        How many cached responses were deleted.

    Raises:
        ValueError: ``path`` does not start with ``/``, or the app has no index and a custom cache key builder.
        TypeError: ``path`` is not a ``str``, or the store is not a litestar-kvstores store.
    """
    _check_path(path)
    indexed = _indexed(app_or_store)
    if indexed is not None:
        return await _invalidate_sets(*indexed, [f"p:{path}"], _method_filter(methods))
    return await _scan(app_or_store, lambda rest: rest.startswith(path) and _is_query(rest[len(path) :]), methods)


async def invalidate_path_prefix(
    app_or_store: Litestar | KVStore, prefix: str, *, methods: Iterable[str] | None = None
) -> int:
    """Delete the cached responses of ``prefix`` and of every path below it, with any query string.

    The prefix ends at a path segment: ``/items`` covers ``/items`` and ``/items/1/tags`` but not ``/items2``;
    ``/`` covers everything.

    Returns:
        How many cached responses were deleted.

    Raises:
        ValueError: ``prefix`` does not start with ``/``, or the app has no index and a custom cache key builder.
        TypeError: ``prefix`` is not a ``str``, or the store is not a litestar-kvstores store.
    """
    _check_path(prefix)
    base = prefix.rstrip("/")
    indexed = _indexed(app_or_store)
    if indexed is not None:
        cache, index = indexed
        return await _invalidate_sets(cache, index, await _subtree(index, base or "/"), _method_filter(methods))

    def matches(rest: str) -> bool:
        if not rest.startswith(base):
            return False
        tail = rest[len(base) :]
        return tail.startswith("/") or _is_query(tail)

    return await _scan(app_or_store, matches, methods)


async def _subtree(index: KVStore, top: str) -> list[str]:
    """The names of the path sets of ``top`` and of every path below it that the index links to."""
    names: list[str] = []
    level = [top]
    while level:
        names.extend(f"p:{path}" for path in level)
        children = await asyncio.gather(*(_members(index, f"c:{path}") for path in level))
        level = [
            _node([*_segments(path), child]) for path, found in zip(level, children, strict=True) for child in found
        ]
    return names


async def invalidate_handler(app: Litestar, handler_or_name: HTTPRouteHandler | str) -> int:
    """Delete every cached response of one route handler, whatever its path and query.

    Args:
        app: The application; it needs the index (:class:`~litestar_kvstores.KVStoresPlugin`).
        handler_or_name: The route handler (the decorated function) or the name given to it with ``name=``.

    Returns:
        How many cached responses were deleted.

    Raises:
        ValueError: no handler of ``app`` has that name, or the app has no index.
        TypeError: ``handler_or_name`` is neither a route handler nor a ``str``.
    """
    if isinstance(handler_or_name, HTTPRouteHandler):
        name = handler_id(handler_or_name)
    elif isinstance(handler_or_name, str):
        if app.get_handler_index_by_name(handler_or_name) is None:
            raise ValueError(f"No route handler of the application is named {handler_or_name!r}")
        name = handler_or_name
    else:
        raise TypeError(f"Expected a route handler or its name, not {type(handler_or_name).__name__}")
    return await _invalidate_sets(*_require_index(app), [f"h:{name}"])


async def invalidate_tags(app: Litestar, *tags: str) -> int:
    """Delete every cached response of the handlers that declare any of ``tags`` in ``opt={"cache_tags": [...]}``.

    Returns:
        How many cached responses were deleted.

    Raises:
        TypeError: a tag is not a ``str``.
        ValueError: a tag is empty, or the app has no index.
    """
    names = [f"t:{_check_tag(tag)}" for tag in tags]
    return await _invalidate_sets(*_require_index(app), names)


def _check_path(path: object) -> None:
    if not isinstance(path, str):
        raise TypeError(f"A path must be a str, not {type(path).__name__}")
    if not path.startswith("/"):
        raise ValueError(f"A path must start with '/', got {path!r}")


async def check_response_cache(app: Litestar) -> None:
    """Check on start-up that the response cache can keep its index: its store and every handler's ``cache_tags``.

    A start-up hook (the plugin installs it), so a misconfiguration fails before the first request, not with a 500.

    Raises:
        TypeError: the store is not a namespaced litestar-kvstores store, or a handler's ``cache_tags`` is invalid.
        ValueError: a handler's ``cache_tags`` holds an empty tag.
    """
    config = app.response_cache_config
    if not isinstance(config, KVResponseCacheConfig):
        return
    cached = [
        handler
        for route in app.routes
        for handler in getattr(route, "route_handlers", ())
        if isinstance(handler, HTTPRouteHandler) and handler.cache
    ]
    for handler in cached:
        cache_tags(handler)
    if cached:
        config.get_store_from_app(app)
