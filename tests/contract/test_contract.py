"""The store contract, run against every backend listed in ``tests/backends.py``."""

from litestar_kvstores.testing import StoreContract


class TestContract(StoreContract):
    """Every test of :class:`StoreContract`, once per backend (the ``store`` fixture is parametrized)."""
