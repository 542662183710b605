"""``litestar stores list | stats | clear NAME | delete-expired | reencrypt [NAME ...]``: look after an
application's stores from a shell.

:class:`~litestar_kvstores.plugin.KVStoresPlugin` adds these commands; an application that passes its stores with
plain ``stores=`` gets them from :class:`KVStoresCLIPlugin`. Every command prints one line per store; a store that
cannot be reached prints its error on its line and the command goes on with the next one (and exits with status 1
at the end).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio
from litestar.cli._utils import LitestarGroup
from litestar.plugins import CLIPluginProtocol, InitPluginProtocol
from litestar.stores.registry import StoreRegistry as LitestarStoreRegistry

from .base import KVStore
from .cli_operations import OPERATION_COMMANDS, app_registry, named_store, progress_bar
from .operations import count_tree
from .registry import StoreRegistry
from .wrappers import ReadOnlyStore, StoreWrapper

try:  # the same click flavour as Litestar's own commands
    import rich_click as click
except ImportError:  # pragma: no cover
    import click  # type: ignore[no-redef]

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.config.app import AppConfig
    from litestar.stores.base import Store

    from .wrappers.encrypted import EncryptedStore

__all__ = ("KVStoresCLIPlugin", "StoreRefused", "describe_address", "encrypted_store", "stores_group")


def describe_address(store: Store) -> str:
    """Where ``store`` keeps its data, without credentials: its ``address`` (``host:port``, a directory or
    ``in-process``) for this package's stores, ``-`` for other stores."""
    return store.address if isinstance(store, KVStore) else "-"


def _line(name: str, store: Store, detail: str) -> str:
    return f"{name:<20} {type(store).__name__:<14} {describe_address(store):<30} {detail}"


async def _close_all(app: Litestar) -> None:
    """Close what the command opened: a CLI process owns its stores' clients for its whole (short) life."""
    seen: set[int] = set()
    for store in app_registry(app).managed_stores().values():
        if id(store) in seen:
            continue
        seen.add(id(store))
        try:
            await store.__aexit__(None, None, None)
        except Exception as exc:
            click.echo(f"closing {type(store).__name__} failed: {exc}", err=True)


class StoreRefused(Exception):
    """A command does not apply to a store it was asked to work on: its line says why, and the command exits 1."""


def _for_each_store(app: Litestar, stores: dict[str, Store], describe: Callable[[Store], Awaitable[str]]) -> None:
    """Print one line per store with ``describe(store)``; a failing store prints its error (a
    :class:`StoreRefused` store its reason). Exit 1 if any failed or was refused."""
    failed = False

    async def run() -> None:
        nonlocal failed
        try:
            for name, store in stores.items():
                try:
                    detail = await describe(store)
                except StoreRefused as exc:
                    failed = True
                    detail = str(exc)
                except Exception as exc:
                    failed = True
                    detail = f"error: {type(exc).__name__}: {exc}"
                click.echo(_line(name, store, detail))
        finally:
            await _close_all(app)

    if not stores:
        click.echo("no stores")
        return
    anyio.run(run)
    if failed:
        raise SystemExit(1)


async def _key_count(store: Store) -> str:
    count = getattr(store, "count", None)
    if count is None:
        return "keys=?"
    return f"keys={await count()}"


async def _stats(store: Store) -> str:
    details = []
    ping = getattr(store, "ping", None)
    if ping is not None:
        started = time.perf_counter()
        await ping()
        details.append(f"ping={(time.perf_counter() - started) * 1000:.1f}ms")
    details.append(await _key_count(store))
    stats = getattr(store, "stats", None)
    if callable(stats):
        details.extend(f"{name}={value}" for name, value in dict(stats()).items())
    return " ".join(details)


async def _delete_expired(store: Store) -> str:
    delete_expired = getattr(store, "delete_expired", None)
    if delete_expired is None:
        return "expires natively"
    return f"removed={int(await delete_expired() or 0)}"


@click.group(cls=LitestarGroup, name="stores")
def stores_group() -> None:
    """Inspect and clean the application's key/value stores."""


@click.command("list")
def list_command(app: Litestar) -> None:
    """One line per store: name, backend, address, key count."""
    _for_each_store(app, app_registry(app).managed_stores(), _key_count)


@click.command("stats")
def stats_command(app: Litestar) -> None:
    """One line per store: name, backend, address, ping time, key count and the store's own statistics."""
    _for_each_store(app, app_registry(app).managed_stores(), _stats)


@click.command("clear")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def clear_command(app: Litestar, name: str, yes: bool) -> None:
    """Delete every entry of the store NAME (and of its namespaces).

    NAME is a configured store, ``(default)``, or any name the default store's namespaces serve (``sessions``...).
    """
    store = named_store(app_registry(app), name, "NAME")
    if not yes and not click.confirm(f"Delete every entry of the store {name!r}?"):
        click.echo("aborted")
        return

    async def clear(store: Store) -> str:
        await store.delete_all()
        return "cleared"

    _for_each_store(app, {name: store}, clear)


@click.command("delete-expired")
def delete_expired_command(app: Litestar) -> None:
    """Remove expired entries from every store now; one line per store with how many were removed."""
    _for_each_store(app, app_registry(app).cleanup_targets(), _delete_expired)


def encrypted_store(store: Store) -> EncryptedStore | None:
    """The :class:`~litestar_kvstores.wrappers.EncryptedStore` that ``store`` is, or wraps (following each
    wrapper's ``store``: a :class:`~litestar_kvstores.wrappers.TieredStore`'s far store, a
    :class:`~litestar_kvstores.wrappers.FallbackStore`'s primary); ``None`` when there is none.

    Raises:
        StoreRefused: a :class:`~litestar_kvstores.wrappers.ReadOnlyStore` wraps it: this application must not
            write it.
    """
    try:
        from .wrappers.encrypted import EncryptedStore
    except ImportError:  # without the crypto extra no store can be encrypted
        return None
    read_only = False
    while isinstance(store, StoreWrapper):
        if isinstance(store, EncryptedStore):
            if read_only:
                raise StoreRefused("read-only: not re-encrypted (run the command where the store is writable)")
            return store
        read_only = read_only or isinstance(store, ReadOnlyStore)
        store = store.store
    return None


def _encrypted_stores(app: Litestar) -> dict[str, Store]:
    """Every store of the app that is encrypted, each once: the listed ones, and the namespaces of the default
    store that :class:`~litestar_kvstores.KVStoresPlugin`'s ``wrappers`` encrypt by name (created now)."""
    from .plugin import KVStoresPlugin

    registry = app_registry(app)
    stores = registry.managed_stores()
    try:
        wrappers = app.plugins.get(KVStoresPlugin).config.wrappers
    except KeyError:  # KVStoresCLIPlugin: every store is listed
        wrappers = {}
    for name, options in wrappers.items():
        if options.get("encrypt") and name != "default" and name not in stores:
            stores[name] = registry.get(name)
    found: dict[str, Store] = {}
    seen: set[int] = set()
    for name, store in stores.items():
        try:
            encrypted = encrypted_store(store)
        except StoreRefused:
            encrypted = None  # said on its line only when named
        if encrypted is not None and id(encrypted) not in seen:
            seen.add(id(encrypted))
            found[name] = store
    return found


@click.command("reencrypt")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--dry-run", is_flag=True, help="Count the values an older key encrypted; rewrite nothing.")
def reencrypt_command(app: Litestar, names: tuple[str, ...], dry_run: bool) -> None:
    """Rewrite the values an older key encrypted under the first key, in each encrypted store NAME (default: every
    encrypted store of the app); one line per store with how many were rewritten.

    Put the new key first in every process's key list (keeping the old one) before running it; drop the old key
    once the command reports rewritten=0. It is safe while the application writes and can be run again. A NAME
    that is not encrypted, or that this application reads only, is said so on its line and the command exits 1.
    """
    if names:
        registry = app_registry(app)
        stores = {name: named_store(registry, name, "NAME") for name in names}
    else:
        stores = _encrypted_stores(app)
        if not stores:
            click.echo("no encrypted stores")
            return

    async def reencrypt(store: Store) -> str:
        encrypted = encrypted_store(store)
        if encrypted is None:
            raise StoreRefused("not encrypted: no EncryptedStore in it, nothing to re-encrypt")
        with progress_bar("counting" if dry_run else "re-encrypting", await count_tree(encrypted)) as update:
            count = await encrypted.reencrypt(dry_run=dry_run, progress=update)
        return f"would_rewrite={count}" if dry_run else f"rewritten={count}"

    _for_each_store(app, stores, reencrypt)


for _command in (
    list_command,
    stats_command,
    clear_command,
    delete_expired_command,
    reencrypt_command,
    *OPERATION_COMMANDS,
):
    stores_group.add_command(_command)  # LitestarGroup.add_command injects ``app``


class KVStoresCLIPlugin(CLIPluginProtocol, InitPluginProtocol):
    """Adds ``litestar stores ...`` to an application that does not use :class:`~.plugin.KVStoresPlugin`.

    A ``stores=`` mapping becomes a :class:`~litestar_kvstores.StoreRegistry` of the same stores, so the commands
    can list them.
    """

    __slots__ = ()

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Turn a ``stores=`` mapping (or nothing) into a :class:`~litestar_kvstores.StoreRegistry`."""
        if not isinstance(app_config.stores, LitestarStoreRegistry):
            app_config.stores = StoreRegistry(app_config.stores)
        return app_config

    def on_cli_init(self, cli: click.Group) -> None:
        """Add the ``stores`` command group to ``cli``."""
        cli.add_command(stores_group)
