"""copy_tree, export_tree and import_tree through the public interface (in-process stores here; every pair of
backends is covered in ``tests/operations/test_operations_backends.py``)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import Iterable

import pytest

from litestar_kvstores import MemoryStore
from litestar_kvstores.base import KVStore
from litestar_kvstores.operations import (
    EXPORT_FORMAT,
    ExistingKeysError,
    ImportFormatError,
    copy_tree,
    count_tree,
    export_tree,
    import_tree,
    walk,
)


async def fill_tree(store: KVStore) -> None:
    await store.set("root-key", b"r")
    await store.set("expiring", b"e", expires_in=100)
    await store.with_namespace("a").set("k1", b"1")
    await store.with_namespace("a").with_namespace("b").set("k2", b"\x00\xff binary")
    await store.with_namespace("c").set("k3", "ünï", expires_in=50)


async def tree_of(store: KVStore) -> dict[tuple[str, str], tuple[bytes | None, int | None]]:
    found = {}
    async for path, namespace in walk(store):
        async for key in namespace.keys():
            found[(path, key)] = (await namespace.get(key), await namespace.expires_in(key))
    return found


async def test_walk_visits_every_namespace_holding_keys() -> None:
    store = MemoryStore().with_namespace("src")
    await fill_tree(store)
    await store.with_namespace("emptied").set("x", b"x")
    await store.with_namespace("emptied").delete("x")
    assert [path async for path, _ in walk(store)] == ["", "a", "a/b", "c"]
    assert await count_tree(store) == 5


async def test_copy_tree_copies_values_and_remaining_expiry() -> None:
    source, destination = MemoryStore().with_namespace("src"), MemoryStore().with_namespace("dst")
    await fill_tree(source)
    summary = await copy_tree(source, destination)
    assert (summary.copied, summary.skipped, summary.expired, summary.failed) == (5, 0, 0, 0)
    assert await tree_of(destination) == await tree_of(source)
    assert (await tree_of(destination))[("c", "k3")] == ("ünï".encode(), 50)


async def test_copy_tree_refuses_a_destination_with_keys_naming_how_many() -> None:
    source, destination = MemoryStore(), MemoryStore()
    await fill_tree(source)
    await destination.with_namespace("x").set("there", b"1")
    await destination.set("also", b"2")
    with pytest.raises(ExistingKeysError, match="2 key") as caught:
        await copy_tree(source, destination)
    assert caught.value.count == 2
    assert await count_tree(destination) == 2


async def test_skip_existing_finishes_an_interrupted_copy_without_touching_what_is_there() -> None:
    source, destination = MemoryStore(), MemoryStore()
    await fill_tree(source)
    await destination.with_namespace("a").set("k1", b"already")
    summary = await copy_tree(source, destination, existing="skip")
    assert (summary.copied, summary.skipped) == (4, 1)
    assert await destination.with_namespace("a").get("k1") == b"already"
    again = await copy_tree(source, destination, existing="skip")
    assert (again.copied, again.skipped) == (0, 5)


async def test_overwrite_replaces() -> None:
    source, destination = MemoryStore(), MemoryStore()
    await fill_tree(source)
    await destination.with_namespace("a").set("k1", b"old")
    summary = await copy_tree(source, destination, existing="overwrite")
    assert summary.copied == 5
    assert await destination.with_namespace("a").get("k1") == b"1"


async def test_dry_run_writes_nothing() -> None:
    source, destination = MemoryStore(), MemoryStore()
    await fill_tree(source)
    summary = await copy_tree(source, destination, dry_run=True)
    assert summary.copied == 5
    assert await count_tree(destination) == 0


class SlowReadingStore(MemoryStore):
    """Reads values 0.1 s late, so a key can expire between being listed and being read."""

    __slots__ = ()

    async def get_many(self, keys: Iterable[str]) -> dict[str, bytes | None]:
        await asyncio.sleep(0.1)
        return await super().get_many(keys)


async def test_keys_expiring_during_the_copy_are_counted_as_expired_not_written() -> None:
    source, destination = SlowReadingStore(), MemoryStore()
    await source.set("soon", b"x", expires_in=0.05)
    await source.set("stays", b"y")
    summary = await copy_tree(source, destination)
    assert (summary.copied, summary.expired) == (1, 1)
    assert not await destination.exists("soon")


async def test_progress_is_reported_per_batch() -> None:
    source, destination = MemoryStore(), MemoryStore()
    await source.set_many({f"k{i}": b"12345" for i in range(25)})
    seen: list[tuple[int, int]] = []
    await copy_tree(source, destination, batch_size=10, progress=lambda keys, size: seen.append((keys, size)))
    assert seen == [(10, 50), (10, 50), (5, 25)]


async def test_export_then_import_round_trips_the_tree() -> None:
    source, destination = MemoryStore().with_namespace("s"), MemoryStore().with_namespace("d")
    await fill_tree(source)
    out = io.StringIO()
    exported = await export_tree(source, out)
    assert exported.copied == 5
    lines = out.getvalue().splitlines()
    assert json.loads(lines[0]) == {"format": EXPORT_FORMAT, "version": 1}
    record = json.loads(lines[1])
    assert set(record) == {"namespace", "key", "value", "expires_in"}
    imported = await import_tree(destination, lines, batch_size=2)
    assert imported.copied == 5
    assert await tree_of(destination) == await tree_of(source)


def _export(*records: dict[str, object]) -> list[str]:
    return [json.dumps({"format": EXPORT_FORMAT, "version": 1}), *(json.dumps(record) for record in records)]


def _record(key: str, value: bytes = b"v", namespace: str = "", expires_in: int | None = None) -> dict[str, object]:
    return {"namespace": namespace, "key": key, "value": base64.b64encode(value).decode(), "expires_in": expires_in}


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"namespace": "", "key": "k"}), "exactly"),
        (json.dumps({**_record("k"), "value": "***"}), "base64"),
        (json.dumps({**_record("k"), "expires_in": -3}), "expires_in"),
        (json.dumps({**_record("k"), "key": ""}), "key"),
        (json.dumps(_record("k", namespace="../escape")), "invalid namespace"),
    ],
)
async def test_a_malformed_line_stops_the_import_naming_its_number(bad_line: str, reason: str) -> None:
    store = MemoryStore()
    lines = [*_export(_record("before1"), _record("before2")), bad_line, json.dumps(_record("after"))]
    with pytest.raises(ImportFormatError, match=reason) as caught:
        await import_tree(store, lines, batch_size=100)
    assert caught.value.line == 4
    assert await store.get("before1") == b"v"
    assert await store.get("before2") == b"v"
    assert not await store.exists("after")


@pytest.mark.parametrize(
    "first",
    ["", "{}", json.dumps({"format": "other", "version": 1}), json.dumps({"format": EXPORT_FORMAT, "version": 2})],
)
async def test_an_import_needs_the_format_line(first: str) -> None:
    store = MemoryStore()
    with pytest.raises(ImportFormatError) as caught:
        await import_tree(store, [first, json.dumps(_record("k"))] if first else [])
    assert caught.value.line == 1
    assert not await store.exists("k")


async def test_import_skip_existing_and_refuse() -> None:
    store = MemoryStore()
    await store.set("k", b"mine")
    summary = await import_tree(store, _export(_record("k"), _record("new")), existing="skip")
    assert (summary.copied, summary.skipped) == (1, 1)
    assert await store.get("k") == b"mine"
    with pytest.raises(ExistingKeysError):
        await import_tree(store, _export(_record("x")), existing="refuse")
