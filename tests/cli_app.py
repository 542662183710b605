"""The application the CLI tests load with ``litestar --app tests.cli_app:create_app``: stores from KVSTORES_*."""

from __future__ import annotations

from litestar import Litestar

from litestar_kvstores import KVStoresConfig, KVStoresPlugin


def create_app() -> Litestar:
    """An app whose stores come from the environment, as an operator would configure it."""
    return Litestar(plugins=[KVStoresPlugin(KVStoresConfig.from_env(cleanup_interval=None))])
