"""The store contract as a reusable pytest suite.

Run it against any store by subclassing :class:`StoreContract` in a test module and providing two fixtures::

    import pytest
    from litestar_kvstores.testing import ContractTraits, StoreContract

    class TestMyStore(StoreContract):
        @pytest.fixture
        async def store(self):
            async with MyStore(...).with_namespace("contract") as store:  # fresh and empty
                yield store

        @pytest.fixture
        def contract_traits(self) -> ContractTraits:
            return ContractTraits(opener=functools.partial(MyStore, ..., namespace="contract"))

The tests are ``async def`` and need ``pytest-asyncio`` in ``auto`` mode (``asyncio_mode = "auto"``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ("ContractTraits",)


@dataclass(frozen=True)
class ContractTraits:
    """What the contract suite needs to know about a backend.

    Attributes:
        expires_natively: The backend removes expired entries by itself (Redis, MongoDB), so ``delete_expired``
            may find nothing left to remove.
        opener: A picklable, zero-argument callable returning a new (not yet entered) store on the same data and
            namespace as the ``store`` fixture, for the tests that run several OS processes. ``None`` for stores
            that are not shared across processes (the cross-process tests are then reported as skipped).
    """

    expires_natively: bool = False
    opener: Callable[[], Any] | None = None
