"""MongoStore's document layout, indexes and round trips, observed on the real server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bson import Int64

from litestar_kvstores.mongo import TTL_INDEX_NAME, MongoStore
from tests.support.mongo import CommandLog


async def test_one_document_per_key_with_binary_value_and_date_expiry(mongo_store: MongoStore) -> None:
    before = datetime.now(UTC)
    await mongo_store.set("session", b"\x00\xffdata", expires_in=timedelta(seconds=90))
    await mongo_store.set("session", b"second", expires_in=timedelta(seconds=90))
    await mongo_store.set("forever", "text")

    assert await mongo_store.collection.count_documents({"_id": {"$regex": f"^{mongo_store.namespace}:"}}) == 2
    session = await mongo_store.collection.find_one({"_id": f"{mongo_store.namespace}:session"})
    assert session is not None
    assert set(session) == {"_id", "v", "exp"}
    assert session["v"] == b"second"
    assert isinstance(session["exp"], datetime)
    assert before + timedelta(seconds=89) < session["exp"] < datetime.now(UTC) + timedelta(seconds=91)
    forever = await mongo_store.collection.find_one({"_id": f"{mongo_store.namespace}:forever"})
    assert forever == {"_id": f"{mongo_store.namespace}:forever", "v": b"text", "exp": None}
    # the value is BSON binary (subtype 0) on the wire, not a string
    assert await mongo_store.collection.count_documents({"_id": forever["_id"], "v": {"$type": "binData"}}) == 1


async def test_counter_is_a_64_bit_integer_document(mongo_store: MongoStore) -> None:
    assert await mongo_store.incr("hits", 41) == 41
    document = await mongo_store.collection.find_one({"_id": f"{mongo_store.namespace}:hits"})
    assert document is not None
    assert isinstance(document["v"], Int64)
    assert await mongo_store.get("hits") == b"41"


async def test_ttl_index_on_expiry_exists(mongo_store: MongoStore) -> None:
    await mongo_store.set("k", b"v", expires_in=60)
    indexes = await mongo_store.collection.index_information()
    assert indexes[TTL_INDEX_NAME]["key"] == [("exp", 1)]
    assert indexes[TTL_INDEX_NAME]["expireAfterSeconds"] == 0


async def test_ttl_index_is_created_once_not_per_operation(
    logged_mongo_store: MongoStore, mongo_command_log: CommandLog
) -> None:
    child = logged_mongo_store.with_namespace("child")
    for i in range(5):
        await logged_mongo_store.set(f"k{i}", b"v", expires_in=60)
        await child.set(f"k{i}", b"v", expires_in=60)
        await logged_mongo_store.incr("counter", expires_in=60)
        await logged_mongo_store.get(f"k{i}", renew_for=60)
    await logged_mongo_store.set_many({"a": b"1", "b": b"2"}, expires_in=60)
    assert mongo_command_log.names().count("createIndexes") == 1
    assert mongo_command_log.names()[0] == "createIndexes"


async def test_set_and_get_are_one_command_each(logged_mongo_store: MongoStore, mongo_command_log: CommandLog) -> None:
    await logged_mongo_store.set("warm-up", b"v")
    mongo_command_log.clear()
    await logged_mongo_store.set("k", b"v", expires_in=30)
    await logged_mongo_store.get("k")
    await logged_mongo_store.get("missing")
    await logged_mongo_store.exists("k")
    await logged_mongo_store.delete("k")
    assert mongo_command_log.names() == ["update", "find", "find", "find", "delete"]


async def test_get_with_renewal_is_one_find_and_modify_for_entries_with_expiry(
    logged_mongo_store: MongoStore, mongo_command_log: CommandLog
) -> None:
    await logged_mongo_store.set("expiring", b"v", expires_in=5)
    await logged_mongo_store.set("forever", b"w")
    mongo_command_log.clear()

    assert await logged_mongo_store.get("expiring", renew_for=timedelta(days=1)) == b"v"
    assert await logged_mongo_store.get("forever", renew_for=timedelta(days=1)) == b"w"
    assert await logged_mongo_store.get("missing", renew_for=timedelta(days=1)) is None

    # an entry with expiry: one command; without expiry or missing: a second read
    assert mongo_command_log.names() == ["findAndModify", "findAndModify", "find", "findAndModify", "find"]
    assert await logged_mongo_store.expires_in("expiring") in {86_399, 86_400}
    assert await logged_mongo_store.expires_in("forever") is None
    forever = await logged_mongo_store.collection.find_one({"_id": f"{logged_mongo_store.namespace}:forever"})
    assert forever is not None
    assert forever.get("exp") is None


async def test_set_many_is_one_bulk_write(logged_mongo_store: MongoStore, mongo_command_log: CommandLog) -> None:
    await logged_mongo_store.set("warm-up", b"v")
    mongo_command_log.clear()
    mapping = {f"key-{i}": f"value-{i}".encode() for i in range(50)}

    await logged_mongo_store.set_many(mapping, expires_in=60)

    updates = mongo_command_log.commands("update")
    assert mongo_command_log.names() == ["update"]
    assert len(updates[0]["updates"]) == 50
    assert await logged_mongo_store.get_many(mapping) == mapping


async def test_get_many_and_delete_many_are_one_command_each(
    logged_mongo_store: MongoStore, mongo_command_log: CommandLog
) -> None:
    await logged_mongo_store.set_many({"a": b"1", "b": b"2", "c": b"3"})
    mongo_command_log.clear()

    assert await logged_mongo_store.get_many(["a", "b", "missing"]) == {"a": b"1", "b": b"2", "missing": None}
    await logged_mongo_store.delete_many(["a", "b", "missing"])

    assert mongo_command_log.names() == ["find", "delete"]
    assert await logged_mongo_store.get_many(["a", "b", "c"]) == {"a": None, "b": None, "c": b"3"}


async def test_empty_bulk_operations_send_nothing(
    logged_mongo_store: MongoStore, mongo_command_log: CommandLog
) -> None:
    await logged_mongo_store.set_many({})
    await logged_mongo_store.delete_many([])
    assert await logged_mongo_store.get_many([]) == {}
    assert mongo_command_log.names() == []
