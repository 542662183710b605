"""FileStore specifics: layout, faults of the file system, corrupt files, clean-up and I/O economy.

The contract itself runs in ``tests/contract/test_contract.py``; everything here uses a real directory, real
processes and real kernel limits (``RLIMIT_FSIZE``), never a fake file system.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import resource
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

import litestar_kvstores.file as file_module
from litestar_kvstores import FileStore, StoreError, StoreUnavailableError
from litestar_kvstores._file import os_calls
from litestar_kvstores._file.format import LOCK_NAME, TEMP_PREFIX, entry_name, pack_entry
from litestar_kvstores._file.os_calls import read_entry

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="uses /proc or Linux-only read flags")

AWKWARD_KEYS = ["with/slash", "..", "../escape", ".", "ünïcødé-ключ-🔑", "%2F", "=x", "#x", "%lock", "k" * 1024]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[FileStore]:
    async with FileStore(tmp_path / "root") as store:
        yield store


def directory_of(store: FileStore) -> Path:
    """The store's absolute directory as a ``pathlib.Path`` (``store.path`` is Litestar's ``anyio.Path``)."""
    return Path(store.address)


def entry_path(store: FileStore, key: str) -> Path:
    return directory_of(store) / entry_name(key)


def visible_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != LOCK_NAME)


# --- layout ------------------------------------------------------------------------------------------------------


async def test_creates_its_directory_with_parents(tmp_path: Path) -> None:
    async with FileStore(tmp_path / "a" / "b" / "c") as store:
        assert (tmp_path / "a" / "b" / "c").is_dir()
        assert await store.ping() is True


async def test_creates_its_directory_on_first_write(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "lazy", namespace="ns")
    assert await store.get("key") is None
    assert not (tmp_path / "lazy").exists(), "a read must not create directories"
    await store.set("key", b"value")
    assert await store.get("key") == b"value"
    assert (tmp_path / "lazy" / "ns").is_dir()


@pytest.mark.parametrize("name", ["rate_limit", "response_cache", "sessions.v2", "a-b"])
async def test_namespaces_are_sub_directories(store: FileStore, name: str) -> None:
    child = store.with_namespace(name)
    await child.set("key", b"child")
    await store.set("key", b"root")
    assert child.path == store.path / name
    assert (directory_of(store) / name).is_dir()
    assert await child.get("key") == b"child"
    assert await store.get("key") == b"root"
    assert await FileStore(store.path, namespace=name).get("key") == b"child"


def test_namespace_argument_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="namespace"):
        FileStore(tmp_path, namespace="../escape")
    with pytest.raises(ValueError, match="namespace"):
        FileStore(tmp_path).with_namespace("..")


async def test_awkward_keys_stay_inside_the_directory(store: FileStore) -> None:
    for key in AWKWARD_KEYS:
        await store.set(key, key.encode())
    for key in AWKWARD_KEYS:
        assert await store.get(key) == key.encode()
    assert {key async for key in store.keys()} == set(AWKWARD_KEYS)  # noqa: SIM118  (KVStore.keys)
    # one regular file per key, no directories, nothing outside the store's directory
    entries = [p for p in directory_of(store).iterdir() if p.name != LOCK_NAME]
    assert len(entries) == len(AWKWARD_KEYS)
    assert all(p.is_file() and len(p.name.encode()) <= 255 for p in entries)
    assert visible_files(directory_of(store).parent) == ["root"]


async def test_long_keys_are_hashed_and_do_not_collide(store: FileStore) -> None:
    long_a, long_b = "a" * 1024, "a" * 1023 + "b"
    await store.set(long_a, b"A")
    await store.set(long_b, b"B")
    assert entry_name(long_a).startswith("#")
    assert await store.get(long_a) == b"A"
    assert await store.get(long_b) == b"B"


async def test_keys_that_cannot_be_encoded_are_rejected(store: FileStore) -> None:
    with pytest.raises(ValueError, match="encodable as UTF-8"):
        await store.set("lone \udc80 surrogate", b"value")


# --- failed writes ---------------------------------------------------------------------------------------------


async def test_write_onto_a_directory_raises_and_leaves_no_temporary_file(store: FileStore) -> None:
    occupied = entry_path(store, "key")
    occupied.mkdir()
    with pytest.raises(StoreError, match=str(occupied)):
        await store.set("key", b"secret value")
    assert occupied.is_dir(), "the foreign directory is put back"
    assert visible_files(directory_of(store)) == [occupied.name]
    assert await store.get("key") is None


async def test_counting_onto_a_directory_raises_and_writes_no_counter(store: FileStore) -> None:
    await store.set("first", b"5")
    occupied = entry_path(store, "second")
    occupied.mkdir()
    with pytest.raises(StoreError, match=str(occupied)):
        await store.incr_and_read([("first", None), ("second", 60)])
    with pytest.raises(StoreError, match=str(occupied)):
        await store.incr("second")
    assert occupied.is_dir(), "the foreign directory stays"
    assert await store.get("first") == b"5", "nothing is written when one counter cannot be"
    assert sorted(visible_files(directory_of(store))) == sorted([entry_name("first"), occupied.name])


async def test_counting_removes_the_replaced_files(store: FileStore) -> None:
    for _ in range(5):
        await store.incr_and_read([("a", 60), ("b", None)])
    assert await store.get_many(["a", "b"]) == {"a": b"5", "b": b"5"}
    assert sorted(visible_files(directory_of(store))) == sorted([entry_name("a"), entry_name("b")])


async def test_failed_write_message_names_the_path_not_the_value(store: FileStore) -> None:
    entry_path(store, "key").mkdir()
    with pytest.raises(StoreError) as raised:
        await store.set("key", b"secret value")
    assert "secret" not in str(raised.value)


async def test_failed_incr_keeps_the_counter(store: FileStore) -> None:
    await store.set("counter", b"41")
    assert _run_child(_incr_with_file_size_limit, store.address) == "StoreError"
    assert await store.get("counter") == b"41"
    assert visible_files(directory_of(store)) == [entry_name("counter")]


def _set_with_file_size_limit(directory: str, queue: Any) -> None:
    """Child process: allow files of 1000 bytes, then try to store 5000 bytes over an existing value."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG from the short write instead of dying
    resource.setrlimit(resource.RLIMIT_FSIZE, (1000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    queue.put(_outcome(lambda: FileStore(directory).set("key", b"n" * 5000)))


def _incr_with_file_size_limit(directory: str, queue: Any) -> None:
    """Child process: no file may be written at all, then increment an existing counter."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    queue.put(_outcome(lambda: FileStore(directory).incr("counter")))


def _outcome(operation: Callable[[], Any]) -> str:
    try:
        asyncio.run(operation())
    except StoreError as exc:
        return type(exc).__name__ if "n" * 100 not in str(exc) else "StoreError with the value in its message"
    except Exception as exc:  # reported to the test, which fails on it
        return repr(exc)
    return "no error"


def _run_child(target: Callable[[str, Any], None], directory: str) -> str:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(directory, queue))
    process.start()
    process.join(60)
    assert process.exitcode == 0
    return str(queue.get(timeout=5))


async def test_short_write_raises_and_keeps_the_old_value(store: FileStore) -> None:
    await store.set("key", b"old value")
    old_name = entry_name("key")

    assert _run_child(_set_with_file_size_limit, store.address) == "StoreError"

    assert await store.get("key") == b"old value"
    assert visible_files(directory_of(store)) == [old_name], "neither a temporary nor a truncated file is left"


async def test_set_many_stops_at_the_failed_entry(store: FileStore) -> None:
    await store.set("b", b"old b")
    entry_path(store, "c").mkdir()
    with pytest.raises(StoreError):
        await store.set_many({"a": b"new a", "c": b"new c"})
    assert await store.get("a") == b"new a"
    assert await store.get("b") == b"old b"
    assert not [name for name in visible_files(directory_of(store)) if name.startswith(TEMP_PREFIX)]


# --- corrupt and foreign files ---------------------------------------------------------------------------------


def _truncated(key: bytes) -> bytes:
    return pack_entry(key, b"complete value", 0.0)[:-3]


def _padded(key: bytes) -> bytes:
    return pack_entry(key, b"complete value", 0.0) + b"extra"


def _other_key(key: bytes) -> bytes:
    return pack_entry(b"another key", b"value", 0.0)


def _foreign(key: bytes) -> bytes:
    return b'{"written": "by another program"}'


def _future_version(key: bytes) -> bytes:
    content = bytearray(pack_entry(key, b"value", 0.0))
    content[4] = 99
    return bytes(content)


def _empty(key: bytes) -> bytes:
    return b""


CORRUPTIONS = [_truncated, _padded, _other_key, _foreign, _future_version, _empty]


@pytest.mark.parametrize("corrupt", CORRUPTIONS)
@pytest.mark.parametrize("operation", ["get", "get_renew", "exists", "expires_in", "get_many", "incr"])
async def test_corrupt_entry_reads_as_missing_with_a_warning_and_is_removed(
    store: FileStore, caplog: pytest.LogCaptureFixture, corrupt: Callable[[bytes], bytes], operation: str
) -> None:
    path = entry_path(store, "key")
    path.write_bytes(corrupt(b"key"))
    caplog.set_level(logging.WARNING, logger="litestar_kvstores.file")

    if operation == "get":
        assert await store.get("key") is None
    elif operation == "get_renew":
        assert await store.get("key", renew_for=10) is None
    elif operation == "exists":
        assert await store.exists("key") is False
    elif operation == "expires_in":
        assert await store.expires_in("key") is None
    elif operation == "get_many":
        assert await store.get_many(["key"]) == {"key": None}
    else:
        assert await store.incr("key") == 1  # a corrupt counter starts again

    assert any(str(path) in record.getMessage() for record in caplog.records if record.levelno == logging.WARNING)
    if operation == "incr":
        assert await store.get("key") == b"1"
    else:
        assert not path.exists()


async def test_corrupt_entry_is_not_removed_once_a_new_value_replaced_it(store: FileStore) -> None:
    path = entry_path(store, "key")
    path.write_bytes(b"garbage")
    fd = os.open(path, os.O_RDONLY)
    try:
        await store.set("key", b"fresh")  # replaces the file after a (slow) reader opened the corrupt one
        assert await asyncio.to_thread(store._directory.recheck, fd, str(path), b"key", True, False) is None
    finally:
        os.close(fd)
    assert await store.get("key") == b"fresh"


async def test_an_entry_that_is_fine_on_second_look_is_kept(store: FileStore) -> None:
    await store.set("key", b"value", expires_in=100)
    path = entry_path(store, "key")
    fd = os.open(path, os.O_RDONLY)
    try:
        entry = await asyncio.to_thread(store._directory.recheck, fd, str(path), b"key", True, False)
    finally:
        os.close(fd)
    assert entry is not None
    assert entry[1] == b"value"
    assert await store.get("key") == b"value"


async def test_a_directory_at_an_entry_path_reads_as_missing(
    store: FileStore, caplog: pytest.LogCaptureFixture
) -> None:
    entry_path(store, "key").mkdir()
    assert await store.get("key") is None
    assert await store.exists("key") is False
    assert "directory" in caplog.text


async def test_keys_and_count_skip_corrupt_and_foreign_files(store: FileStore) -> None:
    await store.set("good", b"value")
    entry_path(store, "bad").write_bytes(b"garbage")
    entry_path(store, "moved").write_bytes(pack_entry(b"elsewhere", b"value", 0.0))  # key does not match name
    (directory_of(store) / "notes.txt").write_text("another program's file")
    assert [key async for key in store.keys()] == ["good"]  # noqa: SIM118  (KVStore.keys)
    assert await store.count() == 1


# --- delete_all and delete_expired -----------------------------------------------------------------------------


async def test_delete_all_leaves_foreign_files_siblings_and_the_parent(tmp_path: Path) -> None:
    root = FileStore(tmp_path / "root")
    app, apple = root.with_namespace("app"), root.with_namespace("apple")
    await root.set("parent", b"1")
    await app.set("own", b"2")
    await app.with_namespace("child").set("nested", b"3")
    await apple.set("sibling", b"4")
    (directory_of(app) / "notes.txt").write_text("another program's file")

    await app.delete_all()

    assert await root.get("parent") == b"1"
    assert await apple.get("sibling") == b"4"
    assert await app.get("own") is None
    assert await app.with_namespace("child").get("nested") is None
    assert (directory_of(app) / "notes.txt").read_text() == "another program's file"
    await app.set("own", b"again")  # the directories and their locks still work
    assert await app.get("own") == b"again"


async def test_delete_expired_survives_child_directories_corrupt_and_foreign_files(
    store: FileStore, caplog: pytest.LogCaptureFixture
) -> None:
    child = store.with_namespace("child")
    for i in range(3):
        await store.set(f"due{i}", b"value", expires_in=0.1)
    await child.set("due", b"value", expires_in=0.1)
    await child.set("live", b"value", expires_in=100)
    await store.set("forever", b"value")
    entry_path(store, "corrupt").write_bytes(b"garbage")
    entry_path(store, "a directory").mkdir()
    (directory_of(store) / "notes.txt").write_text("another program's file")
    (directory_of(store) / "not a namespace").mkdir()
    await asyncio.sleep(0.3)

    assert await store.delete_expired() == 4

    assert "corrupt" in caplog.text
    assert not entry_path(store, "corrupt").exists()
    assert entry_path(store, "a directory").is_dir()
    assert (directory_of(store) / "notes.txt").exists()
    assert (directory_of(store) / "not a namespace").is_dir()
    assert {key async for key in store.keys()} == {"forever"}  # noqa: SIM118  (KVStore.keys)
    assert {key async for key in child.keys()} == {"live"}  # noqa: SIM118  (KVStore.keys)


async def test_delete_expired_removes_stale_temporary_files_only(store: FileStore) -> None:
    stale, fresh = directory_of(store) / f"{TEMP_PREFIX}stale", directory_of(store) / f"{TEMP_PREFIX}fresh"
    stale.write_bytes(b"left by a crash")
    fresh.write_bytes(b"being written")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))

    assert await store.delete_expired() == 0

    assert not stale.exists()
    assert fresh.exists()


@linux_only
async def test_walks_keep_no_descriptor_per_namespace_open(store: FileStore) -> None:
    for i in range(50):  # namespaces written by another program or process: this one has never locked them
        directory = directory_of(store) / f"ns{i}"
        directory.mkdir()
        (directory / entry_name("due")).write_bytes(pack_entry(b"due", b"value", time.time() - 1))
        (directory / entry_name("kept")).write_bytes(pack_entry(b"kept", b"value", 0.0))
    await store.set("warm-up", b"value")  # the root's own lock is open from here on
    open_before = len(os.listdir("/proc/self/fd"))

    assert await store.delete_expired() == 50
    await store.delete_all()

    assert len(os.listdir("/proc/self/fd")) <= open_before
    assert not list(directory_of(store).glob("ns*/=*")), "every entry of every namespace is gone"


def _bytes_read_by_this_process() -> int:
    """``rchar`` of ``/proc/self/io``: the bytes every thread of this process got from ``read``-like calls."""
    with open("/proc/self/io") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("rchar:"))


@linux_only
async def test_scans_read_headers_not_values(store: FileStore) -> None:
    big = b"v" * (8 << 20)
    for i in range(4):
        await store.set(f"kept{i}", big, expires_in=3600)
        await store.set(f"due{i}", big, expires_in=0.1)
    await asyncio.sleep(0.3)

    before = _bytes_read_by_this_process()
    assert await store.delete_expired() == 4
    assert await store.count() == 4
    assert len([key async for key in store.keys()]) == 4  # noqa: SIM118  (KVStore.keys)
    read = _bytes_read_by_this_process() - before

    assert read < 1 << 20, f"scans read {read} bytes; the values alone are {8 * len(big)}"
    assert await store.get("kept0") == big


# --- renewal, incr, reads ----------------------------------------------------------------------------------------


async def test_renewal_rewrites_the_expiry_in_place(store: FileStore) -> None:
    await store.set("key", b"value", expires_in=5)
    inode = entry_path(store, "key").stat().st_ino
    assert await store.get("key", renew_for=500) == b"value"
    assert entry_path(store, "key").stat().st_ino == inode
    assert await store.expires_in("key") == 500


async def test_incr_is_atomic_across_threads(store: FileStore) -> None:
    other = FileStore(store.address)  # another store object on the same directory, used from other threads

    def count(times: int) -> None:
        asyncio.run(_incr_times(other, times))

    await asyncio.gather(*(asyncio.to_thread(count, 25) for _ in range(4)), _incr_times(store, 100))
    assert await store.get("counter") == b"200"


async def _incr_times(store: FileStore, times: int) -> None:
    for _ in range(times):
        await store.incr("counter")


def _count_in_child(directory: str, times: int) -> None:
    """Child process: increment the counter ``times`` times through its own store object."""

    async def run() -> None:
        counters = FileStore(directory, namespace="counters")
        for _ in range(times):
            await counters.incr("hits", expires_in=3600)

    asyncio.run(run())


async def test_incr_is_atomic_across_processes_while_the_directory_is_written_and_cleaned(store: FileStore) -> None:
    context = multiprocessing.get_context("spawn")
    children = [context.Process(target=_count_in_child, args=(store.address, 100)) for _ in range(3)]
    for child in children:
        child.start()
    counters = store.with_namespace("counters")
    own = 0
    while any(child.is_alive() for child in children):
        await counters.set("due", b"x", expires_in=0.001)
        await store.delete_expired()
        await counters.incr("hits", expires_in=3600)
        own += 1
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    assert await counters.get("hits") == str(300 + own).encode()


def _count_in_forked_child(directory: str, times: int) -> None:
    asyncio.run(_incr_times(FileStore(directory), times))


async def test_incr_is_atomic_across_forked_processes(store: FileStore) -> None:
    await store.incr("counter")  # this process now holds an open lock file that a fork would inherit
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=_count_in_forked_child, args=(store.address, 200)) for _ in range(2)]
    for child in children:
        child.start()
    await _incr_times(store, 200)
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    assert await store.get("counter") == b"601"


@linux_only
async def test_values_evicted_from_the_page_cache_are_read_in_a_thread(tmp_path: Path) -> None:
    store = FileStore(tmp_path, fsync=True)  # written back, so the kernel can drop the cached pages
    await store.set("key", b"value" * 1000)
    path = entry_path(store, "key")
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        evicted = read_entry(fd, b"key", whole=True, nowait=True) is None
    finally:
        os.close(fd)
    if not evicted:
        pytest.skip("this file system keeps files in memory (tmpfs?): nothing can be evicted")
    assert await store.get("key") == b"value" * 1000


async def test_large_values_are_read_in_a_thread(store: FileStore, hops: list[str]) -> None:
    large = b"v" * (2 << 20)
    await store.set("large", large)
    hops.clear()
    assert await store.get("large") == large
    assert len(hops) == 1, "a large value must not be copied on the event loop"


async def test_fsync_mode_round_trip(tmp_path: Path) -> None:
    store = FileStore(tmp_path, fsync=True)
    await store.set("key", b"value", expires_in=100)
    assert await store.get("key", renew_for=200) == b"value"
    assert await store.incr("counter") == 1
    await store.delete("key")
    assert await store.get("key") is None


async def test_unusable_directory_raises(tmp_path: Path) -> None:
    occupied = tmp_path / "a file"
    occupied.write_text("not a directory")
    store = FileStore(occupied / "store")
    with pytest.raises(StoreUnavailableError, match="a file"):
        await store.ping()
    with pytest.raises(StoreUnavailableError):
        await store.__aenter__()
    with pytest.raises(StoreError, match="a file"):
        await store.set("key", b"value")
    with pytest.raises(StoreError, match="a file"):
        await store.incr("key")


# --- one thread hop per operation --------------------------------------------------------------------------------


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every worker-thread call the store makes (the calls still run for real)."""
    recorded: list[str] = []
    real = file_module._in_thread

    async def counting(function: Callable[..., Any], *args: Any) -> Any:
        recorded.append(function.__name__)
        return await real(function, *args)

    monkeypatch.setattr(file_module, "_in_thread", counting)
    return recorded


OPERATIONS: dict[str, Callable[[FileStore], Any]] = {
    "set": lambda s: s.set("key", b"value", expires_in=100),
    "get": lambda s: s.get("key"),
    "get missing": lambda s: s.get("missing"),
    "get renew": lambda s: s.get("key", renew_for=100),
    "exists": lambda s: s.exists("key"),
    "expires_in": lambda s: s.expires_in("key"),
    "delete missing": lambda s: s.delete("missing"),
    "incr": lambda s: s.incr("counter"),
    "get_many": lambda s: s.get_many([f"k{i}" for i in range(100)]),
    "set_many": lambda s: s.set_many({f"k{i}": b"v" for i in range(100)}),
    "delete_many": lambda s: s.delete_many([f"k{i}" for i in range(100)]),
    "count": lambda s: s.count(),
    "delete_expired": lambda s: s.delete_expired(),
    "delete_all": lambda s: s.delete_all(),
}


@pytest.mark.parametrize("operation", list(OPERATIONS))
async def test_at_most_one_thread_hop_per_operation(store: FileStore, hops: list[str], operation: str) -> None:
    await store.set("key", b"value", expires_in=100)
    await store.set_many({f"k{i}": b"v" for i in range(50)})
    hops.clear()
    await OPERATIONS[operation](store)
    assert len(hops) <= 1, hops


async def test_keys_lists_in_one_thread_hop(store: FileStore, hops: list[str]) -> None:
    await store.set_many({f"k{i}": b"v" for i in range(50)})
    hops.clear()
    assert len([key async for key in store.keys()]) == 50  # noqa: SIM118  (KVStore.keys)
    assert len(hops) == 1


@linux_only
async def test_cached_reads_need_no_thread(store: FileStore, hops: list[str]) -> None:
    await store.set("key", b"value", expires_in=100)
    hops.clear()
    assert await store.get("key") == b"value"
    assert await store.get("missing") is None
    assert await store.exists("key") is True
    assert await store.expires_in("key") == 100
    if hops and directory_of(store).stat().st_dev in os_calls._nowait_unsupported:
        pytest.skip("this file system cannot read with RWF_NOWAIT (tmpfs, NFS): reads always use a thread")
    assert hops == []
