"""Packing commands in the Redis protocol (RESP) for the pipelines of :mod:`~litestar_kvstores._redis.connection`.

The client library's ``pack_commands`` encodes every argument through its encoder and builds each command by
repeated joins: about a quarter of the client CPU of a pipelined ``EVALSHA`` (``bench_rate_limit``, Redis;
``bench_redis``, 100 concurrent renewing gets). The commands the stores send hold only ``str``, ``bytes`` and
``int`` arguments, which this module packs directly with the same encoding (UTF-8, strict).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ("pack_commands",)


def pack_commands(connection: Any, commands: Sequence[Sequence[Any]]) -> bytes | None:
    """Return ``commands`` in the Redis protocol as ``connection`` would pack them, or ``None`` when its encoder is
    not UTF-8/strict, an argument is of another type than ``str``, ``bytes`` and ``int`` (``bool`` excluded) or a
    command name holds a space (the library then packs them).

    Raises:
        UnicodeEncodeError: a ``str`` argument is not valid UTF-8 (a lone surrogate), as the library raises.
    """
    encoder = connection.encoder
    if encoder.encoding != "utf-8" or encoder.encoding_errors != "strict":
        return None
    parts: list[bytes] = []
    append = parts.append
    for command in commands:
        name = command[0]
        if type(name) is not str or " " in name:  # e.g. "SCRIPT LOAD": the library splits it into two arguments
            return None
        append(b"*%d\r\n" % len(command))
        for argument in command:
            kind = type(argument)
            if kind is bytes:
                data = argument
            elif kind is str:
                data = argument.encode()
            elif kind is int:
                data = b"%d" % argument
            else:
                return None
            append(b"$%d\r\n" % len(data))
            append(data)
            append(b"\r\n")
    return b"".join(parts)
