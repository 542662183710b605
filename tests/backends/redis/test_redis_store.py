"""RedisStore/ValkeyStore behaviour beyond the shared contract, against real servers and clusters."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis.asyncio
from litestar.exceptions import ImproperlyConfiguredException

from litestar_kvstores import StoreError
from litestar_kvstores._redis.store import RedisLikeStore
from litestar_kvstores.redis import RedisStore
from litestar_kvstores.valkey import ValkeyStore
from tests.support.redis import counting_store, library_client, raw_client
from tests.support.stores import STORE_CLASSES, unique_namespace
from testservers.redis import Kind


@pytest.fixture
async def raw(url: str) -> AsyncIterator[redis.asyncio.Redis]:
    async with raw_client(url) as client:
        yield client


@pytest.fixture
async def single_store(kind: Kind, url: str) -> AsyncIterator[RedisLikeStore]:
    async with STORE_CLASSES[kind].with_client(url, namespace=unique_namespace()) as store:
        yield store
        await store.delete_all()


async def stored_pttl(store: RedisLikeStore, raw: redis.asyncio.Redis, key: str) -> int:
    return int(await raw.pttl(f"{store.namespace}:{key}"))


# --- renewal ---------------------------------------------------------------------------------------------------


async def test_renew_for_two_days_sets_two_days(any_store: RedisLikeStore) -> None:
    # Litestar's store sends EXPIRE key 0 here (timedelta.seconds == 0) and so deletes the key.
    await any_store.set("session", b"data", expires_in=60)
    assert await any_store.get("session", renew_for=timedelta(days=2)) == b"data"
    assert 2 * 86400 - 5 <= (await any_store.expires_in("session") or 0) <= 2 * 86400


async def test_renew_for_float_keeps_milliseconds(single_store: RedisLikeStore, raw: redis.asyncio.Redis) -> None:
    await single_store.set("k", b"v", expires_in=60)
    assert await single_store.get("k", renew_for=1.5) == b"v"
    assert 1000 < await stored_pttl(single_store, raw, "k") <= 1500


async def test_renew_leaves_a_key_without_expiry_without_one(any_store: RedisLikeStore) -> None:
    await any_store.set("forever", b"v")
    assert await any_store.get("forever", renew_for=timedelta(seconds=30)) == b"v"
    assert await any_store.expires_in("forever") is None
    assert await any_store.get("missing", renew_for=30) is None
    assert not await any_store.exists("missing")


async def test_renew_is_one_round_trip_of_one_script(kind: Kind, url: str, raw: redis.asyncio.Redis) -> None:
    store, connection = counting_store(kind, url, unique_namespace())
    async with store:
        await store.set("k", b"v", expires_in=60)
        await store.get("k", renew_for=1)  # loads the script on a fresh server; later calls are one round trip
        evalsha_before = (await raw.info("commandstats")).get("cmdstat_evalsha", {}).get("calls", 0)
        connection.sends = 0
        assert await store.get("k", renew_for=90) == b"v"
        assert connection.sends == 1
        evalsha_after = (await raw.info("commandstats"))["cmdstat_evalsha"]["calls"]
        assert evalsha_after == evalsha_before + 1
        assert 85 <= (await store.expires_in("k") or 0) <= 90
        await store.delete_all()


async def test_renew_survives_a_flushed_script_cache(single_store: RedisLikeStore, raw: redis.asyncio.Redis) -> None:
    await single_store.set("k", b"v", expires_in=60)
    await raw.script_flush()
    assert await single_store.get("k", renew_for=100) == b"v"
    assert 95 <= (await single_store.expires_in("k") or 0) <= 100


async def test_concurrent_renewals_never_give_a_key_without_expiry_one(any_store: RedisLikeStore) -> None:
    # A renewal reading the TTL and setting it in separate commands, racing with a SET without expiry, would give
    # that key an expiry (a GET/PTTL/PEXPIRE version failed 20-35 of 50 rounds here); the script is atomic.
    stop = False

    async def renewer() -> None:
        while not stop:
            await any_store.get("k", renew_for=60)

    renewers = [asyncio.ensure_future(renewer()) for _ in range(3)]
    violations = 0
    try:
        for _ in range(50):
            await any_store.set("k", b"v", expires_in=60)
            await any_store.set("k", b"forever")
            await asyncio.sleep(0.002)  # let renewals that were in flight during the SET finish
            violations += await any_store.expires_in("k") is not None
    finally:
        stop = True
        await asyncio.gather(*renewers)
    assert violations == 0


# --- expiry precision ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expires_in", "low", "high"),
    # wide lower bounds for a loaded machine, still telling the kept milliseconds from a whole-second rounding
    [(1.25, 1000, 1250), (timedelta(milliseconds=1500), 1000, 1500), (0.3, 0, 300), (2, 1000, 2000)],
)
async def test_set_keeps_millisecond_precision(
    single_store: RedisLikeStore, raw: redis.asyncio.Redis, expires_in: float | timedelta, low: int, high: int
) -> None:
    await single_store.set("k", b"v", expires_in=expires_in)
    assert low < await stored_pttl(single_store, raw, "k") <= high


async def test_short_float_ttl_expires(any_store: RedisLikeStore) -> None:
    await any_store.set("k", b"v", expires_in=0.05)
    await asyncio.sleep(0.3)
    assert await any_store.get("k") is None
    assert await any_store.expires_in("k") is None


# --- incr ------------------------------------------------------------------------------------------------------


async def test_incr_is_atomic_under_200_concurrent_tasks(any_store: RedisLikeStore) -> None:
    results = await asyncio.gather(*(any_store.incr("hits", expires_in=60) for _ in range(200)))
    assert sorted(results) == list(range(1, 201))
    assert await any_store.get("hits") == b"200"


async def test_incr_sets_expiry_only_when_creating(any_store: RedisLikeStore) -> None:
    assert await any_store.incr("window", 5, expires_in=30) == 5
    assert await any_store.incr("window", 2, expires_in=3000) == 7
    assert 25 <= (await any_store.expires_in("window") or 0) <= 30
    await any_store.set("plain", b"10")
    assert await any_store.incr("plain", -3, expires_in=30) == 7
    assert await any_store.expires_in("plain") is None


async def test_incr_is_one_round_trip(kind: Kind, url: str) -> None:
    store, connection = counting_store(kind, url, unique_namespace())
    async with store:
        await store.incr("warm", expires_in=10)  # loads the script
        connection.sends = 0
        assert await store.incr("c", 3, expires_in=10) == 3
        assert await store.incr("c", 4) == 7
        assert connection.sends == 2
        await store.delete_all()


@pytest.mark.parametrize("stored", [b"abc", b"1.5", b""])
async def test_incr_of_a_non_integer_raises_value_error(any_store: RedisLikeStore, stored: bytes) -> None:
    await any_store.set("text", stored)
    with pytest.raises(ValueError, match="integer"):
        await any_store.incr("text")
    with pytest.raises(ValueError, match="integer"):
        await any_store.incr("text", expires_in=5)
    assert await any_store.get("text") == stored


async def test_incr_overflow_raises_value_error(any_store: RedisLikeStore) -> None:
    await any_store.set("big", str(2**63 - 1))
    with pytest.raises(ValueError, match="integer"):
        await any_store.incr("big")


@pytest.mark.parametrize("amount", [1.0, "1", True, None])
async def test_incr_rejects_a_non_int_amount(single_store: RedisLikeStore, amount: object) -> None:
    with pytest.raises(TypeError, match="amount"):
        await single_store.incr("c", amount)  # type: ignore[arg-type]
    assert not await single_store.exists("c")


@pytest.mark.parametrize("amount", [2**63, -(2**63) - 1])
async def test_incr_rejects_an_amount_outside_64_bits(single_store: RedisLikeStore, amount: int) -> None:
    with pytest.raises(ValueError, match="64-bit"):
        await single_store.incr("c", amount, expires_in=5)
    assert not await single_store.exists("c")
    assert await single_store.incr("c", 2**63 - 1) == 2**63 - 1
    assert await single_store.incr("d", -(2**63)) == -(2**63)


# --- bulk operations, keys -------------------------------------------------------------------------------------


async def test_bulk_operations_are_one_round_trip_each(kind: Kind, url: str) -> None:
    store, connection = counting_store(kind, url, unique_namespace())
    async with store:
        await store.ping()
        connection.sends = 0
        await store.set_many({f"k{i}": str(i) for i in range(50)}, expires_in=60)
        assert connection.sends == 1
        values = await store.get_many([f"k{i}" for i in range(60)])
        assert connection.sends == 2
        assert values == {f"k{i}": (str(i).encode() if i < 50 else None) for i in range(60)}
        await store.delete_many([f"k{i}" for i in range(0, 60, 2)])
        assert connection.sends == 3
        assert await store.count() == 25
        await store.delete_all()


async def test_bulk_operations_span_every_cluster_node(any_store: RedisLikeStore) -> None:
    mapping = {f"user:{i}": f"v{i}".encode() for i in range(300)}  # no hash tags: keys land on every node
    await any_store.set_many(mapping, expires_in=60)
    assert await any_store.get_many(mapping) == mapping
    assert 55 <= (await any_store.expires_in("user:7") or 0) <= 60
    await any_store.delete_many(list(mapping)[:100])
    assert await any_store.count() == 200
    assert await any_store.get_many([]) == {}


async def test_keys_lists_this_namespace_only_with_keys_verbatim(any_store: RedisLikeStore) -> None:
    names = {"plain", "with:colon", "with/slash", "a*b?[c]", "ünï cödé", "sp ace", "\\"}
    await any_store.set_many(dict.fromkeys(names, b"x"))
    await any_store.with_namespace("child").set("hidden", b"x")
    await any_store.with_namespace("child").set("plain2", b"x")
    assert {key async for key in any_store.keys()} == names  # noqa: SIM118  # a store is not a mapping
    assert await any_store.count() == len(names)


# --- construction, namespaces, ownership -------------------------------------------------------------------------


def test_namespace_path_and_default() -> None:
    client = redis.asyncio.Redis()
    assert RedisStore(client).namespace == "LITESTAR"
    assert RedisStore(client).with_namespace("sessions").namespace == "LITESTAR/sessions"
    assert RedisStore(client, namespace="app/sessions").namespace == "app/sessions"
    assert RedisStore(client, namespace=None).with_namespace("x").namespace == "x"


@pytest.mark.parametrize("namespace", ["", "a:b", "a/", "/a", "a b", "a*", ".."])
def test_invalid_namespace_raises_value_error(namespace: str) -> None:
    client = redis.asyncio.Redis()
    with pytest.raises(ValueError, match="namespace"):
        RedisStore(client, namespace=namespace)
    if "/" not in namespace:
        with pytest.raises(ValueError, match="namespace"):
            RedisStore(client).with_namespace(namespace)
    with pytest.raises(ValueError, match="namespace"):
        RedisStore(client).with_namespace("a/b")


def test_wrong_client_raises_type_error() -> None:
    import valkey.asyncio

    with pytest.raises(TypeError, match="Redis"):
        RedisStore(valkey.asyncio.Valkey())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Valkey"):
        ValkeyStore(redis.asyncio.Redis())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="namespace"):
        RedisStore(redis.asyncio.Redis(), namespace=1)  # type: ignore[arg-type]


async def test_delete_all_without_namespace_raises(url: str, kind: Kind) -> None:
    async with STORE_CLASSES[kind].with_client(url, namespace=None) as store:
        with pytest.raises(ImproperlyConfiguredException):
            await store.delete_all()


async def test_explicit_port_overrides_the_url(kind: Kind, url: str) -> None:
    port = int(url.rsplit(":", 1)[1])
    async with STORE_CLASSES[kind].with_client("redis://127.0.0.1:1", port=port) as store:
        assert await store.ping() is True


async def test_children_share_the_client_and_never_close_it(kind: Kind, url: str) -> None:
    root = STORE_CLASSES[kind].with_client(url, namespace=unique_namespace())
    async with root:
        async with root.with_namespace("child") as child:
            await child.set("k", b"v")
        assert await root.with_namespace("child").get("k") == b"v"
        await root.delete_all()
    with pytest.raises(StoreError, match="closed"):
        await root.get("k")
    with pytest.raises(StoreError, match="closed"):
        await root.with_namespace("child").get("k")


async def test_a_store_not_owning_its_client_leaves_it_open(url: str, kind: Kind) -> None:
    client = library_client(kind, url)
    async with STORE_CLASSES[kind](client, namespace=unique_namespace()) as store:
        await store.set("k", b"v")
        await store.delete_all()
    assert await client.ping()
    await client.aclose()


async def test_delete_expired_returns_zero(any_store: RedisLikeStore) -> None:
    await any_store.set("k", b"v", expires_in=60)
    assert await any_store.delete_expired() == 0
    assert await any_store.exists("k")


def test_the_package_imports_without_loading_the_client_libraries() -> None:
    code = (
        "import sys, litestar_kvstores as k\n"
        "assert not {'redis', 'valkey'} & set(sys.modules), 'imported eagerly'\n"
        "assert k.RedisStore.__name__ == 'RedisStore' and k.ValkeyStore.__name__ == 'ValkeyStore'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[3])


async def test_without_namespace_keys_are_stored_verbatim(kind: Kind, url: str, raw: redis.asyncio.Redis) -> None:
    name = f"verbatim-{unique_namespace()}:x*"
    async with STORE_CLASSES[kind].with_client(url, namespace=None) as store:
        await store.set(name, b"v")
        assert await raw.get(name) == b"v"
        assert name in {key async for key in store.keys()}  # noqa: SIM118  # a store is not a mapping
        child = store.with_namespace("child")
        assert child.namespace == "child"
        await store.delete(name)
        assert await raw.exists(name) == 0


@pytest.mark.parametrize("store_class", [RedisStore, ValkeyStore])
def test_with_client_rejects_unknown_options_and_bad_urls_before_connecting(
    store_class: type[RedisStore] | type[ValkeyStore],
) -> None:
    with pytest.raises(ValueError, match="bogus_option"):
        store_class.with_client("redis://127.0.0.1:1", bogus_option=1)
    with pytest.raises(ValueError, match="scheme"):
        store_class.with_client("http://127.0.0.1:1")
    with pytest.raises(ValueError, match="bogus_option"):
        store_class.with_cluster("redis://127.0.0.1:1", bogus_option=1)
    with pytest.raises(ValueError, match="scheme"):
        store_class.with_cluster("http://127.0.0.1:1")
