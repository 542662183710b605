"""An opt-in HTML dashboard of the application's stores, for operators: mount it behind your own guard.

::

    from litestar_kvstores.dashboard import StoreDashboard, StoreDashboardConfig

    app = Litestar(
        plugins=[
            KVStoresPlugin(KVStoresConfig(default="redis://localhost:6379/0")),
            StoreDashboard(StoreDashboardConfig(guards=[admins_only], csrf_secret=os.environ["DASHBOARD_SECRET"])),
        ],
    )

It lists every store of ``app.stores`` (a :class:`~litestar_kvstores.StoreRegistry`) with its backend, address (never
credentials), key count, hits, misses and errors (for stores that offer ``stats()``, e.g. ``InstrumentedStore``),
the last background ``delete_expired`` of :class:`~litestar_kvstores.KVStoresPlugin`, and a chart of hits and
misses over the last minutes; its buttons run ``delete_expired`` or clear a store after a confirmation step, as
CSRF-protected form posts. Anyone who reaches it can delete data: it refuses to be built without a guard.

Needs ``jinja2`` (``pip install jinja2``); the page is rendered by its own Jinja environment, so it works whatever
template engine the application uses.
"""

from __future__ import annotations

from ._plugin import StoreDashboard, StoreDashboardConfig

__all__ = ("StoreDashboard", "StoreDashboardConfig")
