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


def __getattr__(name: str) -> object:
    # backends with optional dependencies are imported on first use, so the package imports without their extras
    if name == "MongoStore":
        from .mongo import MongoStore

        return MongoStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
