"""EncryptedStore: key material, envelopes, tampering, rotation, counters, and the rate limiter over it."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar, get
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.testing import AsyncTestClient

from litestar_kvstores import KVStoresConfig, KVStoresPlugin, MemoryStore, StoreError, store_from_url
from litestar_kvstores.base import KVStore
from litestar_kvstores.rate_limit import AtomicRateLimitMiddleware
from litestar_kvstores.wrappers import EncryptedStore
from litestar_kvstores.wrappers.encrypted import MAGIC
from tests.support.stores import as_kv_store, unique_namespace
from tests.support.wrappers import KEY_A, KEY_A_TEXT, KEY_B, read_damaged

SECRET = b"the session of alice: admin=true"


@pytest.fixture(params=["memory", "redis"])
def inner(request: pytest.FixtureRequest) -> KVStore:
    """The store under the EncryptedStore: its raw values are what an attacker with access to it sees."""
    store = request.getfixturevalue(f"{request.param}_store")
    assert isinstance(store, KVStore)
    return store


# --- key material -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "keys",
    [
        [KEY_A],
        [KEY_A_TEXT],
        [base64.urlsafe_b64encode(bytes(range(200, 232))).decode()],
        [KEY_A_TEXT + "\n"],
        (KEY_A, KEY_B),
    ],
)
def test_accepts_32_byte_keys_as_bytes_or_base64(keys: Any) -> None:
    EncryptedStore(MemoryStore(), keys=keys)


@pytest.mark.parametrize(
    ("keys", "error", "match"),
    [
        ([b"x" * 31], ValueError, "32 bytes, got 31"),
        ([b"x" * 33], ValueError, "32 bytes, got 33"),
        ([b""], ValueError, "32 bytes, got 0"),
        ([base64.b64encode(b"x" * 16).decode()], ValueError, "32 bytes, got 16"),
        (["not base64 at all!"], ValueError, "base64"),
        ([], ValueError, "at least one key"),
        ([KEY_A, KEY_A], ValueError, "same key twice"),
        ([KEY_A, KEY_A_TEXT], ValueError, "same key twice"),
        ([12345], TypeError, "bytes or base64 str, not int"),
        ([bytearray(KEY_A)], TypeError, "not bytearray"),
        ([None], TypeError, "not NoneType"),
        (KEY_A, TypeError, "list of keys"),
        (KEY_A_TEXT, TypeError, "list of keys"),
        (None, TypeError, "list of keys"),
    ],
)
def test_rejects_bad_keys_without_showing_them(keys: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match) as caught:
        EncryptedStore(MemoryStore(), keys=keys)
    assert KEY_A_TEXT not in str(caught.value)
    assert repr(KEY_A) not in str(caught.value)


def test_repr_shows_no_key() -> None:
    store = EncryptedStore(MemoryStore(), keys=[KEY_A, KEY_B])
    assert KEY_A_TEXT not in repr(store)
    assert "keys=2" in repr(store)


# --- envelopes --------------------------------------------------------------------------------------------------


async def test_values_are_stored_encrypted_with_a_fresh_nonce(inner: KVStore) -> None:
    store = EncryptedStore(inner, keys=[KEY_A])
    await store.set("a", SECRET)
    await store.set("b", SECRET)
    raw_a, raw_b = await inner.get("a"), await inner.get("b")
    assert raw_a is not None
    assert raw_b is not None
    assert raw_a.startswith(MAGIC)
    assert SECRET not in raw_a
    assert b"alice" not in raw_a
    assert raw_a[:22] != raw_b[:22]  # header and nonce: the nonce differs
    assert len(raw_a) == len(SECRET) + 37  # header 9 + nonce 12 + tag 16
    assert await store.get("a") == SECRET


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 1]) + data[index + 1 :]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda raw: _flip(raw, len(raw) - 1), "authentication"),  # the tag
        (lambda raw: _flip(raw, 30), "authentication"),  # the ciphertext
        (lambda raw: _flip(raw, 12), "authentication"),  # the nonce
        (lambda raw: raw[:-1], "authentication"),  # one byte short
        (lambda raw: raw[:20], "truncated"),
        (lambda raw: MAGIC, "truncated"),
        (lambda raw: raw[:4] + bytes([2]) + raw[5:], "newer format version (2)"),
        (lambda raw: raw[:4] + bytes([255]) + raw[5:], "newer format version (255)"),
        (lambda raw: raw[:5] + b"\x00\x00\x00\x00" + raw[9:], "key is not configured"),
        (lambda raw: SECRET, "not encrypted"),  # written before encryption was turned on, or by an attacker
        (lambda raw: b"", "not encrypted"),
    ],
)
async def test_damaged_values_read_as_missing_with_a_warning(
    inner: KVStore, caplog: pytest.LogCaptureFixture, damage: Any, reason: str
) -> None:
    store = EncryptedStore(inner, keys=[KEY_A])
    await store.set("session-id-123", SECRET)
    messages = await read_damaged(store, inner, "session-id-123", damage, caplog)
    assert len(messages) == 2
    assert reason in messages[0]
    assert "session-id-123" not in messages[0]  # keys (session ids) are credentials: never logged


async def test_a_value_moved_to_another_key_reads_as_missing(inner: KVStore) -> None:
    store = EncryptedStore(inner, keys=[KEY_A])
    await store.set("admin", SECRET)
    raw = await inner.get("admin")
    assert raw is not None
    await inner.set("attacker", raw)
    assert await store.get("attacker") is None
    assert await store.get("admin") == SECRET


async def test_a_value_encrypted_under_another_key_reads_as_missing(inner: KVStore) -> None:
    await EncryptedStore(inner, keys=[KEY_B]).set("key", SECRET)
    assert await EncryptedStore(inner, keys=[KEY_A]).get("key") is None


# --- rotation ---------------------------------------------------------------------------------------------------


async def test_every_key_decrypts_and_the_first_encrypts(inner: KVStore) -> None:
    await EncryptedStore(inner, keys=[KEY_A]).set("old", SECRET)
    rotated = EncryptedStore(inner, keys=[KEY_B, KEY_A])
    assert await rotated.get("old") == SECRET
    await rotated.set("new", SECRET)
    assert await EncryptedStore(inner, keys=[KEY_B]).get("new") == SECRET
    assert await EncryptedStore(inner, keys=[KEY_A]).get("new") is None


async def test_reencrypt_rewrites_old_values_under_the_first_key_keeping_expiries(
    inner: KVStore, caplog: pytest.LogCaptureFixture
) -> None:
    old = EncryptedStore(inner, keys=[KEY_A])
    await old.set("forever", b"1st value")
    await old.set("expiring", b"2nd value", expires_in=100)
    await old.incr("counter")
    await inner.set("garbage", b"not encrypted")
    rotated = EncryptedStore(inner, keys=[KEY_B, KEY_A])
    await rotated.set("current", b"3rd value")
    current = await inner.get("current")

    with caplog.at_level(logging.WARNING, logger="litestar_kvstores"):
        assert await rotated.reencrypt() == 2

    only_new = EncryptedStore(inner, keys=[KEY_B])
    assert await only_new.get_many(["forever", "expiring", "current", "counter"]) == {
        "forever": b"1st value",
        "expiring": b"2nd value",
        "current": b"3rd value",
        "counter": b"1",
    }
    assert await inner.expires_in("forever") is None
    assert 99 <= (await inner.expires_in("expiring") or 0) <= 101
    assert await inner.get("current") == current  # already under the first key: untouched
    assert await inner.get("garbage") == b"not encrypted"
    assert await rotated.reencrypt() == 0


async def test_reencrypt_dry_run_counts_without_writing_and_progress_sees_every_key(inner: KVStore) -> None:
    old = EncryptedStore(inner, keys=[KEY_A])
    await old.set_many({"a": b"one", "b": b"two"})
    await old.incr("counter")
    before = await inner.get_many(["a", "b"])
    rotated = EncryptedStore(inner, keys=[KEY_B, KEY_A])
    seen: list[tuple[int, int]] = []
    assert await rotated.reencrypt(dry_run=True, progress=lambda keys, size: seen.append((keys, size))) == 2
    assert await inner.get_many(["a", "b"]) == before  # nothing written
    assert sorted(seen) == sorted([(1, len(before["a"] or b"")), (1, len(before["b"] or b"")), (1, 1)])
    assert await rotated.reencrypt() == 2
    assert await rotated.reencrypt(dry_run=True) == 0


async def test_reencrypt_keeps_a_value_another_writer_replaced_meanwhile() -> None:
    class RacingStore(MemoryStore):
        """Another writer replaces ``raced`` just after each read of it (between reencrypt's read and its write)."""

        async def get(self, key: str, renew_for: Any = None) -> bytes | None:
            value = await super().get(key, renew_for)
            if key == "raced" and value is not None:
                await EncryptedStore(self, keys=[KEY_B]).set("raced", b"the writer's value")
            return value

    inner = RacingStore()
    old = EncryptedStore(inner, keys=[KEY_A])
    await old.set("raced", b"old value")
    await old.set("quiet", b"quiet value")
    rotated = EncryptedStore(inner, keys=[KEY_B, KEY_A])
    assert await rotated.reencrypt() == 1  # only "quiet": "raced" changed under it
    only_new = EncryptedStore(inner, keys=[KEY_B])
    assert await only_new.get_many(["raced", "quiet"]) == {"raced": b"the writer's value", "quiet": b"quiet value"}


async def test_reencrypt_walks_child_namespaces_where_the_store_lists_them() -> None:
    class ListingMemoryStore(MemoryStore):
        """A memory store with the contract's ``namespaces()``, which backends do not implement yet."""

        async def namespaces(self) -> AsyncIterator[str]:
            prefix = f"{self._path}/" if self._path else ""
            spaces = self._state.spaces
            for name in sorted({p[len(prefix) :].split("/")[0] for p in spaces if spaces[p] and p.startswith(prefix)}):
                if name:
                    yield name

    root = ListingMemoryStore()
    old = EncryptedStore(root, keys=[KEY_A])
    await old.set("top", b"t")
    await old.with_namespace("app").set("mid", b"m")
    await old.with_namespace("app").with_namespace("sessions").set("deep", b"d")
    assert await EncryptedStore(root, keys=[KEY_B, KEY_A]).reencrypt() == 3
    new = EncryptedStore(root, keys=[KEY_B])
    assert await new.with_namespace("app").with_namespace("sessions").get("deep") == b"d"


# --- counters ---------------------------------------------------------------------------------------------------


async def test_counters_are_plain_text_and_other_values_are_not(inner: KVStore) -> None:
    store = EncryptedStore(inner, keys=[KEY_A])
    assert await store.incr("hits", 5) == 5
    assert await inner.get("hits") == b"5"
    for looks_numeric in (b"007", b"-0", b"1.5", b"99999999999999999999", b" 1"):
        await store.set("value", looks_numeric)
        raw = await inner.get("value")
        assert raw is not None
        assert raw.startswith(MAGIC), looks_numeric
        assert await store.get("value") == looks_numeric


async def test_without_plain_integers_everything_is_encrypted_and_incr_refused(inner: KVStore) -> None:
    store = EncryptedStore(inner, keys=[KEY_A], plain_integers=False)
    await store.set("number", b"42")
    raw = await inner.get("number")
    assert raw is not None
    assert raw.startswith(MAGIC)
    assert await store.get("number") == b"42"
    with pytest.raises(StoreError, match="plain_integers=False"):
        await store.incr("number")
    await inner.set("planted", b"1")
    assert await store.get("planted") is None


@get("/", sync_to_thread=False)
def index() -> str:
    return "ok"


async def test_the_rate_limiter_works_over_an_encrypted_default_store(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_WRAPPERS_DEFAULT_KEY", KEY_A_TEXT)
    url = f"{redis_url}?namespace={unique_namespace().split('/')[-1]}"
    config = KVStoresConfig(
        default=url,
        wrappers={"default": {"encrypt": {"key_env": "TEST_WRAPPERS_DEFAULT_KEY"}}},
        cleanup_interval=None,
    )
    rate_limit = RateLimitConfig(rate_limit=("minute", 3), middleware_class=AtomicRateLimitMiddleware)
    app = Litestar([index], middleware=[rate_limit.middleware], plugins=[KVStoresPlugin(config)])
    async with AsyncTestClient(app) as client:
        statuses = [(await client.get("/")).status_code for _ in range(5)]
        assert isinstance(app.stores.get("rate_limit"), EncryptedStore)
    assert statuses == [200, 200, 200, 429, 429]
    async with as_kv_store(store_from_url(url)) as raw:
        limits = raw.with_namespace("rate_limit")
        assert [await limits.get(key) async for key in limits.keys()] == [b"5"]  # noqa: SIM118
        await raw.delete_all()
