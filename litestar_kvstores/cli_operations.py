"""``litestar stores copy SRC DST``, ``export NAME FILE`` and ``import FILE NAME``: whole namespace trees.

SRC, DST and NAME are names of the application's stores (``sessions``, ``(default)``, or any name the default
store's namespaces serve) or store URLs (``redis://...``, ``file://./backup``). Stores opened from a URL are
closed when the command ends. Each command shows a progress bar (keys and bytes per second) on a terminal and ends
with a summary line: ``copied=N skipped=N expired=N failed=N``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from typing import IO, TYPE_CHECKING

import anyio
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .base import KVStore
from .operations import (
    CopySummary,
    ExistingKeysError,
    ExistingPolicy,
    ImportFormatError,
    copy_tree,
    count_tree,
    export_tree,
    import_tree,
)
from .registry import StoreRegistry
from .urls import redact_url, store_from_url

try:  # the same click flavour as Litestar's own commands
    import rich_click as click
except ImportError:  # pragma: no cover
    import click  # type: ignore[no-redef]

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.stores.base import Store

__all__ = (
    "OPERATION_COMMANDS",
    "app_registry",
    "copy_command",
    "export_command",
    "import_command",
    "named_store",
    "progress_bar",
)


def app_registry(app: Litestar) -> StoreRegistry:
    """The app's registry (see :meth:`StoreRegistry.of`); a registry that cannot list its stores ends the command.

    Raises:
        click.ClickException: ``stores=`` was a registry of Litestar's own.
    """
    try:
        return StoreRegistry.of(app)
    except TypeError as exc:
        raise click.ClickException(str(exc)) from None


def named_store(registry: StoreRegistry, name: str, param_hint: str) -> Store:
    """The store ``name`` of the app: a listed one, or a namespace the default store's factory serves.

    Raises:
        click.BadParameter: no such store, and no default store that could serve the name.
    """
    stores = registry.managed_stores()
    if name not in stores and not registry.owned_stores:
        raise click.BadParameter(f"no store named {name!r}", param_hint=param_hint)
    return stores.get(name) or registry.get(name)


@asynccontextmanager
async def _opened(app: Litestar, spec: str) -> AsyncIterator[KVStore]:
    """The store named ``spec`` (an app store name or a URL), entered; a store opened from a URL is closed after.

    Raises:
        click.BadParameter: no such store, an invalid URL, or a store that is not one of this package's.
    """
    async with AsyncExitStack() as stack:
        if "://" in spec:
            try:
                store = store_from_url(spec)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint=redact_url(spec)) from None
            await stack.enter_async_context(store)
        else:
            store = named_store(app_registry(app), spec, spec)
            await stack.enter_async_context(store)
        if not isinstance(store, KVStore):
            raise click.BadParameter(f"{type(store).__name__} cannot list its keys", param_hint=spec)
        yield store


def _human(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1000:
            return f"{count:.0f} {unit}"
        count /= 1000
    return f"{count:.0f} TB"


@contextmanager
def progress_bar(label: str, total: int | None) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr (when it is a terminal) showing keys, keys/s and bytes/s; yields the update."""
    console = Console(stderr=True)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("keys  {task.fields[rate]}"),
        TimeElapsedColumn(),
    )
    started = time.monotonic()
    moved = 0
    with Progress(*columns, console=console, disable=not console.is_terminal, transient=False) as bar:
        task = bar.add_task(label, total=total, rate="")

        def update(keys: int, size: int) -> None:
            nonlocal moved
            moved += size
            elapsed = max(time.monotonic() - started, 1e-6)
            done = bar.tasks[0].completed + keys
            bar.update(task, advance=keys, rate=f"{done / elapsed:,.0f} keys/s  {_human(moved / elapsed)}/s")

        yield update


def _policy(skip_existing: bool, overwrite: bool) -> ExistingPolicy:
    if skip_existing and overwrite:
        raise click.UsageError("--skip-existing and --overwrite exclude each other")
    return "skip" if skip_existing else "overwrite" if overwrite else "refuse"


def _finish(summary: CopySummary, verb: str) -> None:
    click.echo(f"{verb}: {summary}")
    for error in summary.errors:
        click.echo(f"  failed: {error}", err=True)
    if summary.failed:
        raise SystemExit(1)


def _run(main: Callable[[], object], resume_hint: str) -> None:
    """Run ``main`` with anyio; Ctrl-C prints how to finish the job, an existing-keys refusal exits with 1."""
    try:
        anyio.run(main)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        click.echo(f"interrupted; {resume_hint}", err=True)
        raise SystemExit(130) from None
    except ExistingKeysError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("copy")
@click.argument("source")
@click.argument("destination")
@click.option("--skip-existing", is_flag=True, help="Leave keys the destination already has.")
@click.option("--overwrite", is_flag=True, help="Replace keys the destination already has.")
@click.option("--dry-run", is_flag=True, help="Read and count everything, write nothing.")
def copy_command(
    app: Litestar, source: str, destination: str, skip_existing: bool, overwrite: bool, dry_run: bool
) -> None:
    """Copy every key of SOURCE's namespace tree, with its remaining expiry, to DESTINATION.

    SOURCE and DESTINATION are store names of the app or URLs. Without --skip-existing or --overwrite, a
    destination that holds keys is refused. Interrupted, run it again with --skip-existing to finish.
    """
    existing = _policy(skip_existing, overwrite)

    async def main() -> None:
        async with _opened(app, source) as src, _opened(app, destination) as dst:
            with progress_bar("dry run" if dry_run else "copying", await count_tree(src)) as update:
                summary = await copy_tree(src, dst, existing=existing, dry_run=dry_run, progress=update)
        _finish(summary, "would copy" if dry_run else "copied")

    _run(main, "run the same command with --skip-existing to finish the copy")


@click.command("export")
@click.argument("name")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
def export_command(app: Litestar, name: str, file: str) -> None:
    """Write the store NAME's whole namespace tree to FILE as JSON Lines (``-``: standard output)."""

    async def main() -> None:
        async with _opened(app, name) as store:
            with _output(file) as out, progress_bar("exporting", await count_tree(store)) as update:
                summary = await export_tree(store, out, progress=update)
        click.echo(f"exported: {summary}", err=file == "-")

    _run(main, "the export file is incomplete: export again")


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, exists=False))
@click.argument("name")
@click.option("--skip-existing", is_flag=True, help="Leave keys the store already has (default: replace them).")
def import_command(app: Litestar, file: str, name: str, skip_existing: bool) -> None:
    """Read a JSON Lines export from FILE (``-``: standard input) into the store NAME.

    A malformed line stops the import with its line number; the records before it stay imported.
    """

    async def main() -> None:
        async with _opened(app, name) as store:
            with _input(file) as lines, progress_bar("importing", None) as update:
                try:
                    summary = await import_tree(
                        store, lines, existing="skip" if skip_existing else "overwrite", progress=update
                    )
                except ImportFormatError as exc:
                    raise click.ClickException(f"{file}: {exc}; nothing after it was imported") from None
        _finish(summary, "imported")

    _run(main, "run the same import again to finish (it replaces what was already imported)")


@contextmanager
def _output(file: str) -> Iterator[IO[str]]:
    if file == "-":
        yield sys.stdout
        return
    with open(file, "w", encoding="utf-8") as out:
        yield out


@contextmanager
def _input(file: str) -> Iterator[IO[str]]:
    if file == "-":
        yield sys.stdin
        return
    try:
        handle = open(file, encoding="utf-8")  # noqa: SIM115  (closed below)
    except OSError as exc:
        raise click.FileError(file, exc.strerror) from None
    with handle:
        yield handle


OPERATION_COMMANDS = (copy_command, export_command, import_command)
"""Added to the ``litestar stores`` group by :mod:`litestar_kvstores.cli`."""
