"""A tiny benchmark harness: time the same operations on several subjects and report ratios.

A *subject* is one implementation (our store, Litestar's store, the raw floor). Each benchmark case runs an async
operation many times per subject; the median of several rounds gives operations per second. Results print as a
Markdown table whose ratio columns compare our store with the others.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ("Case", "Op", "Row", "delete_expired_row", "format_table", "ops_per_second", "take_turns")

Op = Callable[[int], Awaitable[object]]


async def ops_per_second(op: Op, ops: int, rounds: int = 5, ops_per_call: int = 1) -> float:
    """Return the median operations per second of ``rounds`` rounds of ``ops`` calls to ``op(i)``.

    ``ops_per_call`` counts how many operations one call performs (e.g. 100 for a batch of concurrent gets).
    """
    results = []
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(ops):
            await op(i)
        elapsed = time.perf_counter() - start
        results.append(ops * ops_per_call / elapsed)
    return statistics.median(results)


async def take_turns(ops_of: Mapping[str, Op], ops: int, rounds: int = 5, ops_per_call: int = 1) -> dict[str, float]:
    """Return the median operations per second of each subject's ``op(i)``, the subjects taking turns round by round.

    Measuring one subject after another lets whatever the machine or the process did meanwhile (load from other
    processes, memory that an earlier subject freed and a later one reuses) favour one of them; turns spread it.
    """
    results: dict[str, list[float]] = {name: [] for name in ops_of}
    for _ in range(rounds):
        for name, op in ops_of.items():
            results[name].append(await ops_per_second(op, ops, rounds=1, ops_per_call=ops_per_call))
    return {name: statistics.median(values) for name, values in results.items()}


@dataclass
class Row:
    """One operation measured on every subject: ops/s (or seconds, when ``unit == "s"``) per subject name."""

    operation: str
    values: dict[str, float] = field(default_factory=dict)
    unit: str = "ops/s"


@dataclass
class Case:
    """A named benchmark operation with its repetition count."""

    name: str
    ops: int


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.3f} s"
    if value >= 100_000:
        return f"{value / 1000:,.0f}k"
    return f"{value:,.0f}"


def format_table(title: str, rows: list[Row], ours: str, others: list[str]) -> str:
    """Render ``rows`` as a Markdown table with one ratio column ``ours / other`` per other subject.

    For throughput (ops/s) a ratio above 1 means ours is faster; for durations (``unit == "s"``) the ratio is
    inverted (other time / our time) so above 1 still means ours is faster.
    """
    header = ["operation", ours, *others, *(f"{ours} vs {o}" for o in others)]
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row.operation + (" (s)" if row.unit == "s" else ""), _fmt(row.values[ours], row.unit)]
        cells += [_fmt(row.values[o], row.unit) if o in row.values else "-" for o in others]
        for other in others:
            if other not in row.values:
                cells.append("-")
                continue
            mine, theirs = row.values[ours], row.values[other]
            ratio = theirs / mine if row.unit == "s" else mine / theirs
            cells.append(f"{ratio:.2f}x")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


async def delete_expired_row(
    subjects: Mapping[str, Any], prepare: Callable[[Any], Awaitable[object]], expire_after: float = 1.1
) -> Row:
    """Time one ``delete_expired`` per subject after ``prepare(store)`` wrote entries expiring within a second."""
    row = Row("delete_expired 10k of 20k", unit="s")
    for name, store in subjects.items():
        await prepare(store)
        await asyncio.sleep(expire_after)
        started = time.perf_counter()
        await store.delete_expired()
        row.values[name] = time.perf_counter() - started
    return row
