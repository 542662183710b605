"""litestar-kvstores: fast, correct, namespaced key/value stores for Litestar."""

from __future__ import annotations

from .base import TTL, KVStore
from .errors import StoreError, StoreUnavailableError
from .file import FileStore
from .memory import MemoryStore

__all__ = (
    "TTL",
    "FileStore",
    "KVStore",
    "MemoryStore",
    "StoreError",
    "StoreUnavailableError",
)
