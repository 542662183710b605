"""The worked example of docs/wrappers.md, executed against the test Redis server."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from litestar_kvstores import store_from_url
from litestar_kvstores.wrappers.encrypted import MAGIC
from tests.support.stores import as_kv_store, unique_namespace
from tests.support.wrappers import KEY_A_TEXT

PAGE = Path(__file__).parents[2] / "docs" / "wrappers.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.DOTALL)


async def test_encrypted_sessions_on_redis(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"{redis_url}?namespace={unique_namespace().split('/')[-1]}"
    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.setenv("SESSION_KEY", KEY_A_TEXT)
    example = python_blocks()[0]
    assert "Litestar(" in example
    module = types.ModuleType("docs_wrappers_example")  # Litestar resolves handler annotations via sys.modules
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(example, str(PAGE), "exec"), module.__dict__)

    async with AsyncTestClient(module.app) as client:
        assert (await client.post("/login")).status_code == 201
        assert (await client.get("/me")).text == "alice"

    async with as_kv_store(store_from_url(url)) as raw:
        sessions = raw.with_namespace("sessions")
        values = [await sessions.get(key) async for key in sessions.keys()]  # noqa: SIM118
        assert len(values) == 1
        assert values[0] is not None
        assert values[0].startswith(MAGIC)
        assert b"alice" not in values[0]
        await raw.delete_all()


def test_the_configuration_example_compiles(monkeypatch: pytest.MonkeyPatch) -> None:
    from litestar_kvstores import KVStoresConfig
    from litestar_kvstores.plugin import build_registry

    monkeypatch.setenv("SESSION_KEY", KEY_A_TEXT)
    config_block = next(block for block in python_blocks() if block.startswith("KVStoresConfig("))
    config = eval(config_block, {"KVStoresConfig": KVStoresConfig})
    registry = build_registry(config)
    assert type(registry.get("sessions")).__name__ == "InstrumentedStore"
