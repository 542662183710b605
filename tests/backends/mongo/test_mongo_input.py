"""MongoStore's own arguments: namespace paths, database options and client options."""

from __future__ import annotations

from typing import Any

import pytest

from litestar_kvstores.mongo import DEFAULT_SOCKET_TIMEOUT_MS, DEFAULT_TIMEOUT_MS, MongoStore
from litestar_kvstores.urls import split_url
from tests.support.stores import TEST_DATABASE


@pytest.mark.parametrize("namespace", ["", "a//b", "a/", "/a", "a:b", "a b", "a/b:c", "..", "a/../b", "ключ"])
def test_invalid_namespace_path_raises_value_error(mongo_store: MongoStore, namespace: str) -> None:
    client = mongo_store.collection.database.client
    with pytest.raises(ValueError, match="namespace"):
        MongoStore(client, namespace=namespace)
    with pytest.raises(ValueError, match="namespace"):
        MongoStore.with_client("mongodb://127.0.0.1:1/", namespace=namespace)


@pytest.mark.parametrize("namespace", [None, 5, b"ns", ["a"]])
def test_namespace_of_a_wrong_type_raises_type_error(mongo_store: MongoStore, namespace: object) -> None:
    with pytest.raises(TypeError):
        MongoStore(mongo_store.collection.database.client, namespace=namespace)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["a/b", "a:b", ""])
def test_with_namespace_rejects_separators(mongo_store: MongoStore, name: str) -> None:
    with pytest.raises(ValueError, match="namespace"):
        mongo_store.with_namespace(name)


async def test_valid_namespace_path_is_kept(mongo_store: MongoStore) -> None:
    store = MongoStore(mongo_store.collection.database.client, namespace="app-1/sessions_v2/x.y")
    assert store.namespace == "app-1/sessions_v2/x.y"
    assert store.with_namespace("z").namespace == "app-1/sessions_v2/x.y/z"


@pytest.mark.parametrize(
    ("url", "options", "expected_ms"),
    [
        ("mongodb://127.0.0.1:1/", {}, DEFAULT_TIMEOUT_MS),
        ("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=1234", {}, 1234),
        ("mongodb://127.0.0.1:1/?serverselectiontimeoutms=1234", {}, 1234),
        ("mongodb://127.0.0.1:1/", {"serverSelectionTimeoutMS": 4321}, 4321),
    ],
)
async def test_server_selection_timeout_defaults_to_a_few_seconds(
    url: str, options: dict[str, Any], expected_ms: int
) -> None:
    async with MongoStore.with_client(url, **options) as store:
        client_options = store.collection.database.client.options
        assert client_options.server_selection_timeout == expected_ms / 1000
        assert client_options.pool_options.connect_timeout == DEFAULT_TIMEOUT_MS / 1000
        assert client_options.pool_options.socket_timeout == DEFAULT_SOCKET_TIMEOUT_MS / 1000


def test_unknown_client_option_raises_value_error_naming_it() -> None:
    with pytest.raises(ValueError, match=r"unknown option\(s\) 'noSuchOption'"):
        MongoStore.with_client("mongodb://127.0.0.1:1/?noSuchOption=1")
    with pytest.raises(ValueError, match=r"unknown option\(s\) 'noSuchOption'"):
        MongoStore.with_client("mongodb://127.0.0.1:1/", noSuchOption=1)


async def test_the_clients_own_parameters_are_accepted(mongo_url: str) -> None:
    host, _, port = split_url(mongo_url).netloc.rpartition("@")[2].rpartition(":")
    # the port as the client's keyword, not in the URL: the store reaches the same server
    async with MongoStore.with_client(f"mongodb://{host}", port=int(port), database=TEST_DATABASE) as store:
        await store.set("k", b"v", expires_in=60)
        assert await store.get("k") == b"v"
        await store.delete("k")
