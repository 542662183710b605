"""What the SQLite and PostgreSQL tests share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any


def every_operation(store: Any) -> list[Callable[[], Awaitable[object]]]:
    """One call of every operation of a SQL store, in an order in which each finds the data it works on.

    The tests that count round trips or thread hops per operation run them one by one.
    """
    return [
        lambda: store.set("key", b"value", expires_in=100),
        lambda: store.get("key"),
        lambda: store.get("key", renew_for=50),
        lambda: store.exists("key"),
        lambda: store.expires_in("key"),
        lambda: store.incr("counter", 2, expires_in=10),
        lambda: store.incr("counter"),
        lambda: store.add("new", b"v"),
        lambda: store.compare_and_set("new", b"v", b"w"),
        lambda: store.compare_and_set("newer", None, b"w"),
        lambda: store.compare_and_delete("new", b"w"),
        lambda: store.get_many(["key", "counter"]),
        lambda: store.set_many({"a": b"1", "b": b"2"}, expires_in=5),
        lambda: store.delete_many(["a", "b"]),
        lambda: store.count(),
        lambda: store.delete("key"),
        lambda: store.delete_expired(),
        lambda: store.delete_all(),
        lambda: store.ping(),
    ]
