"""The shared base of every wrapper: a store that hands each operation to the store it wraps.

:class:`StoreWrapper` implements every operation of :class:`~litestar_kvstores.base.KVStore` by passing it to the
wrapped store (:attr:`StoreWrapper.store`) through five hooks, so a wrapper overrides only what it changes:

- :meth:`StoreWrapper._call` runs one operation on the wrapped store, by name (counting, retrying, switching stores
  and refusing writes happen here, for every operation at once);
- :meth:`StoreWrapper._encode` / :meth:`StoreWrapper._decode` turn a caller's value into the stored one and back
  (encryption, compression, size limits);
- :meth:`StoreWrapper._expiry` / :meth:`StoreWrapper._renewal` adjust the expiry of a write and of a renewing read
  (TTL limits).

:data:`OPERATIONS` says, per operation, whether it writes (``ReadOnlyStore`` refuses it) and whether it is safe to
run again when its outcome is unknown (``RetryStore`` repeats only those). Adding an operation to
:class:`~litestar_kvstores.base.KVStore` takes one entry there and one method here that passes values through the
hooks; every wrapper then handles it. A conditional write (``compare_and_set``) over a wrapper whose encoding is not
deterministic (encryption: a random nonce per value) compares decoded values: read the stored bytes, compare their
decoding with ``expected``, then conditionally replace exactly those stored bytes.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, cast

from ..base import TTL, KVStore
from ..validation import check_expected, check_expected_value, check_key

if TYPE_CHECKING:
    from typing import Self

__all__ = ("OPERATIONS", "Operation", "StoreWrapper")


@dataclass(frozen=True, slots=True)
class Operation:
    """What the wrappers need to know about one store operation.

    Attributes:
        writes: It can change stored data (``get`` with ``renew_for`` is handled by ``ReadOnlyStore`` itself).
        repeatable: Running it again after a failure whose outcome is unknown gives the same result and data.
    """

    writes: bool
    repeatable: bool


OPERATIONS: Mapping[str, Operation] = {
    "get": Operation(writes=False, repeatable=True),
    "get_many": Operation(writes=False, repeatable=True),
    "exists": Operation(writes=False, repeatable=True),
    "expires_in": Operation(writes=False, repeatable=True),
    "count": Operation(writes=False, repeatable=True),
    "ping": Operation(writes=False, repeatable=True),
    "set": Operation(writes=True, repeatable=True),
    "set_many": Operation(writes=True, repeatable=True),
    "delete": Operation(writes=True, repeatable=True),
    "delete_many": Operation(writes=True, repeatable=True),
    "delete_all": Operation(writes=True, repeatable=True),
    "delete_expired": Operation(writes=True, repeatable=True),
    "incr": Operation(writes=True, repeatable=False),  # a repeated incr counts twice
    # a conditional write that succeeded but whose answer was lost would report False when run again
    "add": Operation(writes=True, repeatable=False),
    "compare_and_set": Operation(writes=True, repeatable=False),
    "compare_and_delete": Operation(writes=True, repeatable=False),
}
"""Every operation :meth:`StoreWrapper._call` runs, by method name."""


class StoreWrapper(KVStore):
    """A store that passes every operation to ``store``; subclasses override the hooks or methods they change.

    ``with_namespace`` wraps the wrapped store's child with the same settings and the same shared state (a shallow
    copy of this wrapper), ``address`` is the wrapped store's, and closing the wrapper closes the wrapped store.

    Args:
        store: The store to wrap: any store of this package, including another wrapper.

    Raises:
        TypeError: ``store`` is not a :class:`~litestar_kvstores.base.KVStore`.
    """

    __slots__ = ("store",)

    transforms_values: ClassVar[bool] = False
    """Whether stored bytes differ from the caller's value (encryption, compression): conditional writes then compare
    decoded values and replace exactly the stored bytes they compared, instead of comparing the caller's value."""

    def __init__(self, store: KVStore) -> None:
        if not isinstance(store, KVStore):
            raise TypeError(f"{type(self).__name__} wraps a store of litestar_kvstores, not {type(store).__name__}")
        self.store = store
        self.namespace = getattr(store, "namespace", None)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.store!r})"

    @property
    def address(self) -> str:
        """The wrapped store's address."""
        return self.store.address

    # --- hooks --------------------------------------------------------------------------------------------------

    async def _call(self, name: str, *args: Any) -> Any:
        """Run the operation ``name`` (a key of :data:`OPERATIONS`) on the wrapped store and return its result."""
        return await getattr(self.store, name)(*args)

    def _encode(self, key: str, value: str | bytes) -> str | bytes:
        """Return what to store for ``value`` under ``key`` (checking both first if the encoding needs them)."""
        return value

    def _decode(self, key: str, stored: bytes) -> bytes | None:
        """Return the caller's value for the stored bytes of ``key``, or ``None`` to report it missing."""
        return stored

    def _expiry(self, expires_in: TTL | None) -> TTL | None:
        """Return the expiry to write with (``None``: never expires)."""
        return expires_in

    def _renewal(self, renew_for: TTL | None) -> TTL | None:
        """Return the renewal to read with (``None``: no renewal)."""
        return renew_for

    def _companions(self) -> tuple[KVStore, ...]:
        """Other stores this wrapper uses besides :attr:`store` (entered and closed with it)."""
        return ()

    def _with_store(self, store: KVStore) -> Self:
        """Return a copy of this wrapper (same settings, same shared state) around ``store``."""
        child = copy.copy(self)
        child.store = store
        child.namespace = getattr(store, "namespace", None)
        return child

    # --- operations ---------------------------------------------------------------------------------------------

    def with_namespace(self, namespace: str) -> Self:
        """Return this wrapper, with its settings and shared state, around the wrapped store's child ``namespace``.

        Raises:
            TypeError, ValueError: as the wrapped store's ``with_namespace``.
        """
        return self._with_store(self.store.with_namespace(namespace))

    async def set(self, key: str, value: str | bytes, expires_in: TTL | None = None) -> None:
        """Store ``value`` under ``key``; see :meth:`KVStore.set`."""
        await self._call("set", key, self._encode(key, value), self._expiry(expires_in))

    async def get(self, key: str, renew_for: TTL | None = None) -> bytes | None:
        """Return the value of ``key`` or ``None``; see :meth:`KVStore.get`."""
        stored = await self._call("get", key, self._renewal(renew_for))
        return None if stored is None else self._decode(key, stored)

    async def delete(self, key: str) -> None:
        """Delete ``key``; a missing key is a no-op."""
        await self._call("delete", key)

    async def delete_all(self) -> None:
        """Delete every entry of this namespace and of its child namespaces."""
        await self._call("delete_all")

    async def exists(self, key: str) -> bool:
        """Return ``True`` if ``key`` is stored and not expired."""
        return cast("bool", await self._call("exists", key))

    async def expires_in(self, key: str) -> int | None:
        """Return the whole seconds until ``key`` expires; see :meth:`KVStore.expires_in`."""
        return cast("int | None", await self._call("expires_in", key))

    async def delete_expired(self) -> int:
        """Remove expired entries of this namespace and its children; return how many were removed."""
        return cast("int", await self._call("delete_expired"))

    async def incr(self, key: str, amount: int = 1, expires_in: TTL | None = None) -> int:
        """Add ``amount`` to the counter ``key`` and return the new value; see :meth:`KVStore.incr`."""
        return cast("int", await self._call("incr", key, amount, self._expiry(expires_in)))

    def keys(self) -> AsyncIterator[str]:
        """Iterate over the keys of this namespace (not of its children) that are not expired."""
        return self.store.keys()

    def namespaces(self) -> AsyncIterator[str]:
        """Iterate over the wrapped store's direct child namespaces that hold keys."""
        return self.store.namespaces()

    async def add(self, key: str, value: str | bytes, expires_in: TTL | None = None) -> bool:
        """Store ``value`` only if ``key`` is missing or expired; see :meth:`KVStore.add`."""
        return cast("bool", await self._call("add", key, self._encode(key, value), self._expiry(expires_in)))

    async def _stored_if_equal(self, key: str, expected: bytes) -> bytes | None:
        """The stored bytes of ``key`` if they decode to ``expected``, else ``None`` (for :attr:`transforms_values`)."""
        stored = await self._call("get", key, None)
        if stored is None or self._decode(key, stored) != expected:
            return None
        return cast("bytes", stored)

    async def compare_and_set(
        self, key: str, expected: str | bytes | None, value: str | bytes, expires_in: TTL | None = None
    ) -> bool:
        """Replace the value of ``key`` only if it equals ``expected``; see :meth:`KVStore.compare_and_set`.

        Over a wrapper that transforms values, the stored bytes are read and decoded first; the replacement is then
        conditional on exactly those bytes, so it stays atomic with respect to every other writer.
        """
        compared = check_expected(expected)
        encoded, expiry = self._encode(key, value), self._expiry(expires_in)
        if compared is not None and self.transforms_values:
            compared = await self._stored_if_equal(check_key(key), compared)
            if compared is None:
                return False
        return cast("bool", await self._call("compare_and_set", key, compared, encoded, expiry))

    async def compare_and_delete(self, key: str, expected: str | bytes) -> bool:
        """Delete ``key`` only if its value equals ``expected``; see :meth:`KVStore.compare_and_delete`."""
        compared = check_expected_value(expected)
        if self.transforms_values:
            stored = await self._stored_if_equal(check_key(key), compared)
            if stored is None:
                return False
            compared = stored
        return cast("bool", await self._call("compare_and_delete", key, compared))

    async def count(self) -> int:
        """Return how many keys :meth:`keys` would yield."""
        return cast("int", await self._call("count"))

    async def get_many(self, keys: Iterable[str]) -> dict[str, bytes | None]:
        """Return each key's value, ``None`` for missing or expired keys."""
        found: dict[str, bytes | None] = await self._call("get_many", list(keys))
        return {key: None if stored is None else self._decode(key, stored) for key, stored in found.items()}

    async def set_many(self, mapping: Mapping[str, str | bytes], expires_in: TTL | None = None) -> None:
        """Store every item of ``mapping`` with the same expiry; bad input writes nothing."""
        encoded = {key: self._encode(key, value) for key, value in mapping.items()}
        await self._call("set_many", encoded, self._expiry(expires_in))

    async def delete_many(self, keys: Iterable[str]) -> None:
        """Delete every key of ``keys``; bad input deletes nothing."""
        await self._call("delete_many", list(keys))

    async def ping(self) -> bool:
        """Return ``True`` if the wrapped store is reachable.

        Raises:
            StoreUnavailableError: it is not.
        """
        return cast("bool", await self._call("ping"))

    async def aclose(self) -> None:
        """Close the wrapped store and any other store the wrapper uses (a namespace's child store never closes the
        shared connection); every store is closed even if one fails, and the first failure is raised."""
        try:
            await self.store.aclose()
        finally:
            for store in self._companions():
                await store.aclose()

    async def __aenter__(self) -> Self:  # type: ignore[override]  # as KVStore: returns the store
        for store in (*self._companions(), self.store):
            await store.__aenter__()
        return self
