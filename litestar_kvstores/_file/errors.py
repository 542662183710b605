"""How :class:`~litestar_kvstores.file.FileStore` reports file-system failures: one :class:`FileErrors` per directory.

Every blocking operation runs inside ``with self._errors:`` (see :mod:`litestar_kvstores._translate`), so an
``OSError`` leaves the store as a :class:`~litestar_kvstores.StoreError` naming the path it concerns, never a value.
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

from .._translate import ErrorTranslator
from ..errors import StoreError, StoreUnavailableError

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ("FileErrors", "StoreDirectoryNotFoundError")


class StoreDirectoryNotFoundError(StoreUnavailableError, FileNotFoundError):
    """The parent of the store's directory does not exist and ``create_directories=False`` forbids creating it.

    A ``FileNotFoundError``, as Litestar's ``FileStore`` raises, and a ``StoreUnavailableError``, as the contract says.
    """

    def __init__(self, directory: str) -> None:
        super().__init__(
            errno.ENOENT, "The store directory's parent does not exist (create_directories=False)", directory
        )


class FileErrors(ErrorTranslator):
    """Translates ``OSError`` into :class:`~litestar_kvstores.StoreError` naming the path.

    The path is the one the operating system reports (the target of a rename first; a name relative to a directory
    descriptor is joined to ``directory``), else ``directory``.
    Errors that are already the package's own (:class:`StoreDirectoryNotFoundError` is an ``OSError`` too) pass.

    Args:
        directory: The absolute directory the guarded calls work in.
        unavailable: Raise :class:`~litestar_kvstores.StoreUnavailableError` instead (for ``ping``).
    """

    __slots__ = ("directory", "unavailable")

    def __init__(self, directory: str, *, unavailable: bool = False) -> None:
        super().__init__((OSError,))
        self.directory = directory
        self.unavailable = unavailable

    def translate(self, exc: BaseException) -> Exception:
        """Return the store error for ``exc``, naming the path and the operating system's reason."""
        assert isinstance(exc, OSError)
        named = exc.filename2 or exc.filename
        path = os.path.join(self.directory, os.fsdecode(named)) if isinstance(named, str | bytes) else self.directory
        reason = exc.strerror or str(exc)
        if self.unavailable:
            return StoreUnavailableError(f"The store directory {self.directory} is not usable: {reason} ({path})")
        return StoreError(f"The file store failed on {path}: {reason}")

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None and not isinstance(exc, StoreError):
            super().__exit__(exc_type, exc, tb)
