"""A store over a Sentinel-managed primary: the client from ``Sentinel.master_for`` works like any other."""

from __future__ import annotations

import pytest
import redis.asyncio
import valkey.asyncio

from litestar_kvstores import StoreUnavailableError
from litestar_kvstores.redis import RedisStore
from litestar_kvstores.valkey import ValkeyStore
from testservers.redis import Kind, start_sentinel, start_server


@pytest.mark.parametrize("kind", ["redis", "valkey"])
async def test_store_over_a_sentinel_managed_primary(kind: Kind) -> None:
    primary = start_server(kind)
    sentinel = start_sentinel(primary, service="kvstores")
    try:
        library = redis.asyncio if kind == "redis" else valkey.asyncio
        sentinels = library.Sentinel([("127.0.0.1", sentinel.port)], socket_timeout=2)
        client = sentinels.master_for("kvstores", socket_timeout=2)
        store_class = RedisStore if kind == "redis" else ValkeyStore
        async with store_class(client, handle_client_shutdown=True) as store:
            assert "kvstores" in repr(store)
            await store.with_namespace("app").set("k", b"v", expires_in=60)
            assert await store.with_namespace("app").get("k", renew_for=120) == b"v"
            assert await store.with_namespace("app").incr("n", expires_in=60) == 1
            with primary.client() as raw:
                assert raw.get("LITESTAR/app:k") == b"v"
            await store.delete_all()
            assert await store.with_namespace("app").count() == 0
            primary.stop()
            with pytest.raises(StoreUnavailableError, match="kvstores"):
                await store.get("k")
    finally:
        sentinel.stop()
        primary.stop()
