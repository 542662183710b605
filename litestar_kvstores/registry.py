"""A store registry that Litestar accepts as ``stores=``, and that knows which stores it has to close.

:class:`StoreRegistry` subclasses Litestar's own registry, so ``Litestar(stores=StoreRegistry(...))`` and every
Litestar feature that asks ``app.stores.get(name)`` work unchanged. On top of it, it can list its names, tell
listeners about stores its default factory creates (Litestar enters only the stores registered before start-up;
:class:`~litestar_kvstores.plugin.KVStoresPlugin` uses the listener to enter the others), and close what it created.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from litestar.stores.registry import StoreRegistry as LitestarStoreRegistry

from .memory import MemoryStore

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.stores.base import NamespacedStore, Store

__all__ = ("DEFAULT_ROOT_NAME", "StoreCreatedListener", "StoreRegistry", "new_memory_store")

DEFAULT_ROOT_NAME = "(default)"
"""The name under which :meth:`StoreRegistry.managed_stores` lists the root whose namespaces the default factory
hands out (further roots: ``(default 1)``, ...)."""

StoreCreatedListener = Callable[[str, "Store"], None]
"""Called with ``(name, store)`` right after the default factory created ``store`` for ``name``."""


def new_memory_store(name: str) -> MemoryStore:
    """The default factory of a :class:`StoreRegistry` made without one: a new, empty :class:`MemoryStore` per name.

    Unlike Litestar's default (Litestar's own ``MemoryStore``), the store it makes has this package's contract,
    atomic ``incr`` included, so :class:`~litestar_kvstores.AtomicRateLimitMiddleware` works on it.
    """
    return MemoryStore()


class StoreRegistry(LitestarStoreRegistry):
    """Registry of named stores with a default factory for names nobody registered.

    Args:
        stores: Stores by name. Litestar enters (and on shutdown exits) these when the registry is handed to it.
        default_factory: Called with a name that is not registered yet; the store it returns is registered under
            that name and returned by every later :meth:`get` of the name. Default: :func:`new_memory_store`.
        deferred: Stores by name that :meth:`get` hands out like ``stores`` but that Litestar does not see when the
            application is built, so their owner (the plugin) enters and closes them instead of Litestar.
    """

    __slots__ = ("_closed", "_created", "_deferred", "_listeners", "_lock", "_owned")

    def __init__(
        self,
        stores: Mapping[str, Store] | None = None,
        default_factory: Callable[[str], Store] = new_memory_store,
        *,
        deferred: Mapping[str, Store] | None = None,
    ) -> None:
        super().__init__(dict(stores or {}), default_factory)
        self._deferred: dict[str, Store] = dict(deferred or {})
        self._created: list[Store] = []
        self._owned: list[Store] = []
        self._listeners: list[StoreCreatedListener] = []
        self._closed = False
        self._lock = threading.Lock()

    @classmethod
    def from_root(
        cls, root: NamespacedStore, stores: Mapping[str, Store] | None = None, *, close_root: bool = True
    ) -> StoreRegistry:
        """Return a registry whose default factory hands out ``root.with_namespace(name)``.

        Every name gets its own namespace over the root's connection. With ``close_root``, :meth:`aclose` closes
        the root (and with it the shared connection) after the namespaces.
        """
        registry = cls(stores, default_factory=root.with_namespace)
        if close_root:
            registry.own(root)
        return registry

    @classmethod
    def of(cls, app: Litestar) -> StoreRegistry:
        """Return ``app.stores``, which lists its stores when it is this package's registry.

        Raises:
            TypeError: ``app.stores`` is a registry of Litestar's own (``stores=`` was such a registry); pass a
                mapping or a :class:`StoreRegistry` instead.
        """
        registry = app.stores
        if not isinstance(registry, StoreRegistry):
            raise TypeError(
                "stores= must be a mapping or a litestar_kvstores.StoreRegistry to list the stores, "
                f"not {type(registry).__module__}.{type(registry).__name__}"
            )
        return registry

    def get(self, name: str) -> Store:
        """Return the store registered under ``name``, creating it with the default factory if there is none.

        Unlike Litestar's registry, a registered store that is falsy (an empty mapping-like store) is returned as
        is and never replaced, and two threads asking for a new name at once get the same store.
        """
        store = self._stores.get(name)
        if store is not None:
            return store
        with self._lock:  # synchronous handlers run in worker threads
            store = self._stores.get(name)
            if store is not None:
                return store
            store = self._deferred.pop(name, None)
            created = store is None
            if store is None:
                store = self._default_factory(name)
                self._created.append(store)
            self._stores[name] = store
        if created:
            for listener in list(self._listeners):
                listener(name, store)
        return store

    def register(self, name: str, store: Store, allow_override: bool = False) -> None:
        """Register ``store`` under ``name``.

        Raises:
            ValueError: a store is already registered under ``name`` and ``allow_override`` is false.
        """
        if name in self._deferred:
            if not allow_override:
                raise ValueError(f"Store with the name {name!r} already exists")
            del self._deferred[name]
        super().register(name, store, allow_override)

    def names(self) -> list[str]:
        """Return the names of every store registered or created so far, sorted."""
        return sorted({*self._stores, *self._deferred})

    def __contains__(self, name: object) -> bool:
        """Return whether a store is registered (or was created) under ``name``; never creates one."""
        return name in self._stores or name in self._deferred

    def __iter__(self) -> Iterator[str]:
        """Iterate over :meth:`names`."""
        return iter(self.names())

    def stores(self) -> dict[str, Store]:
        """Return every store by name without creating any (a snapshot)."""
        return {**self._deferred, **self._stores}

    def managed_stores(self) -> dict[str, Store]:
        """Return every store by name (sorted), then each owned root as ``(default)``, ``(default 1)``, ...

        This is what the ``litestar stores`` commands and the dashboard list; nothing is created.
        """
        listed = dict(sorted(self.stores().items()))
        for index, root in enumerate(self._owned):
            listed[DEFAULT_ROOT_NAME if index == 0 else f"{DEFAULT_ROOT_NAME[:-1]} {index})"] = root
        return listed

    def cleanup_targets(self) -> dict[str, Store]:
        """Return the stores whose ``delete_expired`` together covers every entry, each store once.

        That is :meth:`managed_stores` without the namespaces the default factory created (their root's clean-up
        covers them) and without a store listed twice under two names.
        """
        created = {id(store) for store in self._created}
        targets: dict[str, Store] = {}
        seen: set[int] = set()
        for name, store in self.managed_stores().items():
            if id(store) not in created and id(store) not in seen:
                seen.add(id(store))
                targets[name] = store
        return targets

    @property
    def owned_stores(self) -> list[Store]:
        """Stores that are not registered under a name but belong to the registry (the root of :meth:`from_root`)."""
        return list(self._owned)

    @property
    def created_stores(self) -> list[Store]:
        """The stores the default factory has created so far, oldest first."""
        return list(self._created)

    def own(self, store: Store) -> None:
        """Make :meth:`aclose` close ``store`` too (after the created stores), e.g. the root of a default factory."""
        self._owned.append(store)

    def defer(self, name: str, store: Store) -> None:
        """Register ``store`` under ``name`` without Litestar seeing it when the app is built (see ``deferred``).

        Raises:
            ValueError: a store is already registered under ``name``.
        """
        if name in self:
            raise ValueError(f"Store with the name {name!r} already exists")
        self._deferred[name] = store

    def add_listener(self, listener: StoreCreatedListener) -> None:
        """Call ``listener(name, store)`` for every store the default factory creates from now on."""
        self._listeners.append(listener)

    def remove_listener(self, listener: StoreCreatedListener) -> None:
        """Stop calling ``listener``; a listener that is not registered is ignored."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    async def aclose(self) -> None:
        """Close every store the default factory created, then the owned root; a second call does nothing.

        Stores handed to the constructor or to :meth:`register` are left alone: whoever made them (Litestar, when
        they were passed as ``stores=``) closes them.
        """
        if self._closed:
            return
        self._closed = True
        for store in [*reversed(self._created), *self._owned]:
            await store.__aexit__(None, None, None)
