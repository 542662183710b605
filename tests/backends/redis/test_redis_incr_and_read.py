"""``incr_and_read`` on Redis/Valkey: one script in one round trip, and one hash slot on a cluster (the rest of its
behaviour is in ``tests/contract/test_incr_and_read.py``)."""

from __future__ import annotations

import pytest

from litestar_kvstores import StoreError
from litestar_kvstores._redis.store import RedisLikeStore
from litestar_kvstores.rate_limit._windows import Limit, WindowEnds, count_request
from tests.support.redis import counting_store
from tests.support.stores import unique_namespace
from testservers.redis import Kind


async def test_keys_of_different_hash_slots_raise_store_error_on_a_cluster(
    any_store: RedisLikeStore, request: pytest.FixtureRequest
) -> None:
    counters = [(f"key{number}", 10) for number in range(20)]  # 20 keys without a tag span several slots
    if "cluster" not in request.node.callspec.id:
        assert await any_store.incr_and_read(counters) == ([1] * 20, [])
        return
    with pytest.raises(StoreError):
        await any_store.incr_and_read(counters)


@pytest.mark.parametrize("strategy", ["fixed", "sliding"])
async def test_the_rate_limiter_counts_all_limits_in_one_round_trip(kind: Kind, url: str, strategy: str) -> None:
    store, connection = counting_store(kind, url, unique_namespace())
    limits = [Limit("second", 5), Limit("minute", 50), Limit("hour", 500)]
    async with store:
        await count_request(store, "{budget}", limits, strategy, want_reset=False, ends=WindowEnds())  # type: ignore[arg-type]
        connection.sends = 0
        usages = await count_request(store, "{budget}", limits, strategy, want_reset=False, ends=WindowEnds())  # type: ignore[arg-type]
        assert connection.sends == 1
        assert [usage.used for usage in usages] == [2, 2, 2] or strategy == "sliding"  # sliding adds the previous
        await store.delete_all()
