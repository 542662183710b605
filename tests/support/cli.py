"""Running ``litestar stores ...`` in-process through Litestar's own CLI (click's ``CliRunner``)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from click.testing import CliRunner, Result
from litestar.cli.main import litestar_group

from litestar_kvstores import KVStore, store_from_url
from litestar_kvstores.wrappers import EncryptedStore

T = TypeVar("T")

APP = "tests.support.cli_app:create_app"
"""The app the CLI tests load: its stores come from the ``KVSTORES_*`` variables given to :func:`invoke`."""


def invoke(environment: dict[str, str], *arguments: str, answer: str | None = None, app: str = APP) -> Result:
    """Run ``litestar --app APP stores ARGUMENTS`` with only ``environment``'s stores."""
    clean = {name: None for name in os.environ if name.startswith("KVSTORES_")}
    return CliRunner().invoke(
        litestar_group, ["--app", app, "stores", *arguments], env={**clean, **environment}, input=answer
    )


def line_of(result: Result, name: str) -> str:
    lines = [line for line in result.output.splitlines() if line.startswith(name + " ")]
    assert len(lines) == 1, result.output
    return lines[0]


async def _encrypted(url: str, keys: list[bytes], namespace: str | None, use: Callable[[KVStore], Awaitable[T]]) -> T:
    async with store_from_url(url) as root:
        assert isinstance(root, KVStore)
        store = root if namespace is None else root.with_namespace(namespace)
        return await use(EncryptedStore(store, keys=keys))


def write_encrypted(url: str, keys: list[bytes], values: Mapping[str, bytes], namespace: str | None = None) -> None:
    """Write ``values`` encrypted under ``keys`` (the first encrypts) through a store of its own on ``url``."""
    asyncio.run(_encrypted(url, keys, namespace, lambda store: store.set_many(values)))


def read_encrypted(
    url: str, keys: list[bytes], values: Mapping[str, bytes], namespace: str | None = None
) -> dict[str, bytes | None]:
    """Read the keys of ``values`` decrypted with ``keys`` alone through a store of its own on ``url``."""
    return asyncio.run(_encrypted(url, keys, namespace, lambda store: store.get_many(values)))
