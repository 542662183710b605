"""CompressedStore: what is compressed, values from before the wrapper, damaged values, bad arguments."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from litestar_kvstores import MemoryStore
from litestar_kvstores.base import KVStore
from litestar_kvstores.wrappers import CompressedStore
from litestar_kvstores.wrappers.compressed import MAGIC

from .wrappers_support import read_damaged

JSON_64K = json.dumps([{"id": i, "name": f"user {i}", "active": i % 3 == 0} for i in range(1500)]).encode()[:65536]


@pytest.fixture(params=["memory", "redis"])
def inner(request: pytest.FixtureRequest) -> KVStore:
    store = request.getfixturevalue(f"{request.param}_store")
    assert isinstance(store, KVStore)
    return store


@pytest.mark.parametrize("algorithm", ["zstd", "zlib"])
async def test_large_values_are_compressed_and_small_ones_stored_as_they_are(inner: KVStore, algorithm: Any) -> None:
    store = CompressedStore(inner, algorithm=algorithm)
    await store.set("large", JSON_64K)
    await store.set("small", b"x" * 1023)
    raw = await inner.get("large")
    assert raw is not None
    assert raw.startswith(MAGIC + bytes([2 if algorithm == "zstd" else 1]))
    assert len(raw) < len(JSON_64K) / 4
    assert await inner.get("small") == b"x" * 1023
    assert await store.get("large") == JSON_64K
    assert await store.get_many(["large", "small"]) == {"large": JSON_64K, "small": b"x" * 1023}


async def test_either_algorithm_reads_what_the_other_wrote(inner: KVStore) -> None:
    await CompressedStore(inner, algorithm="zlib").set("z", JSON_64K)
    await CompressedStore(inner, algorithm="zstd").set("s", JSON_64K)
    for reader in (CompressedStore(inner, algorithm="zstd"), CompressedStore(inner, algorithm="zlib")):
        assert await reader.get_many(["z", "s"]) == {"z": JSON_64K, "s": JSON_64K}


async def test_values_written_before_the_wrapper_read_unchanged(inner: KVStore) -> None:
    await inner.set("legacy", JSON_64K)
    await inner.set("binary", os.urandom(4096))
    binary = await inner.get("binary")
    store = CompressedStore(inner, min_size=0)
    assert await store.get("legacy") == JSON_64K
    assert await store.get("binary") == binary


@pytest.mark.parametrize("value", [MAGIC, MAGIC + b"\x01", MAGIC + b"\x00tail", MAGIC + os.urandom(5000)])
async def test_values_that_look_like_a_header_round_trip(inner: KVStore, value: bytes) -> None:
    store = CompressedStore(inner)
    await store.set("key", value)
    assert await store.get("key") == value


async def test_incompressible_values_are_stored_as_they_are(inner: KVStore) -> None:
    noise = os.urandom(8192)
    await CompressedStore(inner).set("noise", noise)
    assert await inner.get("noise") == noise


async def test_counters_pass_through(inner: KVStore) -> None:
    store = CompressedStore(inner, min_size=0)
    assert await store.incr("n", 41) == 41
    assert await store.incr("n") == 42
    assert await inner.get("n") == b"42"


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda raw: raw[:-10], "length does not match"),
        (lambda raw: raw[:9] + bytes(len(raw) - 9), "does not decompress"),
        (lambda raw: raw[:5] + (10).to_bytes(4, "big") + raw[9:], "length does not match"),
        (lambda raw: raw[:4] + bytes([9]) + raw[5:], "unknown header"),
        (lambda raw: raw[:7], "unknown header"),
    ],
)
@pytest.mark.parametrize("algorithm", ["zstd", "zlib"])
async def test_damaged_values_read_as_missing_with_a_warning(
    inner: KVStore, caplog: pytest.LogCaptureFixture, algorithm: Any, damage: Any, reason: str
) -> None:
    store = CompressedStore(inner, algorithm=algorithm)
    await store.set("key", JSON_64K)
    messages = await read_damaged(store, inner, "key", damage, caplog)
    assert len(messages) == 2
    assert reason in messages[0]


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"algorithm": "lz4"}, ValueError, "algorithm must be"),
        ({"min_size": -1}, ValueError, "min_size"),
        ({"min_size": "1k"}, TypeError, "min_size must be int"),
        ({"min_size": True}, TypeError, "min_size must be int"),
        ({"level": 1.5}, TypeError, "level must be int"),
    ],
)
def test_rejects_bad_arguments(options: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        CompressedStore(MemoryStore(), **options)


@pytest.mark.parametrize("value", [None, 1, ["a"], bytearray(b"x")])
async def test_rejects_other_value_types(value: Any) -> None:
    with pytest.raises(TypeError):
        await CompressedStore(MemoryStore()).set("key", value)
