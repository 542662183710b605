"""Wrappers from configuration: compile_wrappers, KVStoresConfig.wrappers/instrument, the environment, the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar

from litestar_kvstores import KVStoresConfig, KVStoresPlugin, MemoryStore
from litestar_kvstores.plugin import build_registry
from litestar_kvstores.wrappers import (
    CompressedStore,
    EncryptedStore,
    FallbackStore,
    InstrumentedStore,
    LimitedStore,
    ReadOnlyStore,
    RetryStore,
    TieredStore,
)
from litestar_kvstores.wrappers.config import compile_wrappers
from tests.support.cli import invoke, line_of
from tests.support.wrappers import KEY_A, KEY_A_TEXT, KEY_B, KEY_B_TEXT


def layers(store: Any) -> list[type]:
    """The wrapper classes from the outside in, down to the store they wrap."""
    found = []
    while True:
        found.append(type(store))
        if not hasattr(store, "store"):
            return found
        store = store.store


def test_every_wrapper_applies_in_a_fixed_order_whatever_the_mapping_order() -> None:
    options = {
        "instrument": True,
        "read_only": True,
        "limit": {"max_value_bytes": 100},
        "tiered": {"near": "memory://?max_entries=10", "near_ttl": 2},
        "compress": {"algorithm": "zlib", "min_size": 10},
        "encrypt": {"keys": [KEY_A]},
        "fallback": {"store": "memory://"},
        "retry": {"attempts": 2},
    }
    wrap = compile_wrappers(options, store="cache", environ={})
    assert wrap is not None
    store = wrap(MemoryStore())
    assert layers(store) == [
        InstrumentedStore,
        ReadOnlyStore,
        LimitedStore,
        TieredStore,
        CompressedStore,
        EncryptedStore,
        FallbackStore,
        RetryStore,
        MemoryStore,
    ]
    assert isinstance(store, InstrumentedStore)
    assert store.name == "cache"


def test_nothing_configured_wraps_nothing() -> None:
    assert compile_wrappers({"encrypt": False, "compress": None}, store="x", environ={}) is None


async def test_keys_from_variables_and_files(tmp_path: Path) -> None:
    key_file = tmp_path / "keys"
    key_file.write_text(f"# newest first\n{KEY_B_TEXT}\n\n{KEY_A_TEXT}\n")
    environ = {"ROTATING": f"{KEY_B_TEXT}, {KEY_A_TEXT}", "OLD": KEY_A_TEXT}
    inner = MemoryStore()
    await EncryptedStore(inner, keys=[KEY_A]).set("old", b"value")
    for options in ({"key_env": "ROTATING"}, {"key_file": str(key_file)}, {"key_env": ["OLD"]}):
        wrap = compile_wrappers({"encrypt": options}, store="sessions", environ=environ)
        assert wrap is not None
        store = wrap(inner)
        assert await store.get("old") == b"value"
    rotated = compile_wrappers({"encrypt": {"key_env": "ROTATING"}}, store="s", environ=environ)
    assert rotated is not None
    await rotated(inner).set("new", b"v")
    assert await EncryptedStore(inner, keys=[KEY_B]).get("new") == b"v"


@pytest.mark.parametrize(
    ("options", "environ", "error", "match"),
    [
        (
            {"encrypt": {"key_env": "SESSION_KEY"}},
            {},
            ValueError,
            "variable SESSION_KEY of the store 'sessions' is not",
        ),
        ({"encrypt": {"key_env": "SESSION_KEY"}}, {"SESSION_KEY": " "}, ValueError, "SESSION_KEY .* is empty"),
        ({"encrypt": {"key_env": "SESSION_KEY"}}, {"SESSION_KEY": "c2hvcnQ="}, ValueError, "SESSION_KEY.*32 bytes"),
        ({"encrypt": {"key_file": "/nonexistent/key"}}, {}, ValueError, "/nonexistent/key .* cannot be read"),
        ({"encrypt": True}, {}, ValueError, "no key is configured"),
        ({"encrypt": {"keys": KEY_A}}, {}, TypeError, "must be a list"),
        ({"encrypt": {"keys": [KEY_A], "url": "x"}}, {}, ValueError, "'url' of 'encrypt'"),
        ({"compress": {"algorithm": "lz4"}}, {}, ValueError, "algorithm"),
        ({"compress": {"min": 1}}, {}, ValueError, "Unknown option.*'min' of 'compress' for the store 'sessions'"),
        ({"limit": {"max_ttl": -1}}, {}, ValueError, "max_ttl"),
        ({"cache": True}, {}, ValueError, "Unknown wrapper.*'cache'"),
        ({"retry": 3}, {}, TypeError, "'retry' of the store 'sessions' must be true, false or a mapping"),
        ({"tiered": {"near": MemoryStore()}}, {}, TypeError, "tiered.near must be a store URL"),
        ({"fallback": {"store": "nope://x"}}, {}, ValueError, "nope"),
    ],
)
def test_bad_options_fail_when_compiled(options: Any, environ: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match) as caught:
        compile_wrappers(options, store="sessions", environ=environ)
    assert "c2hvcnQ=" not in str(caught.value)


def test_the_plugin_wraps_named_stores_the_default_and_the_namespaces_it_hands_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_WRAPPERS_SESSION_KEY", KEY_A_TEXT)
    config = KVStoresConfig(
        stores={"cache": "memory://"},
        wrappers={
            "default": {"limit": {"max_ttl": 3600}},
            "sessions": {"encrypt": {"key_env": "TEST_WRAPPERS_SESSION_KEY"}},
            "cache": {"compress": {"algorithm": "zlib"}},
        },
        instrument=True,
    )
    registry = build_registry(config)
    assert layers(registry.get("cache")) == [InstrumentedStore, CompressedStore, MemoryStore]
    sessions = registry.get("sessions")
    assert layers(sessions) == [InstrumentedStore, EncryptedStore, LimitedStore, MemoryStore]
    assert isinstance(sessions, InstrumentedStore)
    assert sessions.name == "sessions"
    assert layers(registry.get("rate_limit")) == [InstrumentedStore, LimitedStore, MemoryStore]


def test_a_missing_key_fails_when_the_app_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_WRAPPERS_UNSET_KEY", raising=False)
    config = KVStoresConfig(wrappers={"sessions": {"encrypt": {"key_env": "TEST_WRAPPERS_UNSET_KEY"}}})
    with pytest.raises(ValueError, match="TEST_WRAPPERS_UNSET_KEY"):
        Litestar(plugins=[KVStoresPlugin(config)])


def test_wrapping_a_store_of_another_library_is_refused() -> None:
    from litestar.stores.memory import MemoryStore as LitestarMemoryStore

    config = KVStoresConfig(stores={"plain": LitestarMemoryStore()}, wrappers={"plain": {"read_only": True}})
    with pytest.raises(TypeError, match="'plain' cannot be wrapped"):
        build_registry(config)


def test_encryption_from_the_environment(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(KEY_A_TEXT)
    environ = {
        "KVSTORES_CACHE": "memory://",
        "KVSTORES_DEFAULT_ENCRYPTION_KEY": KEY_A_TEXT,
        "KVSTORES_CACHE_ENCRYPTION_KEY_FILE": str(key_file),
    }
    config = KVStoresConfig.from_env(environ=environ, wrappers={"cache": {"compress": True}})
    assert set(config.stores) == {"cache"}  # the key variables define no store
    assert config.wrappers == {
        "default": {"encrypt": {"key_env": "KVSTORES_DEFAULT_ENCRYPTION_KEY"}},
        "cache": {"compress": True, "encrypt": {"key_file": str(key_file)}},
    }
    assert KEY_A_TEXT not in repr(config)


async def test_from_env_reads_wrapper_keys_from_the_variables_it_was_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KVSTORES_SESSIONS_ENCRYPTION_KEY", raising=False)
    environ = {"KVSTORES_SESSIONS": "memory://", "KVSTORES_SESSIONS_ENCRYPTION_KEY": KEY_A_TEXT}
    registry = build_registry(KVStoresConfig.from_env(environ=environ))  # not os.environ, which lacks the key
    await registry.get("sessions").set("k", b"secret")
    stored = registry.get("sessions")
    assert isinstance(stored, EncryptedStore)
    assert await stored.get("k") == b"secret"
    assert await stored.store.get("k") not in (None, b"secret")  # encrypted underneath


def create_instrumented_app() -> Litestar:
    """The CLI test's application: stores from the environment, every one instrumented."""
    return Litestar(plugins=[KVStoresPlugin(KVStoresConfig.from_env(cleanup_interval=None, instrument=True))])


def test_cli_stats_show_the_counts(redis_url: str) -> None:
    environment = {"KVSTORES_CACHE": f"{redis_url}?namespace=wrappers-cli", "KVSTORES_CACHE_ENCRYPTION_KEY": KEY_A_TEXT}
    result = invoke(environment, "stats", app="tests.wrappers.test_wrappers_config:create_instrumented_app")
    assert result.exit_code == 0, result.output
    line = line_of(result, "cache")
    assert "InstrumentedStore" in line
    assert "hits=0 misses=0 sets=0 deletes=0 errors=0 operations=2" in line  # the command's ping and count
