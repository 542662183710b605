"""TieredStore: near hits, write-through, expiry bounds, clearing both tiers, staleness across processes."""

from __future__ import annotations

import asyncio
import multiprocessing
import time

import pytest

from litestar_kvstores import MemoryStore
from litestar_kvstores.base import KVStore
from litestar_kvstores.redis import RedisStore
from litestar_kvstores.wrappers import InstrumentedStore, TieredStore

from .fixtures_redis import unique_namespace
from .wrappers_support import write_through_tiered


def counted(store: KVStore) -> InstrumentedStore:
    return InstrumentedStore(store, prometheus=False, opentelemetry=False)


async def test_near_hits_do_not_reach_the_far_store(redis_store: KVStore) -> None:
    far = counted(redis_store)
    store = TieredStore(MemoryStore(), far, near_ttl=30)
    await store.set("written", b"w")
    await redis_store.set("elsewhere", b"e", expires_in=100)
    assert await store.get("elsewhere") == b"e"  # read through
    before = far.stats()["operations"]
    for _ in range(5):
        assert await store.get("written") == b"w"
        assert await store.get("elsewhere") == b"e"
    assert far.stats()["operations"] == before


async def test_a_near_copy_never_outlives_the_far_expiry(redis_store: KVStore) -> None:
    store = TieredStore(MemoryStore(), redis_store, near_ttl=60)
    await store.set("written", b"w", expires_in=0.5)
    await redis_store.set("read", b"r", expires_in=2)
    assert await store.get("read") == b"r"
    await asyncio.sleep(0.7)
    assert await store.get("written") is None
    await asyncio.sleep(1.5)
    assert await store.get("read") is None


async def test_a_near_copy_lives_near_ttl_at_most(redis_store: KVStore) -> None:
    near = MemoryStore()
    store = TieredStore(near, redis_store, near_ttl=0.5)
    await store.set("k", b"v")
    assert await near.expires_in("k") == 1
    await redis_store.set("k", b"changed elsewhere")
    assert await store.get("k") == b"v"  # the near copy, within near_ttl
    await asyncio.sleep(0.7)
    assert await store.get("k") == b"changed elsewhere"


async def test_deletes_and_counters_clear_both_tiers(redis_store: KVStore) -> None:
    near = MemoryStore()
    store = TieredStore(near, redis_store, near_ttl=60)
    child = store.with_namespace("child")
    await store.set_many({"a": b"1", "b": b"2", "c": b"3", "n": b"5"})
    await child.set("k", b"v")
    await store.delete("a")
    await store.delete_many(["b"])
    assert await store.incr("n") == 6
    assert await store.get_many(["a", "b", "c", "n"]) == {"a": None, "b": None, "c": b"3", "n": b"6"}
    await store.delete_all()
    for tier in (near, redis_store):
        assert await tier.get("c") is None
        assert await tier.with_namespace("child").get("k") is None


async def test_a_renewing_read_renews_the_far_entry(redis_store: KVStore) -> None:
    store = TieredStore(MemoryStore(), redis_store, near_ttl=60)
    await store.set("session", b"s", expires_in=5)
    assert await store.get("session", renew_for=100) == b"s"
    assert await redis_store.expires_in("session") == 100


async def test_a_write_in_another_process_is_visible_within_near_ttl(redis_url: str) -> None:
    namespace = unique_namespace()
    async with RedisStore.with_client(redis_url, namespace=namespace) as far:
        bounded = TieredStore(MemoryStore(), far, near_ttl=2)
        long_lived = TieredStore(MemoryStore(), far, near_ttl=60)
        await bounded.set("k", b"v1")
        await long_lived.set("k", b"v1")
        populated = time.monotonic()

        process = multiprocessing.get_context("spawn").Process(
            target=write_through_tiered, args=(redis_url, namespace, "k", b"v2")
        )
        process.start()
        await asyncio.to_thread(process.join, 60)
        assert process.exitcode == 0
        assert await far.get("k") == b"v2"

        assert await long_lived.get("k") == b"v1"  # the near copy is what this process reads until near_ttl
        await asyncio.sleep(max(0.0, populated + 2.05 - time.monotonic()))
        assert await bounded.get("k") == b"v2"
        await far.delete_all()


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="near_ttl"):
        TieredStore(MemoryStore(), MemoryStore(), near_ttl=0)
    with pytest.raises(TypeError, match="near_ttl"):
        TieredStore(MemoryStore(), MemoryStore(), near_ttl="5")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not dict"):
        TieredStore({}, MemoryStore())  # type: ignore[arg-type]
