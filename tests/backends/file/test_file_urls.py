"""``file://`` URLs: ``FileStore.from_url`` owns them; ``store_from_url`` hands them over."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from litestar_kvstores import FileStore, store_from_url


@pytest.mark.parametrize("make", [FileStore.from_url, store_from_url], ids=["FileStore.from_url", "store_from_url"])
def test_an_unknown_option_raises_value_error_naming_it(tmp_path: Path, make: Callable[..., Any]) -> None:
    with pytest.raises(ValueError, match="'colour'"):
        make(f"file://{tmp_path}?colour=blue")
    with pytest.raises(ValueError, match="'max_entries'"):
        make(f"file://{tmp_path}", max_entries=3)


async def test_namespace_option_is_with_namespace_of_the_plain_store(tmp_path: Path) -> None:
    from_url = FileStore.from_url(f"file://{tmp_path}/data?namespace=app")
    expected = FileStore(tmp_path / "data").with_namespace("app")
    assert from_url.address == expected.address == str(tmp_path / "data" / "app")
    assert from_url.path == expected.path
    await from_url.set("key", b"value")
    assert await expected.get("key") == b"value"
    assert await FileStore(tmp_path / "data").get("key") is None


def test_keyword_options_win_over_the_query(tmp_path: Path) -> None:
    store = FileStore.from_url(f"file://{tmp_path}?namespace=query&create_directories=true", namespace="keyword")
    assert store.address == str(tmp_path / "keyword")
    store = FileStore.from_url(f"file://{tmp_path}?create_directories=true", create_directories=False)
    assert store.create_directories is False


@pytest.mark.parametrize(("value", "expected"), [("false", False), ("0", False), ("true", True), ("on", True)])
def test_create_directories_option(tmp_path: Path, value: str, expected: bool) -> None:
    assert FileStore.from_url(f"file://{tmp_path}?create_directories={value}").create_directories is expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("create_directories=maybe", "'create_directories' must be true or false"),
        ("namespace=", "Invalid namespace name"),
        ("namespace=..", "Invalid namespace name"),
    ],
)
def test_invalid_option_values_raise_value_error(tmp_path: Path, query: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FileStore.from_url(f"file://{tmp_path}?{query}")


def test_relative_url_keeps_the_path_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = FileStore.from_url("file://./data")
    assert str(store.path) == "data"
    assert store.address == str(tmp_path / "data")
