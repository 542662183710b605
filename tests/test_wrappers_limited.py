"""LimitedStore: value size limit, TTL clamping and default, bad arguments."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from litestar_kvstores import MemoryStore
from litestar_kvstores.base import KVStore
from litestar_kvstores.wrappers import LimitedStore


@pytest.fixture(params=["memory", "redis"])
def inner(request: pytest.FixtureRequest) -> KVStore:
    store = request.getfixturevalue(f"{request.param}_store")
    assert isinstance(store, KVStore)
    return store


async def test_a_value_over_the_limit_raises_naming_it_and_writes_nothing(inner: KVStore) -> None:
    store = LimitedStore(inner, max_value_bytes=10)
    await store.set("fits", b"x" * 10)
    await store.set("fits", "ä" * 5)  # 10 bytes as UTF-8
    with pytest.raises(ValueError, match="max_value_bytes=10"):
        await store.set("fits", "ä" * 6)
    with pytest.raises(ValueError, match="max_value_bytes=10"):
        await store.set_many({"a": b"ok", "b": b"x" * 11})
    assert await inner.get("fits") == "ä".encode() * 5
    assert await inner.get("a") is None


async def test_expiries_above_max_ttl_are_clamped(inner: KVStore) -> None:
    store = LimitedStore(inner, max_ttl=60)
    await store.set("long", b"v", expires_in=timedelta(days=1))
    await store.set("short", b"v", expires_in=10)
    await store.set("none", b"v")
    await store.set_many({"many": b"v"}, expires_in=3600)
    assert await store.incr("counter", expires_in=3600) == 1
    assert await inner.expires_in("long") == 60
    assert await inner.expires_in("short") == 10
    assert await inner.expires_in("none") == 60
    assert await inner.expires_in("many") == 60
    assert await inner.expires_in("counter") == 60
    assert await store.get("short", renew_for=timedelta(hours=2)) == b"v"
    assert await inner.expires_in("short") == 60


async def test_default_ttl_applies_where_none_is_given(inner: KVStore) -> None:
    store = LimitedStore(inner, default_ttl=30, max_ttl=60)
    await store.set("default", b"v")
    await store.set("given", b"v", expires_in=5)
    assert await store.incr("counter") == 1
    assert await inner.expires_in("default") == 30
    assert await inner.expires_in("given") == 5
    assert await inner.expires_in("counter") == 30
    assert await store.get("given") == b"v"  # a plain read renews nothing
    assert await inner.expires_in("given") == 5


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"max_value_bytes": 0}, ValueError, "max_value_bytes must be positive"),
        ({"max_value_bytes": 1.5}, TypeError, "max_value_bytes"),
        ({"max_ttl": 0}, ValueError, "max_ttl"),
        ({"max_ttl": "1h"}, TypeError, "max_ttl"),
        ({"default_ttl": -1}, ValueError, "default_ttl"),
        ({"default_ttl": 100, "max_ttl": 10}, ValueError, "must not exceed max_ttl"),
    ],
)
def test_rejects_bad_limits(options: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        LimitedStore(MemoryStore(), **options)


async def test_bad_expiries_raise_the_contract_errors() -> None:
    store = LimitedStore(MemoryStore(), max_ttl=10, default_ttl=5)
    with pytest.raises(ValueError, match="expires_in"):
        await store.set("k", b"v", expires_in=0)
    with pytest.raises(TypeError, match="renew_for"):
        await store.get("k", renew_for="1")  # type: ignore[arg-type]
