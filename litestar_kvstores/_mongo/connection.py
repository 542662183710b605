"""The client side of MongoStore: checking client options, default timeouts, and what a store shares with its
namespaces (the client, the collection, the error translator and whether the TTL index exists)."""

from __future__ import annotations

import asyncio
import inspect
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl

from bson.codec_options import CodecOptions
from pymongo import AsyncMongoClient, common
from pymongo.errors import PyMongoError

from ..urls import split_url
from .errors import MongoErrors, without_credentials

if TYPE_CHECKING:
    from pymongo.asynchronous.collection import AsyncCollection

__all__ = (
    "DEFAULT_SOCKET_TIMEOUT_MS",
    "DEFAULT_TIMEOUT_MS",
    "TIMEOUT_OPTIONS",
    "TTL_INDEX_NAME",
    "Connection",
    "open_client",
)

DEFAULT_TIMEOUT_MS: Final = 3000
"""Default ``serverSelectionTimeoutMS`` and ``connectTimeoutMS`` of ``MongoStore.with_client`` (PyMongo: 30 s)."""

TIMEOUT_OPTIONS: Final = ("serverSelectionTimeoutMS", "connectTimeoutMS")

DEFAULT_SOCKET_TIMEOUT_MS: Final = 10_000
"""Default ``socketTimeoutMS`` of ``MongoStore.with_client`` (PyMongo: none): an operation on a server that stopped
answering raises ``StoreUnavailableError`` after this long instead of hanging."""

TTL_INDEX_NAME: Final = "kvstores_exp_ttl"


def _query_names(url: str) -> list[str]:
    """The names of the options in ``url``'s query, as given (blank values included)."""
    return [name for name, _ in parse_qsl(split_url(url).query, keep_blank_values=True)]


_CLIENT_PARAMETERS: Final = frozenset(
    name.lower() for name in inspect.signature(AsyncMongoClient.__init__).parameters if name not in {"self", "host"}
) - {"kwargs"}
"""The client's own named parameters (``port``, ``connect``, ...), which its option tables do not list."""


def _check_client_options(url: str, client_options: Mapping[str, Any]) -> None:
    """Check every option of ``url``'s query and of ``client_options`` against PyMongo's own option tables and the
    client's named parameters.

    Raises:
        ValueError: an option PyMongo does not know, named (PyMongo's own error does not name it).
    """
    uri_options = {name.lower() for name in common.URI_OPTIONS_VALIDATOR_MAP}
    uri_options |= {alias.lower() for aliases in common.URI_OPTIONS_ALIAS_MAP.values() for alias in aliases}
    keyword_options = uri_options | {name.lower() for name in common.VALIDATORS} | _CLIENT_PARAMETERS
    unknown = [name for name in _query_names(url) if name.lower() not in uri_options]
    unknown += [name for name in client_options if name.lower() not in keyword_options]
    if unknown:
        raise ValueError(f"Invalid MongoDB URL or client option: unknown option(s) {', '.join(map(repr, unknown))}")


def _with_default_timeouts(url: str, options: dict[str, Any]) -> dict[str, Any]:
    """Return ``options`` plus the default timeouts that neither ``url``'s query nor ``options`` set."""
    given = {name.lower() for name in [*_query_names(url), *options]}
    defaults = dict.fromkeys(TIMEOUT_OPTIONS, DEFAULT_TIMEOUT_MS) | {"socketTimeoutMS": DEFAULT_SOCKET_TIMEOUT_MS}
    return {**{name: ms for name, ms in defaults.items() if name.lower() not in given}, **options}


def open_client(url: str, client_options: dict[str, Any]) -> AsyncMongoClient[Any]:
    """Return a new, not yet connected client for ``url``, with the default timeouts where none is given.

    Raises:
        ValueError: an option PyMongo does not know (named), or a URL or option value PyMongo rejects; the message
            never contains the URL's user name or password.
    """
    _check_client_options(url, client_options)
    options = _with_default_timeouts(url, client_options)
    # Not an ErrorTranslator: bad arguments are a ValueError, and the original error is dropped (from None)
    # because it may quote the URL with its credentials.
    try:
        with warnings.catch_warnings():
            # PyMongo only warns about an unknown option; a typo must not pass silently
            warnings.simplefilter("error")
            return AsyncMongoClient(url, **options)
    except (PyMongoError, TypeError, ValueError, UserWarning) as exc:
        raise ValueError(f"Invalid MongoDB URL or client option: {without_credentials(str(exc), url)}") from None


@dataclass(eq=False)
class Connection:
    """What a store and all its namespaced children share: the client, the collection and the index state."""

    client: AsyncMongoClient[Any]
    collection: AsyncCollection[dict[str, Any]]
    owns_client: bool
    errors: MongoErrors
    indexes_ready: bool = False
    index_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def open(cls, client: AsyncMongoClient[Any], database: str, collection: str, owns_client: bool) -> Connection:
        """Return the shared state for ``database.collection`` of ``client`` (dates decoded as aware UTC)."""
        codec_options: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True, tzinfo=UTC)
        documents = client.get_database(database).get_collection(collection, codec_options=codec_options)
        return cls(client, documents, owns_client, MongoErrors(client))

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
