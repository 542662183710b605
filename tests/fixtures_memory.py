"""Fixtures for the in-memory backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from litestar_kvstores import MemoryStore
from litestar_kvstores.testing import ContractTraits


@pytest.fixture
async def memory_store() -> AsyncIterator[MemoryStore]:
    async with MemoryStore().with_namespace("test") as store:
        yield store


@pytest.fixture
def memory_traits() -> ContractTraits:
    return ContractTraits(expires_natively=False, opener=None)
