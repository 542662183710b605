"""A cluster store under constant concurrent load recovers after a primary fails over to its replica.

Real servers only: a cluster of 3 primaries with a replica each; the primary is killed with ``SIGKILL`` and the
cluster itself promotes its replica (``cluster-node-timeout`` of ``NODE_TIMEOUT_MS``).

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
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from litestar_kvstores import StoreError
from litestar_kvstores._redis.connection import Connection
from litestar_kvstores._redis.store import RedisLikeStore
from tests.support.redis import SINGLE_KINDS, raw_client
from tests.support.stores import STORE_CLASSES, unique_namespace
from testservers.redis import ClusterServers, start_cluster

pytestmark = pytest.mark.slow

WORKERS = 50
NODE_TIMEOUT_MS = 1000
RECOVERY_BOUND = NODE_TIMEOUT_MS / 1000 + 15  # seconds after the kill; a bound, not a speed target
QUIET = 1.0  # seconds without a failure, every worker having completed rounds in it, mean "recovered"


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


async def test_a_cluster_store_under_load_recovers_after_a_failover(
    replicated_cluster: ClusterServers, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = replicated_cluster
    store = STORE_CLASSES[cluster.kind].with_cluster(cluster.url, namespace=unique_namespace())
    async with store:
        workers = [Worker(number, store) for number in range(WORKERS)]
        for worker in workers:
            worker.written.append(f"{worker.number}:0".encode())
        await store.set_many({worker.key: worker.written[0] for worker in workers}, expires_in=300)
        await store.set_many({worker.counter: str(worker.number) for worker in workers})
        await _wait_for_replication(cluster)

        killed = cluster.nodes[0]
        client = store._conn.client
        on_killed = [
            name
            for worker in workers
            for name in (worker.key, worker.counter)
            if client.get_node_from_key(store._prefix + name).port == killed.port
        ]
        assert on_killed

        refreshes = 0
        refresh_map = Connection._refresh_map

        async def counted_refresh_map(connection: Connection) -> None:
            nonlocal refreshes
            refreshes += 1
            await refresh_map(connection)

        monkeypatch.setattr(Connection, "_refresh_map", counted_refresh_map)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(worker.run(stop)) for worker in workers]
        try:
            await asyncio.sleep(0.5)
            assert not any(worker.failures for worker in workers), "failures before the kill"
            attempts_at_kill = [worker.attempts for worker in workers]

            cluster.kill(killed)
            killed_at = time.monotonic()
            promoted = await asyncio.to_thread(cluster.wait_for_failover, killed, RECOVERY_BOUND)
            recovered, last_failure = False, 0.0
            while time.monotonic() - killed_at < RECOVERY_BOUND:
                now = time.monotonic()
                last_failure = _last_failure(workers)
                if now - last_failure >= QUIET and all(w.last_clean_round > last_failure for w in workers):
                    recovered = True
                    break
                await asyncio.sleep(0.1)
                assert not any(task.done() for task in tasks), "a worker stopped"
            failures = [exc for worker in workers for _, exc in worker.failures]
            assert recovered, (
                f"still failing {time.monotonic() - killed_at:.1f} s after the kill: {len(failures)} failures, "
                f"the last: {failures[-1]!r}"
            )
            # the load never stopped: every worker kept issuing commands through the failover
            assert all(worker.attempts > seen for worker, seen in zip(workers, attempts_at_kill, strict=True))
            assert failures  # the commands to the killed primary failed meanwhile, with our error types only
            # the map was read again, not once per failed command (each refresh makes a new map, which routes
            # commands to the killed primary again until the failover)
            assert 1 <= refreshes < len(failures) / 10, (refreshes, len(failures))
        finally:
            stop.set()
            await asyncio.gather(*tasks)  # re-raises a worker's wrong value or foreign exception

        # the store serves every key, those of the promoted replica included, with what was last written
        assert all(worker.failures[-1][0] <= last_failure for worker in workers if worker.failures)
        assert any(client.get_node_from_key(store._prefix + name).port == promoted.port for name in on_killed)
        for worker in workers:
            assert await store.get(worker.key) == worker.written[-1]
            worker.incrs += 1
            worker.check_count(await store.incr(worker.counter, WORKERS))
        await store.delete_all()
