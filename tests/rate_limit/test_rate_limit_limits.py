"""KVRateLimitConfig on every backend: several limits, headers, budgets per client and per route, exactness."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from litestar import Request
from litestar.testing import AsyncTestClient

from tests.support.backends import SHARED_BACKENDS
from tests.support.rate_limit import limited_app, statuses


async def test_two_limits_at_once_all_must_pass(store_url: str) -> None:
    app = limited_app(store_url, limits=[("second", 3), ("minute", 5)])
    async with AsyncTestClient(app) as client:
        first = [await client.get("/a") for _ in range(4)]
        await asyncio.sleep(1.1)  # the per-second window is over, the per-minute one is not
        second = [await client.get("/a") for _ in range(3)]
    assert statuses(first) == [200, 200, 200, 429]
    # the refused request counted too: 4 of 5 used, so one more passes the minute's limit
    assert statuses(second) == [200, 429, 429]
    # the per-second limit refused first, the per-minute limit afterwards: the headers describe the refusing one
    assert first[3].headers["RateLimit-Policy"] == "3; w=1"
    assert second[1].headers["RateLimit-Policy"] == "5; w=60"
    assert second[1].headers["RateLimit-Remaining"] == "0"
    assert 50 <= int(second[1].headers["Retry-After"]) <= 60


async def test_headers_describe_the_limit_with_fewest_requests_left(store_url: str) -> None:
    app = limited_app(store_url, limits=[("second", 10), ("hour", 3)])
    async with AsyncTestClient(app) as client:
        responses = [await client.get("/a") for _ in range(4)]
    assert statuses(responses) == [200, 200, 200, 429]
    assert [r.headers["RateLimit-Remaining"] for r in responses] == ["2", "1", "0", "0"]
    assert {r.headers["RateLimit-Policy"] for r in responses} == {"3; w=3600"}
    assert {r.headers["RateLimit-Limit"] for r in responses} == {"3"}
    assert all(3590 <= int(r.headers["RateLimit-Reset"]) <= 3600 for r in responses)
    assert "Retry-After" not in responses[0].headers
    assert 3590 <= int(responses[3].headers["Retry-After"]) <= 3600


async def test_without_headers_a_429_still_says_when_to_retry(store_url: str) -> None:
    app = limited_app(store_url, limits=[("minute", 1)], set_rate_limit_headers=False)
    async with AsyncTestClient(app) as client:
        responses = [await client.get("/a") for _ in range(2)]
    assert statuses(responses) == [200, 429]
    assert not any("RateLimit-Remaining" in r.headers for r in responses)
    assert 55 <= int(responses[1].headers["Retry-After"]) <= 60


async def test_client_scope_is_one_budget_across_routes(store_url: str) -> None:
    async with AsyncTestClient(limited_app(store_url, limits=[("minute", 3)])) as client:
        responses = [await client.get(path) for path in ("/a", "/b", "/a", "/b")]
    assert statuses(responses) == [200, 200, 200, 429]


async def test_route_scope_gives_each_route_its_own_budget(store_url: str) -> None:
    async with AsyncTestClient(limited_app(store_url, limits=[("minute", 2)], scope="route")) as client:
        a = [await client.get("/a") for _ in range(3)]
        b = [await client.get("/b") for _ in range(3)]
    assert statuses(a) == [200, 200, 429]
    assert statuses(b) == [200, 200, 429]


async def test_a_callable_scope_gives_the_key(store_url: str) -> None:
    def by_api_key(request: Request[Any, Any, Any]) -> str:
        return request.headers.get("X-Api-Key", "anonymous")

    async with AsyncTestClient(limited_app(store_url, limits=[("minute", 2)], scope=by_api_key)) as client:
        one = [await client.get("/a", headers={"X-Api-Key": "one"}) for _ in range(3)]
        two = [await client.get("/b", headers={"X-Api-Key": "two"}) for _ in range(3)]
    assert statuses(one) == [200, 200, 429]
    assert statuses(two) == [200, 200, 429]


@pytest.mark.parametrize("backend", ["memory"])
async def test_the_users_callables_may_answer_with_other_types(store_url: str) -> None:
    """A key or identifier that is not a ``str`` is used as ``str()`` makes it, and a throttle check's answer as its
    truth, compiled or not (the compiled middleware must not check the callables' annotations)."""

    def by_number(request: Request[Any, Any, Any]) -> Any:
        return int(request.headers.get("X-Number", "0"))

    def throttle_numbered(request: Request[Any, Any, Any]) -> Any:
        return 1 if "X-Number" in request.headers else None

    async with AsyncTestClient(
        limited_app(store_url, limits=[("minute", 1)], scope=by_number, check_throttle_handler=throttle_numbered)
    ) as client:
        one = [await client.get("/a", headers={"X-Number": "1"}) for _ in range(2)]
        two = [await client.get("/a", headers={"X-Number": "2"}) for _ in range(2)]
        unthrottled = [await client.get("/a") for _ in range(2)]
    async with AsyncTestClient(limited_app(store_url, limits=[("minute", 1)], identifier_for_request=by_number)) as c:
        identified = [await c.get("/a", headers={"X-Number": "7"}) for _ in range(2)]
    assert statuses(one) == statuses(two) == statuses(identified) == [200, 429]
    assert statuses(unthrottled) == [200, 200]


@pytest.mark.parametrize("strategy", ["fixed", "sliding"])
async def test_exactly_the_limit_of_concurrent_requests_on_two_routes_is_admitted(
    store_url: str, strategy: str
) -> None:
    app = limited_app(store_url, limits=[("minute", 10), ("hour", 1000)], strategy=strategy)
    async with AsyncTestClient(app) as client:
        responses = await asyncio.gather(*(client.get(("/a", "/b")[i % 2]) for i in range(50)))
    assert statuses(responses).count(200) == 10
    assert statuses(responses).count(429) == 40


@pytest.mark.parametrize("backend", SHARED_BACKENDS)
async def test_two_apps_on_one_store_share_the_budget(store_url: str) -> None:
    # two applications with their own clients on one store, as two worker processes would have
    async with (
        AsyncTestClient(limited_app(store_url, limits=[("minute", 10)], strategy="sliding")) as first,
        AsyncTestClient(limited_app(store_url, limits=[("minute", 10)], strategy="sliding")) as second,
    ):
        responses = await asyncio.gather(*(client.get("/a") for client in (first, second) * 25))
    assert statuses(responses).count(200) == 10


async def test_exclusions_and_the_throttle_check_skip_counting(store_url: str) -> None:
    async def only_without_header(request: Request[Any, Any, Any]) -> bool:
        return "X-Internal" not in request.headers

    app = limited_app(
        store_url,
        limits=[("minute", 1)],
        exclude=["/b"],
        exclude_opt_key="no_limit",
        check_throttle_handler=only_without_header,
    )
    async with AsyncTestClient(app) as client:
        skipped = [await client.get(path) for path in ("/b", "/b", "/free", "/free")]
        skipped += [await client.get("/a", headers={"X-Internal": "1"}) for _ in range(2)]
        counted = [await client.get("/a") for _ in range(2)]
    assert statuses(skipped) == [200] * 6
    assert not any("RateLimit-Limit" in r.headers for r in skipped)
    assert statuses(counted) == [200, 429]


@pytest.mark.parametrize("backend", SHARED_BACKENDS)
async def test_a_window_another_process_opened_reports_its_own_reset(store_url: str) -> None:
    async with AsyncTestClient(limited_app(store_url, limits=[("minute", 10)])) as first:
        assert (await first.get("/a")).headers["RateLimit-Reset"] == "60"
    await asyncio.sleep(1.1)
    async with AsyncTestClient(limited_app(store_url, limits=[("minute", 10)])) as second:
        responses = [await second.get("/a") for _ in range(2)]  # the second from this process's memory of the end
    assert [r.headers["RateLimit-Remaining"] for r in responses] == ["8", "7"]
    assert all(55 <= int(r.headers["RateLimit-Reset"]) <= 59 for r in responses)
