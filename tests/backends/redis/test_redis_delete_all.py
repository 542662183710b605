"""``delete_all`` deletes exactly its namespace and children, on single servers and clusters, without blocking."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from litestar_kvstores._redis.store import RedisLikeStore
from tests.support.redis import SINGLE_KINDS, execute, raw_client
from tests.support.stores import STORE_CLASSES, open_store, unique_namespace
from testservers.redis import Kind, RedisServer, start_server

GLOB_KEYS = ["*", "?", "[", "[a-z]", "a*b?[c]", "\\", "\\*", "x]"]


@pytest.fixture(params=["redis", "valkey", "redis_cluster", "valkey_cluster"])
def backend_url(request: pytest.FixtureRequest) -> tuple[Kind, str, bool]:
    """(kind, url, is_cluster) of each server the session runs."""
    name = str(request.param)
    kind: Kind = "redis" if name.startswith("redis") else "valkey"
    return kind, str(request.getfixturevalue(f"{name}_url")), name.endswith("_cluster")


async def node_keys(url: str, cluster: bool) -> list[set[bytes]]:
    """The keys of each server (each primary of a cluster), read with plain single-server clients."""
    async with raw_client(url) as client:
        if not cluster:
            return [{key async for key in client.scan_iter(count=1000)}]
        nodes = (await execute(client, "CLUSTER", "NODES")).decode().splitlines()
    ports = [int(line.split()[1].split("@")[0].rsplit(":", 1)[1]) for line in nodes if "master" in line.split()[2]]
    assert len(ports) == 3
    result = []
    for port in ports:
        async with raw_client(f"redis://127.0.0.1:{port}") as node:
            result.append({key async for key in node.scan_iter(count=1000)})
    return result


async def test_delete_all_deletes_exactly_the_namespace_and_its_children(backend_url: tuple[Kind, str, bool]) -> None:
    kind, url, cluster = backend_url
    base = unique_namespace()
    async with open_store(kind, url, cluster, base) as parent:
        app = parent.with_namespace("app")
        apple = parent.with_namespace("apple")
        child = app.with_namespace("sub")
        grandchild = child.with_namespace("deeper")
        for store in (parent, app, apple, child, grandchild):
            await store.set_many({f"k{i}": b"v" for i in range(40)})
            await store.set_many(dict.fromkeys(GLOB_KEYS, b"glob"))
        foreign = [
            f"{base}/app",
            f"{base}/application:x",
            f"{base}/app_x:y",
            f"{base}/appx",
            f"{base}/ap:p",
            f"{base}/app*:x",
            f"{base}/app[:/]:x",
            f"{base}app:x",
        ]
        async with open_store(kind, url, cluster, None) as verbatim:
            await verbatim.set_many(dict.fromkeys(foreign, b"foreign"))
            expected_deleted = {
                f"{store.namespace}:{name}".encode()
                for store in (app, child, grandchild)
                for name in [*GLOB_KEYS, *(f"k{i}" for i in range(40))]
            }
            before = await node_keys(url, cluster)
            assert all(keys & expected_deleted for keys in before), "the namespace should span every node"

            await app.delete_all()

            after = await node_keys(url, cluster)
            for node_before, node_after in zip(before, after, strict=True):
                assert node_after == node_before - expected_deleted
            assert await apple.count() == 40 + len(GLOB_KEYS)
            assert await parent.count() == 40 + len(GLOB_KEYS)
            assert await child.count() == 0
            assert await verbatim.get_many(foreign) == dict.fromkeys(foreign, b"foreign")
            await verbatim.delete_many(foreign)
        await parent.delete_all()
        assert not any(key.startswith(base.encode()) for keys in await node_keys(url, cluster) for key in keys)


async def test_delete_all_on_an_empty_namespace_is_a_no_op(backend_url: tuple[Kind, str, bool]) -> None:
    kind, url, cluster = backend_url
    async with open_store(kind, url, cluster, unique_namespace()) as store:
        await store.delete_all()
        assert await store.count() == 0


# --- a million foreign keys: delete_all never blocks the server --------------------------------------------------

FOREIGN_KEYS = 1_000_000
MAX_PING_SECONDS = 0.300
"""A wide margin for a loaded machine: a server-side SCAN loop over these keys blocks it for ~0.84 s (measured with
Litestar's store), while each of our SCAN batches blocks it for a few milliseconds."""


@pytest.fixture(scope="module", params=SINGLE_KINDS)
def crowded_server(request: pytest.FixtureRequest) -> Iterator[RedisServer]:
    """A server of its own holding a million keys ``application:<n>`` of "other software" (``DEBUG POPULATE``)."""
    server = start_server(request.param, extra_args=("--enable-debug-command", "yes"))
    try:
        with server.client() as client:
            client.execute_command("DEBUG", "POPULATE", FOREIGN_KEYS, "application")
            assert client.dbsize() == FOREIGN_KEYS
        yield server
    finally:
        server.stop()


class PingProbe:
    """PINGs the server over its own socket from a thread, recording the slowest answer.

    A thread and a raw socket, so the measurement is the server's responsiveness, not our event loop's.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.slowest = 0.0
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            while not self._stop.is_set():
                start = time.perf_counter()
                sock.sendall(b"PING\r\n")
                assert sock.recv(64) == b"+PONG\r\n"
                self.slowest = max(self.slowest, time.perf_counter() - start)
                self.count += 1
                time.sleep(0.001)

    def __enter__(self) -> PingProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


def test_ping_probe_detects_a_blocked_server(crowded_server: RedisServer) -> None:
    # Proves the probe can fail: a server busy for 200 ms in one command shows up as one slow PING.
    with PingProbe(crowded_server.port) as probe, crowded_server.client() as client:
        time.sleep(0.05)
        client.execute_command("DEBUG", "SLEEP", 0.2)
        time.sleep(0.05)
    assert probe.slowest >= 0.15


@pytest.fixture
async def crowded_store(crowded_server: RedisServer) -> AsyncIterator[RedisLikeStore]:
    async with STORE_CLASSES[crowded_server.kind].with_client(crowded_server.url, namespace="app") as store:
        yield store


async def test_delete_all_among_a_million_keys_never_blocks_a_ping(
    crowded_server: RedisServer, crowded_store: RedisLikeStore
) -> None:
    # Litestar's delete_all of namespace "app" deletes "application:*" and blocks the server in one script.
    store = crowded_store
    await store.set_many({f"k{i}": b"v" for i in range(5000)})
    await store.with_namespace("child").set_many({f"k{i}": b"v" for i in range(5000)})
    with PingProbe(crowded_server.port) as probe:
        start = time.perf_counter()
        await store.delete_all()
        elapsed = time.perf_counter() - start
    assert probe.count > 10, f"only {probe.count} pings during {elapsed:.2f} s"
    assert probe.slowest <= MAX_PING_SECONDS, f"a PING waited {probe.slowest * 1000:.1f} ms"
    assert await store.count() == 0
    assert await store.with_namespace("child").count() == 0
    with crowded_server.client() as client:
        assert client.dbsize() == FOREIGN_KEYS
        commands = client.info("commandstats")
    # Client-driven batches: many SCAN calls, no KEYS and no script looping on the server.
    assert commands["cmdstat_scan"]["calls"] >= FOREIGN_KEYS // 10_000
    assert not {"cmdstat_keys", "cmdstat_eval", "cmdstat_evalsha"} & set(commands)
