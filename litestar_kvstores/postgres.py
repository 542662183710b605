"""A PostgreSQL store over :mod:`asyncpg`, for applications that already run PostgreSQL and no Redis.

Layout: one table per store root (``kvstores`` unless ``table=`` says otherwise), one row per entry, as described in
:mod:`litestar_kvstores._sql`::

    CREATE TABLE kvstores (namespace text COLLATE "C", key bytea, value bytea, expires_at timestamptz,
                           PRIMARY KEY (namespace, key))
    CREATE INDEX kvstores_expires_at ON kvstores (expires_at) WHERE expires_at IS NOT NULL

The key is the UTF-8 encoding of the ``str`` key (``bytea``, since ``text`` cannot hold ``NUL``); the namespace
column uses the byte-wise ``"C"`` collation, so a namespace with its children is two ranges of the primary key.

- **One statement per operation**, each its own transaction: ``incr`` and the atomic primitives are one
  ``INSERT ... ON CONFLICT ... RETURNING`` or ``UPDATE``/``DELETE ... RETURNING``; ``get(renew_for=...)`` reads and
  renews in one ``UPDATE ... RETURNING``. Expiry is the server's clock (``now()``), so application servers with
  skewed clocks agree.
- **Table on first use.** The first operation creates the table and its index if they are missing (under an advisory
  lock, so processes starting together don't collide); :meth:`PostgresStore.setup` does it up front.
- **Bounded waits.** :meth:`PostgresStore.with_client` makes an ``asyncpg`` pool with a connect timeout and a command
  timeout (5 s and 10 s by default; the server enforces the latter as ``statement_timeout``, so a write that timed
  out has not happened); an unreachable server raises :class:`~litestar_kvstores.StoreUnavailableError` naming
  ``host:port``, never the password. The pool skips asyncpg's per-release session reset (a round trip per
  operation): the store runs single statements that leave no session state behind.
- **Expired rows** read as missing; ``delete_expired`` removes them through the expiry index in batches of
  :data:`DELETE_BATCH` rows (each its own short transaction, skipping rows other transactions hold), so it never
  holds many locks for long.

Driver: asyncpg. Measured here against psycopg 3 on the same statements, one connection each, a single ``get`` and
``set`` were as fast or faster with asyncpg, and asyncpg brings its own pool (psycopg needs ``psycopg_pool``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import parse_qsl, unquote

import asyncpg

from ._sql import DEFAULT_TABLE, Scope, SQLStore, check_table, counter_bounds, namespaced, not_a_counter, seconds_option
from ._translate import ErrorTranslator
from .base import TTL
from .errors import StoreError, StoreUnavailableError
from .urls import split_url
from .validation import DEFAULT_NAMESPACE, check_key, encode_value, remaining_whole_seconds, ttl_seconds

if TYPE_CHECKING:
    from typing import Self

__all__ = ("PostgresStore",)

DEFAULT_URL: Final = "postgresql://localhost/postgres"
DEFAULT_CONNECT_TIMEOUT: Final = 5.0
DEFAULT_COMMAND_TIMEOUT: Final = 10.0
DEFAULT_MAX_CONNECTIONS: Final = 10

DELETE_BATCH: Final = 1000
"""Rows ``delete_expired`` removes per statement."""

_PAGE: Final = 1000
"""Keys ``keys()`` fetches per query."""

_CLIENT_TIMEOUT_MARGIN: Final = 2.0
"""Seconds the client waits beyond ``command_timeout`` (the server's ``statement_timeout``) before giving up."""

_OWN_OPTIONS: Final = ("table", "namespace", "connect_timeout", "command_timeout", "max_connections")

_DSN_OPTIONS: Final = frozenset(
    {
        "host",
        "port",
        "user",
        "password",
        "passfile",
        "dbname",
        "database",
        "service",
        "servicefile",
        "sslmode",
        "sslcert",
        "sslkey",
        "sslrootcert",
        "sslcrl",
        "sslpassword",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "target_session_attrs",
        "krbsrvname",
        "gsslib",
        "application_name",
    }
)
"""The query options of a ``postgresql://`` URL that asyncpg understands (it would send any other one to the server
as a setting, where a typo fails only at connect time)."""

_BROKEN: Final = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
)
"""Errors after which a connection is not reused: it is terminated, and the pool opens a new one when needed."""

_UNAVAILABLE: Final = (
    OSError,
    TimeoutError,
    asyncpg.exceptions.InternalClientError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError,
)


class _PostgresErrors(ErrorTranslator):
    """asyncpg's errors (and the ``OSError``/``TimeoutError`` of connecting) as store errors naming the address.

    The message never contains the password, even where a server's or the driver's message would quote it.
    """

    __slots__ = ("address", "secret")

    def __init__(self, address: str, secret: str | None) -> None:
        library_errors = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError)
        super().__init__((*library_errors, OSError, TimeoutError))
        self.address = address
        self.secret = secret

    def translate(self, exc: BaseException) -> Exception:
        detail = f"{type(exc).__name__}: {exc}".rstrip(": ")
        if self.secret:
            detail = detail.replace(self.secret, "***")
        if isinstance(exc, _UNAVAILABLE):
            return StoreUnavailableError(f"PostgreSQL at {self.address} is unavailable: {detail}")
        if isinstance(exc, asyncpg.exceptions.ProgramLimitExceededError):  # e.g. a key too long for the index
            return ValueError(f"Too large for PostgreSQL at {self.address}: {detail}")
        return StoreError(f"PostgreSQL at {self.address} failed: {detail}")


class _Statements:
    """The SQL of every operation on one table. ``$1`` is the namespace path, ``$2`` the key unless noted."""

    def __init__(self, table: str) -> None:
        t = f'"{table}"'
        live = "(expires_at IS NULL OR expires_at > now())"
        self.expiry_index = f"{table}_expires_at"
        self.schema = (
            f"BEGIN; SELECT pg_advisory_xact_lock(hashtext('litestar_kvstores:{table}'));\n"
            f'CREATE TABLE IF NOT EXISTS {t} (namespace text COLLATE "C" NOT NULL, key bytea NOT NULL, '
            "value bytea NOT NULL, expires_at timestamptz, PRIMARY KEY (namespace, key));\n"
            f'CREATE INDEX IF NOT EXISTS "{self.expiry_index}" ON {t} (expires_at) WHERE expires_at IS NOT NULL;\n'
            "COMMIT;"
        )

        def expiry(n: int) -> str:
            return f"now() + ${n}::float8 * interval '1 second'"

        self.get = f"SELECT value FROM {t} WHERE namespace = $1 AND key = $2 AND {live}"
        self.get_and_renew = (
            f"UPDATE {t} SET expires_at = CASE WHEN expires_at IS NULL THEN NULL ELSE {expiry(3)} END "
            f"WHERE namespace = $1 AND key = $2 AND {live} RETURNING value"
        )
        upsert = (
            f"INSERT INTO {t} AS e (namespace, key, value, expires_at) VALUES ($1, $2, $3, {expiry(4)}) "
            "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at"
        )
        self.set = upsert
        self.add = f"{upsert} WHERE e.expires_at <= now() RETURNING true"
        self.compare_and_set = (
            f"UPDATE {t} SET value = $3, expires_at = {expiry(4)} "
            f"WHERE namespace = $1 AND key = $2 AND value = $5 AND {live} RETURNING true"
        )
        self.delete = f"DELETE FROM {t} WHERE namespace = $1 AND key = $2"
        self.compare_and_delete = f"{self.delete} AND value = $3 AND {live} RETURNING true"
        self.exists = f"SELECT true FROM {t} WHERE namespace = $1 AND key = $2 AND {live}"
        self.remaining = (
            f"SELECT extract(epoch FROM expires_at - now())::float8 FROM {t} "
            "WHERE namespace = $1 AND key = $2 AND expires_at > now()"
        )
        # $1 the path, $2 and $3 the range of its children's paths
        subtree = "(namespace = $1 OR (namespace >= $2 AND namespace < $3))"
        self.delete_all = f"DELETE FROM {t} WHERE {subtree}"
        self.delete_expired = (
            f"WITH due AS (SELECT namespace, key FROM {t} WHERE expires_at <= now() AND {subtree} "
            f"LIMIT $4 FOR UPDATE SKIP LOCKED) "
            f"DELETE FROM {t} AS e USING due WHERE e.namespace = due.namespace AND e.key = due.key"
        )
        # $3 the first value, $4 its expiry, $5 the amount, $6 and $7 the range the counter must be in
        counter = "encode(e.value, 'escape')"
        self.incr = (
            f"INSERT INTO {t} AS e (namespace, key, value, expires_at) VALUES ($1, $2, $3, {expiry(4)}) "
            "ON CONFLICT (namespace, key) DO UPDATE SET "
            "value = CASE WHEN e.expires_at <= now() THEN excluded.value "
            f"ELSE convert_to(({counter}::numeric + $5::int8)::text, 'UTF8') END, "
            "expires_at = CASE WHEN e.expires_at <= now() THEN excluded.expires_at ELSE e.expires_at END "
            f"WHERE e.expires_at <= now() OR CASE WHEN {counter} ~ '^(0|-?[1-9][0-9]{{0,18}})$' "
            f"THEN {counter}::numeric BETWEEN $6::int8 AND $7::int8 ELSE false END "
            "RETURNING value"
        )
        self.current = f"SELECT value FROM {t} WHERE namespace = $1 AND key = $2"
        self.keys = f"SELECT key FROM {t} WHERE namespace = $1 AND key > $2 AND {live} ORDER BY key LIMIT {_PAGE}"
        self.count = f"SELECT count(*) FROM {t} WHERE namespace = $1 AND {live}"
        self.next_namespace = (
            f"SELECT namespace FROM {t} WHERE namespace > $1 AND namespace < $2 AND {live} ORDER BY namespace LIMIT 1"
        )
        self.get_many = f"SELECT key, value FROM {t} WHERE namespace = $1 AND key = ANY($2::bytea[]) AND {live}"
        self.set_many = (
            f"INSERT INTO {t} (namespace, key, value, expires_at) "
            f"SELECT $1, k, v, {expiry(4)} FROM unnest($2::bytea[], $3::bytea[]) AS u(k, v) "
            "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at"
        )
        self.delete_many = f"DELETE FROM {t} WHERE namespace = $1 AND key = ANY($2::bytea[])"


async def _keep_session(connection: asyncpg.Connection) -> None:
    """The pool's reset: nothing (see the module documentation)."""


class _Connection:
    """The pool, the table's statements and state, shared by a store root and its namespaces."""

    def __init__(
        self,
        pool: asyncpg.Pool | None,
        *,
        table: str,
        address: str,
        secret: str | None = None,
        pool_options: dict[str, Any] | None = None,
    ) -> None:
        self.pool = pool
        self.owns_pool = pool is None
        self.pool_options = pool_options or {}
        self.address = address
        self.table = table
        self.sql = _Statements(table)
        self.errors = _PostgresErrors(address, secret)
        self.table_ready = False
        self._lock: asyncio.Lock | None = None

    async def ready_pool(self) -> asyncpg.Pool:
        """Return the pool, made (owned pool) and with the table created on the first call.

        Raises:
            StoreUnavailableError: the server cannot be reached.
            StoreError: the table cannot be created (e.g. no ``CREATE`` privilege).
        """
        if self.pool is not None and self.table_ready:
            return self.pool
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.pool is None:
                with self.errors:
                    self.pool = await asyncpg.create_pool(**self.pool_options)
            if not self.table_ready:
                await self._call(self.pool, "execute", self.sql.schema)
                self.table_ready = True
        return self.pool

    async def run(self, method: str, statement: str, *args: Any) -> Any:
        """Return ``connection.<method>(statement, *args)`` (``fetchval``, ``fetch``, ``execute``) on a pooled
        connection, the pool made and the table created first if needed.

        Raises:
            StoreUnavailableError, StoreError: the translated driver error; a broken connection is terminated first.
        """
        return await self._call(await self.ready_pool(), method, statement, *args)

    async def _call(self, pool: asyncpg.Pool, method: str, statement: str, *args: Any) -> Any:
        with self.errors:
            async with pool.acquire() as connection:
                try:
                    return await getattr(connection, method)(statement, *args)
                except _BROKEN:
                    with contextlib.suppress(asyncpg.InterfaceError):  # asyncpg may have released it already
                        connection.terminate()
                    raise

    async def close(self) -> None:
        """Close an owned pool (a later operation makes a new one); a given pool is left to its owner."""
        if self.owns_pool and self.pool is not None:
            pool, self.pool = self.pool, None
            self.table_ready = False
            await pool.close()


def _address(url: str) -> str:
    """``host:port`` of every host of ``url`` (or of its ``host``/``port`` query options), never credentials."""
    from .urls import split_url, url_hosts

    parts = split_url(url)
    if parts.netloc.rpartition("@")[2]:
        return ",".join(f"{host}:{port}" for host, port in url_hosts(url, 5432))
    query = dict(parse_qsl(parts.query))
    return f"{query.get('host', 'localhost')}:{query.get('port', 5432)}"


class PostgresStore(SQLStore):
    """PostgreSQL based, namespaced, thread and process safe asynchronous key/value store.

    For applications that already run PostgreSQL (see ``docs/postgres.md``). Namespaces share the root's pool and
    table; keys of different namespaces never collide.
    """

    __slots__ = ("_conn",)

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        table: str = DEFAULT_TABLE,
        namespace: str = DEFAULT_NAMESPACE,
    ) -> None:
        """Create a store on an application's own (initialised) ``asyncpg`` pool; the caller keeps owning it.

        Args:
            pool: An ``asyncpg.Pool``, as ``await asyncpg.create_pool(...)`` returns it.
            table: The table of this store root, created on first use; other tables are never touched.
            namespace: The root namespace: one name, or a path of names joined with ``/`` (``"app/sessions"``).

        Raises:
            TypeError: ``pool`` is not an ``asyncpg.Pool``, or ``table`` / ``namespace`` is not a ``str``.
            ValueError: ``table`` is not a plain identifier or a namespace name is invalid.
        """
        if not isinstance(pool, asyncpg.Pool):
            raise TypeError(f"PostgresStore needs an asyncpg.Pool, not {type(pool).__name__}")
        scope = Scope.root(namespace)
        self._conn = _Connection(pool, table=check_table(table), address="PostgreSQL (application pool)")
        self._enter_scope(scope, is_root=True)

    @classmethod
    def with_client(
        cls,
        url: str = DEFAULT_URL,
        *,
        table: str = DEFAULT_TABLE,
        namespace: str = DEFAULT_NAMESPACE,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        **connect_options: Any,
    ) -> Self:
        """Create a store with its own connection pool for ``url``; :meth:`aclose` (or ``async with``) closes it.

        Nothing connects here: the pool opens connections as operations need them, at most ``max_connections``.

        Args:
            url: A ``postgresql://`` (or ``postgres://``) URL, e.g. ``postgresql://user:password@host:5432/db``.
            table: The table of this store root.
            namespace: The root namespace, as for :class:`PostgresStore`.
            connect_timeout: Seconds to wait for a new connection (an unreachable server raises after this long).
            command_timeout: Seconds a statement may run before the server cancels it (``statement_timeout``; a
                statement that timed out has not changed anything). The client gives up 2 s later if the server
                does not answer at all.
            max_connections: The size of the pool.
            **connect_options: Further keyword arguments for ``asyncpg.connect`` (``ssl``, ``server_settings``, ...).

        Raises:
            TypeError, ValueError: invalid ``table``, ``namespace``, timeouts or ``max_connections``.
            ValueError: the URL is not a ``postgresql://`` URL or has an unknown query option, or a connect option
                is unknown (each named; the message never contains the password).
        """
        from .urls import parameter_names, positive_int, redact_url, reject_unknown

        parts = split_url(url)
        if parts.scheme.lower() not in ("postgresql", "postgres"):
            raise ValueError(f"Not a postgresql:// URL: {redact_url(url)!r}")
        scheme = parts.scheme.lower()
        reject_unknown(scheme, [name for name, _ in parse_qsl(parts.query)], _DSN_OPTIONS)
        accepted = parameter_names(asyncpg.connect) - {"dsn", "timeout", "command_timeout", "loop"}
        reject_unknown(scheme, connect_options, accepted)
        scope = Scope.root(namespace)
        max_size = positive_int("max_connections", max_connections)
        statement_seconds = seconds_option("command_timeout", command_timeout)
        settings = {"statement_timeout": str(max(1, round(statement_seconds * 1000)))}
        pool_options = {
            "dsn": url,
            "min_size": 0,
            "max_size": max_size,
            "timeout": seconds_option("connect_timeout", connect_timeout),
            **connect_options,
            # The server cancels a statement at the deadline, so a write that timed out has not happened; the
            # client stops waiting a little later, for a server that stopped answering altogether.
            "command_timeout": statement_seconds + _CLIENT_TIMEOUT_MARGIN,
            "server_settings": {**settings, **connect_options.get("server_settings", {})},
            "reset": _keep_session,
        }
        secret = unquote(parts.password or "") or connect_options.get("password")
        connection = _Connection(
            None, table=check_table(table), address=_address(url), secret=secret, pool_options=pool_options
        )
        store = cls.__new__(cls)
        store._conn = connection
        store._enter_scope(scope, is_root=True)
        return store

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """``postgresql://user:password@host:5432/db?table=T&namespace=NAME`` (see :meth:`KVStore.from_url`).

        Our options (query or keyword): ``table``, ``connect_timeout``, ``command_timeout``, ``max_connections``
        and ``namespace`` (``with_namespace(NAME)`` of the default root ``LITESTAR``); asyncpg's URL options
        (``sslmode``, ``application_name``, ...) stay in the URL. Keyword options may also be ``asyncpg.connect``'s.

        Raises:
            ValueError: as :meth:`with_client`, or an empty ``namespace``.
        """
        from .urls import split_options

        stripped, own, connect_options = split_options(url, options, _OWN_OPTIONS)
        namespace = own.pop("namespace", None)
        return cast("Self", namespaced(cls.with_client(stripped, **own, **connect_options), namespace))

    @property
    def address(self) -> str:
        """``host:port`` of the server (never credentials)."""
        return self._conn.address

    @property
    def table(self) -> str:
        """The table holding this store's rows (shared with its namespaces)."""
        return self._conn.table

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(address={self._conn.address!r}, table={self._conn.table!r}, "
            f"namespace={self.namespace!r})"
        )

    async def setup(self) -> None:
        """Create the table and its index now if they are missing (otherwise the first operation does).

        Raises:
            StoreUnavailableError: the server cannot be reached.
            StoreError: the table cannot be created.
        """
        await self._conn.ready_pool()

    async def aclose(self) -> None:
        """Close the pool if this store made it (:meth:`with_client`); namespaces and given pools are left open."""
        if self._is_root:
            await self._conn.close()

    async def _fetchval(self, statement: str, *args: Any) -> Any:
        return await self._conn.run("fetchval", statement, self._scope.path, *args)

    async def _execute(self, statement: str, *args: Any) -> str:
        status: str = await self._conn.run("execute", statement, self._scope.path, *args)
        return status

    # --- operations ---------------------------------------------------------------------------------------------

    async def set(self, key: str, value: str | bytes, expires_in: TTL | None = None) -> None:
        """Store ``value`` under ``key`` (one ``INSERT ... ON CONFLICT``), replacing any previous value.

        Raises:
            TypeError, ValueError: invalid ``key``, ``value`` or ``expires_in``.
            StoreUnavailableError: the server cannot be reached, or the statement timed out.
            StoreError: another server error; the previous value is left intact.
        """
        await self._execute(self._conn.sql.set, check_key(key).encode(), encode_value(value), ttl_seconds(expires_in))

    async def get(self, key: str, renew_for: TTL | None = None) -> bytes | None:
        """Return the value of ``key``, or ``None`` if it is missing or expired.

        With ``renew_for``, an entry with an expiry gets a new one ``renew_for`` from now in the same
        ``UPDATE ... RETURNING`` that reads it; an entry without expiry keeps none.

        Raises:
            TypeError, ValueError: invalid ``key`` or ``renew_for``.
            StoreUnavailableError, StoreError: as :meth:`set`.
        """
        name = check_key(key).encode()
        renew_seconds = ttl_seconds(renew_for, "renew_for")
        if renew_seconds is None:
            value: bytes | None = await self._fetchval(self._conn.sql.get, name)
        else:
            value = await self._fetchval(self._conn.sql.get_and_renew, name, renew_seconds)
        return value

    async def delete(self, key: str) -> None:
        """Delete ``key``; a missing key is a no-op."""
        await self._execute(self._conn.sql.delete, check_key(key).encode())

    async def delete_all(self) -> None:
        """Delete every entry of this namespace and of its child namespaces: one ``DELETE`` on two key ranges."""
        await self._execute(self._conn.sql.delete_all, self._scope.children_from, self._scope.children_to)

    async def exists(self, key: str) -> bool:
        """Return ``True`` if ``key`` is stored and not expired."""
        return bool(await self._fetchval(self._conn.sql.exists, check_key(key).encode()))

    async def expires_in(self, key: str) -> int | None:
        """Return the whole seconds (rounded up) until ``key`` expires; ``None`` if missing, expired or no expiry."""
        remaining = await self._fetchval(self._conn.sql.remaining, check_key(key).encode())
        return None if remaining is None else remaining_whole_seconds(remaining)

    async def delete_expired(self) -> int:
        """Delete the expired entries of this namespace and its children, through the expiry index.

        Deletes at most :data:`DELETE_BATCH` rows per statement, skipping rows that other transactions hold.

        Returns:
            How many entries were deleted.
        """
        removed = 0
        while True:
            status = await self._execute(
                self._conn.sql.delete_expired, self._scope.children_from, self._scope.children_to, DELETE_BATCH
            )
            batch = int(status.rpartition(" ")[2])
            removed += batch
            if batch < DELETE_BATCH:
                return removed

    async def _incr(self, key: str, amount: int, seconds: float | None) -> int:
        name = key.encode()
        low, high = counter_bounds(amount)
        value = await self._fetchval(self._conn.sql.incr, name, str(amount).encode(), seconds, amount, low, high)
        if value is not None:
            return int(value)
        raise not_a_counter(key, await self._fetchval(self._conn.sql.current, name), amount)

    async def _add(self, key: str, value: bytes, seconds: float | None) -> bool:
        return bool(await self._fetchval(self._conn.sql.add, key.encode(), value, seconds))

    async def _compare_and_set(self, key: str, expected: bytes, value: bytes, seconds: float | None) -> bool:
        return bool(await self._fetchval(self._conn.sql.compare_and_set, key.encode(), value, seconds, expected))

    async def _compare_and_delete(self, key: str, expected: bytes) -> bool:
        return bool(await self._fetchval(self._conn.sql.compare_and_delete, key.encode(), expected))

    async def _keys_after(self, after: str) -> tuple[list[str], bool]:
        rows = await self._conn.run("fetch", self._conn.sql.keys, self._scope.path, after.encode())
        return [bytes(row[0]).decode() for row in rows], len(rows) == _PAGE

    async def _next_namespace(self, after: str, before: str) -> str | None:
        path: str | None = await self._conn.run("fetchval", self._conn.sql.next_namespace, after, before)
        return path

    async def count(self) -> int:
        """Return the number of keys of this namespace (not of its children) that are not expired."""
        return int(await self._fetchval(self._conn.sql.count))

    async def get_many(self, keys: Iterable[str]) -> dict[str, bytes | None]:
        """Return each key's value (``None`` if missing or expired), fetched with one query."""
        wanted = {check_key(key).encode(): key for key in keys}
        values: dict[str, bytes | None] = dict.fromkeys(wanted.values())
        if not wanted:
            return values
        rows = await self._conn.run("fetch", self._conn.sql.get_many, self._scope.path, list(wanted))
        for name, value in rows:
            values[wanted[name]] = value
        return values

    async def set_many(self, mapping: Mapping[str, str | bytes], expires_in: TTL | None = None) -> None:
        """Store every ``key -> value`` of ``mapping`` with the same expiry, in one statement (all or nothing).

        Raises:
            TypeError, ValueError: an invalid key, value or ``expires_in`` (nothing is written then).
            StoreUnavailableError, StoreError: as :meth:`set`; nothing is written then.
        """
        seconds = ttl_seconds(expires_in)
        items = [(check_key(key).encode(), encode_value(value)) for key, value in mapping.items()]
        if items:
            names, values = zip(*items, strict=True)
            await self._execute(self._conn.sql.set_many, list(names), list(values), seconds)

    async def delete_many(self, keys: Iterable[str]) -> None:
        """Delete every key of ``keys`` with one statement; missing keys are ignored."""
        names = [check_key(key).encode() for key in keys]
        if names:
            await self._execute(self._conn.sql.delete_many, names)

    async def ping(self) -> bool:
        """Return ``True`` if the server answers a query (the table is created first if it is missing).

        Raises:
            StoreUnavailableError: the server cannot be reached within the connect timeout.
        """
        await self._conn.run("fetchval", "SELECT 1")
        return True
