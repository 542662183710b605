"""Fixed vs sliding windows across a window's edge, on the real backends (one-second windows)."""

from __future__ import annotations

import asyncio

import pytest
from litestar.testing import AsyncTestClient

from tests.support.rate_limit import limited_app, sleep_until_fraction, statuses

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
    async with AsyncTestClient(limited_app(store_url, limits=[("second", LIMIT)], strategy="sliding")) as client:
        await sleep_until_fraction(0.55, 0.65)  # late in a clock second
        first = await asyncio.gather(*(client.get("/a") for _ in range(LIMIT)))
        await sleep_until_fraction(0.05, 0.15)  # early in the next one: most of the previous window still counts
        second = await asyncio.gather(*(client.get("/a") for _ in range(LIMIT)))
    assert statuses(first).count(200) == LIMIT
    admitted = statuses([*first, *second]).count(200)
    assert admitted < 1.5 * LIMIT, admitted
    refused = next(r for r in second if r.status_code == 429)
    assert 1 <= int(refused.headers["Retry-After"]) <= 2
