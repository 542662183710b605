"""Every Python example of docs/rate-limiting.md runs, and the first one limits as the page says."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

PAGE = Path(__file__).resolve().parents[2] / "docs" / "rate-limiting.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.DOTALL)


def run(example: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Run ``example`` as a module of its own (Litestar resolves a handler's annotations through its module)."""
    module = types.ModuleType("rate_limiting_example")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(example, str(PAGE), "exec"), module.__dict__)
    return module.__dict__


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_the_example_runs(example: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(example, monkeypatch)


async def test_the_first_example_limits_ten_per_second(monkeypatch: pytest.MonkeyPatch) -> None:
    app = run(EXAMPLES[0], monkeypatch)["app"]
    async with AsyncTestClient(app) as client:
        statuses = [(await client.get("/")).status_code for _ in range(11)]
    assert statuses.count(200) <= 10
    assert statuses[-1] == 429
