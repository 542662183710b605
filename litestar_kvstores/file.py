"""A persistent, process-safe store on the local file system: one file per entry, namespaces as sub-directories.

A drop-in for Litestar's ``FileStore`` (same constructor, ``path`` an ``anyio.Path`` of the path as given), with
these guarantees:

- **Atomic writes.** A value is written to a temporary file in the entry's directory, then renamed over the
  entry, so a reader sees the old or the new value, never a partial one. Any ``OSError`` of a write (full disk,
  file size limit, a directory where the entry belongs, ...) raises :class:`~litestar_kvstores.StoreError`
  naming the path; the temporary file is removed and the old value stays intact.
- **Corruption is detected.** Every entry carries its key and its lengths; a truncated, foreign or misplaced
  file reads as missing, is logged at WARNING (logger ``litestar_kvstores.file``) and removed.
- **Process safety.** Every write that replaces or removes an entry holds the directory's lock (a thread lock
  plus ``flock``), so ``incr``, renewals and the removal of expired or corrupt entries are atomic with respect to
  every other thread and process using the directory. Reads take no lock: renames are atomic.
- **Cheap I/O.** Every operation does its blocking work in at most one worker-thread call. Reads (``get``,
  ``exists``, ``expires_in``, ``get_many``) of entries up to 512 KiB are first served from the page cache on the
  event loop (``preadv(RWF_NOWAIT)`` never waits for the disk); only when that cannot serve them do they move to
  a thread. ``delete_expired``, ``keys`` and ``count`` read the 28-byte header (and key) of each entry, never its
  value.
- **Durability.** By default data reaches the disk when the kernel writes it back; after a power loss a recent
  entry may be lost or read as corrupt (and then as missing), never as a wrong value. ``fsync=True`` flushes each
  written file and its directory before a write returns, at the cost of a disk round trip per write.

POSIX only (``fcntl``); on a case-insensitive file system keys that differ only in case share a file name and
the later one replaces the earlier. The on-disk format is described in :mod:`litestar_kvstores._file.format`.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import anyio

from ._file.blocking import Directory
from ._file.fast_path import TO_THREAD, expiry_now, read_many_now, read_now
from ._file.format import entry_name, expires_at, pack_entry
from ._file.os_calls import POSIX
from ._threads import run_in_worker
from .base import TTL, KVStore
from .urls import bools_like_defaults, parameter_names, redact_url, reject_unknown, split_options, split_url
from .validation import (
    check_amount,
    check_counters,
    check_expected,
    check_expected_value,
    check_key,
    check_namespace,
    encode_value,
    remaining_whole_seconds,
    ttl_seconds,
)

if TYPE_CHECKING:
    from typing import Self

__all__ = ("FileStore",)

_in_thread = run_in_worker
"""How every operation hops to a worker thread (one name, so that tests can count the hops)."""


class FileStore(KVStore):
    """File based, namespaced, thread and process safe, asynchronous key/value store.

    Each namespace is a sub-directory of its parent's directory. See the module documentation for the guarantees
    and :mod:`litestar_kvstores._file.format` for the on-disk layout.
    """

    __slots__ = ("_directory", "_path")

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        namespace: str | None = None,
        create_directories: bool = True,
        fsync: bool = False,
    ) -> None:
        """Create a store in the directory ``path`` (or its sub-directory ``namespace``).

        The directory is resolved against the working directory now: a later ``chdir`` does not move the store.

        Args:
            path: The store's directory.
            namespace: A namespace name; the store then lives in ``path/namespace``.
            create_directories: Create the directory and its missing parents when first needed (and on
                ``async with``). ``False`` (Litestar's default) creates only the directory itself, on its first write,
                and raises ``FileNotFoundError`` there if its parent does not exist, as Litestar's ``FileStore`` does.
            fsync: Flush every written file and its directory to the disk before a write returns.

        Raises:
            ValueError: ``namespace`` is not a valid namespace name.
            NotImplementedError: not a POSIX system (Linux, macOS, BSD): the store needs ``flock``.
        """
        if not POSIX:
            raise NotImplementedError("FileStore needs a POSIX system (Linux, macOS, BSD)")
        given = anyio.Path(path)
        directory = Directory(os.path.abspath(os.fspath(path)), fsync=fsync, create_parents=create_directories)
        if namespace is not None:
            given, directory = given / check_namespace(namespace), directory.child(namespace)
        self._setup(given, directory)

    def _setup(self, path: anyio.Path, directory: Directory) -> None:
        self._path = path
        self._directory = directory

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """Return a store for ``file:///abs/dir`` or ``file://./relative/dir`` (``file://relative/dir`` too).

        Options (query or keyword): ``fsync`` and ``create_directories`` (``true``/``false``), and ``namespace=NAME``,
        which gives ``FileStore(path).with_namespace(NAME)``. Keyword options win over the query's.

        Raises:
            ValueError: the URL has no directory, or an option is unknown (named in the message) or invalid.
        """
        stripped, own, client = split_options(url, options, parameter_names(cls) - {"path"})
        reject_unknown("file", [*client, *(name for name, _ in parse_qsl(split_url(stripped).query))], ())
        namespace = own.pop("namespace", None)
        store = cls(_url_directory(stripped), **bools_like_defaults(cls, own))
        return store if namespace is None else store.with_namespace(namespace)

    @property
    def path(self) -> anyio.Path:
        """The directory of this namespace as given (relative paths stay relative), like Litestar's ``path``.

        The store itself works on :attr:`address`, the absolute directory resolved when the root was created.
        """
        return self._path

    @property
    def address(self) -> str:
        """The absolute directory holding this namespace's entries."""
        return self._directory.path

    @property
    def create_directories(self) -> bool:
        """Whether missing parent directories are created (see :meth:`__init__`)."""
        return self._directory.create_parents

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._directory.path!r})"

    def with_namespace(self, namespace: str) -> Self:
        """Return the store of the sub-directory ``namespace`` (``path / namespace``), with the same settings.

        Raises:
            ValueError: ``namespace`` is empty or contains characters other than letters, digits, ``_-.``.
        """
        child = object.__new__(type(self))
        child._setup(self._path / check_namespace(namespace), self._directory.child(namespace))
        return child

    async def __aenter__(self) -> Self:  # type: ignore[override]  # returning the store is more useful than None
        """Create the store's directory (only with ``create_directories``, as Litestar does).

        Raises:
            StoreUnavailableError: the directory cannot be created.
        """
        if self._directory.create_parents:
            await _in_thread(self._directory.create)
        return self

    # --- public operations --------------------------------------------------------------------------------------

    async def set(self, key: str, value: str | bytes, expires_in: TTL | None = None) -> None:
        """Store ``value`` under ``key``, replacing any previous value atomically.

        Raises:
            TypeError: ``key``, ``value`` or ``expires_in`` has a wrong type.
            ValueError: ``key`` is empty or ``expires_in`` is not positive.
            StoreError: the write failed; the previous value is left intact.
            FileNotFoundError: with ``create_directories=False``, the directory's parent does not exist (also a
                ``StoreUnavailableError``).
        """
        item = self._prepare(key, value, expires_at(ttl_seconds(expires_in)))
        await _in_thread(self._directory.write, [item])

    async def get(self, key: str, renew_for: TTL | None = None) -> bytes | None:
        """Return the value of ``key``, or ``None`` if it is missing, expired or corrupt (corrupt: logged, removed).

        With ``renew_for``, an entry that has an expiry gets a new one of ``renew_for`` from now, atomically with
        the read; the new expiry is written in place, so a concurrent ``set`` is never undone.

        Raises:
            StoreError: the entry could not be read or renewed.
        """
        encoded_key, path = self._locate(key)
        renew = ttl_seconds(renew_for, "renew_for")
        if renew is None:
            value = read_now(path, encoded_key)
            if value is not TO_THREAD:
                return value
        return await _in_thread(self._directory.get, path, encoded_key, renew)

    async def delete(self, key: str) -> None:
        """Delete ``key``; a missing key is a no-op.

        Raises:
            StoreError: the entry could not be removed.
        """
        await _in_thread(self._directory.delete, [self._locate(key)[1]])

    async def delete_all(self) -> None:
        """Delete every entry of this namespace and of its child namespaces.

        Directories, lock files and files other software put there are left alone; a directory that does not
        exist has nothing to delete.

        Raises:
            StoreError: an entry could not be removed.
        """
        await _in_thread(self._directory.delete_all)

    async def exists(self, key: str) -> bool:
        """Return ``True`` if ``key`` is stored and not expired."""
        return await self._expiry_of(key) is not None

    async def expires_in(self, key: str) -> int | None:
        """Return the whole seconds (rounded up) until ``key`` expires; ``None`` if missing, expired or unexpiring."""
        expiry = await self._expiry_of(key)
        if not expiry:
            return None
        return remaining_whole_seconds(expiry - time.time())

    async def delete_expired(self) -> int:
        """Remove the expired entries of this namespace and its children and return how many were removed.

        Only the 28-byte header of each entry is read, never its value. Entries with a corrupt header are removed
        too (logged at WARNING, not counted; a truncated value is found by the next read of its key), other
        software's files and directories are skipped, and temporary files left by a crashed writer more than an
        hour ago are removed.

        Raises:
            StoreError: a directory could not be read or an entry could not be removed.
        """
        return await _in_thread(self._directory.delete_expired)

    async def incr(self, key: str, amount: int = 1, expires_in: TTL | None = None) -> int:
        """Atomically (across threads and processes) add ``amount`` to the counter ``key``; return the new value.

        A missing, expired or corrupt counter starts at 0 with expiry ``expires_in``; an existing one keeps its
        expiry.

        Raises:
            TypeError: ``amount`` is not an ``int``.
            ValueError: ``amount`` is outside the signed 64-bit range, or the stored value is not an integer.
            StoreError: the write failed; the previous value is left intact.
        """
        encoded_key, path = self._locate(key)
        check_amount(amount)
        ttl = ttl_seconds(expires_in)
        return await _in_thread(self._directory.incr, key, encoded_key, path, amount, ttl)

    async def incr_and_read(
        self, counters: Sequence[tuple[str, TTL | None]], reads: Sequence[str] = ()
    ) -> tuple[list[int], list[bytes | None]]:
        """Add 1 to each counter and read each key of ``reads`` in one thread hop, the counters under one hold of
        the directory's lock (atomically across threads and processes, as :meth:`incr`).

        The rate limiter counts a request against all its limits with this. Each counter is a ``(key, expires_in)``
        pair; ``expires_in`` (``None``: never) applies only when this call creates the counter, as with
        :meth:`incr`.

        Returns:
            The counters' new values in order, and the values read in order (``None`` for a missing key).

        Raises:
            TypeError, ValueError: a bad key or expiry, a counter given twice, a stored counter that is not an
                integer (nothing is written).
            StoreError: a write failed; that counter and the following ones keep their previous values.
        """
        located = [(key, *self._locate(key), ttl) for key, ttl in check_counters(counters)]
        to_read = [self._locate(key) for key in reads]
        if not located and not to_read:
            return [], []
        return await _in_thread(self._directory.incr_and_read, located, to_read)

    async def add(self, key: str, value: str | bytes, expires_in: TTL | None = None) -> bool:
        """Store ``value`` under ``key`` unless a live entry is there, atomically across threads and processes.

        Returns:
            Whether it wrote.

        Raises:
            TypeError, ValueError: as :meth:`set`.
            StoreError: the write failed.
        """
        return await self.compare_and_set(key, None, value, expires_in)

    async def compare_and_set(
        self, key: str, expected: str | bytes | None, value: str | bytes, expires_in: TTL | None = None
    ) -> bool:
        """Replace the value of ``key`` if it equals ``expected`` (``None``: missing or expired), atomically across
        threads and processes (under the namespace directory's lock).

        Raises:
            TypeError: ``expected`` is not ``bytes``/``str``/``None``, or as :meth:`set`.
            ValueError: as :meth:`set`.
            StoreError: the write failed; the previous value is left intact.
        """
        encoded_key, path = self._locate(key)
        wanted = check_expected(expected)
        data = encode_value(value)
        ttl = ttl_seconds(expires_in)
        return await _in_thread(self._directory.compare, encoded_key, path, wanted, data, ttl)

    async def compare_and_delete(self, key: str, expected: str | bytes) -> bool:
        """Delete ``key`` if its value equals ``expected``, atomically across threads and processes.

        Raises:
            TypeError: ``expected`` is not ``bytes``/``str``, or ``key`` is not a ``str``.
            ValueError: ``key`` is empty.
            StoreError: the delete failed.
        """
        encoded_key, path = self._locate(key)
        wanted = check_expected_value(expected)
        return await _in_thread(self._directory.compare, encoded_key, path, wanted, None, None)

    async def keys(self) -> AsyncIterator[str]:
        """Yield the keys of this namespace (not of its children) that are not expired, listed in one pass.

        Raises:
            StoreError: the directory could not be read.
        """
        for key in await _in_thread(self._directory.keys):
            yield key

    async def count(self) -> int:
        """Return how many keys :meth:`keys` would yield."""
        return len(await _in_thread(self._directory.keys))

    async def namespaces(self) -> AsyncIterator[str]:
        """Yield the names of the child namespaces (sub-directories) whose tree holds a live entry, in one hop.

        Raises:
            StoreError: a directory could not be read.
        """
        for name in await _in_thread(self._directory.namespaces):
            yield name

    async def get_many(self, keys: Iterable[str]) -> dict[str, bytes | None]:
        """Return each key's value (``None`` for missing or expired keys), with at most one thread hop."""
        found, deferred = read_many_now([(key, *self._locate(key)) for key in keys])
        if deferred:
            found.update(await _in_thread(self._directory.get_many, deferred))
        return found

    async def set_many(self, mapping: Mapping[str, str | bytes], expires_in: TTL | None = None) -> None:
        """Store every item of ``mapping`` with the same expiry in one thread hop; all arguments are checked first.

        Each entry is replaced atomically. The values are written to temporary files first, then renamed into
        place under the directory's lock; if a write fails, the entries not yet renamed keep their old values.

        Raises:
            StoreError: a write failed.
        """
        expiry = expires_at(ttl_seconds(expires_in))
        items = [self._prepare(key, value, expiry) for key, value in mapping.items()]
        if items:
            await _in_thread(self._directory.write, items)

    async def delete_many(self, keys: Iterable[str]) -> None:
        """Delete every key of ``keys`` in one thread hop; missing keys are ignored."""
        paths = [self._locate(key)[1] for key in keys]
        if paths:
            await _in_thread(self._directory.delete, paths)

    async def ping(self) -> bool:
        """Return ``True`` if the directory exists (or could be created) and its lock file can be opened.

        Raises:
            StoreUnavailableError: the directory is not usable.
        """
        await _in_thread(self._directory.create)
        return True

    # --- helpers ------------------------------------------------------------------------------------------------

    def _locate(self, key: str) -> tuple[bytes, str]:
        """Return ``key`` as UTF-8 and the path of its entry file.

        Raises:
            TypeError, ValueError: ``key`` is not a non-empty ``str`` (or holds a lone surrogate).
        """
        check_key(key)
        path = f"{self._directory.path}/{entry_name(key)}"  # first: it names a key that is not UTF-8 text
        return key.encode(), path

    def _prepare(self, key: str, value: str | bytes, expiry: float) -> tuple[str, bytes]:
        encoded_key, path = self._locate(key)
        return path, pack_entry(encoded_key, encode_value(value), expiry)

    async def _expiry_of(self, key: str) -> float | None:
        """Return the expiry of a live ``key`` (0.0: never), ``None`` if missing, expired or corrupt."""
        encoded_key, path = self._locate(key)
        expiry = expiry_now(path, encoded_key)
        if expiry is not TO_THREAD:
            return expiry
        return await _in_thread(self._directory.expiry, path, encoded_key)


def _url_directory(url: str) -> str:
    """``file://./relative`` and ``file://relative`` are relative to the working directory, ``file:///abs`` is not.

    Raises:
        ValueError: the URL names no directory.
    """
    parts = split_url(url)
    path = parts.path if parts.netloc in ("", "localhost") else parts.netloc + parts.path
    if not path:
        raise ValueError(f"A file:// URL needs a directory, got {redact_url(url)!r}")
    return path
