"""Operations on whole namespace trees through the public store interface: walk, copy, export and import.

Everything here works on any store of this package (and any third-party store that implements the contract), in
batches, with memory bounded by the batch size however many keys there are:

- :func:`walk` yields a store and every descendant namespace that holds keys (through ``namespaces()``);
- :func:`copy_tree` copies every key of a tree with its value and remaining expiry to another store;
- :func:`export_tree` / :func:`import_tree` stream a tree to and from JSON Lines: a first line naming the format
  and its version, then ``{"namespace": "a/b", "key": ..., "value": <base64>, "expires_in": <seconds> | null}``,
  ``namespace`` relative to the exported store (``""`` for its own keys).

Expiry is carried as whole seconds, rounded up (the contract's ``expires_in``), so a copy may outlive its original by
less than a second. A key that expires while it is being copied or exported is counted as expired and skipped, never
written without its expiry.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Literal, TypeVar

from .base import KVStore
from .errors import StoreError

__all__ = (
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "CopySummary",
    "ExistingKeysError",
    "ImportFormatError",
    "copy_tree",
    "count_tree",
    "export_tree",
    "import_tree",
    "key_batches",
    "read_batch",
    "walk",
)

StoreT = TypeVar("StoreT", bound=KVStore)

EXPORT_FORMAT = "litestar-kvstores-export"
EXPORT_VERSION = 1

BATCH_SIZE = 500
"""Keys read with one ``get_many`` and written with one ``set_many`` per batch."""

ExistingPolicy = Literal["refuse", "skip", "overwrite"]
Progress = Callable[[int, int], None]
"""Called after each batch with (keys handled, bytes handled) of that batch."""


class ExistingKeysError(StoreError):
    """The destination holds keys and neither skipping nor overwriting them was asked for."""

    def __init__(self, count: int) -> None:
        super().__init__(
            f"The destination holds {count} key(s); copy with skip-existing or overwrite, or clear it first"
        )
        self.count = count


class ImportFormatError(ValueError):
    """A line of an import is not a valid record; ``line`` is its 1-based number. Nothing after it is imported."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line


@dataclass
class CopySummary:
    """What a copy or import did, key by key."""

    copied: int = 0
    skipped: int = 0
    expired: int = 0
    failed: int = 0
    bytes: int = 0
    errors: list[str] = field(default_factory=list)
    """The first few failures (at most ten), as ``namespace/key: error``."""

    def __str__(self) -> str:
        return f"copied={self.copied} skipped={self.skipped} expired={self.expired} failed={self.failed}"


def _child(store: KVStore, path: str) -> KVStore:
    for name in filter(None, path.split("/")):
        store = store.with_namespace(name)
    return store


async def walk(store: StoreT, path: str = "") -> AsyncIterator[tuple[str, StoreT]]:
    """Yield ``(relative path, store)`` for ``store`` (path ``""``) and every descendant namespace, depth first.

    Namespaces are found through :meth:`~litestar_kvstores.base.KVStore.namespaces`, so only those holding keys
    (or holding namespaces that do) are visited.
    """
    yield path, store
    children = [name async for name in store.namespaces()]
    for name in sorted(children):
        async for item in walk(store.with_namespace(name), f"{path}/{name}" if path else name):
            yield item


async def count_tree(store: KVStore) -> int:
    """Return how many keys ``store`` and all its descendant namespaces hold."""
    total = 0
    async for _, namespace in walk(store):
        total += await namespace.count()
    return total


async def key_batches(store: KVStore, size: int = BATCH_SIZE) -> AsyncIterator[list[str]]:
    """The keys of ``store`` (this namespace only) in lists of up to ``size``."""
    batch: list[str] = []
    async for key in store.keys():
        batch.append(key)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def read_batch(store: KVStore, keys: list[str]) -> list[tuple[str, bytes | None, int | None]]:
    """``(key, value, expires_in)`` per key; the expiry is read first, so a value read after it never outlives it."""
    expiries = await asyncio.gather(*(store.expires_in(key) for key in keys))
    values = await store.get_many(keys)
    return [(key, values.get(key), expiry) for key, expiry in zip(keys, expiries, strict=True)]


async def _write_batch(store: KVStore, entries: list[tuple[str, bytes, int | None]]) -> None:
    """Write entries grouped by expiry: one ``set_many`` per distinct remaining lifetime."""
    by_expiry: dict[int | None, dict[str, bytes]] = {}
    for key, value, expiry in entries:
        by_expiry.setdefault(expiry, {})[key] = value
    for expiry, mapping in by_expiry.items():
        await store.set_many(mapping, expires_in=expiry)


def _record_failure(summary: CopySummary, where: str, count: int, exc: Exception) -> None:
    summary.failed += count
    if len(summary.errors) < 10:
        summary.errors.append(f"{where}: {type(exc).__name__}: {exc}")


async def copy_tree(
    source: KVStore,
    destination: KVStore,
    *,
    existing: ExistingPolicy = "refuse",
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> CopySummary:
    """Copy every key of ``source``'s namespace tree, with its value and remaining expiry, into ``destination``.

    Child namespaces keep their relative paths. Run again after an interruption with ``existing="skip"`` (or
    ``"overwrite"``) to finish the job: keys already copied are skipped (or written again).

    Args:
        source: The store whose tree is copied.
        destination: Where the keys go (the same relative namespace paths under it).
        existing: ``"refuse"``: raise :class:`ExistingKeysError` before writing anything if the destination tree
            holds any key; ``"skip"``: leave keys the destination already has; ``"overwrite"``: replace them.
        dry_run: Read and count everything, write nothing.
        batch_size: Keys per read and write batch.
        progress: Called after each batch with (keys, bytes) handled in it.

    Returns:
        The counts: copied, skipped (already there), expired (expired during the copy), failed (a write raised;
        the copy goes on with the next batch).

    Raises:
        ExistingKeysError: ``existing="refuse"`` and the destination holds keys.
        StoreError: reading the source failed.
    """
    if existing == "refuse" and (held := await count_tree(destination)):
        raise ExistingKeysError(held)
    summary = CopySummary()
    async for path, namespace in walk(source):
        target = _child(destination, path)
        async for keys in key_batches(namespace, batch_size):
            entries = await read_batch(namespace, keys)
            live = [(key, value, expiry) for key, value, expiry in entries if value is not None]
            summary.expired += len(entries) - len(live)
            if existing == "skip" and live:
                present = await target.get_many([key for key, _, _ in live])
                kept = [entry for entry in live if present.get(entry[0]) is None]
                summary.skipped += len(live) - len(kept)
                live = kept
            written = sum(len(value) for _, value, _ in live)
            if live and not dry_run:
                try:
                    await _write_batch(target, live)
                except StoreError as exc:
                    _record_failure(summary, path or "(root)", len(live), exc)
                    live, written = [], 0
            summary.copied += len(live)
            summary.bytes += written
            if progress is not None:
                progress(len(entries), written)
    return summary


async def export_tree(
    store: KVStore, out: IO[str], *, batch_size: int = BATCH_SIZE, progress: Progress | None = None
) -> CopySummary:
    """Write ``store``'s whole namespace tree to ``out`` as JSON Lines (see the module documentation).

    Returns:
        The counts: copied (exported) and expired (expired while exporting, left out).
    """
    summary = CopySummary()
    out.write(json.dumps({"format": EXPORT_FORMAT, "version": EXPORT_VERSION}) + "\n")
    async for path, namespace in walk(store):
        async for keys in key_batches(namespace, batch_size):
            entries = await read_batch(namespace, keys)
            written = 0
            for key, value, expiry in entries:
                if value is None:
                    summary.expired += 1
                    continue
                record = {
                    "namespace": path,
                    "key": key,
                    "value": base64.b64encode(value).decode("ascii"),
                    "expires_in": expiry,
                }
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                summary.copied += 1
                written += len(value)
            summary.bytes += written
            if progress is not None:
                progress(len(entries), written)
    return summary


def _parse_header(line: str) -> None:
    try:
        header = json.loads(line)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
        raise ImportFormatError(1, f"not a {EXPORT_FORMAT} file (the first line names the format)")
    version = header.get("version")
    if version != EXPORT_VERSION:
        raise ImportFormatError(1, f"format version {version!r} is not supported (this version reads {EXPORT_VERSION})")


def _parse_record(number: int, line: str) -> tuple[str, str, bytes, int | None]:
    """``(namespace, key, value, expires_in)`` of one line, validated.

    Raises:
        ImportFormatError: the line is not a valid record.
    """
    try:
        record = json.loads(line)
    except ValueError:
        raise ImportFormatError(number, "not valid JSON") from None
    if not isinstance(record, dict) or set(record) != {"namespace", "key", "value", "expires_in"}:
        raise ImportFormatError(number, "a record has exactly namespace, key, value and expires_in")
    namespace, key, value, expiry = record["namespace"], record["key"], record["value"], record["expires_in"]
    if not isinstance(namespace, str) or not isinstance(key, str) or not key or not isinstance(value, str):
        raise ImportFormatError(number, "namespace and key must be strings (key non-empty), value a base64 string")
    if expiry is not None and (isinstance(expiry, bool) or not isinstance(expiry, int) or expiry < 1):
        raise ImportFormatError(number, "expires_in must be null or a positive whole number of seconds")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ImportFormatError(number, "value is not valid base64") from None
    return namespace, key, data, expiry


async def import_tree(
    store: KVStore,
    lines: Iterable[str],
    *,
    existing: ExistingPolicy = "overwrite",
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> CopySummary:
    """Read a JSON Lines export from ``lines`` into ``store`` (namespaces relative to it), in batches.

    A malformed line stops the import with :class:`ImportFormatError` naming its line number: nothing after it is
    imported, and every valid record before it is written (and stays) before the error is raised, so fixing the
    line and importing again with the default ``"overwrite"`` finishes the job.

    Args:
        existing: ``"overwrite"`` (default) replaces keys the store has; ``"skip"`` leaves them; ``"refuse"``
            raises :class:`ExistingKeysError` first if the store's tree holds any key.

    Raises:
        ImportFormatError: the first line does not name this format and version, or a record is malformed.
        ExistingKeysError: ``existing="refuse"`` and the store holds keys.
        ValueError: a namespace path of a record is invalid (named with its line).
    """
    if existing == "refuse" and (held := await count_tree(store)):
        raise ExistingKeysError(held)
    summary = CopySummary()
    numbered = enumerate(lines, start=1)
    first = next(numbered, None)
    if first is None:
        raise ImportFormatError(1, "the file is empty")
    _parse_header(first[1])
    pending: dict[str, list[tuple[str, bytes, int | None]]] = {}
    pending_count = 0

    async def flush() -> None:
        nonlocal pending_count
        for path, entries in pending.items():
            target = _child(store, path)
            if existing == "skip":
                present = await target.get_many([key for key, _, _ in entries])
                kept = [entry for entry in entries if present.get(entry[0]) is None]
                summary.skipped += len(entries) - len(kept)
                entries = kept
            if entries:
                await _write_batch(target, entries)
            written = sum(len(value) for _, value, _ in entries)
            summary.copied += len(entries)
            summary.bytes += written
            if progress is not None:
                progress(len(entries), written)
        pending.clear()
        pending_count = 0

    for number, line in numbered:
        if not line.strip():
            continue
        try:
            namespace, key, value, expiry = _parse_record(number, line)
            if namespace:
                _child(store, namespace)  # validates the path before anything of this batch is written
        except ImportFormatError:
            await flush()
            raise
        except (TypeError, ValueError) as exc:
            await flush()
            raise ImportFormatError(number, f"invalid namespace {namespace!r}: {exc}") from None
        pending.setdefault(namespace, []).append((key, value, expiry))
        pending_count += 1
        if pending_count >= batch_size:
            await flush()
    await flush()
    return summary
