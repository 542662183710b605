"""Drop-in for ``litestar.stores``: every public construction and attribute of Litestar's stores works on ours.

Litestar's stores guide (and Litestar's own API) is the reference: each store class of ours accepts every parameter
of Litestar's counterpart, with the same kind (positional or keyword-only), offers every public method and attribute
of it (``async`` where Litestar's is), and the guide's constructions run unchanged with only the import changed.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import anyio
import pytest
from litestar.stores import file as litestar_file
from litestar.stores import memory as litestar_memory
from litestar.stores import redis as litestar_redis
from litestar.stores import registry as litestar_registry
from litestar.stores import valkey as litestar_valkey

from litestar_kvstores import FileStore, MemoryStore, StoreRegistry
from litestar_kvstores.redis import RedisStore
from litestar_kvstores.valkey import ValkeyStore

PAIRS: list[tuple[type[Any], type[Any]]] = [
    (litestar_memory.MemoryStore, MemoryStore),
    (litestar_file.FileStore, FileStore),
    (litestar_redis.RedisStore, RedisStore),
    (litestar_valkey.ValkeyStore, ValkeyStore),
    (litestar_registry.StoreRegistry, StoreRegistry),
]
IDS = [theirs.__module__ + "." + theirs.__name__ for theirs, _ in PAIRS]


def _parameters(function: Any) -> dict[str, inspect.Parameter]:
    return {
        name: parameter
        for name, parameter in inspect.signature(function).parameters.items()
        if name != "self" and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    }


def _public_members(cls: type[Any]) -> dict[str, Any]:
    return {
        name: member
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") and name not in {"path"}  # FileStore.path: an instance attribute, tested below
    }


CONSTRUCTORS = [
    pytest.param(theirs, ours, method, id=f"{theirs.__module__}.{theirs.__name__}.{method}")
    for theirs, ours in PAIRS
    for method in ("__init__", "with_client")
    if hasattr(theirs, method)
]


@pytest.mark.parametrize(("theirs", "ours", "method"), CONSTRUCTORS)
def test_every_parameter_of_litestars_constructors_is_accepted(theirs: type[Any], ours: type[Any], method: str) -> None:
    our_parameters = _parameters(getattr(ours, method))
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    for name, parameter in _parameters(getattr(theirs, method)).items():
        assert name in our_parameters, f"{ours.__name__}.{method} lacks Litestar's parameter {name!r}"
        if parameter.kind in positional:
            assert our_parameters[name].kind in positional, f"{ours.__name__}.{method}({name}) must be positional"
        if parameter.default is inspect.Parameter.empty:
            continue
        assert our_parameters[name].default is not inspect.Parameter.empty, f"{name!r} must stay optional"


@pytest.mark.parametrize(("theirs", "ours"), PAIRS, ids=IDS)
def test_every_public_method_of_litestars_stores_exists(theirs: type[Any], ours: type[Any]) -> None:
    our_members = _public_members(ours)
    for name, member in _public_members(theirs).items():
        assert name in our_members, f"{ours.__name__} lacks Litestar's {name!r}"
        if inspect.iscoroutinefunction(member):
            assert inspect.iscoroutinefunction(our_members[name]), f"{ours.__name__}.{name} must be async"


async def test_file_store_path_is_litestars_anyio_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = FileStore(Path("data"))
    assert isinstance(store.path, anyio.Path)
    assert str(store.path) == "data"
    assert not await store.path.exists()
    await store.set("key", b"value")
    assert await store.path.exists()  # what user code written for Litestar's FileStore does
    assert str(store.with_namespace("sessions").path) == str(Path("data") / "sessions")


async def test_file_store_create_directories(tmp_path: Path) -> None:
    async with FileStore(tmp_path / "made", create_directories=True) as store:
        await store.set("key", b"value")
        assert await store.get("key") == b"value"
    # as Litestar's: the first write creates the store's own directory, not its parents
    own = FileStore(tmp_path / "own", create_directories=False)
    await own.set("key", b"value")
    assert await own.get("key") == b"value"
    orphan = FileStore(tmp_path / "missing" / "store", create_directories=False)
    with pytest.raises(FileNotFoundError):
        await orphan.set("key", b"value")


def test_guide_constructions_run_with_only_the_import_changed(tmp_path: Path) -> None:
    from litestar import Litestar, get
    from litestar.config.response_cache import ResponseCacheConfig
    from litestar.middleware.rate_limit import RateLimitConfig
    from litestar.middleware.session.server_side import ServerSideSessionConfig

    @get(cache=True, sync_to_thread=False)
    def cached_handler() -> str:
        return "Hello, world!"

    root_store = RedisStore.with_client()
    apps = [
        Litestar([], stores={"memory": MemoryStore()}),
        Litestar([], stores=StoreRegistry(default_factory=lambda name: MemoryStore())),
        Litestar(
            stores={"redis": RedisStore.with_client(), "file": FileStore(tmp_path / "data")},
            response_cache_config=ResponseCacheConfig(store="redis"),
            middleware=[
                ServerSideSessionConfig(store="file").middleware,
                RateLimitConfig(rate_limit=("second", 10), store="redis").middleware,
            ],
        ),
        Litestar(
            [cached_handler],
            stores=StoreRegistry(default_factory=root_store.with_namespace),
            middleware=[RateLimitConfig(("second", 1)).middleware, ServerSideSessionConfig().middleware],
        ),
    ]
    assert all(isinstance(app.stores, StoreRegistry) for app in apps[1:2] + apps[3:])
    assert isinstance(apps[0].stores.get("memory"), MemoryStore)
    assert RedisStore.with_client(namespace=None).namespace is None
    assert root_store.with_namespace("cache").namespace == "LITESTAR/cache"
