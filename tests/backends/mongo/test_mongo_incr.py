"""MongoStore.incr: atomic under concurrency (tasks and OS processes), expiry set on creation only."""

from __future__ import annotations

import asyncio
import functools
import multiprocessing

import pytest

from litestar_kvstores.mongo import MongoStore
from tests.support.stores import open_mongo_store


async def test_incr_is_atomic_under_200_concurrent_tasks(mongo_store: MongoStore) -> None:
    results = await asyncio.gather(*(mongo_store.incr("hits") for _ in range(200)))
    assert sorted(results) == list(range(1, 201))
    assert await mongo_store.get("hits") == b"200"


async def test_concurrent_creation_with_expiry_keeps_one_window(mongo_store: MongoStore) -> None:
    results = await asyncio.gather(*(mongo_store.incr("window", 2, expires_in=60) for _ in range(50)))
    assert sorted(results) == list(range(2, 101, 2))
    assert await mongo_store.expires_in("window") in {59, 60}


def _count_in_process(url: str, namespace: str, times: int) -> list[int]:
    async def count() -> list[int]:
        async with open_mongo_store(url, namespace) as store:
            return [await store.incr("shared") for _ in range(times)]

    return asyncio.run(count())


async def test_incr_is_atomic_across_processes(mongo_url: str, mongo_store: MongoStore) -> None:
    assert mongo_store.namespace is not None
    count = functools.partial(_count_in_process, mongo_url, mongo_store.namespace)
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        per_process = await asyncio.to_thread(pool.map, count, [50] * 4)
    results = sorted(value for values in per_process for value in values)
    assert results == list(range(1, 201))
    assert await mongo_store.get("shared") == b"200"


async def test_expiry_is_set_only_when_the_counter_is_created(mongo_store: MongoStore) -> None:
    assert await mongo_store.incr("window", expires_in=100) == 1
    assert await mongo_store.incr("window", expires_in=5) == 2
    assert await mongo_store.incr("window") == 3
    assert await mongo_store.expires_in("window") in {99, 100}
    assert await mongo_store.incr("plain") == 1
    assert await mongo_store.incr("plain", expires_in=5) == 2
    assert await mongo_store.expires_in("plain") is None


async def test_incr_counts_on_from_an_integer_set_as_bytes(mongo_store: MongoStore) -> None:
    await mongo_store.set("n", b"5", expires_in=100)
    assert await mongo_store.incr("n", 10, expires_in=5) == 15
    assert await mongo_store.get("n") == b"15"
    assert await mongo_store.expires_in("n") in {99, 100}
    await mongo_store.set("negative", "-7")
    assert await mongo_store.incr("negative", -3) == -10


async def test_integer_set_as_bytes_is_converted_once_under_concurrency(mongo_store: MongoStore) -> None:
    await mongo_store.set("n", b"1000")
    results = await asyncio.gather(*(mongo_store.incr("n") for _ in range(100)))
    assert sorted(results) == list(range(1001, 1101))


async def test_set_after_incr_replaces_the_counter(mongo_store: MongoStore) -> None:
    await mongo_store.incr("n", 3)
    await mongo_store.set("n", b"text")
    assert await mongo_store.get("n") == b"text"
    with pytest.raises(ValueError, match="not a 64-bit integer"):
        await mongo_store.incr("n")


@pytest.mark.parametrize("value", [b"abc", b"1.5", b" 5", b"5\n", b"1_000", b"", b"99999999999999999999"])
async def test_incr_on_a_non_integer_value_raises_value_error(mongo_store: MongoStore, value: bytes) -> None:
    await mongo_store.set("n", value)
    with pytest.raises(ValueError, match="not a 64-bit integer"):
        await mongo_store.incr("n")
    assert await mongo_store.get("n") == value


@pytest.mark.parametrize("amount", [1.0, "1", None, True])
async def test_incr_amount_of_a_wrong_type_raises_type_error(mongo_store: MongoStore, amount: object) -> None:
    with pytest.raises(TypeError):
        await mongo_store.incr("n", amount)  # type: ignore[arg-type]
    assert await mongo_store.exists("n") is False


async def test_incr_beyond_64_bits_raises_value_error(mongo_store: MongoStore) -> None:
    with pytest.raises(ValueError, match="64-bit"):
        await mongo_store.incr("n", 2**63)
    await mongo_store.set("n", str(2**63 - 1))
    with pytest.raises(ValueError, match="overflow"):
        await mongo_store.incr("n")
    assert await mongo_store.get("n") == str(2**63 - 1).encode()
