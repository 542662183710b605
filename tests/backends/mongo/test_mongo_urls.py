"""MongoStore.from_url: options checked by our code before any connection, ``namespace`` under the default root."""

from __future__ import annotations

import traceback
from urllib.parse import urlsplit, urlunsplit

import pytest

from litestar_kvstores import StoreError, store_from_url
from litestar_kvstores.mongo import MongoStore
from tests.support.mongo import collect_sockets_leaked_by_pymongo
from tests.support.stores import TEST_DATABASE, unique_namespace

# Nothing listens on port 9 and nothing resolves under .invalid: an option error has to come before any connection
# or DNS lookup, which would fail with a different error that does not name the option.
UNREACHABLE_URLS = [
    "mongodb://kv-user:s3cret-pa55@127.0.0.1:9/",
    "mongodb+srv://kv-user:s3cret-pa55@cluster0.example.invalid/",
]


@pytest.mark.parametrize("url", UNREACHABLE_URLS)
@pytest.mark.parametrize(
    ("query", "options"),
    [
        ("?noSuchOption=1", {}),
        ("?noSuchOption=", {}),
        ("?authSource=admin&noSuchOption=1&namespace=app", {}),
        ("", {"noSuchOption": 1}),
    ],
)
def test_unknown_option_raises_value_error_naming_it(url: str, query: str, options: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=r"unknown option\(s\) 'noSuchOption'") as caught:
        MongoStore.from_url(url + query, **options)
    assert "s3cret-pa55" not in "".join(traceback.format_exception(caught.value))


def test_database_and_collection_are_options_of_the_store() -> None:
    store = MongoStore.from_url("mongodb://127.0.0.1:9/?database=app_db&collection=kv", socketTimeoutMS=500)
    assert store.collection.full_name == "app_db.kv"
    assert store.collection.database.client.options.pool_options.socket_timeout == 0.5
    assert store.namespace == "LITESTAR"


def test_keyword_namespace_wins_over_the_query() -> None:
    store = MongoStore.from_url("mongodb://127.0.0.1:9/?namespace=from_query", namespace="from_kwargs")
    assert store.namespace == "LITESTAR/from_kwargs"


@pytest.mark.parametrize(
    ("query", "message"),
    [("namespace=", "'namespace' must not be empty"), ("namespace=a/b", "Invalid namespace name 'a/b'")],
)
def test_an_empty_or_nested_namespace_option_is_refused(query: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MongoStore.from_url(f"mongodb://127.0.0.1:9/?{query}")


async def test_namespace_option_is_a_child_of_the_default_root_and_owns_the_client(mongo_url: str) -> None:
    name = f"{unique_namespace()}"
    separator = "&" if "?" in mongo_url else "?"
    store = store_from_url(f"{mongo_url}{separator}database={TEST_DATABASE}&namespace={name}")
    assert isinstance(store, MongoStore)
    assert store.namespace == f"LITESTAR/{name}"
    async with store, MongoStore.with_client(mongo_url, database=TEST_DATABASE) as root:
        await store.set("k", b"v")
        assert await root.with_namespace(name).get("k") == b"v"
        assert await root.collection.count_documents({"_id": f"LITESTAR/{name}:k"}) == 1
        await store.delete_all()
    with pytest.raises(StoreError):  # leaving `async with` closed the client the URL's store made
        await store.get("k")
    collect_sockets_leaked_by_pymongo()


def test_address_names_every_server_and_no_credentials() -> None:
    store = MongoStore.from_url("mongodb://kv-user:s3cret-pa55@127.0.0.1:9,[::1]:10/?replicaSet=rs0")
    assert sorted(store.address.split(", ")) == ["127.0.0.1:9", "[::1]:10"]
    assert store.with_namespace("child").address == store.address
    assert f"address={store.address!r}" in repr(store)
    assert "s3cret-pa55" not in repr(store)
    assert "kv-user" not in repr(store)


def test_the_path_names_the_database_as_in_pymongo() -> None:
    store = MongoStore.from_url("mongodb://kv-user:s3cret-pa55@127.0.0.1:9/myapp?authSource=admin")
    assert "database='myapp'" in repr(store)
    assert "database='myapp'" in repr(MongoStore.from_url("mongodb://127.0.0.1:9/myapp", database="myapp"))
    assert "database='litestar'" in repr(MongoStore.from_url("mongodb://127.0.0.1:9/"))


@pytest.mark.parametrize("given", [{"database": "other"}, {}])
def test_a_path_and_a_database_option_that_differ_are_refused(given: dict[str, str]) -> None:
    query = "" if given else "?database=other"
    with pytest.raises(ValueError, match=r"'myapp'.*'other'") as raised:
        MongoStore.from_url(f"mongodb://kv-user:s3cret-pa55@127.0.0.1:9/myapp{query}", **given)
    assert "s3cret-pa55" not in str(raised.value)


async def test_a_store_from_a_url_with_a_database_path_writes_there(mongo_url: str) -> None:
    parts = urlsplit(mongo_url)
    query = "&".join(filter(None, [parts.query, f"namespace={unique_namespace()}"]))
    store = store_from_url(urlunsplit(parts._replace(path=f"/{TEST_DATABASE}", query=query)))
    assert isinstance(store, MongoStore)
    async with store:
        await store.set("k", b"v")
        assert store.collection.database.name == TEST_DATABASE
        assert await store.collection.count_documents({"_id": f"{store.namespace}:k"}) == 1
        await store.delete_all()
    collect_sockets_leaked_by_pymongo()
