"""The plugin closes every client it opened: checked with the servers' own counts of client connections."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.testing import AsyncTestClient
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from litestar_kvstores import KVStoresConfig, KVStoresPlugin, StoreRegistry
from testservers.mongo import start_mongo_server
from testservers.process import free_port

from .backends import BACKENDS
from .fixtures_plugin import url_for

REDIS_PROTOCOL_BACKENDS = [backend for backend in BACKENDS if backend in ("redis", "valkey")]


async def connections_named(server: str, name: str) -> int:
    """How many connections the server lists under the client name ``name`` (asked with a client of its own)."""
    async with Redis.from_url(server) as admin:
        return sum(1 for client in await admin.client_list() if client.get("name") == name)


@pytest.mark.parametrize("backend", REDIS_PROTOCOL_BACKENDS)
async def test_no_connection_left_after_shutdown(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    server = str(request.getfixturevalue(f"{backend}_url"))
    name = f"kvstores-{uuid.uuid4().hex[:12]}"
    default, named = (f"{url_for(backend, request, tmp_path)}&client_name={name}" for _ in range(2))
    plugin = KVStoresPlugin(KVStoresConfig(default=default, stores={"named": named}, cleanup_interval=0.05))

    @get("/{store:str}")
    async def write(store: FromPath[str], stores: NamedDependency[StoreRegistry]) -> str:
        await stores.get(store).set("k", b"v")
        return store

    async with AsyncTestClient(Litestar([write], plugins=[plugin])) as client:
        for store in ("named", "sessions", "response_cache"):  # one named store, two namespaces of the default
            assert (await client.get(f"/{store}")).text == store
        assert await connections_named(server, name) >= 2  # the default's client and the named store's
    for _ in range(100):  # the server notices a closed socket a moment later
        if await connections_named(server, name) == 0:
            break
        await asyncio.sleep(0.02)
    assert await connections_named(server, name) == 0


async def open_connections(admin: AsyncMongoClient[Any]) -> int:
    """How many client connections the MongoDB server counts, the admin client's own included."""
    status = await admin.admin.command("serverStatus")
    return int(status["connections"]["current"])


async def test_no_mongo_connection_left_after_shutdown(tmp_path: Path) -> None:
    # a server of its own, so no other test's clients change its connection count
    server = start_mongo_server(free_port(), tmp_path)
    admin: AsyncMongoClient[Any] = AsyncMongoClient(server.url)
    try:
        baseline = await open_connections(admin)
        url = f"mongodb://127.0.0.1:{server.port}/?directConnection=true"
        plugin = KVStoresPlugin(
            KVStoresConfig(default=f"{url}&namespace=app", stores={"named": f"{url}&namespace=named"})
        )

        @get("/{store:str}")
        async def write(store: FromPath[str], stores: NamedDependency[StoreRegistry]) -> str:
            await stores.get(store).set("k", b"v")
            return store

        async with AsyncTestClient(Litestar([write], plugins=[plugin])) as client:
            for store in ("named", "sessions", "response_cache"):
                assert (await client.get(f"/{store}")).text == store
            assert await open_connections(admin) >= baseline + 2  # the default's client and the named store's
        for _ in range(100):  # the server notices a closed socket a moment later
            if await open_connections(admin) <= baseline:
                break
            await asyncio.sleep(0.05)
        # <=: the admin client's own start-up connections may close meanwhile; an unclosed store client adds 2
        assert await open_connections(admin) <= baseline
    finally:
        await admin.close()
        server.kill()
