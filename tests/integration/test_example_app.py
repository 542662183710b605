"""The example app: sessions with a visit counter, the rate-limited page and its 429 page, the cached page and its
invalidation, the dashboard behind the sign-in guard; on the embedded default and on every backend by URL."""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

import litestar_kvstores
from example_app.app import EMBEDDED_DEFAULT, create_app
from litestar_kvstores import KVStore, MemoryStore
from litestar_kvstores.wrappers import InstrumentedStore
from tests.support.plugin import in_app
from tests.support.stores import url_for


def visits(page: str) -> int:
    match = re.search(r'id="visits">(\d+)<', page)
    assert match, "no visit counter on the page"
    return int(match.group(1))


async def sign_in(client: AsyncTestClient[Litestar], name: str) -> None:
    await client.get("/")  # sets the CSRF cookie
    response = await client.post("/sign-in", data={"name": name, "_csrf_token": client.cookies["csrftoken"]})
    assert response.status_code == 200  # followed the redirect home
    assert f"Hello, {name}" in response.text


async def test_the_embedded_default_serves_every_feature(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KVSTORES_DEFAULT", raising=False)
    app = create_app()
    async with AsyncTestClient(app=app) as client:
        assert "Sign in" in (await client.get("/")).text
        await sign_in(client, "Ada")
        assert [visits((await client.get("/")).text) for _ in range(3)] == [2, 3, 4]  # the redirect home was 1

        statuses = [(await client.get("/limited")).status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        refused = await client.get("/limited")
        assert 0 < int(refused.headers["Retry-After"]) <= 60
        assert f'id="retry-after">{refused.headers["Retry-After"]}<' in refused.text
        assert "Slow down" in refused.text

        for name in ("sessions", "rate_limit"):
            store = app.stores.get(name)
            assert isinstance(store, InstrumentedStore)  # counted for the dashboard
            assert isinstance(store.store, MemoryStore)
            assert store.namespace == name
    assert EMBEDDED_DEFAULT.startswith("memory://")


def rendered_at(page: str) -> str:
    match = re.search(r'id="rendered-at">([^<]+)<', page)
    assert match, "no render time on the page"
    return match.group(1)


async def test_the_cached_page_stays_until_invalidated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KVSTORES_DEFAULT", raising=False)
    async with AsyncTestClient(app=create_app()) as client:
        first = await client.get("/cached")
        assert client.cookies["csrftoken"] not in first.text  # nothing personal in a copy shared by every visitor
        assert 'name="_csrf_token" value=""' in first.text
        cache = client.app.stores.get("response_cache")
        assert isinstance(cache, KVStore)
        assert await in_app(client, cache.count) == 1
        assert rendered_at((await client.get("/cached")).text) == rendered_at(first.text)

        refused = await client.post("/cached/invalidate", data={"_csrf_token": ""})
        assert refused.status_code == 403
        # what static/app.js does on submit: the token comes from the CSRF cookie
        invalidated = await client.post("/cached/invalidate", data={"_csrf_token": client.cookies["csrftoken"]})
        assert invalidated.status_code == 200  # followed the redirect to /cached, rendered again
        assert await in_app(client, cache.count) == 1  # the new copy only


async def test_a_bad_name_is_refused_with_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KVSTORES_DEFAULT", raising=False)
    async with AsyncTestClient(app=create_app()) as client:
        await client.get("/")
        token = client.cookies["csrftoken"]
        for name in ("", "   ", "x" * 41):
            response = await client.post("/sign-in", data={"name": name, "_csrf_token": token})
            assert response.status_code == 400
            assert "Enter a name of 1 to 40 characters." in response.text
        assert (await client.post("/sign-in", data={"name": "Ada"})).status_code == 403  # no CSRF token


async def test_the_dashboard_needs_a_signed_in_visitor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KVSTORES_DEFAULT", raising=False)
    async with AsyncTestClient(app=create_app()) as client:
        refused = await client.get("/stores")
        assert refused.status_code == 401
        assert "Sign in first" in refused.text
        await sign_in(client, "Ada")
        page = await client.get("/stores")
        assert page.status_code == 200
        assert 'data-store="sessions"' in page.text
        stats_shown = hasattr(litestar_kvstores, "InstrumentedStore")  # the example counts hits where it can
        sessions_row = re.search(r'<tr data-store="sessions">(.*?)</tr>', page.text, re.S)
        assert sessions_row
        numbers = re.findall(r'<td class="num">([^<]*)</td>', sessions_row.group(1))
        assert numbers[0] == "1"  # keys: the session
        assert (numbers[1] != "-") is stats_shown  # hits


async def test_sign_out_deletes_the_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KVSTORES_DEFAULT", raising=False)
    async with AsyncTestClient(app=create_app()) as client:
        await sign_in(client, "Ada")
        sessions = client.app.stores.get("sessions")
        session_id = client.cookies["session"]
        assert b"Ada" in await in_app(client, sessions.get, session_id)
        home = await client.post("/sign-out", data={"_csrf_token": client.cookies["csrftoken"]})
        assert "Sign in" in home.text
        # deleted; the page home starts an empty session of its own (Litestar stores one for every visitor)
        assert await in_app(client, sessions.get, session_id) is None


async def test_the_visit_counter_survives_a_restart_on_the_file_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KVSTORES_DEFAULT", f"file://{tmp_path}")
    async with AsyncTestClient(app=create_app()) as client:
        await sign_in(client, "Grace")
        assert visits((await client.get("/")).text) == 2
        cookies = dict(client.cookies)
    assert any((tmp_path / "sessions").iterdir())
    async with AsyncTestClient(app=create_app(), cookies=cookies) as restarted:  # a new process, the same files
        page = (await restarted.get("/")).text
        assert "Hello, Grace" in page
        assert visits(page) == 3


@pytest.mark.parametrize("backend", ["file", "sqlite", "redis", "valkey", "mongo", "postgres"])
async def test_one_variable_moves_the_app_to_another_backend(
    backend: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = url_for(backend, request, tmp_path)
    monkeypatch.setenv("KVSTORES_DEFAULT", url)
    app = create_app()
    async with AsyncTestClient(app=app) as client:
        await sign_in(client, "Linus")
        assert visits((await client.get("/")).text) == 2
        assert [(await client.get("/limited")).status_code for _ in range(6)][-1] == 429
        page = (await client.get("/stores")).text
        sessions = app.stores.get("sessions")
        assert isinstance(sessions, KVStore)
        assert f'<td class="mono">{html.escape(sessions.address)}</td>' in page
        assert await in_app(client, sessions.count) == 1


def test_the_module_level_app_is_built_on_the_embedded_default() -> None:
    from example_app.app import app

    assert "KVSTORES_DEFAULT" not in os.environ
    sessions = app.stores.get("sessions")
    assert isinstance(sessions, KVStore)
    assert sessions.address == "in-process"
