"""Fixtures for the file backend: a fresh directory per test, shared with other processes through ``opener``."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from litestar_kvstores import FileStore
from litestar_kvstores.testing import ContractTraits

NAMESPACE = "test"


@pytest.fixture
async def file_store(tmp_path: Path) -> AsyncIterator[FileStore]:
    async with FileStore(tmp_path / "store", namespace=NAMESPACE) as store:
        yield store


@pytest.fixture
def file_traits(tmp_path: Path) -> ContractTraits:
    return ContractTraits(
        expires_natively=False,
        opener=functools.partial(FileStore, str(tmp_path / "store"), namespace=NAMESPACE),
    )
