"""A bounded soak of the example app on ``uvicorn --workers 2``: sessions, rate limiting and the cache under load.

Virtual visitors on loopback (httpx, asyncio) sign in, visit the home page (session reads and writes), the cached
page, the rate-limited page and sign out again, for ``soak_seconds`` of the profile (10 s by default, 60 s with
``KVSTORES_TEST_PROFILE=long``), on the embedded bounded MemoryStore (one per worker) and on Redis (shared). Proven:
no 5xx and no status the app does not intend (429 only from the rate limit); the workers' memory stays flat (RSS
growth printed, bounded); on Redis, signed-out sessions leave no key, and every remaining key (rate-limit counters,
cached responses and their index) carries an expiry of at most ten minutes, so the key count returns to zero (the
long profile waits for it).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from testservers.process import ServerProcess, free_port, wait_until

from .support import LONG, profile

ROOT = Path(__file__).parents[2]
VISITORS = 16
INTENDED = {200, 303, 429}
RSS_GROWTH_BOUND = 96 * 1024 * 1024
"""Far above what a steady worker grows by in a minute; a leak of one entry per request would pass it quickly."""


def rss_of_workers(master: int) -> dict[int, int]:
    """The resident set size in bytes of each worker process of ``master`` (not multiprocessing's helpers)."""
    sizes: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" not in command:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() == str(master) and "VmRSS" in fields:
            sizes[int(entry.name)] = int(fields["VmRSS"].split()[0]) * 1024
    return sizes


@pytest.fixture(params=["memory", "redis"])
def app_url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, str, ServerProcess]]:
    """The base URL of the example app on two uvicorn workers, its backend and its process."""
    default = "memory://?max_entries=100000"
    if request.param == "redis":
        default = str(request.getfixturevalue("redis_url")) + "/0?namespace=soak" + os.urandom(4).hex()
    port = free_port()
    monkeypatch.setenv("KVSTORES_DEFAULT", default)
    monkeypatch.setenv("EXAMPLE_APP_SECRET", "soak-secret-" + "x" * 20)
    argv = [sys.executable, "-m", "uvicorn", "--factory", "example_app.app:create_app"]
    argv += ["--workers", "2", "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"]
    server = ServerProcess(argv, tmp_path / "uvicorn.log", cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=2) as probe:

            def answers() -> bool:
                server.ensure_running()
                try:
                    return probe.get("/").status_code == 200
                except httpx.HTTPError:
                    return False

            wait_until(answers, 60, "the example app on two uvicorn workers")
            # every cookieless request stores an empty session for max_age (14 days; see docs/reliability.md):
            # end the probe's, so that only the visitors' sessions are counted
            probe.post("/sign-out", data={"_csrf_token": probe.cookies.get("csrftoken", "")})
        yield base, default, server
    finally:
        server.stop()


async def visitor(base: str, number: int, deadline: float, statuses: Counter[int]) -> None:
    """One visitor's rounds: home, sign in, home x3, cached, limited, sign out; until ``deadline``."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while time.monotonic() < deadline:
            responses = [await client.get("/")]
            token = client.cookies.get("csrftoken", "")
            responses.append(await client.post("/sign-in", data={"name": f"v{number}", "_csrf_token": token}))
            responses += [await client.get("/") for _ in range(3)]
            responses += [await client.get("/cached"), await client.get("/limited")]
            token = client.cookies.get("csrftoken", "")
            responses.append(await client.post("/sign-out", data={"_csrf_token": token}))
            for response in responses:
                statuses[response.status_code] += 1


def keys_under(url: str) -> dict[str, int]:
    """Every key of the soak's namespace on Redis with its time to live in seconds (-1: none)."""
    namespace = url.rsplit("namespace=", 1)[1]
    with redis.Redis.from_url(url.split("?", 1)[0]) as client:
        names = list(client.scan_iter(match=f"LITESTAR/{namespace}*", count=1000))
        return {name.decode(): int(client.ttl(name)) for name in names}


async def test_the_example_app_under_load_answers_without_errors_with_flat_memory(
    app_url: tuple[str, str, ServerProcess],
) -> None:
    base, default, server = app_url
    pid = server.process.pid
    seconds = profile().soak_seconds
    statuses: Counter[int] = Counter()
    # no warm-up visit: a cookieless page view stores an empty session for max_age (14 days), see the docs
    before = rss_of_workers(pid)
    started = time.monotonic()
    await asyncio.gather(*(visitor(base, n, started + seconds, statuses) for n in range(VISITORS)))
    elapsed = time.monotonic() - started
    after = rss_of_workers(pid)
    total = sum(statuses.values())
    growth = {worker: after.get(worker, 0) - size for worker, size in before.items()}
    print(
        f"\nsoak {default.split(':')[0]}: {total} requests in {elapsed:.1f} s ({total / elapsed:.0f}/s) from "
        f"{VISITORS} visitors, statuses {dict(statuses)}, worker RSS growth "
        f"{[f'{g / 2**20:+.1f} MiB' for g in growth.values()]}"
    )
    assert set(statuses) <= INTENDED, f"unintended statuses: {dict(statuses)}"
    assert statuses[200] > 0
    assert statuses[429] > 0  # the rate limit held
    assert len(before) == 2
    assert set(after) == set(before), "a worker was replaced (crashed) during the soak"
    assert max(growth.values()) < RSS_GROWTH_BOUND
    if default.startswith("redis"):
        remaining = keys_under(default)
        assert not [name for name in remaining if "/sessions:" in name], "a signed-out session left its entry"
        assert all(0 < ttl <= 600 for ttl in remaining.values()), f"a key that will not expire soon: {remaining}"
        if profile() is LONG:
            await asyncio.sleep(max(remaining.values(), default=0) + 1)
            assert keys_under(default) == {}
