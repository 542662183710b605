"""Copy, export and import between real backends: every shared backend (SQL included) to and from the file store
(and memory to and from Redis), expiries kept, interrupt-and-resume, the CLI surface, flat memory for 100k keys."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from litestar_kvstores import KVStore, MemoryStore, store_from_url
from litestar_kvstores.operations import copy_tree, count_tree, export_tree, import_tree, walk
from tests.support.cli import invoke
from tests.support.stores import url_for

SHARED = ["sqlite", "redis", "valkey", "redis_cluster", "valkey_cluster", "mongo", "postgres"]


async def opened(url: str) -> KVStore:
    store = store_from_url(url)
    assert isinstance(store, KVStore)
    await store.__aenter__()
    return store


async def fill(store: KVStore, keys: int = 30) -> None:
    await store.set_many({f"plain{i}": f"value {i}" for i in range(keys)})
    await store.set_many({f"expiring{i}": b"\x00\x01" * i for i in range(keys)}, expires_in=300)
    await store.with_namespace("child").set("k:with/odd*chars", b"c", expires_in=120)
    await store.with_namespace("child").with_namespace("grand").set("g", b"g")


async def snapshot(store: KVStore) -> Tree:
    found: Tree = {}
    async for path, namespace in walk(store):
        keys = [key async for key in namespace.keys()]  # noqa: SIM118  (KVStore.keys, not dict.keys)
        values = await namespace.get_many(keys)
        for key in keys:
            found[(path, key)] = (values[key], await namespace.expires_in(key))
    return found


Tree = dict[tuple[str, str], tuple[bytes | None, int | None]]


def assert_same_tree(copied: Tree, original: Tree) -> None:
    assert copied.keys() == original.keys()
    for slot, (value, expiry) in original.items():
        assert copied[slot][0] == value, slot
        if expiry is None:
            assert copied[slot][1] is None, slot
        else:  # whole seconds rounded up (a copy may outlive its original by <1 s); the reads are seconds apart
            copied_expiry = copied[slot][1]
            assert copied_expiry is not None, slot
            assert expiry - 5 <= copied_expiry <= expiry + 1, slot


@pytest.fixture
async def file_store(tmp_path: Path) -> AsyncIterator[KVStore]:
    store = await opened(f"file://{tmp_path / 'files'}?namespace=copy")
    yield store
    await store.__aexit__(None, None, None)


@pytest.mark.parametrize("backend", SHARED)
@pytest.mark.parametrize("direction", ["from_file", "to_file"])
async def test_copy_between_the_file_store_and_each_server_backend(
    backend: str, direction: str, file_store: KVStore, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    server = await opened(url_for(backend, request, tmp_path))
    try:
        source, destination = (file_store, server) if direction == "from_file" else (server, file_store)
        await fill(source)
        summary = await copy_tree(source, destination, batch_size=16)
        assert (summary.copied, summary.failed) == (62, 0)
        assert_same_tree(await snapshot(destination), await snapshot(source))
    finally:
        await server.delete_all()
        await server.__aexit__(None, None, None)


@pytest.mark.parametrize("direction", ["to_redis", "from_redis"])
async def test_copy_between_memory_and_redis(direction: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    memory = MemoryStore().with_namespace("copy")
    redis = await opened(url_for("redis", request, tmp_path))
    try:
        source, destination = (memory, redis) if direction == "to_redis" else (redis, memory)
        await fill(source)
        await copy_tree(source, destination)
        assert_same_tree(await snapshot(destination), await snapshot(source))
    finally:
        await redis.delete_all()
        await redis.__aexit__(None, None, None)


async def test_an_interrupted_copy_finishes_when_run_again_with_skip(file_store: KVStore) -> None:
    destination = MemoryStore().with_namespace("dst")
    await fill(file_store, keys=400)
    batches = 0

    def stop_after_two(keys: int, size: int) -> None:
        nonlocal batches
        batches += 1
        if batches == 2:
            raise KeyboardInterrupt  # what Ctrl-C raises in the CLI

    with pytest.raises(KeyboardInterrupt):
        await copy_tree(file_store, destination, batch_size=50, progress=stop_after_two)
    partial = await count_tree(destination)
    assert 0 < partial < 802
    summary = await copy_tree(file_store, destination, existing="skip", batch_size=50)
    assert summary.skipped == partial
    assert summary.copied == 802 - partial
    assert_same_tree(await snapshot(destination), await snapshot(file_store))


def test_cli_copy_refuses_then_skips_then_reports(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    source = f"file://{tmp_path / 'src'}"
    destination = url_for("redis", request, tmp_path)

    async def prepare() -> None:
        async with store_from_url(source) as src, store_from_url(destination) as dst:
            assert isinstance(src, KVStore)
            assert isinstance(dst, KVStore)
            await fill(src, keys=5)
            await dst.set("plain0", b"already there")

    asyncio.run(prepare())
    refused = invoke({}, "copy", source, destination)
    assert refused.exit_code == 1
    assert "holds 1 key(s)" in refused.output
    dry = invoke({}, "copy", source, destination, "--dry-run", "--skip-existing")
    assert dry.exit_code == 0, dry.output
    assert "would copy: copied=11 skipped=1 expired=0 failed=0" in dry.output
    done = invoke({}, "copy", source, destination, "--skip-existing")
    assert done.exit_code == 0, done.output
    assert "copied: copied=11 skipped=1 expired=0 failed=0" in done.output
    both = invoke({}, "copy", source, destination, "--skip-existing", "--overwrite")
    assert both.exit_code == 2

    async def check() -> None:
        async with store_from_url(destination) as dst:
            assert isinstance(dst, KVStore)
            assert await dst.get("plain0") == b"already there"
            assert await count_tree(dst) == 12
            await dst.delete_all()

    asyncio.run(check())


def test_cli_export_then_import_through_a_file(tmp_path: Path) -> None:
    source = f"file://{tmp_path / 'src'}"
    destination = f"file://{tmp_path / 'dst'}"

    async def prepare() -> None:
        async with store_from_url(source) as src:
            assert isinstance(src, KVStore)
            await fill(src, keys=5)

    asyncio.run(prepare())
    exported = invoke({}, "export", source, str(tmp_path / "backup.jsonl"))
    assert exported.exit_code == 0, exported.output
    assert "exported: copied=12" in exported.output
    imported = invoke({}, "import", str(tmp_path / "backup.jsonl"), destination)
    assert imported.exit_code == 0, imported.output

    async def compare() -> None:
        async with store_from_url(source) as src, store_from_url(destination) as dst:
            assert isinstance(src, KVStore)
            assert isinstance(dst, KVStore)
            assert_same_tree(await snapshot(dst), await snapshot(src))

    asyncio.run(compare())
    (tmp_path / "bad.jsonl").write_text((tmp_path / "backup.jsonl").read_text() + "{broken\n")
    broken = invoke({}, "import", str(tmp_path / "bad.jsonl"), destination)
    assert broken.exit_code == 1
    assert "line 14" in broken.output


async def test_export_and_import_of_100k_keys_keep_memory_flat(tmp_path: Path) -> None:
    source = MemoryStore()
    await source.set_many({f"key-{i:06d}": b"v" * 100 for i in range(100_000)})
    export_path = tmp_path / "export.jsonl"
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        with export_path.open("w", encoding="utf-8") as out:
            summary = await export_tree(source, out, batch_size=1000)
        export_peak = tracemalloc.get_traced_memory()[1] - before
        assert summary.copied == 100_000
        destination = MemoryStore()
        tracemalloc.reset_peak()
        with export_path.open(encoding="utf-8") as lines:
            imported = await import_tree(destination, lines, batch_size=1000)
        stored, import_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert imported.copied == 100_000
    # the file is ~17 MB and the values ~10 MB: streaming keeps the working set to a few batches
    assert export_peak < 8_000_000, export_peak
    assert import_peak - stored < 8_000_000, (import_peak, stored)
    assert await destination.get("key-099999") == b"v" * 100
