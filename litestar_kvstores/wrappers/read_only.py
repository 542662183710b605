"""A store that can be read but not written."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import StoreError
from .base import OPERATIONS, StoreWrapper

if TYPE_CHECKING:
    from ..base import TTL

__all__ = ("ReadOnlyStore",)


class ReadOnlyStore(StoreWrapper):
    """Reads pass through; every write (``set``, ``delete``, ``incr``, a renewing ``get``, ...) raises
    :class:`~litestar_kvstores.StoreError` and changes nothing.

    ``delete_expired`` returns ``0`` without removing anything (expired entries read as missing anyway), so the
    plugin's periodic clean-up does not log an error for a read-only store.

    Raises:
        StoreError: on every write, naming the operation.
    """

    __slots__ = ()

    async def _call(self, name: str, *args: Any) -> Any:
        if OPERATIONS[name].writes:
            self._refuse(name)
        return await super()._call(name, *args)

    def _refuse(self, name: str) -> None:
        raise StoreError(f"The store at {self.address} is read-only: {name} refused")

    async def get(self, key: str, renew_for: TTL | None = None) -> bytes | None:
        """Return the value of ``key`` or ``None``.

        Raises:
            StoreError: ``renew_for`` is given (renewing writes the expiry).
        """
        if renew_for is not None:
            self._refuse("get with renew_for")
        return await super().get(key)

    async def delete_expired(self) -> int:
        """Remove nothing and return ``0``."""
        return 0
