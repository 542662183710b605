"""litestar-kvstores: fast, correct, namespaced key/value stores for Litestar."""

from __future__ import annotations

from .base import TTL, KVStore
from .errors import StoreError, StoreUnavailableError
from .memory import MemoryStore

__all__ = (
    "TTL",
    "KVStore",
    "MemoryStore",
    "StoreError",
    "StoreUnavailableError",
)
