"""The blocking work of every :class:`~litestar_kvstores.file.FileStore` operation, run in a worker thread.

A :class:`Directory` is one store directory (a namespace); each of its public methods is the whole blocking part
of one store operation, so an operation costs one thread hop at most.

- **Atomic writes.** A value is written to a temporary file in the entry's directory, then renamed over the entry,
  so a reader sees the old or the new value, never a partial one. A failed write removes its temporary files and
  leaves the old value intact.
- **Process safety.** Every write that replaces or removes an entry holds the directory's lock (a thread lock plus
  ``flock`` on the directory's ``%lock`` file), so ``incr``, renewals and the removal of expired or corrupt entries
  are atomic with respect to plain ``set``/``delete`` calls of every thread and process using the directory. Reads
  take no lock: renames are atomic.
- **Corruption.** An entry that reads as corrupt is read again under the lock and, if it still is, logged at
  WARNING and removed (only if no newer value replaced it meanwhile).
- **Errors.** Every ``OSError`` leaves through :class:`~._file.errors.FileErrors` as a ``StoreError`` naming the path.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext, suppress
from functools import partial
from typing import TypeVar, TypeVarTuple

from ..validation import NAMESPACE_PATTERN, add_to_counter
from .errors import FileErrors, StoreDirectoryNotFoundError
from .format import (
    EXPIRY,
    EXPIRY_OFFSET,
    HEADER_SIZE,
    TEMP_PREFIX,
    CorruptEntryError,
    entry_name,
    expires_at,
    is_entry_name,
    is_expired,
    pack_entry,
    parse_header,
    peek_expiry,
)
from .os_calls import (
    DIRECTORY_FLAGS,
    READ_FLAGS,
    UPDATE_FLAGS,
    DirectoryLock,
    directory_lock,
    fill_temp,
    fsync_directory,
    install,
    open_temp,
    read_entry,
    remove_swapped_out,
    scan_lock,
    swap_in,
    write_temp,
)

__all__ = ("Directory",)

logger = logging.getLogger("litestar_kvstores.file")
"""Named after the public module: that is the logger users configure."""

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")

_LOCK_BATCH = 256
"""How many entries ``delete_expired``/``delete_all`` handle per hold of a directory's lock."""

_STALE_TEMP_SECONDS = 3600.0
"""Temporary files older than this were left by a crashed writer; ``delete_expired`` removes them."""

_ORPHAN_TEMP_SECONDS = 10.0
"""Temporary files older than this whose writer process (the pid in the name) is gone on this host are removed by
``delete_expired``. The grace covers a writer this host cannot see (another pid namespace sharing the directory):
no write takes that long between creating its temporary file and renaming it."""

Entry = tuple[float, bytes | None]
"""``(expires_at, value)``; the value is ``None`` when only the header was read."""


def _open_entry(path: str, flags: int) -> int | None:
    """Open an entry file; ``None`` if it (or its directory) does not exist."""
    try:
        return os.open(path, flags)
    except FileNotFoundError:
        return None


class Directory:
    """One store directory and the blocking operations on it.

    Args:
        path: The absolute directory.
        fsync: Flush every written file and the directory to the disk before a write returns.
        create_parents: Create missing parent directories too; otherwise only the directory itself is created and a
            missing parent raises :class:`~._file.errors.StoreDirectoryNotFoundError`.

    Every method raises ``StoreError`` naming the path when the file system fails (``StoreUnavailableError`` for
    :meth:`create`).
    """

    __slots__ = ("_errors", "create_parents", "fsync", "path")

    def __init__(self, path: str, *, fsync: bool, create_parents: bool) -> None:
        self.path = path
        self.fsync = fsync
        self.create_parents = create_parents
        self._errors = FileErrors(path)

    def child(self, name: str) -> Directory:
        """Return the directory of the child namespace ``name`` (a valid namespace name), with the same settings."""
        return Directory(os.path.join(self.path, name), fsync=self.fsync, create_parents=self.create_parents)

    # --- creating the directory ------------------------------------------------------------------------------

    def create(self) -> None:
        """Create the directory (see :meth:`_make`) and open its lock file.

        Raises:
            StoreUnavailableError: the directory is not usable (a ``FileNotFoundError`` too for a missing parent
                with ``create_parents=False``).
        """
        with FileErrors(self.path, unavailable=True):
            self._make()
            directory_lock(self.path)

    def _make(self) -> None:
        """Create the directory, with its parents only if ``create_parents`` (Litestar's ``create_directories``)."""
        if self.create_parents:
            os.makedirs(self.path, exist_ok=True)
            return
        try:
            os.mkdir(self.path)
        except FileExistsError:
            pass
        except FileNotFoundError:
            raise StoreDirectoryNotFoundError(self.path) from None

    def _creating(self, action: Callable[[*_Ts], _T], *args: *_Ts) -> _T:
        """Return ``action(*args)``; if it finds the directory missing, create the directory and call it again."""
        try:
            return action(*args)
        except FileNotFoundError:
            self._make()
            return action(*args)

    def _lock(self) -> DirectoryLock:
        """Return this directory's lock, creating the directory if needed (raises ``OSError``)."""
        return self._creating(directory_lock, self.path)

    # --- writes ------------------------------------------------------------------------------------------------

    def write(self, items: list[tuple[str, bytes]], locked: bool = False) -> None:
        """Write each ``(path, file content)`` atomically, in order; the renames happen under the lock.

        Raises:
            StoreError: a write failed; that entry and the following ones keep their old values.
        """
        temps: list[str] = []
        installed = 0
        try:
            with self._errors:
                for _, payload in items:
                    temps.append(self._creating(write_temp, self.path, payload, self.fsync))
                guard: AbstractContextManager[None] = nullcontext() if locked else self._lock()
                with guard:
                    for temp, (path, _) in zip(temps, items, strict=True):
                        install(temp, path)
                        installed += 1
                if self.fsync:
                    fsync_directory(self.path)
        finally:
            for temp in temps[installed:]:
                with suppress(OSError):
                    os.unlink(temp)

    def delete(self, paths: list[str]) -> None:
        """Remove the entries at ``paths``; missing ones are ignored."""
        present = [path for path in paths if os.path.lexists(path)]
        if not present:
            return  # nothing to delete: no lock, no directory (the "delete" row of benchmarks.bench_file)
        with self._errors:
            with self._lock():
                for path in present:
                    with suppress(FileNotFoundError):
                        os.unlink(path)
            if self.fsync:
                fsync_directory(self.path)

    def compare(
        self, encoded_key: bytes, path: str, expected: bytes | None, value: bytes | None, ttl: float | None
    ) -> bool:
        """Under the lock: if the live value at ``path`` is ``expected`` (``None``: no live entry), write ``value``
        with expiry ``ttl``, or delete the entry when ``value`` is ``None``.

        Returns:
            Whether it wrote or deleted.

        Raises:
            StoreError: the write or the delete failed; the entry is left as it was.
        """
        with self._errors, self._lock():
            current = self._read(path, encoded_key, whole=True, locked=True, remove_expired=False)
            if (None if current is None else current[1]) != expected:
                return False
            if value is not None:
                self.write([(path, pack_entry(encoded_key, value, expires_at(ttl)))], locked=True)
                return True
            os.unlink(path)
            if self.fsync:
                fsync_directory(self.path)
        return True

    def incr(self, key: str, encoded_key: bytes, path: str, amount: int, ttl: float | None) -> int:
        """Add ``amount`` to the counter at ``path`` under the lock; a new counter expires in ``ttl`` seconds.

        Raises:
            ValueError: the stored value is not an integer.
        """
        return self._count([(key, encoded_key, path, amount, ttl)])[0]

    def incr_and_read(
        self, counters: list[tuple[str, bytes, str, float | None]], reads: list[tuple[bytes, str]]
    ) -> tuple[list[int], list[bytes | None]]:
        """Add 1 to each ``(key, encoded key, path, ttl)`` counter under one hold of the lock, then read each
        ``(encoded key, path)`` of ``reads``.

        Raises:
            ValueError: a stored counter is not an integer (nothing is written).
        """
        counted = self._count([(key, encoded, path, 1, ttl) for key, encoded, path, ttl in counters])
        return counted, [self.read_value(path, key) for key, path in reads]

    def _count(self, counters: list[tuple[str, bytes, str, int, float | None]]) -> list[int]:
        """Add each ``amount`` to its ``(key, encoded key, path, amount, ttl)`` counter under one hold of the lock.

        The temporary files of the new entries are created before the lock is taken and only filled under it:
        creating a file is most of a write's time, and under the lock it serialises every process counting
        (``bench_rate_limit``, file, two processes).

        Raises:
            ValueError: a stored counter is not an integer (nothing is written).
            StoreError: a write failed; that counter and the following ones keep their values.
        """
        opened: list[tuple[int, str]] = []
        installed: list[bool] = []  # per counter in place: whether its old file waits at its temporary path
        try:
            with self._errors:
                for _ in counters:
                    opened.append(self._creating(open_temp, self.path))  # noqa: PERF401 (one by one: removed if the next fails)
                with self._lock():
                    values = []
                    for (fd, _), (key, encoded_key, path, amount, ttl) in zip(opened, counters, strict=True):
                        value, payload = self._next_count(key, encoded_key, path, amount, ttl)
                        fill_temp(fd, payload, self.fsync)
                        values.append(value)
                    for (_, temp), (_, _, path, _, _) in zip(opened, counters, strict=True):
                        installed.append(swap_in(temp, path))
                # The old files are removed once the lock is free: freeing a file's blocks is the costliest step of
                # the update, and under the lock it held up every other process counting (bench_rate_limit, file,
                # two processes). _next_count refused a directory at an entry's path, so none is swapped out here
                # but one a foreign program made meanwhile.
                for (_, temp), (_, _, path, _, _), swapped in zip(opened, counters, installed, strict=False):
                    if swapped:
                        remove_swapped_out(temp, path)
                if self.fsync:
                    fsync_directory(self.path)
            return values
        finally:
            for position, (fd, temp) in enumerate(opened):
                os.close(fd)
                if position >= len(installed):
                    with suppress(OSError):
                        os.unlink(temp)

    def _next_count(self, key: str, encoded_key: bytes, path: str, amount: int, ttl: float | None) -> tuple[int, bytes]:
        """Return the counter at ``path`` plus ``amount`` and the entry to write (call under the lock).

        Raises:
            ValueError: the stored value is not an integer.
        """
        current = self._read(path, encoded_key, whole=True, locked=True, remove_expired=False, refuse_directory=True)
        if current is None:
            value, expiry = amount, expires_at(ttl)
        else:
            value = add_to_counter(key, current[1] or b"", amount)
            expiry = current[0]  # a window starts at the counter's creation
        return value, pack_entry(encoded_key, str(value).encode(), expiry)

    # --- reads -------------------------------------------------------------------------------------------------

    def get(self, path: str, key: bytes, renew: float | None) -> bytes | None:
        """Return the live value at ``path``; with ``renew``, rewrite an expiring entry's expiry in place first."""
        if renew is None:
            return self.read_value(path, key)
        with self._errors:
            try:
                lock = directory_lock(self.path)
            except FileNotFoundError:
                return None  # no directory, no entry
            with lock:
                fd = _open_entry(path, UPDATE_FLAGS)
                if fd is None:
                    return None
                try:
                    entry = self._load(fd, path, key, whole=True, locked=True, remove_expired=True)
                    if entry is None:
                        return None
                    if entry[0]:
                        os.pwrite(fd, EXPIRY.pack(time.time() + renew), EXPIRY_OFFSET)
                        if self.fsync:
                            os.fsync(fd)
                    return entry[1]
                finally:
                    os.close(fd)

    def read_value(self, path: str, key: bytes) -> bytes | None:
        """Return the live value at ``path``, ``None`` if missing, expired or corrupt (both removed)."""
        with self._errors:
            entry = self._read(path, key, whole=True, locked=False, remove_expired=True)
        return None if entry is None else entry[1]

    def get_many(self, items: list[tuple[str, bytes, str]]) -> dict[str, bytes | None]:
        """Return the live value of each ``(key, encoded key, path)``, by key."""
        return {key: self.read_value(path, encoded_key) for key, encoded_key, path in items}

    def expiry(self, path: str, key: bytes) -> float | None:
        """Return the expiry (0.0: never) of the live entry at ``path``; ``None`` if missing, expired or corrupt."""
        with self._errors:
            entry = self._read(path, key, whole=False, locked=False, remove_expired=False)
        return None if entry is None else entry[0]

    def _read(
        self, path: str, key: bytes, *, whole: bool, locked: bool, remove_expired: bool, refuse_directory: bool = False
    ) -> Entry | None:
        """Open and :meth:`_load` the entry at ``path``; ``None`` if there is none (raises ``OSError``)."""
        fd = _open_entry(path, READ_FLAGS)
        if fd is None:
            return None
        try:
            return self._load(
                fd,
                path,
                key,
                whole=whole,
                locked=locked,
                remove_expired=remove_expired,
                refuse_directory=refuse_directory,
            )
        finally:
            os.close(fd)

    def _load(
        self,
        fd: int,
        path: str,
        key: bytes,
        *,
        whole: bool,
        locked: bool,
        remove_expired: bool,
        refuse_directory: bool = False,
    ) -> Entry | None:
        """Read the entry open at ``fd``: ``(expires_at, value or None)``, or ``None`` if corrupt or expired.

        An entry that reads as corrupt (or as expired, with ``remove_expired``) is removed, see :meth:`recheck`.
        A directory at ``path`` reads as missing, or raises ``IsADirectoryError`` with ``refuse_directory`` (a write
        is about to replace the entry). A failed read raises ``OSError``.
        """
        try:
            entry = read_entry(fd, key, whole, nowait=False)
        except CorruptEntryError:
            pass
        except IsADirectoryError:
            if refuse_directory:
                raise IsADirectoryError(errno.EISDIR, "An entry's path is occupied by a directory", path) from None
            logger.warning("Ignoring %s: a directory where a store entry belongs", path)
            return None
        else:
            assert entry is not None  # a blocking read always decides
            if not is_expired(entry[0], time.time()):
                return entry
            if not remove_expired:
                return None
        return self.recheck(fd, path, key, whole, locked)

    def recheck(self, fd: int, path: str, key: bytes, whole: bool, locked: bool) -> Entry | None:
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
                    if not is_expired(entry[0], time.time()):
                        return entry
                _unlink_if_current(fd, path)
        except OSError as exc:  # a read must not fail because clean-up did
            logger.warning("Could not clean up store entry %s: %s", path, exc)
        return None

    # --- scans -------------------------------------------------------------------------------------------------

    def keys(self) -> list[str]:
        """Return the keys of the live entries of this directory (not of its children), reading no value."""
        with self._errors:
            names = _scan(self.path)[0]
            return _live_keys(self.path, names, time.time()) if names else []

    def namespaces(self) -> list[str]:
        """Return the names of the child namespaces whose tree holds a live entry, reading headers only."""
        with self._errors:
            children = _scan(self.path)[2]
            now = time.time()
            return [os.path.basename(child) for child in children if _tree_holds_live_entry(child, now)]

    def _walk(self) -> Iterator[tuple[str, list[str], list[str]]]:
        """Yield ``(directory, entry names, temporary file names)`` of this namespace and every child namespace."""
        pending = [self.path]
        while pending:
            directory = pending.pop()
            with FileErrors(directory):
                entries, temps, children = _scan(directory)
            pending.extend(children)
            yield directory, entries, temps

    def delete_all(self) -> None:
        """Remove every entry of this directory and its child namespaces; other files and directories stay."""
        for directory, entries, _ in self._walk():
            if entries:
                with FileErrors(directory):
                    _in_batches(directory, entries, _unlink_entries)
                    if self.fsync:
                        fsync_directory(directory)

    def delete_expired(self) -> int:
        """Remove the expired and corrupt entries and stale temporary files here and in child namespaces.

        Reads only each entry's header, through a directory descriptor, and takes the lock per batch of entries
        (protected by the "delete_expired 10k of 20k" row of ``python -m benchmarks.bench_file``).

        Returns:
            How many expired entries were removed (corrupt ones are logged, not counted).
        """
        now = time.time()
        removed = 0
        for directory, entries, temps in self._walk():
            if entries:
                with FileErrors(directory):
                    removed += _in_batches(directory, entries, partial(_remove_expired, now=now))
            _remove_stale_temps(directory, temps, now)
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
        if is_expired(expires_at, now):
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


def _live_keys(directory: str, names: list[str], now: float, limit: int | None = None) -> list[str]:
    """Return the keys of the live, well-formed entries ``names`` of ``directory``, reading only headers and keys;
    with ``limit``, stop after that many."""
    keys: list[str] = []
    dir_fd = os.open(directory, DIRECTORY_FLAGS)
    try:
        for name in names:
            if limit is not None and len(keys) >= limit:
                break
            try:
                header = _read_header(name, dir_fd)
            except CorruptEntryError:
                continue  # reads and delete_expired remove it
            if header is None:
                continue
            fd, expires_at, key_length = header
            try:
                if is_expired(expires_at, now):
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


def _tree_holds_live_entry(directory: str, now: float) -> bool:
    """Whether ``directory`` or a child namespace of it holds a live entry; stops at the first one found."""
    pending = [directory]
    while pending:
        current = pending.pop()
        entries, _, children = _scan(current)
        if entries and _live_keys(current, entries, now, limit=1):
            return True
        pending.extend(children)
    return False


def _remove_stale_temps(directory: str, names: list[str], now: float) -> None:
    """Remove the temporary files ``names`` of ``directory`` left by a crashed writer: older than
    ``_STALE_TEMP_SECONDS``, or older than ``_ORPHAN_TEMP_SECONDS`` with a writer process that is gone."""
    for name in names:
        path = os.path.join(directory, name)
        try:
            age = now - os.stat(path, follow_symlinks=False).st_mtime
            if age > _STALE_TEMP_SECONDS or (age > _ORPHAN_TEMP_SECONDS and not _writer_alive(name)):
                os.unlink(path)
        except OSError:
            pass


def _writer_alive(temp_name: str) -> bool:
    """Whether the process whose pid the temporary file's name ``%tmp-<pid>-<n>`` carries runs on this host
    (``True`` when the name carries no pid: such a file is left to the age bound)."""
    pid_text = temp_name[len(TEMP_PREFIX) :].partition("-")[0]
    if not (pid_text.isascii() and pid_text.isdigit()) or len(pid_text) > 9 or int(pid_text) == 0:
        return True
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, as another user
        return True
    return True
