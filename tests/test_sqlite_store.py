"""SQLiteStore beyond the contract: layout, query plans, single statements, thread hops, corruption, errors, URLs."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from litestar_kvstores import SQLiteStore, StoreError, StoreUnavailableError, store_from_url
from litestar_kvstores import sqlite as sqlite_module

from .fixtures_sqlite import NAMESPACE
from .sql_support import every_operation


def raw(path: Path) -> sqlite3.Connection:
    """A plain connection to the store's database, as other software (or an operator) would open it."""
    return sqlite3.connect(path, isolation_level=None)


class StatementLog:
    """The SQL statements the store's own connection runs (through SQLite's trace callback)."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    async def attach(self, store: SQLiteStore) -> None:
        def install(connection: sqlite3.Connection) -> None:
            connection.set_trace_callback(lambda statement: self.statements.append(statement))

        await store._db.worker.call(install)

    def take(self) -> list[str]:
        taken, self.statements = self.statements, []
        return taken


@pytest.fixture
async def statements(sqlite_store: SQLiteStore) -> StatementLog:
    log = StatementLog()
    await log.attach(sqlite_store)
    return log


# --- layout -----------------------------------------------------------------------------------------------------


async def test_one_table_with_namespace_path_and_key_as_primary_key(
    sqlite_store: SQLiteStore, sqlite_path: Path
) -> None:
    await sqlite_store.set("key", b"v")
    await sqlite_store.with_namespace("child").set("a:b/c", b"w", expires_in=100)
    with raw(sqlite_path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        columns = {row[1]: (row[2], row[5]) for row in connection.execute("PRAGMA table_info(kvstores)")}
        assert columns == {
            "namespace": ("TEXT", 1),
            "key": ("TEXT", 2),
            "value": ("BLOB", 0),
            "expires_at": ("REAL", 0),
        }
        indexes = {row[1]: row for row in connection.execute("PRAGMA index_list(kvstores)")}
        assert "kvstores_expires_at" in indexes
        assert indexes["kvstores_expires_at"][4] == 1  # partial: rows without expiry are not in it
        rows = connection.execute("SELECT namespace, key, value FROM kvstores ORDER BY namespace").fetchall()
    assert rows == [(NAMESPACE, "key", b"v"), (f"{NAMESPACE}/child", "a:b/c", b"w")]


async def test_each_store_root_has_its_own_table(sqlite_path: Path) -> None:
    async with SQLiteStore(sqlite_path, table="sessions") as sessions, SQLiteStore(sqlite_path) as default:
        await sessions.set("key", b"session")
        await default.set("key", b"default")
        await default.delete_all()
        assert await sessions.get("key") == b"session"
    with raw(sqlite_path) as connection:
        assert connection.execute("SELECT namespace, key FROM sessions").fetchall() == [("LITESTAR", "key")]


async def test_keys_with_nul_and_other_awkward_characters(sqlite_store: SQLiteStore) -> None:
    keys = ["a\x00b", "a", "a\x00", "💥", "line\nbreak"]
    for key in keys:
        await sqlite_store.set(key, key)
    assert {key: await sqlite_store.get(key) for key in keys} == {key: key.encode() for key in keys}
    assert {key async for key in sqlite_store.keys()} == set(keys)  # noqa: SIM118


# --- query plans: key ranges and the expiry index, never a scan --------------------------------------------------


def query_plan(path: Path, statement: str) -> str:
    with raw(path) as connection:
        return " | ".join(row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {statement}"))


async def test_delete_all_searches_two_key_ranges(
    sqlite_store: SQLiteStore, sqlite_path: Path, statements: StatementLog
) -> None:
    app = sqlite_store.with_namespace("app")
    await app.set("key", b"v")
    statements.take()
    await app.delete_all()
    [statement] = statements.take()
    assert "LIKE" not in statement.upper()
    plan = query_plan(sqlite_path, statement)
    assert "SCAN" not in plan
    assert plan.count("SEARCH kvstores USING PRIMARY KEY") == 2, plan
    assert "(namespace=?)" in plan
    assert "(namespace>? AND namespace<?)" in plan


async def test_delete_expired_reads_the_expiry_index_only(
    sqlite_store: SQLiteStore, sqlite_path: Path, statements: StatementLog
) -> None:
    await sqlite_store.set("due", b"v", expires_in=0.01)
    await asyncio.sleep(0.05)
    statements.take()
    assert await sqlite_store.delete_expired() == 1
    [statement] = statements.take()
    plan = query_plan(sqlite_path, statement)
    assert "SCAN" not in plan
    assert "USING COVERING INDEX kvstores_expires_at (expires_at<?)" in plan, plan


async def test_delete_expired_deletes_in_batches(
    sqlite_store: SQLiteStore, statements: StatementLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_module, "DELETE_BATCH", 3)
    await sqlite_store.set_many({f"due{i}": b"v" for i in range(10)}, expires_in=0.01)
    await sqlite_store.set("live", b"v", expires_in=100)
    await asyncio.sleep(0.05)
    statements.take()
    assert await sqlite_store.delete_expired() == 10
    assert len(statements.take()) == 4  # 3 + 3 + 3 + 1, each its own transaction
    assert await sqlite_store.get("live") == b"v"


async def test_keys_and_get_many_page_through_many_keys(
    sqlite_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_module, "_PAGE", 3)
    monkeypatch.setattr(sqlite_module, "_MAX_VARIABLES", 4)
    keys = [f"k{i:02}" for i in range(10)]
    await sqlite_store.set_many({key: key for key in keys})
    assert [key async for key in sqlite_store.keys()] == keys  # noqa: SIM118
    assert await sqlite_store.get_many([*keys, "missing"]) == {**{key: key.encode() for key in keys}, "missing": None}


# --- one statement, one thread hop -------------------------------------------------------------------------------


async def test_incr_and_the_primitives_are_single_statements(
    sqlite_store: SQLiteStore, statements: StatementLog
) -> None:
    await sqlite_store.set("token", b"t")
    statements.take()
    operations: list[Callable[[], Any]] = [
        lambda: sqlite_store.incr("counter", 5, expires_in=10),
        lambda: sqlite_store.incr("counter"),
        lambda: sqlite_store.add("token", b"other"),
        lambda: sqlite_store.compare_and_set("token", b"t", b"u"),
        lambda: sqlite_store.compare_and_set("fresh", None, b"u"),
        lambda: sqlite_store.compare_and_delete("token", b"u"),
        lambda: sqlite_store.get("counter", renew_for=100),
    ]
    for operation in operations:
        await operation()
        assert len(statements.take()) == 1
    assert await sqlite_store.get("counter") == b"6"


async def test_every_operation_makes_at_most_one_thread_hop(
    sqlite_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops = 0
    original = sqlite_module._Worker.call

    async def counting(self: Any, function: Callable[..., Any], *args: Any) -> Any:
        nonlocal hops
        hops += 1
        return await original(self, function, *args)

    monkeypatch.setattr(sqlite_module._Worker, "call", counting)
    operations = every_operation(sqlite_store)
    for operation in operations:
        hops = 0
        await operation()
        assert hops == 1


# --- corruption --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expires_at"), [("text, not a blob", None), (42, None), (b"v", "tomorrow")])
async def test_corrupt_rows_read_as_missing_are_logged_and_removed(
    sqlite_store: SQLiteStore, sqlite_path: Path, caplog: pytest.LogCaptureFixture, value: Any, expires_at: Any
) -> None:
    with raw(sqlite_path) as connection:
        for key in ("one", "two"):
            connection.execute("INSERT INTO kvstores VALUES (?, ?, ?, ?)", (NAMESPACE, key, value, expires_at))
    with caplog.at_level(logging.WARNING, logger="litestar_kvstores.sqlite"):
        assert await sqlite_store.get("one") is None
        assert await sqlite_store.get_many(["two"]) == {"two": None}
    messages = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(messages) == 2
    assert "'one'" in messages[0]
    assert "'two'" in messages[1]
    with raw(sqlite_path) as connection:
        assert connection.execute("SELECT count(*) FROM kvstores").fetchone() == (0,)


async def test_a_damaged_database_file_raises_store_error(tmp_path: Path) -> None:
    path = tmp_path / "damaged.db"
    path.write_bytes(b"this is not a database" * 100)
    store = SQLiteStore(path)
    with pytest.raises(StoreError, match=r"damaged\.db") as raised:
        await store.get("key")
    assert not isinstance(raised.value, StoreUnavailableError)
    await store.aclose()


# --- availability, locking and lifecycle ---------------------------------------------------------------------------


async def test_a_database_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    store = SQLiteStore(tmp_path / "a-file" / "store.db")
    with pytest.raises(StoreUnavailableError, match=r"a-file/store\.db"):
        await store.set("key", b"v")
    with pytest.raises(StoreUnavailableError):
        await store.__aenter__()


async def test_a_write_waits_for_another_writer_then_is_unavailable(sqlite_path: Path) -> None:
    async with SQLiteStore(sqlite_path, timeout=0.3) as store:
        await store.set("key", b"old")
        with raw(sqlite_path) as other:
            other.execute("BEGIN IMMEDIATE")  # another process holding the write lock
            with pytest.raises(StoreUnavailableError, match=r"store\.db"):
                await store.set("key", b"new")
            assert await store.get("key") == b"old"  # readers never wait in WAL mode
            other.execute("ROLLBACK")
        await store.set("key", b"new")
        assert await store.get("key") == b"new"


async def test_the_directory_is_created_and_the_store_reopens_after_aclose(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "deep" / "er" / "store.db")
    child = store.with_namespace("child")
    await child.set("key", b"v")
    await child.aclose()  # a namespace never closes the shared connection
    assert await child.get("key") == b"v"
    await store.aclose()
    await store.aclose()
    assert await child.get("key") == b"v"  # a later operation opens the database again
    await store.aclose()
    assert (tmp_path / "deep" / "er" / "store.db").exists()


async def test_fsync_sets_synchronous_full(tmp_path: Path) -> None:
    synchronous: dict[bool, int] = {}
    for fsync in (False, True):
        async with SQLiteStore(tmp_path / f"{fsync}.db", fsync=fsync) as store:
            synchronous[fsync] = (await store._db.run(lambda c: c.execute("PRAGMA synchronous").fetchone()))[0]
    assert synchronous == {False: 1, True: 2}  # NORMAL, FULL


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"table": "drop table x"}, ValueError, "Invalid table name"),
        ({"table": "1st"}, ValueError, "Invalid table name"),
        ({"table": 3}, TypeError, "table"),
        ({"namespace": "a/b c"}, ValueError, "namespace"),
        ({"namespace": 1}, TypeError, "namespace"),
        ({"timeout": 0}, ValueError, "timeout"),
        ({"timeout": "soon"}, ValueError, "timeout"),
    ],
)
def test_constructor_checks_its_arguments(
    tmp_path: Path, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        SQLiteStore(tmp_path / "store.db", **options)


# --- URLs ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("url", "relative_path"),
    [
        ("sqlite://./rel.db", "rel.db"),
        ("sqlite://rel.db", "rel.db"),
        ("sqlite://./sub/rel.db", "sub/rel.db"),
    ],
)
async def test_relative_urls(in_tmp_path: Path, url: str, relative_path: str) -> None:
    store = store_from_url(url)
    assert isinstance(store, SQLiteStore)
    assert store.address == str(in_tmp_path / relative_path)
    assert store.namespace == "LITESTAR"


@pytest.mark.parametrize("slashes", ["///", "////"])  # ours, and SQLAlchemy's spelling of an absolute path
async def test_absolute_urls(tmp_path: Path, slashes: str) -> None:
    url = f"sqlite:{slashes}{str(tmp_path).lstrip('/')}/abs.db"
    store = store_from_url(url)
    assert isinstance(store, SQLiteStore)
    assert store.address == str(tmp_path / "abs.db")


async def test_url_options(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/store.db?namespace=app&table=cache&timeout=0.5&fsync=true"
    store = store_from_url(url)
    assert isinstance(store, SQLiteStore)
    assert (store.namespace, store.table, store._db.timeout, store._db.fsync) == ("LITESTAR/app", "cache", 0.5, True)
    await store.set("key", b"v")
    async with SQLiteStore(tmp_path / "store.db", table="cache").with_namespace("app") as same:
        assert await same.get("key") == b"v"
    await store.aclose()
    assert "store.db" in repr(store)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite://", "needs a database file"),
        ("sqlite:///", "needs a database file"),
        ("sqlite:///tmp/x.db?colour=blue", "'colour'"),
        ("sqlite:///tmp/x.db?fsync=maybe", "'fsync' must be true or false"),
        ("sqlite:///tmp/x.db?timeout=-1", "'timeout'"),
        ("sqlite:///tmp/x.db?table=a-b", "Invalid table name"),
        ("sqlite:///tmp/x.db?namespace=", "'namespace' must not be empty"),
        ("sqlite:///tmp/x.db?namespace=a:b", "Invalid namespace name"),
    ],
)
def test_bad_urls_raise_value_error(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        store_from_url(url)


def test_unknown_keyword_options_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'journal'"):
        store_from_url(f"sqlite://{tmp_path}/x.db", journal="delete")
    assert not os.path.exists(tmp_path / "x.db")  # nothing was opened


def _use_inherited_store(store: SQLiteStore) -> None:
    """Child-process body: the store was opened by the parent before the fork."""

    async def run() -> None:
        assert await store.get("key") == b"parent"
        await store.set("key", b"child")

    asyncio.run(run())


async def test_a_forked_child_opens_its_own_connection(sqlite_store: SQLiteStore) -> None:
    await sqlite_store.set("key", b"parent")
    child = multiprocessing.get_context("fork").Process(target=_use_inherited_store, args=(sqlite_store,))
    child.start()
    await asyncio.to_thread(child.join, 60)
    assert child.exitcode == 0
    assert await sqlite_store.get("key") == b"child"  # and the parent's connection still works
