"""The server-side Lua scripts of the Redis/Valkey stores, shipped as package files in ``lua/``.

Each script declares the keys it touches (``KEYS``), so it runs on a cluster too when they share a hash slot (one
key, or keys with the same ``{hash tag}``).
"""

from __future__ import annotations

import hashlib
from importlib import resources

__all__ = ("COMPARE_AND_DELETE", "COMPARE_AND_SET", "COUNT_REQUEST", "GET_AND_RENEW", "INCR_WITH_EXPIRY", "Script")


class Script:
    """A Lua script shipped as a package file, run with ``EVALSHA`` (loaded on first use or after a restart)."""

    __slots__ = ("sha", "source")

    def __init__(self, filename: str) -> None:
        self.source = resources.files(__package__).joinpath("lua", filename).read_bytes()
        self.sha = hashlib.sha1(self.source).hexdigest()


GET_AND_RENEW = Script("get_and_renew.lua")
INCR_WITH_EXPIRY = Script("incr_with_expiry.lua")
COMPARE_AND_SET = Script("compare_and_set.lua")
COMPARE_AND_DELETE = Script("compare_and_delete.lua")
COUNT_REQUEST = Script("count_request.lua")
