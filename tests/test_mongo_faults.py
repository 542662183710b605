"""MongoStore failures: unreachable server, recovery, closed store, corrupt entries, credentials never leaked."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

from litestar_kvstores import StoreError, StoreUnavailableError
from litestar_kvstores.mongo import DEFAULT_TIMEOUT_MS, MongoStore
from testservers.mongo import start_mongo_server
from testservers.process import free_port

from .mongo_support import collect_sockets_leaked_by_pymongo


@pytest.fixture(autouse=True)
def _collect_leaked_sockets() -> Iterator[None]:
    yield
    collect_sockets_leaked_by_pymongo()


def unreachable_url() -> str:
    """A URL of a loopback port nothing listens on (connections are refused at once)."""
    return f"mongodb://127.0.0.1:{free_port()}/"


async def test_unreachable_server_raises_store_unavailable_naming_the_address() -> None:
    url = unreachable_url()
    address = url.removeprefix("mongodb://").rstrip("/")
    async with MongoStore.with_client(url, serverSelectionTimeoutMS=300) as store:
        for operation in (store.get("k"), store.set("k", b"v"), store.ping(), store.delete_all(), store.count()):
            started = time.monotonic()
            with pytest.raises(StoreUnavailableError, match=address):
                await operation
            assert time.monotonic() - started < 5


async def test_default_server_selection_timeout_is_a_few_seconds() -> None:
    async with MongoStore.with_client(unreachable_url()) as store:
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError):
            await store.get("k")
        elapsed = time.monotonic() - started
    assert DEFAULT_TIMEOUT_MS / 1000 - 0.5 < elapsed < 10


async def test_timeouts_given_in_the_url_win_over_the_default() -> None:
    async with MongoStore.with_client(f"{unreachable_url()}?serverSelectionTimeoutMS=200") as store:
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError):
            await store.ping()
        assert time.monotonic() - started < 2


async def test_a_server_that_stops_answering_times_out_instead_of_hanging(tmp_path: Path) -> None:
    server = start_mongo_server(free_port(), tmp_path)
    try:
        async with MongoStore.with_client(server.url, socketTimeoutMS=1000) as store:
            await store.set("k", b"v")
            server.pause()
            try:
                started = time.monotonic()
                with pytest.raises(StoreUnavailableError, match=f"127.0.0.1:{server.port}"):
                    await store.get("k")
                assert time.monotonic() - started < 8
            finally:
                server.resume()
    finally:
        server.kill()


async def test_store_recovers_when_the_server_returns_on_the_same_port(
    tmp_path: Path,
) -> None:
    port = free_port()
    server = start_mongo_server(port, tmp_path)
    try:
        async with MongoStore.with_client(server.url, serverSelectionTimeoutMS=500) as store:
            await store.set("k", b"before")
            server.kill()
            with pytest.raises(StoreUnavailableError, match=f"127.0.0.1:{port}"):
                await store.get("k")
            server.start()
            deadline = time.monotonic() + 20
            while True:
                try:
                    await store.set("k", b"after", expires_in=60)
                    break
                except StoreUnavailableError:
                    if time.monotonic() > deadline:
                        raise
            assert await store.get("k") == b"after"
            assert await store.incr("n") == 1
    finally:
        server.kill()


async def test_no_credentials_in_errors_or_repr() -> None:
    port = free_port()
    url = f"mongodb://kv-user:s3cret-pa55@127.0.0.1:{port}/?authSource=admin"
    async with MongoStore.with_client(url, serverSelectionTimeoutMS=200) as store:
        assert "s3cret-pa55" not in repr(store)
        assert "kv-user" not in repr(store)
        assert f"127.0.0.1:{port}" in repr(store)
        with pytest.raises(StoreUnavailableError) as caught:
            await store.get("k")
    rendered = "".join(traceback.format_exception(caught.value))
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert "s3cret-pa55" not in rendered
    assert "kv-user" not in str(caught.value)


async def test_unresolvable_srv_url_raises_store_unavailable_naming_the_host() -> None:
    url = "mongodb+srv://kv-user:s3cret-pa55@cluster0.example.invalid/?authSource=admin"
    async with MongoStore.with_client(url, connectTimeoutMS=1000) as store:
        with pytest.raises(StoreUnavailableError, match=r"cluster0\.example\.invalid is unreachable") as caught:
            await store.ping()
        assert "s3cret-pa55" not in repr(store)
    assert "s3cret-pa55" not in "".join(traceback.format_exception(caught.value))


@pytest.mark.parametrize(
    "url",
    [
        "mongodb://kv-user:s3cret-pa55@127.0.0.1:1/?noSuchOption=1",
        "mongodb://kv-user:s3cret-pa55@127.0.0.1:notaport/",
        "http://kv-user:s3cret-pa55@127.0.0.1/",
    ],
)
def test_invalid_url_raises_value_error_without_credentials(url: str) -> None:
    with pytest.raises(ValueError, match="Invalid MongoDB URL") as caught:
        MongoStore.with_client(url)
    assert "s3cret-pa55" not in "".join(traceback.format_exception(caught.value))


async def test_closed_store_raises_store_error(mongo_url: str) -> None:
    store = MongoStore.with_client(mongo_url, namespace="closed")
    async with store:
        await store.ping()
    with pytest.raises(StoreError):
        await store.get("k")


async def test_server_error_becomes_store_error_and_keeps_the_old_value(mongo_url: str) -> None:
    async with MongoStore.with_client(mongo_url, database="kvstores_tests", collection="validated") as store:
        await store.collection.drop()
        # a server-side rule that rejects every new value of "k": the write fails on the server
        await store.collection.database.create_collection("validated", validator={"v": {"$ne": b"rejected"}})
        try:
            await store.set("k", b"old")
            with pytest.raises(StoreError, match="code 121") as caught:
                await store.set("k", b"rejected")
            assert not isinstance(caught.value, StoreUnavailableError)
            assert await store.get("k") == b"old"
        finally:
            await store.collection.drop()


async def test_value_too_large_for_a_document_raises_value_error(mongo_store: MongoStore) -> None:
    await mongo_store.set("huge", b"old")
    with pytest.raises(ValueError, match="16 MiB"):
        await mongo_store.set("huge", b"x" * (17 * 1024 * 1024))
    assert await mongo_store.get("huge") == b"old"


async def test_corrupt_entry_reads_as_missing_is_logged_and_removed(
    mongo_store: MongoStore, caplog: pytest.LogCaptureFixture
) -> None:
    document_id = f"{mongo_store.namespace}:corrupt"
    await mongo_store.collection.insert_one({"_id": document_id, "v": "a string, not binary"})
    with caplog.at_level(logging.WARNING, logger="litestar_kvstores.mongo"):
        assert await mongo_store.get("corrupt") is None
    assert any("corrupt" in record.getMessage() for record in caplog.records)
    assert await mongo_store.collection.count_documents({"_id": document_id}) == 0
