"""Shared fixtures: the parametrized ``store`` of the contract suite and the real servers."""

from __future__ import annotations

import pytest

from litestar_kvstores.base import KVStore
from litestar_kvstores.testing import ContractTraits

from .backends import BACKENDS

pytest_plugins = [
    "tests.fixtures_file",
    "tests.fixtures_memory",
    "tests.fixtures_redis",
    "tests.fixtures_mongo",
    "tests.fixtures_sqlite",
    "tests.fixtures_postgres",
    "tests.fixtures_plugin",
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The name of the backend under test."""
    return str(request.param)


@pytest.fixture
def store(backend: str, request: pytest.FixtureRequest) -> KVStore:
    """A fresh, empty, entered store of every backend in ``tests/backends.py``."""
    resolved = request.getfixturevalue(f"{backend}_store")
    assert isinstance(resolved, KVStore)
    return resolved


@pytest.fixture
def contract_traits(backend: str, request: pytest.FixtureRequest) -> ContractTraits:
    """What the contract suite needs to know about the backend under test."""
    traits = request.getfixturevalue(f"{backend}_traits")
    assert isinstance(traits, ContractTraits)
    return traits
