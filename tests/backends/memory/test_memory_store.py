"""MemoryStore specifics: namespaces sharing one root, LRU bounds, delete_expired without blocking."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from litestar_kvstores import MemoryStore


async def test_namespaces_share_the_root_but_not_keys() -> None:
    root = MemoryStore()
    a, b = root.with_namespace("a"), root.with_namespace("b")
    await a.set("key", b"a")
    await b.set("key", b"b")
    assert await a.get("key") == b"a"
    assert await b.get("key") == b"b"
    assert await root.get("key") is None
    assert a.namespace == "a"
    assert a.with_namespace("c").namespace == "a/c"
    assert root.namespace is None


async def test_root_delete_all_clears_every_namespace() -> None:
    root = MemoryStore()
    await root.set("key", b"root")
    await root.with_namespace("a").with_namespace("b").set("key", b"deep")
    await root.delete_all()
    assert await root.get("key") is None
    assert await root.with_namespace("a").with_namespace("b").get("key") is None


async def test_a_namespace_object_keeps_working_after_its_parent_cleared_it() -> None:
    root = MemoryStore()
    child = root.with_namespace("child")
    await child.set("key", b"before")
    await root.delete_all()
    await child.set("key", b"after")
    assert await root.with_namespace("child").get("key") == b"after"


@pytest.mark.parametrize("bounds", [{"max_entries": 0}, {"max_bytes": -1}, {"max_entries": 1.5}, {"max_bytes": True}])
def test_bounds_must_be_positive_ints(bounds: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="positive int"):
        MemoryStore(**bounds)  # type: ignore[arg-type]


async def test_max_entries_evicts_least_recently_used_across_namespaces() -> None:
    root = MemoryStore(max_entries=3)
    ns = root.with_namespace("ns")
    await root.set("a", b"1")
    await ns.set("b", b"2")
    await root.set("c", b"3")
    assert await root.get("a") == b"1"  # "a" is now the most recently used; "b" the least
    await ns.set("d", b"4")
    assert await ns.get("b") is None
    assert await root.get_many(["a", "c"]) == {"a": b"1", "c": b"3"}
    assert await ns.get("d") == b"4"


async def test_counters_of_a_bounded_store_take_part_in_its_bounds() -> None:
    store = MemoryStore(max_entries=3)
    await store.set("old", b"x")
    assert await store.incr_and_read([("a", 60), ("b", None)]) == ([1, 1], [])
    assert await store.incr_and_read([("a", 60), ("c", None)], ["b"]) == ([2, 1], [b"1"])
    assert await store.get("old") is None  # the least recently used entry made room for the counters
    assert await store.get_many(["a", "b", "c"]) == {"a": b"2", "b": b"1", "c": b"1"}
    sized = MemoryStore(max_bytes=4)
    await sized.set("big", b"123")
    assert await sized.incr_and_read([("n", None), ("m", None)]) == ([1, 1], [])
    assert await sized.get("big") is None  # 3 + 1 + 1 bytes > 4


async def test_incr_and_read_nowait_counts_and_refuses_as_incr_and_read_does() -> None:
    store = MemoryStore()
    await store.set("read", b"7")
    assert store.incr_and_read_nowait([("a", 60), ("b", None)], ["read", "missing"]) == ([1, 1], [b"7", None])
    assert await store.incr_and_read([("a", 60), ("b", None)]) == ([2, 2], [])  # the same counters
    assert store.incr_and_read_nowait([("a", 60)]) == ([3], [])
    await store.set("text", b"abc")
    await store.set("top", b"9223372036854775807")
    bad_calls: list[tuple[list[tuple[Any, Any]], list[Any]]] = [
        ([("a", 60), ("text", 60)], []),  # holds no integer
        ([("a", 60), ("top", 60)], []),  # would overflow
        ([("a", 60), ("a", 60)], []),  # given twice
        ([("a", 60), ("", 60)], []),  # empty key
        ([("a", 60), ("c", 0)], []),  # bad expiry
        ([("a", 60)], [b"read"]),  # a read key of the wrong type
    ]
    for counters, reads in bad_calls:
        with pytest.raises((TypeError, ValueError)):
            store.incr_and_read_nowait(counters, reads)
    assert await store.get_many(["a", "text", "top", "c"]) == {  # nothing was written by a refused call
        "a": b"3",
        "text": b"abc",
        "top": b"9223372036854775807",
        "c": None,
    }


async def test_max_bytes_counts_value_lengths_across_namespaces() -> None:
    root = MemoryStore(max_bytes=10)
    ns = root.with_namespace("ns")
    await root.set("a", b"12345")
    await ns.set("b", b"12345")
    await root.set("a", b"123")  # replacing shrinks the total: nothing evicted
    assert await ns.get("b") == b"12345"
    await ns.set("c", b"1234")  # 3 + 5 + 4 > 10: "a" (least recently used) goes
    assert await root.get("a") is None
    assert await ns.get_many(["b", "c"]) == {"b": b"12345", "c": b"1234"}


async def test_value_larger_than_max_bytes_is_rejected_and_nothing_is_lost() -> None:
    store = MemoryStore(max_bytes=8)
    await store.set("key", b"old")
    with pytest.raises(ValueError, match="max_bytes=8"):
        await store.set("key", b"x" * 9)
    with pytest.raises(ValueError, match="max_bytes=8"):
        await store.set_many({"other": b"ok", "big": b"x" * 9})
    assert await store.get("key") == b"old"
    assert await store.get("other") is None


async def test_delete_and_delete_all_release_bounded_space() -> None:
    store = MemoryStore(max_bytes=10)
    ns = store.with_namespace("ns")
    await ns.set("a", b"1234567890")
    await ns.delete_all()
    await store.set("b", b"1234567890")
    await store.delete("b")
    await store.set("c", b"12345")
    await store.set("d", b"12345")
    assert await store.get_many(["c", "d"]) == {"c": b"12345", "d": b"12345"}


async def test_expired_entries_release_bounded_space() -> None:
    store = MemoryStore(max_entries=2)
    await store.set("a", b"1", expires_in=0.1)
    await store.set("b", b"2", expires_in=0.1)
    await asyncio.sleep(0.3)
    assert await store.delete_expired() == 2
    await store.set("c", b"3")
    await store.set("d", b"4")
    assert await store.get_many(["c", "d"]) == {"c": b"3", "d": b"4"}


async def test_delete_expired_lets_other_tasks_run_on_large_stores() -> None:
    store = MemoryStore()
    await store.set_many({f"k{i}": b"v" for i in range(50_000)}, expires_in=0.05)
    await asyncio.sleep(0.1)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    removed = await store.delete_expired()
    task.cancel()
    assert removed == 50_000
    assert ticks >= 4  # the ticker ran between chunks, not only before and after
    assert await store.count() == 0


async def test_delete_expired_keeps_entries_renewed_while_it_yielded() -> None:
    store = MemoryStore()
    await store.set_many({f"k{i}": b"v" for i in range(25_000)}, expires_in=0.05)
    await asyncio.sleep(0.1)

    async def rewrite_last() -> None:
        await asyncio.sleep(0)
        await store.set("k24999", b"fresh")

    writer = asyncio.create_task(rewrite_last())
    removed = await store.delete_expired()
    await writer
    assert removed == 24_999
    assert await store.get("k24999") == b"fresh"


def test_repr_names_address_and_bounds() -> None:
    assert repr(MemoryStore(max_entries=5).with_namespace("x")) == (
        "MemoryStore(address='in-process', namespace='x', max_entries=5, max_bytes=None)"
    )


def test_address_is_in_process() -> None:
    store = MemoryStore()
    assert store.address == "in-process"
    assert store.with_namespace("x").address == "in-process"


@pytest.mark.parametrize("amount", [2**63, -(2**63) - 1])
async def test_incr_amount_beyond_64_bits_raises_value_error(amount: int) -> None:
    store = MemoryStore()
    with pytest.raises(ValueError, match="amount must fit in a signed 64-bit integer"):
        await store.incr("n", amount)
    assert await store.exists("n") is False


@pytest.mark.parametrize(("start", "amount"), [(2**63 - 1, 1), (-(2**63), -1)])
async def test_incr_past_64_bits_raises_value_error_and_keeps_the_counter(start: int, amount: int) -> None:
    store = MemoryStore()
    assert await store.incr("n", start) == start
    with pytest.raises(ValueError, match="overflow a 64-bit integer"):
        await store.incr("n", amount)
    assert await store.get("n") == str(start).encode()


@pytest.mark.parametrize(
    ("url", "options"),
    [
        ("memory://?colour=blue", {}),
        ("memory://?colour=", {}),
        ("memory://?namespace=a&colour=1", {}),
        ("memory://", {"colour": "blue"}),
    ],
)
def test_from_url_unknown_option_raises_value_error_naming_it(url: str, options: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"Unknown option\(s\) 'colour' for memory://"):
        MemoryStore.from_url(url, **options)


async def test_from_url_namespace_is_a_child_of_a_new_store() -> None:
    store = MemoryStore.from_url("memory://?namespace=app&max_entries=1")
    assert isinstance(store, MemoryStore)
    assert store.namespace == "app"
    await store.set("a", b"1")
    await store.set("b", b"2")
    assert await store.count() == 1  # the bound of the new root applies to its namespace


class _Key(str):
    __slots__ = ()


class _Value(bytes):
    __slots__ = ()


@pytest.mark.parametrize("bounds", [{}, {"max_entries": 10}], ids=["unbounded", "bounded"])
@pytest.mark.parametrize(
    ("key", "value"),
    [(_Key("k"), b"v"), ("k", _Value(b"v")), ("k", "v")],
    ids=["str-subclass", "bytes-subclass", "str"],
)
async def test_set_stores_plain_str_keys_and_bytes_values_like_check_item(
    bounds: dict[str, int], key: str, value: str | bytes
) -> None:
    # set's inline fast test must hand everything but an exact str key and bytes value to check_item
    store = MemoryStore(**bounds)
    await store.set(key, value)
    keys = [k async for k in store.keys()]  # noqa: SIM118  (an async iterator)
    assert [(type(k), k) for k in keys] == [(str, "k")]
    stored = await store.get(_Key("k"))
    assert (type(stored), stored) == (bytes, b"v")


async def test_set_checks_the_key_before_the_value() -> None:
    with pytest.raises(TypeError, match="Store keys must be str"):
        await MemoryStore().set(1, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-empty"):
        await MemoryStore().set("", bytearray(b"x"))  # type: ignore[arg-type]


async def test_a_counter_group_counts_its_counters_together_and_tells_their_expiry() -> None:
    store = MemoryStore().with_namespace("limits")
    group = store.counter_group([("::second", 1), ("::hour", timedelta(hours=1)), ("::forever", None)])
    assert group.suffixes == ("::second", "::hour", "::forever")
    counts, seconds_left = group.incr_nowait("client")
    assert counts == [1, 1, 1]
    assert 0.9 < seconds_left[0] <= 1  # type: ignore[operator]
    assert 3599 < seconds_left[1] <= 3600  # type: ignore[operator]
    assert seconds_left[2] is None
    assert group.incr_nowait("client")[0] == [2, 2, 2]
    assert group.incr_nowait("other")[0] == [1, 1, 1]
    # the counters are the store's own entries, as incr and incr_and_read see them
    assert await store.get_many(["client::second", "client::hour", "client::forever"]) == {
        "client::second": b"2",
        "client::hour": b"2",
        "client::forever": b"2",
    }
    assert await store.incr("client::hour") == 3
    assert await store.expires_in("client::hour") == 3600
    await asyncio.sleep(1.05)  # the one-second counter expired: counted anew, with a new expiry
    counts, seconds_left = group.incr_nowait("client")
    assert counts == [1, 4, 3]
    assert 0.9 < seconds_left[0] <= 1  # type: ignore[operator]
    assert 3597 < seconds_left[1] < 3599  # type: ignore[operator]  # kept the expiry it was created with


async def test_a_counter_group_checks_its_counters_once_and_its_key_at_each_count() -> None:
    store = MemoryStore()
    bad_groups: list[tuple[list[tuple[Any, Any]], type[Exception]]] = [
        ([], ValueError),  # no counters
        ([("::a", 60), ("::a", 1)], ValueError),  # a suffix given twice
        ([("", 60)], ValueError),  # an empty suffix
        ([(b"::a", 60)], TypeError),  # a suffix of the wrong type
        ([("::a", 0)], ValueError),  # a non-positive expiry
        ([("::a", "60")], TypeError),  # an expiry of the wrong type
    ]
    for counters, error in bad_groups:
        with pytest.raises(error):
            store.counter_group(counters)
    group = store.counter_group([("::a", 60), ("::b", 60)])
    with pytest.raises(TypeError):
        group.incr_nowait(b"key")  # type: ignore[arg-type]
    expected: tuple[list[int], list[object]] = ([1, 1], [pytest.approx(60, abs=1), pytest.approx(60, abs=1)])
    assert group.incr_nowait("") == expected  # "::a", "::b"
    await store.set("k::b", b"not a number")
    await store.set("top::b", b"9223372036854775807")
    for key, message in (("k", "'k::b' is not an integer"), ("top", "overflow")):  # no integer; would overflow
        with pytest.raises(ValueError, match=message):
            group.incr_nowait(key)
    assert await store.get_many(["k::a", "top::a", "k::b"]) == {"k::a": None, "top::a": None, "k::b": b"not a number"}
    assert repr(group).startswith("MemoryCounterGroup(MemoryStore(")
    assert "'::a', '::b'" in repr(group)


async def test_a_counter_that_cannot_fit_a_bounded_store_writes_none_of_its_call() -> None:
    store = MemoryStore(max_bytes=2)
    await store.set("c", b"99")
    with pytest.raises(ValueError, match="max_bytes=2"):
        await store.incr_and_read([("new", None), ("c", None)])  # b"1" fits, b"100" does not
    assert await store.get_many(["new", "c"]) == {"new": None, "c": b"99"}


async def test_a_counter_group_of_a_bounded_store_takes_part_in_its_bounds() -> None:
    store = MemoryStore(max_entries=3)
    group = store.counter_group([("::s", 1), ("::h", 3600)])
    await store.set("old", b"x")
    assert group.incr_nowait("a")[0] == [1, 1]
    assert group.incr_nowait("b")[0] == [1, 1]  # the least recently used entries make room: "old", then "a::s"
    assert await store.get_many(["old", "a::s", "a::h", "b::s", "b::h"]) == {
        "old": None,
        "a::s": None,
        "a::h": b"1",
        "b::s": b"1",
        "b::h": b"1",
    }
