"""The client of a Redis/Valkey store and its state, shared by a root store and all its children."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any

from .._translate import ErrorTranslator
from ..errors import StoreError, StoreUnavailableError
from .bridge import ClientBridge
from .protocol import pack_commands
from .scripts import Script

__all__ = ("SCAN_COUNT", "Connection")

_Queued = tuple[tuple[Any, ...], "asyncio.Future[Any]"]
"""A queued command and the future of its caller."""

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
    """The client and its state, shared by a root store and all its children: the one place every single-key
    command goes through (:meth:`execute`).

    Automatic pipelining: a command issued while none of this connection's commands is in flight is sent at once,
    alone (a sequential caller pays nothing for pipelining). A command issued while others are in flight waits for
    the end of the event-loop turn, and every command queued in that turn travels as one pipeline on one
    connection (one per node of a cluster). Each caller receives its own reply or its own error: an error reply
    fails only its command, a broken connection fails only the commands it carried. A caller cancelled before the
    pipeline is written is left out of it.

    On a cluster, a node that fails (a broken or refused connection, a timeout) or a slot that no node serves in the
    client's map of slots has the cluster client read the map again: after a failover, the next commands go to the
    promoted replica even under a load that keeps every command in a pipeline. The commands that failed fail to their
    callers at once (a write may have run; it is not sent again); commands issued during the refresh wait for it.

    Every call runs inside ``with connection.errors:``, which turns the library's exceptions into
    :class:`~litestar_kvstores.StoreError` / :class:`~litestar_kvstores.StoreUnavailableError`.
    """

    __slots__ = (
        "_in_flight",
        "_lock",
        "_queue",
        "_refresh",
        "_tasks",
        "address",
        "auto_pipeline",
        "bridge",
        "client",
        "closed",
        "errors",
        "is_cluster",
        "ready",
    )

    def __init__(self, bridge: ClientBridge, client: Any, auto_pipeline: bool = True) -> None:
        self.bridge = bridge
        self.client = client
        self.is_cluster = isinstance(client, bridge.cluster_class)
        self.address = describe_address(client, self.is_cluster)
        self.errors = _ServerErrors(bridge, self.address)
        self.closed = False
        self.auto_pipeline = auto_pipeline
        # A cluster client that receives concurrent commands before it knows the slot map can run a redirected
        # command twice, so it is initialised once, under a lock, before the first command.
        self.ready = not self.is_cluster
        self._lock: asyncio.Lock | None = None
        self._in_flight = 0  # commands sent alone and pipelines, not yet answered
        self._queue: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] | None = None  # this turn's commands
        self._tasks: set[asyncio.Task[None]] = set()  # the pipelines being written and read, the map's refresh
        self._refresh: asyncio.Task[None] | None = None  # the refresh of a cluster client's map of slots under way

    async def ready_client(self) -> Any:
        """Return the client, initialising a cluster client before its first command.

        Raises:
            StoreError: the store was closed.
        """
        if not self.ready:
            await self._prepare()
        return self.client

    def _client_lock(self) -> asyncio.Lock:
        """Return the lock that serialises the cluster client's initialisation and the refreshes of its map."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def _prepare(self) -> None:
        if self.closed:
            raise StoreError(f"The {self.bridge.product} store was closed")
        async with self._client_lock():
            if not self.ready:
                await self.library_call(self.client.initialize())
                self.ready = True

    async def execute(self, *command: Any) -> Any:
        """Run one command on one key (``command[1]``, ``command[3]`` for ``EVALSHA``) and return its reply.

        Replies are the server's (``SET`` answers ``b"OK"``; ``True`` when a cluster client ran a redirected
        ``SET``); an error reply raises the library's exception. While a cluster client's map of slots is being
        refreshed (:meth:`_map_failed`), the command waits for the new map.

        Raises:
            StoreError: the store was closed.
        """
        if not self.ready:
            await self._prepare()
        if self._refresh is not None:  # valkey-py's refresh closes the connections of the old map's nodes
            await asyncio.wait((self._refresh,))
        if self._queue is not None or (self._in_flight and self.auto_pipeline):
            return await self._enqueue(command)
        self._in_flight += 1
        try:
            if self.is_cluster:
                reply = await self._cluster_alone(command)
            else:
                replies: list[Any] = []
                await self._exchange([command], replies)
                reply = replies[0]
            if isinstance(reply, Exception):
                raise reply
            return reply
        finally:
            self._in_flight -= 1

    async def _cluster_alone(self, command: tuple[Any, ...]) -> Any:
        """Return the reply to ``command``, sent alone to its key's node on that node's own connection.

        What that node cannot answer (a slot the client's map lacks, a redirection, a broken connection) runs again
        through the cluster client, which follows redirections, retries and refreshes its map (after a failover);
        a timeout is not retried (the command may have run), so a silent node is reported after one timeout, and
        the client's map is refreshed in the background (:meth:`_map_failed`). Nor is a command whose connection
        the cluster client closed under it (it may have run).
        """
        replies: list[Any] = []
        slot_map = self.client.nodes_manager.slots_cache
        try:
            await self._exchange([command], replies, self._node_of(command))
        except (self.bridge.timeout_error, self.bridge.closed_error):
            self._map_failed(slot_map)
            raise
        except Exception:
            return await self._cluster_command(command)
        if isinstance(replies[0], self.bridge.redirect_errors):
            return await self._cluster_command(command)
        return replies[0]

    def _node_of(self, command: tuple[Any, ...]) -> Any:
        """Return the cluster node that serves the key of ``command`` in the client's map of slots.

        Raises:
            The library's error for a slot no node serves.
        """
        return self.client.get_node_from_key(command[3] if command[0] == "EVALSHA" else command[1])

    async def _enqueue(self, command: tuple[Any, ...]) -> Any:
        """Queue ``command`` for this turn's pipeline, starting the pipeline if it is the turn's first."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if self._queue is None:
            self._queue = []
            task = loop.create_task(self._flush())  # runs after the tasks already ready in this turn
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._queue.append((command, future))
        return await future

    async def _flush(self) -> None:
        """Write this turn's queued commands as one pipeline (one per node of a cluster, by each key's hash slot)
        and hand each caller its reply or error.

        A command that a cluster node redirects (``MOVED``/``ASK``/``TRYAGAIN``) runs again alone through the
        cluster client, which follows redirections; one at a time, so that the first refreshes the client's map of
        slots for the others. A node whose pipeline fails, or a slot no node serves, fails its commands and has the
        client's map refreshed in the background (:meth:`_map_failed`).
        """
        queued, self._queue = self._queue or [], None
        batch = [(command, future) for command, future in queued if not future.done()]  # drops cancelled callers
        if not batch:
            return
        self._in_flight += 1
        try:
            if not self.is_cluster:
                await self._pipeline(batch)
                return
            slot_map = self.client.nodes_manager.slots_cache
            per_node: dict[str, tuple[Any, list[_Queued]]] = {}
            for command, future in batch:
                try:
                    node = self._node_of(command)
                except Exception as exc:  # a slot no node serves
                    future.set_exception(exc)
                    self._map_failed(slot_map)
                    continue
                per_node.setdefault(node.name, (node, []))[1].append((command, future))
            pipelines = [self._pipeline(commands, node, slot_map) for node, commands in per_node.values()]
            # one node: no task for gather to make (100 concurrent commands on a 3-node cluster rarely hit one node)
            redirected = [await pipelines[0]] if len(pipelines) == 1 else await asyncio.gather(*pipelines)
            for command, future in (queued for commands in redirected for queued in commands):
                if not future.done():
                    try:
                        future.set_result(await self._cluster_command(command))
                    except Exception as exc:  # handed to its caller
                        if not future.done():
                            future.set_exception(exc)
        finally:
            self._in_flight -= 1
            for _, future in batch:  # only when this task itself was cancelled (the loop or the store closing)
                if not future.done():
                    future.set_exception(StoreUnavailableError(f"The pipeline to {self.address} was interrupted"))

    async def _pipeline(self, batch: list[_Queued], node: Any = None, slot_map: Any = None) -> list[_Queued]:
        """Write the commands of ``batch`` as one pipeline (to ``node`` of a cluster, chosen by the client's map of
        slots ``slot_map``) and hand each caller its reply or error; return the commands the node redirected
        instead, whose callers still wait.

        A broken connection fails the commands it had not answered (:meth:`_exchange`), never the others; on a
        cluster it also has the client's map refreshed (:meth:`_map_failed`).
        """
        replies: list[Any] = []
        try:
            await self._exchange([command for command, _ in batch], replies, node)
        except Exception as exc:  # the connection failed: the commands without a reply fail with it
            replies += [self._cluster_error(exc)] * (len(batch) - len(replies))
            if node is not None:
                self._map_failed(slot_map)
        redirect = self.bridge.redirect_errors
        redirected = []
        for queued, reply in zip(batch, replies, strict=True):
            future = queued[1]
            if future.done():  # the caller was cancelled
                continue
            if isinstance(reply, redirect):
                redirected.append(queued)
            elif isinstance(reply, BaseException):
                future.set_exception(reply)
            else:
                future.set_result(reply)
        return redirected

    async def _exchange(self, commands: list[tuple[Any, ...]], replies: list[Any], node: Any = None) -> None:
        """Write ``commands`` on one pooled connection of a single server (or of ``node`` of a cluster) and append
        each reply, or the error reply as an exception, to ``replies``.

        A connection that breaks before any reply was read (e.g. a pooled connection to a server that restarted)
        is replaced and the commands sent again, once, as the library retries a broken connection; not one that
        the library itself closed under the commands (``bridge.closed_error``), which may have run.

        Raises:
            The library's connection or timeout error; ``replies`` then holds the replies read before.
        """
        bridge = self.bridge
        pool = self.client.connection_pool if node is None else None
        for attempt in (1, 2):
            if pool is not None:
                connection = await pool.get_connection(*bridge.pool_arguments)
            else:
                connection = node.acquire_connection()
            try:
                if pool is None and not connection.is_connected:  # a node hands out connections not yet opened
                    await connection.connect()
                await self._converse(connection, commands, replies, self.address if pool else node.name)
                return
            except bridge.connection_error as exc:
                if replies or attempt == 2 or isinstance(exc, bridge.closed_error):
                    raise
            finally:
                if pool is not None:
                    await pool.release(connection)
                else:
                    bridge.release_node_connection(node, connection)

    async def _converse(
        self, connection: Any, commands: list[tuple[Any, ...]], replies: list[Any], address: str
    ) -> None:
        """Write ``commands`` on ``connection`` (to the server at ``address``) and read their replies, all within
        the connection's socket timeout.

        The connection's own ``send_packed_command`` / ``read_response`` arm a timer per call and raise error
        replies; talking to its writer and reply parser directly costs a third less per pipelined command, and the
        parser hands error replies back as values. Any failure leaves the connection closed, never out of step.

        Raises:
            ``bridge.closed_error``: the library closed the connection meanwhile (a cluster client replacing its
                map of slots closes every node's connections, also those in use).
            The library's connection or timeout error.
        """
        bridge = self.bridge
        parser = connection._parser
        # the library's parsers are disconnected by the library only, never by the server's close
        open_before = getattr(parser, "_connected", False)
        try:
            async with asyncio.timeout(connection.socket_timeout):
                writer = connection._writer
                packed = pack_commands(connection, commands)
                if packed is None:
                    writer.writelines(connection.pack_commands(commands))
                else:
                    writer.write(packed)
                await writer.drain()
                read = parser.read_response
                for _ in commands:  # one by one: the replies read before a failure are kept
                    replies.append(await read())  # noqa: PERF401
        except BaseException as exc:
            # The library disconnected it under the commands, which then fail with its "closed by server" error;
            # unlike a connection the server had closed before, what was written may have run.
            if isinstance(exc, Exception) and open_before and not getattr(parser, "_connected", True):
                raise bridge.closed_error(f"The connection to {address} was closed under the command") from None
            await connection.disconnect(nowait=True)
            if isinstance(exc, TimeoutError):  # before OSError, of which it is a subclass
                raise bridge.timeout_error(f"Timeout talking to {address}") from None
            if isinstance(exc, OSError):
                raise bridge.connection_error(f"Error talking to {address}: {exc}") from None
            raise

    def _cluster_error(self, reply: Any) -> Any:
        """Return ``reply``, or for an exception that is not the library's, the library's connection error.

        On a single server that does not happen; a cluster client that refreshes its slot map closes the
        connections of every node, also those in use by concurrent commands, which then fail with whatever the
        closed connection raises (e.g. ``AttributeError``).
        """
        if isinstance(reply, BaseException) and not isinstance(reply, self.bridge.errors):
            return self.bridge.connection_error(f"The cluster connection closed under the command: {reply!r}")
        return reply

    def _map_failed(self, slot_map: Any) -> None:
        """Start refreshing the cluster client's map of slots in the background, after a command that ``slot_map``
        routed failed on its node (a broken or refused connection, a timeout) or found no node for its slot.

        Under load nearly every command travels in a pipeline, which the cluster client does not see fail: without
        this, commands would go to a failed primary until the load drops. The failures of one map make one
        refresh: none starts while one is under way, or once the map that routed the command was replaced (the
        connections that the cluster client closes when it replaces its map fail the commands they carried). The
        callers that failed do not wait for it; commands issued meanwhile wait for it (:meth:`execute`), then
        follow the new map.
        """
        if self._refresh is not None or self.closed or slot_map is not self.client.nodes_manager.slots_cache:
            return
        task = asyncio.get_running_loop().create_task(self._refresh_map())
        self._refresh = task
        self._tasks.add(task)  # aclose() cancels it
        task.add_done_callback(self._tasks.discard)

    async def _refresh_map(self) -> None:
        """Have the cluster client read the map of slots from the cluster's nodes again, under the lock of its
        initialisation; when no node answers, the next failed command starts another refresh."""
        try:
            async with self._client_lock():
                await self.client.nodes_manager.initialize()
        except Exception:  # the commands that failed were reported to their callers; this one has no caller
            pass
        finally:
            self._refresh = None

    async def _cluster_command(self, command: tuple[Any, ...]) -> Any:
        """Run ``command`` alone through the cluster client, which follows redirections and refreshes its map."""
        return await self.library_call(self.client.execute_command(*command))

    async def library_call(self, call: Awaitable[Any]) -> Any:
        """Await ``call``, made through the client library itself, its failures as a command's: an exception that
        is not the library's (a connection the cluster client closed under the call) becomes its connection error.
        """
        try:
            return await call
        except Exception as exc:
            error = self._cluster_error(exc)
            if error is exc:  # the library's own: `with errors` translates it
                raise
            raise error from exc

    async def run_script(self, script: Script, keys: Sequence[str], *args: int | bytes) -> Any:
        """Run ``script`` on ``keys`` (one hash slot on a cluster) with ``args`` in one round trip (two more if the
        server lacks the script)."""
        try:
            return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except self.bridge.no_script_error:
            await self.library_call(self.client.script_load(script.source))
            return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args)

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
                scanned = self.client.scan(cursor, match=pattern, count=SCAN_COUNT, **target)
                cursor, batch = await self.library_call(scanned)
                if node is not None:  # a cluster client answers with a cursor per node it asked
                    cursor = cursor[node.name]
                if batch:
                    yield batch
                if not cursor:
                    break

    async def aclose(self) -> None:
        """Close the client and its connections; later operations raise :class:`StoreError`.

        Pipelines in flight are cancelled: their callers get :class:`StoreUnavailableError`.
        """
        if self.closed:
            return
        self.closed = True
        self.ready = False
        for task in list(self._tasks):
            task.cancel()  # a pipeline cancelled in flight fails its own callers
        queued, self._queue = self._queue or [], None  # a pipeline cancelled before it started fails them here
        for _, future in queued:
            if not future.done():
                future.set_exception(StoreError(f"The {self.bridge.product} store was closed"))
        if self.is_cluster:
            await self.client.aclose()
        else:
            await self.client.aclose(close_connection_pool=True)
