"""InstrumentedStore: its counts, and their export to Prometheus and OpenTelemetry."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import DataPointT, InMemoryMetricReader, Sum
from prometheus_client import CollectorRegistry

from litestar_kvstores import MemoryStore
from litestar_kvstores.base import KVStore
from litestar_kvstores.wrappers import InstrumentedStore


async def exercise(store: KVStore) -> None:
    await store.set("a", b"1")
    await store.set_many({"b": b"2", "c": b"3"})
    assert await store.get("a") == b"1"
    assert await store.get("missing") is None
    assert await store.get_many(["a", "b", "x", "y"]) == {"a": b"1", "b": b"2", "x": None, "y": None}
    assert await store.incr("n") == 1
    await store.delete("a")
    await store.delete_many(["b", "c"])
    await store.set("t", b"x")
    with pytest.raises(ValueError, match="integer"):
        await store.incr("t")


async def test_stats_count_what_the_application_sees(redis_store: KVStore) -> None:
    store = InstrumentedStore(redis_store, name="cache", prometheus=False, opentelemetry=False)
    await exercise(store)
    stats = store.stats()
    assert {name: stats[name] for name in ("hits", "misses", "sets", "deletes", "errors")} == {
        "hits": 3,
        "misses": 3,
        "sets": 5,  # a, b, c, n, t (a failed incr counts nothing)
        "deletes": 3,
        "errors": 0,  # bad input is not a store error
    }
    assert stats["operations"] == 10
    assert 0 < stats["latency_avg_ms"] <= stats["latency_max_ms"]
    per_operation = store.operation_stats()
    assert per_operation["get"]["count"] == 2
    assert per_operation["incr"]["count"] == 2
    assert "exists" not in per_operation


async def test_counts_go_to_a_prometheus_registry() -> None:
    registry = CollectorRegistry()
    store = InstrumentedStore(MemoryStore(), name="sessions", prometheus=registry, opentelemetry=False)
    await exercise(store)

    def sample(operation: str, outcome: str) -> Any:
        labels = {"store": "sessions", "operation": operation, "outcome": outcome}
        return registry.get_sample_value("kvstores_operations_total", labels)

    assert sample("get", "hit") == 1
    assert sample("get", "miss") == 1
    assert sample("set", "ok") == 2
    assert sample("incr", "ok") == 1
    assert sample("incr", "invalid") == 1
    assert sample("incr", "error") is None
    count = registry.get_sample_value("kvstores_operation_seconds_count", {"store": "sessions", "operation": "get"})
    assert count == 2
    # a second store of the same registry shares the metrics under its own label
    await InstrumentedStore(MemoryStore(), name="other", prometheus=registry, opentelemetry=False).get("k")
    assert (
        registry.get_sample_value(
            "kvstores_operations_total", {"store": "other", "operation": "get", "outcome": "miss"}
        )
        == 1
    )


def attribute(point: DataPointT, name: str) -> object:
    """The attribute ``name`` of a data point (OpenTelemetry types a point's attributes as optional)."""
    assert point.attributes is not None
    return point.attributes[name]


async def test_counts_go_to_an_opentelemetry_meter_provider() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    store = InstrumentedStore(MemoryStore(), name="limits", prometheus=False, opentelemetry=provider)
    await exercise(store)
    data = reader.get_metrics_data()
    assert data is not None
    metrics = {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    operations = metrics["kvstores.operations"].data
    assert isinstance(operations, Sum)  # a counter: its points hold values
    points = {
        (attribute(p, "kvstores.operation"), attribute(p, "kvstores.outcome")): p.value for p in operations.data_points
    }
    assert points[("get", "hit")] == 1
    assert points[("get", "miss")] == 1
    assert points[("set_many", "ok")] == 1
    assert {attribute(p, "kvstores.store") for p in metrics["kvstores.operation.duration"].data.data_points} == {
        "limits"
    }
    provider.shutdown()
