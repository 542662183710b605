"""Exceptions raised by every store of this package.

All of them derive from :class:`StoreError`, so ``except StoreError`` catches any failure of the storage layer
while programming errors (``TypeError``/``ValueError`` for bad arguments) stay separate.
"""

from __future__ import annotations

__all__ = ("LockTimeoutError", "StoreError", "StoreUnavailableError")


class StoreError(Exception):
    """A store operation failed: a write that could not be completed, a backend error, a closed store.

    When a write raises this error, the previously stored value (if any) is left intact.
    """


class StoreUnavailableError(StoreError):
    """The backend could not be reached within the configured timeout.

    The message names the address (``host:port`` or a path), never credentials.
    """


class LockTimeoutError(StoreError):
    """A :class:`~litestar_kvstores.lock.StoreLock` could not be acquired within its ``timeout``.

    The message names the lock and the timeout.
    """
