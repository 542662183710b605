"""Exact expiry: reads filter on the expiry date themselves instead of waiting for the server's TTL sweep."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from bson import Int64

from litestar_kvstores.mongo import MongoStore
from tests.support.mongo import all_keys


async def write_expired(store: MongoStore, key: str, value: object, seconds_ago: float = 5) -> None:
    """Insert a document whose expiry passed ``seconds_ago``, as another process of the store would have written."""
    expired = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    await store.collection.insert_one({"_id": f"{store.namespace}:{key}", "v": value, "exp": expired})


async def test_expired_documents_read_as_missing_before_any_sweep(unindexed_mongo_store: MongoStore) -> None:
    store = unindexed_mongo_store
    await write_expired(store, "gone", b"old")
    await write_expired(store, "gone-counter", Int64(7))

    assert await store.get("gone") is None
    assert await store.exists("gone") is False
    assert await store.expires_in("gone") is None
    assert await store.get_many(["gone", "gone-counter"]) == {"gone": None, "gone-counter": None}
    assert await all_keys(store) == []
    assert await store.count() == 0
    # still stored: nothing swept it, the reads filtered it out
    assert await store.collection.count_documents({}) == 2
    # last: a renewal writes, so it creates the TTL index, and the server's sweep (every second here) may then start
    assert await store.get("gone", renew_for=60) is None


async def test_renewal_does_not_revive_an_expired_entry(unindexed_mongo_store: MongoStore) -> None:
    await write_expired(unindexed_mongo_store, "gone", b"old")
    assert await unindexed_mongo_store.get("gone", renew_for=timedelta(days=1)) is None
    document = await unindexed_mongo_store.collection.find_one({})
    # the renewal created the TTL index, so the server's sweep (every second here) may have removed the document
    # since; a revived one, a day from expiring, it would have kept
    assert document is None or document["exp"] < datetime.now(UTC)


async def test_expired_counter_restarts_with_a_new_expiry(unindexed_mongo_store: MongoStore) -> None:
    await write_expired(unindexed_mongo_store, "hits", Int64(99))
    assert await unindexed_mongo_store.incr("hits", 1, expires_in=60) == 1
    assert await unindexed_mongo_store.expires_in("hits") in {59, 60}
    assert await unindexed_mongo_store.incr("hits") == 2


async def test_expired_value_is_not_counted_on(unindexed_mongo_store: MongoStore) -> None:
    await write_expired(unindexed_mongo_store, "hits", b"not a number")
    assert await unindexed_mongo_store.incr("hits", 3) == 3
    assert await unindexed_mongo_store.expires_in("hits") is None


async def test_delete_expired_counts_what_was_due(unindexed_mongo_store: MongoStore) -> None:
    store = unindexed_mongo_store
    child = store.with_namespace("child")
    await write_expired(store, "a", b"1")
    await write_expired(child, "b", b"2")
    # written directly too: a write through the store would create the TTL index, and the server's sweep (every
    # second here) could then remove the expired documents before delete_expired does
    fresh = datetime.now(UTC) + timedelta(seconds=60)
    await store.collection.insert_one({"_id": f"{store.namespace}:fresh", "v": b"3", "exp": fresh})
    await store.collection.insert_one({"_id": f"{store.namespace}:forever", "v": b"4"})

    assert await store.delete_expired() == 2
    assert await store.delete_expired() == 0
    assert await store.collection.count_documents({}) == 2


async def test_delete_expired_leaves_parent_and_sibling_namespaces(unindexed_mongo_store: MongoStore) -> None:
    parent = unindexed_mongo_store
    child = parent.with_namespace("app")
    await write_expired(child, "mine", b"1")
    await write_expired(parent, "parents", b"2")
    await write_expired(parent.with_namespace("apple"), "siblings", b"3")
    await parent.collection.insert_one({"_id": "LITESTAR-other:theirs", "exp": datetime.now(UTC) - timedelta(days=1)})

    assert await child.delete_expired() == 1
    assert await parent.collection.count_documents({}) == 3


async def test_sub_second_expiry(mongo_store: MongoStore) -> None:
    await mongo_store.set("short", b"v", expires_in=0.3)
    assert await mongo_store.get("short") == b"v"
    assert await mongo_store.expires_in("short") == 1
    await asyncio.sleep(0.45)
    assert await mongo_store.get("short") is None
    assert await mongo_store.exists("short") is False


async def test_server_ttl_sweep_removes_expired_documents(mongo_store: MongoStore) -> None:
    """The TTL index works: the server deletes due documents by itself (SecantusDB sweeps every second here,
    a real mongod about every 60 s, hence the wide deadline)."""
    await mongo_store.set("short", b"v", expires_in=0.2)
    await mongo_store.set("forever", b"v")
    document_id = f"{mongo_store.namespace}:short"
    deadline = time.monotonic() + 150
    while await mongo_store.collection.count_documents({"_id": document_id}) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert await mongo_store.collection.count_documents({"_id": document_id}) == 0
    assert await mongo_store.get("forever") == b"v"
    assert await mongo_store.delete_expired() == 0
