"""Every fenced ``python`` block of ``docs/*.md`` runs, page by page, so no example can rot.

The blocks of one page run in order in one namespace (a later block may use what an earlier one defined), with top-level
``await``, in a fresh working directory. Server URLs of the docs (``redis://localhost:6379``, ...) are replaced by the
test servers' before running. A Litestar app a block leaves in ``app`` and does not run itself is started and shut
down once, so its stores connect, clean up and close. A block preceded by ``<!-- fragment: why -->`` is not run; such
blocks are few, and each says why.
"""

from __future__ import annotations

import ast
import base64
import inspect
import os
import re
import subprocess
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from testservers.redis import RedisServer, start_sentinel, start_server

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"^(?P<fragment><!-- fragment[^\n]*-->\n)?```python\n(?P<code>.*?)^```\n", re.M | re.S)
MOST_FRAGMENTS = 5
"""Fragments are the exception: an example that cannot run here (a replica set, DNS records) says so."""


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    code: str
    fragment: bool


def blocks(page: Path) -> list[Block]:
    text = page.read_text()
    return [
        Block(
            page.name, text.count("\n", 0, match.start("code")) + 1, match.group("code"), bool(match.group("fragment"))
        )
        for match in BLOCK.finditer(text)
    ]


PAGES = sorted(page for page in DOCS.glob("*.md") if any(not block.fragment for block in blocks(page)))

# docs placeholder -> the fixture (or helper) giving the test server's host:port
SERVERS = {
    "redis://localhost:6379": "redis_url",
    "valkey://localhost:6379": "valkey_url",
    "mongodb://localhost:27017": "mongo_url",
    "localhost:7000": "redis_cluster_url",
    "localhost:26379": "docs_sentinel",
}
SENTINEL_TUPLE = '("localhost", 26379)'
WHOLE_URLS = {"postgresql://app:secret@localhost:5432/app": "postgres_url"}
"""Placeholders replaced by the test server's whole URL (its credentials and database too)."""


@pytest.fixture(scope="module")
def docs_sentinel() -> Iterator[str]:
    """A Redis primary monitored by a Sentinel as ``mymaster``, the service name the docs use: the Sentinel's URL."""
    primary: RedisServer = start_server("redis")
    sentinel = start_sentinel(primary, service="mymaster")
    try:
        yield sentinel.url
    finally:
        sentinel.stop()
        primary.stop()


def with_test_servers(code: str, request: pytest.FixtureRequest) -> str:
    """``code`` with each placeholder address replaced by its test server's (started only when a page needs it)."""
    for placeholder, fixture in SERVERS.items():
        if placeholder not in code:
            continue
        netloc = urlsplit(str(request.getfixturevalue(fixture))).netloc
        scheme, _, _ = placeholder.rpartition("://")
        code = code.replace(placeholder, f"{scheme}://{netloc}" if scheme else netloc)
    for placeholder, fixture in WHOLE_URLS.items():
        if placeholder in code:
            code = code.replace(placeholder, str(request.getfixturevalue(fixture)))
    if SENTINEL_TUPLE in code:  # Sentinel([("localhost", 26379)]) takes (host, port) pairs
        sentinel = urlsplit(str(request.getfixturevalue("docs_sentinel")))
        code = code.replace(SENTINEL_TUPLE, repr((sentinel.hostname, sentinel.port)))
    return code


async def run_block(block: Block, code: str, namespace: dict[str, object]) -> None:
    compiled = compile(code, f"docs/{block.page}:{block.line}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(compiled, namespace)  # our own documentation
    if inspect.iscoroutine(result):
        await result
    app = namespace.pop("app", None)
    if isinstance(app, Litestar) and "AsyncTestClient(app)" not in code:
        async with AsyncTestClient(app):  # start-up and shutdown: the stores connect, clean up and close
            pass


@pytest.mark.filterwarnings("error::DeprecationWarning")  # an example must not teach what is on its way out
@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
async def test_every_example_of_the_page_runs(
    page: Path, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KVSTORES_DEFAULT", raising=False)
    monkeypatch.setenv("DASHBOARD_CSRF_SECRET", "the docs test's secret")
    monkeypatch.setenv("SESSION_KEY", base64.b64encode(os.urandom(32)).decode())  # the wrappers page's key
    if any('os.environ["REDIS_URL"]' in block.code for block in blocks(page)):
        monkeypatch.setenv("REDIS_URL", str(request.getfixturevalue("redis_url")))
    module = types.ModuleType(f"docs_{page.stem.replace('-', '_')}")  # Litestar resolves handlers' type hints in it
    monkeypatch.setitem(sys.modules, module.__name__, module)
    for block in blocks(page):
        if not block.fragment:
            await run_block(block, with_test_servers(block.code, request), module.__dict__)


def test_fragments_are_few_and_say_why() -> None:
    every = [block for page in sorted(DOCS.glob("*.md")) for block in blocks(page)]
    fragments = [block for block in every if block.fragment]
    assert len(every) >= 30
    assert len(fragments) <= MOST_FRAGMENTS
    for page in DOCS.glob("*.md"):
        for marker in re.findall(r"<!-- fragment([^\n]*)-->", page.read_text()):
            assert re.fullmatch(r": \S.{4,} ", marker), f"{page.name}: a fragment says why"


def test_every_python_block_is_seen() -> None:
    """A block the pattern missed (an indented fence, a missing newline) would silently never run."""
    for page in DOCS.glob("*.md"):
        fences = page.read_text().count("```python\n")
        assert fences == len(blocks(page)), page.name


def test_the_store_of_the_own_store_page_passes_the_contract(tmp_path: Path) -> None:
    code = "\n\n".join(block.code for block in blocks(DOCS / "own-store.md") if "class " in block.code)
    module = tmp_path / "test_dict_store.py"
    module.write_text(code)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "asyncio_mode=auto", str(module)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert re.search(r"\d{2,} passed", result.stdout)
