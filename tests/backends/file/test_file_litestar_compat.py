"""FileStore as a drop-in for Litestar's: its constructor, ``create_directories`` and the ``anyio.Path`` ``path``.

Litestar 2's ``FileStore(path, *, create_directories=False)`` keeps ``path`` as an ``anyio.Path`` of the path as
given, and with ``create_directories=False`` its ``set`` creates only the store's own directory (one level), raising
``FileNotFoundError`` when the parent is missing. Ours does the same, and keeps working on the absolute directory.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import pytest

from litestar_kvstores import FileStore, StoreError, StoreUnavailableError


def test_create_directories_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        FileStore("data", True)  # type: ignore[call-arg,arg-type]


@pytest.mark.parametrize("create_directories", [True, False])
def test_create_directories_is_kept_and_inherited(tmp_path: Path, create_directories: bool) -> None:
    store = FileStore(tmp_path, create_directories=create_directories)
    assert store.create_directories is create_directories
    assert store.with_namespace("ns").create_directories is create_directories


async def test_create_directories_true_creates_the_parents_on_enter(tmp_path: Path) -> None:
    async with FileStore(tmp_path / "a" / "b", create_directories=True) as store:
        assert (tmp_path / "a" / "b").is_dir()
        await store.set("key", b"value")
        assert await store.get("key") == b"value"


@pytest.mark.parametrize(
    "write",
    [
        lambda s: s.set("key", b"value"),
        lambda s: s.set_many({"a": b"1", "b": b"2"}),
        lambda s: s.incr("counter"),
        lambda s: s.with_namespace("child").set("key", b"value"),
    ],
    ids=["set", "set_many", "incr", "child set"],
)
async def test_without_create_directories_a_write_under_a_missing_parent_raises_file_not_found(
    tmp_path: Path, write: Callable[[FileStore], Awaitable[object]]
) -> None:
    directory = tmp_path / "missing" / "store"
    store = FileStore(directory, create_directories=False)
    async with store:  # creates nothing, as Litestar's
        pass
    with pytest.raises(FileNotFoundError) as raised:
        await write(store)
    assert isinstance(raised.value, StoreUnavailableError)
    assert raised.value.filename.startswith(str(directory))  # the store's directory, or its child's
    assert raised.value.filename in str(raised.value)
    assert not (tmp_path / "missing").exists()


async def test_without_create_directories_reads_and_clean_up_of_a_missing_directory_find_nothing(
    tmp_path: Path,
) -> None:
    store = FileStore(tmp_path / "missing" / "store", create_directories=False)
    assert await store.get("key") is None
    assert await store.get("key", renew_for=10) is None
    assert await store.exists("key") is False
    assert await store.expires_in("key") is None
    assert await store.get_many(["a", "b"]) == {"a": None, "b": None}
    assert await store.count() == 0
    await store.delete("key")
    # Litestar raises FileNotFoundError here (from rmtree/iterdir); ours has nothing to delete, so the plugin's
    # start-up clean-up works on a store that has not written yet.
    await store.delete_all()
    assert await store.delete_expired() == 0
    assert not (tmp_path / "missing").exists()


async def test_without_create_directories_ping_of_a_missing_parent_is_unavailable(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "missing" / "store", create_directories=False)
    with pytest.raises(StoreUnavailableError, match="missing"):
        await store.ping()
    assert not (tmp_path / "missing").exists()


async def test_without_create_directories_the_directory_itself_is_created_on_first_write(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store", create_directories=False)
    async with store:
        assert not (tmp_path / "store").exists(), "entering creates nothing"
    await store.set("key", b"value")
    child = store.with_namespace("child")
    await child.set("key", b"child value")
    assert await store.get("key") == b"value"
    assert await child.get("key") == b"child value"
    assert (tmp_path / "store" / "child").is_dir()
    assert await store.ping() is True


async def test_without_create_directories_a_file_in_the_way_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "store").write_text("not a directory")
    store = FileStore(tmp_path / "store", create_directories=False)
    with pytest.raises(StoreError, match="store"):
        await store.set("key", b"value")


async def test_path_is_an_anyio_path_of_the_path_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = FileStore("data")
    assert isinstance(store.path, anyio.Path)
    assert store.path == anyio.Path("data")
    assert not await store.path.exists()
    await store.set("key", b"value")
    assert await store.path.exists()  # what code written for Litestar's FileStore does
    assert await store.path.is_dir()


async def test_namespaces_path_is_the_parents_path_slash_name(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    child = store.with_namespace("sessions")
    assert child.path == anyio.Path(tmp_path) / "sessions"
    assert child.with_namespace("v2").path == anyio.Path(tmp_path) / "sessions" / "v2"
    assert FileStore(tmp_path, namespace="sessions").path == child.path
    await child.set("key", b"value")
    assert await child.path.is_dir()


async def test_address_is_the_absolute_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert FileStore("data").address == str(tmp_path / "data")
    assert FileStore("./data/").address == str(tmp_path / "data")
    assert FileStore(tmp_path / "abs").with_namespace("ns").address == str(tmp_path / "abs" / "ns")
    assert FileStore("data", namespace="ns").address == str(tmp_path / "data" / "ns")


async def test_a_later_chdir_does_not_move_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    monkeypatch.chdir(tmp_path / "first")
    store = FileStore("data")
    await store.set("key", b"value")

    monkeypatch.chdir(tmp_path / "second")

    assert store.address == str(tmp_path / "first" / "data")
    assert await store.get("key") == b"value"
    child = store.with_namespace("child")
    await child.set("key", b"child value")
    assert child.address == str(tmp_path / "first" / "data" / "child")
    assert (tmp_path / "first" / "data" / "child").is_dir()
    assert not (tmp_path / "second" / "data").exists()
    assert store.path == anyio.Path("data"), "the path as given stays as given"
