"""Automatic pipelining of Redis/Valkey commands: one pipeline per event-loop turn, each caller its own reply.

Real servers only: a connection dropped mid-pipeline is a real server behind a loopback proxy that cuts the
connection after a number of reply bytes; a stopped and restarted server is a real process; MOVED and ASK come
from a real slot migration between real cluster nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Iterator
from typing import Any

import pytest

from litestar_kvstores import StoreError, StoreUnavailableError
from litestar_kvstores._redis.store import RedisLikeStore
from litestar_kvstores.redis import RedisStore
from tests.support.redis import SINGLE_KINDS, CountingWriter, counting_store, execute, raw_client
from tests.support.stores import STORE_CLASSES, unique_namespace
from testservers.redis import Kind, start_cluster, start_server

N = 100


async def test_pipelining_is_on_by_default(any_store: RedisLikeStore) -> None:
    assert any_store.auto_pipeline is True
    assert any_store.with_namespace("child").auto_pipeline is True


async def test_concurrent_commands_travel_as_one_pipeline_each_caller_its_own_reply(kind: Kind, url: str) -> None:
    store, connection = counting_store(kind, url, unique_namespace())
    async with store:
        await store.set_many({f"k{i}": f"v{i}" for i in range(N)}, expires_in=60)
        await asyncio.gather(*(store.exists(f"k{i}") for i in range(N)))  # opens the connections (a handshake each)
        connection.sends = 0
        values = await asyncio.gather(*(store.get(f"k{i}") for i in range(N)))
        assert values == [f"v{i}".encode() for i in range(N)]
        # the first command finds nothing in flight and goes alone; the other 99 follow as one pipeline
        assert connection.sends == 2
        await store.delete_all()


async def test_a_lone_command_is_sent_at_once_alone(kind: Kind, url: str) -> None:
    store, connection = counting_store(kind, url, unique_namespace())
    async with store:
        await store.set("k", b"v")
        connection.sends = 0
        for _ in range(5):
            assert await store.get("k") == b"v"
        assert connection.sends == 5
        await store.delete_all()


async def test_auto_pipeline_false_sends_every_command_alone(kind: Kind, url: str) -> None:
    namespace = unique_namespace()
    store: RedisLikeStore = STORE_CLASSES[kind].with_client(url, namespace=namespace, auto_pipeline=False)
    assert store.auto_pipeline is False
    await store.aclose()
    store, connection = counting_store(kind, url, namespace, auto_pipeline=False)
    async with store:
        await store.set_many({f"k{i}": f"v{i}" for i in range(10)})
        await asyncio.gather(*(store.exists(f"k{i}") for i in range(10)))  # opens the connections
        connection.sends = 0
        values = await asyncio.gather(*(store.get(f"k{i}") for i in range(10)))
        assert values == [f"v{i}".encode() for i in range(10)]
        assert connection.sends == 10
        await store.delete_all()


@pytest.mark.parametrize(
    ("query", "expected"), [("", True), ("?auto_pipeline=false", False), ("?auto_pipeline=1", True)]
)
def test_the_url_option_auto_pipeline(query: str, expected: bool) -> None:
    for address in (f"redis://127.0.0.1:1/0{query}", f"redis+cluster://127.0.0.1:1{query}"):
        store = RedisStore.from_url(address)
        assert store.auto_pipeline is expected
    assert RedisStore.from_url("redis://127.0.0.1:1", auto_pipeline=False).auto_pipeline is False
    assert RedisStore.with_cluster("redis://127.0.0.1:1", auto_pipeline=False).auto_pipeline is False


def test_a_bad_auto_pipeline_value_is_named() -> None:
    with pytest.raises(ValueError, match="'auto_pipeline' must be true or false"):
        RedisStore.from_url("redis://127.0.0.1:1?auto_pipeline=maybe")


async def test_every_command_takes_part_and_each_caller_gets_its_own_result(any_store: RedisLikeStore) -> None:
    store = any_store
    await store.set_many({f"k{i}": f"v{i}" for i in range(20)}, expires_in=60)
    await store.set("plain", b"p")
    operations: list[tuple[Awaitable[object], object]] = []
    for i in range(20):
        operations += [
            (store.get(f"k{i}"), f"v{i}".encode()),
            (store.get(f"k{i}", renew_for=120), f"v{i}".encode()),
            (store.incr(f"n{i}", i + 1), i + 1),
            (store.incr(f"e{i}", 2, expires_in=60), 2),
            (store.exists(f"k{i}"), True),
            (store.exists(f"missing{i}"), False),
            (store.set(f"w{i}", f"w{i}"), None),
            (store.delete(f"gone{i}"), None),
            (store.get("plain", renew_for=5), b"p"),
            (store.add(f"a{i}", b"new", expires_in=60), True),
            (store.add(f"k{i}", b"taken"), False),
            (store.compare_and_set(f"c{i}", None, f"c{i}"), True),
            (store.compare_and_set(f"k{i}", b"wrong", b"x"), False),
            (store.compare_and_delete(f"missing{i}", b"x"), False),
        ]
    results = await asyncio.gather(*(operation for operation, _ in operations))
    assert results == [expected for _, expected in operations]  # the primitives take part too
    assert await store.get_many([f"w{i}" for i in range(20)]) == {f"w{i}": f"w{i}".encode() for i in range(20)}
    assert 110 <= (await store.expires_in("k3") or 0) <= 120  # renewed inside a pipeline
    assert await store.expires_in("plain") is None  # a key without expiry keeps having none
    assert 55 <= (await store.expires_in("e3") or 0) <= 60
    assert await store.get_many(["a3", "c3"]) == {"a3": b"new", "c3": b"c3"}


async def test_an_error_reply_fails_only_its_own_command(any_store: RedisLikeStore) -> None:
    await any_store.set("text", b"not a number")
    await any_store.set_many({f"k{i}": f"v{i}" for i in range(30)})
    calls: list[Awaitable[object]] = []
    for i in range(30):
        calls += [any_store.get(f"k{i}"), any_store.incr("text"), any_store.incr(f"n{i}", 5, expires_in=30)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    for i in range(30):
        got, failed, counted = results[3 * i : 3 * i + 3]
        assert got == f"v{i}".encode()
        assert isinstance(failed, ValueError)
        assert counted == 5
    assert await any_store.get("text") == b"not a number"


async def test_a_flushed_script_cache_is_handled_per_command(any_store: RedisLikeStore) -> None:
    await any_store.set_many({f"k{i}": f"v{i}" for i in range(50)}, expires_in=60)
    await any_store.get("k0", renew_for=60)  # the script is loaded
    client = await any_store._conn.ready_client()
    await client.script_flush()  # on every primary of a cluster
    values = await asyncio.gather(
        *(any_store.get(f"k{i}", renew_for=90) for i in range(50)),
        *(any_store.incr(f"n{i}", expires_in=30) for i in range(50)),
    )
    assert values == [f"v{i}".encode() for i in range(50)] + [1] * 50


async def test_a_cancelled_caller_leaves_the_others_their_replies(any_store: RedisLikeStore) -> None:
    await any_store.set_many({f"k{i}": f"v{i}" for i in range(N)})
    for rounds in range(3):  # cancelled before the pipeline is written, while it is in flight, after
        tasks = [asyncio.ensure_future(any_store.get(f"k{i}")) for i in range(N)]
        for _ in range(rounds):
            await asyncio.sleep(0)
        for i in range(0, N, 7):
            tasks[i].cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for i, result in enumerate(results):
            if isinstance(result, asyncio.CancelledError):
                assert i % 7 == 0
            else:
                assert result == f"v{i}".encode()
        assert await asyncio.gather(*(any_store.get(f"k{i}") for i in range(N))) == [f"v{i}".encode() for i in range(N)]


async def test_a_cancelled_incr_in_a_pipeline_never_shifts_a_reply(any_store: RedisLikeStore) -> None:
    for delay in range(3):
        await any_store.delete("n")
        tasks = [asyncio.ensure_future(any_store.incr("n")) for _ in range(N)]
        for _ in range(delay):
            await asyncio.sleep(0)
        tasks[50].cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        counts = [result for result in results if isinstance(result, int)]
        assert len(counts) == N - 1
        assert len(set(counts)) == N - 1  # every caller its own count, none shifted to a neighbour
        final = int(await any_store.get("n") or 0)
        assert final in (N - 1, N)  # the cancelled count ran or did not; nothing else was lost
        assert set(counts) <= set(range(1, final + 1))


class CuttingProxy:
    """A loopback TCP proxy to a real server that forwards every request and closes the client's connection after
    ``reply_bytes`` bytes of replies (``None``: never)."""

    def __init__(self, port: int) -> None:
        self.target_port = port
        self.reply_bytes: int | None = None
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> CuttingProxy:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"redis://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def requests() -> None:
            while data := await reader.read(65536):
                upstream_writer.write(data)
            upstream_writer.close()

        async def replies() -> None:
            sent = 0  # since the cut was armed
            while data := await upstream_reader.read(65536):
                if self.reply_bytes is None:
                    writer.write(data)
                    continue
                if sent + len(data) >= self.reply_bytes:
                    writer.write(data[: self.reply_bytes - sent])
                    await writer.drain()
                    writer.transport.abort()
                    upstream_writer.close()
                    return
                sent += len(data)
                writer.write(data)

        forward = asyncio.ensure_future(requests())
        with contextlib.suppress(OSError):
            await replies()
        forward.cancel()
        writer.close()


async def test_a_connection_dropped_mid_pipeline_fails_only_the_unanswered(kind: Kind, url: str) -> None:
    port = int(url.rsplit(":", 1)[1])
    namespace = unique_namespace()
    async with CuttingProxy(port) as proxy:
        store = STORE_CLASSES[kind].with_client(proxy.url, namespace=namespace)
        async with store:
            values = {f"k{i}": f"value-{i:03d}".encode() for i in range(N)}
            await store.set_many(values)
            await store.ping()
            # each reply to GET is "$9\r\nvalue-NNN\r\n", 16 bytes; cut the pipelined replies in the middle of the 40th
            proxy.reply_bytes = 16 * 40 + 5
            keys = list(values)
            blocker = asyncio.ensure_future(store.get(keys[0]))  # goes alone, so that the rest is one pipeline
            results = await asyncio.gather(*(store.get(key) for key in keys[1:]), return_exceptions=True)
            await asyncio.gather(blocker, return_exceptions=True)
            answered = [result for result in results if isinstance(result, bytes)]
            failed = [result for result in results if isinstance(result, BaseException)]
            assert answered == [values[key] for key in keys[1 : 1 + len(answered)]]  # never another's value
            assert failed
            assert all(isinstance(error, StoreUnavailableError) for error in failed)
            proxy.reply_bytes = None
            assert await asyncio.gather(*(store.get(key) for key in keys)) == list(values.values())
            await store.delete_all()


async def test_a_server_killed_and_restarted_under_a_pipeline(kind: Kind) -> None:
    server = start_server(kind)
    port = server.port
    try:
        async with STORE_CLASSES[kind].with_client(server.url, namespace=unique_namespace()) as store:
            await store.set_many({f"k{i}": b"v" for i in range(N)})
            pid = server.process.process.pid
            os.kill(pid, signal.SIGSTOP)  # the pipeline is written and waits for its replies
            pending = asyncio.ensure_future(
                asyncio.gather(*(store.get(f"k{i}") for i in range(N)), return_exceptions=True)
            )
            await asyncio.sleep(0.3)
            os.kill(pid, signal.SIGKILL)
            results = await pending
            assert all(isinstance(result, StoreUnavailableError) for result in results)
            server.stop()
            server = start_server(kind, port=port)
            values = await asyncio.gather(*(store.get(f"k{i}") for i in range(N)))
            assert values == [None] * N  # the new server is empty; the store recovered
            assert sorted(await asyncio.gather(*(store.incr("n") for _ in range(N)))) == list(range(1, N + 1))
    finally:
        server.stop()


async def test_a_closed_store_fails_its_queued_callers(kind: Kind, url: str) -> None:
    store = STORE_CLASSES[kind].with_client(url, namespace=unique_namespace())
    await store.set("k", b"v")
    tasks = [asyncio.ensure_future(store.get("k")) for _ in range(20)]
    await asyncio.sleep(0)
    await store.aclose()
    for result in await asyncio.gather(*tasks, return_exceptions=True):
        assert result == b"v" or isinstance(result, StoreError)
    with pytest.raises(StoreError):
        await store.get("k")


# --- cluster: MOVED and ASK from a real slot migration -----------------------------------------------------------


@pytest.fixture(params=SINGLE_KINDS)
def migrating_cluster(request: pytest.FixtureRequest) -> Iterator[tuple[Kind, list[int]]]:
    cluster = start_cluster(request.param)
    try:
        yield request.param, cluster.ports
    finally:
        cluster.stop()


async def _node_ids(ports: list[int]) -> dict[int, str]:
    ids = {}
    for port in ports:
        async with raw_client(f"redis://127.0.0.1:{port}") as client:
            ids[port] = (await execute(client, "CLUSTER", "MYID")).decode()
    return ids


async def _owner(ports: list[int], slot: int) -> int:
    async with raw_client(f"redis://127.0.0.1:{ports[0]}") as client:
        for first, last, primary, *_ in await execute(client, "CLUSTER", "SLOTS"):
            if first <= slot <= last:
                return int(primary[1])
    raise AssertionError(f"slot {slot} has no owner")


async def _run(port: int, *command: object) -> object:
    async with raw_client(f"redis://127.0.0.1:{port}") as client:
        return await execute(client, *command)


async def _start_migration(store: RedisLikeStore, ports: list[int], key: str) -> tuple[int, int, int, dict[int, str]]:
    """Start moving the slot of ``key`` from its owner to another node; return the slot, the source's and the
    target's ports and the node ids by port."""
    slot = store._conn.client.keyslot(f"{store.namespace}:{key}")
    source = await _owner(ports, slot)
    target = next(port for port in ports if port != source)
    ids = await _node_ids(ports)
    await _run(target, "CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source])
    await _run(source, "CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target])
    return slot, source, target, ids


async def test_moved_and_ask_during_a_slot_migration(migrating_cluster: tuple[Kind, list[int]]) -> None:
    kind, ports = migrating_cluster
    store = STORE_CLASSES[kind].with_cluster(f"redis://127.0.0.1:{ports[0]}", namespace=unique_namespace())
    async with store:
        moving = [f"same-slot-{i}" for i in range(40)]
        # every key of one slot: a hash tag in the user's key puts them together (the store adds none)
        keys = [f"{{tag}}{key}" for key in moving]
        await store.set_many({key: key for key in keys}, expires_in=300)
        await store.set_many({f"other{i}": f"o{i}" for i in range(40)})
        slot, source, target, ids = await _start_migration(store, ports, keys[0])
        names = [f"{store.namespace}:{key}" for key in keys[:20]]  # half the slot moves now: those keys get ASK
        await _run(source, "MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *names)

        expected = [key.encode() for key in keys] * 2 + [f"o{i}".encode() for i in range(40)]

        async def everyone() -> list[object]:
            return await asyncio.gather(
                *(store.get(key) for key in keys),
                *(store.get(key, renew_for=600) for key in keys),
                *(store.get(f"other{i}") for i in range(40)),
                *(store.incr(f"{{tag}}n{i}") for i in range(10)),
                return_exceptions=True,
            )

        def check(results: list[object], settled: bool) -> None:
            # each caller sees its own result, or (while the cluster client follows the change) a StoreError
            for result, wanted in zip(results, expected, strict=False):
                assert result == wanted or (not settled and isinstance(result, StoreError)), (result, wanted)
            for result in results[len(expected) :]:
                assert isinstance(result, int) or (not settled and isinstance(result, StoreError)), result

        check(await everyone(), settled=False)  # keys[:20] answer ASK from the source
        # the rest of the slot moves, as a reshard moves it: every key the source still holds there (the counters were
        # created on the target). Not only keys[20:]: an "other" key of this test may hash to the same slot (1 in
        # 16384 each), and a key left behind would read as missing once the slot is the target's.
        remaining = await _run(source, "CLUSTER", "GETKEYSINSLOT", slot, 1000)
        assert isinstance(remaining, list)
        assert {f"{store.namespace}:{key}".encode() for key in keys[20:]} <= set(remaining)
        await _run(source, "MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *remaining)
        for port in ports:  # the slot now belongs to the target: the client's map is stale, the source answers MOVED
            await _run(port, "CLUSTER", "SETSLOT", slot, "NODE", ids[target])
        for _ in range(10):  # the cluster client follows the move (valkey-py's may fail a few rounds while it does)
            results = await everyone()
            check(results, settled=False)
            if not any(isinstance(result, StoreError) for result in results):
                break
            await asyncio.sleep(0.2)
        check(results, settled=True)
        assert 590 <= (await store.expires_in(keys[3]) or 0) <= 600
        assert await _owner(ports, slot) == target


# --- cluster: one pipeline per node, on that node's own connections -----------------------------------------------


@pytest.fixture(params=SINGLE_KINDS)
def cluster_kind(request: pytest.FixtureRequest) -> Kind:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def cluster_url(cluster_kind: Kind, request: pytest.FixtureRequest) -> str:
    """The URL of the session's cluster of ``cluster_kind``."""
    return str(request.getfixturevalue(f"{cluster_kind}_cluster_url"))


def _node_connections(store: RedisLikeStore) -> list[Any]:
    """The open connections of every node of ``store``'s cluster client."""
    nodes = store._conn.client.get_nodes()
    return [connection for node in nodes for connection in node._connections if connection.is_connected]


async def test_concurrent_cluster_commands_go_as_one_pipeline_per_node(cluster_kind: Kind, cluster_url: str) -> None:
    store = STORE_CLASSES[cluster_kind].with_cluster(cluster_url, namespace=unique_namespace())
    async with store:
        await store.set_many({f"k{i}": f"v{i}" for i in range(N)})
        await asyncio.gather(*(store.exists(f"k{i}") for i in range(N)))  # opens the connections
        counter = type("Counter", (), {"sends": 0})
        for connection in _node_connections(store):
            connection._writer = CountingWriter(connection._writer, counter)
        values = await asyncio.gather(*(store.get(f"k{i}") for i in range(N)))
        assert values == [f"v{i}".encode() for i in range(N)]
        # the first command goes alone; the other 99 follow as one pipeline to each of the 3 nodes
        assert counter.sends == 1 + 3  # type: ignore[attr-defined]
        for _ in range(3):  # a lone command is one write
            assert await store.get("k1") == b"v1"
        assert counter.sends == 1 + 3 + 3  # type: ignore[attr-defined]
        await store.delete_all()


async def test_cluster_connections_killed_by_the_server_are_replaced(cluster_kind: Kind, cluster_url: str) -> None:
    store = STORE_CLASSES[cluster_kind].with_cluster(cluster_url, namespace=unique_namespace())
    async with store:
        values = {f"k{i}": f"v{i}".encode() for i in range(N)}
        await store.set_many(values)
        for rounds in range(2):  # pipelines, then lone commands, each on connections the nodes have closed
            await asyncio.gather(*(store.get(key) for key in values))  # opens the connections
            for connection in _node_connections(store):
                host, port = connection._writer.get_extra_info("sockname")[:2]
                await _run(connection.port, "CLIENT", "KILL", "ADDR", f"{host}:{port}")
            if rounds == 0:
                assert await asyncio.gather(*(store.get(key) for key in values)) == list(values.values())
            else:
                assert [await store.get(key) for key in values] == list(values.values())
        await store.delete_all()


async def test_a_cluster_node_killed_under_its_pipeline_fails_only_its_commands(cluster_kind: Kind) -> None:
    cluster = start_cluster(cluster_kind, require_full_coverage=False)  # the other nodes keep serving their slots
    try:
        store = STORE_CLASSES[cluster_kind].with_cluster(cluster.url, namespace=unique_namespace())
        async with store:
            values = {f"k{i}": f"v{i}".encode() for i in range(N)}
            await store.set_many(values)
            client = store._conn.client
            killed = cluster.nodes[2]
            on_killed = [key for key in values if client.get_node_from_key(store._prefix + key).port == killed.port]
            elsewhere = [key for key in values if key not in on_killed]
            assert on_killed
            await asyncio.gather(*(store.get(key) for key in values))  # opens the connections
            os.kill(killed.process.process.pid, signal.SIGSTOP)  # its pipeline is written and waits for replies
            keys = elsewhere + on_killed  # the lone first command goes to a node that answers
            pending = asyncio.ensure_future(asyncio.gather(*(store.get(key) for key in keys), return_exceptions=True))
            await asyncio.sleep(0.3)
            os.kill(killed.process.process.pid, signal.SIGKILL)
            results = dict(zip(keys, await pending, strict=True))
            assert [results[key] for key in elsewhere] == [values[key] for key in elsewhere]
            assert all(isinstance(results[key], StoreUnavailableError) for key in on_killed)
            assert await asyncio.gather(*(store.get(key) for key in elsewhere)) == [values[key] for key in elsewhere]
    finally:
        cluster.stop()


async def test_lone_commands_follow_ask_and_moved(migrating_cluster: tuple[Kind, list[int]]) -> None:
    kind, ports = migrating_cluster
    store = STORE_CLASSES[kind].with_cluster(f"redis://127.0.0.1:{ports[0]}", namespace=unique_namespace())
    async with store:
        keys = [f"{{tag}}k{i}" for i in range(10)]
        await store.set_many({key: key for key in keys}, expires_in=300)
        slot, source, target, ids = await _start_migration(store, ports, keys[0])
        await _run(source, "MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", f"{store.namespace}:{keys[0]}")
        assert [await store.get(key) for key in keys] == [key.encode() for key in keys]  # keys[0] answers ASK
        assert await store.get(keys[0], renew_for=600) == keys[0].encode()
        remaining = [f"{store.namespace}:{key}" for key in keys[1:]]
        await _run(source, "MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *remaining)
        for port in ports:  # the client's map is stale: the source answers MOVED
            await _run(port, "CLUSTER", "SETSLOT", slot, "NODE", ids[target])
        assert [await store.get(key, renew_for=600) for key in keys] == [key.encode() for key in keys]
        assert [await store.incr(f"{{tag}}n{i}") for i in range(3)] == [1, 1, 1]
        assert store._conn.client.get_node_from_key(f"{store.namespace}:{keys[0]}").port == target  # map refreshed
        assert 590 <= (await store.expires_in(keys[5]) or 0) <= 600
