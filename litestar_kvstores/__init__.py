"""litestar-kvstores: fast, correct, namespaced key/value stores for Litestar."""

from __future__ import annotations

from .base import TTL, KVStore
from .cache import invalidate_path, invalidate_path_prefix
from .errors import StoreError, StoreUnavailableError
from .file import FileStore
from .memory import MemoryStore
from .plugin import KVStoresConfig, KVStoresPlugin, provide_store
from .rate_limit import AtomicRateLimitMiddleware
from .registry import StoreRegistry
from .urls import redact_url, register_scheme, store_from_url

__all__ = (
    "TTL",
    "AtomicRateLimitMiddleware",
    "FileStore",
    "KVStore",
    "KVStoresConfig",
    "KVStoresPlugin",
    "MemoryStore",
    "StoreError",
    "StoreRegistry",
    "StoreUnavailableError",
    "invalidate_path",
    "invalidate_path_prefix",
    "provide_store",
    "redact_url",
    "register_scheme",
    "store_from_url",
)
