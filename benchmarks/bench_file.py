"""FileStore: ours vs Litestar's ``FileStore`` vs the raw floor (plain write + rename / read in a worker thread).

Run: ``python -m benchmarks.bench_file`` (data goes to a temporary directory; ``BENCH_DIR`` chooses its parent).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import struct
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from litestar.stores.file import FileStore as LitestarFileStore

from litestar_kvstores import FileStore

from .harness import Row, delete_expired_row, format_table, ops_per_second

N = 2_000
SMALL = b"x" * 100
LARGE = b"x" * 65_536
EXPIRED_AND_LIVE = 10_000

_T = TypeVar("_T")
_EXPIRY = struct.Struct("<d")


async def _in_thread(function: Callable[..., _T], *args: Any) -> _T:
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)


class RawFloor:
    """The least a file store can do: one file per key (expiry in the first 8 bytes), one thread hop per call."""

    def __init__(self, directory: Path) -> None:
        self.directory = str(directory)
        os.makedirs(self.directory, exist_ok=True)

    def _path(self, key: str) -> str:
        return os.path.join(self.directory, key)

    def _write(self, key: str, value: bytes, expires_at: float) -> None:
        temp = self._path(f".tmp-{key}")
        with open(temp, "wb") as file:
            file.write(_EXPIRY.pack(expires_at) + value)
        os.replace(temp, self._path(key))

    def _read(self, key: str, renew_for: float | None) -> bytes | None:
        try:
            with open(self._path(key), "rb" if renew_for is None else "r+b") as file:
                data = file.read()
                if renew_for is not None:
                    os.pwrite(file.fileno(), _EXPIRY.pack(time.time() + renew_for), 0)
        except FileNotFoundError:
            return None
        return data[8:]

    def _unlink(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(key))

    def _delete_expired(self) -> None:
        now = time.time()
        for name in os.listdir(self.directory):
            path = os.path.join(self.directory, name)
            with open(path, "rb") as file:
                expires_at = _EXPIRY.unpack(file.read()[:8])[0]
            if 0 < expires_at <= now:
                os.unlink(path)

    async def set(self, key: str, value: bytes, expires_in: float | None = None) -> None:
        await _in_thread(self._write, key, value, 0.0 if expires_in is None else time.time() + expires_in)

    async def get(self, key: str, renew_for: float | None = None) -> bytes | None:
        return await _in_thread(self._read, key, renew_for)

    async def exists(self, key: str) -> bool:
        return await _in_thread(os.path.exists, self._path(key))

    async def delete(self, key: str) -> None:
        await _in_thread(self._unlink, key)

    async def delete_expired(self) -> None:
        await _in_thread(self._delete_expired)


async def _fill(store: Any, count: int) -> None:
    """Write ``count`` expired-to-be and ``count`` live entries, 100 writes at a time."""
    for start in range(0, count, 100):
        await asyncio.gather(
            *(store.set(f"expired-{i}", SMALL, expires_in=1) for i in range(start, start + 100)),
            *(store.set(f"live-{i}", SMALL, expires_in=3600) for i in range(start, start + 100)),
        )


Subjects = dict[str, Any]
OpFactory = Callable[[Any], Callable[[int], Any]]


async def _interleaved(
    subjects: Subjects, make_op: OpFactory, ops: int, rounds: int = 5, ops_per_call: int = 1
) -> dict[str, float]:
    """Median ops/s per subject, the subjects taking turns round by round so that load changes hit all alike."""
    results: dict[str, list[float]] = {name: [] for name in subjects}
    for _ in range(rounds):
        for name, store in subjects.items():
            results[name].append(await ops_per_second(make_op(store), ops, rounds=1, ops_per_call=ops_per_call))
    return {name: statistics.median(values) for name, values in results.items()}


def _gather_gets(keys: list[str]) -> OpFactory:
    def make(store: Any) -> Callable[[int], Any]:
        async def gets(_: int) -> None:
            await asyncio.gather(*(store.get(key) for key in keys))

        return gets

    return make


async def _set_all(subjects: Subjects, keys: list[str], value: bytes, expires_in: float | None = None) -> None:
    for store in subjects.values():
        for start in range(0, len(keys), 100):
            await asyncio.gather(*(store.set(key, value, expires_in) for key in keys[start : start + 100]))


async def measure(subjects: Subjects) -> list[Row]:
    keys = [f"key-{i}" for i in range(N)]
    hundred = keys[:100]
    rows: list[Row] = []

    async def row(name: str, make_op: OpFactory, ops: int = N, rounds: int = 5, ops_per_call: int = 1) -> None:
        rows.append(Row(name, await _interleaved(subjects, make_op, ops, rounds, ops_per_call)))

    await row("set 100 B", lambda s: lambda i: s.set(keys[i], SMALL))
    await row("get hit", lambda s: lambda i: s.get(keys[i]))
    await row("get miss", lambda s: lambda i: s.get("missing"))
    await _set_all(subjects, keys, SMALL, expires_in=3600)
    await row("get with renew", lambda s: lambda i: s.get(keys[i], renew_for=3600))
    await row("exists", lambda s: lambda i: s.exists(keys[i]))
    await row("100 concurrent gets (100 B)", _gather_gets(hundred), ops=N // 100, ops_per_call=100)
    await row("delete", lambda s: lambda i: s.delete(keys[i]), rounds=1)
    await row("set 64 KiB", lambda s: lambda i: s.set(keys[i % 100], LARGE))
    await row("get 64 KiB", lambda s: lambda i: s.get(keys[i % 100]))
    await row("100 concurrent gets (64 KiB)", _gather_gets(hundred), ops=N // 100, ops_per_call=100)

    async def prepare(store: Any) -> None:
        for key in hundred:
            await store.delete(key)
        await _fill(store, EXPIRED_AND_LIVE)

    rows.append(await delete_expired_row(subjects, prepare))
    return rows


async def main() -> None:
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as root:
        base = Path(root)
        litestar = LitestarFileStore(base / "litestar", create_directories=True)
        await litestar.__aenter__()
        subjects = {"ours": FileStore(base / "ours"), "litestar": litestar, "raw floor": RawFloor(base / "raw")}
        rows = await measure(subjects)
    print(
        format_table(
            f"FileStore (ops/s, median of 5 interleaved rounds of {N}; delete_expired: one run)",
            rows,
            "ours",
            ["litestar", "raw floor"],
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
