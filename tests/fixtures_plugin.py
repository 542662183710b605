"""Fixtures of the registry, plugin, CLI and Litestar integration tests: a store URL per backend."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest


def unique_namespace() -> str:
    """A namespace no other test uses, so tests can share one server."""
    return f"t{uuid.uuid4().hex[:12]}"


def url_for(backend: str, request: pytest.FixtureRequest, directory: Path) -> str:
    """A ``store_from_url`` URL of ``backend`` in a fresh namespace.

    Network backends take their server from the ``<backend>_url`` fixture of their fixture module.
    """
    namespace = unique_namespace()
    if backend == "memory":
        return f"memory://?namespace={namespace}"
    if backend == "file":
        return f"file://{directory}?namespace={namespace}"
    if backend == "sqlite":
        return f"sqlite://{directory}.db?namespace={namespace}"
    server = server_url(backend, request)
    return f"{server}{'&' if '?' in server else '?'}namespace={namespace}"


SCHEMES = {
    "redis": "redis",
    "valkey": "valkey",
    "redis_cluster": "redis+cluster",
    "valkey_cluster": "valkey+cluster",
    "mongo": "mongodb",
    "postgres": "postgresql",
}
"""The ``store_from_url`` scheme of each network backend (its server fixture may hand out ``redis://`` for all)."""


def server_url(backend: str, request: pytest.FixtureRequest) -> str:
    """The URL of the backend's test server (``<backend>_url`` fixture) with the scheme that selects the backend."""
    url = str(request.getfixturevalue(f"{backend}_url"))
    scheme, _, rest = url.partition("://")
    secure = "s" if scheme in ("rediss", "valkeys") and "+" not in SCHEMES[backend] else ""
    return f"{SCHEMES[backend]}{secure}://{rest}"


@pytest.fixture
def store_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of the backend under test in a namespace unique to the test."""
    return url_for(backend, request, tmp_path / "store")
