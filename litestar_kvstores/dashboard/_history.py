"""Hits and misses over the last minutes: periodic samples of each store's ``stats()``, kept in memory."""

from __future__ import annotations

import inspect
import itertools
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from litestar.stores.base import Store

__all__ = ("Sparkline", "StatsHistory", "read_stats")


async def read_stats(store: Store) -> Mapping[str, Any] | None:
    """Return ``store.stats()`` (awaited if it is a coroutine), or ``None`` when the store offers no ``stats``.

    Raises:
        Exception: whatever ``stats()`` raises.
    """
    stats = getattr(store, "stats", None)
    if not callable(stats):
        return None
    result = stats()
    if inspect.isawaitable(result):
        result = await result
    return dict(result)


def _count(stats: Mapping[str, Any], name: str) -> int:
    value = stats.get(name, 0)
    return int(value) if isinstance(value, int | float) else 0


@dataclass(frozen=True)
class Sparkline:
    """Two polylines (hits, misses) for an SVG of ``width`` x ``height``, one point per sampling interval.

    Attributes:
        hits: ``"x,y x,y ..."`` of the hits per interval.
        misses: The same for the misses.
        peak: The largest count per interval shown (the top of the chart).
        total_hits: Hits over the whole window.
        total_misses: Misses over the whole window.
    """

    width: int
    height: int
    hits: str
    misses: str
    peak: int
    total_hits: int
    total_misses: int


class StatsHistory:
    """The last ``size`` samples of ``(hits, misses)`` per store name.

    Args:
        size: How many samples to keep (the chart spans ``size - 1`` sampling intervals).
    """

    __slots__ = ("_samples",)

    def __init__(self, size: int) -> None:
        self._samples: deque[tuple[float, dict[str, tuple[int, int]]]] = deque(maxlen=size)

    def record(self, counts: Mapping[str, Mapping[str, Any]], at: float | None = None) -> None:
        """Add one sample: ``counts`` maps store names to their ``stats()``; only ``hits`` and ``misses`` are kept."""
        sample = {name: (_count(stats, "hits"), _count(stats, "misses")) for name, stats in counts.items()}
        self._samples.append((time.time() if at is None else at, sample))

    def deltas(self, name: str) -> list[tuple[int, int]]:
        """Hits and misses of ``name`` in each interval between consecutive samples, oldest first.

        A counter that went down (a restarted or reset store) counts as ``0`` for that interval.
        """
        series = [sample.get(name) for _, sample in self._samples]
        deltas = []
        for before, after in itertools.pairwise(series):
            if before is None or after is None:
                deltas.append((0, 0))
            else:
                deltas.append((max(after[0] - before[0], 0), max(after[1] - before[1], 0)))
        return deltas

    def span_seconds(self) -> float:
        """Seconds between the oldest and the newest sample (``0`` with fewer than two)."""
        if len(self._samples) < 2:
            return 0.0
        return self._samples[-1][0] - self._samples[0][0]

    def sparkline(self, name: str, width: int = 150, height: int = 36) -> Sparkline | None:
        """The chart of ``name``'s hits and misses per interval, or ``None`` before two samples of it exist."""
        deltas = self.deltas(name)
        if not deltas:
            return None
        peak = max(max(hits, misses) for hits, misses in deltas) or 1
        step = width / max(len(deltas) - 1, 1)
        usable = height - 2  # keep a 1-pixel margin so a line at 0 or at the peak stays visible

        def points(index: int) -> str:
            return " ".join(
                f"{round(position * step, 1):g},{round(1 + usable - usable * pair[index] / peak, 1):g}"
                for position, pair in enumerate(deltas)
            )

        return Sparkline(
            width=width,
            height=height,
            hits=points(0),
            misses=points(1),
            peak=peak,
            total_hits=sum(hits for hits, _ in deltas),
            total_misses=sum(misses for _, misses in deltas),
        )
