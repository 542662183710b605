"""A persistent, process-safe store on the local file system: one file per entry, namespaces as sub-directories.

Layout and file format are described in :mod:`litestar_kvstores._file_format`. In short:

- **Atomic writes.** A value is written to a temporary file in the entry's directory, then renamed over the
  entry, so a reader sees the old or the new value, never a partial one. Any ``OSError`` of a write (full disk,
  file size limit, a directory where the entry belongs, ...) raises :class:`~litestar_kvstores.StoreError`
  naming the path; the temporary file is removed and the old value stays intact.
- **Corruption is detected.** Every entry carries its key and its lengths; a truncated, foreign or misplaced
  file reads as missing, is logged at WARNING and removed.
- **Process safety.** Every write that replaces or removes an entry holds the directory's lock (a thread lock
  plus ``flock`` on the directory's ``%lock`` file), so ``incr``, renewals and the removal of expired or corrupt
  entries are atomic with respect to plain ``set``/``delete`` calls of every thread and process using the
  directory. Reads take no lock: renames are atomic.
- **Cheap I/O.** Every operation does its blocking work in at most one worker-thread call (a thread pool of its
  own, about half the cost of ``run_in_executor`` per call). Reads (``get``, ``exists``, ``expires_in``,
  ``get_many``) of entries up to 512 KiB first try ``preadv(RWF_NOWAIT)`` on the event loop, which reads only
  what the page cache holds and never waits for the disk; only when that cannot serve them do they move to a
  thread (a thread hop costs more than such a read). Opening the file may still touch the disk for metadata
  that is not cached.
  ``delete_expired``, ``keys`` and ``count`` read the 28-byte header (and key) of each entry, never its value.
- **Durability.** By default data reaches the disk when the kernel writes it back; after a power loss a recent
  entry may be lost or read as corrupt (and then as missing), never as a wrong value. ``fsync=True`` flushes each
  written file and its directory before a write returns, at the cost of a disk round trip per write.

POSIX only (``fcntl``); on a case-insensitive file system keys that differ only in case share a file name and
the later one replaces the earlier.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext, suppress
from enum import Enum
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ._file_format import (
    EXPIRY,
    EXPIRY_OFFSET,
    HEADER_SIZE,
    TEMP_PREFIX,
    CorruptEntryError,
    entry_name,
    is_entry_name,
    pack_entry,
    parse_header,
    peek_expiry,
)
from ._file_sys import (
    DIRECTORY_FLAGS,
    POSIX,
    READ_FLAGS,
    UPDATE_FLAGS,
    DirectoryLock,
    directory_lock,
    fsync_directory,
    install,
    nowait_reads_supported,
    read_entry,
    scan_lock,
    write_temp,
)
from ._file_threads import run_in_worker
from .base import TTL, KVStore
from .errors import StoreError, StoreUnavailableError
from .validation import (
    NAMESPACE_PATTERN,
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

logger = logging.getLogger(__name__)

_LOCK_BATCH = 256
"""How many entries ``delete_expired``/``delete_all`` handle per hold of a directory's lock."""

_INLINE_BATCH = 32
"""``get_many`` of more keys than this reads in a worker thread, so the event loop is never held for long."""

_INLINE_BATCH_BYTES = 1 << 20
"""``get_many`` reads the rest in a worker thread once it has copied this much on the event loop."""

_STALE_TEMP_SECONDS = 3600.0
"""Temporary files older than this were left by a crashed writer; ``delete_expired`` removes them."""


class _Deferred(Enum):
    """The answer of a non-blocking read that could not decide without blocking."""

    TO_THREAD = 0


_TO_THREAD = _Deferred.TO_THREAD


_in_thread = run_in_worker
"""How every operation hops to a worker thread (one name, so that tests can count the hops)."""


def _store_error(action: str, path: str, exc: OSError) -> StoreError:
    return StoreError(f"Could not {action} {path}: {exc.strerror or exc}")


def _open_entry(path: str, flags: int) -> int | None:
    """Open an entry file; ``None`` if it (or its directory) does not exist."""
    try:
        return os.open(path, flags)
    except FileNotFoundError:
        return None


def _expired(expires_at: float, now: float) -> bool:
    return 0.0 < expires_at <= now


class FileStore(KVStore):
    """File based, namespaced, thread and process safe, asynchronous key/value store.

    Each namespace is a sub-directory of its parent's directory; the directories are created when first needed.
    See the module documentation for the guarantees and the on-disk layout.
    """

    __slots__ = ("_directory", "_fsync")

    def __init__(self, path: str | os.PathLike[str], *, namespace: str | None = None, fsync: bool = False) -> None:
        """Create a store in the directory ``path`` (or its sub-directory ``namespace``).

        Args:
            path: The store's directory; created with its parents when first needed.
            namespace: A namespace name; the store then lives in ``path/namespace``.
            fsync: Flush every written file and its directory to the disk before a write returns.

        Raises:
            ValueError: ``namespace`` is not a valid namespace name.
            NotImplementedError: not a POSIX system (Linux, macOS, BSD): the store needs ``flock``.
        """
        if not POSIX:
            raise NotImplementedError("FileStore needs a POSIX system (Linux, macOS, BSD)")
        directory = os.path.abspath(os.fspath(path))
        if namespace is not None:
            directory = os.path.join(directory, check_namespace(namespace))
        self._directory = directory
        self._fsync = fsync

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """``file:///abs/dir`` or ``file://./relative/dir`` (see :meth:`KVStore.from_url`)."""
        from .urls import _file_from_url

        return cast("Self", _file_from_url(url, **options))

    @property
    def path(self) -> Path:
        """The directory holding this namespace's entries."""
        return Path(self._directory)

    @property
    def address(self) -> str:
        """The absolute directory holding this namespace's entries."""
        return self._directory

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._directory!r})"

    def with_namespace(self, namespace: str) -> Self:
        """Return the store of the sub-directory ``namespace``, with the same settings.

        Raises:
            ValueError: ``namespace`` is empty or contains characters other than letters, digits, ``_-.``.
        """
        return type(self)(self._directory, namespace=namespace, fsync=self._fsync)

    async def __aenter__(self) -> Self:  # type: ignore[override]  # returning the store is more useful than None
        """Create the store's directory.

        Raises:
            StoreUnavailableError: the directory cannot be created.
        """
        await _in_thread(self._create_directory)
        return self

    # --- public operations --------------------------------------------------------------------------------------

    async def set(self, key: str, value: str | bytes, expires_in: TTL | None = None) -> None:
        """Store ``value`` under ``key``, replacing any previous value atomically.

        Raises:
            TypeError: ``key``, ``value`` or ``expires_in`` has a wrong type.
            ValueError: ``key`` is empty or ``expires_in`` is not positive.
            StoreError: the write failed; the previous value is left intact.
        """
        item = self._prepare(key, value, _expires_at(ttl_seconds(expires_in)))
        await _in_thread(self._write_sync, [item])

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
            value = self._get_now(path, encoded_key)
            if value is not _TO_THREAD:
                return value
        return await _in_thread(self._get_sync, path, encoded_key, renew)

    async def delete(self, key: str) -> None:
        """Delete ``key``; a missing key is a no-op.

        Raises:
            StoreError: the entry could not be removed.
        """
        await _in_thread(self._delete_sync, [self._locate(key)[1]])

    async def delete_all(self) -> None:
        """Delete every entry of this namespace and of its child namespaces.

        Directories, lock files and files other software put there are left alone.

        Raises:
            StoreError: an entry could not be removed.
        """
        await _in_thread(self._delete_all_sync)

    async def exists(self, key: str) -> bool:
        """Return ``True`` if ``key`` is stored and not expired."""
        return await self._expiry_of(key) is not None

    async def expires_in(self, key: str) -> int | None:
        """Return the whole seconds (rounded up) until ``key`` expires; ``None`` if missing, expired or unexpiring."""
        expires_at = await self._expiry_of(key)
        if not expires_at:
            return None
        return remaining_whole_seconds(expires_at - time.time())

    async def delete_expired(self) -> int:
        """Remove the expired entries of this namespace and its children and return how many were removed.

        Only the 28-byte header of each entry is read, never its value. Entries with a corrupt header are removed
        too (logged at WARNING, not counted; a truncated value is found by the next read of its key), other
        software's files and directories are skipped, and temporary files left by a crashed writer more than an
        hour ago are removed.

        Raises:
            StoreError: a directory could not be read or an entry could not be removed.
        """
        return await _in_thread(self._delete_expired_sync)

    async def incr(self, key: str, amount: int = 1, expires_in: TTL | None = None) -> int:
        """Atomically (across threads and processes) add ``amount`` to the counter ``key``; return the new value.

        A missing, expired or corrupt counter starts at 0 with expiry ``expires_in``; an existing one keeps its
        expiry.

        Raises:
            TypeError: ``amount`` is not an ``int``.
            ValueError: the stored value is not an integer.
            StoreError: the write failed; the previous value is left intact.
        """
        encoded_key, path = self._locate(key)
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise TypeError(f"amount must be int, not {type(amount).__name__}")
        ttl = ttl_seconds(expires_in)
        return await _in_thread(self._incr_sync, key, encoded_key, path, amount, ttl)

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
        return await _in_thread(self._compare_sync, encoded_key, path, wanted, data, ttl)

    async def compare_and_delete(self, key: str, expected: str | bytes) -> bool:
        """Delete ``key`` if its value equals ``expected``, atomically across threads and processes.

        Raises:
            TypeError: ``expected`` is not ``bytes``/``str``, or ``key`` is not a ``str``.
            ValueError: ``key`` is empty.
            StoreError: the delete failed.
        """
        encoded_key, path = self._locate(key)
        wanted = check_expected_value(expected)
        return await _in_thread(self._compare_sync, encoded_key, path, wanted, None, None)

    async def keys(self) -> AsyncIterator[str]:
        """Yield the keys of this namespace (not of its children) that are not expired, listed in one pass.

        Raises:
            StoreError: the directory could not be read.
        """
        for key in await _in_thread(self._keys_sync):
            yield key

    async def count(self) -> int:
        """Return how many keys :meth:`keys` would yield."""
        return len(await _in_thread(self._keys_sync))

    async def get_many(self, keys: Iterable[str]) -> dict[str, bytes | None]:
        """Return each key's value (``None`` for missing or expired keys), with at most one thread hop."""
        located = [(key, *self._locate(key)) for key in keys]
        found: dict[str, bytes | None] = {}
        deferred: list[tuple[str, bytes, str]] = []
        inline_bytes = _INLINE_BATCH_BYTES if len(located) <= _INLINE_BATCH else 0
        for key, encoded_key, path in located:
            value = self._get_now(path, encoded_key) if inline_bytes > 0 else _TO_THREAD
            if value is _TO_THREAD:
                deferred.append((key, encoded_key, path))
                found[key] = None  # keeps the callers' order
            else:
                found[key] = value
                inline_bytes -= len(value or b"")
        if deferred:
            found.update(await _in_thread(self._get_many_sync, deferred))
        return found

    async def set_many(self, mapping: Mapping[str, str | bytes], expires_in: TTL | None = None) -> None:
        """Store every item of ``mapping`` with the same expiry in one thread hop; all arguments are checked first.

        Each entry is replaced atomically. The values are written to temporary files first, then renamed into
        place under the directory's lock; if a write fails, the entries not yet renamed keep their old values.

        Raises:
            StoreError: a write failed.
        """
        expires_at = _expires_at(ttl_seconds(expires_in))
        items = [self._prepare(key, value, expires_at) for key, value in mapping.items()]
        if items:
            await _in_thread(self._write_sync, items)

    async def delete_many(self, keys: Iterable[str]) -> None:
        """Delete every key of ``keys`` in one thread hop; missing keys are ignored."""
        paths = [self._locate(key)[1] for key in keys]
        if paths:
            await _in_thread(self._delete_sync, paths)

    async def ping(self) -> bool:
        """Return ``True`` if the directory exists (or could be created) and its lock file can be opened.

        Raises:
            StoreUnavailableError: the directory is not usable.
        """
        await _in_thread(self._create_directory)
        return True

    # --- helpers of the event loop's side ---------------------------------------------------------------------

    def _locate(self, key: str) -> tuple[bytes, str]:
        """Return ``key`` as UTF-8 and the path of its entry file.

        Raises:
            TypeError, ValueError: ``key`` is not a non-empty ``str`` (or holds a lone surrogate).
        """
        check_key(key)
        return key.encode(), f"{self._directory}/{entry_name(key)}"

    def _prepare(self, key: str, value: str | bytes, expires_at: float) -> tuple[str, bytes]:
        encoded_key, path = self._locate(key)
        return path, pack_entry(encoded_key, encode_value(value), expires_at)

    @staticmethod
    def _get_now(path: str, key: bytes) -> bytes | _Deferred | None:
        """Read a live entry from the page cache without blocking; :data:`_TO_THREAD` for anything else."""
        if not nowait_reads_supported():
            return _TO_THREAD
        try:
            fd = os.open(path, READ_FLAGS)
        except FileNotFoundError:
            return None
        except OSError:
            return _TO_THREAD
        try:
            entry = read_entry(fd, key, whole=True, nowait=True)
        except (CorruptEntryError, OSError):
            return _TO_THREAD  # the thread logs and removes it, or raises
        finally:
            os.close(fd)
        if entry is None or _expired(entry[0], time.time()):
            return _TO_THREAD  # not cached, or expired and to be removed
        return entry[1]

    async def _expiry_of(self, key: str) -> float | None:
        """Return the expiry of a live ``key`` (0.0: never), ``None`` if missing, expired or corrupt."""
        encoded_key, path = self._locate(key)
        if nowait_reads_supported():
            try:
                fd = os.open(path, READ_FLAGS)
            except FileNotFoundError:
                return None
            except OSError:
                pass
            else:
                try:
                    entry = read_entry(fd, encoded_key, whole=False, nowait=True)
                except (CorruptEntryError, OSError):
                    entry = None
                finally:
                    os.close(fd)
                if entry is not None:
                    return None if _expired(entry[0], time.time()) else entry[0]
        return await _in_thread(self._expiry_sync, path, encoded_key)

    # --- blocking work, run in a worker thread ----------------------------------------------------------------

    def _create_directory(self) -> None:
        try:
            os.makedirs(self._directory, exist_ok=True)
            directory_lock(self._directory)
        except OSError as exc:
            raise StoreUnavailableError(f"The store directory {self._directory} is not usable: {exc}") from exc

    def _lock(self) -> DirectoryLock:
        """Return this directory's lock, creating the directory if needed (raises ``OSError``)."""
        try:
            return directory_lock(self._directory)
        except FileNotFoundError:
            os.makedirs(self._directory, exist_ok=True)
            return directory_lock(self._directory)

    def _write_temp(self, payload: bytes) -> str:
        try:
            return write_temp(self._directory, payload, self._fsync)
        except FileNotFoundError:
            os.makedirs(self._directory, exist_ok=True)
            return write_temp(self._directory, payload, self._fsync)

    def _write_sync(self, items: list[tuple[str, bytes]], locked: bool = False) -> None:
        """Write each ``(path, file content)`` atomically, in order; the renames happen under the lock.

        Raises:
            StoreError: a write failed; that entry and the following ones keep their old values.
        """
        temps: list[str] = []
        installed = 0
        path = self._directory
        try:
            for _, payload in items:
                temps.append(self._write_temp(payload))  # errors name the directory
            guard: AbstractContextManager[None] = nullcontext() if locked else self._lock()
            with guard:
                for temp, (path, _) in zip(temps, items, strict=True):
                    install(temp, path)
                    installed += 1
            if self._fsync:
                fsync_directory(self._directory)
        except OSError as exc:
            raise _store_error("write", path, exc) from exc
        finally:
            for temp in temps[installed:]:
                with suppress(OSError):
                    os.unlink(temp)

    def _load(
        self, fd: int, path: str, key: bytes, *, whole: bool, locked: bool, remove_expired: bool
    ) -> tuple[float, bytes | None] | None:
        """Read the entry open at ``fd``: ``(expires_at, value or None)``, or ``None`` if corrupt or expired.

        An entry that reads as corrupt (or as expired, with ``remove_expired``) is removed, see :meth:`_recheck`.

        Raises:
            StoreError: the read failed.
        """
        try:
            entry = read_entry(fd, key, whole, nowait=False)
        except CorruptEntryError:
            pass
        except IsADirectoryError:
            logger.warning("Ignoring %s: a directory where a store entry belongs", path)
            return None
        except OSError as exc:
            raise _store_error("read", path, exc) from exc
        else:
            assert entry is not None  # a blocking read always decides
            if not _expired(entry[0], time.time()):
                return entry
            if not remove_expired:
                return None
        return self._recheck(fd, path, key, whole, locked)

    def _recheck(self, fd: int, path: str, key: bytes, whole: bool, locked: bool) -> tuple[float, bytes | None] | None:
        """Read a doubtful entry again under the directory's lock; return it if it is fine after all, else remove it.

        Under the lock no renewal is rewriting the expiry (a read racing one could see a torn value) and no writer
        replaces the file, so an entry that still reads as corrupt or expired is removed, and only if ``path``
        still names the file open at ``fd``: a newer value is never undone.
        """
        try:
            guard: AbstractContextManager[None] = nullcontext() if locked else self._lock()
            with guard:
                try:
                    entry = read_entry(fd, key, whole, nowait=False)
                except CorruptEntryError as exc:
                    logger.warning("Removing corrupt store entry %s: %s", path, exc)
                else:
                    assert entry is not None
                    if not _expired(entry[0], time.time()):
                        return entry
                _unlink_if_current(fd, path)
        except OSError as exc:  # a read must not fail because clean-up did
            logger.warning("Could not clean up store entry %s: %s", path, exc)
        return None

    def _get_sync(self, path: str, key: bytes, renew: float | None) -> bytes | None:
        if renew is None:
            return self._read_value(path, key)
        try:
            lock = directory_lock(self._directory)
        except FileNotFoundError:
            return None  # no directory, no entry
        except OSError as exc:
            raise _store_error("lock", self._directory, exc) from exc
        with lock:
            try:
                fd = _open_entry(path, UPDATE_FLAGS)
            except OSError as exc:
                raise _store_error("open", path, exc) from exc
            if fd is None:
                return None
            try:
                entry = self._load(fd, path, key, whole=True, locked=True, remove_expired=True)
                if entry is None:
                    return None
                if entry[0]:
                    os.pwrite(fd, EXPIRY.pack(time.time() + renew), EXPIRY_OFFSET)
                    if self._fsync:
                        os.fsync(fd)
                return entry[1]
            except OSError as exc:
                raise _store_error("renew", path, exc) from exc
            finally:
                os.close(fd)

    def _read(
        self, path: str, key: bytes, *, whole: bool, locked: bool, remove_expired: bool
    ) -> tuple[float, bytes | None] | None:
        """Open and :meth:`_load` the entry at ``path``; ``None`` if there is none."""
        try:
            fd = _open_entry(path, READ_FLAGS)
        except OSError as exc:
            raise _store_error("open", path, exc) from exc
        if fd is None:
            return None
        try:
            return self._load(fd, path, key, whole=whole, locked=locked, remove_expired=remove_expired)
        finally:
            os.close(fd)

    def _read_value(self, path: str, key: bytes) -> bytes | None:
        entry = self._read(path, key, whole=True, locked=False, remove_expired=True)
        return None if entry is None else entry[1]

    def _get_many_sync(self, items: list[tuple[str, bytes, str]]) -> dict[str, bytes | None]:
        return {key: self._read_value(path, encoded_key) for key, encoded_key, path in items}

    def _expiry_sync(self, path: str, key: bytes) -> float | None:
        entry = self._read(path, key, whole=False, locked=False, remove_expired=False)
        return None if entry is None else entry[0]

    def _delete_sync(self, paths: list[str]) -> None:
        present = [path for path in paths if os.path.lexists(path)]
        if not present:
            return  # nothing to delete: no need to lock (or to create the directory)
        path = self._directory
        try:
            with self._lock():
                for path in present:
                    with suppress(FileNotFoundError):
                        os.unlink(path)
            if self._fsync:
                fsync_directory(self._directory)
        except OSError as exc:
            raise _store_error("delete", path, exc) from exc

    def _incr_sync(self, key: str, encoded_key: bytes, path: str, amount: int, ttl: float | None) -> int:
        try:
            lock = self._lock()
        except OSError as exc:
            raise _store_error("lock", self._directory, exc) from exc
        with lock:
            current = self._read(path, encoded_key, whole=True, locked=True, remove_expired=False)
            if current is None:
                value, expires_at = amount, _expires_at(ttl)
            else:
                try:
                    value = int(current[1] or b"") + amount
                except ValueError:
                    raise ValueError(f"The value of {key!r} is not an integer and cannot be incremented") from None
                expires_at = current[0]  # a window starts at the counter's creation
            self._write_sync([(path, pack_entry(encoded_key, str(value).encode(), expires_at))], locked=True)
        return value

    def _compare_sync(
        self, encoded_key: bytes, path: str, expected: bytes | None, value: bytes | None, ttl: float | None
    ) -> bool:
        """Under the directory lock: if the live value at ``path`` is ``expected`` (``None``: no live entry), write
        ``value`` with expiry ``ttl``, or delete the entry when ``value`` is ``None``. Returns whether it did."""
        try:
            lock = self._lock()
        except OSError as exc:
            raise _store_error("lock", self._directory, exc) from exc
        with lock:
            current = self._read(path, encoded_key, whole=True, locked=True, remove_expired=False)
            if (None if current is None else current[1]) != expected:
                return False
            if value is not None:
                self._write_sync([(path, pack_entry(encoded_key, value, _expires_at(ttl)))], locked=True)
                return True
            try:
                os.unlink(path)
                if self._fsync:
                    fsync_directory(self._directory)
            except OSError as exc:
                raise _store_error("delete", path, exc) from exc
        return True

    def _keys_sync(self) -> list[str]:
        try:
            names = _scan(self._directory)[0]
            if not names:
                return []
            return _live_keys(self._directory, names, time.time())
        except OSError as exc:
            raise _store_error("list", self._directory, exc) from exc

    def _walk(self) -> Iterator[tuple[str, list[str], list[str]]]:
        """Yield ``(directory, entry names, temporary file names)`` of this namespace and every child namespace."""
        pending = [self._directory]
        while pending:
            directory = pending.pop()
            entries, temps, children = _scan(directory)
            pending.extend(children)
            yield directory, entries, temps

    def _delete_all_sync(self) -> None:
        directory = self._directory
        try:
            for directory, entries, _ in self._walk():
                if entries:
                    _in_batches(directory, entries, _unlink_entries)
                    if self._fsync:
                        fsync_directory(directory)
        except OSError as exc:
            raise _store_error("delete entries in", directory, exc) from exc

    def _delete_expired_sync(self) -> int:
        now = time.time()
        removed = 0
        directory = self._directory
        try:
            for directory, entries, temps in self._walk():
                if entries:
                    removed += _in_batches(directory, entries, partial(_remove_expired, now=now))
                _remove_stale_temps(directory, temps, now)
        except OSError as exc:
            raise _store_error("delete expired entries in", directory, exc) from exc
        return removed


# --- helpers of the worker threads ------------------------------------------------------------------------------


def _unlink_if_current(fd: int, path: str) -> None:
    """Remove ``path`` if it still names the file open at ``fd`` (which keeps its inode number from being reused)."""
    try:
        current = os.stat(path)
    except FileNotFoundError:
        return
    opened = os.fstat(fd)
    if (current.st_dev, current.st_ino) == (opened.st_dev, opened.st_ino):
        os.unlink(path)


def _expires_at(ttl: float | None) -> float:
    return 0.0 if ttl is None else time.time() + ttl


def _scan(directory: str) -> tuple[list[str], list[str], list[str]]:
    """Return the entry names, temporary file names and child namespace paths of ``directory`` (empty if missing)."""
    entries: list[str] = []
    temps: list[str] = []
    children: list[str] = []
    try:
        with os.scandir(directory) as scan:
            for item in scan:
                name = item.name
                if is_entry_name(name):
                    entries.append(name)
                elif name.startswith(TEMP_PREFIX):
                    temps.append(name)
                elif NAMESPACE_PATTERN.fullmatch(name) and item.is_dir(follow_symlinks=False):
                    children.append(item.path)
    except FileNotFoundError:
        pass
    return entries, temps, children


def _in_batches(directory: str, names: list[str], action: Callable[[list[str], int], int]) -> int:
    """Call ``action(batch of names, directory fd)`` under the directory's lock, released between batches.

    Returns:
        The sum of what the calls returned.
    """
    dir_fd = os.open(directory, DIRECTORY_FLAGS)
    done = 0
    try:
        with scan_lock(directory) as lock:
            for start in range(0, len(names), _LOCK_BATCH):
                with lock:
                    done += action(names[start : start + _LOCK_BATCH], dir_fd)
    finally:
        os.close(dir_fd)
    return done


def _unlink_entries(names: list[str], dir_fd: int) -> int:
    """Remove the entries ``names``; return how many were there (another program's directories are skipped)."""
    removed = 0
    for name in names:
        try:
            os.unlink(name, dir_fd=dir_fd)
        except (FileNotFoundError, IsADirectoryError):
            continue
        removed += 1
    return removed


def _remove_expired(names: list[str], dir_fd: int, now: float) -> int:
    """Remove the entries ``names`` that expired by ``now`` or whose header is corrupt (the lock held).

    Only the header of each entry is read. Returns how many expired entries were removed.
    """
    removed = 0
    for name in names:
        try:
            fd = os.open(name, READ_FLAGS, dir_fd=dir_fd)
        except FileNotFoundError:
            continue
        try:
            header = os.read(fd, HEADER_SIZE)
        except IsADirectoryError:  # another program's directory
            continue
        finally:
            os.close(fd)
        try:
            expires_at = peek_expiry(header)
        except CorruptEntryError as exc:
            logger.warning("Removing corrupt store entry %s: %s", name, exc)
            _unlink_entries([name], dir_fd)
            continue
        if 0.0 < expires_at <= now:
            removed += _unlink_entries([name], dir_fd)
    return removed


def _read_header(name: str, dir_fd: int) -> tuple[int, float, int] | None:
    """Open ``name`` and read its header: ``(fd, expires_at, key length)``; ``None`` if it is gone or not a file.

    The caller closes the returned descriptor.

    Raises:
        CorruptEntryError: the file is not a complete entry (the descriptor is closed).
    """
    try:
        fd = os.open(name, READ_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    try:
        expires_at, key_length = parse_header(os.read(fd, HEADER_SIZE), os.fstat(fd).st_size)
    except IsADirectoryError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd, expires_at, key_length


def _live_keys(directory: str, names: list[str], now: float) -> list[str]:
    """Return the keys of the live, well-formed entries ``names`` of ``directory``, reading only headers and keys."""
    keys: list[str] = []
    dir_fd = os.open(directory, DIRECTORY_FLAGS)
    try:
        for name in names:
            try:
                header = _read_header(name, dir_fd)
            except CorruptEntryError:
                continue  # reads and delete_expired remove it
            if header is None:
                continue
            fd, expires_at, key_length = header
            try:
                if _expired(expires_at, now):
                    continue
                raw_key = os.pread(fd, key_length, HEADER_SIZE)
            finally:
                os.close(fd)
            try:
                key = raw_key.decode()
            except UnicodeDecodeError:
                continue
            if entry_name(key) == name:
                keys.append(key)
    finally:
        os.close(dir_fd)
    return keys


def _remove_stale_temps(directory: str, names: list[str], now: float) -> None:
    """Remove the temporary files ``names`` of ``directory`` that are older than a writer can take."""
    for name in names:
        path = os.path.join(directory, name)
        try:
            if os.stat(path, follow_symlinks=False).st_mtime < now - _STALE_TEMP_SECONDS:
                os.unlink(path)
        except OSError:
            pass
