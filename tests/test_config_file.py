"""KVStoresConfig.from_file: TOML settings, ${VAR} interpolation, errors naming the file, precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from litestar_kvstores import KVStoresConfig


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kvstores.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_top_level_settings_and_stores(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        default = "memory://?max_entries=${MAX:-50}"
        cleanup_interval = 30
        cleanup_on_startup = false
        [stores]
        response_cache = "file://${CACHE_DIR}"
        sessions = { url = "memory://" }
        """,
    )
    config = KVStoresConfig.from_file(path, environ={"CACHE_DIR": "/tmp/cache"})
    assert config.default == "memory://?max_entries=50"
    assert config.cleanup_interval == 30
    assert config.cleanup_on_startup is False
    assert dict(config.stores) == {"response_cache": "file:///tmp/cache", "sessions": "memory://"}


def test_a_kvstores_table_holds_the_same_settings(tmp_path: Path) -> None:
    path = write(tmp_path, '[kvstores]\ndefault = "memory://"\n[kvstores.stores]\na = "memory://"\n')
    config = KVStoresConfig.from_file(path, environ={})
    assert config.default == "memory://"
    assert dict(config.stores) == {"a": "memory://"}


def test_dollar_dollar_is_a_literal_dollar(tmp_path: Path) -> None:
    config = KVStoresConfig.from_file(write(tmp_path, 'default = "memory://?namespace=a$$b"\n'), environ={})
    assert config.default == "memory://?namespace=a$b"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('defualt = "memory://"\n', "defualt"),
        ("cleanup_interval = true\n", "cleanup_interval"),
        ('cleanup_interval = "30"\n', "cleanup_interval"),
        ("default = 5\n", "default"),
        ('default = "redis://${REDIS_HOST}/0"\n', "REDIS_HOST"),
        ("[stores]\na = 5\n", "stores.a"),
        ('[stores]\na = { path = "x" }\n', "stores.a"),
        ('[stores]\na = { url = "memory://", encrypt = true }\n', "encrypt"),
        ("default = \n", "not valid TOML"),
        ('default = "memory://"\n[kvstores]\ndefault = "memory://"\n', "not both"),
    ],
)
def test_bad_files_raise_value_error_naming_the_file_and_the_setting(tmp_path: Path, text: str, named: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=named) as caught:
        KVStoresConfig.from_file(path, environ={})
    assert str(path) in str(caught.value)


def test_the_file_wins_over_arguments(tmp_path: Path) -> None:
    path = write(tmp_path, 'cleanup_interval = 5\n[stores]\na = "memory://?max_entries=1"\n')
    config = KVStoresConfig.from_file(path, environ={}, cleanup_interval=99, stores={"b": "memory://"})
    assert config.cleanup_interval == 5
    assert dict(config.stores) == {"a": "memory://?max_entries=1"}


def test_from_env_reads_the_file_named_by_kvstores_config_under_the_environment(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'default = "memory://?max_entries=1"\ncleanup_interval = 5\n[stores]\na = "memory://"\nb = "memory://"\n',
    )
    config = KVStoresConfig.from_env(
        default="memory://?max_entries=9",
        stores={"c": "memory://", "a": "memory://?max_entries=2"},
        environ={"KVSTORES_CONFIG": str(path), "KVSTORES_B": "memory://?max_entries=3"},
        cleanup_interval=99,
    )
    # environment over file over arguments
    assert config.default == "memory://?max_entries=1"
    assert config.cleanup_interval == 5
    assert dict(config.stores) == {"a": "memory://", "b": "memory://?max_entries=3", "c": "memory://"}
    assert "config" not in config.stores


def test_a_store_table_carries_its_wrapper_options(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [stores]
        sessions = { url = "memory://", compress = { min_size = 10, algorithm = "zlib" }, instrument = true }
        """,
    )
    config = KVStoresConfig.from_file(path, environ={})
    assert dict(config.stores) == {"sessions": "memory://"}
    assert config.wrappers == {"sessions": {"compress": {"min_size": 10, "algorithm": "zlib"}, "instrument": True}}


def test_wrapper_keys_come_from_the_environment_named_in_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[stores]\nsessions = { url = "memory://", encrypt = { key_env = "SESSION_KEY" } }\n')
    with pytest.raises(ValueError, match="SESSION_KEY") as caught:
        KVStoresConfig.from_file(path, environ={})
    assert str(path) in str(caught.value)
