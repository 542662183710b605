"""Reads served on the event loop from the page cache, so that a cached read costs no thread hop.

``preadv(RWF_NOWAIT)`` returns only what the page cache holds and never waits for the disk; entries larger than
512 KiB are never read here. Anything these functions cannot decide without blocking (data not cached, a corrupt
or expired entry to remove, an error to report, a platform without ``RWF_NOWAIT``) answers :data:`TO_THREAD`: the
caller then does the read in a worker thread (:mod:`.blocking`), which logs, removes or raises as needed. Opening
the file may still touch the disk for metadata that is not cached.

Protected by ``python -m benchmarks.bench_file``: "get hit", "get miss", "exists", "get 64 KiB" and the
"100 concurrent gets" rows (a thread hop costs more than such a read; without this path they drop several-fold).
"""

from __future__ import annotations

import os
import time
from enum import Enum

from .format import CorruptEntryError, is_expired
from .os_calls import READ_FLAGS, nowait_reads_supported, read_entry

__all__ = ("INLINE_BATCH", "INLINE_BATCH_BYTES", "TO_THREAD", "Deferred", "expiry_now", "read_many_now", "read_now")

INLINE_BATCH = 32
"""``get_many`` of more keys than this reads in a worker thread, so the event loop is never held for long."""

INLINE_BATCH_BYTES = 1 << 20
"""``get_many`` reads the rest in a worker thread once it has copied this much on the event loop."""


class Deferred(Enum):
    """The answer of a non-blocking read that could not decide without blocking."""

    TO_THREAD = 0


TO_THREAD = Deferred.TO_THREAD


def peek_entry(path: str, key: bytes, whole: bool) -> tuple[float, bytes | None] | Deferred | None:
    """Read the entry of ``key`` at ``path`` from the page cache without blocking.

    Args:
        path: The entry's file.
        key: The UTF-8 key the entry must hold.
        whole: Read the value too; otherwise only the header and the key.

    Returns:
        ``(expires_at, value or None)`` of a well-formed entry, expired or not; ``None`` if there is no such file;
        :data:`TO_THREAD` for anything that needs a worker thread.
    """
    if not nowait_reads_supported():
        return TO_THREAD
    try:
        fd = os.open(path, READ_FLAGS)
    except FileNotFoundError:
        return None
    except OSError:
        return TO_THREAD
    try:
        entry = read_entry(fd, key, whole, nowait=True)
    except (CorruptEntryError, OSError):
        return TO_THREAD  # the thread logs and removes it, or raises
    finally:
        os.close(fd)
    return TO_THREAD if entry is None else entry


def read_now(path: str, key: bytes) -> bytes | Deferred | None:
    """Return the value of a live entry, ``None`` if missing, :data:`TO_THREAD` otherwise (expired: to remove)."""
    entry = peek_entry(path, key, whole=True)
    if entry is None or entry is TO_THREAD:
        return entry
    if is_expired(entry[0], time.time()):
        return TO_THREAD
    return entry[1]


def expiry_now(path: str, key: bytes) -> float | Deferred | None:
    """Return the expiry of a live entry (0.0: never), ``None`` if missing or expired, else :data:`TO_THREAD`."""
    entry = peek_entry(path, key, whole=False)
    if entry is None or entry is TO_THREAD:
        return entry
    return None if is_expired(entry[0], time.time()) else entry[0]


def read_many_now(
    located: list[tuple[str, bytes, str]],
) -> tuple[dict[str, bytes | None], list[tuple[str, bytes, str]]]:
    """Read what the page cache can serve of ``(key, encoded key, path)`` items, in the callers' order.

    Reads at most :data:`INLINE_BATCH` items and :data:`INLINE_BATCH_BYTES` of values on the event loop.

    Returns:
        Each key's value (``None`` for missing keys and, until the caller fills them in, for deferred ones) and
        the items left for a worker thread.
    """
    found: dict[str, bytes | None] = {}
    deferred: list[tuple[str, bytes, str]] = []
    budget = INLINE_BATCH_BYTES if len(located) <= INLINE_BATCH else 0
    for item in located:
        key, encoded_key, path = item
        value = read_now(path, encoded_key) if budget > 0 else TO_THREAD
        if value is TO_THREAD:
            deferred.append(item)
            found[key] = None  # keeps the callers' order
        else:
            found[key] = value
            budget -= len(value or b"")
    return found, deferred
