"""A third-party store that implements only the abstract methods of ``KVStore`` passes the whole contract.

The abstract methods include the atomic primitives (``add``, ``compare_and_set``, ``compare_and_delete``): they have
no generic implementation, so a third-party store writes them too; ``lock`` then works on it unchanged.

It implements ``namespaces`` (which has no generic default) and relies on every default of
:class:`litestar_kvstores.base.KVStore` (``count``, ``get_many``, ``set_many``,
``delete_many``, ``ping``, ``aclose``, ``address``), so this proves the defaults keep the contract too: bad input to
``set_many`` / ``delete_many`` writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from litestar_kvstores.base import TTL, KVStore
from litestar_kvstores.testing import ContractTraits, StoreContract
from litestar_kvstores.validation import (
    add_to_counter,
    check_amount,
    check_expected,
    check_expected_value,
    check_key,
    check_namespace,
    encode_value,
    remaining_whole_seconds,
    ttl_seconds,
)

if TYPE_CHECKING:
    from typing import Self

_Entries = dict[tuple[str, str], tuple[bytes, float | None]]


class MinimalStore(KVStore):
    """An in-process store written as a third party would: the abstract methods only, no overrides."""

    __slots__ = ("_entries", "_path")

    def __init__(self, entries: _Entries | None = None, path: str = "") -> None:
        self._entries: _Entries = {} if entries is None else entries
        self._path = path

    def _live(self, key: str) -> tuple[bytes, float | None] | None:
        entry = self._entries.get((self._path, check_key(key)))
        if entry is not None and entry[1] is not None and entry[1] <= time.monotonic():
            del self._entries[(self._path, key)]
            return None
        return entry

    async def set(self, key: str, value: str | bytes, expires_in: TTL | None = None) -> None:
        data, ttl = encode_value(value), ttl_seconds(expires_in)
        self._entries[(self._path, check_key(key))] = (data, None if ttl is None else time.monotonic() + ttl)

    async def get(self, key: str, renew_for: TTL | None = None) -> bytes | None:
        renew = ttl_seconds(renew_for, "renew_for")
        entry = self._live(key)
        if entry is None:
            return None
        if renew is not None and entry[1] is not None:
            self._entries[(self._path, key)] = (entry[0], time.monotonic() + renew)
        return entry[0]

    async def delete(self, key: str) -> None:
        self._entries.pop((self._path, check_key(key)), None)

    async def delete_all(self) -> None:
        prefix = self._path + "/"
        for path, key in list(self._entries):
            if path == self._path or path.startswith(prefix):
                del self._entries[(path, key)]

    async def exists(self, key: str) -> bool:
        return self._live(key) is not None

    async def expires_in(self, key: str) -> int | None:
        entry = self._live(key)
        if entry is None or entry[1] is None:
            return None
        return remaining_whole_seconds(entry[1] - time.monotonic())

    def with_namespace(self, namespace: str) -> Self:
        name = check_namespace(namespace)
        return type(self)(self._entries, f"{self._path}/{name}" if self._path else name)

    async def delete_expired(self) -> int:
        now = time.monotonic()
        due = [slot for slot, (_, expiry) in self._entries.items() if expiry is not None and expiry <= now]
        for slot in due:
            del self._entries[slot]
        return len(due)

    async def incr(self, key: str, amount: int = 1, expires_in: TTL | None = None) -> int:
        check_amount(amount)
        ttl = ttl_seconds(expires_in)
        entry = self._live(key)
        if entry is None:
            total, expiry = amount, None if ttl is None else time.monotonic() + ttl
        else:
            total, expiry = add_to_counter(key, entry[0], amount), entry[1]
        self._entries[(self._path, key)] = (str(total).encode(), expiry)
        return total

    async def compare_and_set(
        self, key: str, expected: str | bytes | None, value: str | bytes, expires_in: TTL | None = None
    ) -> bool:
        wanted, data, ttl = check_expected(expected), encode_value(value), ttl_seconds(expires_in)
        entry = self._live(key)
        if (None if entry is None else entry[0]) != wanted:
            return False
        self._entries[(self._path, key)] = (data, None if ttl is None else time.monotonic() + ttl)
        return True

    async def add(self, key: str, value: str | bytes, expires_in: TTL | None = None) -> bool:
        return await self.compare_and_set(key, None, value, expires_in)

    async def compare_and_delete(self, key: str, expected: str | bytes) -> bool:
        wanted = check_expected_value(expected)
        entry = self._live(key)
        if entry is None or entry[0] != wanted:
            return False
        del self._entries[(self._path, key)]
        return True

    async def keys(self) -> AsyncIterator[str]:
        for path, key in list(self._entries):
            if path == self._path and self._live(key) is not None:
                yield key

    async def namespaces(self) -> AsyncIterator[str]:
        prefix = f"{self._path}/" if self._path else ""
        now = time.monotonic()
        names = {
            path[len(prefix) :].partition("/")[0]
            for (path, _), (_, expiry) in list(self._entries.items())
            if path != self._path and path.startswith(prefix) and (expiry is None or expiry > now)
        }
        for name in sorted(names):
            yield name


class TestMinimalStoreContract(StoreContract):
    """The whole contract over a store that uses every default of ``KVStore``."""

    @pytest.fixture
    async def store(self) -> AsyncIterator[KVStore]:
        async with MinimalStore().with_namespace("contract") as store:
            yield store

    @pytest.fixture
    def contract_traits(self) -> ContractTraits:
        return ContractTraits(expires_natively=False, opener=None)


async def test_default_address_names_the_class() -> None:
    assert MinimalStore().address == "MinimalStore"


async def test_default_from_url_says_the_store_cannot_be_built_from_a_url() -> None:
    with pytest.raises(NotImplementedError, match="MinimalStore"):
        MinimalStore.from_url("minimal://")
