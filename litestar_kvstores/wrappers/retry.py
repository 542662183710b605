"""Retrying operations while a store is briefly unreachable."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ..errors import StoreUnavailableError
from .base import OPERATIONS, StoreWrapper

if TYPE_CHECKING:
    from ..base import KVStore

__all__ = ("RetryStore",)


class RetryStore(StoreWrapper):
    """Runs an operation up to ``attempts`` times while it raises :class:`~litestar_kvstores.StoreUnavailableError`.

    Only operations that are safe to repeat are retried (see :data:`~litestar_kvstores.wrappers.base.OPERATIONS`):
    not ``incr``, which may have counted before its answer was lost. Other errors (bad input, other
    :class:`~litestar_kvstores.StoreError`) are raised at once. Iterating ``keys()`` is not retried. The wait
    before attempt ``n + 1`` is ``backoff * 2 ** (n - 1)`` seconds.

    Args:
        store: The store to retry on.
        attempts: How many times to run an operation at most (``1``: no retry).
        backoff: The wait before the second attempt, in seconds; it doubles for each further attempt.

    Raises:
        TypeError: ``attempts`` is not an ``int`` or ``backoff`` not a number.
        ValueError: ``attempts`` is below 1 or ``backoff`` negative.
    """

    __slots__ = ("attempts", "backoff")

    def __init__(self, store: KVStore, *, attempts: int = 3, backoff: float = 0.1) -> None:
        super().__init__(store)
        if not isinstance(attempts, int) or isinstance(attempts, bool):
            raise TypeError(f"attempts must be int, not {type(attempts).__name__}")
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {attempts}")
        if not isinstance(backoff, int | float) or isinstance(backoff, bool):
            raise TypeError(f"backoff must be a number of seconds, not {type(backoff).__name__}")
        if not backoff >= 0:
            raise ValueError(f"backoff must not be negative, got {backoff}")
        self.attempts = attempts
        self.backoff = float(backoff)

    def __repr__(self) -> str:
        return f"RetryStore({self.store!r}, attempts={self.attempts}, backoff={self.backoff})"

    async def _call(self, name: str, *args: Any) -> Any:
        attempts = self.attempts if OPERATIONS[name].repeatable else 1
        for attempt in range(1, attempts):
            try:
                return await super()._call(name, *args)
            except StoreUnavailableError:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
        return await super()._call(name, *args)
