"""Redis/Valkey stores by URL: options checked before any connection, ``?namespace=``, ``address``."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest
import redis.asyncio

from litestar_kvstores import StoreError, store_from_url
from litestar_kvstores._redis.store import RedisLikeStore
from litestar_kvstores.redis import RedisStore
from litestar_kvstores.valkey import ValkeyStore
from tests.support.redis import SINGLE_KINDS, raw_client
from tests.support.stores import as_kv_store, unique_namespace
from testservers.redis import Kind

SECRET = "s3cret-pa55"

# Every scheme of the Redis/Valkey stores with the path it needs; {address} is a host:port.
SCHEME_PATHS = {
    "redis": "/0",
    "rediss": "/0",
    "valkey": "/0",
    "valkeys": "/0",
    "redis+sentinel": "/mymaster",
    "valkey+sentinel": "/mymaster/0",
    "redis+cluster": "",
    "valkey+cluster": "",
}


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback port that accepts connections into its backlog without ever answering."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.setblocking(False)
        yield sock


def url_of(scheme: str, sock: socket.socket, query: str = "") -> str:
    """A URL of ``scheme`` with credentials, naming the port of ``sock``."""
    port = sock.getsockname()[1]
    return f"{scheme}://alice:{SECRET}@127.0.0.1:{port}{SCHEME_PATHS[scheme]}{query}"


def assert_nothing_connected(sock: socket.socket) -> None:
    with pytest.raises(BlockingIOError):  # a connection attempt would be waiting in the backlog
        sock.accept()


def unknown_option_message(scheme: str, name: str) -> str:
    return rf"Unknown option\(s\) '{name}' for {re.escape(scheme)}:// store URLs"


@pytest.mark.parametrize("scheme", SCHEME_PATHS)
def test_an_unknown_query_option_is_named_before_any_connection(scheme: str, listener: socket.socket) -> None:
    with pytest.raises(ValueError, match=unknown_option_message(scheme, "no_such_option")) as raised:
        store_from_url(url_of(scheme, listener, "?socket_timeout=1&no_such_option=1"))
    assert SECRET not in str(raised.value)
    assert_nothing_connected(listener)


@pytest.mark.parametrize("scheme", SCHEME_PATHS)
def test_an_unknown_keyword_option_is_named_before_any_connection(scheme: str, listener: socket.socket) -> None:
    with pytest.raises(ValueError, match=unknown_option_message(scheme, "bogus")):
        store_from_url(url_of(scheme, listener), bogus=True, socket_timeout=1)
    assert_nothing_connected(listener)


@pytest.mark.parametrize("scheme", ["redis+sentinel", "valkey+cluster"])
def test_an_option_of_another_topology_is_unknown(scheme: str, listener: socket.socket) -> None:
    # ``timeout`` is how long with_client's pool waits for a free connection; these clients have no such pool.
    with pytest.raises(ValueError, match=unknown_option_message(scheme, "timeout")):
        store_from_url(url_of(scheme, listener, "?timeout=1"))
    assert_nothing_connected(listener)


@pytest.mark.parametrize("scheme", SCHEME_PATHS)
def test_a_url_store_makes_no_connection_before_its_first_command(scheme: str, listener: socket.socket) -> None:
    store = store_from_url(url_of(scheme, listener, "?namespace=app"))
    assert isinstance(store, RedisStore if scheme.startswith("redis") else ValkeyStore)
    assert SECRET not in repr(store)
    assert_nothing_connected(listener)


@pytest.mark.parametrize(
    ("store_class", "url"),
    [
        (RedisStore, "valkey://127.0.0.1:1"),
        (RedisStore, "redis+replica://127.0.0.1:1"),
        (ValkeyStore, "unix+cluster:///tmp/socket"),
    ],
)
def test_a_scheme_of_another_store_is_refused(store_class: type[RedisLikeStore], url: str) -> None:
    with pytest.raises(ValueError, match=f"{store_class.__name__} cannot be built from"):
        store_class.from_url(url)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?namespace=", "'namespace' must not be empty"),
        ("?namespace=a/b", "Invalid namespace name"),
        ("?namespace=a:b", "Invalid namespace name"),
    ],
)
@pytest.mark.parametrize("scheme", ["redis", "valkey+sentinel", "redis+cluster"])
def test_a_bad_namespace_option_is_refused(scheme: str, query: str, message: str, listener: socket.socket) -> None:
    with pytest.raises(ValueError, match=message):
        store_from_url(url_of(scheme, listener, query))
    assert_nothing_connected(listener)


def test_the_sentinel_path_names_a_service_and_a_database() -> None:
    for path in ("", "/", "/a/0/extra"):
        with pytest.raises(ValueError, match="/SERVICE or /SERVICE/DB"):
            store_from_url(f"redis+sentinel://127.0.0.1:1{path}")
    with pytest.raises(ValueError, match="Invalid database number 'x'"):
        store_from_url("redis+sentinel://127.0.0.1:1/mymaster/x")


@pytest.mark.parametrize("path", ["/notadb", "/1/2", "/-1", "/0x1", "/²"])
@pytest.mark.parametrize("scheme", ["redis", "rediss", "valkey", "valkeys"])
def test_a_server_path_that_is_not_a_database_number_is_refused(scheme: str, path: str) -> None:
    with pytest.raises(ValueError, match="database number") as raised:
        store_from_url(f"{scheme}://user:secret-pw@127.0.0.1:1{path}")
    assert "secret-pw" not in str(raised.value)


@pytest.mark.parametrize("path", ["", "/", "/0", "/15"])
def test_an_empty_path_or_a_database_number_is_taken(path: str) -> None:
    store = store_from_url(f"redis://127.0.0.1:1{path}")
    assert isinstance(store, RedisStore)


# --- ?namespace= ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SINGLE_KINDS)
async def test_the_namespace_option_is_a_child_of_the_default_root(kind: Kind, request: pytest.FixtureRequest) -> None:
    url = str(request.getfixturevalue(f"{kind}_url"))
    name = f"{unique_namespace()}"
    store = store_from_url(f"{url.replace('redis', kind, 1)}/0?namespace={name}")
    assert isinstance(store, RedisLikeStore)
    assert store.namespace == f"LITESTAR/{name}"
    async with store, raw_client(url) as raw:
        await store.set("k", b"v")
        assert await raw.get(f"LITESTAR/{name}:k") == b"v"
        await store.delete_all()
    with pytest.raises(StoreError, match="closed"):  # the store owned its client and closed it
        await store.get("k")


@pytest.mark.parametrize("kind", SINGLE_KINDS)
async def test_the_namespace_option_on_a_cluster_url(kind: Kind, request: pytest.FixtureRequest) -> None:
    node = str(request.getfixturevalue(f"{kind}_cluster_url")).partition("://")[2]
    name = f"{unique_namespace()}"
    store = store_from_url(f"{kind}+cluster://{node}", namespace=name)
    assert isinstance(store, RedisLikeStore)
    assert store.namespace == f"LITESTAR/{name}"
    async with store:
        await store.set_many({f"k{i}": b"v" for i in range(20)})  # spread over every node
        assert await store.with_namespace("child").get("k1") is None
        assert await store.count() == 20
        await store.delete_all()
        assert await store.count() == 0
    with pytest.raises(StoreError, match="closed"):
        await store.get("k")


@pytest.mark.parametrize("kind", SINGLE_KINDS)
async def test_keyword_options_win_over_the_query(kind: Kind, request: pytest.FixtureRequest) -> None:
    url = str(request.getfixturevalue(f"{kind}_url"))
    name = f"{unique_namespace()}"
    async with (
        as_kv_store(store_from_url(f"{url}/0?db=1&namespace=query", db=2, namespace=name)) as store,
        raw_client(f"{url}/2") as raw,
    ):
        await store.set("k", b"v")
        assert await raw.get(f"LITESTAR/{name}:k") == b"v"
        await store.delete_all()


# --- address ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "address"),
    [
        (f"redis://alice:{SECRET}@127.0.0.1:1/0", "127.0.0.1:1"),
        (f"rediss://:{SECRET}@example.com/0", "example.com:6379"),
        (f"valkey+sentinel://alice:{SECRET}@127.0.0.1:1,127.0.0.1:2/mymaster", "sentinel service 'mymaster'"),
        (f"redis+cluster://alice:{SECRET}@127.0.0.2:2,127.0.0.1:1", "127.0.0.1:1,127.0.0.2:2"),
    ],
)
def test_address_names_the_server_never_a_credential(url: str, address: str) -> None:
    store = store_from_url(url)
    assert isinstance(store, RedisLikeStore)
    assert store.address == address
    assert store.with_namespace("child").address == address
    assert repr(store) == f"{type(store).__name__}(namespace='LITESTAR', address={address!r})"
    assert SECRET not in repr(store)


def test_address_of_a_unix_socket_and_of_a_given_client() -> None:
    assert RedisStore.with_client("unix:///tmp/redis.sock").address == "/tmp/redis.sock"
    assert RedisStore(redis.asyncio.Redis(host="10.0.0.1", port=7000)).address == "10.0.0.1:7000"
