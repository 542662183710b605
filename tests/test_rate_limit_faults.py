"""fail_open against a stopped Redis/Valkey server, one WARNING per outage, and the recovery."""

from __future__ import annotations

import logging

import pytest
from litestar.testing import AsyncTestClient

from testservers.redis import Kind, start_server

from .rate_limit_support import limited_app, statuses
from .redis_support import SINGLE_KINDS

LOGGER = "litestar_kvstores.rate_limit"


@pytest.mark.parametrize("kind", SINGLE_KINDS)
@pytest.mark.parametrize("fail_open", [True, False], ids=["fail_open", "fail_closed"])
async def test_a_stopped_store_and_the_recovery(kind: Kind, fail_open: bool, caplog: pytest.LogCaptureFixture) -> None:
    # Litestar's logging set-up at start-up replaces the root logger's handlers, caplog's among them
    logger = logging.getLogger(LOGGER)
    logger.addHandler(caplog.handler)
    server = start_server(kind)
    port = server.port
    app = limited_app(f"{kind}://127.0.0.1:{port}?namespace=limits", limits=[("minute", 3)], fail_open=fail_open)
    try:
        async with AsyncTestClient(app) as client:
            before = [await client.get("/a") for _ in range(2)]
            server.stop()
            with caplog.at_level(logging.INFO, logger=LOGGER):
                during = [await client.get("/a") for _ in range(5)]
                server = start_server(kind, port=port)  # back, empty: the counters start again
                after = [await client.get("/a") for _ in range(4)]
    finally:
        server.stop()
        logger.removeHandler(caplog.handler)
    assert statuses(before) == [200, 200]
    assert statuses(during) == [200 if fail_open else 503] * 5
    assert statuses(after) == [200, 200, 200, 429]
    records = [record for record in caplog.records if record.name == LOGGER]
    assert [record.levelno for record in records] == [logging.WARNING, logging.INFO]
    warning = records[0].getMessage()
    assert f"127.0.0.1:{port}" in warning  # from the store's error: an address, never a URL
    assert ("lets requests through" if fail_open else "answers 503") in warning
