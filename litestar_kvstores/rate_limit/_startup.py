"""Refusing a store without atomic ``incr`` when the application starts, not with a 500 at the first request.

Litestar builds each route's middleware when the application is constructed and hands a middleware only the next
ASGI app. The route at the bottom of that chain knows its handlers, and a handler knows its application, so a
middleware can find the application it was built for and add a start-up hook to it; the hook asks the registry for
the store (after the plugin's lifespan has installed it) and raises if it cannot count atomically.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from litestar import Litestar
from litestar.exceptions import ImproperlyConfiguredException

from ._windows import Counter, has_atomic_incr

if TYPE_CHECKING:
    from litestar.stores.base import Store
    from litestar.types import ASGIApp

__all__ = ("CheckedStore", "check_store", "check_store_on_startup", "owning_app")

Prepared = TypeVar("Prepared")

_MAX_STEPS = 64
"""How many objects of a middleware chain :func:`owning_app` looks at before giving up."""


def owning_app(asgi_app: ASGIApp) -> Litestar | None:
    """Return the application whose route ``asgi_app`` (a middleware chain being built) ends in, if it can be found.

    Follows ``.app`` attributes (Litestar's middleware classes) and closure cells (function and ``ASGIMiddleware``
    factories) down to the route's ``handle`` method. Returns ``None`` when the chain hides its next app elsewhere.
    """
    pending: list[Any] = [asgi_app]
    seen: set[int] = set()
    while pending and len(seen) < _MAX_STEPS:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        route = getattr(current, "__self__", None)
        handlers = getattr(route, "route_handlers", None) or [getattr(route, "route_handler", None)]
        owner = getattr(handlers[0], "app", None) if handlers[0] is not None else None
        if isinstance(owner, Litestar):
            return owner
        inner = getattr(current, "app", None)
        if callable(inner):
            pending.append(inner)
        for cell in getattr(current, "__closure__", None) or ():
            try:
                content = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if callable(content):
                pending.append(content)
    return None


def check_store(store: Store, store_name: str, middleware: str) -> Counter:
    """Return ``store`` if it counts atomically.

    Raises:
        ImproperlyConfiguredException: ``store`` has no atomic ``incr``; the message names the store and what to use.
    """
    if not has_atomic_incr(store):
        kind = f"{type(store).__module__}.{type(store).__qualname__}"
        raise ImproperlyConfiguredException(
            f"{middleware} needs a store with an atomic incr, but the store {store_name!r} is a {kind}, which has "
            "none: give it a litestar_kvstores store (e.g. litestar_kvstores.MemoryStore or RedisStore, or "
            "KVStoresPlugin, whose stores all have one)"
        )
    return store


class _StoreCheck:
    """A start-up hook checking one store name for one middleware; equal hooks are added once."""

    __slots__ = ("middleware", "store_name")

    def __init__(self, store_name: str, middleware: str) -> None:
        self.store_name = store_name
        self.middleware = middleware

    def __call__(self, app: Litestar) -> None:
        check_store(app.stores.get(self.store_name), self.store_name, self.middleware)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _StoreCheck) and (other.store_name, other.middleware) == (
            self.store_name,
            self.middleware,
        )

    def __hash__(self) -> int:
        return hash((self.store_name, self.middleware))


def check_store_on_startup(asgi_app: ASGIApp, store_name: str, middleware: str) -> None:
    """Make the application that ``asgi_app`` belongs to check the store ``store_name`` when it starts.

    When the application cannot be found, nothing is added: the middleware then checks on its first request.
    """
    app = owning_app(asgi_app)
    if app is None:
        return
    hook = _StoreCheck(store_name, middleware)
    if hook not in app.on_startup:  # Litestar builds a middleware once per route, and again on every register()
        app.on_startup.insert(0, hook)


class CheckedStore(Generic[Prepared]):
    """A middleware's store, checked at start-up, else (and whenever the registry hands out another) on use, and
    what ``prepare`` makes of it once per store (a rate limiter's counting).

    Args:
        asgi_app: The application the middleware wraps (to find the Litestar application and check at start-up).
        store_name: The name of the store in the application's registry.
        middleware: The middleware's name, for errors.
        prepare: Called with each new store once it is checked; its result is what :meth:`get` returns.
    """

    __slots__ = ("_middleware", "_name", "_prepare", "_verified")

    def __init__(
        self, asgi_app: ASGIApp, store_name: str, middleware: str, prepare: Callable[[Counter], Prepared]
    ) -> None:
        self._name = store_name
        self._middleware = middleware
        self._prepare = prepare
        self._verified: tuple[Store, Prepared] | None = None
        """The store last checked, and what was prepared for it."""
        check_store_on_startup(asgi_app, store_name, middleware)

    def get(self, app: Litestar) -> Prepared:
        """Return what was prepared for the application's store.

        Raises:
            ImproperlyConfiguredException: the store has no atomic ``incr``.
        """
        store = app.stores.get(self._name)
        verified = self._verified
        if verified is not None and verified[0] is store:
            return verified[1]
        prepared = self._prepare(check_store(store, self._name, self._middleware))
        self._verified = (store, prepared)
        return prepared
