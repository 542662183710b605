"""The dashboard's plugin: its routes (behind the user's guards, CSRF-protected) and the stats sampler."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

import jinja2
from litestar import Request, Response, Router, get, post
from litestar.config.csrf import CSRFConfig
from litestar.enums import MediaType, RequestEncodingType
from litestar.exceptions import ImproperlyConfiguredException, NotFoundException, ValidationException
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.params import Body
from litestar.plugins import InitPluginProtocol
from litestar.response import Redirect
from litestar.template.base import csrf_token

from ..cli import describe_address
from ..errors import StoreError
from ..plugin import KVStoresPlugin
from ..registry import StoreRegistry
from ._history import Sparkline, StatsHistory, read_stats

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.config.app import AppConfig
    from litestar.stores.base import Store
    from litestar.types import Guard

__all__ = ("StoreDashboard", "StoreDashboardConfig")

logger = logging.getLogger("litestar_kvstores")

ACTIONS = {"clear": "Clear", "delete-expired": "Delete expired entries of"}
"""The dashboard's actions by the name its forms post, with the verb its pages show."""

CSRF_COOKIE = "kvstores_dashboard_csrf"
"""The CSRF cookie of the dashboard's own middleware (used when the application has no ``csrf_config``)."""


@dataclass
class StoreDashboardConfig:
    """Where the dashboard lives and who may open it.

    Attributes:
        guards: Litestar guards that every dashboard request must pass, e.g. one that admits administrators only.
            Required: the dashboard can delete data, so it is never served without one.
        path: The dashboard's URL path.
        csrf_secret: The secret of the dashboard's own CSRF middleware, used when the application has no
            ``csrf_config`` (then the application's middleware protects the dashboard too). The same for every
            worker process.
        sample_interval: Seconds between two samples of the stores' ``stats()`` for the chart.
        samples: How many samples the chart shows (it spans ``(samples - 1) * sample_interval`` seconds).
        home_url: A link back to the application, shown in the dashboard's header (``None``: no link).
        title: The page's title.

    Raises:
        ValueError: no guard, a path without a leading ``/``, a non-positive ``sample_interval`` or fewer than two
            ``samples``.
    """

    guards: Sequence[Guard]
    path: str = "/stores"
    csrf_secret: str | None = None
    sample_interval: float = 10.0
    samples: int = 31
    home_url: str | None = None
    title: str = "Stores"

    def __post_init__(self) -> None:
        if not self.guards:
            raise ValueError("The store dashboard can delete data: give it at least one guard")
        if not self.path.startswith("/"):
            raise ValueError(f"The dashboard's path must start with '/', got {self.path!r}")
        if not self.sample_interval > 0:
            raise ValueError(f"sample_interval must be positive, got {self.sample_interval!r}")
        if self.samples < 2:
            raise ValueError(f"samples must be at least 2, got {self.samples!r}")


@dataclass
class _Row:
    name: str
    backend: str
    address: str
    keys: str
    hits: str = "-"
    misses: str = "-"
    errors: str = "-"
    cleanup: str = "-"
    chart: Sparkline | None = None
    failed: bool = False


@dataclass
class _Cleanup:
    """What :class:`~litestar_kvstores.KVStoresPlugin` reports about its clean-up passes (nothing without it)."""

    at: str | None = None
    runs: int = 0
    interval: str | None = None
    removed: Mapping[str, int] = field(default_factory=dict)


def _registry(app: Litestar) -> StoreRegistry:
    registry = app.stores
    if not isinstance(registry, StoreRegistry):
        raise ImproperlyConfiguredException(
            "The store dashboard lists app.stores, which must be a litestar_kvstores.StoreRegistry "
            "(use KVStoresPlugin, or KVStoresCLIPlugin with stores=)"
        )
    return registry


def _describe_error(exc: Exception) -> str:
    """Our errors' messages name addresses, never credentials; other libraries' messages are not shown."""
    return f"{type(exc).__name__}: {exc}" if isinstance(exc, StoreError) else type(exc).__name__


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds:.2g} s"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _clock(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%H:%M:%S UTC")


class StoreDashboard(InitPluginProtocol):
    """Mount the store dashboard at ``config.path`` behind ``config.guards``, and sample the stores' stats.

    Args:
        config: Where the dashboard lives and who may open it.

    Raises:
        ValueError: (when the application is built) neither the application's ``csrf_config`` nor
            ``config.csrf_secret`` is set, so its buttons could not be protected against cross-site requests.
    """

    __slots__ = ("config", "history", "templates")

    def __init__(self, config: StoreDashboardConfig) -> None:
        self.config = config
        self.history = StatsHistory(config.samples)
        """The samples the chart is drawn from."""
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader("litestar_kvstores.dashboard", "templates"),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Add the dashboard's router (with its own CSRF middleware unless the app has one) and the sampler."""
        middleware = []
        if app_config.csrf_config is None:
            if self.config.csrf_secret is None:
                raise ValueError(
                    "The store dashboard's buttons need CSRF protection: set Litestar(csrf_config=...) "
                    "or StoreDashboardConfig(csrf_secret=...)"
                )
            csrf = CSRFConfig(secret=self.config.csrf_secret, cookie_name=CSRF_COOKIE, cookie_path=self.config.path)
            middleware.append(DefineMiddleware(CSRFMiddleware, config=csrf))
        router = Router(
            self.config.path,
            route_handlers=self._route_handlers(),
            guards=list(self.config.guards),
            middleware=middleware,
            include_in_schema=False,
        )
        app_config.route_handlers.append(router)
        app_config.lifespan.append(self._sampling)
        return app_config

    # -- sampling ------------------------------------------------------------------------------------------------

    async def sample(self, app: Litestar) -> None:
        """Record one sample of every store's ``stats()`` (stores without it, or whose ``stats()`` fails, are left
        out of this sample)."""
        counts: dict[str, Mapping[str, Any]] = {}
        for name, store in _registry(app).managed_stores().items():
            try:
                stats = await read_stats(store)
            except Exception:
                logger.debug("stats() failed on the store %s", name, exc_info=True)
                continue
            if stats is not None:
                counts[name] = stats
        self.history.record(counts)

    @asynccontextmanager
    async def _sampling(self, app: Litestar) -> AsyncIterator[None]:
        async def sample_periodically() -> None:
            while True:
                await self.sample(app)
                await asyncio.sleep(self.config.sample_interval)

        task = asyncio.get_running_loop().create_task(sample_periodically(), name="litestar-kvstores dashboard")
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    # -- pages ---------------------------------------------------------------------------------------------------

    def _render(
        self, template: str, request: Request[Any, Any, Any], status_code: int = 200, **context: Any
    ) -> Response[str]:
        html = self.templates.get_template(template).render(
            title=self.config.title,
            base=self.config.path.rstrip("/"),
            home_url=self.config.home_url,
            csrf_token=csrf_token({"request": request}),
            **context,
        )
        return Response(html, media_type=MediaType.HTML, status_code=status_code)

    async def _row(self, name: str, store: Store, cleanup: _Cleanup, targets: Mapping[str, Store]) -> _Row:
        row = _Row(name=name, backend=type(store).__name__, address=describe_address(store), keys="-")
        count = getattr(store, "count", None)
        try:
            if count is not None:
                row.keys = f"{await count():,}"
            stats = await read_stats(store)
        except Exception as exc:
            row.keys, row.failed = _describe_error(exc), True
            stats = None
        if stats is not None:
            row.hits, row.misses, row.errors = (f"{int(stats.get(kind, 0)):,}" for kind in ("hits", "misses", "errors"))
            row.chart = self.history.sparkline(name)
        if name in cleanup.removed:
            row.cleanup = f"{cleanup.removed[name]:,} removed"
        elif cleanup.at is not None and name not in targets:
            row.cleanup = "with (default)"
        return row

    def _cleanup(self, app: Litestar) -> _Cleanup:
        try:
            plugin = app.plugins.get(KVStoresPlugin)
        except KeyError:
            return _Cleanup()
        at = plugin.last_cleanup_at
        return _Cleanup(
            at=None if at is None else _clock(at),
            runs=plugin.cleanup_runs,
            interval=None if plugin.config.cleanup_interval is None else _duration(plugin.config.cleanup_interval),
            removed=dict(plugin.last_cleanup),
        )

    def _store(self, app: Litestar, name: str) -> Store:
        store = _registry(app).managed_stores().get(name)
        if store is None:
            raise NotFoundException(f"No store named {name!r}")
        return store

    def _confirm_page(
        self, request: Request[Any, Any, Any], action: str, name: str, error: str | None = None
    ) -> Response[str]:
        """The confirmation step of ``action`` on the store ``name``; with ``error``, the failed attempt (503)."""
        target = self._store(request.app, name)
        return self._render(
            "confirm.html",
            request,
            status_code=200 if error is None else 503,
            action=action,
            verb=ACTIONS[action],
            name=name,
            backend=type(target).__name__,
            address=describe_address(target),
            error=error,
        )

    @staticmethod
    def _action(action: str) -> str:
        if action not in ACTIONS:
            raise ValidationException(f"Unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
        return action

    def _route_handlers(self) -> list[Any]:
        dashboard = self

        @get("/", name="kvstores-dashboard")
        async def overview(request: Request[Any, Any, Any]) -> Response[str]:
            registry = _registry(request.app)
            cleanup = dashboard._cleanup(request.app)
            targets = registry.cleanup_targets()
            stores = registry.managed_stores()
            rows = await asyncio.gather(
                *(dashboard._row(name, store, cleanup, targets) for name, store in stores.items())
            )
            return dashboard._render(
                "dashboard.html",
                request,
                rows=rows,
                cleanup=cleanup,
                notice=dashboard._notice(request, stores),
                window=_duration(dashboard.history.span_seconds()),
                sample_interval=_duration(dashboard.config.sample_interval),
            )

        @get("/confirm", name="kvstores-dashboard-confirm")
        async def confirm(request: Request[Any, Any, Any]) -> Response[str]:
            query = request.query_params
            return dashboard._confirm_page(request, dashboard._action(query.get("action", "")), query.get("store", ""))

        @post("/run", name="kvstores-dashboard-run")
        async def run(
            request: Request[Any, Any, Any],
            data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
        ) -> Response[Any]:
            action, name = dashboard._action(data.get("action", "")), data.get("store", "")
            target = dashboard._store(request.app, name)
            result: dict[str, str] = {"done": action, "store": name}
            try:
                if action == "clear":
                    await target.delete_all()
                else:
                    delete_expired = getattr(target, "delete_expired", None)
                    result["removed"] = str(int(await delete_expired() or 0)) if delete_expired else "0"
            except Exception as exc:
                logger.warning("The dashboard's %s failed on the store %s", action, name, exc_info=True)
                return dashboard._confirm_page(request, action, name, error=_describe_error(exc))
            return Redirect(f"{dashboard.config.path}?{urlencode(result)}", status_code=303)

        return [overview, confirm, run]

    @staticmethod
    def _notice(request: Request[Any, Any, Any], stores: Mapping[str, Store]) -> str | None:
        """The outcome of the action the browser was redirected from (only for a store and action that exist)."""
        done, name = request.query_params.get("done"), request.query_params.get("store")
        if done not in ACTIONS or name not in stores:
            return None
        if done == "clear":
            return f"Cleared every entry of {name}."
        removed = request.query_params.get("removed", "0")
        return f"delete_expired on {name} removed {int(removed) if removed.isdigit() else 0:,} entries."
