"""A bounded soak of the example app on ``uvicorn --workers 2``: sessions, rate limiting and the cache under load.

Virtual visitors on loopback (httpx, asyncio) sign in, visit the home page (session reads and writes), the cached
page, the rate-limited page and sign out again, for ``soak_seconds`` of the profile (10 s by default, 60 s with
``KVSTORES_TEST_PROFILE=long``). Proven on every backend: no 5xx and no status the app does not intend (429 only from
the rate limit, which refused some requests); no worker restarted; the workers' memory stays flat (RSS growth
printed, bounded).

On the shared backends (Redis, Valkey, MongoDB, SQLite in one file of both workers, PostgreSQL), read afterwards
through a store built from the same URL (``namespaces()``, ``keys()`` and ``expires_in()``, the same on every
backend): signed-out sessions leave no key, and every remaining key (rate-limit counters, cached responses and their
index) carries an expiry of at most ten minutes, so the key count returns to zero (the long profile waits for it,
runs ``delete_expired`` and finds none).

On the bounded memory store (``max_entries=200``, one per worker), drive-by visitors without cookies add an empty
session per request (see ``docs/reliability.md``), many times the bound, while an operator watches the store
dashboard: every key count it shows stays within the bound, the bound is reached, and every request still succeeds.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from litestar_kvstores import store_from_url
from litestar_kvstores.base import KVStore
from tests.support.dashboard import rows
from tests.support.stores import url_for
from testservers.process import ServerProcess, free_port, wait_until

from .support import LONG, profile

ROOT = Path(__file__).parents[2]
VISITORS = 16
DRIVE_BYS = 4
"""Memory soak: tasks sending cookieless requests, each of which stores a new (empty) session."""
MEMORY_BOUND = 200
"""``max_entries`` of the memory soak's store, per worker."""
DRIVE_BY_SESSIONS = 4 * MEMORY_BOUND
"""The drive-bys go on past the deadline until they have written this many sessions (each worker about twice its
bound), however slow the machine."""
SHARED = ["redis", "valkey", "mongo", "sqlite", "postgres"]
INTENDED = {200, 303, 429}
RSS_GROWTH_BOUND = 96 * 1024 * 1024
"""Far above what a steady worker grows by in a minute; a leak of one entry per request would pass it quickly."""
LONGEST_EXPIRY = 600
"""Seconds: no key the soak leaves behind may live longer (sessions are deleted on sign-out)."""

Tree = dict[tuple[str, ...], int | None]


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


@dataclass
class ExampleApp:
    """The example app on two uvicorn workers: its base URL, its ``KVSTORES_DEFAULT`` and its process."""

    base: str
    url: str
    server: ServerProcess


def start_example_app(url: str, log: Path, monkeypatch: pytest.MonkeyPatch) -> ExampleApp:
    """Start the example app on ``url`` and wait until it answers (the caller stops ``server``)."""
    port = free_port()
    monkeypatch.setenv("KVSTORES_DEFAULT", url)
    monkeypatch.setenv("EXAMPLE_APP_SECRET", "soak-secret-" + "x" * 20)
    argv = [sys.executable, "-m", "uvicorn", "--factory", "example_app.app:create_app"]
    argv += ["--workers", "2", "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"]
    # on a loaded machine a 5 s idle connection or an unanswered 5 s health check is no fault of the stores: uvicorn's
    # defaults would close the connection as the next request arrives, or kill and replace the worker
    argv += ["--timeout-keep-alive", "60", "--timeout-worker-healthcheck", "60"]
    app = ExampleApp(f"http://127.0.0.1:{port}", url, ServerProcess(argv, log, cwd=ROOT))
    try:
        with httpx.Client(base_url=app.base, timeout=2) as probe:

            def answers() -> bool:
                app.server.ensure_running()
                try:
                    return probe.get("/").status_code == 200
                except httpx.HTTPError:
                    return False

            wait_until(answers, 60, "the example app on two uvicorn workers")
            # every cookieless request stores an empty session for max_age (14 days; see docs/reliability.md):
            # end the probe's, so that only the visitors' sessions are counted
            probe.post("/sign-out", data={"_csrf_token": probe.cookies.get("csrftoken", "")})
    except BaseException:
        app.server.stop()
        raise
    return app


@pytest.fixture
def memory_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ExampleApp]:
    """The example app on the bounded memory store (one per worker)."""
    app = start_example_app(f"memory://?max_entries={MEMORY_BOUND}", tmp_path / "uvicorn.log", monkeypatch)
    yield app
    app.server.stop()


@pytest.fixture(params=SHARED)
def shared_app(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ExampleApp]:
    """The example app on a store both workers share, in a namespace of its own (SQLite: one file in tmp_path)."""
    app = start_example_app(url_for(request.param, request, tmp_path / "soak"), tmp_path / "uvicorn.log", monkeypatch)
    yield app
    app.server.stop()


@dataclass
class Soak:
    """What the load generator saw: the visitors' statuses, and (memory soak) the drive-bys and dashboard samples."""

    statuses: Counter[int] = field(default_factory=Counter)
    drive_bys: int = 0
    samples: list[dict[str, int]] = field(default_factory=list)
    """Key counts of the dashboard's rows, one mapping per dashboard page seen."""
    rss_growth: list[int] = field(default_factory=list)
    requests_per_second: float = 0.0


async def visitor(base: str, number: int, deadline: float, soak: Soak) -> None:
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
                soak.statuses[response.status_code] += 1


def driving_by(deadline: float, soak: Soak) -> bool:
    """Whether the drive-bys go on: until ``deadline`` and until they wrote ``DRIVE_BY_SESSIONS`` sessions."""
    return time.monotonic() < deadline or soak.drive_bys < DRIVE_BY_SESSIONS


async def drive_by(base: str, deadline: float, soak: Soak) -> None:
    """Cookieless home page views while :func:`driving_by`: each one stores a new, empty session.

    Each view comes on a new connection: kept alive, the connections of all drive-bys could stay with one worker
    (the workers share the listening socket) while the operator reads the other worker's dashboard.
    """
    no_keep_alive = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=no_keep_alive) as client:
        while driving_by(deadline, soak):
            client.cookies.clear()
            soak.statuses[(await client.get("/")).status_code] += 1
            soak.drive_bys += 1


async def operator(base: str, deadline: float, soak: Soak) -> None:
    """Read the store dashboard's key counts every 0.2 s while :func:`driving_by`, signing in again whenever needed
    (under pressure the bounded store may evict the operator's own session)."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while driving_by(deadline, soak):
            page = await client.get("/stores")
            if page.status_code == 401:
                await client.get("/")
                token = client.cookies.get("csrftoken", "")
                await client.post("/sign-in", data={"name": "operator", "_csrf_token": token})
                continue
            assert page.status_code == 200, f"the dashboard answered {page.status_code}"
            soak.samples.append({name: int(cells[3].replace(",", "")) for name, cells in rows(page.text).items()})
            await asyncio.sleep(0.2)


def server_log(app: ExampleApp) -> str:
    """The last lines uvicorn and the app logged."""
    return "\n".join(app.server.log_path.read_text(errors="replace").splitlines()[-40:])


async def run_soak(app: ExampleApp, *, drive_bys: int = 0) -> Soak:
    """Load ``app`` for the profile's ``soak_seconds``, print the figures and check what holds on every backend."""
    pid = app.server.process.pid
    seconds = profile().soak_seconds
    soak = Soak()
    # no warm-up visit: a cookieless page view stores an empty session for max_age (14 days), see the docs
    before = rss_of_workers(pid)
    started = time.monotonic()
    deadline = started + seconds
    tasks = [visitor(app.base, n, deadline, soak) for n in range(VISITORS)]
    if drive_bys:
        tasks += [drive_by(app.base, deadline, soak) for _ in range(drive_bys)] + [operator(app.base, deadline, soak)]
    try:
        await asyncio.gather(*tasks)
    except httpx.HTTPError as error:
        raise AssertionError(f"a request failed: {error!r}; the app's log:\n{server_log(app)}") from error
    elapsed = time.monotonic() - started
    after = rss_of_workers(pid)
    total = sum(soak.statuses.values())
    soak.requests_per_second = total / elapsed
    soak.rss_growth = [after.get(worker, 0) - size for worker, size in before.items()]
    print(
        f"\nsoak {app.url.split(':')[0]}: {total} requests in {elapsed:.1f} s ({soak.requests_per_second:.0f}/s) "
        f"from {VISITORS} visitors and {drive_bys} drive-bys, statuses {dict(soak.statuses)}, worker RSS growth "
        f"{[f'{g / 2**20:+.1f} MiB' for g in soak.rss_growth]}"
    )
    assert set(soak.statuses) <= INTENDED, f"unintended statuses: {dict(soak.statuses)}"
    assert soak.statuses[200] > 0
    assert soak.statuses[429] > 0  # the rate limit held
    assert len(before) == 2
    assert set(after) == set(before), f"a worker was replaced (crashed) during the soak:\n{server_log(app)}"
    assert max(soak.rss_growth) < RSS_GROWTH_BOUND
    return soak


async def entries(store: KVStore, path: tuple[str, ...] = ()) -> Tree:
    """Every live key of ``store``'s tree, as its namespace path plus key, with its ``expires_in``."""
    found: Tree = {}
    async for key in store.keys():
        found[(*path, key)] = await store.expires_in(key)
    async for name in store.namespaces():
        found |= await entries(store.with_namespace(name), (*path, name))
    return found


@pytest.fixture
async def app_store(shared_app: ExampleApp) -> AsyncIterator[KVStore]:
    """A store on the shared app's URL: the namespace tree its sessions, counters and cache live in."""
    async with store_from_url(shared_app.url) as store:
        assert isinstance(store, KVStore)
        yield store


async def test_the_example_app_on_a_shared_store_under_load_leaves_only_expiring_keys(
    shared_app: ExampleApp, app_store: KVStore
) -> None:
    await run_soak(shared_app)
    remaining = await entries(app_store)
    print(f"keys left: {len(remaining)} in {sorted({name[:-1] for name in remaining})}")
    assert not [name for name in remaining if name[0] == "sessions"], "a signed-out session left its entry"
    assert remaining, "nothing was stored: the soak did not reach the store"
    lasting = {name: ttl for name, ttl in remaining.items() if ttl is None or not 0 < ttl <= LONGEST_EXPIRY}
    assert not lasting, f"keys that will not expire within {LONGEST_EXPIRY} s: {lasting}"
    if profile() is LONG:
        await asyncio.sleep(max(ttl or 0 for ttl in remaining.values()) + 1)
        await app_store.delete_expired()
        assert await entries(app_store) == {}
        assert await app_store.count() == 0


async def test_the_bounded_memory_store_stays_within_its_bound_under_load(memory_app: ExampleApp) -> None:
    soak = await run_soak(memory_app, drive_bys=DRIVE_BYS)
    totals = [sum(sample.values()) for sample in soak.samples]
    sessions = [sample.get("sessions", 0) for sample in soak.samples]
    print(
        f"memory bound {MEMORY_BOUND}: {soak.drive_bys} drive-by sessions written; the dashboard showed "
        f"{len(totals)} times at most {max(totals, default=0)} keys, at most {max(sessions, default=0)} sessions"
    )
    assert soak.drive_bys >= DRIVE_BY_SESSIONS
    assert len(totals) >= 5
    assert max(totals) <= MEMORY_BOUND, f"a worker's store held more than its bound: {max(totals)}"
    assert max(sessions) >= MEMORY_BOUND // 2, "the store never filled up: the bound was not put to the test"
