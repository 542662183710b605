"""FileStore errors: file-system failures are StoreError naming the path; incr's amount follows the shared rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from litestar_kvstores import FileStore, StoreError, StoreUnavailableError
from litestar_kvstores._file.format import entry_name
from litestar_kvstores.validation import INT64_MAX, INT64_MIN


async def test_deleting_an_entry_path_held_by_a_directory_names_it(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    occupied = tmp_path / entry_name("key")
    occupied.mkdir()
    with pytest.raises(StoreError, match=str(occupied)) as raised:
        await store.delete("key")
    assert isinstance(raised.value.__cause__, OSError)
    assert occupied.is_dir()


@pytest.mark.parametrize(
    "operation",
    [
        lambda s: s.count(),
        lambda s: s.delete_all(),
        lambda s: s.delete_expired(),
        lambda s: s.with_namespace("child").set("key", b"value"),
        lambda s: s.set_many({"a": b"1"}),
    ],
    ids=["count", "delete_all", "delete_expired", "child set", "set_many"],
)
async def test_a_file_where_the_directory_belongs_is_a_store_error_naming_it(tmp_path: Path, operation: Any) -> None:
    directory = tmp_path / "store"
    directory.write_text("not a directory")
    with pytest.raises(StoreError, match=str(directory)) as raised:
        await operation(FileStore(directory))
    assert not isinstance(raised.value, StoreUnavailableError)
    assert directory.read_text() == "not a directory"


async def test_ping_of_an_unusable_directory_is_unavailable_naming_it(tmp_path: Path) -> None:
    directory = tmp_path / "store"
    directory.write_text("not a directory")
    with pytest.raises(StoreUnavailableError, match=str(directory)):
        await FileStore(directory).ping()


@pytest.mark.parametrize("amount", [True, 1.0, "1", None])
async def test_incr_rejects_an_amount_that_is_not_an_int(tmp_path: Path, amount: Any) -> None:
    store = FileStore(tmp_path)
    with pytest.raises(TypeError, match="amount"):
        await store.incr("counter", amount)
    assert await store.get("counter") is None


@pytest.mark.parametrize("amount", [INT64_MAX + 1, INT64_MIN - 1, 2**100])
async def test_incr_rejects_an_amount_outside_64_bits(tmp_path: Path, amount: int) -> None:
    store = FileStore(tmp_path)
    with pytest.raises(ValueError, match="64-bit"):
        await store.incr("counter", amount)
    assert await store.get("counter") is None


@pytest.mark.parametrize("amount", [INT64_MAX, INT64_MIN])
async def test_incr_accepts_the_64_bit_extremes(tmp_path: Path, amount: int) -> None:
    assert await FileStore(tmp_path).incr("counter", amount) == amount
