"""Fixtures for the SQLite backend: a fresh database file per test, shared with other processes through ``opener``."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from litestar_kvstores.sqlite import SQLiteStore
from litestar_kvstores.testing import ContractTraits

NAMESPACE = "LITESTAR/test"


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    """The database file of the test's store."""
    return tmp_path / "store.db"


@pytest.fixture
async def sqlite_store(sqlite_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore(sqlite_path, namespace=NAMESPACE) as store:
        yield store


@pytest.fixture
def sqlite_traits(sqlite_path: Path) -> ContractTraits:
    return ContractTraits(opener=functools.partial(SQLiteStore, str(sqlite_path), namespace=NAMESPACE))
