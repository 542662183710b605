"""Server-side sessions that never silently lose a concurrent request's changes.

Litestar's :class:`~litestar.middleware.session.server_side.ServerSideSessionBackend` loads the session when a
request starts and writes the whole session back when it ends, so of two concurrent requests of one session the
later write replaces the earlier one's changes. :class:`CASSessionConfig` writes with
:meth:`~litestar_kvstores.base.KVStore.compare_and_set` against the value the request loaded::

    session = CASSessionConfig(store="sessions")  # on_conflict="merge" (default) or "error"
    app = Litestar(middleware=[session.middleware], plugins=[KVStoresPlugin(...)])

When another request changed the session in between, the write is retried on top of the newer session: with
``on_conflict="merge"`` this request's changes (keys it set, changed or removed) are applied to it, so changes to
different keys both survive; a key that both requests changed to different values, or a session that another request
ended, is a conflict. With ``on_conflict="error"`` any concurrent change is one. On a conflict the later request's
session changes are not written and its response becomes ``409 Conflict`` (the handler already ran and its body is
sent; the header ``x-session-conflict`` names the keys), so the client knows to retry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

from litestar.datastructures import MutableScopeHeaders
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.types import Empty

from .base import KVStore
from .errors import StoreError

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection
    from litestar.stores.base import Store
    from litestar.types import Message, ScopeSession

__all__ = ("CASSessionBackend", "CASSessionConfig", "SessionConflictError")

logger = logging.getLogger("litestar_kvstores")

_LOADED = "_kvstores_session_loaded"
"""The connection state key of the raw session the request loaded (``None``: it had none)."""

_MISSING = object()

_ATTEMPTS = 20
"""How often a write is retried on top of a session that other requests keep changing."""


class SessionConflictError(StoreError):
    """A concurrent request changed the session in a way this request's changes cannot be merged with.

    The message names the conflicting session keys (never their values). The backend turns it into a ``409``.
    """


class CASSessionBackend(ServerSideSessionBackend):
    """The backend of :class:`CASSessionConfig` (see the module docstring)."""

    config: CASSessionConfig

    async def load_from_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
        """Load the session and remember the raw value for the compare-and-set at the end of the request."""
        raw = None
        if session_id := connection.cookies.get(self.config.key):
            raw = await self.get(session_id, store=self.config.get_store_from_app(connection.scope["app"]))
        connection.scope["state"][_LOADED] = raw
        return {} if raw is None else self.deserialize_data(raw)

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        """Write the session with ``compare_and_set`` (merged or refused on conflict), then set the cookie.

        A conflict (see :class:`SessionConflictError`) turns the response into ``409 Conflict`` with the header
        ``x-session-conflict`` saying why, logged at WARNING; the session is left as the other request wrote it.

        Raises:
            TypeError: the store has no ``compare_and_set`` (it is not a litestar-kvstores store).
        """
        if scope_session is not Empty:
            store = self.config.get_store_from_app(connection.scope["app"])
            if not isinstance(store, KVStore):
                raise TypeError(f"CASSessionConfig needs a store with compare_and_set; {type(store).__name__} is not")
            loaded = connection.scope["state"].get(_LOADED)
            mine = cast("dict[str, Any]", scope_session)
            try:
                await self._write(store, self.get_session_id(connection), loaded, mine, connection)
            except SessionConflictError as conflict:
                # the response has started: refuse it by its status, as no exception can reach a handler now
                logger.warning("Session changes not written: %s", conflict)
                if message["type"] == "http.response.start":
                    message["status"] = 409
                MutableScopeHeaders.from_message(message)["x-session-conflict"] = str(conflict)
                return
        await super().store_in_message(scope_session, message, connection)  # the cookie (its write is a no-op)

    async def set(self, session_id: str, data: bytes, store: Store) -> None:
        """Nothing: :meth:`store_in_message` has written the session already."""

    async def _write(
        self,
        store: KVStore,
        session_id: str,
        loaded: bytes | None,
        mine: dict[str, Any],
        connection: ASGIConnection[Any, Any, Any, Any],
    ) -> None:
        expires_in = int(self.config.max_age) if self.config.max_age is not None else None
        base = {} if loaded is None else self.deserialize_data(loaded)
        changed = {key: value for key, value in mine.items() if base.get(key, _MISSING) != value}
        removed = [key for key in base if key not in mine]
        expected, data = loaded, self.serialize_data(mine, connection.scope)
        for _ in range(_ATTEMPTS):
            if await store.compare_and_set(session_id, expected, data, expires_in=expires_in):
                return
            if self.config.on_conflict == "error":
                raise SessionConflictError("The session changed during the request (on_conflict='error')")
            expected = await store.get(session_id)
            if expected is None and loaded is not None:
                raise SessionConflictError("The session was ended by a concurrent request")
            theirs = {} if expected is None else self.deserialize_data(expected)
            clashes = sorted(
                str(key)
                for key in [*changed, *removed]
                if theirs.get(key, _MISSING) != base.get(key, _MISSING)
                and theirs.get(key, _MISSING) != mine.get(key, _MISSING)
            )
            if clashes:
                raise SessionConflictError(f"A concurrent request changed the session keys {clashes} as well")
            merged = {key: value for key, value in {**theirs, **changed}.items() if key not in removed}
            data = self.serialize_data(merged, connection.scope)
        raise SessionConflictError(f"The session kept changing; gave up after {_ATTEMPTS} attempts")


@dataclass
class CASSessionConfig(ServerSideSessionConfig):
    """Litestar's server-side session config, writing with ``compare_and_set`` (see the module docstring).

    Attributes:
        on_conflict: ``"merge"``: apply this request's changes to a session changed concurrently, refusing only
            changes to the same keys; ``"error"``: refuse any concurrent change. Either raises
            :class:`SessionConflictError` when it refuses.
    """

    _backend_class = CASSessionBackend
    on_conflict: Literal["merge", "error"] = field(default="merge")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.on_conflict not in ("merge", "error"):
            raise ValueError(f"on_conflict must be 'merge' or 'error', got {self.on_conflict!r}")
