"""Helpers for the MongoDB tests: observing the commands a client sends (PyMongo's command monitoring)."""

from __future__ import annotations

import gc
import warnings
from typing import Any

from pymongo import monitoring

from litestar_kvstores.base import KVStore

# commands a client sends on its own (handshake, monitoring, sessions), not because of a store operation
_BACKGROUND_COMMANDS = frozenset({"hello", "ismaster", "isMaster", "ping", "endSessions", "saslStart", "saslContinue"})


class CommandLog(monitoring.CommandListener):
    """Records the commands a client starts; observation of the real traffic, not mocking."""

    def __init__(self) -> None:
        self.events: list[monitoring.CommandStartedEvent] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name not in _BACKGROUND_COMMANDS:
            self.events.append(event)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def names(self) -> list[str]:
        """The names of the commands started since the last :meth:`clear`, in order."""
        return [event.command_name for event in self.events]

    def commands(self, name: str) -> list[dict[str, Any]]:
        """The command documents named ``name`` started since the last :meth:`clear`."""
        return [dict(event.command) for event in self.events if event.command_name == name]

    def clear(self) -> None:
        self.events.clear()


async def all_keys(store: KVStore) -> list[str]:
    """Every key ``store.keys()`` yields, sorted."""
    return sorted([key async for key in store.keys()])  # noqa: SIM118  # a store, not a dict


def collect_sockets_leaked_by_pymongo() -> None:
    """Garbage-collect, silently, the sockets PyMongo leaks when a client is closed while it is connecting.

    PyMongo 4.20's ``_async_create_connection`` closes its socket on ``OSError`` but not on cancellation, so a client
    closed while a monitor is still connecting (right after it was opened, or while its server is unreachable) can
    leave a socket to the garbage collector, whose ``ResourceWarning`` would then fail whatever test runs next.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
