"""Transparent compression of large values with zstd or zlib.

A compressed value is stored as::

    magic b"\\x00kvz" | algorithm (1 byte: 1 zlib, 2 zstd) | original length (4 bytes, big-endian) | payload

Every other value is stored as it is: values smaller than ``min_size``, values compression would not shrink, and
values written before the wrapper was added all read back unchanged. The one value that could be mistaken for a
compressed one, a small value that itself starts with the magic, is stored behind the header ``magic | 0``.
"""

from __future__ import annotations

import logging
import zlib
from types import ModuleType
from typing import TYPE_CHECKING, Literal

from ..errors import StoreError
from ..validation import encode_value
from .base import StoreWrapper

if TYPE_CHECKING:
    from ..base import KVStore

__all__ = ("Algorithm", "CompressedStore", "zstd_module")

logger = logging.getLogger("litestar_kvstores.wrappers")

Algorithm = Literal["zstd", "zlib"]

MAGIC = b"\x00kvz"
_STORED, _ZLIB, _ZSTD = 0, 1, 2
_CODES: dict[str, int] = {"zlib": _ZLIB, "zstd": _ZSTD}
_HEADER_BYTES = len(MAGIC) + 1 + 4
_MAX_LENGTH = 2**32 - 1
_DEFAULT_LEVELS = {"zlib": 6, "zstd": 3}


def zstd_module() -> ModuleType | None:
    """Return the zstd module of the standard library (Python 3.14) or of ``backports.zstd``; ``None`` if neither."""
    try:
        from compression import zstd  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        try:
            from backports import zstd  # type: ignore[no-redef,unused-ignore]
        except ImportError:
            return None
    return zstd  # type: ignore[no-any-return,unused-ignore]


class CompressedStore(StoreWrapper):
    """Compresses values of at least ``min_size`` bytes before they reach ``store``; reading decompresses them.

    Small values, values compression does not shrink and values written before the wrapper was added are stored
    and read as they are, so the wrapper can be added to a store that already holds data. ``incr`` passes through
    (counters are small). A compressed value that is corrupt, or uses an algorithm code this version does not
    know, reads as missing and is logged at WARNING.

    Args:
        store: The store to hold the values.
        min_size: Compress values of at least this many bytes.
        algorithm: ``"zstd"`` (Python 3.14's ``compression.zstd`` or ``backports.zstd``) or ``"zlib"``. Values are
            read whichever algorithm wrote them.
        level: The compression level; ``None``: 3 for zstd, 6 for zlib.

    Raises:
        ValueError: ``algorithm`` is unknown or zstd is not installed, or ``min_size`` is negative.
        TypeError: ``min_size`` or ``level`` is not an ``int``.
    """

    __slots__ = ("_code", "_zstd", "algorithm", "level", "min_size")

    transforms_values = True

    def __init__(
        self, store: KVStore, *, min_size: int = 1024, algorithm: Algorithm = "zstd", level: int | None = None
    ) -> None:
        super().__init__(store)
        if not isinstance(min_size, int) or isinstance(min_size, bool):
            raise TypeError(f"min_size must be int, not {type(min_size).__name__}")
        if min_size < 0:
            raise ValueError(f"min_size must not be negative, got {min_size}")
        if level is not None and (not isinstance(level, int) or isinstance(level, bool)):
            raise TypeError(f"level must be int or None, not {type(level).__name__}")
        if algorithm not in _CODES:
            raise ValueError(f"algorithm must be 'zstd' or 'zlib', not {algorithm!r}")
        self._zstd = zstd_module()
        if algorithm == "zstd" and self._zstd is None:
            raise ValueError("algorithm='zstd' needs Python 3.14 or the backports.zstd package; use 'zlib'")
        self.min_size = min_size
        self.algorithm = algorithm
        self.level = _DEFAULT_LEVELS[algorithm] if level is None else level
        self._code = _CODES[algorithm]

    def __repr__(self) -> str:
        return f"CompressedStore({self.store!r}, algorithm={self.algorithm!r}, min_size={self.min_size})"

    def _compress(self, data: bytes) -> bytes:
        if self._code == _ZLIB:
            return zlib.compress(data, self.level)
        assert self._zstd is not None
        return self._zstd.compress(data, self.level)  # type: ignore[no-any-return]

    def _encode(self, key: str, value: str | bytes) -> bytes:
        data = encode_value(value)
        if self.min_size <= len(data) <= _MAX_LENGTH:
            packed = self._compress(data)
            if len(packed) + _HEADER_BYTES < len(data):
                return MAGIC + bytes([self._code]) + len(data).to_bytes(4, "big") + packed
        if data.startswith(MAGIC):
            return MAGIC + bytes([_STORED]) + data
        return data

    def _decode(self, key: str, stored: bytes) -> bytes | None:
        if not stored.startswith(MAGIC):
            return stored
        code = stored[len(MAGIC) : len(MAGIC) + 1]
        if code == bytes([_STORED]):
            return stored[len(MAGIC) + 1 :]
        if len(stored) < _HEADER_BYTES or code[0] not in _CODES.values():
            return self._unreadable("it has an unknown header (written by a newer version?)")
        length = int.from_bytes(stored[len(MAGIC) + 1 : _HEADER_BYTES], "big")
        try:
            data = self._decompress(code[0], stored[_HEADER_BYTES:], length)
        except (zlib.error, ValueError) as exc:
            return self._unreadable(f"it does not decompress ({type(exc).__name__})")
        if len(data) != length:
            return self._unreadable("its length does not match its header")
        return data

    def _decompress(self, code: int, payload: bytes, length: int) -> bytes:
        """Return at most ``length + 1`` decompressed bytes, so a corrupt header cannot make it allocate more."""
        if code == _ZLIB:
            return zlib.decompressobj().decompress(payload, length + 1)
        if self._zstd is None:
            raise StoreError("A value is compressed with zstd: install backports.zstd (Python < 3.14) to read it")
        try:
            return self._zstd.ZstdDecompressor().decompress(payload, length + 1)  # type: ignore[no-any-return]
        except self._zstd.ZstdError as exc:
            raise ValueError("corrupt zstd frame") from exc

    def _unreadable(self, reason: str) -> bytes | None:
        """Log why a value cannot be read (never its key) and return ``None``: it reads as missing."""
        logger.warning("CompressedStore at %s: a value reads as missing because %s", self.address, reason)
        return None
