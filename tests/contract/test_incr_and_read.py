"""``incr_and_read`` where a store offers it (memory, file, Redis, Valkey and their clusters): several counters and
reads in one call, the rate limiter's way of counting a request against all its limits."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from litestar_kvstores.rate_limit._windows import Limit, RequestCounter
from litestar_kvstores.validation import INT64_MAX
from tests.support.rate_limit import count_once

BATCHING_BACKENDS = ["memory", "file", "redis", "valkey", "redis_cluster", "valkey_cluster"]


@pytest.fixture(params=BATCHING_BACKENDS)
def batching_store(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(f"{request.param}_store")


async def test_counters_start_with_their_expiry_and_keep_it(batching_store: Any) -> None:
    store = batching_store
    await store.set("{b}read", b"17")
    counts, values = await store.incr_and_read([("{b}s", 30), ("{b}h", 3000), ("{b}n", None)], ["{b}read", "{b}no"])
    assert (counts, values) == ([1, 1, 1], [b"17", None])
    counts, _ = await store.incr_and_read([("{b}s", 9000), ("{b}h", 1), ("{b}n", 5)])
    assert counts == [2, 2, 2]
    assert 25 <= (await store.expires_in("{b}s") or 0) <= 30
    assert 2990 <= (await store.expires_in("{b}h") or 0) <= 3000
    assert await store.expires_in("{b}n") is None  # None: never expires, also when a later call gives one
    assert await store.incr("{b}s") == 3  # the same counters as incr's


async def test_an_expired_counter_starts_again(batching_store: Any) -> None:
    assert await batching_store.incr_and_read([("{b}c", 0.3)]) == ([1], [])
    await asyncio.sleep(0.6)
    assert await batching_store.incr_and_read([("{b}c", 10)]) == ([1], [])


async def test_nothing_to_do(batching_store: Any) -> None:
    assert await batching_store.incr_and_read([]) == ([], [])


async def test_bad_input_raises_before_anything_is_counted(batching_store: Any) -> None:
    store = batching_store
    with pytest.raises(ValueError, match="non-empty"):
        await store.incr_and_read([("{b}a", 10), ("", 10)])
    with pytest.raises(ValueError, match="positive"):
        await store.incr_and_read([("{b}a", 10), ("{b}c", 0)])
    with pytest.raises(TypeError):
        await store.incr_and_read([("{b}a", 10)], [b"key"])
    assert await store.get("{b}a") is None


async def test_a_counter_given_twice_raises_value_error_and_counts_nothing(batching_store: Any) -> None:
    with pytest.raises(ValueError, match="appears twice"):
        await batching_store.incr_and_read([("{b}a", 10), ("{b}b", 10), ("{b}a", 10)])
    assert await batching_store.get_many(["{b}a", "{b}b"]) == {"{b}a": None, "{b}b": None}


async def test_a_counter_that_holds_no_integer_raises_value_error(batching_store: Any) -> None:
    await batching_store.set("{b}text", b"abc")
    with pytest.raises(ValueError, match="integer"):
        await batching_store.incr_and_read([("{b}text", 10)])
    assert await batching_store.get("{b}text") == b"abc"


@pytest.mark.parametrize("refused", [b"abc", b"%d" % INT64_MAX])
async def test_a_call_with_a_counter_it_cannot_count_writes_none(batching_store: Any, refused: bytes) -> None:
    """All or nothing: a counter that holds no integer, or would leave the signed 64-bit range, fails the whole call;
    the counters before and after it in the call are neither created nor counted."""
    store = batching_store
    await store.set_many({"{b}kept": b"5", "{b}refused": refused})
    with pytest.raises(ValueError, match=r"integer|overflow"):  # each store names the problem its own way
        await store.incr_and_read([("{b}new", 10), ("{b}kept", 10), ("{b}refused", 10), ("{b}last", 10)])
    assert await store.get_many(["{b}new", "{b}kept", "{b}refused", "{b}last"]) == {
        "{b}new": None,
        "{b}kept": b"5",
        "{b}refused": refused,
        "{b}last": None,
    }
    assert await store.incr_and_read([("{b}new", 10), ("{b}kept", 10)]) == ([1, 6], [])


async def test_concurrent_calls_lose_no_count(batching_store: Any) -> None:
    await asyncio.gather(*(batching_store.incr_and_read([("{b}x", 60), ("{b}y", 60)]) for _ in range(50)))
    assert await batching_store.get_many(["{b}x", "{b}y"]) == {"{b}x": b"50", "{b}y": b"50"}


@pytest.mark.parametrize("strategy", ["fixed", "sliding"])
async def test_the_rate_limiter_counts_through_it(batching_store: Any, strategy: str) -> None:
    counter = RequestCounter([Limit("second", 5), Limit("hour", 500)], strategy, want_reset=True)  # type: ignore[arg-type]
    for _ in range(3):
        usage = await count_once(counter, batching_store, "{budget}")
    assert usage.limit.unit == "second"  # the limit with fewest left
    assert usage.remaining in (2, 3, 4)  # a second may have passed
    if strategy == "fixed":
        hour_counters = ["{budget}::fixed::hour"]
    else:  # named by the clock-aligned window: the current one, or the one before if an hour began meanwhile
        hour = int(time.time() // 3600)
        hour_counters = [f"{{budget}}::sliding::hour::{window}" for window in (hour - 1, hour)]
    values = await batching_store.get_many(hour_counters)
    assert sum(int(value) for value in values.values() if value is not None) == 3  # every request counted
