"""A lock shared by everything that uses the same store: a random token added under the lock's key.

::

    async with store.lock("report:42", ttl=30, timeout=5) as lock:
        ...  # at most one holder at a time, across processes on a shared store
        if not await lock.extend(30):
            ...  # the lock lapsed and may be held by someone else now: stop touching what it guards

The lock is built on the store's atomic primitives only: acquiring is :meth:`~litestar_kvstores.base.KVStore.add`
of a random token with expiry ``ttl``; :meth:`StoreLock.extend` is a ``compare_and_set`` of that token onto itself;
releasing is a ``compare_and_delete`` of the token. A holder whose lock lapsed (it ran longer than ``ttl`` without
extending) therefore never extends or releases the lock of the holder that took it over.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from time import monotonic
from typing import TYPE_CHECKING

from .errors import LockTimeoutError
from .validation import check_key, ttl_seconds

if TYPE_CHECKING:
    from types import TracebackType
    from typing import Self

    from .base import TTL, KVStore

__all__ = ("StoreLock",)

_FIRST_POLL = 0.002
_MAX_POLL = 0.1
"""Seconds between tries while waiting: doubling from the first to the maximum."""


def _check_timeout(timeout: object) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise TypeError(f"timeout must be None or a number of seconds, not {type(timeout).__name__}")
    if not timeout >= 0 or math.isinf(timeout):
        raise ValueError(f"timeout must be None or a finite number of seconds >= 0, got {timeout!r}")
    return float(timeout)


class StoreLock:
    """A lock on ``store`` under the key ``name``; an async context manager (see the module docstring).

    Args:
        store: Any store of the contract; processes sharing the store's data share the lock.
        name: The key of the lock entry.
        ttl: Seconds (or ``timedelta``) after which a held lock lapses unless :meth:`extend` renews it.
        timeout: Seconds :meth:`acquire` waits: ``None`` as long as it takes, ``0`` one try.

    Raises:
        TypeError, ValueError: ``name``, ``ttl`` or ``timeout`` is invalid.
    """

    __slots__ = ("_store", "_token", "name", "timeout", "ttl")

    def __init__(self, store: KVStore, name: str, *, ttl: TTL, timeout: float | None = None) -> None:
        self._store = store
        self.name = check_key(name)
        seconds = ttl_seconds(ttl, "ttl")
        if seconds is None:
            raise TypeError("ttl is required: a lock without expiry would stay held forever by a crashed holder")
        self.ttl: TTL = ttl
        self.timeout = _check_timeout(timeout)
        self._token: str | None = None

    def __repr__(self) -> str:
        return f"StoreLock(name={self.name!r}, ttl={self.ttl!r}, timeout={self.timeout!r}, held={self.held})"

    @property
    def held(self) -> bool:
        """Whether this object acquired the lock and has not released it (it may have lapsed meanwhile)."""
        return self._token is not None

    async def acquire(self) -> None:
        """Take the lock, waiting up to ``timeout`` seconds for the current holder to release it or lapse.

        Raises:
            RuntimeError: this object already holds the lock (locks are not re-entrant).
            LockTimeoutError: the lock was still held by another holder after ``timeout`` seconds.
            StoreError: the store failed.
        """
        if self._token is not None:
            raise RuntimeError(f"The lock {self.name!r} is already held by this StoreLock")
        token = secrets.token_hex(16)
        deadline = None if self.timeout is None else monotonic() + self.timeout
        pause = _FIRST_POLL
        while not await self._store.add(self.name, token, self.ttl):
            if deadline is not None:
                left = deadline - monotonic()
                if left <= 0:
                    raise LockTimeoutError(f"The lock {self.name!r} was not acquired within {self.timeout} s")
                pause = min(pause, left)
            await asyncio.sleep(pause)
            pause = min(pause * 2, _MAX_POLL)
        self._token = token

    async def extend(self, ttl: TTL) -> bool:
        """Make the held lock lapse ``ttl`` from now instead, if this object still holds it.

        Returns:
            ``True`` if the lock was still held and now has the new expiry; ``False`` if it was released, lapsed or
            taken over (the lock is never re-acquired here).

        Raises:
            TypeError, ValueError: ``ttl`` is not a positive duration.
            StoreError: the store failed.
        """
        if ttl_seconds(ttl, "ttl") is None:
            raise TypeError("ttl is required")
        token = self._token
        if token is None:
            return False
        if await self._store.compare_and_set(self.name, token, token, expires_in=ttl):
            return True
        if self._token == token:
            self._token = None
        return False

    async def release(self) -> bool:
        """Release the lock if this object still holds it; a lock taken over by another holder is left alone.

        Returns:
            ``True`` if this call deleted this object's lock entry, ``False`` if it had lapsed (or was not held).

        Raises:
            StoreError: the store failed (the lock then lapses after its ``ttl``).
        """
        token, self._token = self._token, None
        if token is None:
            return False
        return await self._store.compare_and_delete(self.name, token)

    async def __aenter__(self) -> Self:
        await self.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.release()
