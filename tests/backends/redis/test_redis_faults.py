"""Failures of Redis/Valkey: unreachable, silent and restarted servers, server errors, credentials in messages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from redis.asyncio import RedisCluster
from valkey.asyncio import ValkeyCluster

from litestar_kvstores import StoreError, StoreUnavailableError
from litestar_kvstores._redis.store import RedisLikeStore
from litestar_kvstores.redis import RedisStore
from litestar_kvstores.valkey import ValkeyStore
from tests.support.redis import SINGLE_KINDS, raw_client
from tests.support.stores import STORE_CLASSES, unique_namespace
from testservers.process import free_port
from testservers.redis import Kind, start_server

Operation = Callable[[RedisLikeStore], Awaitable[object]]

OPERATIONS: dict[str, Operation] = {
    "get": lambda s: s.get("k"),
    "get_renew": lambda s: s.get("k", renew_for=timedelta(seconds=5)),
    "set": lambda s: s.set("k", b"v", expires_in=5),
    "delete": lambda s: s.delete("k"),
    "exists": lambda s: s.exists("k"),
    "expires_in": lambda s: s.expires_in("k"),
    "incr": lambda s: s.incr("n", expires_in=5),
    "get_many": lambda s: s.get_many(["a", "b"]),
    "set_many": lambda s: s.set_many({"a": b"1"}),
    "delete_many": lambda s: s.delete_many(["a"]),
    "delete_all": lambda s: s.delete_all(),
    "count": lambda s: s.count(),
    "ping": lambda s: s.ping(),
}

SECRET_USER = "alice-secret-user"
SECRET_PASSWORD = "s3cr3t-pa55word"


@pytest.fixture(params=SINGLE_KINDS)
def kind(request: pytest.FixtureRequest) -> Kind:
    return request.param  # type: ignore[no-any-return]


async def assert_unavailable(store: RedisLikeStore, operation: Operation, address: str, within: float) -> None:
    start = time.monotonic()
    with pytest.raises(StoreUnavailableError, match=address.replace(".", r"\.")) as caught:
        await operation(store)
    assert time.monotonic() - start < within
    for text in (str(caught.value), repr(store)):
        assert SECRET_PASSWORD not in text
        assert SECRET_USER not in text


async def test_a_stopped_server_is_unavailable_and_the_same_store_recovers(kind: Kind) -> None:
    server = start_server(kind)
    port = server.port
    store = STORE_CLASSES[kind].with_client(server.url, namespace=unique_namespace())
    async with store:
        await store.set("k", b"before")
        server.stop()
        for operation in OPERATIONS.values():
            await assert_unavailable(store, operation, f"127.0.0.1:{port}", within=5)
        server = start_server(kind, port=port)  # back on the same port, empty (nothing is persisted)
        try:
            assert await store.get("k") is None
            await store.set("k", b"after")
            assert await store.get("k", renew_for=10) == b"after"
            assert await store.incr("n") == 1
            assert await store.ping() is True
        finally:
            server.stop()


async def test_the_first_command_after_a_restart_succeeds(kind: Kind) -> None:
    # The pool still holds connections to the old process; one retry of the broken connection hides the restart.
    server = start_server(kind)
    port = server.port
    async with STORE_CLASSES[kind].with_client(server.url, namespace=unique_namespace()) as store:
        await asyncio.gather(*(store.set(f"k{i}", b"v") for i in range(5)))  # several pooled connections
        server.stop()
        server = start_server(kind, port=port)
        try:
            assert await store.get("k1") is None
            assert await asyncio.gather(*(store.exists(f"k{i}") for i in range(5))) == [False] * 5
        finally:
            server.stop()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


async def test_a_silent_server_times_out_within_the_configured_timeout(kind: Kind, silent_port: int) -> None:
    store = STORE_CLASSES[kind].with_client(f"redis://127.0.0.1:{silent_port}", socket_timeout=0.5)
    async with store:
        for name in ("get", "set", "get_renew", "ping"):
            await assert_unavailable(store, OPERATIONS[name], f"127.0.0.1:{silent_port}", within=2.5)


async def test_the_default_timeout_is_a_few_seconds(silent_port: int) -> None:
    async with RedisStore.with_client(f"redis://127.0.0.1:{silent_port}") as store:
        start = time.monotonic()
        with pytest.raises(StoreUnavailableError, match=f"at 127.0.0.1:{silent_port} is unavailable"):
            await store.get("k")
        assert 1 < time.monotonic() - start < 7


async def test_credentials_never_appear_in_errors_or_reprs(kind: Kind) -> None:
    server = start_server(kind)
    url = f"redis://{SECRET_USER}:{SECRET_PASSWORD}@127.0.0.1:{server.port}/0"
    try:
        async with STORE_CLASSES[kind].with_client(url) as store:
            await assert_unavailable(store, OPERATIONS["get"], f"127.0.0.1:{server.port}", within=5)  # bad login
            server.stop()
            await assert_unavailable(store, OPERATIONS["set"], f"127.0.0.1:{server.port}", within=5)
        store = STORE_CLASSES[kind].with_client(f"redis://127.0.0.1:{server.port}", password=SECRET_PASSWORD)
        assert SECRET_PASSWORD not in repr(store)
        await assert_unavailable(store, OPERATIONS["ping"], f"127.0.0.1:{server.port}", within=5)
    finally:
        server.stop()


@pytest.mark.parametrize(("store_class", "cluster_class"), [(RedisStore, RedisCluster), (ValkeyStore, ValkeyCluster)])
async def test_an_unreachable_cluster_is_unavailable(
    store_class: type[RedisStore] | type[ValkeyStore], cluster_class: type[Any]
) -> None:
    port = free_port()
    client = cluster_class.from_url(f"redis://127.0.0.1:{port}", socket_connect_timeout=1)
    async with store_class(client, handle_client_shutdown=True) as store:
        await assert_unavailable(store, OPERATIONS["get"], f"127.0.0.1:{port}", within=5)


async def test_a_key_of_another_type_is_corrupt_reads_as_missing_and_is_removed(
    kind: Kind, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    url = str(request.getfixturevalue(f"{kind}_url"))
    async with STORE_CLASSES[kind].with_client(url, namespace=unique_namespace()) as store, raw_client(url) as raw:
        for renew_for in (None, 5):
            await raw.rpush(f"{store.namespace}:list", b"x")  # another program's value of another type
            with caplog.at_level(logging.WARNING):
                assert await store.get("list", renew_for=renew_for) is None
            assert "not a string value" in caplog.text
            assert await raw.exists(f"{store.namespace}:list") == 0
            caplog.clear()
        await raw.rpush(f"{store.namespace}:list", b"x")
        with pytest.raises(ValueError, match="integer"):
            await store.incr("list")
        assert await store.get_many(["list"]) == {"list": None}
        await store.delete_all()


async def test_a_server_error_is_a_store_error(kind: Kind) -> None:
    server = start_server(kind)
    try:
        async with STORE_CLASSES[kind].with_client(server.url) as store, raw_client(server.url) as raw:
            await raw.config_set("maxmemory", 1)  # every write is now refused with an OOM error
            with pytest.raises(StoreError, match=f"at 127.0.0.1:{server.port} failed") as caught:
                await store.set("k", b"v")
            assert not isinstance(caught.value, StoreUnavailableError)
            assert f"127.0.0.1:{server.port}" in str(caught.value)
            with pytest.raises(StoreError, match=f"at 127.0.0.1:{server.port} failed"):
                await store.incr("n")
            assert await store.get("k") is None  # reads still work
    finally:
        server.stop()


async def test_more_concurrent_commands_than_connections_wait(kind: Kind, request: pytest.FixtureRequest) -> None:
    url = str(request.getfixturevalue(f"{kind}_url"))
    async with STORE_CLASSES[kind].with_client(url, namespace=unique_namespace(), max_connections=4) as store:
        await store.set_many({f"k{i}": str(i) for i in range(200)})
        values = await asyncio.gather(*(store.get(f"k{i}") for i in range(200)))
        assert values == [str(i).encode() for i in range(200)]
        assert sorted(await asyncio.gather(*(store.incr("n") for _ in range(200)))) == list(range(1, 201))
        await store.delete_all()


async def test_waiting_for_a_connection_times_out(kind: Kind, silent_port: int) -> None:
    url = f"redis://127.0.0.1:{silent_port}"
    async with STORE_CLASSES[kind].with_client(url, max_connections=1, timeout=0.2, socket_timeout=3) as store:
        stuck = asyncio.ensure_future(store.get("k"))  # holds the only connection, waiting for an answer
        await asyncio.sleep(0.05)
        start = time.monotonic()
        with pytest.raises(StoreUnavailableError, match="No free connection"):
            await store.get("k")
        assert time.monotonic() - start < 2
        stuck.cancel()
        with contextlib.suppress(asyncio.CancelledError, StoreError):
            await stuck


async def test_a_script_load_that_fails_oddly_fails_as_a_command_would(
    kind: Kind, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cluster that lost its scripts (a failover, a restart) has them loaded again through the cluster client; a
    failure there that is not the library's (what it raises on a connection it closed under the call, while it
    replaces its map of slots) reaches the caller as StoreUnavailableError, not as the foreign exception."""
    url = str(request.getfixturevalue(f"{kind}_cluster_url"))
    async with STORE_CLASSES[kind].with_cluster(url, namespace=unique_namespace()) as store:
        await store.set("k", b"v", expires_in=60)
        await store._conn.client.script_flush()  # every primary

        async def closed_under_the_call(source: str) -> str:
            raise AttributeError("'NoneType' object has no attribute 'writelines'")

        monkeypatch.setattr(store._conn.client, "script_load", closed_under_the_call)
        with pytest.raises(StoreUnavailableError):
            await store.get("k", renew_for=60)
        monkeypatch.undo()
        assert await store.get("k", renew_for=60) == b"v"  # loaded again once the library can


LIBRARY_CALLS: dict[str, tuple[str, Operation]] = {
    # the cluster client's own method each operation goes through, and the operation
    "get_many": ("mget_nonatomic", lambda s: s.get_many(["k", "other"])),
    "delete_many": ("delete", lambda s: s.delete_many(["k"])),
    "delete_all": ("unlink", lambda s: s.delete_all()),
    "ping": ("ping", lambda s: s.ping()),
}


@pytest.mark.parametrize("operation", sorted(LIBRARY_CALLS))
async def test_a_library_call_that_fails_oddly_fails_as_a_command_would(
    kind: Kind, operation: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operations that go through the cluster client's own methods (several hash slots, every node) fail as
    StoreUnavailableError when the client fails with an exception that is not the library's (a connection it
    closed under the call), and the data survives."""
    method, run = LIBRARY_CALLS[operation]
    url = str(request.getfixturevalue(f"{kind}_cluster_url"))
    async with STORE_CLASSES[kind].with_cluster(url, namespace=unique_namespace()) as store:
        await store.set("k", b"v", expires_in=60)

        def closed_under_the_call(*args: object, **kwargs: object) -> Awaitable[object]:
            async def fail() -> object:
                raise AttributeError("'NoneType' object has no attribute 'writelines'")

            return fail()

        monkeypatch.setattr(store._conn.client, method, closed_under_the_call)
        with pytest.raises(StoreUnavailableError) as caught:
            await run(store)
        assert isinstance(caught.value.__cause__, store._conn.bridge.connection_error)
        monkeypatch.undo()
        assert await store.get("k") == b"v"
        await run(store)  # works again once the library does
