"""What the wrapper tests share: test keys, the wrapper configurations and a picklable opener of wrapped stores."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import Any

from litestar_kvstores import MemoryStore
from litestar_kvstores.base import KVStore
from litestar_kvstores.wrappers import (
    CompressedStore,
    EncryptedStore,
    FallbackStore,
    InstrumentedStore,
    LimitedStore,
    RetryStore,
    StoreWrapper,
    TieredStore,
)

KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))
KEY_A_TEXT = base64.b64encode(KEY_A).decode()
KEY_B_TEXT = base64.b64encode(KEY_B).decode()


def encrypted(store: KVStore) -> EncryptedStore:
    return EncryptedStore(store, keys=[KEY_A, KEY_B])


WRAPPERS: dict[str, Callable[[KVStore], KVStore]] = {
    "base": StoreWrapper,
    "encrypted": encrypted,
    "compressed_zstd": CompressedStore,
    "compressed_zlib_all": lambda store: CompressedStore(store, algorithm="zlib", min_size=0),
    "limited": lambda store: LimitedStore(store, max_value_bytes=1 << 20),
    "retry": lambda store: RetryStore(store, attempts=3, backoff=0.01),
    "fallback": lambda store: FallbackStore(store, MemoryStore()),
    "instrumented": lambda store: InstrumentedStore(store, name="contract"),
    "tiered": lambda store: TieredStore(MemoryStore(max_entries=1000), store, near_ttl=5),
    "encrypted_over_compressed": lambda store: encrypted(CompressedStore(store, min_size=16)),
    "tiered_over_encrypted": lambda store: TieredStore(MemoryStore(), encrypted(store), near_ttl=5),
}
"""Every configuration the contract suite runs, by name: a function of the store to wrap."""

PROCESS_LOCAL = {"tiered", "tiered_over_encrypted"}
"""Configurations whose near copies another process does not see (within near_ttl): no cross-process contract."""


async def read_damaged(
    store: KVStore, inner: KVStore, key: str, damage: Callable[[bytes], bytes], caplog: Any
) -> list[str]:
    """Damage the stored bytes of ``key`` in ``inner``; assert ``store`` reads it as missing and leaves it in place.

    Returns:
        The WARNING messages logged while reading it (once with ``get``, once with ``get_many``).
    """
    raw = await inner.get(key)
    assert raw is not None
    await inner.set(key, damage(raw))
    with caplog.at_level(logging.WARNING, logger="litestar_kvstores"):
        assert await store.get(key) is None
        assert await store.get_many([key]) == {key: None}
    assert await inner.get(key) == damage(raw)
    return [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]


def open_wrapped(name: str, opener: Callable[[], Any]) -> KVStore:
    """Return the configuration ``name`` around ``opener()``; module level, so a ``partial`` of it pickles."""
    return WRAPPERS[name](opener())


def write_through_tiered(url: str, namespace: str, key: str, value: bytes) -> None:
    """Child-process body of the staleness test: write ``value`` through a TieredStore of this process."""
    import asyncio

    from litestar_kvstores.redis import RedisStore

    async def run() -> None:
        async with TieredStore(MemoryStore(), RedisStore.with_client(url, namespace=namespace), near_ttl=60) as store:
            await store.set(key, value)

    asyncio.run(run())
