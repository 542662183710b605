"""The store dashboard: listed stores, guard, CSRF-protected confirm-then-run actions, stats and chart."""

from __future__ import annotations

import asyncio
import html
import re
from typing import Any

import pytest
from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.exceptions import ImproperlyConfiguredException, NotAuthorizedException
from litestar.handlers import BaseRouteHandler
from litestar.stores.memory import MemoryStore as LitestarMemoryStore
from litestar.testing import AsyncTestClient

from litestar_kvstores import KVStoresConfig, KVStoresPlugin, MemoryStore
from litestar_kvstores.dashboard import StoreDashboard, StoreDashboardConfig
from litestar_kvstores.dashboard._plugin import _registry
from tests.support.dashboard import CountingMemoryStore, rows
from tests.support.plugin import in_app
from tests.support.stores import as_kv_store

OPERATOR = {"x-operator": "yes"}
SECRET = "a test secret of the dashboard's csrf middleware"


def operators_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if connection.headers.get("x-operator") != "yes":
        raise NotAuthorizedException("operators only")


def build(
    default: Any = None, *, app_csrf: bool = False, sample_interval: float = 60.0, **stores: Any
) -> tuple[Litestar, StoreDashboard, KVStoresPlugin]:
    dashboard = StoreDashboard(
        StoreDashboardConfig(
            guards=[operators_only], csrf_secret=None if app_csrf else SECRET, sample_interval=sample_interval
        )
    )
    plugin = KVStoresPlugin(KVStoresConfig(default=default, stores=stores, cleanup_interval=None))
    app = Litestar(
        plugins=[plugin, dashboard], csrf_config=CSRFConfig(secret=SECRET) if app_csrf else None, debug=False
    )
    return app, dashboard, plugin


def operator_client(app: Litestar) -> AsyncTestClient[Litestar]:
    client = AsyncTestClient(app)
    client.headers.update(OPERATOR)
    return client


def hidden(page: str, field: str) -> str:
    match = re.search(rf'name="{field}" value="([^"]*)"', page)
    assert match, f"no hidden field {field}"
    return html.unescape(match.group(1))


# -- configuration -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"guards": []}, "at least one guard"),
        ({"guards": [operators_only], "path": "stores"}, "must start with '/'"),
        ({"guards": [operators_only], "sample_interval": 0}, "sample_interval must be positive"),
        ({"guards": [operators_only], "samples": 1}, "samples must be at least 2"),
    ],
)
def test_config_refuses_what_would_be_unsafe_or_meaningless(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StoreDashboardConfig(**options)


def test_without_any_csrf_protection_the_app_is_not_built() -> None:
    with pytest.raises(ValueError, match="need CSRF protection"):
        Litestar(plugins=[StoreDashboard(StoreDashboardConfig(guards=[operators_only]))])


def test_a_registry_of_litestar_is_refused_with_a_clear_error() -> None:
    app = Litestar(stores={"x": LitestarMemoryStore()})
    app.stores = __import__("litestar").stores.registry.StoreRegistry()
    with pytest.raises(ImproperlyConfiguredException, match=r"litestar_kvstores\.StoreRegistry"):
        _registry(app)


# -- the page ----------------------------------------------------------------------------------------------------


async def test_the_guard_keeps_everyone_else_out() -> None:
    app, _, _ = build()
    async with AsyncTestClient(app) as client:
        assert (await client.get("/stores")).status_code == 401
        assert (
            await client.get("/stores/confirm", params={"action": "clear", "store": "(default)"})
        ).status_code == 401
        response = await client.post("/stores/run", data={"action": "clear", "store": "(default)"})
        assert response.status_code in (401, 403)


async def test_one_row_per_store_with_backend_address_and_key_count(tmp_path: Any) -> None:
    app, _, _ = build(files=f"file://{tmp_path}")
    async with operator_client(app) as client:
        sessions = app.stores.get("sessions")
        await in_app(client, sessions.set, "a", b"1")
        await in_app(client, sessions.set, "b", b"2")
        await in_app(client, app.stores.get("files").set, "f", b"3")
        page = (await client.get("/stores")).text
    table = rows(page)
    assert list(table) == ["files", "sessions", "(default)"]
    assert table["sessions"][:4] == ["sessions", "MemoryStore", "in-process", "2"]
    assert table["files"][:4] == ["files", "FileStore", str(tmp_path), "1"]
    assert table["(default)"][3] == "0"  # the root's own keys, not its namespaces'
    assert table["sessions"][4:7] == ["-", "-", "-"]  # no stats() on a plain MemoryStore


async def test_an_unreachable_store_shows_its_error_and_never_its_credentials(redis_url: str) -> None:
    host_port = redis_url.split("://", 1)[1].split("/", 1)[0]
    app, _, _ = build(broken=f"redis://operator:s3cr3t-pw@{host_port}/0")  # the server knows no such user
    async with operator_client(app) as client:
        response = await client.get("/stores")
    assert response.status_code == 200
    assert "s3cr3t-pw" not in response.text
    assert "operator" not in response.text.replace("Operators only", "")
    cells = rows(response.text)["broken"]
    assert cells[1:3] == ["RedisStore", host_port]
    assert cells[3].startswith("Store")  # StoreError or StoreUnavailableError, by our wording


# -- actions -----------------------------------------------------------------------------------------------------


async def test_clear_asks_first_and_needs_the_csrf_token() -> None:
    app, _, _ = build()
    async with operator_client(app) as client:
        sessions = as_kv_store(app.stores.get("sessions"))
        await in_app(client, sessions.set, "a", b"1")
        confirm = await client.get("/stores/confirm", params={"action": "clear", "store": "sessions"})
        assert confirm.status_code == 200
        assert "Clear sessions?" in confirm.text
        assert await in_app(client, sessions.count) == 1  # asking deletes nothing

        refused = await client.post("/stores/run", data={"action": "clear", "store": "sessions"})
        assert refused.status_code == 403
        forged = await client.post(
            "/stores/run", data={"action": "clear", "store": "sessions", "_csrf_token": "0" * 128}
        )
        assert forged.status_code == 403
        assert await in_app(client, sessions.count) == 1

        token = hidden(confirm.text, "_csrf_token")
        done = await client.post(
            "/stores/run", data={"action": "clear", "store": "sessions", "_csrf_token": token}, follow_redirects=False
        )
        assert done.status_code == 303
        assert await in_app(client, sessions.count) == 0
        page = await client.get(done.headers["location"])
        assert "Cleared every entry of sessions." in page.text


async def test_delete_expired_reports_how_many_it_removed() -> None:
    app, _, _ = build(app_csrf=True)  # the application's own CSRF middleware protects the dashboard too
    async with operator_client(app) as client:
        cache = as_kv_store(app.stores.get("cache"))
        for key in ("a", "b"):
            await in_app(client, cache.set, key, b"x", 0.01)
        await in_app(client, cache.set, "kept", b"y")
        await asyncio.sleep(0.05)
        confirm = await client.get("/stores/confirm", params={"action": "delete-expired", "store": "cache"})
        token = hidden(confirm.text, "_csrf_token")
        assert client.cookies.get("csrftoken")  # the application's cookie, not the dashboard's own
        page = await client.post(
            "/stores/run", data={"action": "delete-expired", "store": "cache", "_csrf_token": token}
        )
        assert "delete_expired on cache removed 2 entries." in page.text
        assert await in_app(client, cache.count) == 1


async def test_unknown_stores_and_actions_are_refused() -> None:
    app, _, _ = build()
    async with operator_client(app) as client:
        assert (await client.get("/stores/confirm", params={"action": "clear", "store": "nope"})).status_code == 404
        bad_action = await client.get("/stores/confirm", params={"action": "drop", "store": "(default)"})
        assert bad_action.status_code == 400
        # a notice is only shown for a store that exists
        page = await client.get("/stores", params={"done": "clear", "store": "<script>"})
        assert "Cleared" not in page.text
        assert "<script>" not in page.text


# -- clean-up, stats and chart -----------------------------------------------------------------------------------


async def test_the_last_clean_up_pass_is_shown_per_store() -> None:
    app, _, plugin = build(named=MemoryStore())
    async with operator_client(app) as client:
        named = app.stores.get("named")
        await in_app(client, named.set, "old", b"x", 0.01)
        app.stores.get("sessions")  # a namespace of the default store: cleaned with it
        await asyncio.sleep(0.05)
        await in_app(client, plugin.delete_expired)
        page = (await client.get("/stores")).text
    table = rows(page)
    assert table["named"][7] == "1 removed"
    assert table["(default)"][7] == "0 removed"
    assert table["sessions"][7] == "with (default)"
    assert plugin.last_cleanup_at is not None
    assert "pass 2" in page  # the start-up pass, then this one


async def test_hits_misses_errors_and_the_chart_come_from_stats() -> None:
    app, dashboard, _ = build(CountingMemoryStore())
    async with operator_client(app) as client:
        cache = app.stores.get("cache")
        await in_app(client, dashboard.sample, app)  # the sampler's first sample was taken on start-up
        await in_app(client, cache.set, "k", b"v")
        for key in ("k", "k", "k", "missing"):
            await in_app(client, cache.get, key)
        await in_app(client, dashboard.sample, app)
        await in_app(client, cache.get, "missing")
        await in_app(client, dashboard.sample, app)
        page = (await client.get("/stores")).text
    assert rows(page)["cache"][4:7] == ["3", "2", "0"]
    chart = re.search(r'<tr data-store="cache">.*?</tr>', page, re.S)
    assert chart
    polylines = dict(re.findall(r'<polyline class="(\w+)"[^>]*points="([^"]*)"', chart.group(0)))
    # intervals: (nothing yet for cache), (3 hits, 1 miss), (0 hits, 1 miss); peak 3 on a 150 x 36 chart
    assert polylines == {"hits": "0,35 75,1 150,35", "misses": "0,35 75,23.7 150,23.7"}


async def test_the_sampler_runs_in_the_background_while_the_app_serves() -> None:
    app, dashboard, _ = build(CountingMemoryStore(), sample_interval=0.05)
    async with operator_client(app) as client:
        app.stores.get("cache")
        await asyncio.sleep(0.3)
        assert dashboard.history.span_seconds() > 0.1
        assert len(dashboard.history.deltas("cache")) >= 2
        assert client is not None
