"""A small Litestar app showing litestar-kvstores: server-side sessions, rate limiting and response caching."""
