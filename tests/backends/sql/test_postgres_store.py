"""PostgresStore beyond the contract: layout, query plans, one statement per operation, failures, URLs."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from litestar_kvstores import PostgresStore, StoreError, StoreUnavailableError, store_from_url
from litestar_kvstores import postgres as postgres_module
from tests.support.sql import every_operation
from testservers.postgres import PASSWORD
from testservers.process import free_port


class QueryLog:
    """The statements (with their arguments) the connections of a pool run."""

    def __init__(self) -> None:
        self.queries: list[tuple[str, tuple[Any, ...]]] = []

    async def init(self, connection: asyncpg.Connection) -> None:
        connection.add_query_logger(lambda query: self.queries.append((query.query, tuple(query.args))))

    def take(self) -> list[tuple[str, tuple[Any, ...]]]:
        taken, self.queries = self.queries, []
        return taken


@pytest.fixture
def table() -> str:
    """A table of its own for the test, dropped afterwards."""
    return f"kv_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def admin(postgres_url: str, table: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection, as an operator's; drops the test's table at the end."""
    connection = await asyncpg.connect(postgres_url)
    yield connection
    await connection.execute(f'DROP TABLE IF EXISTS "{table}"')
    await connection.close()


@pytest.fixture
def query_log() -> QueryLog:
    return QueryLog()


async def no_reset(connection: asyncpg.Connection) -> None:
    """Without it, the pool would log its own reset query after every statement."""


@pytest.fixture
async def logged_store(postgres_url: str, table: str, query_log: QueryLog) -> AsyncIterator[PostgresStore]:
    """A store on an application's own pool whose statements ``query_log`` records; the table is set up."""
    pool = await asyncpg.create_pool(postgres_url, min_size=1, max_size=1, init=query_log.init, reset=no_reset)
    store = PostgresStore(pool, table=table)
    await store.setup()
    query_log.take()
    yield store
    await store.aclose()  # leaves the application's pool open
    assert not pool.is_closing()
    await pool.close()


# --- layout and table creation ----------------------------------------------------------------------------------


async def test_table_is_created_on_first_use_with_its_index(
    postgres_url: str, table: str, admin: asyncpg.Connection
) -> None:
    async with PostgresStore.with_client(postgres_url, table=table) as store:
        assert await admin.fetchval("SELECT to_regclass($1)", table) is None  # nothing happens before an operation
        await store.with_namespace("app").set("a:b/c", b"v", expires_in=100)
    columns = await admin.fetch(
        "SELECT column_name, data_type, collation_name, is_nullable FROM information_schema.columns "
        "WHERE table_name = $1 ORDER BY ordinal_position",
        table,
    )
    assert [tuple(row) for row in columns] == [
        ("namespace", "text", "C", "NO"),
        ("key", "bytea", None, "NO"),
        ("value", "bytea", None, "NO"),
        ("expires_at", "timestamp with time zone", None, "YES"),
    ]
    indexes = {
        row["indexname"]: row["indexdef"]
        for row in await admin.fetch("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = $1", table)
    }
    assert indexes[f"{table}_pkey"].endswith("(namespace, key)")
    assert indexes[f"{table}_expires_at"].endswith("(expires_at) WHERE (expires_at IS NOT NULL)")
    row = await admin.fetchrow(f'SELECT namespace, key, value FROM "{table}"')
    assert tuple(row) == ("LITESTAR/app", b"a:b/c", b"v")


async def test_setup_creates_the_table_and_processes_starting_together_do_not_collide(
    postgres_url: str, table: str, admin: asyncpg.Connection
) -> None:
    stores = [PostgresStore.with_client(postgres_url, table=table) for _ in range(4)]
    await asyncio.gather(*(store.setup() for store in stores))
    assert await admin.fetchval("SELECT to_regclass($1)::text", table) == table
    for store in stores:
        await store.aclose()


async def test_keys_with_nul_and_other_awkward_characters(postgres_store: PostgresStore) -> None:
    keys = ["a\x00b", "a", "a\x00", "💥", "line\nbreak"]
    for key in keys:
        await postgres_store.set(key, key)
    assert {key: await postgres_store.get(key) for key in keys} == {key: key.encode() for key in keys}
    assert {key async for key in postgres_store.keys()} == set(keys)  # noqa: SIM118
    assert await postgres_store.get_many(["a\x00b", "b"]) == {"a\x00b": b"a\x00b", "b": None}


# --- one statement per operation -----------------------------------------------------------------------------------


async def test_every_operation_is_one_statement(logged_store: PostgresStore, query_log: QueryLog) -> None:
    operations = every_operation(logged_store)[:-1]  # all but ping, which creates no row to count
    for operation in operations:  # asyncpg looks up the array types once per connection
        await operation()
    query_log.take()
    for operation in operations:
        await operation()
        assert len(query_log.take()) == 1
    assert await logged_store.get("counter") is None  # delete_all ran last


async def test_renewal_is_part_of_the_read(logged_store: PostgresStore, query_log: QueryLog) -> None:
    await logged_store.set("key", b"value", expires_in=5)
    await logged_store.set("forever", b"value")
    query_log.take()
    assert await logged_store.get("key", renew_for=500) == b"value"
    assert await logged_store.get("forever", renew_for=500) == b"value"
    [(renewing, _), (_, _)] = query_log.take()
    assert renewing.startswith("UPDATE")
    assert "RETURNING value" in renewing
    assert await logged_store.expires_in("key") == 500
    assert await logged_store.expires_in("forever") is None


# --- query plans: index ranges, the expiry index, never a sequential scan ---------------------------------------------


async def explain(admin: asyncpg.Connection, query: str, args: tuple[Any, ...]) -> str:
    return "\n".join(row[0] for row in await admin.fetch(f"EXPLAIN {query}", *args))


@pytest.fixture
async def big_table(logged_store: PostgresStore, admin: asyncpg.Connection, table: str) -> PostgresStore:
    """20,000 live rows over 50 namespaces (with children) and 50 expired rows, analysed."""
    await admin.execute(
        f"INSERT INTO \"{table}\" SELECT 'LITESTAR/ns' || (i % 50) || CASE WHEN i % 3 = 0 THEN '/child' ELSE '' END, "
        "convert_to('key' || i, 'UTF8'), 'value', CASE WHEN i % 400 = 0 THEN now() - interval '1 hour' "
        "WHEN i % 2 = 0 THEN now() + interval '1 day' END FROM generate_series(1, 20000) AS i"
    )
    await admin.execute(f'ANALYZE "{table}"')
    return logged_store


async def test_delete_all_is_an_index_range_scan(
    big_table: PostgresStore, query_log: QueryLog, admin: asyncpg.Connection, table: str
) -> None:
    await big_table.with_namespace("ns7").delete_all()
    [(query, args)] = query_log.take()
    assert "LIKE" not in query.upper()
    plan = await explain(admin, query, args)
    assert "Seq Scan" not in plan, plan
    assert f"{table}_pkey" in plan, plan
    assert await admin.fetchval(f"SELECT count(*) FROM \"{table}\" WHERE namespace LIKE 'LITESTAR/ns7%'") == 0
    assert await admin.fetchval(f"SELECT count(*) FROM \"{table}\" WHERE namespace LIKE 'LITESTAR/ns%'") == 19_600


async def test_delete_expired_uses_the_expiry_index_in_batches(
    big_table: PostgresStore,
    query_log: QueryLog,
    admin: asyncpg.Connection,
    table: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(postgres_module, "DELETE_BATCH", 20)
    assert await big_table.delete_expired() == 50
    queries = query_log.take()
    assert len(queries) == 3  # 20 + 20 + 10
    plan = await explain(admin, *queries[0])
    assert "Seq Scan" not in plan, plan
    assert f"{table}_expires_at" in plan, plan
    assert await admin.fetchval(f'SELECT count(*) FROM "{table}"') == 19_950


# --- failures never hang and never leak the password ---------------------------------------------------------------


def assert_no_secret(error: BaseException, secret: str) -> None:
    assert secret not in str(error)
    assert secret not in repr(error)


async def test_an_unreachable_server_is_unavailable_with_its_address_and_no_password() -> None:
    port = free_port()
    secret = "not-the-pass-Zz9"
    store = store_from_url(f"postgresql://kvstores:{secret}@127.0.0.1:{port}/postgres?namespace=app")
    assert isinstance(store, PostgresStore)
    assert store.address == f"127.0.0.1:{port}"
    assert secret not in repr(store)
    with pytest.raises(StoreUnavailableError, match=f"127.0.0.1:{port}") as raised:
        await store.set("key", b"value")
    assert_no_secret(raised.value, secret)
    with pytest.raises(StoreUnavailableError, match=f"127.0.0.1:{port}"):
        await store.ping()
    await store.aclose()


async def test_a_silent_server_is_unavailable_after_the_connect_timeout() -> None:
    with socket.socket() as listener:  # accepts TCP connections (the kernel does) and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        url = f"postgresql://kvstores:{PASSWORD}@127.0.0.1:{port}/postgres"
        async with PostgresStore.with_client(url, connect_timeout=0.5) as store:
            started = time.monotonic()
            with pytest.raises(StoreUnavailableError, match=f"127.0.0.1:{port}") as raised:
                await store.get("key")
            assert time.monotonic() - started < 5
    assert_no_secret(raised.value, PASSWORD)


async def test_a_wrong_password_is_a_store_error_without_the_password(postgres_url: str) -> None:
    wrong = "Wrong-pass-Qq3"
    url = postgres_url.replace(f":{PASSWORD}@", f":{wrong}@")
    async with PostgresStore.with_client(url) as store:
        with pytest.raises(StoreError) as raised:
            await store.get("key")
    assert not isinstance(raised.value, StoreUnavailableError)
    assert store.address in str(raised.value)
    assert_no_secret(raised.value, wrong)
    assert_no_secret(raised.value, PASSWORD)


async def test_a_statement_that_waits_too_long_is_cancelled(postgres_url: str, postgres_namespace: str) -> None:
    async with PostgresStore.with_client(postgres_url, namespace=postgres_namespace, command_timeout=0.3) as store:
        await store.set("key", b"old")
        blocker = await asyncpg.connect(postgres_url)
        try:
            async with blocker.transaction():
                await blocker.execute(
                    "SELECT 1 FROM kvstores WHERE namespace = $1 AND key = $2 FOR UPDATE", postgres_namespace, b"key"
                )
                started = time.monotonic()
                with pytest.raises(StoreUnavailableError, match=store.address):
                    await store.set("key", b"new")
                assert time.monotonic() - started < 2
        finally:
            await blocker.close()
        assert await store.get("key") == b"old"  # cancelled by the server: the write did not happen later
        await store.delete_all()


async def test_the_pool_reopens_after_aclose(postgres_url: str, postgres_namespace: str) -> None:
    store = PostgresStore.with_client(postgres_url, namespace=postgres_namespace)
    child = store.with_namespace("child")
    await child.set("key", b"v")
    await child.aclose()  # a namespace never closes the shared pool
    assert await child.get("key") == b"v"
    await store.aclose()
    assert await child.get("key") == b"v"
    await store.delete_all()
    await store.aclose()


def test_a_pool_is_required() -> None:
    with pytest.raises(TypeError, match=r"asyncpg\.Pool"):
        PostgresStore("postgresql://localhost/db")  # asyncpg has no types: mypy sees its Pool as Any


# --- URLs ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
async def test_url_options(postgres_url: str, scheme: str, table: str, admin: asyncpg.Connection) -> None:
    rest = postgres_url.partition("://")[2]
    url = f"{scheme}://{rest}?namespace=app&table={table}&connect_timeout=2&application_name=kvstores-test"
    store = store_from_url(url, command_timeout=3, max_connections=2, server_settings={"jit": "off"})
    assert isinstance(store, PostgresStore)
    assert (store.namespace, store.table) == ("LITESTAR/app", table)
    await store.set("key", b"v")
    async with PostgresStore.with_client(postgres_url, table=table, namespace="LITESTAR/app") as same:
        assert await same.get("key") == b"v"
    names = await admin.fetch("SELECT application_name FROM pg_stat_activity WHERE application_name = 'kvstores-test'")
    assert names
    await store.aclose()


@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        ("postgresql://u:Secret-1@h/db?colour=blue", {}, "'colour'"),
        ("postgresql://u:Secret-1@h/db", {"colour": "blue"}, "'colour'"),
        ("postgresql://u:Secret-1@h/db?connect_timeout=0", {}, "'connect_timeout'"),
        ("postgresql://u:Secret-1@h/db?command_timeout=never", {}, "'command_timeout'"),
        ("postgresql://u:Secret-1@h/db?max_connections=0", {}, "'max_connections'"),
        ("postgresql://u:Secret-1@h/db?table=a-b", {}, "Invalid table name"),
        ("postgresql://u:Secret-1@h/db?namespace=", {}, "'namespace' must not be empty"),
        ("postgresql://u:Secret-1@h/db?namespace=a:b", {}, "Invalid namespace name"),
        ("postgresql://u:Secret-1@h:port/db", {}, "Invalid port"),
    ],
)
def test_bad_urls_raise_value_error_before_connecting(url: str, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        store_from_url(url, **options)
    assert "Secret-1" not in str(raised.value)


async def test_operations_recover_after_the_server_drops_the_connections(
    postgres_url: str, postgres_namespace: str
) -> None:
    name = f"kvstores-{uuid.uuid4().hex[:8]}"  # only this store's connections are dropped
    settings = {"application_name": name}
    async with PostgresStore.with_client(postgres_url, namespace=postgres_namespace, server_settings=settings) as store:
        await store.set("key", b"v")
        admin = await asyncpg.connect(postgres_url)
        try:
            dropped = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", name
            )
        finally:
            await admin.close()
        assert dropped >= 1
        outcomes = []
        for _ in range(3):
            try:
                outcomes.append(await store.get("key"))
            except StoreUnavailableError:  # a connection that died under the store may fail one operation
                outcomes.append(None)
        assert outcomes[-2:] == [b"v", b"v"]
        await store.delete_all()
