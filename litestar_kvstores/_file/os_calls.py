"""Operating-system primitives of :class:`~litestar_kvstores.file.FileStore`, all synchronous and POSIX-only.

- :func:`directory_lock`: mutual exclusion per directory across threads *and* processes.
- :func:`write_temp` + :func:`install`: atomic replacement of an entry file.
- :func:`read_entry`: read an entry, optionally only from the page cache (never blocking on the disk).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import itertools
import os
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from types import TracebackType

from .format import HEADER_SIZE, LOCK_NAME, TEMP_PREFIX, CorruptEntryError, parse_header

if sys.platform != "win32":
    import fcntl

__all__ = (
    "DIRECTORY_FLAGS",
    "POSIX",
    "READ_FLAGS",
    "UPDATE_FLAGS",
    "DirectoryLock",
    "directory_lock",
    "fsync_directory",
    "install",
    "nowait_reads_supported",
    "read_entry",
    "remove_swapped_out",
    "scan_lock",
    "swap_in",
    "write_temp",
)

POSIX = os.name == "posix"
"""``flock``, ``O_NONBLOCK`` and friends are there; elsewhere the file store refuses to start."""

_OPEN_FLAGS = getattr(os, "O_CLOEXEC", 0)
DIRECTORY_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _OPEN_FLAGS
"""Flags to open a directory for ``dir_fd``-relative calls and ``fsync``."""
_FILE_MODE = 0o600  # entries may hold session data: readable by the owner only

# --- locking -------------------------------------------------------------------------------------------------


class DirectoryLock:
    """An exclusive lock on one directory, held by one thread of one process at a time.

    ``flock`` excludes other processes, but it belongs to the open file description, which every thread of this
    process shares, so a ``threading.Lock`` excludes the other threads first.
    """

    __slots__ = ("_directory", "_fd", "_thread_lock")

    def __init__(self, directory: str) -> None:
        self._directory = directory
        self._thread_lock = threading.Lock()
        self._fd = self._open()

    def _open(self) -> int:
        return os.open(os.path.join(self._directory, LOCK_NAME), os.O_RDWR | os.O_CREAT | _OPEN_FLAGS, _FILE_MODE)

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            if os.fstat(self._fd).st_nlink == 0:
                # Someone removed the lock file (e.g. deleted the whole directory): lock the file others now use.
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
                self._fd = self._open()
                fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, exc_tb: TracebackType | None
    ) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    def close(self) -> None:
        """Close the lock file (in a forked child: the parent's lock, if held, stays with the parent)."""
        with contextlib.suppress(OSError):
            os.close(self._fd)


_locks: dict[str, DirectoryLock] = {}
_locks_guard = threading.Lock()


def directory_lock(directory: str) -> DirectoryLock:
    """Return this process's lock of ``directory`` (an absolute, normalised path), creating its lock file.

    Raises:
        FileNotFoundError: ``directory`` does not exist.
        OSError: the lock file cannot be opened.
    """
    lock = _locks.get(directory)
    if lock is None:
        with _locks_guard:
            lock = _locks.get(directory)
            if lock is None:
                lock = _locks[directory] = DirectoryLock(directory)
    return lock


@contextlib.contextmanager
def scan_lock(directory: str) -> Iterator[DirectoryLock]:
    """Yield this process's lock of ``directory`` if it has one, else a temporary lock closed afterwards.

    Walks over many namespace directories use this so that the process does not keep a descriptor open for each.
    A temporary lock has its own open file description, so its ``flock`` still excludes every other lock of the
    directory, this process's cached one included.
    """
    lock = _locks.get(directory)
    if lock is not None:
        yield lock
        return
    temporary = DirectoryLock(directory)
    try:
        yield temporary
    finally:
        temporary.close()


def _forget_locks_in_child() -> None:
    # A forked child shares the parent's open file descriptions, so the parent's flocks would not exclude it.
    global _locks_guard
    for lock in _locks.values():
        lock.close()
    _locks.clear()
    _locks_guard = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_locks_in_child)

# --- atomic writes -------------------------------------------------------------------------------------------

_temp_counter = itertools.count()


def write_temp(directory: str, payload: bytes, fsync: bool) -> str:
    """Write ``payload`` to a new temporary file in ``directory`` and return its path.

    Short writes are continued; on any error the temporary file is removed before the error propagates.

    Raises:
        FileNotFoundError: ``directory`` does not exist.
        OSError: the file could not be created or written (``ENOSPC``, ``EFBIG``, ``EDQUOT``, ...).
    """
    fd, path = open_temp(directory)
    try:
        try:
            fill_temp(fd, payload, fsync)
        finally:
            os.close(fd)
    except BaseException:
        _unlink_quietly(path)
        raise
    return path


def open_temp(directory: str) -> tuple[int, str]:
    """Create a new, empty temporary file in ``directory``; return its open descriptor (write only) and its path.

    Raises:
        FileNotFoundError: ``directory`` does not exist.
        OSError: the file could not be created.
    """
    while True:
        path = f"{directory}/{TEMP_PREFIX}{os.getpid()}-{next(_temp_counter)}"
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _OPEN_FLAGS, _FILE_MODE), path
        except FileExistsError:  # left behind by a crashed process that had our pid
            continue


def fill_temp(fd: int, payload: bytes, fsync: bool) -> None:
    """Write all of ``payload`` to the temporary file ``fd`` (continuing short writes), and flush it with ``fsync``.

    Raises:
        OSError: the write failed (``ENOSPC``, ``EFBIG``, ``EDQUOT``, ...).
    """
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view) :]
    if fsync:
        os.fsync(fd)


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _load_renameat2() -> Callable[[str, str], bool] | None:
    """Return ``exchange(a, b)`` over Linux's ``renameat2(RENAME_EXCHANGE)``, or ``None`` where unavailable."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    at_fdcwd, rename_exchange = -100, 2

    def exchange(first: str, second: str) -> bool:
        """Atomically swap two paths; ``False`` if ``second`` does not exist.

        Raises:
            NotImplementedError: the file system does not support the exchange.
            OSError: any other failure.
        """
        if renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange) == 0:
            return True
        code = ctypes.get_errno()
        if code == errno.ENOENT:
            return False
        if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise NotImplementedError
        raise OSError(code, os.strerror(code), second)

    return exchange


_exchange = _load_renameat2()


def install(temp: str, target: str) -> None:
    """Atomically make the file ``temp`` the entry ``target``; readers see the old or the new file, never neither.

    Where the file system can, the two paths are exchanged and the old file (now at ``temp``) is removed: a plain
    rename over an existing file makes ext4 flush the new file's data first (``auto_da_alloc``), which costs more
    than the rest of a write; the entry format detects any data a crash loses instead. Protected by the "set 100 B"
    and "set 64 KiB" rows of ``python -m benchmarks.bench_file``.

    Raises:
        OSError: the rename failed (e.g. ``target`` is a directory); nothing was changed.
    """
    if swap_in(temp, target):
        remove_swapped_out(temp, target)


def swap_in(temp: str, target: str) -> bool:
    """Atomically make the file ``temp`` the entry ``target``, as :func:`install`, but leave the old file at
    ``temp``: return ``True`` when it is there, for :func:`remove_swapped_out` (which need not hold the lock).

    Raises:
        OSError: the rename failed; nothing was changed.
    """
    global _exchange
    if _exchange is not None:
        try:
            if _exchange(temp, target):
                return True
        except NotImplementedError:
            _exchange = None
    os.replace(temp, target)  # a new entry, or a file system without the exchange
    return False


def remove_swapped_out(temp: str, target: str) -> None:
    """Remove the old file that :func:`swap_in` left at ``temp``.

    Raises:
        IsADirectoryError: it was a foreign directory at the entry's path; it is put back at ``target``.
    """
    try:
        os.unlink(temp)
    except IsADirectoryError:  # swapped a foreign directory away from the entry's path: put it back
        assert _exchange is not None  # only swap_in's exchange leaves an old file at temp
        _exchange(temp, target)
        raise IsADirectoryError(errno.EISDIR, "An entry's path is occupied by a directory", target) from None
    except OSError:
        pass  # the new entry is in place; delete_expired removes the stale temporary file later


def fsync_directory(directory: str) -> None:
    """Flush ``directory``'s entries (a rename or removal) to the disk."""
    fd = os.open(directory, DIRECTORY_FLAGS)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- reads ---------------------------------------------------------------------------------------------------

_CHECK_HEADER_FIRST = 1 << 20
"""Files larger than this have their header checked before the whole file is read."""

_NOWAIT_MAX_BYTES = 1 << 19
"""Larger entries are never read on the event loop, even from the page cache: copying them would hold it up."""

_NOWAIT: int | None = getattr(os, "RWF_NOWAIT", None) if hasattr(os, "preadv") else None
_nowait_unsupported: set[int] = set()
"""Devices (``st_dev``) whose file system rejected ``RWF_NOWAIT``: read them in a thread."""

READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | _OPEN_FLAGS
"""Flags to open an entry for reading (``O_NONBLOCK``: a foreign FIFO at an entry's path must not hang us)."""
UPDATE_FLAGS = os.O_RDWR | getattr(os, "O_NONBLOCK", 0) | _OPEN_FLAGS
"""Flags to open an entry for reading and rewriting its expiry in place."""


def nowait_reads_supported() -> bool:
    """Return ``True`` if reads from the page cache that never block on the disk may be available."""
    return _NOWAIT is not None


def _read_exactly(fd: int, size: int, device: int, nowait: bool) -> bytearray | None:
    """Read the first ``size`` bytes of ``fd``; ``None`` if ``nowait`` and they are not all in the page cache."""
    buffer = bytearray(size)
    if nowait:
        if _NOWAIT is None or device in _nowait_unsupported:
            return None
        try:
            got = os.preadv(fd, [buffer], 0, _NOWAIT)
        except BlockingIOError:
            return None
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                raise
            _nowait_unsupported.add(device)
            return None
        return buffer if got == size else None
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = os.preadv(fd, [view[got:]], got)
        if n == 0:
            return buffer[:got]  # the file shrank: parse_header reports the mismatch
        got += n
    return buffer


def read_entry(fd: int, key: bytes, whole: bool, nowait: bool) -> tuple[float, bytes | None] | None:
    """Read and check the entry open at ``fd``, which must belong to ``key``.

    Args:
        fd: An open entry file.
        key: The UTF-8 key the entry must hold.
        whole: Read the value too; otherwise only the header and the key are read.
        nowait: Only read what the page cache holds, never wait for the disk, and no large value at all.

    Returns:
        ``(expires_at, value)`` (``value`` is ``None`` unless ``whole``), or ``None`` if ``nowait`` and the data
        is not cached or the value is large.

    Raises:
        CorruptEntryError: the file is not a complete entry of ``key``.
        OSError: the read failed.
    """
    status = os.fstat(fd)
    if not stat.S_ISREG(status.st_mode):
        if stat.S_ISDIR(status.st_mode):
            raise IsADirectoryError(errno.EISDIR, "A directory where a store entry belongs")
        raise CorruptEntryError("not a regular file")
    size, device = status.st_size, status.st_dev
    if nowait and whole and size > _NOWAIT_MAX_BYTES:
        return None
    prefix = HEADER_SIZE + len(key)
    if whole and size > _CHECK_HEADER_FIRST:
        # a large file: make sure it is ours before reading all of it
        header = _read_exactly(fd, min(size, prefix), device, nowait)
        if header is None:
            return None
        parse_header(header, size)
    data = _read_exactly(fd, size if whole else min(size, prefix), device, nowait)
    if data is None:
        return None
    expires_at, key_length = parse_header(data, size)
    if key_length != len(key) or data[HEADER_SIZE:prefix] != key:
        raise CorruptEntryError("holds another key")
    if not whole:
        return expires_at, None
    return expires_at, bytes(memoryview(data)[prefix:])
