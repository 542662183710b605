"""Fixed vs sliding windows across a window's edge, on the real backends (one-second windows)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from litestar_kvstores import FileStore, MemoryStore
from litestar_kvstores.rate_limit import KVRateLimitConfig
from litestar_kvstores.rate_limit._middleware import encoded_names, with_headers
from litestar_kvstores.rate_limit._windows import Limit, RequestCounter, Usage, WindowEnds
from tests.support.rate_limit import count_once, limited_app, sleep_until_fraction, statuses

LIMIT = 10
EDGE_BACKENDS = ["memory", "file", "redis", "valkey", "mongo"]


@pytest.mark.parametrize("backend", EDGE_BACKENDS)
async def test_a_fixed_window_admits_a_double_burst_across_its_edge(store_url: str) -> None:
    async with AsyncTestClient(limited_app(store_url, limits=[("second", LIMIT)], strategy="fixed")) as client:
        first = await asyncio.gather(*(client.get("/a") for _ in range(LIMIT)))
        await asyncio.sleep(1.05)  # just past the end of the window the first request opened
        second = await asyncio.gather(*(client.get("/a") for _ in range(LIMIT)))
    assert statuses([*first, *second]).count(200) == 2 * LIMIT


@pytest.mark.parametrize("backend", EDGE_BACKENDS)
async def test_a_sliding_window_admits_little_more_than_the_limit_across_an_edge(store_url: str) -> None:
    for attempt in range(3):  # a loaded machine can stretch a burst across the edge: then try again, in a new budget
        budget = f"edge-{attempt}"
        app = limited_app(store_url, limits=[("second", LIMIT)], strategy="sliding", scope=lambda _, b=budget: b)
        async with AsyncTestClient(app) as client:
            await sleep_until_fraction(0.55, 0.65)  # late in a clock second
            first_second = int(time.time())
            first = await asyncio.gather(*(client.get("/a") for _ in range(LIMIT)))
            first_ended = int(time.time())
            await sleep_until_fraction(0.05, 0.15)  # early in the next one: most of the previous window still counts
            second_second = int(time.time())
            second = await asyncio.gather(*(client.get("/a") for _ in range(LIMIT)))
            second_ended = int(time.time())
        if first_ended == first_second and second_ended == second_second == first_second + 1:
            break
    else:
        pytest.fail("in 3 attempts the bursts never fell one on each side of a window edge (machine too slow)")
    assert statuses(first).count(200) == LIMIT
    admitted = statuses([*first, *second]).count(200)
    assert admitted < 1.5 * LIMIT, admitted
    refused = next(r for r in second if r.status_code == 429)
    assert 1 <= int(refused.headers["Retry-After"]) <= 2


def test_window_ends_are_forgotten_when_passed_and_beyond_their_bound() -> None:
    ends = WindowEnds(max_entries=2)
    ends.remember("a", 10.0)
    ends.remember("b", 20.0)
    assert (ends.end_of("a", 5.0), ends.end_of("b", 5.0)) == (10.0, 20.0)
    assert ends.end_of("a", 10.0) is None  # passed: forgotten
    assert ends.end_of("a", 5.0) is None
    ends.remember("a", 30.0)
    ends.remember("c", 40.0)  # a third end: the longest remembered ("b") goes
    assert (ends.end_of("b", 5.0), ends.end_of("a", 5.0), ends.end_of("c", 5.0)) == (None, 30.0, 40.0)


async def test_a_forgotten_window_end_is_read_again_from_the_store(tmp_path: Path) -> None:
    store = FileStore(tmp_path)  # a store without counter groups: the window ends are remembered in this process
    counter = RequestCounter([Limit("minute", 10)], "fixed", want_reset=True, ends=WindowEnds(max_entries=1))
    await count_once(counter, store, "{a}")
    await asyncio.sleep(1.1)
    await count_once(counter, store, "{b}")  # evicts "{a}"'s end
    usage = await count_once(counter, store, "{a}")
    assert usage.used == 2
    assert 50 <= usage.reset <= 59  # read from the counter's lifetime, not assumed to be a whole window


async def test_a_memory_store_tells_the_window_ends_itself() -> None:
    store = MemoryStore()
    counter = RequestCounter([Limit("minute", 3), Limit("hour", 100)], "fixed", want_reset=True)
    assert (await count_once(counter, store, "{a}")).reset == 60
    await asyncio.sleep(1.1)
    usage = await count_once(counter, store, "{a}")
    assert (usage.limit.unit, usage.used, usage.remaining, usage.allowed) == ("minute", 2, 1, True)
    assert 58 <= usage.reset <= 59  # the counter's own expiry, not a whole window
    await count_once(counter, store, "{a}")
    refused = await count_once(counter, store, "{a}")
    assert (refused.limit.unit, refused.used, refused.remaining, refused.allowed) == ("minute", 4, 0, False)
    assert 58 <= refused.retry_after <= 59
    assert not counter.ends  # nothing to remember in this process


@pytest.mark.parametrize("strategy", ["fixed", "sliding"])
async def test_a_memory_store_is_counted_without_a_coroutine(strategy: str) -> None:
    counter = RequestCounter([Limit("second", 2), Limit("minute", 5)], strategy, want_reset=True)  # type: ignore[arg-type]
    store = MemoryStore()
    usages = [counter.count(store, "{a}") for _ in range(3)]
    assert all(isinstance(usage, Usage) for usage in usages)  # answered at once, not an awaitable
    assert [usage.allowed for usage in usages] == [True, True, False]  # type: ignore[union-attr]
    assert usages[0].limit.unit == "second"  # type: ignore[union-attr]


async def test_the_headers_are_set_on_the_start_message_whatever_iterable_holds_its_headers() -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    usage = Usage.of(Limit("minute", 10), 3, 42, 42)
    wrapped = with_headers(send, encoded_names(KVRateLimitConfig(limits=[("minute", 10)])), usage)
    own = (b"ratelimit-remaining", b"999")  # set by the application: replaced
    start: Any = {"type": "http.response.start", "status": 200, "headers": iter([(b"a", b"1"), own, (b"b", b"2")])}
    await wrapped(start)
    body: Any = {"type": "http.response.body", "body": b"ok"}
    await wrapped(body)
    assert sent[0]["headers"] == [
        (b"a", b"1"),
        (b"b", b"2"),
        (b"ratelimit-policy", b"10; w=60"),
        (b"ratelimit-limit", b"10"),
        (b"ratelimit-remaining", b"7"),
        (b"ratelimit-reset", b"42"),
    ]
    assert sent[1] == {"type": "http.response.body", "body": b"ok"}
