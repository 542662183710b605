"""MongoStore namespaces: isolation by ``_id`` prefix, in a collection other software may share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from bson import ObjectId

from litestar_kvstores.mongo import MongoStore
from tests.support.mongo import all_keys


def foreign_documents(root: str) -> list[dict[str, object]]:
    """Documents of other software in the store's collection, some with ids that resemble the store's."""
    return [
        {"_id": ObjectId(), "name": "a document of another application"},
        {"_id": 42, "v": b"x"},
        {"_id": root, "v": b"no separator"},
        {"_id": f"{root}x:key", "v": b"longer root name"},
        {"_id": f"{root}.app:key", "v": b"dot instead of slash"},
        {"_id": f"prefix-{root}/app:key", "v": b"not anchored"},
        {"_id": {"nested": f"{root}/app:key"}, "v": b"a document as id"},
    ]


@pytest.fixture
async def foreign(mongo_store: MongoStore) -> AsyncIterator[list[dict[str, object]]]:
    """The foreign documents, inserted into the store's collection for the test."""
    assert mongo_store.namespace is not None
    documents = foreign_documents(mongo_store.namespace)
    await mongo_store.collection.insert_many([dict(document) for document in documents])
    yield documents
    await mongo_store.collection.delete_many({"_id": {"$in": [document["_id"] for document in documents]}})


async def test_delete_all_deletes_namespace_and_children_only(
    mongo_store: MongoStore, foreign: list[dict[str, object]]
) -> None:
    app = mongo_store.with_namespace("app")
    apple = mongo_store.with_namespace("apple")
    grandchild = app.with_namespace("sessions").with_namespace("v2")
    await mongo_store.set("parent-key", b"p")
    await app.set("k", b"a")
    await app.with_namespace("sessions").set("k", b"s")
    await grandchild.set("k", b"g", expires_in=60)
    await apple.set("k", b"apple")

    await app.delete_all()

    assert await app.get("k") is None
    assert await app.with_namespace("sessions").get("k") is None
    assert await grandchild.get("k") is None
    assert await apple.get("k") == b"apple"
    assert await mongo_store.get("parent-key") == b"p"
    await mongo_store.delete_all()

    assert await all_keys(mongo_store) == []
    assert await apple.get("k") is None
    for document in foreign:
        assert await mongo_store.collection.count_documents({"_id": document["_id"]}) == 1


@pytest.mark.usefixtures("foreign")
async def test_keys_and_count_cover_this_namespace_only(mongo_store: MongoStore) -> None:
    await mongo_store.set_many({"a": b"1", "b:c": b"2", "d/e": b"3"})
    await mongo_store.with_namespace("child").set("child-key", b"4")
    await mongo_store.with_namespace("x").set("x", b"5")

    assert await all_keys(mongo_store) == ["a", "b:c", "d/e"]
    assert await mongo_store.count() == 3


@pytest.mark.parametrize("key", ["a:b", "child:x", "x/y", ".*", "^$", "(", "[", "\\", "ключ", "🔑", " ", "a" * 1000])
async def test_keys_with_any_characters_stay_in_their_namespace(mongo_store: MongoStore, key: str) -> None:
    child = mongo_store.with_namespace("child")
    await mongo_store.set(key, b"root")
    await child.set(key, b"child")
    assert await mongo_store.get(key) == b"root"
    assert await child.get(key) == b"child"
    assert await all_keys(child) == [key]
    await child.delete_all()
    assert await mongo_store.get(key) == b"root"


async def test_namespace_names_with_regex_characters_are_literal(mongo_store: MongoStore) -> None:
    dotted = mongo_store.with_namespace("a.b")
    lookalike = mongo_store.with_namespace("aXb")
    await dotted.set("k", b"dotted")
    await lookalike.set("k", b"lookalike")
    await dotted.delete_all()
    assert await lookalike.get("k") == b"lookalike"
    assert await lookalike.count() == 1


async def test_namespace_path_in_constructor_equals_with_namespace(mongo_store: MongoStore) -> None:
    assert mongo_store.namespace is not None
    client = mongo_store.collection.database.client
    direct = MongoStore(
        client,
        database=mongo_store.collection.database.name,
        collection=mongo_store.collection.name,
        namespace=f"{mongo_store.namespace}/a/b",
    )
    await mongo_store.with_namespace("a").with_namespace("b").set("k", b"v")
    assert await direct.get("k") == b"v"
    assert direct.namespace == f"{mongo_store.namespace}/a/b"


async def test_children_share_the_client_and_do_not_close_it(mongo_store: MongoStore) -> None:
    child = mongo_store.with_namespace("child")
    assert child.collection.database.client is mongo_store.collection.database.client
    async with child:
        await child.set("k", b"v")
    assert await mongo_store.ping() is True
    assert await child.get("k") == b"v"


async def test_store_on_a_given_client_leaves_it_open(mongo_store: MongoStore) -> None:
    client = mongo_store.collection.database.client
    async with MongoStore(client, database=mongo_store.collection.database.name, namespace="borrowed") as borrowed:
        await borrowed.set("k", b"v")
        await borrowed.delete_all()
    assert await mongo_store.ping() is True
