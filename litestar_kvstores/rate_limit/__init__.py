"""Rate limiting that holds across workers, counting with the store's atomic ``incr``.

- :class:`KVRateLimitConfig`: several limits at once, fixed or sliding windows, per-client or per-route budgets,
  a defined behaviour when the store is unreachable.
- :class:`AtomicRateLimitMiddleware`: the ``middleware_class`` for Litestar's own ``RateLimitConfig``.
- :func:`forwarded_for_identifier`: the client's address behind trusted reverse proxies.

Both middlewares refuse a store without atomic ``incr`` when the application starts.
"""

from __future__ import annotations

from ._atomic import AtomicRateLimitMiddleware
from ._config import KVRateLimitConfig
from ._middleware import KVRateLimitMiddleware
from ._proxy import forwarded_for_identifier

__all__ = ("AtomicRateLimitMiddleware", "KVRateLimitConfig", "KVRateLimitMiddleware", "forwarded_for_identifier")
