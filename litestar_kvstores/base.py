"""The store interface every backend of this package implements.

:class:`KVStore` is a :class:`litestar.stores.base.NamespacedStore`, so any of our stores can be handed to every
Litestar feature that takes a store. It adds the extension methods of the contract (bulk operations, atomic
counters, atomic primitives, locks, key listing, health checks) with generic implementations that backends
override where they can do better in one round trip. The atomic primitives (:meth:`KVStore.add`,
:meth:`KVStore.compare_and_set`, :meth:`KVStore.compare_and_delete`) have no generic implementation: none can be
built atomically from the other operations, so every backend implements them itself.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from litestar.stores.base import NamespacedStore

from .validation import check_key, encode_value, ttl_seconds

if TYPE_CHECKING:
    from types import TracebackType
    from typing import Self

    from .lock import StoreLock

__all__ = ("IN_PROCESS", "TTL", "KVStore")

TTL = int | float | timedelta
"""A time-to-live: seconds as ``int``/``float`` or a ``timedelta``; always positive."""

IN_PROCESS = "in-process"
"""The :attr:`KVStore.address` of a store whose entries live in this process (no I/O behind its operations)."""


class KVStore(NamespacedStore):
    """Asynchronous, namespaced, bytes-based key/value store with the litestar-kvstores contract.

    Values are ``bytes`` (``str`` is accepted and UTF-8 encoded). Keys are non-empty ``str``. Every operation is
    atomic with respect to other callers; the documentation's "Store contract" page states the whole contract, and
    :class:`litestar_kvstores.testing.StoreContract` checks it.

    A backend that can be built from a URL implements :meth:`from_url`; :func:`~litestar_kvstores.store_from_url`
    hands it the URLs of its schemes.
    """

    __slots__ = ()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """Return a new, not yet connected store for ``url`` (one of this backend's URL schemes).

        ``?namespace=NAME`` (or ``namespace=NAME``) means the same on every backend: the returned store is
        ``with_namespace(NAME)`` of the store the URL names without it. Keyword ``options`` win over the query's.

        Raises:
            ValueError: an option is unknown (named in the message) or invalid, or the URL is malformed; the message
                never contains a credential.
        """
        raise NotImplementedError(f"{cls.__name__} cannot be built from a URL")

    @property
    def address(self) -> str:
        """Where the data lives, for people: ``host:port``, a path, or ``in-process``; never a credential."""
        return type(self).__name__

    @abstractmethod
    async def set(self, key: str, value: str | bytes, expires_in: TTL | None = None) -> None:
        """Store ``value`` under ``key``, replacing any previous value.

        Args:
            key: A non-empty ``str``.
            value: ``bytes``, or ``str`` which is stored UTF-8 encoded.
            expires_in: ``None`` to never expire, or a positive number of seconds / ``timedelta``.

        Raises:
            TypeError: ``key``, ``value`` or ``expires_in`` has a wrong type.
            ValueError: ``key`` is empty or ``expires_in`` is not positive.
            StoreError: the write failed; the previous value is left intact.
        """

    @abstractmethod
    async def get(self, key: str, renew_for: TTL | None = None) -> bytes | None:
        """Return the value stored under ``key``, or ``None`` if it is missing or expired.

        Args:
            key: A non-empty ``str``.
            renew_for: If given and the entry has an expiry, atomically set its expiry to ``renew_for`` from now.
                An entry without expiry keeps having none.
        """

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Delete ``key``; a missing key is a no-op."""

    @abstractmethod
    async def delete_all(self) -> None:
        """Delete every entry of this namespace and of its child namespaces, and nothing else."""

    @abstractmethod
    async def exists(self, key: str) -> bool:
        """Return ``True`` if ``key`` is stored and not expired."""

    @abstractmethod
    async def expires_in(self, key: str) -> int | None:
        """Return the whole seconds (rounded up) until ``key`` expires.

        Returns:
            ``None`` when the key is missing, expired or has no expiry; otherwise a positive ``int``.
        """

    @abstractmethod
    def with_namespace(self, namespace: str) -> Self:
        """Return a store for the child namespace ``namespace``, sharing this store's connection.

        Raises:
            ValueError: ``namespace`` is empty or contains characters other than letters, digits, ``_-.``.
        """

    @abstractmethod
    async def delete_expired(self) -> int:
        """Remove expired entries of this namespace and its children now.

        Returns:
            How many entries were removed (``0`` where the backend expires entries natively and none was due).
        """

    @abstractmethod
    async def incr(self, key: str, amount: int = 1, expires_in: TTL | None = None) -> int:
        """Atomically add ``amount`` to the integer counter ``key`` and return the new value.

        A missing or expired counter starts at ``0``; ``expires_in`` is applied only when the counter is created,
        so a window starts at its first count.

        Raises:
            ValueError: the stored value is not an integer.
        """

    @abstractmethod
    async def add(self, key: str, value: str | bytes, expires_in: TTL | None = None) -> bool:
        """Store ``value`` under ``key`` only if the key is missing or expired, atomically.

        Args:
            key: A non-empty ``str``.
            value: ``bytes``, or ``str`` which is stored UTF-8 encoded.
            expires_in: The expiry of the new entry, as for :meth:`set`.

        Returns:
            ``True`` if this call wrote the value, ``False`` if a live entry was there (it is left unchanged).

        Raises:
            TypeError, ValueError: as :meth:`set`.
        """

    @abstractmethod
    async def compare_and_set(
        self, key: str, expected: str | bytes | None, value: str | bytes, expires_in: TTL | None = None
    ) -> bool:
        """Replace the value of ``key`` with ``value`` only if it currently equals ``expected``, atomically.

        Args:
            key: A non-empty ``str``.
            expected: The value the entry must hold (``str`` is compared UTF-8 encoded), or ``None``: the key must
                be missing or expired.
            value: The new value, as for :meth:`set`.
            expires_in: The expiry of the new value, as for :meth:`set`: ``None`` means none, whatever expiry the
                old value had.

        Returns:
            ``True`` if the value was replaced, ``False`` if the current value differed (nothing is changed).

        Raises:
            TypeError: ``expected`` is not ``bytes``, ``str`` or ``None``; or as :meth:`set`.
            ValueError: as :meth:`set`.
        """

    @abstractmethod
    async def compare_and_delete(self, key: str, expected: str | bytes) -> bool:
        """Delete ``key`` only if its value equals ``expected``, atomically.

        Returns:
            ``True`` if the entry was deleted; ``False`` if it is missing, expired or holds another value.

        Raises:
            TypeError: ``expected`` is not ``bytes`` or ``str``, or ``key`` is not a ``str``.
            ValueError: ``key`` is empty.
        """

    def lock(self, name: str, *, ttl: TTL, timeout: float | None = None) -> StoreLock:
        """Return a lock named ``name`` on this store, to use as ``async with store.lock(...)``.

        The lock is the entry ``name`` of this store holding a random token; it is shared by every process that
        uses the same data (see :class:`~litestar_kvstores.lock.StoreLock`).

        Args:
            name: The key of the lock entry.
            ttl: How long the lock holds before it lapses unless extended: a positive number of seconds or
                ``timedelta``.
            timeout: Seconds to wait for the lock before :class:`~litestar_kvstores.errors.LockTimeoutError`:
                ``None`` waits as long as it takes, ``0`` tries once.

        Raises:
            TypeError, ValueError: ``name``, ``ttl`` or ``timeout`` is invalid.
        """
        from .lock import StoreLock

        return StoreLock(self, name, ttl=ttl, timeout=timeout)

    @abstractmethod
    def keys(self) -> AsyncIterator[str]:
        """Iterate over the keys of this namespace (not of its children) that are not expired."""

    def namespaces(self) -> AsyncIterator[str]:
        """Iterate over the names of the direct child namespaces that hold at least one key (or hold namespaces
        that do), each once, so a namespace tree can be walked through the public interface.

        Backends of this package implement it; a third-party store that does not raises ``NotImplementedError``
        when iterated (and then cannot be copied or exported).
        """
        return self._no_namespaces()

    async def _no_namespaces(self) -> AsyncIterator[str]:
        raise NotImplementedError(f"{type(self).__name__} cannot list its child namespaces")
        yield ""  # pragma: no cover  (makes this an async generator)

    async def count(self) -> int:
        """Return how many keys :meth:`keys` would yield."""
        n = 0
        async for _ in self.keys():
            n += 1
        return n

    async def get_many(self, keys: Iterable[str]) -> dict[str, bytes | None]:
        """Return a mapping of each key to its value, ``None`` for missing or expired keys."""
        return {key: await self.get(key) for key in keys}

    async def set_many(self, mapping: Mapping[str, str | bytes], expires_in: TTL | None = None) -> None:
        """Store every ``key -> value`` of ``mapping`` with the same expiry.

        Every key, value and the expiry are checked before the first write, so bad input writes nothing.

        Raises:
            TypeError, ValueError: as :meth:`set`, for any item.
        """
        ttl_seconds(expires_in)
        entries = [(check_key(key), encode_value(value)) for key, value in mapping.items()]
        for key, value in entries:
            await self.set(key, value, expires_in)

    async def delete_many(self, keys: Iterable[str]) -> None:
        """Delete every key of ``keys``; missing keys are ignored.

        Every key is checked before the first delete, so bad input deletes nothing.

        Raises:
            TypeError, ValueError: as :meth:`delete`, for any key.
        """
        for key in [check_key(key) for key in keys]:
            await self.delete(key)

    async def ping(self) -> bool:
        """Return ``True`` if the backend is reachable.

        Raises:
            StoreUnavailableError: the backend cannot be reached.
        """
        return True

    async def aclose(self) -> None:
        """Release resources this store owns (a client made by ``with_client``); children never close shared ones."""

    async def __aenter__(self) -> Self:  # type: ignore[override]  # returning the store is more useful than None
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.aclose()
