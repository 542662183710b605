"""TieredStore: near hits, write-through, expiry bounds, clearing both tiers, staleness across processes."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Iterable
from typing import Any

import pytest

from litestar_kvstores import MemoryStore
from litestar_kvstores.base import KVStore
from litestar_kvstores.redis import RedisStore
from litestar_kvstores.wrappers import InstrumentedStore, StoreWrapper, TieredStore
from tests.support.stores import unique_namespace
from tests.support.wrappers import write_through_tiered


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


async def test_get_many_keeps_near_copies_of_what_it_read_far(redis_store: KVStore) -> None:
    near = MemoryStore()
    far = counted(redis_store)
    store = TieredStore(near, far, near_ttl=10)
    await redis_store.set("forever", b"f")
    await redis_store.set("short", b"s", expires_in=3)
    await redis_store.set("long", b"l", expires_in=100)
    await store.set("near", b"n")
    keys = ["forever", "short", "long", "near", "nowhere"]
    expected = {"forever": b"f", "short": b"s", "long": b"l", "near": b"n", "nowhere": None}
    assert await store.get_many(keys) == expected
    # as get: near_ttl at most, and at most the far entry's remaining lifetime less the second expires_in rounds up
    assert {key: await near.expires_in(key) for key in keys} == {
        "forever": 10,
        "short": 2,
        "long": 10,
        "near": 10,
        "nowhere": None,
    }
    assert not await near.exists("nowhere")  # missing everywhere: nothing kept
    before = far.stats()["operations"]
    assert await store.get_many(["forever", "short", "long", "near"]) == {
        key: value for key, value in expected.items() if value is not None
    }
    assert far.stats()["operations"] == before  # all answered near


async def test_get_many_and_get_keep_the_same_near_expiry(redis_store: KVStore) -> None:
    by_get, by_get_many = MemoryStore(), MemoryStore()
    await redis_store.set_many({"a": b"1", "b": b"2"}, expires_in=4)
    await redis_store.set("c", b"3")
    for key in ("a", "b", "c"):
        assert await TieredStore(by_get, redis_store, near_ttl=30).get(key) is not None
    await TieredStore(by_get_many, redis_store, near_ttl=30).get_many(["a", "b", "c"])
    for key in ("a", "b", "c"):
        assert await by_get_many.get(key) == await by_get.get(key)
        assert await by_get_many.expires_in(key) == await by_get.expires_in(key)


async def test_a_near_copy_from_get_many_never_outlives_the_far_expiry(redis_store: KVStore) -> None:
    store = TieredStore(MemoryStore(), redis_store, near_ttl=60)
    await redis_store.set("k", b"v", expires_in=2)
    assert await store.get_many(["k"]) == {"k": b"v"}
    await asyncio.sleep(2.1)
    assert await store.get_many(["k"]) == {"k": None}


async def test_a_key_deleted_far_after_get_many_is_served_near_for_near_ttl_at_most(redis_store: KVStore) -> None:
    store = TieredStore(MemoryStore(), redis_store, near_ttl=0.5)
    await redis_store.set_many({"a": b"1", "b": b"2"})
    assert await store.get_many(["a", "b"]) == {"a": b"1", "b": b"2"}
    filled = time.monotonic()
    await redis_store.delete("a")  # by another writer: this store cannot know
    if time.monotonic() - filled < 0.4:
        assert await store.get_many(["a", "b"]) == {"a": b"1", "b": b"2"}  # the documented staleness
    await asyncio.sleep(max(0.0, filled + 0.55 - time.monotonic()))
    assert await store.get_many(["a", "b"]) == {"a": None, "b": b"2"}


class SlowExpiryStore(StoreWrapper):
    """Takes ``delay`` seconds to answer ``expires_in`` (it reads the expiry after the delay)."""

    __slots__ = ("delay",)

    def __init__(self, store: KVStore, delay: float) -> None:
        super().__init__(store)
        self.delay = delay

    async def expires_in(self, key: str) -> int | None:
        await asyncio.sleep(self.delay)
        return await super().expires_in(key)


@pytest.mark.parametrize("read", ["get", "get_many"])
async def test_an_entry_that_expires_during_a_read_through_is_not_kept_near(redis_store: KVStore, read: str) -> None:
    near = MemoryStore()
    store = TieredStore(near, SlowExpiryStore(redis_store, delay=0.7), near_ttl=60)
    await redis_store.set("k", b"v", expires_in=0.5)
    # the value is read while the entry lives; its expiry, read after it expired, comes back None, which alone
    # would look like "no expiry" and keep the copy near for near_ttl
    value = await store.get("k") if read == "get" else (await store.get_many(["k"]))["k"]
    assert value == b"v"
    assert not await near.exists("k")
    assert await store.get("k") is None


class GatedReadStore(StoreWrapper):
    """A far store whose reads, once done, wait for ``gate`` before they return (a slow far read)."""

    def __init__(self, store: KVStore) -> None:
        super().__init__(store)
        self.read_done = asyncio.Event()
        self.gate = asyncio.Event()

    async def _wait(self) -> None:
        self.read_done.set()
        await self.gate.wait()

    async def get(self, key: str, renew_for: Any = None) -> bytes | None:
        value = await super().get(key, renew_for)
        await self._wait()
        return value

    async def get_many(self, keys: Iterable[str]) -> dict[str, bytes | None]:
        values = await super().get_many(keys)
        await self._wait()
        return values


@pytest.mark.parametrize("read", ["get", "get_many"])
@pytest.mark.parametrize("write", ["delete", "set", "incr"])
async def test_a_write_during_a_read_through_is_not_undone_near(redis_store: KVStore, read: str, write: str) -> None:
    far = GatedReadStore(redis_store)
    store = TieredStore(MemoryStore(), far, near_ttl=60)
    await redis_store.set("k", b"41", expires_in=100)  # with an expiry: no exists() check after the read
    reading = asyncio.create_task(store.get("k") if read == "get" else store.get_many(["k"]))
    await far.read_done.wait()  # the read-through has read 41 in the far store; it keeps it near when it returns
    if write == "delete":
        await store.delete("k")
    elif write == "set":
        await store.set("k", b"new")
    else:
        await store.incr("k")
    far.gate.set()
    await reading
    written = {"delete": None, "set": b"new", "incr": b"42"}[write]
    assert await store.near.get("k") in (None, written)  # not the 41 read before the write
    assert await store.get("k") == written
    assert (store._reads.in_flight, store._reads.stale) == ({}, set())  # nothing kept once no read is in flight


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
