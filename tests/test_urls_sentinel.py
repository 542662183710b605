"""redis+sentinel:// and valkey+sentinel:// URLs reach the primary a Sentinel names."""

from __future__ import annotations

import pytest

from litestar_kvstores import KVStore, store_from_url
from testservers.redis import Kind, start_sentinel, start_server


@pytest.mark.parametrize("kind", ["redis", "valkey"])
async def test_sentinel_url(kind: Kind) -> None:
    primary = start_server(kind)
    sentinel = start_sentinel(primary, service="kvstores")
    try:
        url = f"{kind}+sentinel://127.0.0.1:{sentinel.port}/kvstores/0?namespace=viaurl&socket_timeout=2"
        async with store_from_url(url) as store:
            assert isinstance(store, KVStore)
            assert type(store).__name__ == ("RedisStore" if kind == "redis" else "ValkeyStore")
            await store.set("k", b"v", expires_in=60)
            assert await store.get("k") == b"v"
            with primary.client() as raw:
                assert raw.get("LITESTAR/viaurl:k") == b"v"  # ?namespace= is a child of the default root
    finally:
        sentinel.stop()
        primary.stop()
