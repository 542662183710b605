"""Limits on what a store accepts: value size and time-to-live."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..validation import encode_value, ttl_seconds
from .base import StoreWrapper

if TYPE_CHECKING:
    from ..base import TTL, KVStore

__all__ = ("LimitedStore",)


def _limit(value: object, name: str) -> float | None:
    return None if value is None else ttl_seconds(value, name)


class LimitedStore(StoreWrapper):
    """Enforces a maximum value size and bounds every expiry, so one caller cannot fill or pin a shared store.

    - A value longer than ``max_value_bytes`` (after UTF-8 encoding) raises ``ValueError`` naming the limit and
      writes nothing.
    - A write without expiry gets ``default_ttl``; every expiry and renewal above ``max_ttl`` is lowered to
      ``max_ttl``. With ``max_ttl`` set, nothing lives longer than ``max_ttl``, even a write without expiry and
      without ``default_ttl``.
    - ``incr`` gets the same expiry rules (when it creates the counter).

    Args:
        store: The store to limit.
        max_value_bytes: The largest value accepted, in bytes; ``None``: no limit.
        max_ttl: The longest expiry, as seconds or ``timedelta``; ``None``: no limit.
        default_ttl: The expiry of writes that give none; ``None``: they never expire (unless ``max_ttl``).

    Raises:
        TypeError: a limit has a wrong type.
        ValueError: a limit is not positive, or ``default_ttl`` is above ``max_ttl``.
    """

    __slots__ = ("default_ttl", "max_ttl", "max_value_bytes")

    def __init__(
        self,
        store: KVStore,
        *,
        max_value_bytes: int | None = None,
        max_ttl: TTL | None = None,
        default_ttl: TTL | None = None,
    ) -> None:
        super().__init__(store)
        if max_value_bytes is not None:
            if not isinstance(max_value_bytes, int) or isinstance(max_value_bytes, bool):
                raise TypeError(f"max_value_bytes must be int or None, not {type(max_value_bytes).__name__}")
            if max_value_bytes < 1:
                raise ValueError(f"max_value_bytes must be positive, got {max_value_bytes}")
        self.max_value_bytes = max_value_bytes
        self.max_ttl = _limit(max_ttl, "max_ttl")
        self.default_ttl = _limit(default_ttl, "default_ttl")
        if self.max_ttl is not None and self.default_ttl is not None and self.default_ttl > self.max_ttl:
            raise ValueError(f"default_ttl ({self.default_ttl:g} s) must not exceed max_ttl ({self.max_ttl:g} s)")

    def __repr__(self) -> str:
        return (
            f"LimitedStore({self.store!r}, max_value_bytes={self.max_value_bytes}, max_ttl={self.max_ttl}, "
            f"default_ttl={self.default_ttl})"
        )

    def _encode(self, key: str, value: str | bytes) -> bytes:
        data = encode_value(value)
        if self.max_value_bytes is not None and len(data) > self.max_value_bytes:
            raise ValueError(f"A value of {len(data)} bytes exceeds max_value_bytes={self.max_value_bytes}")
        return data

    def _expiry(self, expires_in: TTL | None) -> TTL | None:
        seconds = ttl_seconds(expires_in)
        if seconds is None:
            seconds = self.default_ttl
        return self._clamp(seconds)

    def _renewal(self, renew_for: TTL | None) -> TTL | None:
        seconds = ttl_seconds(renew_for, "renew_for")
        return None if seconds is None else self._clamp(seconds)

    def _clamp(self, seconds: float | None) -> float | None:
        if self.max_ttl is None or (seconds is not None and seconds <= self.max_ttl):
            return seconds
        return self.max_ttl
