"""The Litestar plugin: stores by URL or object, their lifecycle, clean-up, injection and CLI commands.

::

    app = Litestar(
        plugins=[KVStoresPlugin(KVStoresConfig(default="redis://localhost:6379/0", cleanup_interval=30))],
        middleware=[ServerSideSessionConfig().middleware],
    )

The plugin replaces ``app.stores`` with a :class:`~litestar_kvstores.registry.StoreRegistry`, enters every store
on start-up (also those the default factory creates later, which Litestar would neither enter nor close), runs
``delete_expired`` once on start-up and then in a background task, and closes every store on shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from litestar import Request
from litestar.di import Provide
from litestar.plugins import CLIPluginProtocol, InitPluginProtocol
from litestar.stores.base import NamespacedStore, Store
from litestar.stores.registry import StoreRegistry as LitestarStoreRegistry

from .cache import KVResponseCacheConfig, check_response_cache
from .config_file import read_config_file
from .memory import MemoryStore
from .registry import StoreRegistry
from .urls import parse_bool, redact_url, store_from_url
from .wrappers.config import wrap_registry_stores, wrapper_variable, wrappers_from_env

if TYPE_CHECKING:
    from click import Group
    from litestar import Litestar
    from litestar.config.app import AppConfig

__all__ = ("KVStoresConfig", "KVStoresPlugin", "provide_store")

logger = logging.getLogger("litestar_kvstores")

ENV_PREFIX = "KVSTORES_"
RESERVED_ENV_PREFIX = ENV_PREFIX + "TEST_"
"""Variables of this prefix configure the package's own test suite (``KVSTORES_TEST_REDIS_URL``, ...), not stores."""
"""``KVSTORES_DEFAULT`` sets the default store, ``KVSTORES_<NAME>`` the store ``<name>`` (lower-cased)."""

CONFIG_FILE_VARIABLE = ENV_PREFIX + "CONFIG"
"""Names the TOML file :meth:`KVStoresConfig.from_env` reads (``KVSTORES_CONFIG=/etc/app/kvstores.toml``)."""

INSTRUMENT_VARIABLE = ENV_PREFIX + "INSTRUMENT"
"""``true``/``false``: :attr:`KVStoresConfig.instrument` from the environment."""
_NOT_STORE_VARIABLES = frozenset({ENV_PREFIX + "DEFAULT", CONFIG_FILE_VARIABLE, INSTRUMENT_VARIABLE})

StoreSpec = str | Store
"""A store URL for :func:`~litestar_kvstores.urls.store_from_url`, or a store object."""


@dataclass
class KVStoresConfig:
    """What :class:`KVStoresPlugin` manages.

    Attributes:
        default: The root store (URL or namespaced store) whose namespaces the registry hands out for every name
            not in ``stores``. ``None``: a new :class:`~litestar_kvstores.memory.MemoryStore`.
        stores: Stores by name: URLs or store objects.
        cleanup_interval: Seconds between background ``delete_expired`` runs (measured from the end of one run to
            the start of the next); ``None`` disables them.
        cleanup_on_startup: Run ``delete_expired`` once on start-up, before the application serves.
        dependency_key: The name under which handlers receive the registry (``None``: not injected).
        inject: Dependency name -> store name, for handlers that receive a named store directly.
        wrappers: Wrapper options by store name (``"default"``: the default store and every namespace it hands
            out), e.g. ``{"sessions": {"encrypt": {"key_env": "SESSION_KEY"}}}``; see
            :mod:`litestar_kvstores.wrappers.config`.
        instrument: Wrap every store in an :class:`~litestar_kvstores.wrappers.InstrumentedStore` named after it.
        cache_single_flight: Concurrent requests that miss the same response cache key run the handler once, across
            processes on a shared store; the others wait for its response (see :mod:`litestar_kvstores.cache`).
        cache_lock_timeout: Seconds such a request waits before it runs the handler itself.
        environ: Where the wrappers' ``key_env`` variables are read (``os.environ`` when ``None``);
            :meth:`from_env` sets it to the variables it read.
    """

    default: StoreSpec | None = None
    stores: Mapping[str, StoreSpec] = field(default_factory=dict)
    cleanup_interval: float | None = 60.0
    cleanup_on_startup: bool = True
    dependency_key: str | None = "stores"
    inject: Mapping[str, str] = field(default_factory=dict)
    wrappers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    instrument: bool = False
    cache_single_flight: bool = False
    cache_lock_timeout: float = 10.0
    environ: Mapping[str, str] | None = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        """The config with every URL's credentials replaced by ``***``."""

        def show(spec: StoreSpec | None) -> str:
            return repr(redact_url(spec)) if isinstance(spec, str) else repr(spec)

        stores = ", ".join(f"{name!r}: {show(spec)}" for name, spec in self.stores.items())
        return (
            f"KVStoresConfig(default={show(self.default)}, stores={{{stores}}}, "
            f"cleanup_interval={self.cleanup_interval!r}, cleanup_on_startup={self.cleanup_on_startup!r})"
        )

    def __post_init__(self) -> None:
        interval = self.cleanup_interval
        if interval is not None and (isinstance(interval, bool) or not isinstance(interval, int | float)):
            raise TypeError(f"cleanup_interval must be a number of seconds or None, not {type(interval).__name__}")
        if interval is not None and not interval > 0:
            raise ValueError(f"cleanup_interval must be positive, got {interval!r}")

    @classmethod
    def from_env(
        cls,
        default: StoreSpec | None = None,
        stores: Mapping[str, StoreSpec] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        **options: Any,
    ) -> KVStoresConfig:
        """Return a config whose stores come from the environment, over the given arguments.

        ``KVSTORES_CONFIG`` names a TOML file (see :meth:`from_file`) whose settings replace the arguments;
        ``KVSTORES_DEFAULT`` replaces ``default``; every other ``KVSTORES_<NAME>`` defines (or replaces) the store
        ``<name>`` lower-cased, e.g. ``KVSTORES_RESPONSE_CACHE=file://./cache`` -> ``response_cache``. Variables
        starting with ``KVSTORES_TEST_`` are reserved for this package's test suite and ignored.
        ``KVSTORES_<NAME>_ENCRYPTION_KEY`` / ``KVSTORES_<NAME>_ENCRYPTION_KEY_FILE`` encrypt the store ``<name>``
        (``DEFAULT``: the default store) instead, over the ``wrappers`` option's ``encrypt`` of that name.
        ``KVSTORES_INSTRUMENT`` (``true``/``false``, ``1``/``0``, ...) sets :attr:`instrument`.
        Precedence, highest first: the environment variables, the file, the arguments.

        Raises:
            ValueError: ``KVSTORES_INSTRUMENT`` is neither true nor false (or as :meth:`from_file`).

        Args:
            default: The default store when ``KVSTORES_DEFAULT`` is not set.
            stores: Named stores; the environment overrides them name by name.
            environ: The variables to read (``os.environ`` when ``None``).
            **options: The other fields of :class:`KVStoresConfig`.
        """
        variables = os.environ if environ is None else environ
        settings: dict[str, Any] = {**options, "default": default, "stores": dict(stores or {})}
        config_file = variables.get(CONFIG_FILE_VARIABLE)
        if config_file:
            from_file = read_config_file(cls, config_file, variables)
            settings |= from_file
            settings["stores"] = {**dict(stores or {}), **from_file.get("stores", {})}
            settings["wrappers"] = {**dict(options.get("wrappers") or {}), **from_file.get("wrappers", {})}
        for variable, value in variables.items():
            is_store = variable.startswith(ENV_PREFIX) and not variable.startswith(RESERVED_ENV_PREFIX)
            if is_store and variable not in _NOT_STORE_VARIABLES and wrapper_variable(variable, ENV_PREFIX) is None:
                settings["stores"][variable.removeprefix(ENV_PREFIX).lower()] = value
        wrappers = {name: dict(given) for name, given in settings.pop("wrappers", {}).items()}
        for name, from_env in wrappers_from_env(variables, ENV_PREFIX).items():
            wrappers.setdefault(name, {}).update(from_env)
        settings["default"] = variables.get(ENV_PREFIX + "DEFAULT", settings["default"])
        if INSTRUMENT_VARIABLE in variables:
            settings["instrument"] = parse_bool(variables[INSTRUMENT_VARIABLE], INSTRUMENT_VARIABLE)
        return cls(**settings, wrappers=wrappers, environ=variables)

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None, **options: Any
    ) -> KVStoresConfig:
        """Return the config the TOML file at ``path`` describes, over ``options`` (see :mod:`.config_file`).

        Precedence, highest first: the file, then ``options`` (the defaults given in code). To let the environment
        override the file too, use :meth:`from_env` with ``KVSTORES_CONFIG=path``.

        Raises:
            ValueError: an unknown setting, a value of the wrong type, an unset ``${VAR}`` without default or
                invalid TOML, named with the file.
            OSError: the file cannot be read.
        """
        settings = read_config_file(cls, path, environ)
        return cls(**{**options, **settings})


def _open(spec: StoreSpec, what: str) -> Store:
    if isinstance(spec, str):
        return store_from_url(spec)
    if isinstance(spec, Store):
        return spec
    raise TypeError(f"{what} must be a store URL or a store, not {type(spec).__name__}")


def build_registry(config: KVStoresConfig) -> StoreRegistry:
    """Return the registry ``config`` describes: the named stores, and the default root's namespaces for the rest.

    The named stores are deferred (see :class:`StoreRegistry`) so that the plugin, not Litestar, enters and closes
    them.

    Raises:
        ValueError: a URL is invalid (see :func:`~litestar_kvstores.urls.store_from_url`), or a wrapper option is
            (an unset encryption key variable is named).
        TypeError: a value is neither a URL nor a store, or the default store is not namespaced.
    """
    root = MemoryStore() if config.default is None else _open(config.default, "default")
    if not isinstance(root, NamespacedStore):
        raise TypeError(f"The default store must support namespaces, {type(root).__name__} does not")
    named = {name: _open(spec, f"The store {name!r}") for name, spec in config.stores.items()}
    root, named, factory = wrap_registry_stores(
        root, named, config.wrappers, instrument=config.instrument, environ=config.environ
    )
    registry = StoreRegistry(default_factory=factory, deferred=named)
    registry.own(root)
    return registry


def provide_store(name: str) -> Provide:
    """Return a dependency provider of the application's store ``name``.

    ``dependencies={"cache": provide_store("response_cache")}`` lets a handler take ``cache: Store``.
    """

    def provider(request: Request[Any, Any, Any]) -> Store:
        return request.app.stores.get(name)

    return Provide(provider, sync_to_thread=False)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class KVStoresPlugin(InitPluginProtocol, CLIPluginProtocol):
    """Manage the application's stores: registry, lifecycle, background clean-up, injection, ``litestar stores``.

    Args:
        config: What to manage; ``KVStoresConfig()`` (in-memory stores) when ``None``.

    Raises:
        ValueError: a URL of the config is invalid; nothing has connected yet.
    """

    __slots__ = ("_cleanup_task", "_entering", "cleanup_runs", "config", "last_cleanup", "last_cleanup_at", "registry")

    def __init__(self, config: KVStoresConfig | None = None) -> None:
        self.config = config or KVStoresConfig()
        self.registry = build_registry(self.config)
        self._cleanup_task: asyncio.Task[None] | None = None
        self._entering: set[asyncio.Task[None]] = set()
        self.cleanup_runs = 0
        """How many clean-up passes (start-up and background) have finished."""
        self.last_cleanup: dict[str, int] = {}
        """What the last clean-up pass removed, by store name (stores that failed are missing)."""
        self.last_cleanup_at: float | None = None
        """When the last clean-up pass finished (``time.time()``); ``None`` before the first."""

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Install the registry, the lifecycle and the dependencies on ``app_config``.

        Stores passed to ``Litestar(stores={...})`` join the registry and are managed like the configured ones.

        Raises:
            ValueError: ``stores=`` is a registry of its own, or names a store the config names too.
        """
        given = app_config.stores
        if isinstance(given, LitestarStoreRegistry):
            if given is not self.registry:
                raise ValueError("Pass stores to KVStoresConfig or a mapping to stores=, not a registry of your own")
        elif given:
            for name, store in given.items():
                if name in self.registry:
                    raise ValueError(f"The store {name!r} is defined by stores= and by KVStoresConfig")
                self.registry.defer(name, store)
        app_config.stores = self.registry
        app_config.lifespan.append(self.lifespan)
        self._install_response_cache(app_config)
        if self.config.dependency_key is not None:
            app_config.dependencies.setdefault(
                self.config.dependency_key, Provide(self._provide_registry, sync_to_thread=False)
            )
        for dependency, store_name in self.config.inject.items():
            app_config.dependencies.setdefault(dependency, provide_store(store_name))
        return app_config

    def _install_response_cache(self, app_config: AppConfig) -> None:
        """Give the response cache its index and, if configured, single flight (see :mod:`.cache`).

        Raises:
            TypeError, ValueError: ``cache_lock_timeout`` is invalid.
        """
        given = app_config.response_cache_config
        if isinstance(given, KVResponseCacheConfig):
            cache_config = given
        else:
            cache_config = KVResponseCacheConfig.from_config(
                given, single_flight=self.config.cache_single_flight, lock_timeout=self.config.cache_lock_timeout
            )
        app_config.response_cache_config = cache_config
        app_config.middleware.append(cache_config.middleware)
        app_config.on_startup.append(check_response_cache)

    def _provide_registry(self) -> StoreRegistry:
        return self.registry

    def on_cli_init(self, cli: Group) -> None:
        """Add ``litestar stores ...`` (see :mod:`litestar_kvstores.cli`)."""
        from .cli import stores_group

        cli.add_command(stores_group)

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        """Enter every store, clean up expired entries, keep cleaning in the background, close everything."""
        async with AsyncExitStack() as stores_stack:
            entered: set[int] = set()

            async def enter(store: Store) -> None:
                if id(store) not in entered:
                    entered.add(id(store))
                    await stores_stack.enter_async_context(store)

            for store in [*self.registry.owned_stores, *self.registry.stores().values()]:
                await enter(store)

            loop = asyncio.get_running_loop()
            serving = True

            def start_entering(name: str, store: Store) -> None:
                if not serving:  # scheduled from a thread while shutting down: nothing would close it
                    return
                task = loop.create_task(enter(store), name=f"enter store {name}")
                self._entering.add(task)
                task.add_done_callback(self._entering.discard)

            def on_created(name: str, store: Store) -> None:
                # a synchronous handler run in a worker thread may be the one asking for a new store
                if _running_loop() is loop:
                    start_entering(name, store)
                else:
                    loop.call_soon_threadsafe(start_entering, name, store)

            self.registry.add_listener(on_created)
            try:
                if self.config.cleanup_on_startup:
                    await self.delete_expired()
                if self.config.cleanup_interval is not None:
                    self._cleanup_task = asyncio.get_running_loop().create_task(
                        self._clean_periodically(self.config.cleanup_interval), name="litestar-kvstores clean-up"
                    )
                yield
            finally:
                serving = False
                self.registry.remove_listener(on_created)
                await self._stop_cleanup()
                if self._entering:
                    await asyncio.gather(*self._entering, return_exceptions=True)

    async def delete_expired(self) -> dict[str, int]:
        """Run ``delete_expired`` on every clean-up target now; return how many entries each removed.

        The targets are :meth:`StoreRegistry.cleanup_targets`: the default root (as ``(default)``) and each named
        store, once each.

        A store that fails is logged at WARNING (with its name, not its URL) and left out of the result; the
        others still run. Stores without ``delete_expired`` are skipped.
        """
        removed: dict[str, int] = {}
        for name, store in self.registry.cleanup_targets().items():
            delete_expired = getattr(store, "delete_expired", None)
            if delete_expired is None:
                continue
            try:
                removed[name] = int(await delete_expired() or 0)
            except Exception:
                logger.warning("delete_expired failed on the store %s", name, exc_info=True)
        self.last_cleanup = removed
        self.last_cleanup_at = time.time()
        self.cleanup_runs += 1
        return removed

    async def _clean_periodically(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.delete_expired()

    async def _stop_cleanup(self) -> None:
        task, self._cleanup_task = self._cleanup_task, None
        if task is None:
            return
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
