"""PyMongo's exceptions as this package's errors, naming the server addresses and never a credential."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.errors import ConfigurationError, ConnectionFailure, DocumentTooLarge, OperationFailure, PyMongoError

from .._translate import ErrorTranslator
from ..errors import StoreError, StoreUnavailableError
from ..urls import split_url

__all__ = ("MongoErrors", "server_addresses", "without_credentials")


def server_addresses(client: AsyncMongoClient[Any]) -> str:
    """Return the ``host:port`` of every server the client knows, never credentials (they are not part of it)."""
    servers = client.topology_description.server_descriptions()
    hosts = [f"[{host}]" if ":" in str(host) else str(host) for host, _ in servers]
    # a mongodb+srv:// seed has no port until its DNS records are resolved
    addresses = [host if port is None else f"{host}:{port}" for host, (_, port) in zip(hosts, servers, strict=True)]
    return ", ".join(addresses) or "MongoDB"


def without_credentials(text: str, url: str) -> str:
    """Return ``text`` with the user name and password of ``url`` masked."""
    parts = split_url(url)
    for secret in (parts.password, parts.username):
        if secret:
            text = text.replace(secret, "***")
    return text


def _describe(exc: BaseException) -> str:
    """A one-line description of a server error: its class, code and message, without the documents involved."""
    if isinstance(exc, OperationFailure):
        message = (exc.details or {}).get("errmsg") or ""
        return f"{type(exc).__name__} (code {exc.code}) {message}".rstrip()
    return f"{type(exc).__name__}: {exc}"


class MongoErrors(ErrorTranslator):
    """The :class:`ErrorTranslator` of one client: :class:`StoreUnavailableError` when no server can be reached,
    ``ValueError`` for a value too large for a document, :class:`StoreError` for every other PyMongo error."""

    __slots__ = ("_client",)

    def __init__(self, client: AsyncMongoClient[Any]) -> None:
        super().__init__((PyMongoError, DocumentTooLarge))  # DocumentTooLarge is a BSON error, not a PyMongoError
        self._client = client

    def translate(self, exc: BaseException) -> Exception:
        """Return the error to raise instead of ``exc``; its message names the server addresses."""
        if isinstance(exc, DocumentTooLarge):
            return ValueError(f"Too large for one MongoDB document (16 MiB at most): {exc}")
        # at operation time, a ConfigurationError means the mongodb+srv:// DNS records could not be resolved
        if isinstance(exc, ConnectionFailure | ConfigurationError):
            return StoreUnavailableError(
                f"MongoDB at {server_addresses(self._client)} is unreachable ({type(exc).__name__})"
            )
        return StoreError(f"MongoDB operation failed on {server_addresses(self._client)}: {_describe(exc)}")
