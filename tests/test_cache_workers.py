"""Single flight across processes: two uvicorn workers on one Redis run a cold cached route once for 20 requests."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from litestar_kvstores import RedisStore
from testservers.process import ServerProcess, free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def workers(redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """Two uvicorn workers of ``tests.cache_workers_app`` with single flight; yields (base URL, store URL)."""
    store_url = f"{redis_url.rstrip('/')}/0?namespace=sf-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("KVSTORES_TEST_CACHE_URL", store_url)
    monkeypatch.setenv("KVSTORES_TEST_SINGLE_FLIGHT", "1")
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "tests.cache_workers_app:app", "--port", str(port), "--workers", "2"]
    server = ServerProcess([*argv, "--log-level", "warning"], tmp_path / "uvicorn.log", cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    answered: set[str] = set()

    def both_ready() -> bool:
        server.ensure_running()
        answered.add(httpx.get(f"{base}/cold", params={"n": -1}, timeout=5).headers["x-worker-pid"])
        return len(answered) == 2

    try:
        wait_until(both_ready, 60, "uvicorn with two workers")
        yield base, store_url
    finally:
        server.stop()


async def test_twenty_requests_on_a_cold_route_run_the_handler_once_across_two_workers(
    workers: tuple[str, str],
) -> None:
    base, store_url = workers

    async def request(n: int) -> httpx.Response:
        async with httpx.AsyncClient(timeout=60) as client:  # a connection of its own: either worker may accept it
            return await client.get(f"{base}/cold", params={"n": n})

    async with RedisStore.from_url(store_url).with_namespace("calls") as calls:
        # the kernel picks the worker of each connection: repeat on new cold keys until both workers answered a round
        for n in range(10):
            responses = await asyncio.gather(*(request(n) for _ in range(20)))
            assert {response.status_code for response in responses} == {200}
            assert len({response.json()["computed_by"] for response in responses}) == 1
            assert await calls.get(f"calls:{n}") == b"1"
            if len({response.headers["x-worker-pid"] for response in responses}) == 2:
                return
        pytest.fail("every round was served by one worker only; the cross-process case was not exercised")
