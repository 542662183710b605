"""litestar-kvstores: fast, correct, namespaced key/value stores for Litestar."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import _native  # noqa: F401  # first: decides whether the compiled modules load from source
from .base import TTL, KVStore
from .cache import KVResponseCacheConfig, invalidate_handler, invalidate_path, invalidate_path_prefix, invalidate_tags
from .errors import LockTimeoutError, StoreError, StoreUnavailableError
from .file import FileStore
from .lock import StoreLock
from .memory import MemoryCounterGroup, MemoryStore
from .plugin import KVStoresConfig, KVStoresPlugin, provide_store
from .rate_limit import AtomicRateLimitMiddleware, KVRateLimitConfig, forwarded_for_identifier
from .registry import StoreRegistry
from .sessions import CASSessionConfig, SessionConflictError
from .urls import redact_url, register_scheme, store_from_url

if TYPE_CHECKING:
    from .mongo import MongoStore as MongoStore
    from .postgres import PostgresStore as PostgresStore
    from .redis import RedisStore as RedisStore
    from .sqlite import SQLiteStore as SQLiteStore
    from .valkey import ValkeyStore as ValkeyStore
    from .wrappers import CompressedStore as CompressedStore
    from .wrappers import EncryptedStore as EncryptedStore
    from .wrappers import FallbackStore as FallbackStore
    from .wrappers import InstrumentedStore as InstrumentedStore
    from .wrappers import LimitedStore as LimitedStore
    from .wrappers import ReadOnlyStore as ReadOnlyStore
    from .wrappers import RetryStore as RetryStore
    from .wrappers import TieredStore as TieredStore

__all__ = (
    "TTL",
    "AtomicRateLimitMiddleware",
    "CASSessionConfig",
    "CompressedStore",
    "FallbackStore",
    "FileStore",
    "InstrumentedStore",
    "KVRateLimitConfig",
    "KVResponseCacheConfig",
    "KVStore",
    "KVStoresConfig",
    "KVStoresPlugin",
    "LimitedStore",
    "LockTimeoutError",
    "MemoryCounterGroup",
    "MemoryStore",
    "ReadOnlyStore",
    "RetryStore",
    "SessionConflictError",
    "StoreError",
    "StoreLock",
    "StoreRegistry",
    "StoreUnavailableError",
    "TieredStore",
    "forwarded_for_identifier",
    "invalidate_handler",
    "invalidate_path",
    "invalidate_path_prefix",
    "invalidate_tags",
    "provide_store",
    "redact_url",
    "register_scheme",
    "store_from_url",
)

# Stores whose client library is an optional extra: imported on first access, so the package imports without it.
_LAZY_STORES = {
    "MongoStore": ".mongo",
    "PostgresStore": ".postgres",
    "RedisStore": ".redis",
    "SQLiteStore": ".sqlite",
    "ValkeyStore": ".valkey",
} | dict.fromkeys(
    (
        "CompressedStore",
        "EncryptedStore",
        "FallbackStore",
        "InstrumentedStore",
        "LimitedStore",
        "ReadOnlyStore",
        "RetryStore",
        "TieredStore",
    ),
    ".wrappers",
)


def __getattr__(name: str) -> Any:
    if name in _LAZY_STORES:
        return getattr(importlib.import_module(_LAZY_STORES[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
