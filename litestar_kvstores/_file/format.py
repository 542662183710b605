"""The on-disk format of :class:`~litestar_kvstores.file.FileStore`: file names and the entry header.

One file per entry. Its name is ``=`` + the percent-encoded key when that is short enough for any file system,
else ``#`` + the SHA-256 of the key. The file holds a fixed header, the key (so hashed names stay listable and a
misplaced file is detected) and the value::

    offset  size  field
    0       4     magic b"LKVS"
    4       1     format version (1)
    5       3     reserved (zero)
    8       8     expires_at: wall-clock seconds (float64, little-endian), 0.0 = never
    16      4     key length in bytes (uint32)
    20      8     value length in bytes (uint64)
    28      ...   key (UTF-8), then value

The expiry sits at a fixed offset so a renewal rewrites those 8 bytes in place. A file whose size does not match
the lengths of its header (a short write, a crash before the data reached the disk) or that lacks the magic is
corrupt. Namespace sub-directories are named ``[A-Za-z0-9_.-]+``, so they never collide with entry files
(``=``/``#``), temporary files (``%tmp-``) or the lock file (``%lock``).
"""

from __future__ import annotations

import hashlib
import struct
import time
from functools import lru_cache
from urllib.parse import quote

__all__ = (
    "EXPIRY",
    "EXPIRY_OFFSET",
    "HEADER_SIZE",
    "LOCK_NAME",
    "TEMP_PREFIX",
    "CorruptEntryError",
    "entry_name",
    "expires_at",
    "is_entry_name",
    "is_expired",
    "pack_entry",
    "parse_header",
    "peek_expiry",
)

MAGIC = b"LKVS"
VERSION = 1
_SIGNATURE = MAGIC + bytes([VERSION])
_HEADER = struct.Struct("<4sB3xdIQ")
HEADER_SIZE = _HEADER.size
EXPIRY = struct.Struct("<d")
EXPIRY_OFFSET = 8

TEMP_PREFIX = "%tmp-"
LOCK_NAME = "%lock"

_MAX_QUOTED_NAME = 200
"""Longest percent-encoded name kept readable; file systems allow 255 bytes, longer keys are hashed."""


class CorruptEntryError(Exception):
    """The file at an entry's path is not a complete entry of this store (the message says why)."""


@lru_cache(maxsize=1024)  # quoting is a sizeable share of a cached read ("get hit" row of benchmarks.bench_file)
def entry_name(key: str) -> str:
    """Return the file name of ``key``: ``=`` + percent-encoded key, or ``#`` + SHA-256 hex for long keys.

    Raises:
        ValueError: ``key`` cannot be encoded as UTF-8 (it holds a lone surrogate).
    """
    try:
        quoted = quote(key, safe="")
    except UnicodeEncodeError:
        raise ValueError(f"Store keys must be encodable as UTF-8; {key!r} holds a lone surrogate") from None
    if len(quoted) <= _MAX_QUOTED_NAME:
        return "=" + quoted
    return "#" + hashlib.sha256(key.encode()).hexdigest()


def expires_at(ttl: float | None) -> float:
    """Return the ``expires_at`` field for a time-to-live of ``ttl`` seconds from now (0.0 for ``None``: never)."""
    return 0.0 if ttl is None else time.time() + ttl


def is_expired(expires_at: float, now: float) -> bool:
    """Return ``True`` if an entry with this ``expires_at`` field has expired by ``now`` (0.0 never expires)."""
    return 0.0 < expires_at <= now


def is_entry_name(name: str) -> bool:
    """Return ``True`` if ``name`` is the name of an entry file (not a namespace, temporary or lock file)."""
    return name[:1] in ("=", "#")


def pack_entry(key: bytes, value: bytes, expires_at: float) -> bytes:
    """Return the complete file content of an entry (``expires_at`` 0.0 = never expires)."""
    return _HEADER.pack(MAGIC, VERSION, expires_at, len(key), len(value)) + key + value


def parse_header(header: bytes | bytearray | memoryview, file_size: int) -> tuple[float, int]:
    """Check an entry's header against the size of its file.

    Args:
        header: At least the first :data:`HEADER_SIZE` bytes of the file (fewer when the file is shorter).
        file_size: The size of the whole file.

    Returns:
        ``(expires_at, key_length)``; ``expires_at`` is 0.0 for an entry that never expires.

    Raises:
        CorruptEntryError: not an entry of this store, an unknown version, or a size that does not match.
    """
    if file_size < HEADER_SIZE or len(header) < HEADER_SIZE:
        raise CorruptEntryError(f"{file_size} bytes, shorter than the header")
    magic, version, expires_at, key_length, value_length = _HEADER.unpack_from(header)
    if magic != MAGIC:
        raise CorruptEntryError("not a store entry (bad magic)")
    if version != VERSION:
        raise CorruptEntryError(f"unknown format version {version}")
    if not expires_at >= 0.0:  # also rejects NaN
        raise CorruptEntryError(f"invalid expiry {expires_at!r}")
    expected = HEADER_SIZE + key_length + value_length
    if expected != file_size:
        raise CorruptEntryError(f"{file_size} bytes where the header announces {expected} (truncated or padded)")
    return expires_at, key_length


def peek_expiry(header: bytes) -> float:
    """Return the expiry (0.0 = never) from an entry's first :data:`HEADER_SIZE` bytes, without the size check.

    Raises:
        CorruptEntryError: too short, not a store entry, or an unknown version or invalid expiry.
    """
    if len(header) < HEADER_SIZE or not header.startswith(_SIGNATURE):
        raise CorruptEntryError("not a store entry of this version (short, bad magic or version)")
    expires_at: float = EXPIRY.unpack_from(header, EXPIRY_OFFSET)[0]
    if not expires_at >= 0.0:
        raise CorruptEntryError(f"invalid expiry {expires_at!r}")
    return expires_at
