"""MongoDB store over PyMongo's native asynchronous client (:class:`pymongo.AsyncMongoClient`).

Layout: one document per key in one collection, ``{_id: "<namespace path>:<key>", v: <value>, exp: <date> | null}``.
``v`` is BSON binary, or a 64-bit integer for counters made by :meth:`MongoStore.incr`. The namespace path is the
namespace names joined with ``/``; names cannot contain ``/`` or ``:``, so a prefix-anchored regular expression on
``_id`` (which uses the ``_id`` index) selects exactly one namespace, or one namespace and its children.

A TTL index on ``exp`` (``expireAfterSeconds=0``) lets the server delete expired documents by itself, but its sweep
runs only about once a minute, so every read also checks ``exp`` for to-the-millisecond expiry: reads of one
document fetch it by ``_id`` alone (the cheapest query on any server) and check here, the others filter on the
server.

This module is the store; the document layout, the error translation and the client side live in ``_mongo/``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from bson import Int64
from pymongo import AsyncMongoClient, ReplaceOne, ReturnDocument
from pymongo.errors import DuplicateKeyError

from ._mongo.connection import (
    DEFAULT_SOCKET_TIMEOUT_MS,
    DEFAULT_TIMEOUT_MS,
    TIMEOUT_OPTIONS,
    TTL_INDEX_NAME,
    Connection,
    open_client,
)
from ._mongo.documents import (
    EXPIRY_ONLY,
    VALUE_ONLY,
    counter_value,
    expiry_at,
    is_live,
    live_filter,
    utc_now,
    value_filter,
)
from ._mongo.errors import server_addresses
from .base import TTL, KVStore
from .urls import namespace_option, split_options, split_url
from .validation import (
    DEFAULT_NAMESPACE,
    INT64_MAX,
    INT64_MIN,
    check_amount,
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

if TYPE_CHECKING:
    from typing import Self

    from pymongo.asynchronous.collection import AsyncCollection

__all__ = (
    "DEFAULT_COLLECTION",
    "DEFAULT_DATABASE",
    "DEFAULT_NAMESPACE",
    "DEFAULT_SOCKET_TIMEOUT_MS",
    "DEFAULT_TIMEOUT_MS",
    "TIMEOUT_OPTIONS",
    "TTL_INDEX_NAME",
    "MongoStore",
)

logger = logging.getLogger(__name__)

DEFAULT_DATABASE: Final = "litestar"
DEFAULT_COLLECTION: Final = "kvstores"


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
        path = check_namespace_path(namespace)
        self._setup(Connection.open(client, database, collection, owns_client=False), path, True)

    def _setup(self, connection: Connection, path: str, is_root: bool) -> None:
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
        path = check_namespace_path(namespace)
        client = open_client(url, client_options)
        store = cls.__new__(cls)
        store._setup(Connection.open(client, database, collection, owns_client=True), path, True)
        return store

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """``mongodb://host/DB?collection=C&namespace=NAME`` (or ``mongodb+srv://``): an owning store.

        ``database`` and ``collection`` are those of :meth:`with_client`; the database is the URL's path (as PyMongo's
        ``get_default_database`` reads it) or the ``database`` option. ``namespace=NAME`` gives
        ``with_namespace(NAME)`` of the default root, so the keys live under ``LITESTAR/NAME``; the store still owns
        (and :meth:`aclose` closes) the client. Every other option, in the query or as a keyword, is one of
        :class:`pymongo.AsyncMongoClient`'s; keyword ``options`` win over the query's. Nothing connects here.

        Raises:
            ValueError: an option neither this store nor PyMongo knows (named), an empty or invalid namespace, a
                path and a ``database`` option naming different databases, or a URL PyMongo rejects; the message
                never contains a credential.
        """
        stripped, own, client_options = split_options(url, options, ("database", "collection", "namespace"))
        in_path = split_url(stripped).path.strip("/")
        if in_path and own.setdefault("database", in_path) != in_path:
            raise ValueError(f"The URL's path names the database {in_path!r}, the option {own['database']!r}")
        name = namespace_option(own.pop("namespace", None))
        root = DEFAULT_NAMESPACE if name is None else f"{DEFAULT_NAMESPACE}/{name}"
        return cls.with_client(stripped, namespace=root, **own, **client_options)

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
        """The ``host:port`` of every server the client knows, comma-separated (a ``mongodb+srv://`` seed: its host
        name until DNS resolved it); never credentials."""
        return server_addresses(self._connection.client)

    def __repr__(self) -> str:
        collection = self._connection.collection
        return (
            f"{type(self).__name__}(address={self.address!r}, "
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
        document = {"v": encode_value(value), "exp": expiry_at(ttl_seconds(expires_in), utc_now())}
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
            if document is not None and not is_live(document, utc_now()):
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
            now = utc_now()
            renewed = await self.collection.find_one_and_update(
                {"_id": document_id, "exp": {"$gt": now}},
                {"$set": {"exp": expiry_at(renew_seconds, now)}},
                VALUE_ONLY,
            )
            if renewed is not None:
                return renewed
            current = await self.collection.find_one({"_id": document_id}, {"_id": 0, "v": 1, "exp": 1})
            expiry = None if current is None else current.get("exp")
            if current is None or not isinstance(expiry, datetime):
                return current
            if expiry <= utc_now():
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
            document = await self.collection.find_one({"_id": document_id}, EXPIRY_ONLY)
        return document is not None and is_live(document, utc_now())

    async def expires_in(self, key: str) -> int | None:
        """Return the whole seconds (rounded up) until ``key`` expires; ``None`` if missing, expired or no expiry."""
        document_id = self._key_prefix + check_key(key)
        with self._errors:
            document = await self.collection.find_one({"_id": document_id}, EXPIRY_ONLY)
        expiry = None if document is None else document.get("exp")
        if not isinstance(expiry, datetime):
            return None
        return remaining_whole_seconds((expiry - utc_now()).total_seconds())

    async def delete_expired(self) -> int:
        """Delete the entries of this namespace and its children that are due now.

        Returns:
            How many were deleted; ``0`` when the server's TTL sweep already removed them.
        """
        with self._errors:
            result = await self.collection.delete_many({**self._subtree_filter, "exp": {"$lte": utc_now()}})
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
        increment = Int64(check_amount(amount))
        seconds = ttl_seconds(expires_in)
        await self._ensure_indexes()
        with self._errors:
            while True:
                now = utc_now()
                counter = await self.collection.find_one_and_update(
                    {"_id": document_id, "v": {"$type": "long"}, **live_filter(now)},
                    {"$inc": {"v": increment}},
                    VALUE_ONLY,
                    return_document=ReturnDocument.AFTER,
                )
                if counter is not None:
                    return int(counter["v"])
                created = await self._create_counter(document_id, increment, expiry_at(seconds, now), now)
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
        total = counter_value(document_id.removeprefix(self._key_prefix), current.get("v")) + amount
        if not INT64_MIN <= total <= INT64_MAX:
            raise ValueError(f"incr would overflow a 64-bit integer: {total}")
        result = await self.collection.update_one(unchanged, {"$set": {"v": Int64(total)}})
        return total if result.matched_count else None

    async def add(self, key: str, value: str | bytes, expires_in: TTL | None = None) -> bool:
        """Store ``value`` under ``key`` unless a live entry is there, in one round trip.

        One ``update_one`` that matches only an expired document and upserts a missing one; a live document makes
        the upsert collide on ``_id`` (``DuplicateKeyError``), which means "not written". It reads its answer from
        the write's result counts, not from a returned document (see FACTS: wire-compatible servers and upserts).

        Raises:
            TypeError, ValueError: as :meth:`set`.
            StoreUnavailableError: the server cannot be reached.
        """
        document_id = self._key_prefix + check_key(key)
        data = encode_value(value)
        seconds = ttl_seconds(expires_in)
        await self._ensure_indexes()
        now = utc_now()
        with self._errors:
            try:
                result = await self.collection.update_one(
                    {"_id": document_id, "exp": {"$lte": now}},
                    {"$set": {"v": data, "exp": expiry_at(seconds, now)}},
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
        now = utc_now()
        with self._errors:
            result = await self.collection.update_one(
                {"_id": self._key_prefix + key, "v": value_filter(wanted), **live_filter(now)},
                {"$set": {"v": data, "exp": expiry_at(seconds, now)}},
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
            result = await self.collection.delete_one(
                {"_id": document_id, "v": value_filter(wanted), **live_filter(utc_now())}
            )
        return bool(result.deleted_count)

    async def keys(self) -> AsyncIterator[str]:
        """Iterate over the keys of this namespace (not of its children) that are not expired."""
        prefix_length = len(self._key_prefix)
        with self._errors:
            async with self.collection.find({**self._namespace_filter, **live_filter(utc_now())}, {"_id": 1}) as cursor:
                async for document in cursor:
                    yield str(document["_id"])[prefix_length:]

    async def namespaces(self) -> AsyncIterator[str]:
        """Yield the names of the direct child namespaces holding live keys (their own or their children's), once each.

        Reads the ``_id`` of every live document of the subtree (an ``_id`` index range), never a value.
        """
        start = len(self.namespace or "") + 1
        seen: set[str] = set()
        children = {"_id": {"$regex": f"^{re.escape(self.namespace or '')}/"}}
        with self._errors:
            async with self.collection.find({**children, **live_filter(utc_now())}, {"_id": 1}) as cursor:
                async for document in cursor:
                    child = first_namespace(str(document["_id"]), start)
                    if child is not None and child not in seen:
                        seen.add(child)
                        yield child

    async def count(self) -> int:
        """Return the number of keys of this namespace (not of its children) that are not expired."""
        with self._errors:
            return await self.collection.count_documents({**self._namespace_filter, **live_filter(utc_now())})

    async def get_many(self, keys: Iterable[str]) -> dict[str, bytes | None]:
        """Return each key's value (``None`` if missing or expired), fetched with one ``find``."""
        wanted = {self._key_prefix + check_key(key): key for key in keys}
        values: dict[str, bytes | None] = dict.fromkeys(wanted.values())
        if not wanted:
            return values
        with self._errors:
            documents = await self.collection.find({"_id": {"$in": list(wanted)}, **live_filter(utc_now())}).to_list()
        for document in documents:
            values[wanted[document["_id"]]] = await self._decode(document["_id"], document)
        return values

    async def set_many(self, mapping: Mapping[str, str | bytes], expires_in: TTL | None = None) -> None:
        """Store every ``key -> value`` of ``mapping`` with the same expiry, in one unordered bulk write.

        Raises:
            TypeError, ValueError: an invalid key, value or ``expires_in`` (nothing is written then).
            StoreError: the write failed; some entries may have been written, none partially.
        """
        expiry = expiry_at(ttl_seconds(expires_in), utc_now())
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
