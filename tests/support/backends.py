"""The backends the contract suite runs against.

Each entry names a backend; ``tests/conftest.py`` resolves it to two fixtures it defines for that backend:

- ``<name>_store``: an async fixture yielding a fresh, empty, entered store in a namespace unique to the test;
- ``<name>_traits``: a :class:`litestar_kvstores.testing.ContractTraits` describing the backend, including an
  ``opener`` that opens the same namespace from another process when the backend is shared across processes.

Adding a backend to the whole contract suite is one line here plus its two fixtures in ``tests/conftest.py``.
"""

from __future__ import annotations

BACKENDS: list[str] = [
    "memory",
    "file",
    "redis",
    "valkey",
    "redis_cluster",
    "valkey_cluster",
    "mongo",
    "sqlite",
    "postgres",
]

SHARED_BACKENDS: list[str] = [backend for backend in BACKENDS if backend != "memory"]
"""The backends whose stores another store object (or process) on the same URL sees: all but ``memory``."""
