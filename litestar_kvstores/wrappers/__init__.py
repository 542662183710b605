"""Wrappers: stores that take any store and add encryption, compression, limits, tiering, metrics or resilience.

Each wrapper is itself a namespaced store of this package, so they stack::

    store = CompressedStore(EncryptedStore(RedisStore.with_client(url), keys=[key]))

``EncryptedStore`` needs ``cryptography`` (the ``crypto`` extra) and is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .base import OPERATIONS, Operation, StoreWrapper
from .compressed import CompressedStore
from .fallback import FallbackStore
from .instrumented import InstrumentedStore
from .limited import LimitedStore
from .read_only import ReadOnlyStore
from .retry import RetryStore
from .tiered import TieredStore

if TYPE_CHECKING:
    from .encrypted import EncryptedStore as EncryptedStore

__all__ = (
    "OPERATIONS",
    "CompressedStore",
    "EncryptedStore",
    "FallbackStore",
    "InstrumentedStore",
    "LimitedStore",
    "Operation",
    "ReadOnlyStore",
    "RetryStore",
    "StoreWrapper",
    "TieredStore",
)


def __getattr__(name: str) -> Any:
    if name == "EncryptedStore":
        return importlib.import_module(".encrypted", __name__).EncryptedStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
