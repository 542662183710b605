"""The shared core of :mod:`litestar_kvstores.redis` and :mod:`litestar_kvstores.valkey` (private).

- ``bridge``: :class:`~.bridge.ClientBridge`, what the core needs from one client library, and the clients' defaults;
- ``store``: :class:`~.store.RedisLikeStore`, the store itself;
- ``connection``: the client and its state shared by a root store and its children, and its error translation;
- ``factory``: the clients of ``with_client`` / ``with_cluster`` and the URL factory (single server, Sentinel,
  cluster);
- ``pool``: the connection pool that waits for a free connection;
- ``scripts`` and ``lua/``: the server-side scripts, shipped as package files.
"""
