"""A small Litestar app showing litestar-kvstores: sessions, a rate-limited page, a cached page, the store dashboard."""
