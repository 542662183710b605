"""RetryStore and FallbackStore against a real Redis server that stops and comes back."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from litestar_kvstores import MemoryStore, StoreUnavailableError
from litestar_kvstores.redis import RedisStore
from litestar_kvstores.wrappers import FallbackStore, InstrumentedStore, RetryStore
from testservers.redis import RedisServer, start_server

from .fixtures_redis import unique_namespace


@pytest.fixture
def server() -> Iterator[RedisServer]:
    """A Redis server of this test alone, which the test may stop and restart on the same port."""
    running = start_server("redis")
    try:
        yield running
    finally:
        running.stop()


def counted(store: Any) -> InstrumentedStore:
    return InstrumentedStore(store, prometheus=False, opentelemetry=False)


async def test_retry_rides_out_a_restart(server: RedisServer) -> None:
    port = server.port
    async with RedisStore.with_client(server.url, namespace=unique_namespace()) as redis:
        inner = counted(redis)
        store = RetryStore(inner, attempts=6, backoff=0.1)
        await store.set("k", b"v")
        server.stop()

        async def restart() -> RedisServer:
            await asyncio.sleep(0.4)
            return await asyncio.to_thread(start_server, "redis", port=port)

        restarting = asyncio.create_task(restart())
        assert await store.get("k") is None  # the new server is empty; no error reached the caller
        server = await restarting
        try:
            assert inner.stats()["errors"] >= 1
            assert await store.incr("n") == 1
        finally:
            server.stop()


async def test_retry_gives_up_after_its_attempts_and_never_repeats_incr(server: RedisServer) -> None:
    async with RedisStore.with_client(server.url, namespace=unique_namespace()) as redis:
        inner = counted(redis)
        store = RetryStore(inner, attempts=3, backoff=0.01)
        server.stop()
        with pytest.raises(StoreUnavailableError):
            await store.get("k")
        assert inner.stats()["errors"] == 3
        with pytest.raises(StoreUnavailableError):
            await store.incr("n")
        assert inner.stats()["errors"] == 4


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"attempts": 0}, ValueError),
        ({"attempts": 2.0}, TypeError),
        ({"backoff": -1}, ValueError),
        ({"backoff": "1"}, TypeError),
    ],
)
def test_retry_rejects_bad_arguments(options: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match=next(iter(options))):
        RetryStore(MemoryStore(), **options)


async def test_fallback_switches_while_the_primary_is_down_and_back_when_it_recovers(
    server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    port = server.port
    fallback = MemoryStore()
    async with RedisStore.with_client(server.url, namespace=unique_namespace()) as redis:
        store = FallbackStore(redis, fallback, probe_interval=0.1)
        child = store.with_namespace("app")
        await store.set("k", b"on primary")
        await child.set("k", b"child on primary")
        server.stop()
        with caplog.at_level(logging.INFO, logger="litestar_kvstores"):
            assert await store.get("k") is None  # the fallback's (empty) answer, not an error
            assert store.degraded
            assert child.degraded
            await store.set("k", b"on fallback")
            assert await child.incr("n") == 1
            assert await store.get("k") == b"on fallback"
            assert await fallback.with_namespace("app").get("n") == b"1"
            assert [key async for key in child.keys()] == ["n"]  # noqa: SIM118

            server = await asyncio.to_thread(start_server, "redis", port=port)
            try:
                deadline = time.monotonic() + 10
                while store.degraded and time.monotonic() < deadline:
                    await store.exists("k")  # operations start the probes
                    await asyncio.sleep(0.05)
                assert not store.degraded
                assert not child.degraded
                assert await store.get("k") is None  # the restarted primary is empty: nothing was copied back
                await store.set("k", b"primary again")
                assert await redis.get("k") == b"primary again"
            finally:
                server.stop()
    transitions = [(r.levelno, r.getMessage()) for r in caplog.records if "fallback" in r.getMessage()]
    assert len(transitions) == 2
    assert transitions[0][0] == logging.WARNING
    assert "unavailable" in transitions[0][1]
    assert f"127.0.0.1:{port}" in transitions[0][1] or "RedisStore" in transitions[0][1]
    assert transitions[1][0] == logging.INFO
    assert "available again" in transitions[1][1]


async def test_fallback_passes_other_errors_through(memory_store: Any) -> None:
    store = FallbackStore(memory_store, MemoryStore())
    await store.set("text", b"abc")
    with pytest.raises(ValueError, match="integer"):
        await store.incr("text")
    assert not store.degraded


def test_fallback_rejects_bad_arguments() -> None:
    with pytest.raises(TypeError, match="not dict"):
        FallbackStore(MemoryStore(), {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="probe_interval"):
        FallbackStore(MemoryStore(), MemoryStore(), probe_interval=0)
