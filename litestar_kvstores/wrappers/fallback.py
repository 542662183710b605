"""Degraded operation on a second store while the first one is unreachable."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from ..base import KVStore
from ..errors import StoreUnavailableError
from .base import StoreWrapper

if TYPE_CHECKING:
    from typing import Self

__all__ = ("FallbackStore",)

logger = logging.getLogger("litestar_kvstores.wrappers")


class _FallbackState:
    """Shared by a FallbackStore and its namespaces: which store is in use and the recovery probe."""

    __slots__ = ("degraded", "last_probe", "probe")

    def __init__(self) -> None:
        self.degraded = False
        self.last_probe = 0.0
        self.probe: asyncio.Task[None] | None = None


class FallbackStore(StoreWrapper):
    """Uses ``primary``; while it raises :class:`~litestar_kvstores.StoreUnavailableError`, uses ``fallback``.

    The first operation that finds the primary unreachable switches to the fallback (and is itself run there); a
    WARNING is logged once. While switched, an operation starts a background ``ping`` of the primary at most every
    ``probe_interval`` seconds, never waiting for it; when a ping succeeds, later operations use the primary again and
    an INFO line is logged once. The namespaces of a FallbackStore switch together.

    The fallback is a degraded mode: what is written there stays there (it is not copied back), and the primary's
    data is not visible while switched. A memory store as fallback keeps sessions, caches and rate limits working
    per process during an outage.

    Args:
        primary: The store to use whenever it is reachable.
        fallback: The store to use while it is not.
        probe_interval: Seconds between recovery probes while switched.

    Raises:
        TypeError: a store is not a store of this package.
        ValueError: ``probe_interval`` is not positive.
    """

    __slots__ = ("_state", "fallback", "probe_interval")

    def __init__(self, primary: KVStore, fallback: KVStore, *, probe_interval: float = 1.0) -> None:
        super().__init__(primary)
        if not isinstance(fallback, KVStore):
            raise TypeError(f"FallbackStore needs a store of litestar_kvstores, not {type(fallback).__name__}")
        if isinstance(probe_interval, bool) or not isinstance(probe_interval, int | float) or not probe_interval > 0:
            raise ValueError(f"probe_interval must be a positive number of seconds, got {probe_interval!r}")
        self.fallback = fallback
        self.probe_interval = float(probe_interval)
        self._state = _FallbackState()

    def __repr__(self) -> str:
        return f"FallbackStore({self.store!r}, {self.fallback!r})"

    @property
    def degraded(self) -> bool:
        """``True`` while operations go to the fallback."""
        return self._state.degraded

    def with_namespace(self, namespace: str) -> Self:
        """Return the FallbackStore of both stores' child ``namespace``, switching together with this one."""
        child = super().with_namespace(namespace)
        child.fallback = self.fallback.with_namespace(namespace)
        return child

    def _degrade(self, exc: StoreUnavailableError) -> None:
        state = self._state
        if not state.degraded:
            state.degraded = True
            state.last_probe = time.monotonic()
            logger.warning("The primary store at %s is unavailable (%s); using the fallback store", self.address, exc)

    def _start_probe(self) -> None:
        state = self._state
        now = time.monotonic()
        if (state.probe is not None and not state.probe.done()) or now - state.last_probe < self.probe_interval:
            return
        state.last_probe = now
        state.probe = asyncio.get_running_loop().create_task(self._probe(), name="litestar-kvstores fallback probe")

    async def _probe(self) -> None:
        try:
            await self.store.ping()
        except StoreUnavailableError:
            return
        if self._state.degraded:
            self._state.degraded = False
            logger.info("The primary store at %s is available again; leaving the fallback store", self.address)

    async def _call(self, name: str, *args: Any) -> Any:
        if not self._state.degraded:
            try:
                return await super()._call(name, *args)
            except StoreUnavailableError as exc:
                self._degrade(exc)
        else:
            self._start_probe()
        return await getattr(self.fallback, name)(*args)

    async def keys(self) -> AsyncIterator[str]:
        """Yield the keys of the store in use; a primary that fails before its first key switches to the fallback."""
        if not self._state.degraded:
            started = False
            try:
                async for key in self.store.keys():
                    started = True
                    yield key
                return
            except StoreUnavailableError as exc:
                if started:
                    raise
                self._degrade(exc)
        else:
            self._start_probe()
        async for key in self.fallback.keys():
            yield key

    def _companions(self) -> tuple[KVStore, ...]:
        return (self.fallback,)

    async def aclose(self) -> None:
        """Stop a running probe and close both stores."""
        probe, self._state.probe = self._state.probe, None
        if probe is not None:
            probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probe
        await super().aclose()
