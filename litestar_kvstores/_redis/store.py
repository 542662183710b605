"""The one implementation behind :class:`~litestar_kvstores.redis.RedisStore` and
:class:`~litestar_kvstores.valkey.ValkeyStore`.

Each public module describes its client library in a :class:`~.bridge.ClientBridge` and subclasses
:class:`RedisLikeStore`, so this package imports neither library.

Key layout: ``<namespace path>:<key>``, where the namespace path joins the namespace names with ``/`` (the root
namespace is ``LITESTAR``, so Litestar's ``sessions`` store keeps ``LITESTAR/sessions:<key>``). Namespace names
cannot contain ``/`` or ``:``, so the first ``:`` of a stored key ends its namespace path and keys of different
namespaces never collide, whatever the keys contain. With ``namespace=None`` keys are stored verbatim.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from litestar.exceptions import ImproperlyConfiguredException
from litestar.types import Empty, EmptyType

from ..base import TTL, KVStore
from ..validation import (
    DEFAULT_NAMESPACE,
    check_amount,
    check_counters,
    check_expected,
    check_expected_value,
    check_key,
    check_namespace,
    check_namespace_path,
    encode_value,
    first_namespace,
    remaining_whole_seconds,
    ttl_seconds,
)
from . import factory
from .bridge import ClientBridge
from .connection import Connection
from .scripts import COMPARE_AND_DELETE, COMPARE_AND_SET, COUNT_REQUEST, GET_AND_RENEW, INCR_WITH_EXPIRY, Script

if TYPE_CHECKING:
    from typing import Self

__all__ = ("RedisLikeStore",)

logger = logging.getLogger(__name__)

_GLOB_SPECIAL = str.maketrans({c: "\\" + c for c in "\\*?[]"})


def _ttl_milliseconds(ttl: object, name: str = "expires_in") -> int | None:
    """Validate a time-to-live with :func:`ttl_seconds` and return it in whole milliseconds (``None`` for ``None``).

    A positive TTL below half a millisecond becomes 1 ms, so it expires at once rather than being rejected.
    """
    seconds = ttl_seconds(ttl, name)
    return None if seconds is None else max(1, round(seconds * 1000))


def _is_refused_count(exc: Exception) -> bool:
    """Whether ``exc`` is the server refusing to count: the value is no integer, the sum overflows, or the key holds
    another type."""
    return "integer" in str(exc) or "overflow" in str(exc) or _is_wrong_type(exc)


def _is_wrong_type(exc: Exception) -> bool:
    """Whether ``exc`` is the server's answer to a string command on a key holding a list, hash, ... ."""
    return str(exc).startswith("WRONGTYPE")


def _namespace_path(namespace: str | EmptyType | None) -> str | None:
    """Validate a constructor's ``namespace``: ``Empty`` -> the default, ``None``, or names joined by ``/``."""
    if namespace is Empty:
        return DEFAULT_NAMESPACE
    if namespace is None:
        return None
    return check_namespace_path(namespace)


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
        *,
        auto_pipeline: bool = True,
    ) -> None:
        """Create a store on ``client``.

        Args:
            client: An asyncio client or cluster client of the store's library, created with
                ``decode_responses=False``.
            namespace: The namespace path: ``LITESTAR`` when not given, ``None`` to store keys verbatim (then
                :meth:`delete_all` is unavailable), or names of letters, digits, ``_-.`` joined by ``/``
                (``"app/sessions"`` is the same as ``namespace="app"`` and then ``with_namespace("sessions")``).
            handle_client_shutdown: Close ``client`` in :meth:`aclose` / ``__aexit__`` (the store owns it).
            auto_pipeline: Send the commands that callers issue concurrently, in the same event-loop turn, as one
                pipeline (see :attr:`auto_pipeline`); ``False`` sends every command alone.

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
        connection = Connection(bridge, client, auto_pipeline=bool(auto_pipeline))
        self._attach(connection, _namespace_path(namespace), bool(handle_client_shutdown))

    def _attach(self, conn: Connection, path: str | None, owns_client: bool) -> None:
        self._conn = conn
        self.namespace: str | None = path
        self._prefix = "" if path is None else path + ":"
        self.handle_client_shutdown = owns_client

    @classmethod
    def _with_client(
        cls,
        url: str,
        *,
        namespace: str | EmptyType | None,
        auto_pipeline: bool,
        explicit: Mapping[str, object],
        client_options: Mapping[str, Any],
    ) -> Self:
        """Return a store owning a new client for ``url``: the body of the subclasses' typed ``with_client``.

        ``explicit`` (``db``, ``port``, ... that are not ``None``) win over the URL; ``client_options`` are passed
        to the pool and its connections and win over the defaults. Nothing connects before the first command.

        Raises:
            ValueError: the URL is invalid, or an option is unknown to the client library (named in the message).
        """
        overrides = {name: value for name, value in explicit.items() if value is not None}
        client = factory.new_client(cls._bridge, url, client_options, overrides)
        return cls(client, namespace=namespace, handle_client_shutdown=True, auto_pipeline=auto_pipeline)

    @classmethod
    def with_cluster(
        cls, url: str, *, namespace: str | EmptyType | None = Empty, auto_pipeline: bool = True, **client_options: Any
    ) -> Self:
        """Return a store owning a new cluster client that discovers the cluster from the node at ``url``.

        Defaults, each overridable through ``client_options`` (options of the library's cluster client): up to
        1000 connections per node (a cluster client fails rather than waits when they are all in use), a 2 s
        connect timeout and a 5 s read timeout.

        Args:
            url: The URL of any node, e.g. ``redis://node1:6379``.
            namespace: As for the constructor.
            auto_pipeline: As for the constructor.
            client_options: More options for the cluster client.

        Raises:
            ValueError: the URL is invalid, or an option is unknown to the cluster client (named in the message);
                nothing connects before the first command.
        """
        client = factory.new_cluster_client(cls._bridge, url, client_options)
        return cls(client, namespace=namespace, handle_client_shutdown=True, auto_pipeline=auto_pipeline)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """Return a store owning a new client for a ``redis://``, ``rediss://``, ``redis+sentinel://`` or
        ``redis+cluster://`` URL (``valkey`` for :class:`~litestar_kvstores.valkey.ValkeyStore`).

        ``redis://[user:password@]host[:port][/db]`` names a single server (with the defaults of ``with_client``),
        ``redis+sentinel://host:port[,host:port]/SERVICE[/DB]`` the primary that the Sentinels know as ``SERVICE``,
        and ``redis+cluster://host:port[,host:port]`` a cluster found through any of those nodes (with the defaults
        of :meth:`with_cluster`). Query parameters and keyword ``options`` are client options, except
        ``namespace=NAME``: the store is then ``with_namespace(NAME)`` of the root ``LITESTAR`` (keys
        ``LITESTAR/NAME:<key>``), and it owns the client; and ``auto_pipeline=false`` (as the constructor's
        ``auto_pipeline=False``). Keyword options win over the query's.

        Raises:
            ValueError: the scheme, the URL or an option is invalid or unknown (named in the message, never a
                credential); nothing connects before the first command.
        """
        return factory.store_from_url(cls, url, options)

    @property
    def address(self) -> str:
        """Where the server is: ``host:port``, a socket path, the Sentinel service or the cluster's startup nodes."""
        return self._conn.address

    @property
    def auto_pipeline(self) -> bool:
        """Whether commands issued concurrently in one event-loop turn travel as one pipeline (one per cluster node).

        A command issued while none of the client's commands is in flight is always sent at once, alone, so a
        sequential caller pays nothing for pipelining; every caller receives its own reply or its own error.
        """
        return self._conn.auto_pipeline

    def __repr__(self) -> str:
        return f"{type(self).__name__}(namespace={self.namespace!r}, address={self.address!r})"

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
        await self._set(key, value, expires_in, only_if_missing=False)

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
        with conn.errors:
            try:
                if renew_ms is None:
                    value: bytes | None = await conn.execute("GET", name)
                else:
                    try:  # EVALSHA without run_script's frame (bench_redis, 100 concurrent renewing gets)
                        value = await conn.execute("EVALSHA", GET_AND_RENEW.sha, 1, name, renew_ms)
                    except conn.bridge.no_script_error:  # the server lost its scripts (a restart)
                        value = await conn.run_script(GET_AND_RENEW, (name,), renew_ms)
            except conn.bridge.response_error as exc:
                if not _is_wrong_type(exc):
                    raise
                logger.warning("%s entry %r is not a string value; it reads as missing and was removed", self, name)
                await conn.execute("DEL", name)
                return None
        return value

    async def delete(self, key: str) -> None:
        """Delete ``key``; a missing key is a no-op."""
        name = self._prefix + check_key(key)
        conn = self._conn
        with conn.errors:
            await conn.execute("DEL", name)

    async def exists(self, key: str) -> bool:
        """Return ``True`` if ``key`` is stored and not expired."""
        name = self._prefix + check_key(key)
        conn = self._conn
        with conn.errors:
            found: int = await conn.execute("EXISTS", name)
        return found == 1

    async def expires_in(self, key: str) -> int | None:
        """Return the whole seconds (rounded up) until ``key`` expires; ``None`` when missing or without expiry."""
        name = self._prefix + check_key(key)
        conn = self._conn
        with conn.errors:
            milliseconds: int = await conn.execute("PTTL", name)
        # PTTL answers -2 for a missing key and -1 for a key without expiry.
        return remaining_whole_seconds(milliseconds / 1000)

    async def incr(self, key: str, amount: int = 1, expires_in: TTL | None = None) -> int:
        """Atomically add ``amount`` to the counter ``key`` and return the new value, in one round trip.

        A missing counter starts at ``0``; ``expires_in`` is applied only when this call creates the counter.

        Raises:
            TypeError: ``amount`` is not an ``int``.
            ValueError: ``amount`` or the result leaves the signed 64-bit range, or the stored value is not an
                integer.
        """
        name = self._prefix + check_key(key)
        check_amount(amount)
        milliseconds = _ttl_milliseconds(expires_in)
        conn = self._conn
        with conn.errors:
            try:
                if milliseconds is None:
                    value = await conn.execute("INCRBY", name, amount)
                else:
                    value = await conn.run_script(INCR_WITH_EXPIRY, (name,), amount, milliseconds)
            except conn.bridge.response_error as exc:
                if _is_refused_count(exc):
                    message = f"The value of {key!r} is not an integer counter, or {amount} overflows it"
                    raise ValueError(message) from exc
                raise
        return int(value)

    async def incr_and_read(
        self, counters: Sequence[tuple[str, TTL | None]], reads: Sequence[str] = ()
    ) -> tuple[list[int], list[bytes | None]]:
        """Add 1 to each counter and read each key of ``reads``, atomically, in one script and one round trip.

        The rate limiter counts a request against all its limits with this. Each counter is a ``(key, expires_in)``
        pair; ``expires_in`` (``None``: never) applies only when this call creates the counter, as with
        :meth:`incr`. On a cluster all the keys must share a hash slot: give them the same ``{hash tag}``.

        Returns:
            The counters' new values in order, and the values read in order (``None`` for a missing key).

        Raises:
            TypeError: a key or an expiry of the wrong type.
            ValueError: an empty key or a non-positive expiry, a counter given twice, a counter that holds no
                integer or would overflow (nothing is written).
            StoreError: on a cluster, keys of different hash slots.
        """
        checked = check_counters(counters)
        names = [self._prefix + key for key, _ in checked]
        milliseconds = [_ttl_milliseconds(seconds) or 0 for _, seconds in checked]
        read_names = [self._prefix + check_key(key) for key in reads]
        if not names and not read_names:
            return [], []
        conn = self._conn
        with conn.errors:
            try:
                replies = await conn.run_script(COUNT_REQUEST, [*names, *read_names], len(names), *milliseconds)
            except conn.bridge.response_error as exc:
                if _is_refused_count(exc):
                    raise ValueError("A counter is not an integer counter, or adding 1 overflows it") from exc
                raise
        return [int(value) for value in replies[: len(names)]], list(replies[len(names) :])

    async def add(self, key: str, value: str | bytes, expires_in: TTL | None = None) -> bool:
        """Store ``value`` under ``key`` unless the key exists, in one atomic command (``SET NX``).

        Returns:
            Whether it wrote.

        Raises:
            TypeError, ValueError: as :meth:`set`.
            StoreUnavailableError: the server cannot be reached.
        """
        return await self._set(key, value, expires_in, only_if_missing=True)

    async def _set(self, key: str, value: str | bytes, expires_in: TTL | None, *, only_if_missing: bool) -> bool:
        """``SET`` (``NX`` when ``only_if_missing``) with a millisecond expiry; whether the server wrote."""
        name = self._prefix + check_key(key)
        data = encode_value(value)
        milliseconds = _ttl_milliseconds(expires_in)
        conn = self._conn
        command: tuple[Any, ...] = ("SET", name, data)
        if milliseconds is not None:
            command += ("PX", milliseconds)
        if only_if_missing:
            command += ("NX",)
        with conn.errors:
            written = await conn.execute(*command)  # b"OK" (True from a cluster client), or None when not written
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
        with conn.errors:
            done = await conn.run_script(script, (name,), *args)
        return bool(done)

    async def get_many(self, keys: Iterable[str]) -> dict[str, bytes | None]:
        """Return each key's value (``None`` when missing or expired) in one round trip per server."""
        wanted = list(keys)
        names = [self._prefix + check_key(key) for key in wanted]
        if not names:
            return {}
        conn = self._conn
        with conn.errors:
            client = await conn.ready_client()
            values = await conn.library_call(client.mget_nonatomic(names) if conn.is_cluster else client.mget(names))
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
        with conn.errors:
            await conn.ready_client()
            pipe = conn.pipeline()
            for name, data in entries:
                pipe.set(name, data, px=milliseconds)
            await conn.library_call(pipe.execute())

    async def delete_many(self, keys: Iterable[str]) -> None:
        """Delete every key of ``keys`` in one round trip per server; missing keys are ignored."""
        names = [self._prefix + check_key(key) for key in keys]
        if not names:
            return
        conn = self._conn
        with conn.errors:
            client = await conn.ready_client()
            await conn.library_call(client.delete(*names))  # a cluster client splits this by hash slot

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
        with conn.errors:
            client = await conn.ready_client()
            async for batch in conn.scan(pattern):
                await conn.library_call(client.unlink(*batch))  # a cluster client pipelines this by hash slot

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
        with conn.errors:
            await conn.ready_client()
            async for batch in conn.scan(pattern):
                for name in batch:
                    if name not in seen:
                        seen.add(name)
                        yield name[strip:].decode("utf-8", "surrogateescape")

    async def namespaces(self) -> AsyncIterator[str]:
        """Yield the names of the direct child namespaces holding keys (their own or their children's), each once.

        One ``SCAN MATCH <path>/*`` pass over the subtree on every primary. With ``namespace=None``, every key
        holding a ``:`` counts as a key of the namespace path before it.
        """
        if self.namespace is None:
            pattern, strip = "*:*", 0
        else:
            pattern, strip = self.namespace.translate(_GLOB_SPECIAL) + "/*", len(self.namespace) + 1
        seen: set[str] = set()
        conn = self._conn
        with conn.errors:
            await conn.ready_client()
            async for batch in conn.scan(pattern):
                for name in batch:
                    child = first_namespace(name.decode("utf-8", "surrogateescape"), strip)
                    if child is not None and child not in seen:
                        seen.add(child)
                        yield child

    async def ping(self) -> bool:
        """Return ``True`` if the server answers.

        Raises:
            StoreUnavailableError: the server cannot be reached within the client's timeout.
        """
        conn = self._conn
        with conn.errors:
            client = await conn.ready_client()
            await conn.library_call(client.ping())
        return True

    async def aclose(self) -> None:
        """Close the client if this store owns it (``handle_client_shutdown``); children never close it."""
        if self.handle_client_shutdown:
            await self._conn.aclose()
