"""CASSessionConfig: concurrent requests of one session never silently overwrite each other's changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from litestar import Litestar, Request, get, post
from litestar.middleware.session.server_side import ServerSideSessionConfig
from litestar.params import FromPath

from litestar_kvstores import KVStoresConfig, KVStoresPlugin, MemoryStore, StoreError
from litestar_kvstores.sessions import CASSessionConfig, SessionConflictError

gate: asyncio.Event | None = None


@post("/set/{key:str}/{value:str}")
async def set_value(request: Request[Any, Any, Any], key: FromPath[str], value: FromPath[str]) -> None:
    assert gate is not None
    await gate.wait()  # both requests have loaded the session before either writes
    request.session[key] = value


@post("/start")
async def start(request: Request[Any, Any, Any]) -> None:
    request.session["user"] = "ann"


@get("/show")
async def show(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return dict(request.session)


@asynccontextmanager
async def session_app(config: ServerSideSessionConfig, store: Any) -> AsyncIterator[httpx.AsyncClient]:
    plugin = KVStoresPlugin(KVStoresConfig(stores={"sessions": store}, cleanup_interval=None))
    app = Litestar([set_value, start, show], middleware=[config.middleware], plugins=[plugin], debug=False)
    transport = httpx.ASGITransport(app)  # type: ignore[arg-type]  # Litestar's ASGI types are narrower than httpx's
    async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        await client.post("/start")
        yield client


async def two_at_once(client: httpx.AsyncClient, first: str, second: str) -> list[int]:
    global gate
    gate = asyncio.Event()
    requests = [asyncio.ensure_future(client.post(path)) for path in (first, second)]
    await asyncio.sleep(0.2)
    gate.set()
    return [response.status_code for response in await asyncio.gather(*requests)]


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return MemoryStore()
    from litestar_kvstores import RedisStore

    return RedisStore.with_client(request.getfixturevalue("redis_url"), namespace=f"sessions-{id(request)}")


async def test_plain_litestar_sessions_lose_a_concurrent_change(store: Any) -> None:
    async with session_app(ServerSideSessionConfig(store="sessions"), store) as client:
        assert await two_at_once(client, "/set/a/1", "/set/b/2") == [201, 201]
        session = (await client.get("/show")).json()
        assert len(session) == 2  # user and only one of a, b: the other change was overwritten


async def test_changes_to_different_keys_are_merged(store: Any) -> None:
    async with session_app(CASSessionConfig(store="sessions"), store) as client:
        assert await two_at_once(client, "/set/a/1", "/set/b/2") == [201, 201]
        assert (await client.get("/show")).json() == {"user": "ann", "a": "1", "b": "2"}


async def test_changes_to_the_same_key_fail_the_later_request(store: Any) -> None:
    async with session_app(CASSessionConfig(store="sessions"), store) as client:
        statuses = await two_at_once(client, "/set/a/1", "/set/a/2")
        assert sorted(statuses) == [201, 409]
        winner = "1" if statuses[0] == 201 else "2"
        assert (await client.get("/show")).json() == {"user": "ann", "a": winner}


async def test_on_conflict_error_refuses_any_concurrent_change(store: Any) -> None:
    async with session_app(CASSessionConfig(store="sessions", on_conflict="error"), store) as client:
        assert sorted(await two_at_once(client, "/set/a/1", "/set/b/2")) == [201, 409]
        assert len((await client.get("/show")).json()) == 2


async def test_a_conflict_names_the_keys(store: Any) -> None:
    async with session_app(CASSessionConfig(store="sessions"), store) as client:
        global gate
        gate = asyncio.Event()
        requests = [asyncio.ensure_future(client.post(path)) for path in ("/set/a/1", "/set/a/2")]
        await asyncio.sleep(0.2)
        gate.set()
        refused = [response for response in await asyncio.gather(*requests) if response.status_code == 409]
        assert "['a']" in refused[0].headers["x-session-conflict"]


def test_on_conflict_is_checked() -> None:
    assert issubclass(SessionConflictError, StoreError)
    with pytest.raises(ValueError, match="on_conflict"):
        CASSessionConfig(on_conflict="last-wins")  # type: ignore[arg-type]
