"""One mechanism for every backend: turning a client library's exceptions into this package's errors.

Each backend keeps one :class:`ErrorTranslator` per connection (or directory) and wraps every call into its
library in it::

    with self._errors:
        value = await client.get(name)

An exception of one of ``library_errors`` leaves the block as the error :meth:`ErrorTranslator.translate` returns
(:class:`~litestar_kvstores.StoreUnavailableError` when the backend cannot be reached, else
:class:`~litestar_kvstores.StoreError`, naming the address and never a credential), with the original as
``__cause__``. Every other exception (``TypeError``/``ValueError`` of validation, cancellation) passes unchanged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ("ErrorTranslator",)


class ErrorTranslator(ABC):
    """A context manager that re-raises the exceptions of one client library as this package's errors.

    Args:
        library_errors: The exception classes to translate; anything else passes through.
    """

    __slots__ = ("library_errors",)

    def __init__(self, library_errors: tuple[type[BaseException], ...]) -> None:
        self.library_errors = library_errors

    @abstractmethod
    def translate(self, exc: BaseException) -> Exception:
        """Return the error to raise instead of ``exc`` (a ``StoreError``, or ``ValueError`` for bad input)."""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None and isinstance(exc, self.library_errors):
            raise self.translate(exc) from exc
