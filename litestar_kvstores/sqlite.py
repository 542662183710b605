"""A persistent, process-safe store in one SQLite database file, over the standard library's :mod:`sqlite3`.

Layout: one table per store root (``kvstores`` unless ``table=`` says otherwise), one row per entry, as described in
:mod:`litestar_kvstores._sql`::

    CREATE TABLE kvstores (namespace TEXT, key TEXT, value BLOB, expires_at REAL,  -- Unix time, NULL: never
                           PRIMARY KEY (namespace, key)) WITHOUT ROWID
    CREATE INDEX kvstores_expires_at ON kvstores (expires_at) WHERE expires_at IS NOT NULL

- **One thread hop per operation.** Each store root owns one worker thread holding one connection; an operation is
  one function run there, handed over through a queue and answered with ``call_soon_threadsafe`` (measured: about
  twice as fast as ``run_in_executor`` and ``aiosqlite``, which needs two hops for a query and its rows). SQLite
  runs one writer at a time anyway, so one connection per process loses nothing and never waits on its own locks.
- **Process safety.** The database is in WAL mode: readers never wait for the writer. Every operation is one
  statement (or one ``BEGIN IMMEDIATE`` transaction), so ``incr`` and the atomic primitives hold across processes;
  a writer waits up to ``timeout`` seconds for another process's write, then raises
  :class:`~litestar_kvstores.StoreUnavailableError`.
- **Expiry.** ``expires_at`` is the Unix time of expiry; reads treat rows due at or before now as missing,
  ``delete_expired`` finds them through the expiry index only (in batches, each its own short transaction).
- **Corruption.** A row whose value is not a BLOB or whose expiry is not a number (written by other software) reads
  as missing, is logged at WARNING and removed. A damaged database file raises :class:`~litestar_kvstores.StoreError`.
- **Durability.** ``synchronous=NORMAL`` by default (a power loss can lose the last writes, never corrupt the
  database); ``fsync=True`` sets ``synchronous=FULL``, a disk flush per write.

Needs SQLite 3.35 or newer (``RETURNING``) and an asyncio event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import parse_qsl, unquote

from ._sql import DEFAULT_TABLE, Scope, SQLStore, check_table, counter_bounds, namespaced, not_a_counter, seconds_option
from ._threads import settle_future
from ._translate import ErrorTranslator
from .base import TTL
from .errors import StoreError, StoreUnavailableError
from .urls import split_url
from .validation import DEFAULT_NAMESPACE, check_key, encode_value, remaining_whole_seconds, ttl_seconds

if TYPE_CHECKING:
    from typing import Self

__all__ = ("SQLiteStore",)

logger = logging.getLogger(__name__)

MIN_SQLITE_VERSION: Final = (3, 35, 0)
DEFAULT_TIMEOUT: Final = 5.0
"""Seconds a write waits for another connection's write before :class:`StoreUnavailableError`."""

DELETE_BATCH: Final = 1000
"""Rows ``delete_expired`` removes per transaction, so another process's writes never wait long."""

_PAGE: Final = 1000
"""Keys ``keys()`` fetches per thread hop."""

_MAX_VARIABLES: Final = 500
"""Keys per ``IN (...)`` of ``get_many`` (below every SQLite's limit of host parameters)."""

_UNAVAILABLE_CODES: Final = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN})

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]


def _no_op(connection: sqlite3.Connection) -> None:
    return None


def _stop(connection: sqlite3.Connection | None) -> None:
    """The last job of a worker thread: close its connection."""
    if connection is not None:
        connection.close()


class _Worker:
    """One thread owning one connection, which it opens with ``connect`` before its first job.

    A job is a function called as ``function(connection, *args)`` in the thread; its result or exception is
    delivered to the awaiting caller. Started on the first job; :meth:`stop` closes the connection and ends the
    thread after the jobs already queued, and a later job starts a new one.
    """

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._jobs: queue.SimpleQueue[_Job] | None = None
        _workers.add(self)

    async def call(self, function: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        jobs = self._jobs if self._jobs is not None else self._start()
        jobs.put((loop, future, function, args))
        return await future

    def _start(self) -> queue.SimpleQueue[_Job]:
        jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._jobs = jobs
        threading.Thread(target=self._serve, args=(jobs,), name="litestar-kvstores-sqlite", daemon=True).start()
        return jobs

    def _serve(self, jobs: queue.SimpleQueue[_Job]) -> None:
        connection: sqlite3.Connection | None = None
        while True:
            loop, future, function, args = jobs.get()
            result: Any = None
            error: BaseException | None = None
            try:
                if function is _stop:
                    _stop(connection)
                else:
                    if connection is None:
                        connection = self._connect()
                    result = function(connection, *args)
            except BaseException as exc:  # delivered to the awaiting caller
                error = exc
            with contextlib.suppress(RuntimeError):  # raised if the caller's event loop has been closed
                loop.call_soon_threadsafe(settle_future, future, result, error)
            if function is _stop:
                return
            del loop, future, function, args, result, error  # hold no references while idle

    async def stop(self) -> None:
        """Close the connection once the queued jobs are done (a no-op when the thread is not running)."""
        jobs, self._jobs = self._jobs, None
        if jobs is not None:
            loop = asyncio.get_running_loop()
            done: asyncio.Future[None] = loop.create_future()
            jobs.put((loop, done, _stop, ()))
            await done

    def forget_after_fork(self) -> None:
        # The child has no worker thread; the parent's connection must not be used (or closed) in it either.
        self._jobs = None


_workers: weakref.WeakSet[_Worker] = weakref.WeakSet()


def _forget_workers_after_fork() -> None:
    for worker in list(_workers):
        worker.forget_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers_after_fork)


class _SQLiteErrors(ErrorTranslator):
    """``sqlite3`` errors and the ``OSError`` of creating the database's directory, naming the database file."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        super().__init__((sqlite3.Error, OSError))
        self.path = path

    def translate(self, exc: BaseException) -> Exception:
        code = getattr(exc, "sqlite_errorcode", None)
        name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
        if isinstance(exc, OSError) or (code is not None and code & 0xFF in _UNAVAILABLE_CODES):
            return StoreUnavailableError(f"SQLite database {self.path} is unavailable: {name}: {exc}")
        return StoreError(f"SQLite database {self.path} failed: {name}: {exc}")


class _Statements:
    """The SQL of every operation on one table. ``?1`` is the namespace path, ``?2`` the key unless noted."""

    def __init__(self, table: str) -> None:
        t = f'"{table}"'
        live = "(expires_at IS NULL OR expires_at > ?{})"
        self.expiry_index = f"{table}_expires_at"
        self.schema = (
            f"CREATE TABLE IF NOT EXISTS {t} (namespace TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, "
            f"expires_at REAL, PRIMARY KEY (namespace, key)) WITHOUT ROWID;\n"
            f'CREATE INDEX IF NOT EXISTS "{self.expiry_index}" ON {t} (expires_at) WHERE expires_at IS NOT NULL;'
        )
        self.get = f"SELECT value, expires_at FROM {t} WHERE namespace = ?1 AND key = ?2"
        # ?3: the new expiry, ?4: now
        self.get_and_renew = (
            f"UPDATE {t} SET expires_at = CASE WHEN expires_at IS NULL THEN NULL ELSE ?3 END "
            f"WHERE namespace = ?1 AND key = ?2 AND {live.format(4)} RETURNING value"
        )
        self.set = (
            f"INSERT INTO {t} (namespace, key, value, expires_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT "
            "(namespace, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at"
        )
        self.add = f"{self.set} WHERE expires_at <= ?5 RETURNING 1"
        self.compare_and_set = (
            f"UPDATE {t} SET value = ?3, expires_at = ?4 WHERE namespace = ?1 AND key = ?2 AND value = ?5 "
            f"AND {live.format(6)}"
        )
        self.delete = f"DELETE FROM {t} WHERE namespace = ?1 AND key = ?2"
        self.compare_and_delete = f"{self.delete} AND value = ?3 AND {live.format(4)}"
        self.remove_corrupt = f"{self.delete} AND value IS ?3 AND expires_at IS ?4"
        self.exists = f"SELECT 1 FROM {t} WHERE namespace = ?1 AND key = ?2 AND {live.format(3)}"
        self.expires_at = f"SELECT expires_at FROM {t} WHERE namespace = ?1 AND key = ?2"
        # ?1 the path, ?2 and ?3 the range of its children's paths
        self.subtree = "(namespace = ?1 OR (namespace >= ?2 AND namespace < ?3))"
        self.delete_all = f"DELETE FROM {t} WHERE {self.subtree}"
        self.delete_expired = (
            f"DELETE FROM {t} WHERE (namespace, key) IN (SELECT namespace, key FROM {t} "
            f'INDEXED BY "{self.expiry_index}" WHERE expires_at <= ?4 AND {self.subtree} LIMIT ?5)'
        )
        # ?3: the first value, ?4: its expiry, ?5: now, ?6: the amount, ?7 and ?8: the range the counter must be in
        counter = "CAST(CAST(value AS TEXT) AS INTEGER)"
        self.incr = (
            f"INSERT INTO {t} (namespace, key, value, expires_at) VALUES (?1, ?2, ?3, ?4) "
            "ON CONFLICT (namespace, key) DO UPDATE SET "
            f"value = CASE WHEN expires_at <= ?5 THEN excluded.value "
            f"ELSE CAST(CAST({counter} + ?6 AS TEXT) AS BLOB) END, "
            "expires_at = CASE WHEN expires_at <= ?5 THEN excluded.expires_at ELSE expires_at END "
            f"WHERE expires_at <= ?5 "
            f"OR (CAST({counter} AS TEXT) = CAST(value AS TEXT) AND {counter} BETWEEN ?7 AND ?8) "
            "RETURNING value"
        )
        self.keys = f"SELECT key FROM {t} WHERE namespace = ?1 AND key > ?2 AND {live.format(3)} ORDER BY key LIMIT ?4"
        self.count = f"SELECT count(*) FROM {t} WHERE namespace = ?1 AND {live.format(2)}"
        self.next_namespace = (
            f"SELECT namespace FROM {t} WHERE namespace > ?1 AND namespace < ?2 AND {live.format(3)} "
            "ORDER BY namespace LIMIT 1"
        )
        self.get_many = f"SELECT key, value, expires_at FROM {t} WHERE namespace = ? AND key IN "


def _is_corrupt(value: object, expires_at: object) -> bool:
    return type(value) is not bytes or not (expires_at is None or type(expires_at) in (float, int))


class _Database:
    """One database file and table with its worker: what a store root and its namespaces share."""

    def __init__(self, path: str, table: str, timeout: float, fsync: bool) -> None:
        self.path = path
        self.table = table
        self.timeout = timeout
        self.fsync = fsync
        self.sql = _Statements(table)
        self.errors = _SQLiteErrors(path)
        self.worker = _Worker(self._connect)

    def _connect(self) -> sqlite3.Connection:
        """Open the database (creating its directory and the table), in WAL mode. Runs in the worker thread."""
        directory = os.path.dirname(self.path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        try:
            if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if mode != "wal":
                    logger.warning("SQLite database %s cannot use WAL mode (journal mode %s)", self.path, mode)
            connection.execute(f"PRAGMA synchronous = {'FULL' if self.fsync else 'NORMAL'}")
            connection.executescript(self.sql.schema)
        except BaseException:
            connection.close()
            raise
        return connection

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run ``function(connection, *args)`` in the worker thread, with errors translated."""
        with self.errors:
            return await self.worker.call(function, *args)

    def remove_corrupt(self, connection: sqlite3.Connection, path: str, key: str, value: Any, expires_at: Any) -> None:
        """Log and delete a corrupt row, unless it has been rewritten since it was read."""
        logger.warning(
            "Removing corrupt SQLite store entry %r of namespace %r in %s: value of type %s, expiry of type %s",
            key,
            path,
            self.path,
            type(value).__name__,
            type(expires_at).__name__,
        )
        connection.execute(self.sql.remove_corrupt, (path, key, value, expires_at))


def _database_path(url: str) -> str:
    """The file of a ``sqlite://`` URL, written as for ``file://``: ``sqlite:///abs.db`` (SQLAlchemy's
    ``sqlite:////abs.db`` too) is absolute, ``sqlite://./rel.db`` and ``sqlite://rel.db`` are relative.

    Raises:
        ValueError: the URL names no file.
    """
    parts = split_url(url)
    path = unquote(("" if parts.netloc == "localhost" else parts.netloc) + parts.path)
    if path in ("", "/"):
        raise ValueError("A sqlite:// URL needs a database file: sqlite:///abs/path.db or sqlite://./relative.db")
    return "/" + path.lstrip("/") if path.startswith("//") else path


class SQLiteStore(SQLStore):
    """SQLite based, namespaced, thread and process safe asynchronous key/value store.

    The embedded choice for many small entries on one machine (see ``docs/sqlite.md``). Namespaces share the
    root's table and connection; keys of different namespaces never collide.
    """

    __slots__ = ("_db",)

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        table: str = DEFAULT_TABLE,
        namespace: str = DEFAULT_NAMESPACE,
        timeout: float = DEFAULT_TIMEOUT,
        fsync: bool = False,
    ) -> None:
        """Create a store in the database file ``path`` (created with its directory on first use).

        Nothing is opened here: the first operation (or ``async with``) opens the database.

        Args:
            path: The database file.
            table: The table of this store root; other tables of the database are never touched.
            namespace: The root namespace: one name, or a path of names joined with ``/`` (``"app/sessions"``).
            timeout: Seconds a write waits for another connection's write before raising
                :class:`StoreUnavailableError`.
            fsync: Flush every write to the disk before it returns (``synchronous=FULL``).

        Raises:
            TypeError: ``table`` or ``namespace`` is not a ``str``.
            ValueError: ``table`` is not a plain identifier, a namespace name is invalid or ``timeout`` not positive.
            RuntimeError: the SQLite library is older than 3.35.
        """
        if sqlite3.sqlite_version_info < MIN_SQLITE_VERSION:
            raise RuntimeError(f"SQLiteStore needs SQLite 3.35 or newer, this Python has {sqlite3.sqlite_version}")
        scope = Scope.root(namespace)
        database = _Database(
            os.path.abspath(os.fspath(path)), check_table(table), seconds_option("timeout", timeout), bool(fsync)
        )
        self._db = database
        self._enter_scope(scope, is_root=True)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """``sqlite:///abs/path.db``, ``sqlite://./relative.db`` (SQLAlchemy's ``sqlite:////abs/path.db`` too).

        Options (query or keyword): ``table``, ``timeout`` (seconds), ``fsync`` (true/false) and ``namespace``, which
        gives ``with_namespace(NAME)`` of the default root ``LITESTAR``.

        Raises:
            ValueError: an unknown option (named), an invalid value, or a URL without a path.
        """
        from .urls import bools_like_defaults, reject_unknown, split_options

        stripped, own, others = split_options(url, options, ("table", "timeout", "fsync", "namespace"))
        reject_unknown("sqlite", [*others, *(name for name, _ in parse_qsl(split_url(stripped).query))], ())
        path = _database_path(stripped)
        namespace = own.pop("namespace", None)
        if "timeout" in own:
            own["timeout"] = seconds_option("timeout", own["timeout"])
        return cast("Self", namespaced(cls(path, **bools_like_defaults(cls, own)), namespace))

    @property
    def address(self) -> str:
        """The database file's absolute path."""
        return self._db.path

    @property
    def table(self) -> str:
        """The table holding this store's rows (shared with its namespaces)."""
        return self._db.table

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._db.path!r}, table={self._db.table!r}, namespace={self.namespace!r})"

    async def __aenter__(self) -> Self:  # type: ignore[override]  # returning the store is more useful than None
        """Open the database now (creating the file, its directory and the table).

        Raises:
            StoreUnavailableError: the database cannot be opened.
        """
        await self._db.run(_no_op)
        return self

    async def aclose(self) -> None:
        """Close the root's connection and worker thread (a later operation opens them again); namespaces don't."""
        if self._is_root:
            await self._db.worker.stop()

    # --- operations (each one call into the worker thread) ------------------------------------------------------

    async def set(self, key: str, value: str | bytes, expires_in: TTL | None = None) -> None:
        """Store ``value`` under ``key`` (one ``INSERT ... ON CONFLICT``), replacing any previous value.

        Raises:
            TypeError, ValueError: invalid ``key``, ``value`` or ``expires_in``.
            StoreUnavailableError: the database cannot be opened, or stayed locked by another writer for ``timeout``.
            StoreError: the write failed (e.g. the disk is full); the previous value is left intact.
        """
        row = (self._scope.path, check_key(key), encode_value(value), ttl_seconds(expires_in))
        await self._db.run(self._set, row)

    def _set(self, connection: sqlite3.Connection, row: tuple[str, str, bytes, float | None]) -> None:
        path, key, value, seconds = row
        connection.execute(self._db.sql.set, (path, key, value, None if seconds is None else time.time() + seconds))

    async def get(self, key: str, renew_for: TTL | None = None) -> bytes | None:
        """Return the value of ``key``, or ``None`` if it is missing or expired.

        With ``renew_for``, an entry with an expiry gets a new one ``renew_for`` from now in the same ``UPDATE ...
        RETURNING`` that reads it; an entry without expiry keeps none.

        Raises:
            TypeError, ValueError: invalid ``key`` or ``renew_for``.
            StoreUnavailableError, StoreError: as :meth:`set`.
        """
        checked = check_key(key)
        renew_seconds = ttl_seconds(renew_for, "renew_for")
        result: bytes | None = await self._db.run(self._get, checked, renew_seconds)
        return result

    def _get(self, connection: sqlite3.Connection, key: str, renew_seconds: float | None) -> bytes | None:
        path = self._scope.path
        now = time.time()
        if renew_seconds is not None:
            renewed = connection.execute(self._db.sql.get_and_renew, (path, key, now + renew_seconds, now)).fetchone()
            if renewed is None or type(renewed[0]) is bytes:
                return None if renewed is None else cast("bytes", renewed[0])
        row = connection.execute(self._db.sql.get, (path, key)).fetchone()
        if row is None:
            return None
        value, expires_at = row
        if _is_corrupt(value, expires_at):
            self._db.remove_corrupt(connection, path, key, value, expires_at)
            return None
        return None if expires_at is not None and expires_at <= now else cast("bytes", value)

    async def delete(self, key: str) -> None:
        """Delete ``key``; a missing key is a no-op."""
        await self._db.run(self._execute, self._db.sql.delete, (self._scope.path, check_key(key)))

    @staticmethod
    def _execute(connection: sqlite3.Connection, statement: str, parameters: tuple[Any, ...]) -> int:
        return connection.execute(statement, parameters).rowcount

    async def delete_all(self) -> None:
        """Delete every entry of this namespace and of its child namespaces: one ``DELETE`` on two key ranges."""
        scope = self._scope
        await self._db.run(self._execute, self._db.sql.delete_all, (scope.path, scope.children_from, scope.children_to))

    async def exists(self, key: str) -> bool:
        """Return ``True`` if ``key`` is stored and not expired."""
        row = await self._db.run(self._fetch_one, self._db.sql.exists, (self._scope.path, check_key(key)), True)
        return row is not None

    @staticmethod
    def _fetch_one(
        connection: sqlite3.Connection, statement: str, parameters: tuple[Any, ...], with_now: bool
    ) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = connection.execute(
            statement, (*parameters, time.time()) if with_now else parameters
        ).fetchone()
        return row

    async def expires_in(self, key: str) -> int | None:
        """Return the whole seconds (rounded up) until ``key`` expires; ``None`` if missing, expired or no expiry."""
        row = await self._db.run(self._fetch_one, self._db.sql.expires_at, (self._scope.path, check_key(key)), False)
        if row is None or type(row[0]) not in (float, int):
            return None
        return remaining_whole_seconds(row[0] - time.time())

    async def delete_expired(self) -> int:
        """Delete the expired entries of this namespace and its children, found by the expiry index.

        Deletes in transactions of at most :data:`DELETE_BATCH` rows, so other writers never wait long.

        Returns:
            How many entries were deleted.
        """
        result: int = await self._db.run(self._delete_expired)
        return result

    def _delete_expired(self, connection: sqlite3.Connection) -> int:
        scope = self._scope
        now = time.time()
        removed = 0
        while True:
            parameters = (scope.path, scope.children_from, scope.children_to, now, DELETE_BATCH)
            batch = connection.execute(self._db.sql.delete_expired, parameters).rowcount
            removed += batch
            if batch < DELETE_BATCH:
                return removed

    async def _incr(self, key: str, amount: int, seconds: float | None) -> int:
        result: int = await self._db.run(self._incr_in_thread, key, amount, seconds)
        return result

    def _incr_in_thread(self, connection: sqlite3.Connection, key: str, amount: int, seconds: float | None) -> int:
        path = self._scope.path
        now = time.time()
        low, high = counter_bounds(amount)
        expires_at = None if seconds is None else now + seconds
        parameters = (path, key, str(amount).encode(), expires_at, now, amount, low, high)
        row = connection.execute(self._db.sql.incr, parameters).fetchone()
        if row is not None:
            return int(row[0])
        current = connection.execute(self._db.sql.get, (path, key)).fetchone()
        raise not_a_counter(key, None if current is None else current[0], amount)

    async def _add(self, key: str, value: bytes, seconds: float | None) -> bool:
        written: bool = await self._db.run(self._add_in_thread, key, value, seconds)
        return written

    def _add_in_thread(self, connection: sqlite3.Connection, key: str, value: bytes, seconds: float | None) -> bool:
        now = time.time()
        parameters = (self._scope.path, key, value, None if seconds is None else now + seconds, now)
        return connection.execute(self._db.sql.add, parameters).fetchone() is not None

    async def _compare_and_set(self, key: str, expected: bytes, value: bytes, seconds: float | None) -> bool:
        replaced: bool = await self._db.run(self._compare_and_set_in_thread, key, expected, value, seconds)
        return replaced

    def _compare_and_set_in_thread(
        self, connection: sqlite3.Connection, key: str, expected: bytes, value: bytes, seconds: float | None
    ) -> bool:
        now = time.time()
        expires_at = None if seconds is None else now + seconds
        parameters = (self._scope.path, key, value, expires_at, expected, now)
        return connection.execute(self._db.sql.compare_and_set, parameters).rowcount == 1

    async def _compare_and_delete(self, key: str, expected: bytes) -> bool:
        parameters = (self._scope.path, key, expected)
        removed: int = await self._db.run(self._execute_now, self._db.sql.compare_and_delete, parameters)
        return removed == 1

    @staticmethod
    def _execute_now(connection: sqlite3.Connection, statement: str, parameters: tuple[Any, ...]) -> int:
        return connection.execute(statement, (*parameters, time.time())).rowcount

    async def _keys_after(self, after: str) -> tuple[list[str], bool]:
        page: list[str] = await self._db.run(self._keys_page, after)
        return page, len(page) == _PAGE

    def _keys_page(self, connection: sqlite3.Connection, after: str) -> list[str]:
        rows = connection.execute(self._db.sql.keys, (self._scope.path, after, time.time(), _PAGE)).fetchall()
        return [row[0] for row in rows]

    async def _next_namespace(self, after: str, before: str) -> str | None:
        row = await self._db.run(self._fetch_one, self._db.sql.next_namespace, (after, before), True)
        return None if row is None else str(row[0])

    async def count(self) -> int:
        """Return the number of keys of this namespace (not of its children) that are not expired."""
        row = await self._db.run(self._fetch_one, self._db.sql.count, (self._scope.path,), True)
        return int(row[0]) if row else 0

    async def get_many(self, keys: Iterable[str]) -> dict[str, bytes | None]:
        """Return each key's value (``None`` if missing or expired), read in one thread hop."""
        wanted = [check_key(key) for key in keys]
        if not wanted:
            return {}
        found: dict[str, bytes] = await self._db.run(self._get_many, wanted)
        return {key: found.get(key) for key in wanted}

    def _get_many(self, connection: sqlite3.Connection, keys: list[str]) -> dict[str, bytes]:
        path = self._scope.path
        now = time.time()
        found: dict[str, bytes] = {}
        for start in range(0, len(keys), _MAX_VARIABLES):
            chunk = keys[start : start + _MAX_VARIABLES]
            statement = self._db.sql.get_many + f"({', '.join('?' * len(chunk))})"
            for key, value, expires_at in connection.execute(statement, (path, *chunk)).fetchall():
                if _is_corrupt(value, expires_at):
                    self._db.remove_corrupt(connection, path, key, value, expires_at)
                elif expires_at is None or expires_at > now:
                    found[key] = value
        return found

    async def set_many(self, mapping: Mapping[str, str | bytes], expires_in: TTL | None = None) -> None:
        """Store every ``key -> value`` of ``mapping`` with the same expiry, in one transaction (all or nothing).

        Raises:
            TypeError, ValueError: an invalid key, value or ``expires_in`` (nothing is written then).
            StoreUnavailableError, StoreError: as :meth:`set`; nothing is written then.
        """
        seconds = ttl_seconds(expires_in)
        path = self._scope.path
        rows = [(path, check_key(key), encode_value(value)) for key, value in mapping.items()]
        if rows:
            await self._db.run(self._set_many, rows, seconds)

    def _set_many(
        self, connection: sqlite3.Connection, rows: list[tuple[str, str, bytes]], seconds: float | None
    ) -> None:
        expires_at = None if seconds is None else time.time() + seconds
        with _transaction(connection):
            connection.executemany(self._db.sql.set, [(*row, expires_at) for row in rows])

    async def delete_many(self, keys: Iterable[str]) -> None:
        """Delete every key of ``keys`` in one transaction; missing keys are ignored."""
        path = self._scope.path
        rows = [(path, check_key(key)) for key in keys]
        if rows:
            await self._db.run(self._delete_many, rows)

    def _delete_many(self, connection: sqlite3.Connection, rows: list[tuple[str, str]]) -> None:
        with _transaction(connection):
            connection.executemany(self._db.sql.delete, rows)

    async def ping(self) -> bool:
        """Return ``True`` once the database answers a query.

        Raises:
            StoreUnavailableError: the database cannot be opened.
        """
        await self._db.run(self._fetch_one, "SELECT 1", (), False)
        return True


@contextlib.contextmanager
def _transaction(connection: sqlite3.Connection) -> Any:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, ``ROLLBACK`` on error.

    ``IMMEDIATE`` takes the write lock first, so the transaction never fails half-way for want of it.
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
