"""Counting and timing every operation of a store, with export to Prometheus and OpenTelemetry."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import StoreError
from .base import OPERATIONS, StoreWrapper

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter, Histogram, MeterProvider
    from prometheus_client import CollectorRegistry

    from ..base import KVStore

__all__ = ("InstrumentedStore",)

METRIC_PREFIX = "kvstores"


class _Exporter(Protocol):
    def record(self, operation: str, outcome: str, seconds: float) -> None: ...


_prometheus_metrics: dict[object, tuple[Any, Any]] = {}
"""Per registry (kept alive here): registering a metric name twice in one registry raises."""


class _PrometheusExporter:
    """``kvstores_operations_total{store,operation,outcome}`` and ``kvstores_operation_seconds{store,operation}``."""

    __slots__ = ("_children", "counter", "histogram", "store")

    def __init__(self, registry: CollectorRegistry | None, store: str) -> None:
        import prometheus_client

        target = prometheus_client.REGISTRY if registry is None else registry
        metrics = _prometheus_metrics.get(target)
        if metrics is None:
            metrics = (
                prometheus_client.Counter(
                    f"{METRIC_PREFIX}_operations",
                    "Store operations by store, operation and outcome (hit, miss, ok, error, invalid).",
                    ["store", "operation", "outcome"],
                    registry=target,
                ),
                prometheus_client.Histogram(
                    f"{METRIC_PREFIX}_operation_seconds",
                    "Duration of store operations.",
                    ["store", "operation"],
                    registry=target,
                    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
                ),
            )
            _prometheus_metrics[target] = metrics
        self.counter: Any = metrics[0]
        self.histogram: Any = metrics[1]
        self.store = store
        self._children: dict[tuple[str, str], tuple[Any, Any]] = {}

    def record(self, operation: str, outcome: str, seconds: float) -> None:
        children = self._children.get((operation, outcome))
        if children is None:
            children = (
                self.counter.labels(self.store, operation, outcome),
                self.histogram.labels(self.store, operation),
            )
            self._children[(operation, outcome)] = children
        children[0].inc()
        children[1].observe(seconds)


_otel_instruments: dict[object, tuple[Counter, Histogram]] = {}
"""Per meter provider (``None``: the global one), so each instrument is created once."""


class _OpenTelemetryExporter:
    """Counter ``kvstores.operations`` and histogram ``kvstores.operation.duration`` (seconds)."""

    __slots__ = ("counter", "histogram", "store")

    def __init__(self, provider: MeterProvider | None, store: str) -> None:
        from opentelemetry import metrics

        instruments = _otel_instruments.get(provider)
        if instruments is None:
            meter = metrics.get_meter("litestar_kvstores", meter_provider=provider)
            instruments = (
                meter.create_counter(
                    f"{METRIC_PREFIX}.operations", unit="{operation}", description="Store operations by outcome."
                ),
                meter.create_histogram(
                    f"{METRIC_PREFIX}.operation.duration", unit="s", description="Duration of store operations."
                ),
            )
            _otel_instruments[provider] = instruments
        self.counter, self.histogram = instruments
        self.store = store

    def record(self, operation: str, outcome: str, seconds: float) -> None:
        attributes = {"kvstores.store": self.store, "kvstores.operation": operation, "kvstores.outcome": outcome}
        self.counter.add(1, attributes)
        self.histogram.record(seconds, attributes)


def _wanted(setting: object, module: str, what: str) -> bool:
    if setting is False:
        return False
    available = importlib.util.find_spec(module) is not None
    if setting is None:
        return available
    if not available:
        raise ValueError(f"{what} export needs the {module} package")
    return True


class _Stats:
    """Counts shared by an InstrumentedStore and its namespaces."""

    __slots__ = ("deletes", "errors", "hits", "misses", "operations", "seconds", "sets", "slowest")

    def __init__(self) -> None:
        self.hits = self.misses = self.sets = self.deletes = self.errors = 0
        self.operations: dict[str, int] = dict.fromkeys(OPERATIONS, 0)
        self.seconds: dict[str, float] = dict.fromkeys(OPERATIONS, 0.0)
        self.slowest: dict[str, float] = dict.fromkeys(OPERATIONS, 0.0)


class InstrumentedStore(StoreWrapper):
    """Counts hits, misses, sets, deletes, errors and the latency of every operation; :meth:`stats` returns them.

    The namespaces of an InstrumentedStore count together. The counts are also exported, labelled with ``name``:

    - to Prometheus (``kvstores_operations_total{store,operation,outcome}`` and the histogram
      ``kvstores_operation_seconds{store,operation}``) in ``prometheus_client``'s default registry, the one Litestar's
      ``PrometheusController`` serves, when ``prometheus-client`` is installed;
    - to OpenTelemetry (counter ``kvstores.operations``, histogram ``kvstores.operation.duration`` in seconds) through
      the global meter provider, the one Litestar's ``OpenTelemetryConfig`` sets up, when ``opentelemetry-api`` is
      installed (without an SDK meter provider this records nothing).

    ``errors`` counts :class:`~litestar_kvstores.StoreError` (an unreachable or failing backend), not bad arguments.

    Args:
        store: The store to measure.
        name: The store's name in the exported metrics.
        prometheus: ``None``: export when ``prometheus-client`` is installed; ``False``: never; ``True``: always
            (``ValueError`` if not installed); or the ``CollectorRegistry`` to export to.
        opentelemetry: The same for OpenTelemetry; or the ``MeterProvider`` to export to.

    Raises:
        ValueError: an exporter is required but its library is not installed.
    """

    __slots__ = ("_exporters", "_stats", "name")

    def __init__(
        self,
        store: KVStore,
        *,
        name: str = "store",
        prometheus: bool | CollectorRegistry | None = None,
        opentelemetry: bool | MeterProvider | None = None,
    ) -> None:
        super().__init__(store)
        self.name = name
        self._stats = _Stats()
        exporters: list[_Exporter] = []
        if _wanted(prometheus, "prometheus_client", "Prometheus"):
            exporters.append(_PrometheusExporter(None if isinstance(prometheus, bool | None) else prometheus, name))
        if _wanted(opentelemetry, "opentelemetry", "OpenTelemetry"):
            provider = None if isinstance(opentelemetry, bool | None) else opentelemetry
            exporters.append(_OpenTelemetryExporter(provider, name))
        self._exporters = tuple(exporters)

    def __repr__(self) -> str:
        return f"InstrumentedStore({self.store!r}, name={self.name!r})"

    async def _call(self, name: str, *args: Any) -> Any:
        stats = self._stats
        started = time.perf_counter()
        outcome = "ok"
        try:
            result = await super()._call(name, *args)
        except StoreError:
            outcome = "error"
            stats.errors += 1
            raise
        except Exception:
            outcome = "invalid"  # bad input, or a value incr cannot count
            raise
        else:
            outcome = self._count(name, args, result)
            return result
        finally:
            elapsed = time.perf_counter() - started
            stats.operations[name] += 1
            stats.seconds[name] += elapsed
            stats.slowest[name] = max(stats.slowest[name], elapsed)
            for exporter in self._exporters:
                exporter.record(name, outcome, elapsed)

    def _count(self, name: str, args: tuple[Any, ...], result: Any) -> str:
        """Count a successful operation's hits, misses, sets and deletes; return its outcome label."""
        stats = self._stats
        if name == "get":
            if result is None:
                stats.misses += 1
                return "miss"
            stats.hits += 1
            return "hit"
        if name == "get_many":
            found = sum(value is not None for value in result.values())
            stats.hits += found
            stats.misses += len(result) - found
        elif name in ("set", "incr") or (name in ("add", "compare_and_set") and result):
            stats.sets += 1
        elif name == "set_many":
            stats.sets += len(args[0])
        elif name in ("delete", "delete_all") or (name == "compare_and_delete" and result):
            stats.deletes += 1
        elif name == "delete_many":
            stats.deletes += len(args[0])
        return "ok"

    def stats(self) -> Mapping[str, int | float]:
        """Return the counts since the store was made, shared with its namespaces.

        Returns:
            ``hits`` and ``misses`` (of ``get``/``get_many``, per key), ``sets`` (keys written, counters
            incremented), ``deletes`` (keys deleted; ``delete_all`` counts one), ``errors`` (operations that raised
            :class:`~litestar_kvstores.StoreError`), ``operations`` (all), ``latency_avg_ms`` and
            ``latency_max_ms`` (over all operations).
        """
        stats = self._stats
        operations = sum(stats.operations.values())
        seconds = sum(stats.seconds.values())
        return {
            "hits": stats.hits,
            "misses": stats.misses,
            "sets": stats.sets,
            "deletes": stats.deletes,
            "errors": stats.errors,
            "operations": operations,
            "latency_avg_ms": round(seconds / operations * 1000, 3) if operations else 0.0,
            "latency_max_ms": round(max(stats.slowest.values()) * 1000, 3),
        }

    def operation_stats(self) -> dict[str, dict[str, float]]:
        """Return ``{operation: {"count", "avg_ms", "max_ms"}}`` for every operation that ran at least once."""
        stats = self._stats
        return {
            name: {
                "count": count,
                "avg_ms": round(stats.seconds[name] / count * 1000, 3),
                "max_ms": round(stats.slowest[name] * 1000, 3),
            }
            for name, count in stats.operations.items()
            if count
        }
