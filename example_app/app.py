"""The example application: server-side sessions, a rate-limited page, a cached page and the store dashboard.

Every store comes from :class:`~litestar_kvstores.KVStoresPlugin`: each name Litestar asks for (``sessions``,
``rate_limit``, ``response_cache``) becomes a namespace of one default store, the embedded in-memory store unless
``KVSTORES_DEFAULT`` names another backend (``file://./data``, ``redis://localhost:6379/0``, ``mongodb://...``).
The plugin enters the stores, cleans expired entries in the background and closes them on shutdown.

The pages are Jinja templates rendered by Litestar (``templates/``), styled by one local stylesheet (``static/``):
no build step, nothing fetched from elsewhere.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Annotated, Any

from litestar import Litestar, Request, Response, get, post
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException, TooManyRequestsException
from litestar.handlers import BaseRouteHandler
from litestar.middleware.rate_limit import DurationUnit, RateLimitConfig
from litestar.middleware.session.server_side import ServerSideSessionConfig
from litestar.params import Body
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.stores.base import Store
from litestar.template.config import TemplateConfig

from litestar_kvstores import (
    AtomicRateLimitMiddleware,
    KVStore,
    KVStoresConfig,
    KVStoresPlugin,
    invalidate_path,
    store_from_url,
)
from litestar_kvstores.cli import describe_address
from litestar_kvstores.dashboard import StoreDashboard, StoreDashboardConfig
from litestar_kvstores.wrappers import InstrumentedStore

EMBEDDED_DEFAULT = "memory://?max_entries=100000"
HERE = Path(__file__).parent
RATE_LIMIT: tuple[DurationUnit, int] = ("minute", 5)
CACHE_SECONDS = 60
SECRET_VARIABLE = "EXAMPLE_APP_SECRET"
DEVELOPMENT_SECRET = "litestar-kvstores example app: development only, set EXAMPLE_APP_SECRET"

logger = logging.getLogger("example_app")


def signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: only signed-in visitors pass.

    In this demo anybody can sign in with any name; in your application the dashboard's guard must admit
    operators only.

    Raises:
        NotAuthorizedException: nobody is signed in.
    """
    if not connection.session.get("name"):
        raise NotAuthorizedException("Sign in to open the store dashboard")


@get("/")
async def index(request: Request[Any, Any, Any]) -> Template:
    """The home page: the sign-in form, or the signed-in visitor's visit counter (kept in the session)."""
    name = request.session.get("name")
    visits = 0
    if name:
        visits = int(request.session.get("visits", 0)) + 1
        request.set_session({"name": name, "visits": visits})
    sessions = request.app.stores.get("sessions")
    return Template(
        "index.html",
        context={
            "name": name,
            "visits": visits,
            "backend": type(sessions).__name__,
            "address": describe_address(sessions),
            "error": None,
        },
    )


@post("/sign-in")
async def sign_in(
    request: Request[Any, Any, Any], data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
) -> Response[Any]:
    """Start a session for the given name (1-40 characters) and go back home; a bad name re-renders the form."""
    name = data.get("name", "").strip()
    if not 0 < len(name) <= 40:
        sessions = request.app.stores.get("sessions")
        context = {"name": None, "visits": 0, "error": "Enter a name of 1 to 40 characters."}
        context |= {"backend": type(sessions).__name__, "address": describe_address(sessions)}
        return Template("index.html", context=context, status_code=400)
    request.set_session({"name": name, "visits": 0})
    return Redirect("/", status_code=303)


@post("/sign-out")
async def sign_out(request: Request[Any, Any, Any]) -> Redirect:
    """End the session (its entry is deleted from the store) and go back home."""
    request.clear_session()
    return Redirect("/", status_code=303)


@get(
    "/limited",
    middleware=[
        RateLimitConfig(RATE_LIMIT, middleware_class=AtomicRateLimitMiddleware, set_rate_limit_headers=True).middleware
    ],
)
async def limited(request: Request[Any, Any, Any]) -> Template:
    """A page behind an atomic rate limit of 5 requests per minute per client."""
    return Template("limited.html", context={"limit": RATE_LIMIT[1], "unit": RATE_LIMIT[0]})


@get("/cached", cache=CACHE_SECONDS)
async def cached() -> Template:
    """A page rendered at most once per minute: the time below stays the same while the response is cached.

    Cached responses are shared by every visitor, so the page holds nothing personal (no name, no CSRF token: the
    invalidation form takes its token from the CSRF cookie, see ``static/app.js``).
    """
    return Template("cached.html", context={"rendered_at": time.strftime("%H:%M:%S"), "seconds": CACHE_SECONDS})


@post("/cached/invalidate")
async def invalidate_cached(request: Request[Any, Any, Any]) -> Redirect:
    """Delete the cached ``/cached`` responses, so the next request renders the page again."""
    await invalidate_path(request.app, "/cached")
    return Redirect("/cached", status_code=303)


def too_many_requests(request: Request[Any, Any, Any], exc: TooManyRequestsException) -> Response[Any]:
    """The friendly 429 page, with ``Retry-After`` (from the rate limiter's ``RateLimit-Reset``)."""
    headers = dict(exc.headers or {})
    retry_after = headers.get("Retry-After") or headers.get("RateLimit-Reset") or "60"
    headers["Retry-After"] = retry_after
    context = {"retry_after": retry_after, "limit": RATE_LIMIT[1], "unit": RATE_LIMIT[0]}
    return Template("too_many_requests.html", context=context, status_code=429, headers=headers)


def sign_in_required(request: Request[Any, Any, Any], exc: NotAuthorizedException) -> Response[Any]:
    """The page a guard's refusal shows: what to do instead."""
    return Template("sign_in_required.html", context={"detail": exc.detail}, status_code=401)


def _secret() -> str:
    secret = os.environ.get(SECRET_VARIABLE)
    if secret:
        return secret
    logger.warning("%s is not set: using the development secret, never do this in production", SECRET_VARIABLE)
    return DEVELOPMENT_SECRET


def _instrumented(store: Store) -> Store:
    """``store`` counting its hits and misses for the dashboard."""
    return InstrumentedStore(store) if isinstance(store, KVStore) else store


def create_app(default: str | Store | None = None, *, sample_interval: float = 10.0) -> Litestar:
    """Build the app on ``default`` (a store URL or a store), else ``KVSTORES_DEFAULT``, else the embedded store.

    Named stores can be moved elsewhere by ``KVSTORES_<NAME>`` (``KVSTORES_RESPONSE_CACHE=file://./cache``).

    Args:
        default: The store whose namespaces hold the sessions, rate-limit counters and cached responses.
        sample_interval: Seconds between the dashboard's samples of hits and misses.
    """
    config = KVStoresConfig.from_env(default=EMBEDDED_DEFAULT, cleanup_interval=30)  # KVSTORES_DEFAULT, KVSTORES_<NAME>
    if default is not None:
        config.default = default
    if isinstance(config.default, str):
        config.default = _instrumented(store_from_url(config.default))
    return Litestar(
        [
            index,
            sign_in,
            sign_out,
            limited,
            cached,
            invalidate_cached,
            create_static_files_router("/static", directories=[HERE / "static"], include_in_schema=False),
        ],
        plugins=[
            KVStoresPlugin(config),
            StoreDashboard(StoreDashboardConfig(guards=[signed_in], home_url="/", sample_interval=sample_interval)),
        ],
        middleware=[ServerSideSessionConfig(renew_on_access=True).middleware],
        csrf_config=CSRFConfig(secret=_secret()),
        template_config=TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine),
        exception_handlers={TooManyRequestsException: too_many_requests, NotAuthorizedException: sign_in_required},
    )


app = create_app()
