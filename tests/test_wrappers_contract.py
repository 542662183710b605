"""The whole store contract over every wrapper and the stacks of the design, on memory and Redis (and file)."""

from __future__ import annotations

import functools

import pytest

from litestar_kvstores.base import KVStore
from litestar_kvstores.testing import ContractTraits, StoreContract

from .wrappers_support import PROCESS_LOCAL, WRAPPERS, open_wrapped

CASES = [(wrapper, backend) for wrapper in WRAPPERS for backend in ("memory", "redis")] + [
    ("encrypted", "file"),
    ("compressed_zstd", "file"),
]


@pytest.fixture(params=CASES, ids=[f"{wrapper}-{backend}" for wrapper, backend in CASES])
def case(request: pytest.FixtureRequest) -> tuple[str, str]:
    """A wrapper configuration of ``WRAPPERS`` and the backend it wraps."""
    wrapper, backend = request.param
    return wrapper, backend


class TestWrappedContract(StoreContract):
    @pytest.fixture
    def store(self, case: tuple[str, str], request: pytest.FixtureRequest) -> KVStore:
        wrapper, backend = case
        # the backend's fixture enters and closes the wrapped store; the wrappers' own memory stores need neither
        return WRAPPERS[wrapper](request.getfixturevalue(f"{backend}_store"))

    @pytest.fixture
    def contract_traits(self, case: tuple[str, str], request: pytest.FixtureRequest) -> ContractTraits:
        wrapper, backend = case
        inner: ContractTraits = request.getfixturevalue(f"{backend}_traits")
        opener = None
        if inner.opener is not None and wrapper not in PROCESS_LOCAL:
            opener = functools.partial(open_wrapped, wrapper, inner.opener)
        return ContractTraits(expires_natively=inner.expires_natively, opener=opener)
