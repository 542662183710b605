"""Our RESP packing of pipelined commands gives the client library's bytes exactly, or defers to the library."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio
import valkey.asyncio

from litestar_kvstores._redis.protocol import pack_commands
from tests.support.redis import new_connection

COMMANDS: list[tuple[Any, ...]] = [
    ("GET", "LITESTAR/sessions:é ключ"),
    ("SET", "k", b"\x00\xff" * 5000, "PX", 1500),
    ("EVALSHA", "0123456789abcdef0123456789abcdef01234567", 1, "counter", 1, -9223372036854775808, 0),
    ("DEL", ""),
]


@pytest.mark.parametrize("library", [redis.asyncio, valkey.asyncio], ids=["redis-py", "valkey-py"])
def test_packed_commands_are_the_librarys_bytes(library: Any) -> None:
    connection = library.Redis().connection_pool.make_connection()
    assert pack_commands(connection, COMMANDS) == b"".join(connection.pack_commands(COMMANDS))


@pytest.mark.parametrize(
    "command",
    [("GET", 1.5), ("GET", True), ("SCRIPT LOAD", "return 1"), ("GET", bytearray(b"k")), (b"GET", "k")],
    ids=["float", "bool", "two-word name", "bytearray", "bytes name"],
)
def test_other_arguments_are_left_to_the_library(command: tuple[Any, ...]) -> None:
    connection = new_connection(redis.asyncio.Redis())
    assert pack_commands(connection, [("GET", "a"), command]) is None


def test_another_encoding_is_left_to_the_library() -> None:
    connection = new_connection(redis.asyncio.Redis(encoding="latin-1"))
    assert pack_commands(connection, [("GET", "é")]) is None


def test_a_lone_surrogate_raises_as_the_library_does() -> None:
    connection = new_connection(redis.asyncio.Redis())
    with pytest.raises(UnicodeEncodeError):
        connection.pack_commands([("GET", "\ud800")])
    with pytest.raises(UnicodeEncodeError):
        pack_commands(connection, [("GET", "\ud800")])
