"""Fixtures for the PostgreSQL backend: one real server per test session, a fresh namespace per test.

The server is PostgreSQL 16 from the ``pgserver`` wheel (``testservers/postgres.py``); ``KVSTORES_TEST_POSTGRES_URL``
(e.g. ``postgresql://user:password@localhost:5432/db``) runs the tests against that server instead. A server that
cannot start fails the run.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from litestar_kvstores.postgres import PostgresStore
from litestar_kvstores.testing import ContractTraits
from testservers.postgres import postgres_url as server_url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of the PostgreSQL server the tests use: ``KVSTORES_TEST_POSTGRES_URL`` or a child process."""
    with server_url() as url:
        yield url


@pytest.fixture
def postgres_namespace() -> str:
    """A root namespace path unique to the test, so tests never see each other's rows."""
    return f"LITESTAR/test-{uuid.uuid4().hex[:16]}"


def open_postgres_store(url: str, namespace: str, table: str = "kvstores") -> PostgresStore:
    """Return a new, not yet entered store owning its pool (module level: the cross-process opener pickles it)."""
    return PostgresStore.with_client(url, namespace=namespace, table=table)


@pytest.fixture
async def postgres_store(postgres_url: str, postgres_namespace: str) -> AsyncIterator[PostgresStore]:
    async with open_postgres_store(postgres_url, postgres_namespace) as store:
        yield store
    async with open_postgres_store(postgres_url, postgres_namespace) as cleaner:  # the test may have closed it
        await cleaner.delete_all()


@pytest.fixture
def postgres_traits(postgres_url: str, postgres_namespace: str) -> ContractTraits:
    return ContractTraits(opener=functools.partial(open_postgres_store, postgres_url, postgres_namespace))
