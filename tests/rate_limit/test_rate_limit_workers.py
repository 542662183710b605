"""Two uvicorn worker processes on one Redis, Valkey or MongoDB admit exactly the limit of 50 concurrent requests."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.stores import url_for
from testservers.process import ServerProcess, free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 10
MAX_ROUNDS = 30
"""Rounds of 50 requests until both workers have answered within one round (each round must be exact)."""


@pytest.fixture
def two_workers(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The base URL of ``tests.rate_limit_app`` served by ``uvicorn --workers 2`` on the backend under test."""
    monkeypatch.setenv("RATE_LIMIT_APP_STORE", url_for(request.param, request, tmp_path))
    monkeypatch.setenv("RATE_LIMIT_APP_LIMIT", str(LIMIT))
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "--factory", "tests.support.rate_limit_app:create_app"]
    argv += ["--workers", "2", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    server = ServerProcess(argv, tmp_path / "uvicorn.log", cwd=ROOT)
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        server.ensure_running()
        return httpx.get(f"{base}/a", headers={"X-Round": "ready"}, timeout=1).status_code in (200, 429)

    try:
        wait_until(answers, 30, "uvicorn with two workers")
        yield base
    finally:
        server.stop()


@pytest.mark.parametrize("two_workers", ["redis", "valkey", "mongo"], indirect=True)
async def test_two_workers_admit_exactly_the_limit(two_workers: str) -> None:
    workers_seen_in_one_round = 0
    async with httpx.AsyncClient(base_url=two_workers, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        for _ in range(MAX_ROUNDS):
            headers = {"X-Round": uuid.uuid4().hex}
            responses = await asyncio.gather(
                *(client.get(("/a", "/b")[i % 2], headers=headers, timeout=30) for i in range(50))
            )
            statuses = [response.status_code for response in responses]
            assert statuses.count(200) == LIMIT
            assert statuses.count(429) == 50 - LIMIT
            workers_seen_in_one_round = len({response.headers["X-Worker-Pid"] for response in responses})
            if workers_seen_in_one_round == 2:
                break
    assert workers_seen_in_one_round == 2
