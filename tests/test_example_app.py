"""The example app works on its embedded default: sessions, rate limiting and response caching."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from example_app.app import create_app


async def test_example_app_features() -> None:
    async with AsyncTestClient(app=create_app()) as client:
        assert (await client.get("/counter")).json() == {"count": 1}
        assert (await client.get("/counter")).json() == {"count": 2}
        statuses = [(await client.get("/limited")).status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        first = (await client.get("/cached")).json()
        assert (await client.get("/cached")).json() == first
