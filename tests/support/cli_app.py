"""The application the CLI tests load with ``litestar --app tests.cli_app:create_app``: stores from KVSTORES_*."""

from __future__ import annotations

from litestar import Litestar
from litestar.stores.registry import StoreRegistry as LitestarStoreRegistry

from litestar_kvstores import KVStoresConfig, KVStoresPlugin, MemoryStore
from litestar_kvstores.cli import KVStoresCLIPlugin


def create_app() -> Litestar:
    """An app whose stores come from the environment, as an operator would configure it."""
    return Litestar(plugins=[KVStoresPlugin(KVStoresConfig.from_env(cleanup_interval=None))])


def create_plain_app() -> Litestar:
    """An app with plain ``stores=`` and the CLI plugin alone."""
    return Litestar(stores={"plain": MemoryStore()}, plugins=[KVStoresCLIPlugin()])


def create_litestar_registry_app() -> Litestar:
    """An app whose ``stores=`` is a registry of Litestar's own, which the commands cannot list."""
    return Litestar(stores=LitestarStoreRegistry({"plain": MemoryStore()}), plugins=[KVStoresCLIPlugin()])
