"""For the dashboard's tests: a real store that offers ``stats()`` (hits, misses and chart), and the page's rows."""

from __future__ import annotations

import html
import re
from collections import Counter
from typing import Any, Self

from litestar_kvstores import MemoryStore
from litestar_kvstores.base import TTL


class CountingMemoryStore(MemoryStore):
    """A :class:`MemoryStore` counting hits, misses, sets, deletes and errors per namespace (each child its own)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.counts: Counter[str] = Counter()

    def with_namespace(self, namespace: str) -> Self:
        child = super().with_namespace(namespace)
        child.counts = Counter()
        return child

    def stats(self) -> dict[str, int]:
        return {name: self.counts[name] for name in ("hits", "misses", "sets", "deletes", "errors")}

    async def get(self, key: str, renew_for: TTL | None = None) -> bytes | None:
        value = await super().get(key, renew_for)
        self.counts["hits" if value is not None else "misses"] += 1
        return value

    async def set(self, key: str, value: str | bytes, expires_in: TTL | None = None) -> None:
        await super().set(key, value, expires_in)
        self.counts["sets"] += 1

    async def delete(self, key: str) -> None:
        await super().delete(key)
        self.counts["deletes"] += 1


def rows(page: str) -> dict[str, list[str]]:
    """Each table row's cells (text only), by store name."""
    found = {}
    for name, body in re.findall(r'<tr data-store="([^"]+)">(.*?)</tr>', page, re.S):
        cells = [
            html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)
        ]
        found[html.unescape(name)] = cells
    return found
