"""The example app works on its embedded default: sessions, rate limiting and response caching."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from example_app.app import create_app
from litestar_kvstores import MemoryStore


async def test_example_app_features(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KVSTORES_DEFAULT", raising=False)
    app = create_app()
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/counter")).json() == {"count": 1}
        assert (await client.get("/counter")).json() == {"count": 2}
        statuses = [(await client.get("/limited")).status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        first = (await client.get("/cached")).json()
        assert (await client.get("/cached")).json() == first
        for name in ("sessions", "rate_limit", "response_cache"):
            store = app.stores.get(name)
            assert isinstance(store, MemoryStore)
            assert store.namespace == name


async def test_example_app_runs_on_the_backend_named_by_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KVSTORES_DEFAULT", f"file://{tmp_path}")
    app = create_app()
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/counter")).json() == {"count": 1}
        assert (await client.get("/counter")).json() == {"count": 2}
    assert any((tmp_path / "sessions").iterdir())
