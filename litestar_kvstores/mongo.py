"""MongoDB store over PyMongo's native asynchronous client (:class:`pymongo.AsyncMongoClient`).

Layout: one document per key in one collection, ``{_id: "<namespace path>:<key>", v: <value>, exp: <date> | null}``.
``v`` is BSON binary, or a 64-bit integer for counters made by :meth:`MongoStore.incr`. The namespace path is the
namespace names joined with ``/``; names cannot contain ``/`` or ``:``, so a prefix-anchored regular expression on
``_id`` (which uses the ``_id`` index) selects exactly one namespace, or one namespace and its children.

A TTL index on ``exp`` (``expireAfterSeconds=0``) lets the server delete expired documents by itself, but its sweep
runs only about once a minute, so every read also checks ``exp`` for to-the-millisecond expiry: reads of one
document fetch it by ``_id`` alone (the cheapest query on any server) and check here, the others filter on the
server.
"""

from __future__ import annotations

import asyncio
import logging
import re
import warnings
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import parse_qsl, urlsplit

from bson import Int64
from bson.codec_options import CodecOptions
from pymongo import AsyncMongoClient, ReplaceOne, ReturnDocument, common
from pymongo.errors import (
    ConfigurationError,
    ConnectionFailure,
    DocumentTooLarge,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
)

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

    from pymongo.asynchronous.collection import AsyncCollection

__all__ = ("MongoStore",)

logger = logging.getLogger(__name__)

DEFAULT_DATABASE: Final = "litestar"
DEFAULT_COLLECTION: Final = "kvstores"
DEFAULT_NAMESPACE: Final = "LITESTAR"
DEFAULT_TIMEOUT_MS: Final = 3000
"""Default ``serverSelectionTimeoutMS`` and ``connectTimeoutMS`` of :meth:`MongoStore.with_client` (PyMongo: 30 s)."""

TIMEOUT_OPTIONS: Final = ("serverSelectionTimeoutMS", "connectTimeoutMS")

DEFAULT_SOCKET_TIMEOUT_MS: Final = 10_000
"""Default ``socketTimeoutMS`` of :meth:`MongoStore.with_client` (PyMongo: none): an operation on a server that
stopped answering raises :class:`StoreUnavailableError` after this long instead of hanging."""

TTL_INDEX_NAME: Final = "kvstores_exp_ttl"

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_INTEGER_VALUE = re.compile(rb"-?[0-9]+")
_VALUE_ONLY: Final = {"_id": 0, "v": 1}
_EXPIRY_ONLY: Final = {"_id": 0, "exp": 1}


def _now() -> datetime:
    return datetime.now(UTC)


def _live(now: datetime) -> dict[str, Any]:
    """Filter for documents that have not expired at ``now``: no expiry (null or missing), or one after ``now``.

    ``$not``/``$lte`` rather than an ``$or`` of both cases: some wire-compatible servers scan the whole collection
    for an ``$or`` even next to an ``_id`` equality.
    """
    return {"exp": {"$not": {"$lte": now}}}


def _is_live(document: Mapping[str, Any], now: datetime) -> bool:
    """Whether a fetched document has not expired at ``now`` (the same rule as :func:`_live`)."""
    expiry = document.get("exp")
    return not isinstance(expiry, datetime) or expiry > now


def _value_is(expected: bytes) -> Any:
    """Filter for a stored value equal to ``expected``: the bytes, or the counter ``incr`` keeps as a 64-bit int."""
    if not _INTEGER_VALUE.fullmatch(expected):
        return expected
    number = int(expected)
    # "007" is not what a counter of 7 reads as
    if _INT64_MIN <= number <= _INT64_MAX and str(number).encode() == expected:
        return {"$in": [expected, Int64(number)]}
    return expected


def _expiry(seconds: float | None, now: datetime) -> datetime | None:
    return None if seconds is None else now + timedelta(seconds=seconds)


def _addresses(client: AsyncMongoClient[Any]) -> str:
    """Return the ``host:port`` of every server the client knows, never credentials (they are not part of it)."""
    servers = client.topology_description.server_descriptions()
    hosts = [f"[{host}]" if ":" in str(host) else str(host) for host, _ in servers]
    # a mongodb+srv:// seed has no port until its DNS records are resolved
    addresses = [host if port is None else f"{host}:{port}" for host, (_, port) in zip(hosts, servers, strict=True)]
    return ", ".join(addresses) or "MongoDB"


def _with_default_timeouts(url: str, options: dict[str, Any]) -> dict[str, Any]:
    """Return ``options`` plus the default timeouts that neither ``url``'s query nor ``options`` set."""
    given = {name.lower() for name, _ in parse_qsl(urlsplit(url).query)} | {name.lower() for name in options}
    defaults = dict.fromkeys(TIMEOUT_OPTIONS, DEFAULT_TIMEOUT_MS) | {"socketTimeoutMS": DEFAULT_SOCKET_TIMEOUT_MS}
    return {**{name: ms for name, ms in defaults.items() if name.lower() not in given}, **options}


def _check_client_options(url: str, client_options: Mapping[str, Any]) -> None:
    """Check every option of ``url``'s query and of ``client_options`` against PyMongo's own option tables.

    Raises:
        ValueError: an option PyMongo does not know, named (PyMongo's own error does not name it).
    """
    uri_options = {name.lower() for name in common.URI_OPTIONS_VALIDATOR_MAP}
    uri_options |= {alias.lower() for aliases in common.URI_OPTIONS_ALIAS_MAP.values() for alias in aliases}
    keyword_options = uri_options | {name.lower() for name in common.VALIDATORS}
    unknown = [name for name, _ in parse_qsl(urlsplit(url).query) if name.lower() not in uri_options]
    unknown += [name for name in client_options if name.lower() not in keyword_options]
    if unknown:
        raise ValueError(f"Invalid MongoDB URL or client option: unknown option(s) {', '.join(map(repr, unknown))}")


def _without_credentials(text: str, url: str) -> str:
    """Return ``text`` with the user name and password of ``url`` masked."""
    parts = urlsplit(url)
    for secret in (parts.password, parts.username):
        if secret:
            text = text.replace(secret, "***")
    return text


class _TranslateErrors:
    """Context manager turning PyMongo errors into this package's errors.

    Connection problems become :class:`StoreUnavailableError` naming the server addresses, a value too large for a
    document ``ValueError``, every other PyMongo error :class:`StoreError`. The original is kept as ``__cause__``.
    """

    __slots__ = ("_client",)

    def __init__(self, client: AsyncMongoClient[Any]) -> None:
        self._client = client

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, DocumentTooLarge):  # a BSON error, not a PyMongoError
            raise ValueError(f"Too large for one MongoDB document (16 MiB at most): {exc}") from exc
        if not isinstance(exc, PyMongoError):
            return
        # at operation time, a ConfigurationError means the mongodb+srv:// DNS records could not be resolved
        if isinstance(exc, ConnectionFailure | ConfigurationError):
            raise StoreUnavailableError(
                f"MongoDB at {_addresses(self._client)} is unreachable ({type(exc).__name__})"
            ) from exc
        raise StoreError(f"MongoDB operation failed on {_addresses(self._client)}: {_describe(exc)}") from exc


def _describe(exc: PyMongoError) -> str:
    """A one-line description of a server error: its class, code and message, without the documents involved."""
    if isinstance(exc, OperationFailure):
        message = (exc.details or {}).get("errmsg") or ""
        return f"{type(exc).__name__} (code {exc.code}) {message}".rstrip()
    return f"{type(exc).__name__}: {exc}"


@dataclass(eq=False)
class _Connection:
    """What a store and all its namespaced children share: the client, the collection and the index state."""

    client: AsyncMongoClient[Any]
    collection: AsyncCollection[dict[str, Any]]
    owns_client: bool
    errors: _TranslateErrors
    indexes_ready: bool = False
    index_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def open(cls, client: AsyncMongoClient[Any], database: str, collection: str, owns_client: bool) -> _Connection:
        """Return the shared state for ``database.collection`` of ``client`` (dates decoded as aware UTC)."""
        codec_options: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True, tzinfo=UTC)
        documents = client.get_database(database).get_collection(collection, codec_options=codec_options)
        return cls(client, documents, owns_client, _TranslateErrors(client))

    async def ensure_indexes(self) -> None:
        """Create the TTL index on ``exp`` once; later calls return at once.

        Raises:
            StoreUnavailableError: the server cannot be reached.
            StoreError: the index could not be created (e.g. a conflicting index on ``exp`` exists).
        """
        async with self.index_lock:
            if self.indexes_ready:
                return
            with self.errors:
                await self.collection.create_index("exp", expireAfterSeconds=0, name=TTL_INDEX_NAME)
            self.indexes_ready = True


def _check_path(path: object) -> str:
    if not isinstance(path, str):
        raise TypeError(f"namespace must be str, not {type(path).__name__}")
    for name in path.split("/"):
        check_namespace(name)
    return path


def _check_amount(amount: object) -> int:
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise TypeError(f"amount must be int, not {type(amount).__name__}")
    if not _INT64_MIN <= amount <= _INT64_MAX:
        raise ValueError(f"amount must fit in a signed 64-bit integer, got {amount}")
    return amount


def _counter_value(key: str, value: object) -> int:
    """Return the integer held by a stored value, for :meth:`MongoStore.incr`.

    Raises:
        ValueError: the value is not a decimal integer that fits in 64 bits.
    """
    if isinstance(value, int):
        return value
    if isinstance(value, bytes) and _INTEGER_VALUE.fullmatch(value) and _INT64_MIN <= int(value) <= _INT64_MAX:
        return int(value)
    raise ValueError(f"The value of {key!r} is not a 64-bit integer")


class MongoStore(KVStore):
    """MongoDB based, thread and process safe asynchronous key/value store.

    Works with a standalone server, a replica set or a sharded cluster; see ``docs/mongo.md``.
    """

    __slots__ = ("_closes_client", "_connection", "_errors", "_key_prefix", "_namespace_filter", "_subtree_filter")

    def __init__(
        self,
        client: AsyncMongoClient[Any],
        *,
        database: str = DEFAULT_DATABASE,
        collection: str = DEFAULT_COLLECTION,
        namespace: str = DEFAULT_NAMESPACE,
    ) -> None:
        """Create a store in ``database.collection`` of ``client``; the caller keeps owning (and closes) the client.

        Args:
            client: A :class:`pymongo.AsyncMongoClient`.
            database: The database name.
            collection: The collection name; other software may share it, its documents are never touched.
            namespace: The root namespace: one name, or a path of names joined with ``/`` (e.g. ``"app/sessions"``).

        Raises:
            TypeError: ``namespace`` is not a ``str``.
            ValueError: a name in ``namespace`` is empty or has characters other than letters, digits, ``_-.``.
        """
        self._setup(_Connection.open(client, database, collection, owns_client=False), _check_path(namespace), True)

    def _setup(self, connection: _Connection, path: str, is_root: bool) -> None:
        self._connection = connection
        self._closes_client = is_root and connection.owns_client
        self._errors = connection.errors
        self.namespace: str | None = path
        self._key_prefix = f"{path}:"
        escaped = re.escape(path)
        self._namespace_filter = {"_id": {"$regex": f"^{escaped}:"}}
        self._subtree_filter = {"_id": {"$regex": f"^{escaped}[:/]"}}

    @classmethod
    def with_client(
        cls,
        url: str = "mongodb://localhost:27017",
        *,
        database: str = DEFAULT_DATABASE,
        collection: str = DEFAULT_COLLECTION,
        namespace: str = DEFAULT_NAMESPACE,
        **client_options: Any,
    ) -> Self:
        """Create a store with its own client for ``url``; :meth:`aclose` (or leaving ``async with``) closes it.

        ``serverSelectionTimeoutMS`` and ``connectTimeoutMS`` default to 3 s and ``socketTimeoutMS`` to 10 s unless
        ``url`` or ``client_options`` set them. No connection is made here: the client connects on the first operation.

        Args:
            url: A ``mongodb://`` or ``mongodb+srv://`` URL.
            database: The database name.
            collection: The collection name.
            namespace: The root namespace, as for :class:`MongoStore`.
            **client_options: Further keyword arguments for :class:`pymongo.AsyncMongoClient`.

        Raises:
            TypeError, ValueError: ``namespace`` is invalid.
            ValueError: PyMongo rejects ``url`` or does not know an option (the message never contains credentials).
        """
        path = _check_path(namespace)
        _check_client_options(url, client_options)
        options = _with_default_timeouts(url, client_options)
        try:
            with warnings.catch_warnings():
                # PyMongo only warns about an unknown option; a typo must not pass silently
                warnings.simplefilter("error")
                client: AsyncMongoClient[Any] = AsyncMongoClient(url, **options)
        except (PyMongoError, TypeError, ValueError, UserWarning) as exc:
            # from None: the original error may quote the URL with its credentials
            raise ValueError(f"Invalid MongoDB URL or client option: {_without_credentials(str(exc), url)}") from None
        store = cls.__new__(cls)
        store._setup(_Connection.open(client, database, collection, owns_client=True), path, True)
        return store

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """``mongodb://host/?database=DB&collection=C&namespace=NAME`` (see :meth:`KVStore.from_url`)."""
        from .urls import _mongo_from_url

        return cast("Self", _mongo_from_url(url, **options))

    def with_namespace(self, namespace: str) -> Self:
        """Return a store for the child namespace ``namespace``, sharing this store's client.

        Raises:
            ValueError: ``namespace`` is empty or has characters other than letters, digits, ``_-.``.
        """
        child = type(self).__new__(type(self))
        child._setup(self._connection, f"{self.namespace}/{check_namespace(namespace)}", False)
        return child

    @property
    def address(self) -> str:
        """The ``host:port`` of every server the client knows; never credentials."""
        return _addresses(self._connection.client)

    def __repr__(self) -> str:
        collection = self._connection.collection
        return (
            f"{type(self).__name__}(address={_addresses(self._connection.client)!r}, "
            f"database={collection.database.name!r}, collection={collection.name!r}, namespace={self.namespace!r})"
        )

    @property
    def collection(self) -> AsyncCollection[dict[str, Any]]:
        """The collection holding this store's documents (shared with the other namespaces)."""
        return self._connection.collection

    async def set(self, key: str, value: str | bytes, expires_in: TTL | None = None) -> None:
        """Store ``value`` under ``key`` with an optional expiry, replacing any previous value.

        Raises:
            TypeError, ValueError: invalid ``key``, ``value`` or ``expires_in``.
            StoreUnavailableError: the server cannot be reached.
            StoreError: the write failed; the previous value is left intact.
        """
        document_id = self._key_prefix + check_key(key)
        document = {"v": encode_value(value), "exp": _expiry(ttl_seconds(expires_in), _now())}
        await self._ensure_indexes()
        with self._errors:
            try:
                await self.collection.replace_one({"_id": document_id}, document, upsert=True)
            except DuplicateKeyError:
                # two upserts that create the same document at once: the loser's replace now finds the document
                await self.collection.replace_one({"_id": document_id}, document, upsert=True)

    async def get(self, key: str, renew_for: TTL | None = None) -> bytes | None:
        """Return the value of ``key``, or ``None`` if it is missing or expired.

        With ``renew_for``, an entry that has an expiry gets a new one ``renew_for`` from now in the same atomic
        ``find_one_and_update`` that reads it; an entry without expiry keeps none (it is read by a second command).

        Raises:
            TypeError, ValueError: invalid ``key`` or ``renew_for``.
            StoreUnavailableError: the server cannot be reached.
            StoreError: another server error.
        """
        document_id = self._key_prefix + check_key(key)
        renew_seconds = ttl_seconds(renew_for, name="renew_for")
        if renew_seconds is None:
            # the plainest command (no projection, no server-side expiry filter) is the fastest on every server
            with self._errors:
                document = await self.collection.find_one({"_id": document_id})
            if document is not None and not _is_live(document, _now()):
                return None
        else:
            await self._ensure_indexes()
            with self._errors:
                document = await self._get_and_renew(document_id, renew_seconds)
        return None if document is None else await self._decode(document_id, document)

    async def _get_and_renew(self, document_id: str, renew_seconds: float) -> dict[str, Any] | None:
        """Return the live document ``document_id`` (``v`` only), renewing its expiry if it has one.

        A live entry with an expiry is read and renewed by one ``find_one_and_update``. When that matches nothing,
        one ``find_one`` tells a missing or expired entry (``None``) from one without expiry (returned unrenewed); an
        entry that gained an expiry in between is renewed by going round again. (A pipeline update doing both in one
        command exists, but some wire-compatible servers run it as a collection scan.)
        """
        while True:
            now = _now()
            renewed = await self.collection.find_one_and_update(
                {"_id": document_id, "exp": {"$gt": now}},
                {"$set": {"exp": _expiry(renew_seconds, now)}},
                _VALUE_ONLY,
            )
            if renewed is not None:
                return renewed
            current = await self.collection.find_one({"_id": document_id}, {"_id": 0, "v": 1, "exp": 1})
            expiry = None if current is None else current.get("exp")
            if current is None or not isinstance(expiry, datetime):
                return current
            if expiry <= _now():
                return None

    async def _decode(self, document_id: str, document: dict[str, Any]) -> bytes | None:
        """Return the value of a fetched document; a document whose value has a foreign type is corrupt: removed."""
        value = document.get("v")
        if isinstance(value, bytes):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value).encode()
        logger.warning("Removing corrupt MongoDB store entry %r: value of type %s", document_id, type(value).__name__)
        with self._errors:
            await self.collection.delete_one({"_id": document_id, "v": value})
        return None

    async def delete(self, key: str) -> None:
        """Delete ``key``; a missing key is a no-op."""
        document_id = self._key_prefix + check_key(key)
        with self._errors:
            await self.collection.delete_one({"_id": document_id})

    async def delete_all(self) -> None:
        """Delete every entry of this namespace and of its child namespaces (one indexed ``delete_many``).

        Documents of sibling namespaces sharing a prefix, of the parent namespace and of other software are kept.
        """
        with self._errors:
            await self.collection.delete_many(self._subtree_filter)

    async def exists(self, key: str) -> bool:
        """Return ``True`` if ``key`` is stored and not expired."""
        document_id = self._key_prefix + check_key(key)
        with self._errors:
            document = await self.collection.find_one({"_id": document_id}, _EXPIRY_ONLY)
        return document is not None and _is_live(document, _now())

    async def expires_in(self, key: str) -> int | None:
        """Return the whole seconds (rounded up) until ``key`` expires; ``None`` if missing, expired or no expiry."""
        document_id = self._key_prefix + check_key(key)
        with self._errors:
            document = await self.collection.find_one({"_id": document_id}, _EXPIRY_ONLY)
        expiry = None if document is None else document.get("exp")
        if not isinstance(expiry, datetime):
            return None
        return remaining_whole_seconds((expiry - _now()).total_seconds())

    async def delete_expired(self) -> int:
        """Delete the entries of this namespace and its children that are due now.

        Returns:
            How many were deleted; ``0`` when the server's TTL sweep already removed them.
        """
        with self._errors:
            result = await self.collection.delete_many({**self._subtree_filter, "exp": {"$lte": _now()}})
        return result.deleted_count

    async def incr(self, key: str, amount: int = 1, expires_in: TTL | None = None) -> int:
        """Atomically add ``amount`` to the counter ``key`` and return the new value.

        A missing or expired counter starts at ``amount`` with the expiry ``expires_in``; an existing one keeps its
        expiry. A value stored by :meth:`set` that is a decimal integer (e.g. ``b"5"``) counts on from there.

        The common case, an existing counter, is one ``find_one_and_update`` with ``$inc``. A counter is created
        with ``insert_one`` (retried on ``DuplicateKeyError``) rather than an upserting update, which some
        wire-compatible servers do not report correctly under concurrency.

        Raises:
            TypeError: ``amount`` is not an ``int``, or invalid ``key`` / ``expires_in``.
            ValueError: the stored value is not an integer, or the result does not fit in 64 bits.
            StoreUnavailableError: the server cannot be reached.
        """
        document_id = self._key_prefix + check_key(key)
        increment = Int64(_check_amount(amount))
        seconds = ttl_seconds(expires_in)
        await self._ensure_indexes()
        with self._errors:
            while True:
                now = _now()
                counter = await self.collection.find_one_and_update(
                    {"_id": document_id, "v": {"$type": "long"}, **_live(now)},
                    {"$inc": {"v": increment}},
                    _VALUE_ONLY,
                    return_document=ReturnDocument.AFTER,
                )
                if counter is not None:
                    return int(counter["v"])
                created = await self._create_counter(document_id, increment, _expiry(seconds, now), now)
                if created is not None:
                    return created

    async def _create_counter(
        self, document_id: str, amount: Int64, expiry: datetime | None, now: datetime
    ) -> int | None:
        """Make ``document_id`` a counter: create it, restart it if expired, or convert an integer value.

        Returns:
            The counter's new value, or ``None`` if another writer changed the document first (the caller retries).
        """
        current = await self.collection.find_one({"_id": document_id}, {"_id": 0, "v": 1, "exp": 1})
        if current is None:
            try:
                await self.collection.insert_one({"_id": document_id, "v": amount, "exp": expiry})
            except DuplicateKeyError:
                return None
            return int(amount)
        unchanged = {"_id": document_id, "v": current.get("v"), "exp": current.get("exp")}
        old_expiry = current.get("exp")
        if isinstance(old_expiry, datetime) and old_expiry <= now:
            result = await self.collection.update_one(unchanged, {"$set": {"v": amount, "exp": expiry}})
            return int(amount) if result.matched_count else None
        total = _counter_value(document_id.removeprefix(self._key_prefix), current.get("v")) + amount
        if not _INT64_MIN <= total <= _INT64_MAX:
            raise ValueError(f"incr would overflow a 64-bit integer: {total}")
        result = await self.collection.update_one(unchanged, {"$set": {"v": Int64(total)}})
        return total if result.matched_count else None

    async def add(self, key: str, value: str | bytes, expires_in: TTL | None = None) -> bool:
        """Store ``value`` under ``key`` unless a live entry is there, in one round trip.

        One ``update_one`` that matches only an expired document and upserts a missing one; a live document makes
        the upsert collide on ``_id`` (``DuplicateKeyError``), which means "not written".

        Raises:
            TypeError, ValueError: as :meth:`set`.
            StoreUnavailableError: the server cannot be reached.
        """
        document_id = self._key_prefix + check_key(key)
        data = encode_value(value)
        seconds = ttl_seconds(expires_in)
        await self._ensure_indexes()
        now = _now()
        with self._errors:
            try:
                result = await self.collection.update_one(
                    {"_id": document_id, "exp": {"$lte": now}},
                    {"$set": {"v": data, "exp": _expiry(seconds, now)}},
                    upsert=True,
                )
            except DuplicateKeyError:
                return False
        return bool(result.matched_count or result.upserted_id is not None)

    async def compare_and_set(
        self, key: str, expected: str | bytes | None, value: str | bytes, expires_in: TTL | None = None
    ) -> bool:
        """Replace the value of ``key`` if it equals ``expected`` (``None``: missing or expired), in one round trip.

        Raises:
            TypeError: ``expected`` is not ``bytes``/``str``/``None``, or as :meth:`set`.
            ValueError: as :meth:`set`.
            StoreUnavailableError: the server cannot be reached.
        """
        check_key(key)
        wanted = check_expected(expected)
        data = encode_value(value)
        seconds = ttl_seconds(expires_in)
        if wanted is None:
            return await self.add(key, data, seconds)
        await self._ensure_indexes()
        now = _now()
        with self._errors:
            result = await self.collection.update_one(
                {"_id": self._key_prefix + key, "v": _value_is(wanted), **_live(now)},
                {"$set": {"v": data, "exp": _expiry(seconds, now)}},
            )
        return bool(result.matched_count)

    async def compare_and_delete(self, key: str, expected: str | bytes) -> bool:
        """Delete ``key`` if its live value equals ``expected``, in one round trip.

        Raises:
            TypeError: ``expected`` is not ``bytes``/``str``, or ``key`` is not a ``str``.
            ValueError: ``key`` is empty.
            StoreUnavailableError: the server cannot be reached.
        """
        document_id = self._key_prefix + check_key(key)
        wanted = check_expected_value(expected)
        await self._ensure_indexes()
        with self._errors:
            result = await self.collection.delete_one({"_id": document_id, "v": _value_is(wanted), **_live(_now())})
        return bool(result.deleted_count)

    async def keys(self) -> AsyncIterator[str]:
        """Iterate over the keys of this namespace (not of its children) that are not expired."""
        prefix_length = len(self._key_prefix)
        with self._errors:
            async with self.collection.find({**self._namespace_filter, **_live(_now())}, {"_id": 1}) as cursor:
                async for document in cursor:
                    yield str(document["_id"])[prefix_length:]

    async def count(self) -> int:
        """Return the number of keys of this namespace (not of its children) that are not expired."""
        with self._errors:
            return await self.collection.count_documents({**self._namespace_filter, **_live(_now())})

    async def get_many(self, keys: Iterable[str]) -> dict[str, bytes | None]:
        """Return each key's value (``None`` if missing or expired), fetched with one ``find``."""
        wanted = {self._key_prefix + check_key(key): key for key in keys}
        values: dict[str, bytes | None] = dict.fromkeys(wanted.values())
        if not wanted:
            return values
        with self._errors:
            documents = await self.collection.find({"_id": {"$in": list(wanted)}, **_live(_now())}).to_list()
        for document in documents:
            values[wanted[document["_id"]]] = await self._decode(document["_id"], document)
        return values

    async def set_many(self, mapping: Mapping[str, str | bytes], expires_in: TTL | None = None) -> None:
        """Store every ``key -> value`` of ``mapping`` with the same expiry, in one unordered bulk write.

        Raises:
            TypeError, ValueError: an invalid key, value or ``expires_in`` (nothing is written then).
            StoreError: the write failed; some entries may have been written, none partially.
        """
        expiry = _expiry(ttl_seconds(expires_in), _now())
        requests = [
            ReplaceOne(
                {"_id": self._key_prefix + check_key(key)}, {"v": encode_value(value), "exp": expiry}, upsert=True
            )
            for key, value in mapping.items()
        ]
        if not requests:
            return
        await self._ensure_indexes()
        with self._errors:
            await self.collection.bulk_write(requests, ordered=False)

    async def delete_many(self, keys: Iterable[str]) -> None:
        """Delete every key of ``keys`` with one ``delete_many``; missing keys are ignored."""
        document_ids = [self._key_prefix + check_key(key) for key in keys]
        if not document_ids:
            return
        with self._errors:
            await self.collection.delete_many({"_id": {"$in": document_ids}})

    async def ping(self) -> bool:
        """Return ``True`` if the server answers ``ping``.

        Raises:
            StoreUnavailableError: the server cannot be reached within the server-selection timeout.
        """
        with self._errors:
            await self._connection.client.admin.command("ping")
        return True

    async def aclose(self) -> None:
        """Close the client if this store created it (:meth:`with_client`); namespaced children never close it."""
        if self._closes_client:
            await self._connection.client.close()

    async def _ensure_indexes(self) -> None:
        if not self._connection.indexes_ready:
            await self._connection.ensure_indexes()
