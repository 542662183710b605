"""Real stores with their lifecycle calls recorded, for the registry and plugin tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Self, TypeVar

from litestar.testing import AsyncTestClient

from litestar_kvstores import MemoryStore, StoreError

T = TypeVar("T")


class RecordingMemoryStore(MemoryStore):
    """A :class:`MemoryStore` that appends ``enter NAME`` / ``close NAME`` / ``clean NAME`` to a shared log."""

    def __init__(self, log: list[str], label: str, **options: Any) -> None:
        super().__init__(**options)
        self.log = log
        self.label = label

    def with_namespace(self, namespace: str) -> Self:
        child = super().with_namespace(namespace)
        child.log = self.log
        child.label = f"{self.label}/{namespace}"
        return child

    async def __aenter__(self) -> Self:  # type: ignore[override]  # as KVStore.__aenter__
        self.log.append(f"enter {self.label}")
        return self

    async def aclose(self) -> None:
        self.log.append(f"close {self.label}")

    async def delete_expired(self) -> int:
        removed = await super().delete_expired()
        self.log.append(f"clean {self.label}")
        return removed


class FailingCleanupStore(MemoryStore):
    """A :class:`MemoryStore` whose ``delete_expired`` always fails, as a broken backend's would."""

    async def delete_expired(self) -> int:
        raise StoreError("the disk is on fire")


class BlockingCleanupStore(MemoryStore):
    """A :class:`MemoryStore` whose ``delete_expired`` waits until ``release`` is set (a slow clean-up).

    The events are thread events: Litestar's test client runs the application on an event loop of its own.
    """

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()
        self.release = threading.Event()

    async def delete_expired(self) -> int:
        self.started.set()
        while not self.release.is_set():
            await asyncio.sleep(0.01)
        return await super().delete_expired()


async def in_app(client: AsyncTestClient[Any], function: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Await ``function(*args)`` on the event loop the test client runs the application on.

    Stores whose clients are bound to an event loop (Redis, Valkey, MongoDB) must be used from the loop that
    serves the application; Litestar's ``AsyncTestClient`` runs it in a thread of its own.
    """
    return await asyncio.to_thread(client.blocking_portal.call, function, *args)
