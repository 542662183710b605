"""Fixtures for the MongoDB backend: one wire-protocol server per test session, a fresh namespace per test.

``KVSTORES_TEST_MONGO_URL`` (e.g. ``mongodb://localhost:27017``) runs the tests against that server instead of the
SecantusDB child process; a server that cannot start fails the run.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from litestar_kvstores.mongo import MongoStore
from litestar_kvstores.testing import ContractTraits
from testservers.mongo import start_mongo_server
from testservers.process import free_port

from .mongo_support import CommandLog, collect_sockets_leaked_by_pymongo

MONGO_URL_VARIABLE = "KVSTORES_TEST_MONGO_URL"
TEST_DATABASE = "kvstores_tests"


@pytest.fixture(scope="session")
def mongo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of the MongoDB server the tests use: ``KVSTORES_TEST_MONGO_URL`` or a SecantusDB child process."""
    given = os.environ.get(MONGO_URL_VARIABLE)
    if given:
        yield given
        return
    server = start_mongo_server(free_port(), tmp_path_factory.mktemp("mongo"))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def mongo_namespace() -> str:
    """A root namespace unique to the test, so tests never see each other's keys."""
    return f"test-{uuid.uuid4().hex}"


def open_mongo_store(url: str, namespace: str) -> MongoStore:
    """Return a new, not yet entered store owning its client, in ``namespace`` of the test database."""
    return MongoStore.with_client(url, database=TEST_DATABASE, namespace=namespace)


@pytest.fixture
async def mongo_store(mongo_url: str, mongo_namespace: str) -> AsyncIterator[MongoStore]:
    async with open_mongo_store(mongo_url, mongo_namespace) as store:
        yield store
        await store.delete_all()
    collect_sockets_leaked_by_pymongo()


@pytest.fixture
def mongo_traits(mongo_url: str, mongo_namespace: str) -> ContractTraits:
    return ContractTraits(expires_natively=True, opener=functools.partial(open_mongo_store, mongo_url, mongo_namespace))


@pytest.fixture
def mongo_command_log() -> CommandLog:
    """Records the commands of the client of ``logged_mongo_store``."""
    return CommandLog()


@pytest.fixture
async def logged_mongo_store(
    mongo_url: str, mongo_namespace: str, mongo_command_log: CommandLog
) -> AsyncIterator[MongoStore]:
    """Like ``mongo_store``, with ``mongo_command_log`` recording the commands its client sends."""
    store = MongoStore.with_client(
        mongo_url, database=TEST_DATABASE, namespace=mongo_namespace, event_listeners=[mongo_command_log]
    )
    async with store:
        yield store
        await store.delete_all()
    collect_sockets_leaked_by_pymongo()


@pytest.fixture
async def unindexed_mongo_store(mongo_url: str) -> AsyncIterator[MongoStore]:
    """A store on a new collection that has no TTL index until the store's first write.

    Documents written directly into it with a past expiry stay until the store removes them, which shows that
    reads filter on expiry by themselves rather than relying on the server's TTL sweep.
    """
    collection = f"unindexed-{uuid.uuid4().hex}"
    async with MongoStore.with_client(mongo_url, database=TEST_DATABASE, collection=collection) as store:
        yield store
        await store.collection.drop()
    collect_sockets_leaked_by_pymongo()
