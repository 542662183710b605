"""Invalidate Litestar's cached responses by path or by path prefix (litestar issue 2148).

Litestar's response cache stores each response under the key of
:func:`litestar.config.response_cache.default_cache_key_builder`: the method, the path and the sorted, URL-encoded
query, concatenated (``GET/items/1``, ``GET/itemspage=2``). These functions find those keys in the response cache
store and delete them::

    @post("/items/{item_id:int}", sync_to_thread=False)
    async def update_item(request: Request, item_id: int) -> None:
        ...
        await invalidate_path(request.app, f"/items/{item_id}")  # every cached query variant of the item
        await invalidate_path_prefix(request.app, "/items")  # /items, /items/1, /items/1/tags, ...

They list the store's keys (:meth:`~litestar_kvstores.base.KVStore.keys`), so the store must be one of ours; the
work grows with the number of cached responses. Responses cached under a custom key builder are not found.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from litestar.config.response_cache import default_cache_key_builder

from .base import KVStore

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.stores.base import Store

__all__ = ("invalidate_path", "invalidate_path_prefix", "response_cache_store")

_BATCH = 500
"""How many keys are deleted with one ``delete_many``."""


def response_cache_store(app: Litestar) -> KVStore:
    """Return the store of ``app``'s response cache.

    Raises:
        ValueError: the app builds cache keys with another key builder than Litestar's default.
        TypeError: the store cannot list its keys (it is not a litestar-kvstores store).
    """
    config = app.response_cache_config
    if config.key_builder is not default_cache_key_builder:
        raise ValueError("Cached responses can be found by path only under Litestar's default_cache_key_builder")
    store: Store = config.get_store_from_app(app)
    if not isinstance(store, KVStore):
        raise TypeError(f"The response cache store must list its keys; {type(store).__name__} cannot")
    return store


def _split_key(key: str) -> tuple[str, str] | None:
    """``GET/items?...`` -> (``GET``, ``/items...``); ``None`` for keys the default key builder does not make."""
    slash = key.find("/")
    if slash <= 0 or not key[:slash].isalpha() or not key[:slash].isupper():
        return None
    return key[:slash], key[slash:]


def _is_query(rest: str) -> bool:
    """Whether ``rest`` (what follows a path in a key) is an encoded query: empty, or ``name=value&...``."""
    return not rest or ("=" in rest and not rest.startswith("/"))


async def _invalidate(
    app_or_store: Litestar | KVStore, matches: Callable[[str], bool], methods: Iterable[str] | None
) -> int:
    store = app_or_store if isinstance(app_or_store, KVStore) else response_cache_store(app_or_store)
    wanted = None if methods is None else {method.upper() for method in methods}
    doomed = []
    async for key in store.keys():
        parts = _split_key(key)
        if parts is not None and (wanted is None or parts[0] in wanted) and matches(parts[1]):
            doomed.append(key)
    for start in range(0, len(doomed), _BATCH):
        await store.delete_many(doomed[start : start + _BATCH])
    return len(doomed)


async def invalidate_path(app_or_store: Litestar | KVStore, path: str, *, methods: Iterable[str] | None = None) -> int:
    """Delete the cached responses of ``path``, with any query string.

    Args:
        app_or_store: The application (its response cache store is used) or the response cache store itself.
        path: The request path, as ``request.url.path`` gives it (``/items/1``).
        methods: Only these methods' responses (``None``: any method).

    Returns:
        How many cached responses were deleted.

    Raises:
        ValueError: ``path`` does not start with ``/``, or the app uses a custom cache key builder.
        TypeError: the store cannot list its keys.
    """
    _check_path(path)
    return await _invalidate(app_or_store, lambda rest: rest.startswith(path) and _is_query(rest[len(path) :]), methods)


async def invalidate_path_prefix(
    app_or_store: Litestar | KVStore, prefix: str, *, methods: Iterable[str] | None = None
) -> int:
    """Delete the cached responses of ``prefix`` and of every path below it, with any query string.

    The prefix ends at a path segment: ``/items`` covers ``/items`` and ``/items/1/tags`` but not ``/items2``;
    ``/`` covers everything.

    Returns:
        How many cached responses were deleted.

    Raises:
        ValueError: ``prefix`` does not start with ``/``, or the app uses a custom cache key builder.
        TypeError: the store cannot list its keys.
    """
    _check_path(prefix)
    base = prefix.rstrip("/")

    def matches(rest: str) -> bool:
        if not rest.startswith(base):
            return False
        tail = rest[len(base) :]
        return tail.startswith("/") or _is_query(tail)

    return await _invalidate(app_or_store, matches, methods)


def _check_path(path: object) -> None:
    if not isinstance(path, str):
        raise TypeError(f"A path must be a str, not {type(path).__name__}")
    if not path.startswith("/"):
        raise ValueError(f"A path must start with '/', got {path!r}")
