"""A cluster store under constant concurrent load recovers after a primary fails over to its replica.

Real servers only: a cluster of 3 primaries with a replica each; the primary is killed with ``SIGKILL`` (or, in the
second test, stopped with ``SIGSTOP``, so commands to it time out) and the cluster itself promotes its replica
(``cluster-node-timeout`` of ``NODE_TIMEOUT_MS``).

What is asserted while the load runs, per worker task (each owns a value key and a counter key):

- every failure is a :class:`StoreError` (:class:`StoreUnavailableError` included), never another exception;
- a read never returns a wrong value: the value key holds one of the values this worker wrote (the killed primary
  may lose its last writes, asynchronously replicated, so not necessarily the latest one; the first value was
  replicated before the kill, so never nothing), and the counter, which starts at the worker's number and grows by
  ``WORKERS``, always answers a value of this worker's residue, at most the start plus one step per attempted
  ``incr`` (a failed ``incr`` may have run);
- the store reads the cluster's map of slots again far less often than commands fail (failures coalesce);
- within ``RECOVERY_BOUND`` seconds of the kill every operation of every worker succeeds again, while the load
  never stopped; afterwards, every key (also those of the promoted replica) reads back exactly what was last
  written.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from litestar_kvstores import StoreError
from litestar_kvstores._redis.connection import Connection
from litestar_kvstores._redis.store import RedisLikeStore
from tests.support.redis import SINGLE_KINDS, raw_client
from tests.support.stores import STORE_CLASSES, unique_namespace
from testservers.redis import ClusterServers, RedisServer, start_cluster

pytestmark = pytest.mark.slow

WORKERS = 50
NODE_TIMEOUT_MS = 1000
RECOVERY_BOUND = NODE_TIMEOUT_MS / 1000 + 15  # seconds after the kill; a bound, not a speed target
QUIET = 1.0  # seconds without a failure, every worker having completed rounds in it, mean "recovered"
SILENT_TIMEOUT = 0.5  # the store's socket timeout in the silent-primary test: a command to it fails after this


@pytest.fixture(params=SINGLE_KINDS)
def replicated_cluster(request: pytest.FixtureRequest) -> Iterator[ClusterServers]:
    cluster = start_cluster(request.param, replicas=True, node_timeout_ms=NODE_TIMEOUT_MS)
    try:
        yield cluster
    finally:
        cluster.stop()


@dataclass
class Worker:
    """One task of the load: ``set``, ``get``, renewing ``get`` and ``incr`` on its own two keys, round after round."""

    number: int
    store: RedisLikeStore
    written: list[bytes] = field(default_factory=list)
    incrs: int = 0  # attempted, including failed ones (which may have run)
    rounds: int = 0  # completed without a failure
    attempts: int = 0
    failures: list[tuple[float, StoreError]] = field(default_factory=list)
    last_clean_round: float = 0.0

    @property
    def key(self) -> str:
        return f"value-{self.number}"

    @property
    def counter(self) -> str:
        return f"counter-{self.number}"

    def check_value(self, value: bytes | None) -> None:
        assert value in self.written, (self.number, value, self.written[-3:])

    def check_count(self, count: int) -> None:
        assert count % WORKERS == self.number, (self.number, count)
        assert self.number <= count <= self.number + WORKERS * self.incrs, (self.number, count, self.incrs)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.attempts += 1
            value = f"{self.number}:{self.attempts}".encode()
            try:
                self.written.append(value)
                await self.store.set(self.key, value, expires_in=300)
                self.check_value(await self.store.get(self.key))
                self.check_value(await self.store.get(self.key, renew_for=300))
                self.incrs += 1
                self.check_count(await self.store.incr(self.counter, WORKERS))
            except StoreError as exc:  # anything else fails the test
                self.failures.append((time.monotonic(), exc))
            else:
                self.rounds += 1
                self.last_clean_round = time.monotonic()


async def _wait_for_replication(cluster: ClusterServers) -> None:
    """Wait until every replica holds as many keys as its primary."""
    for primary, replica in zip(cluster.nodes, cluster.replicas, strict=True):
        async with raw_client(primary.url) as source, raw_client(replica.url) as copy:
            while await copy.dbsize() != await source.dbsize():
                await asyncio.sleep(0.02)


def _last_failure(workers: list[Worker]) -> float:
    return max((at for worker in workers for at, _ in worker.failures), default=0.0)


async def _workers(store: RedisLikeStore, cluster: ClusterServers) -> list[Worker]:
    """The load's workers, their first value and counter written and replicated."""
    workers = [Worker(number, store) for number in range(WORKERS)]
    for worker in workers:
        worker.written.append(f"{worker.number}:0".encode())
    await store.set_many({worker.key: worker.written[0] for worker in workers}, expires_in=300)
    await store.set_many({worker.counter: str(worker.number) for worker in workers})
    await _wait_for_replication(cluster)
    return workers


def _keys_on(store: RedisLikeStore, workers: list[Worker], node: RedisServer) -> list[str]:
    client = store._conn.client
    return [
        name
        for worker in workers
        for name in (worker.key, worker.counter)
        if client.get_node_from_key(store._prefix + name).port == node.port
    ]


def _counted_refreshes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the store's reads of the cluster's map from now on, in the returned list's one item."""
    refreshes = [0]
    refresh_map = Connection._refresh_map

    async def counted_refresh_map(connection: Connection) -> None:
        refreshes[0] += 1
        await refresh_map(connection)

    monkeypatch.setattr(Connection, "_refresh_map", counted_refresh_map)
    return refreshes


async def _fail_over_under_load(
    cluster: ClusterServers, store: RedisLikeStore, workers: list[Worker], fail: Callable[[RedisServer], None]
) -> tuple[RedisServer, float, list[StoreError]]:
    """Run the load, ``fail`` the first primary once it runs, and wait until every worker succeeds again.

    Returns:
        The promoted replica, the time of the last failure and the failures (all of them :class:`StoreError`).
    """
    stop = asyncio.Event()
    tasks = [asyncio.create_task(worker.run(stop)) for worker in workers]
    try:
        await asyncio.sleep(0.5)
        assert not any(worker.failures for worker in workers), "failures before the primary failed"
        attempts_at_failure = [worker.attempts for worker in workers]

        failed = cluster.nodes[0]
        fail(failed)
        failed_at = time.monotonic()
        promoted = await asyncio.to_thread(cluster.wait_for_failover, failed, RECOVERY_BOUND)
        recovered, last_failure = False, 0.0
        while time.monotonic() - failed_at < RECOVERY_BOUND:
            now = time.monotonic()
            last_failure = _last_failure(workers)
            if now - last_failure >= QUIET and all(w.last_clean_round > last_failure for w in workers):
                recovered = True
                break
            await asyncio.sleep(0.1)
            assert not any(task.done() for task in tasks), "a worker stopped"
        failures = [exc for worker in workers for _, exc in worker.failures]
        assert recovered, (
            f"still failing {time.monotonic() - failed_at:.1f} s after the primary failed: {len(failures)} failures, "
            f"the last: {failures[-1]!r}"
        )
        # the load never stopped: every worker kept issuing commands through the failover
        assert all(worker.attempts > seen for worker, seen in zip(workers, attempts_at_failure, strict=True))
        assert failures  # the commands to the failed primary failed meanwhile, with our error types only
    finally:
        stop.set()
        await asyncio.gather(*tasks)  # re-raises a worker's wrong value or foreign exception
    return promoted, last_failure, failures


async def _serves_what_was_written(
    store: RedisLikeStore, workers: list[Worker], promoted: RedisServer, moved: list[str], last_failure: float
) -> None:
    """Every key, those the promoted replica now serves (``moved``) included, reads back what was last written."""
    client = store._conn.client
    assert all(worker.failures[-1][0] <= last_failure for worker in workers if worker.failures)
    assert any(client.get_node_from_key(store._prefix + name).port == promoted.port for name in moved)
    for worker in workers:
        assert await store.get(worker.key) == worker.written[-1]
        worker.incrs += 1
        worker.check_count(await store.incr(worker.counter, WORKERS))


async def test_a_cluster_store_under_load_recovers_after_a_failover(
    replicated_cluster: ClusterServers, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = replicated_cluster
    store = STORE_CLASSES[cluster.kind].with_cluster(cluster.url, namespace=unique_namespace())
    async with store:
        workers = await _workers(store, cluster)
        moved = _keys_on(store, workers, cluster.nodes[0])
        assert moved
        refreshes = _counted_refreshes(monkeypatch)
        promoted, last_failure, failures = await _fail_over_under_load(cluster, store, workers, cluster.kill)
        # the map was read again, not once per failed command (each refresh makes a new map, which routes
        # commands to the killed primary again until the failover)
        assert 1 <= refreshes[0] < len(failures) / 10, (refreshes[0], len(failures))
        await _serves_what_was_written(store, workers, promoted, moved, last_failure)
        await store.delete_all()


async def test_a_cluster_store_under_load_recovers_when_a_primary_falls_silent(
    replicated_cluster: ClusterServers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A primary that stops answering (``SIGSTOP``: its connections stay open) times commands out; the timeouts
    have the store read the cluster's map again, so it follows the failover while the node is still silent."""
    cluster = replicated_cluster
    store = STORE_CLASSES[cluster.kind].with_cluster(
        cluster.url, namespace=unique_namespace(), socket_timeout=SILENT_TIMEOUT
    )
    silent = cluster.nodes[0]
    async with store:
        workers = await _workers(store, cluster)
        moved = _keys_on(store, workers, silent)
        assert moved
        refreshes = _counted_refreshes(monkeypatch)
        try:
            promoted, last_failure, _ = await _fail_over_under_load(cluster, store, workers, cluster.pause)
            assert refreshes[0] >= 1
            await _serves_what_was_written(store, workers, promoted, moved, last_failure)
            await store.delete_all()
        finally:
            cluster.resume(silent)
