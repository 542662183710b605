"""A near cache (in-process memory) in front of a far, shared store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, cast

from ..base import KVStore
from ..validation import encode_value, ttl_seconds
from .base import StoreWrapper

if TYPE_CHECKING:
    from typing import Self

    from ..base import TTL

__all__ = ("TieredStore",)


def _far_lifetime(remaining: int | None, renew_seconds: float | None = None) -> float | None:
    """The seconds a far entry is sure to live from when its ``expires_in`` was read (``remaining``), ``None`` if it
    does not expire; a renewing read (``renew_seconds``) gave it that lifetime."""
    if remaining is None:
        return None
    if renew_seconds is not None:
        return renew_seconds
    return remaining - 1.0  # expires_in rounds up: the entry lives between remaining - 1 and remaining


Slot = tuple[str | None, str]
"""A key in the far store: its namespace and the key."""


class _ReadsThrough:
    """The far reads whose near copies are not kept yet, by slot, and which of them a write has made stale.

    A read-through keeps a near copy after its far read returns. A write or delete through the store that lands in
    between would be undone by that copy (for up to ``near_ttl``), so it marks the slot and the copy is not kept.
    Shared by a TieredStore and its namespaces; it holds nothing once no read is in flight.
    """

    __slots__ = ("in_flight", "stale")

    def __init__(self) -> None:
        self.in_flight: dict[Slot, int] = {}
        self.stale: set[Slot] = set()

    @contextmanager
    def reading(self, slots: Sequence[Slot]) -> Iterator[None]:
        """Count the far reads of ``slots`` as in flight for the duration of the block."""
        for slot in slots:
            self.in_flight[slot] = self.in_flight.get(slot, 0) + 1
        try:
            yield
        finally:
            for slot in slots:
                count = self.in_flight[slot] - 1
                if count:
                    self.in_flight[slot] = count
                else:
                    del self.in_flight[slot]
                    self.stale.discard(slot)

    def written(self, slots: Iterable[Slot] | None = None) -> None:
        """Mark the reads in flight of ``slots`` (``None``: every one) as stale."""
        self.stale.update(self.in_flight if slots is None else (slot for slot in slots if slot in self.in_flight))


class TieredStore(StoreWrapper):
    """Reads through a near store (usually a bounded :class:`~litestar_kvstores.MemoryStore`) to a far one.

    - ``get`` answers from the near store when it holds the key; otherwise it reads the far store and keeps a near
      copy. A near copy lives at most ``near_ttl`` seconds and never past the far entry's expiry.
    - ``set``/``set_many`` write the far store, then the near one (write-through); ``delete``, ``delete_many``,
      ``delete_all`` and ``delete_expired`` clear both; ``incr`` counts in the far store and drops the near copy.
    - ``get`` with ``renew_for`` always reads the far store (the renewal must reach it); ``exists``,
      ``expires_in``, ``keys``, ``count`` and ``ping`` ask the far store; ``get_many`` answers what the near
      store holds, reads the rest from the far store and keeps near copies of what it found there, as ``get`` does.
    - A read through asks the far store for the expiry and the value at once, the expiry first (one round trip on
      a pipelining store, which answers in that order). An entry whose value came back but whose expiry did not
      (``expires_in`` answers ``None`` both for "no expiry" and for "gone") is asked ``exists``: one that expired
      between the two reads is not kept near, so a near copy never outlives its far entry by more than the
      rounding of ``expires_in``.

    Staleness: a write or delete made through another process (or another TieredStore) is visible here within
    ``near_ttl`` seconds at the latest; writes through this store (and its namespaces) are visible here at once, also
    when a read-through of the same key is under way: its near copy is then not kept (with an in-process near
    store, which does not wait between that check and the copy).

    Args:
        near: The fast store; give it bounds (``MemoryStore(max_entries=...)``) so it cannot grow without limit.
        far: The shared store that holds the truth.
        near_ttl: The longest a near copy is used, as seconds or ``timedelta``.

    Raises:
        TypeError: a store is not a store of this package, or ``near_ttl`` has a wrong type.
        ValueError: ``near_ttl`` is not positive.
    """

    __slots__ = ("_reads", "near", "near_ttl")

    def __init__(self, near: KVStore, far: KVStore, *, near_ttl: TTL = 5.0) -> None:
        super().__init__(far)
        if not isinstance(near, KVStore):
            raise TypeError(f"TieredStore needs a store of litestar_kvstores, not {type(near).__name__}")
        self.near = near
        self._reads = _ReadsThrough()
        seconds = ttl_seconds(near_ttl, "near_ttl")
        assert seconds is not None
        self.near_ttl = seconds

    def __repr__(self) -> str:
        return f"TieredStore(near={self.near!r}, far={self.store!r}, near_ttl={self.near_ttl})"

    @property
    def far(self) -> KVStore:
        """The far store (the same as :attr:`store`)."""
        return self.store

    def with_namespace(self, namespace: str) -> Self:
        """Return the TieredStore of both stores' child ``namespace``."""
        child = super().with_namespace(namespace)
        child.near = self.near.with_namespace(namespace)
        return child

    def _written(self, keys: Iterable[str] | None = None) -> None:
        """Tell the reads in flight that ``keys`` (``None``: all) were just written or deleted in the far store."""
        self._reads.written(None if keys is None else [(self.namespace, key) for key in keys])

    async def _drop_near(self, key: str) -> None:
        """After ``key`` was written or deleted in the far store: tell the reads in flight, and drop its near copy."""
        self._written([key])
        await self.near.delete(key)

    def _near_lifetime(self, far_ttl: float | None, started: float) -> float | None:
        """Seconds a near copy may live: ``near_ttl`` at most and not past ``far_ttl`` seconds counted from
        ``started`` (``far_ttl`` ``None``: the far entry does not expire); ``None`` when no copy should be kept."""
        ttl = self.near_ttl if far_ttl is None else min(self.near_ttl, far_ttl)
        ttl -= time.monotonic() - started
        return ttl if ttl > 0 else None

    async def _keep_near(self, mapping: Mapping[str, bytes], far_ttl: float | None, started: float) -> None:
        """Keep near copies of ``mapping`` for :meth:`_near_lifetime`."""
        ttl = self._near_lifetime(far_ttl, started)
        if ttl is None or not mapping:
            return
        if len(mapping) == 1:
            [(key, value)] = mapping.items()
            await self.near.set(key, value, ttl)
        else:
            await self.near.set_many(mapping, ttl)

    async def get(self, key: str, renew_for: TTL | None = None) -> bytes | None:
        """Return the value of ``key`` from the near store, else from the far store (keeping a near copy)."""
        if renew_for is None:
            value = await self.near.get(key)
            if value is not None:
                return value
        renew_seconds = ttl_seconds(renew_for, "renew_for")
        started = time.monotonic()
        with self._reads.reading([(self.namespace, key)]):
            remaining, value = await asyncio.gather(self.store.expires_in(key), self.store.get(key, renew_for))
            if value is None:
                if renew_for is not None:
                    await self.near.delete(key)
                return None
            await self._keep_read_near({key: value}, [remaining], started, renew_seconds)
        return value

    async def _keep_read_near(
        self,
        read: Mapping[str, bytes | None],
        remaining: Sequence[int | None],
        started: float,
        renew_seconds: float | None = None,
    ) -> None:
        """Keep near copies of the values ``read`` in the far store (a ``None``: missing), whose ``expires_in``
        answers ``remaining`` were read just before them, from ``started``: not of an entry that expired between
        the two reads, nor of one that a write through this store reached meanwhile (:class:`_ReadsThrough`)."""
        gone = await self._expired_meanwhile(read, remaining)
        stale = self._reads.stale  # after the last wait: a write during it counts too
        by_lifetime: dict[float | None, dict[str, bytes]] = {}
        for (key, value), seconds in zip(read.items(), remaining, strict=True):
            if value is not None and key not in gone and (self.namespace, key) not in stale:
                by_lifetime.setdefault(_far_lifetime(seconds, renew_seconds), {})[key] = value
        for far_ttl, mapping in by_lifetime.items():  # one after another: the near store is normally in process
            await self._keep_near(mapping, far_ttl, started)

    async def _expired_meanwhile(self, values: Mapping[str, bytes | None], remaining: Iterable[int | None]) -> set[str]:
        """Return the keys of ``values`` read with a value but whose expiry, read at the same time, came back ``None``
        and that the far store no longer holds: they expired between the two reads (one ``exists`` each, asked only
        for a found entry without an expiry)."""
        doubtful = [
            key
            for (key, value), seconds in zip(values.items(), remaining, strict=True)
            if value is not None and seconds is None
        ]
        if not doubtful:
            return set()
        there = await asyncio.gather(*(self.store.exists(key) for key in doubtful))
        return {key for key, still in zip(doubtful, there, strict=True) if not still}

    async def set(self, key: str, value: str | bytes, expires_in: TTL | None = None) -> None:
        """Write ``value`` to the far store, then keep a near copy."""
        started = time.monotonic()
        await self.store.set(key, value, expires_in)
        self._written([key])
        await self._keep_near({key: encode_value(value)}, ttl_seconds(expires_in), started)

    async def set_many(self, mapping: Mapping[str, str | bytes], expires_in: TTL | None = None) -> None:
        """Write every item to the far store, then keep near copies."""
        started = time.monotonic()
        await self.store.set_many(mapping, expires_in)
        self._written(mapping)
        ttl = self._near_lifetime(ttl_seconds(expires_in), started)
        if ttl is not None:
            await self.near.set_many(mapping, ttl)

    async def get_many(self, keys: Iterable[str]) -> dict[str, bytes | None]:
        """Return each key's value: near copies where there are some, the far store's for the rest (keeping near
        copies of those, as :meth:`get` does; a key missing in both stores is not kept)."""
        found = await self.near.get_many(list(keys))
        missing = [key for key, value in found.items() if value is None]
        if not missing:
            return found
        started = time.monotonic()
        with self._reads.reading([(self.namespace, key) for key in missing]):
            # the expiries first, as in get; gather keeps the order of the calls
            remaining_and_values = await asyncio.gather(
                *(self.store.expires_in(key) for key in missing), self.store.get_many(missing)
            )
            remaining = cast("list[int | None]", remaining_and_values[:-1])
            values = cast("dict[str, bytes | None]", remaining_and_values[-1])
            read = {key: values.get(key) for key in missing}
            found.update(read)
            await self._keep_read_near(read, remaining, started)
        return found

    async def delete(self, key: str) -> None:
        """Delete ``key`` from both stores."""
        await self.store.delete(key)
        await self._drop_near(key)

    async def delete_many(self, keys: Iterable[str]) -> None:
        """Delete every key of ``keys`` from both stores."""
        keys = list(keys)
        await self.store.delete_many(keys)
        self._written(keys)
        await self.near.delete_many(keys)

    async def delete_all(self) -> None:
        """Delete this namespace and its children from both stores."""
        await self.store.delete_all()
        self._written()  # this namespace's and its children's: every read in flight, to be simple
        await self.near.delete_all()

    async def delete_expired(self) -> int:
        """Remove expired entries from both stores; return how many the far store removed."""
        removed = await self.store.delete_expired()
        await self.near.delete_expired()
        return removed

    async def incr(self, key: str, amount: int = 1, expires_in: TTL | None = None) -> int:
        """Count in the far store and drop the near copy of ``key``."""
        value = await self.store.incr(key, amount, expires_in)
        await self._drop_near(key)
        return value

    async def add(self, key: str, value: str | bytes, expires_in: TTL | None = None) -> bool:
        """Add in the far store and drop the near copy of ``key``."""
        added = await super().add(key, value, expires_in)
        await self._drop_near(key)
        return added

    async def compare_and_set(
        self, key: str, expected: str | bytes | None, value: str | bytes, expires_in: TTL | None = None
    ) -> bool:
        """Compare and set in the far store and drop the near copy of ``key``."""
        replaced = await super().compare_and_set(key, expected, value, expires_in)
        await self._drop_near(key)
        return replaced

    async def compare_and_delete(self, key: str, expected: str | bytes) -> bool:
        """Compare and delete in the far store and drop the near copy of ``key``."""
        deleted = await super().compare_and_delete(key, expected)
        await self._drop_near(key)
        return deleted

    def _companions(self) -> tuple[KVStore, ...]:
        return (self.near,)
