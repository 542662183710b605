"""The one implementation behind :class:`~litestar_kvstores.redis.RedisStore` and
:class:`~litestar_kvstores.valkey.ValkeyStore`.

``redis-py`` and ``valkey-py`` share one API; they differ in their class and exception names only. Each public
module describes its client library in a :class:`ClientBridge` and subclasses :class:`RedisLikeStore`, so this
module imports neither library.

Key layout: ``<namespace path>:<key>``, where the namespace path joins the namespace names with ``/`` (the root
namespace is ``LITESTAR``, so Litestar's ``sessions`` store keeps ``LITESTAR/sessions:<key>``). Namespace names
cannot contain ``/`` or ``:``, so the first ``:`` of a stored key ends its namespace path and keys of different
namespaces never collide, whatever the keys contain. With ``namespace=None`` keys are stored verbatim.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, cast

from litestar.exceptions import ImproperlyConfiguredException
from litestar.types import Empty, EmptyType

from ._redis_pool import WaitingPoolMixin
from ._redis_scripts import COMPARE_AND_DELETE, COMPARE_AND_SET, GET_AND_RENEW, INCR_WITH_EXPIRY, Script
from .base import TTL, KVStore
from .errors import StoreError, StoreUnavailableError
from .validation import (
    check_expected,
    check_expected_value,
    check_key,
    check_namespace,
    encode_value,
    remaining_whole_seconds,
    ttl_seconds,
)

if TYPE_CHECKING:
    from typing import Self

__all__ = ("DEFAULT_NAMESPACE", "SCAN_COUNT", "ClientBridge", "RedisLikeStore")

logger = logging.getLogger(__name__)

DEFAULT_NAMESPACE = "LITESTAR"
"""The root namespace when none is given, as in Litestar."""

SCAN_COUNT = 5000
"""The ``COUNT`` hint of every ``SCAN`` call: each call blocks the server for a short, bounded time."""

_GLOB_SPECIAL = str.maketrans({c: "\\" + c for c in "\\*?[]"})


@dataclass(frozen=True)
class ClientBridge:
    """What the shared implementation needs from one client library.

    Attributes:
        product: The server's name for messages (``"Redis"``, ``"Valkey"``).
        client_class: The asyncio client (``redis.asyncio.Redis``).
        cluster_class: The asyncio cluster client (``redis.asyncio.RedisCluster``).
        pool_class: The connection pool :meth:`RedisLikeStore.with_client` uses (a ``WaitingPoolMixin`` pool), so
            that more concurrent commands than connections wait for a free connection instead of failing.
        errors: Every exception the library raises for a failed command.
        unavailable_errors: The subset meaning "the server cannot be reached" (connection, timeout, cluster down).
        response_error: An error reply of the server.
        no_script_error: The reply to ``EVALSHA`` of a script the server has not loaded.
        retry_options: Returns the retry options of the connections of clients made by ``with_client``.
    """

    product: str
    client_class: type[Any]
    cluster_class: type[Any]
    pool_class: type[Any]
    errors: tuple[type[Exception], ...]
    unavailable_errors: tuple[type[Exception], ...]
    response_error: type[Exception]
    no_script_error: type[Exception]
    retry_options: Callable[[], dict[str, Any]]

    @classmethod
    def for_library(
        cls,
        product: str,
        exceptions: ModuleType,
        *,
        client_class: type[Any],
        cluster_class: type[Any],
        connection_pool_class: type[Any],
        retry_class: type[Any],
        backoff_class: type[Any],
        pool_exhausted_error: type[Exception],
    ) -> ClientBridge:
        """Return the bridge of a redis-py-shaped library (redis-py, valkey-py).

        The libraries share their layout and differ in class names, which start with ``product``
        (``RedisError`` / ``ValkeyError``, ...). Clients made by ``with_client`` get a waiting connection pool and
        one quick retry of a broken connection (e.g. to a restarted server); a timeout is not retried, so a silent
        server is reported after one timeout. ``pool_exhausted_error`` is what the library's asyncio pool raises when
        all connections are in use.
        """
        cluster_error = getattr(exceptions, f"{product}ClusterException")
        connection_error = exceptions.ConnectionError
        pool_class = type(
            f"{product}WaitingConnectionPool",
            (WaitingPoolMixin, connection_pool_class),
            {
                "__doc__": "A connection pool that waits for a free connection when all are in use.",
                "exhausted_error": pool_exhausted_error,
                "connection_error": connection_error,
            },
        )

        def retry_options() -> dict[str, Any]:
            retry = retry_class(backoff_class(cap=0.2, base=0.02), retries=1, supported_errors=(connection_error,))
            return {"retry": retry, "retry_on_error": [connection_error]}

        return cls(
            product=product,
            client_class=client_class,
            cluster_class=cluster_class,
            pool_class=pool_class,
            errors=(getattr(exceptions, f"{product}Error"), cluster_error),
            unavailable_errors=(connection_error, exceptions.TimeoutError, exceptions.ClusterDownError, cluster_error),
            response_error=exceptions.ResponseError,
            no_script_error=exceptions.NoScriptError,
            retry_options=retry_options,
        )


def _ttl_milliseconds(ttl: object, name: str = "expires_in") -> int | None:
    """Validate a time-to-live with :func:`ttl_seconds` and return it in whole milliseconds (``None`` for ``None``).

    A positive TTL below half a millisecond becomes 1 ms, so it expires at once rather than being rejected.
    """
    seconds = ttl_seconds(ttl, name)
    return None if seconds is None else max(1, round(seconds * 1000))


def _is_wrong_type(exc: Exception) -> bool:
    """Whether ``exc`` is the server's answer to a string command on a key holding a list, hash, ... ."""
    return str(exc).startswith("WRONGTYPE")


def _describe_address(client: Any, is_cluster: bool) -> str:
    """Return where ``client`` connects to, as ``host:port`` (never credentials)."""
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


class _Connection:
    """The client and its state, shared by a root store and all its children."""

    __slots__ = ("_lock", "address", "bridge", "client", "closed", "is_cluster", "ready")

    def __init__(self, bridge: ClientBridge, client: Any) -> None:
        self.bridge = bridge
        self.client = client
        self.is_cluster = isinstance(client, bridge.cluster_class)
        self.address = _describe_address(client, self.is_cluster)
        self.closed = False
        # A cluster client that receives concurrent commands before it knows the slot map can run a redirected
        # command twice (see FACTS.md), so it is initialised once, under a lock, before the first command.
        self.ready = not self.is_cluster
        self._lock: asyncio.Lock | None = None

    async def prepare(self) -> None:
        """Make the client usable: raise if the store was closed, else initialise a cluster client once."""
        if self.closed:
            raise StoreError(f"The {self.bridge.product} store was closed")
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not self.ready:
                await self.client.initialize()
                self.ready = True

    def translate(self, exc: Exception) -> StoreError:
        """Return the store error for a client library error (naming the address, never credentials)."""
        product = self.bridge.product
        if isinstance(exc, self.bridge.unavailable_errors):
            return StoreUnavailableError(f"{product} at {self.address} is unavailable: {type(exc).__name__}: {exc}")
        return StoreError(f"{product} at {self.address} failed: {type(exc).__name__}: {exc}")

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


def _namespace_path(namespace: str | EmptyType | None) -> str | None:
    """Validate a constructor's ``namespace``: ``Empty`` -> the default, ``None``, or names joined by ``/``."""
    if namespace is Empty:
        return DEFAULT_NAMESPACE
    if namespace is None:
        return None
    if not isinstance(namespace, str):
        raise TypeError(f"namespace must be str or None, not {type(namespace).__name__}")
    for name in namespace.split("/"):
        check_namespace(name)
    return namespace


class RedisLikeStore(KVStore):
    """A store on a Redis-protocol server (single server, Sentinel-managed primary or cluster).

    Thread- and process-safe: every operation is one atomic command or server-side script. Expired keys are
    removed by the server itself.
    """

    __slots__ = ("_conn", "_prefix", "handle_client_shutdown")

    _bridge: ClassVar[ClientBridge]

    def __init__(
        self,
        client: Any,
        namespace: str | EmptyType | None = Empty,
        handle_client_shutdown: bool = False,
    ) -> None:
        """Create a store on ``client``.

        Args:
            client: An asyncio client or cluster client of the store's library, created with
                ``decode_responses=False``.
            namespace: The namespace path: ``LITESTAR`` when not given, ``None`` to store keys verbatim (then
                :meth:`delete_all` is unavailable), or names of letters, digits, ``_-.`` joined by ``/``
                (``"app/sessions"`` is the same as ``namespace="app"`` and then ``with_namespace("sessions")``).
            handle_client_shutdown: Close ``client`` in :meth:`aclose` / ``__aexit__`` (the store owns it).

        Raises:
            TypeError: ``client`` is not a client of this store's library, or ``namespace`` is not a ``str``.
            ValueError: a namespace name is empty or has other characters.
        """
        bridge = self._bridge
        if not isinstance(client, bridge.client_class | bridge.cluster_class):
            raise TypeError(
                f"{type(self).__name__} needs a {bridge.client_class.__module__}.{bridge.client_class.__name__} or "
                f"{bridge.cluster_class.__name__}, not {type(client).__name__}"
            )
        self._attach(_Connection(bridge, client), _namespace_path(namespace), bool(handle_client_shutdown))

    def _attach(self, conn: _Connection, path: str | None, owns_client: bool) -> None:
        self._conn = conn
        self.namespace: str | None = path
        self._prefix = "" if path is None else path + ":"
        self.handle_client_shutdown = owns_client

    @classmethod
    def _from_url(
        cls,
        url: str,
        *,
        namespace: str | EmptyType | None,
        explicit: Mapping[str, object],
        client_options: Mapping[str, Any],
    ) -> Self:
        """Return a store owning a new client on a waiting connection pool for ``url``.

        Connections time out after a few seconds and retry once, so an unreachable server raises
        :class:`StoreUnavailableError` quickly. ``explicit`` (``db``, ``port``, ... that are not ``None``) win over
        the URL; ``client_options`` are passed to the pool and its connections and win over the defaults. Nothing
        connects before the first command.

        Raises:
            ValueError: the URL is invalid, or an option is unknown to the client library.
        """
        bridge = cls._bridge
        options: dict[str, Any] = {
            "max_connections": 100,
            "timeout": 5.0,  # how long a command waits for a free connection of the pool
            "socket_connect_timeout": 2.0,
            "socket_timeout": 5.0,
            **bridge.retry_options(),
            **client_options,
            "decode_responses": False,
        }
        pool = bridge.pool_class.from_url(url, **options)
        # The URL's own parts win inside from_url; explicit arguments are meant to override them.
        pool.connection_kwargs.update({name: value for name, value in explicit.items() if value is not None})
        try:
            pool.make_connection()  # builds, does not open, a connection: an unknown option fails now, not later
        except TypeError as exc:
            raise ValueError(f"Unknown {bridge.product} client option: {exc}") from None
        return cls(bridge.client_class(connection_pool=pool), namespace=namespace, handle_client_shutdown=True)

    @classmethod
    def with_cluster(cls, url: str, *, namespace: str | EmptyType | None = Empty, **client_options: Any) -> Self:
        """Return a store owning a new cluster client that discovers the cluster from the node at ``url``.

        Defaults, each overridable through ``client_options`` (options of the library's cluster client): up to
        1000 connections per node (a cluster client fails rather than waits when they are all in use), a 2 s
        connect timeout and a 5 s read timeout.

        Args:
            url: The URL of any node, e.g. ``redis://node1:6379``.
            namespace: As for the constructor.
            client_options: More options for the cluster client.

        Raises:
            ValueError: the URL is invalid, or an option is unknown to the cluster client; nothing connects before
                the first command.
        """
        options: dict[str, Any] = {
            "max_connections": 1000,
            "socket_connect_timeout": 2.0,
            "socket_timeout": 5.0,
            **client_options,
            "decode_responses": False,
        }
        try:
            client = cls._bridge.cluster_class.from_url(url, **options)
        except TypeError as exc:
            raise ValueError(f"Unknown {cls._bridge.product} cluster client option: {exc}") from None
        return cls(client, namespace=namespace, handle_client_shutdown=True)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """``redis://``, ``rediss://``, ``+sentinel://``, ``+cluster://`` (see :meth:`KVStore.from_url`)."""
        from . import urls

        library = urls._REDIS if cls._bridge.product == "Redis" else urls._VALKEY
        return cast("Self", urls._redis_like_factory(library)(url, **options))

    @property
    def address(self) -> str:
        """``host:port`` of the server, the Sentinel service, or the cluster's startup nodes; never credentials."""
        return self._conn.address

    def __repr__(self) -> str:
        return f"{type(self).__name__}(namespace={self.namespace!r}, address={self._conn.address!r})"

    def with_namespace(self, namespace: str) -> Self:
        """Return a store for the child namespace ``namespace``, sharing this store's client.

        The child never closes the client; the store that owns it does.

        Raises:
            TypeError: ``namespace`` is not a ``str``.
            ValueError: ``namespace`` is empty or contains characters other than letters, digits, ``_-.``.
        """
        name = check_namespace(namespace)
        child = type(self).__new__(type(self))
        child._attach(self._conn, name if self.namespace is None else f"{self.namespace}/{name}", False)
        return child

    async def set(self, key: str, value: str | bytes, expires_in: TTL | None = None) -> None:
        """Store ``value`` under ``key``; a float or ``timedelta`` expiry keeps millisecond precision.

        Raises:
            TypeError: ``key``, ``value`` or ``expires_in`` has a wrong type.
            ValueError: ``key`` is empty or ``expires_in`` is not positive.
            StoreUnavailableError: the server cannot be reached.
            StoreError: the server rejected the write.
        """
        name = self._prefix + check_key(key)
        data = encode_value(value)
        milliseconds = _ttl_milliseconds(expires_in)
        conn = self._conn
        try:
            if not conn.ready:
                await conn.prepare()
            await conn.client.set(name, data, px=milliseconds)
        except conn.bridge.errors as exc:
            raise conn.translate(exc) from exc

    async def get(self, key: str, renew_for: TTL | None = None) -> bytes | None:
        """Return the value of ``key``, or ``None`` when it is missing or expired.

        With ``renew_for``, a key that has an expiry gets a new one of ``renew_for`` from now, in the same
        round trip and atomically (a server-side script); a key without expiry keeps having none. A key holding
        another type than a string (a list, a hash, ...) is corrupt: it reads as missing, is logged at WARNING
        and removed.

        Raises:
            StoreUnavailableError: the server cannot be reached.
            StoreError: the server answered with an error.
        """
        name = self._prefix + check_key(key)
        renew_ms = None if renew_for is None else _ttl_milliseconds(renew_for, "renew_for")
        conn = self._conn
        try:
            if not conn.ready:
                await conn.prepare()
            value: bytes | None
            if renew_ms is None:
                value = await conn.client.get(name)
            else:
                value = await conn.run_script(GET_AND_RENEW, name, renew_ms)
        except conn.bridge.errors as exc:
            if not _is_wrong_type(exc):
                raise conn.translate(exc) from exc
            await self._remove_corrupt(name)
            return None
        return value

    async def _remove_corrupt(self, name: str) -> None:
        """Log and delete ``name``, which holds another type than a string (written by other software)."""
        logger.warning("%s entry %r is not a string value; it reads as missing and was removed", self, name)
        conn = self._conn
        try:
            await conn.client.delete(name)
        except conn.bridge.errors as exc:
            raise conn.translate(exc) from exc

    async def delete(self, key: str) -> None:
        """Delete ``key``; a missing key is a no-op."""
        name = self._prefix + check_key(key)
        conn = self._conn
        try:
            if not conn.ready:
                await conn.prepare()
            await conn.client.delete(name)
        except conn.bridge.errors as exc:
            raise conn.translate(exc) from exc

    async def exists(self, key: str) -> bool:
        """Return ``True`` if ``key`` is stored and not expired."""
        name = self._prefix + check_key(key)
        conn = self._conn
        try:
            if not conn.ready:
                await conn.prepare()
            found: int = await conn.client.exists(name)
        except conn.bridge.errors as exc:
            raise conn.translate(exc) from exc
        return found == 1

    async def expires_in(self, key: str) -> int | None:
        """Return the whole seconds (rounded up) until ``key`` expires; ``None`` when missing or without expiry."""
        name = self._prefix + check_key(key)
        conn = self._conn
        try:
            if not conn.ready:
                await conn.prepare()
            milliseconds: int = await conn.client.pttl(name)
        except conn.bridge.errors as exc:
            raise conn.translate(exc) from exc
        # PTTL answers -2 for a missing key and -1 for a key without expiry.
        return remaining_whole_seconds(milliseconds / 1000)

    async def incr(self, key: str, amount: int = 1, expires_in: TTL | None = None) -> int:
        """Atomically add ``amount`` to the counter ``key`` and return the new value, in one round trip.

        A missing counter starts at ``0``; ``expires_in`` is applied only when this call creates the counter.

        Raises:
            TypeError: ``amount`` is not an ``int``.
            ValueError: the stored value is not an integer, or the result leaves the signed 64-bit range.
        """
        name = self._prefix + check_key(key)
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise TypeError(f"amount must be int, not {type(amount).__name__}")
        milliseconds = _ttl_milliseconds(expires_in)
        conn = self._conn
        try:
            if not conn.ready:
                await conn.prepare()
            if milliseconds is None:
                value = await conn.client.incrby(name, amount)
            else:
                value = await conn.run_script(INCR_WITH_EXPIRY, name, amount, milliseconds)
        except conn.bridge.response_error as exc:
            if "integer" in str(exc) or "overflow" in str(exc) or _is_wrong_type(exc):
                raise ValueError(f"The value of {key!r} is not an integer counter, or {amount} overflows it") from exc
            raise conn.translate(exc) from exc
        except conn.bridge.errors as exc:
            raise conn.translate(exc) from exc
        return int(value)

    async def add(self, key: str, value: str | bytes, expires_in: TTL | None = None) -> bool:
        """Store ``value`` under ``key`` unless the key exists, in one atomic command (``SET NX``).

        Returns:
            Whether it wrote.

        Raises:
            TypeError, ValueError: as :meth:`set`.
            StoreUnavailableError: the server cannot be reached.
        """
        name = self._prefix + check_key(key)
        data = encode_value(value)
        milliseconds = _ttl_milliseconds(expires_in)
        conn = self._conn
        try:
            if not conn.ready:
                await conn.prepare()
            written = await conn.client.set(name, data, px=milliseconds, nx=True)
        except conn.bridge.errors as exc:
            raise conn.translate(exc) from exc
        return bool(written)

    async def compare_and_set(
        self, key: str, expected: str | bytes | None, value: str | bytes, expires_in: TTL | None = None
    ) -> bool:
        """Replace the value of ``key`` if it equals ``expected`` (``None``: missing), in one server-side script.

        Raises:
            TypeError: ``expected`` is not ``bytes``/``str``/``None``, or as :meth:`set`.
            ValueError: as :meth:`set`.
            StoreUnavailableError: the server cannot be reached.
        """
        name = self._prefix + check_key(key)
        wanted = check_expected(expected)
        data = encode_value(value)
        milliseconds = _ttl_milliseconds(expires_in) or 0
        args = (0, b"", data, milliseconds) if wanted is None else (1, wanted, data, milliseconds)
        return await self._run_primitive(COMPARE_AND_SET, name, *args)

    async def compare_and_delete(self, key: str, expected: str | bytes) -> bool:
        """Delete ``key`` if its value equals ``expected``, in one server-side script.

        Raises:
            TypeError: ``expected`` is not ``bytes``/``str``, or ``key`` is not a ``str``.
            ValueError: ``key`` is empty.
            StoreUnavailableError: the server cannot be reached.
        """
        name = self._prefix + check_key(key)
        return await self._run_primitive(COMPARE_AND_DELETE, name, check_expected_value(expected))

    async def _run_primitive(self, script: Script, name: str, *args: int | bytes) -> bool:
        conn = self._conn
        try:
            if not conn.ready:
                await conn.prepare()
            done = await conn.run_script(script, name, *args)
        except conn.bridge.errors as exc:
            raise conn.translate(exc) from exc
        return bool(done)

    async def get_many(self, keys: Iterable[str]) -> dict[str, bytes | None]:
        """Return each key's value (``None`` when missing or expired) in one round trip per server."""
        wanted = list(keys)
        names = [self._prefix + check_key(key) for key in wanted]
        if not names:
            return {}
        conn = self._conn
        try:
            if not conn.ready:
                await conn.prepare()
            if conn.is_cluster:
                values = await conn.client.mget_nonatomic(names)
            else:
                values = await conn.client.mget(names)
        except conn.bridge.errors as exc:
            raise conn.translate(exc) from exc
        return dict(zip(wanted, values, strict=True))

    async def set_many(self, mapping: Mapping[str, str | bytes], expires_in: TTL | None = None) -> None:
        """Store every ``key -> value`` of ``mapping`` with the same expiry, pipelined (one round trip per server).

        Each key is written atomically; the batch as a whole is not a transaction.
        """
        entries = [(self._prefix + check_key(key), encode_value(value)) for key, value in mapping.items()]
        milliseconds = _ttl_milliseconds(expires_in)
        if not entries:
            return
        conn = self._conn
        try:
            if not conn.ready:
                await conn.prepare()
            pipe = conn.pipeline()
            for name, data in entries:
                pipe.set(name, data, px=milliseconds)
            await pipe.execute()
        except conn.bridge.errors as exc:
            raise conn.translate(exc) from exc

    async def delete_many(self, keys: Iterable[str]) -> None:
        """Delete every key of ``keys`` in one round trip per server; missing keys are ignored."""
        names = [self._prefix + check_key(key) for key in keys]
        if not names:
            return
        conn = self._conn
        try:
            if not conn.ready:
                await conn.prepare()
            await conn.client.delete(*names)  # a cluster client splits this by hash slot
        except conn.bridge.errors as exc:
            raise conn.translate(exc) from exc

    async def delete_all(self) -> None:
        """Delete every key of this namespace and of its child namespaces, and nothing else.

        Runs as client-driven ``SCAN MATCH <path>[:/]* COUNT 5000`` batches, each deleted with ``UNLINK``, on every
        primary of a cluster: the server is never blocked for the whole run. Keys written while it runs may
        survive.

        Raises:
            ImproperlyConfiguredException: the store has no namespace (``namespace=None``), so it cannot tell its
                keys from anybody else's (as in Litestar).
        """
        if self.namespace is None:
            raise ImproperlyConfiguredException("Cannot perform delete operation: No namespace configured")
        pattern = self.namespace.translate(_GLOB_SPECIAL) + "[:/]*"
        conn = self._conn
        try:
            if not conn.ready:
                await conn.prepare()
            async for batch in conn.scan(pattern):
                await conn.client.unlink(*batch)  # a cluster client pipelines this by hash slot
        except conn.bridge.errors as exc:
            raise conn.translate(exc) from exc

    async def delete_expired(self) -> int:
        """Return ``0``: the server removes expired keys itself."""
        return 0

    async def keys(self) -> AsyncIterator[str]:
        """Yield the keys of this namespace (not of its children), each once, via ``SCAN`` on every primary.

        With ``namespace=None`` every key of the database is yielded. Keys written or deleted while iterating may
        or may not be yielded.
        """
        pattern = None if self.namespace is None else self.namespace.translate(_GLOB_SPECIAL) + ":*"
        strip = len(self._prefix)
        seen: set[bytes] = set()  # SCAN may return a key twice while the server resizes its table
        conn = self._conn
        try:
            if not conn.ready:
                await conn.prepare()
            async for batch in conn.scan(pattern):
                for name in batch:
                    if name not in seen:
                        seen.add(name)
                        yield name[strip:].decode("utf-8", "surrogateescape")
        except conn.bridge.errors as exc:
            raise conn.translate(exc) from exc

    async def ping(self) -> bool:
        """Return ``True`` if the server answers.

        Raises:
            StoreUnavailableError: the server cannot be reached within the client's timeout.
        """
        conn = self._conn
        try:
            if not conn.ready:
                await conn.prepare()
            await conn.client.ping()
        except conn.bridge.errors as exc:
            raise conn.translate(exc) from exc
        return True

    async def aclose(self) -> None:
        """Close the client if this store owns it (``handle_client_shutdown``); children never close it."""
        if self.handle_client_shutdown:
            await self._conn.aclose()
