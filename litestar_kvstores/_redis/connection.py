"""The client of a Redis/Valkey store and its state, shared by a root store and all its children."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from .._translate import ErrorTranslator
from ..errors import StoreError, StoreUnavailableError
from .bridge import ClientBridge
from .scripts import Script

__all__ = ("SCAN_COUNT", "Connection")

SCAN_COUNT = 5000
"""The ``COUNT`` hint of every ``SCAN`` call: each call blocks the server for a short, bounded time."""


def describe_address(client: Any, is_cluster: bool) -> str:
    """Return where ``client`` connects to: ``host:port``, a socket path, the Sentinel service or the cluster's
    startup nodes (never credentials)."""
    if is_cluster:
        return ",".join(sorted(client.nodes_manager.startup_nodes))
    pool = client.connection_pool
    service = getattr(pool, "service_name", None)
    if service is not None:  # a Sentinel-managed primary
        return f"sentinel service {service!r}"
    kwargs = pool.connection_kwargs
    if "path" in kwargs:
        return str(kwargs["path"])
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"


class _ServerErrors(ErrorTranslator):
    """Turns the errors of a connection's client library into :class:`StoreUnavailableError` / :class:`StoreError`
    naming the product and address."""

    __slots__ = ("_product_at", "_unavailable")

    def __init__(self, bridge: ClientBridge, address: str) -> None:
        super().__init__(bridge.errors)
        self._product_at = f"{bridge.product} at {address}"
        self._unavailable = bridge.unavailable_errors

    def translate(self, exc: BaseException) -> StoreError:
        if isinstance(exc, self._unavailable):
            return StoreUnavailableError(f"{self._product_at} is unavailable: {type(exc).__name__}: {exc}")
        return StoreError(f"{self._product_at} failed: {type(exc).__name__}: {exc}")


class Connection:
    """The client and its state, shared by a root store and all its children.

    Every call into the client runs inside ``with connection.errors:`` and gets the client from
    :meth:`ready_client`.
    """

    __slots__ = ("_lock", "address", "bridge", "client", "closed", "errors", "is_cluster", "ready")

    def __init__(self, bridge: ClientBridge, client: Any) -> None:
        self.bridge = bridge
        self.client = client
        self.is_cluster = isinstance(client, bridge.cluster_class)
        self.address = describe_address(client, self.is_cluster)
        self.errors = _ServerErrors(bridge, self.address)
        self.closed = False
        # A cluster client that receives concurrent commands before it knows the slot map can run a redirected
        # command twice, so it is initialised once, under a lock, before the first command.
        self.ready = not self.is_cluster
        self._lock: asyncio.Lock | None = None

    async def ready_client(self) -> Any:
        """Return the client, initialising a cluster client before its first command.

        Raises:
            StoreError: the store was closed.
        """
        if not self.ready:
            await self._prepare()
        return self.client

    async def _prepare(self) -> None:
        if self.closed:
            raise StoreError(f"The {self.bridge.product} store was closed")
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not self.ready:
                await self.client.initialize()
                self.ready = True

    async def run_script(self, script: Script, key: str, *args: int | bytes) -> Any:
        """Run ``script`` on ``key`` with ``args`` in one round trip (two more if the server lacks the script)."""
        try:
            return await self.client.evalsha(script.sha, 1, key, *args)
        except self.bridge.no_script_error:
            await self.client.script_load(script.source)
            return await self.client.evalsha(script.sha, 1, key, *args)

    def pipeline(self) -> Any:
        """Return a non-transactional pipeline (one round trip per server)."""
        if self.is_cluster:
            return self.client.pipeline()
        return self.client.pipeline(transaction=False)

    async def scan(self, pattern: str | None) -> AsyncIterator[list[bytes]]:
        """Yield the keys matching ``pattern`` (all keys for ``None``) in batches, visiting every primary.

        Each batch is one ``SCAN … COUNT SCAN_COUNT`` call, so the server is never blocked for long.
        """
        nodes = self.client.get_primaries() if self.is_cluster else [None]
        for node in nodes:
            target = {} if node is None else {"target_nodes": node}
            cursor = 0
            while True:
                cursor, batch = await self.client.scan(cursor, match=pattern, count=SCAN_COUNT, **target)
                if node is not None:  # a cluster client answers with a cursor per node it asked
                    cursor = cursor[node.name]
                if batch:
                    yield batch
                if not cursor:
                    break

    async def aclose(self) -> None:
        """Close the client and its connections; later operations raise :class:`StoreError`."""
        if self.closed:
            return
        self.closed = True
        self.ready = False
        if self.is_cluster:
            await self.client.aclose()
        else:
            await self.client.aclose(close_connection_pool=True)
