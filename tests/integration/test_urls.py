"""store_from_url: schemes, options, validation before connecting, redaction and third-party schemes."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest
from litestar.stores.base import Store

from litestar_kvstores import (
    FileStore,
    KVStore,
    MemoryStore,
    StoreUnavailableError,
    redact_url,
    register_scheme,
    store_from_url,
)
from litestar_kvstores.urls import registered_schemes
from tests.support.stores import as_kv_store

# A port nothing listens on: option errors must come before any connection attempt, so they never reach it.
NOWHERE = "127.0.0.1:9"

NETWORK_URLS = [
    f"redis://{NOWHERE}/0",
    f"rediss://{NOWHERE}/0",
    f"valkey://{NOWHERE}/0",
    f"valkeys://{NOWHERE}/0",
    f"redis+sentinel://{NOWHERE}/mymaster",
    f"valkey+sentinel://{NOWHERE}/mymaster",
    f"redis+cluster://{NOWHERE}",
    f"valkey+cluster://{NOWHERE}",
    f"mongodb://{NOWHERE}/",
]


async def test_memory_url_with_bounds_and_namespace() -> None:
    store = store_from_url("memory://?max_entries=2&max_bytes=100&namespace=app")
    assert isinstance(store, MemoryStore)
    assert store.namespace == "app"
    for key in ("a", "b", "c"):
        await store.set(key, b"x")
    assert await store.count() == 2  # the least recently used entry was evicted
    with pytest.raises(ValueError, match="max_bytes=100"):
        await store.set("big", b"x" * 101)


def test_keyword_options_win_over_the_query() -> None:
    store = store_from_url("memory://?namespace=from_query", namespace="from_kwargs")
    assert isinstance(store, MemoryStore)
    assert store.namespace == "from_kwargs"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("memory://?max_entries=many", "'max_entries' must be a positive integer"),
        ("memory://?max_bytes=0", "'max_bytes' must be a positive integer"),
        ("memory://?colour=blue", "'colour'"),
        ("memory://somewhere", "no host or path"),
        ("memory://?namespace=a/b", "Invalid namespace name"),
        ("memory://?namespace=", "'namespace' must not be empty"),
    ],
)
def test_bad_memory_urls_raise_value_error(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        store_from_url(url)


def test_unknown_scheme_is_named_without_credentials() -> None:
    with pytest.raises(ValueError, match="'nosuch'") as raised:
        store_from_url("nosuch://alice:s3cret@example.com/")
    assert "s3cret" not in str(raised.value)
    assert "alice" not in str(raised.value)


def test_a_non_string_url_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="must be a str"):
        store_from_url(b"memory://")  # type: ignore[arg-type]


@pytest.mark.parametrize("url", NETWORK_URLS)
def test_unknown_network_options_are_refused_before_connecting(url: str) -> None:
    secret_url = url.replace("://", "://alice:s3cret@", 1)
    separator = "&" if "?" in secret_url else "?"
    with pytest.raises(ValueError, match="'no_such_option'") as raised:
        store_from_url(f"{secret_url}{separator}no_such_option=1")
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize("url", NETWORK_URLS)
def test_unknown_keyword_options_are_refused_too(url: str) -> None:
    with pytest.raises(ValueError, match="'bogus'"):
        store_from_url(url, bogus=True)


def test_an_empty_namespace_is_refused() -> None:
    with pytest.raises(ValueError, match="'namespace' must not be empty"):
        store_from_url(f"redis://{NOWHERE}/0?namespace=")


def test_every_documented_scheme_is_registered() -> None:
    expected = {
        "memory",
        "file",
        "redis",
        "rediss",
        "valkey",
        "valkeys",
        "redis+sentinel",
        "redis+cluster",
        "valkey+sentinel",
        "valkey+cluster",
        "mongodb",
        "mongodb+srv",
    }
    assert expected <= set(registered_schemes())


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("redis://alice:s3cret@host:6379/0", "redis://***@host:6379/0"),
        ("redis://:s3cret@host", "redis://***@host"),
        ("mongodb://u:p%40ss@a:1,b:2/db?replicaSet=rs", "mongodb://***@a:1,b:2/db?replicaSet=rs"),
        ("redis://host/0?password=s3cret&db=1", "redis://host/0?password=***&db=1"),
        ("memory://?namespace=x", "memory://?namespace=x"),
    ],
)
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


class _Bag(MemoryStore):
    """A store made by a third-party scheme in these tests."""


def _bag_from_url(url: str, **options: Any) -> Store:
    if options:
        raise ValueError(f"Unknown option(s) {sorted(options)} for bag:// URLs")
    return _Bag()


def test_register_scheme() -> None:
    register_scheme("bag-test", _bag_from_url)
    assert isinstance(store_from_url("BAG-TEST://anything"), _Bag)
    with pytest.raises(ValueError, match="already registered"):
        register_scheme("bag-test", _bag_from_url)
    register_scheme("bag-test", _bag_from_url, replace=True)
    with pytest.raises(ValueError, match="Invalid URL scheme"):
        register_scheme("1bad", _bag_from_url)


def test_schemes_from_entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    distribution = tmp_path / "bag_plugin-1.0.dist-info"
    distribution.mkdir()
    (distribution / "METADATA").write_text("Metadata-Version: 2.1\nName: bag-plugin\nVersion: 1.0\n")
    (distribution / "entry_points.txt").write_text(
        "[litestar_kvstores.schemes]\nbag-ep = tests.integration.test_urls:_bag_from_url\n"
    )
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    assert isinstance(store_from_url("bag-ep://x"), _Bag)
    assert "bag-ep" in registered_schemes()


async def test_url_of_every_backend_round_trips(store_url: str) -> None:
    async with store_from_url(store_url) as store:
        assert isinstance(store, KVStore)
        await store.set("key", b"value", expires_in=60)
        assert await store.get("key") == b"value"
        other = store.with_namespace("other")
        assert await other.get("key") is None
        await store.delete_all()
        assert await store.get("key") is None


def test_file_urls_relative_and_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = store_from_url("file://./data?namespace=app")
    assert isinstance(relative, FileStore)
    assert relative.address == str(tmp_path / "data" / "app")
    bare = store_from_url("file://data")
    assert isinstance(bare, FileStore)
    assert bare.address == str(tmp_path / "data")
    absolute = store_from_url(f"file://{tmp_path}/abs?fsync=true")
    assert isinstance(absolute, FileStore)
    assert absolute.address == str(tmp_path / "abs")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file://", "needs a directory"),
        ("file:///tmp/x?colour=blue", "'colour'"),
        ("file:///tmp/x?fsync=maybe", "'fsync' must be true or false"),
        ("file:///tmp/x?namespace=a/b", "Invalid namespace name"),
    ],
)
def test_bad_file_urls_raise_value_error(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        store_from_url(url)


@pytest.mark.parametrize("scheme", ["redis+cluster", "valkey+cluster", "redis+sentinel", "valkey+sentinel"])
async def test_unreachable_cluster_or_sentinel_fails_fast(scheme: str) -> None:
    path = "/primary" if "sentinel" in scheme else ""
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError):
        async with as_kv_store(store_from_url(f"{scheme}://{NOWHERE}{path}")) as store:
            await store.get("k")
    assert time.monotonic() - started < 30  # bounded by the connect timeouts, not a hang
