"""Run every backend's benchmark in one run and print their tables.

Run: ``python -m benchmarks`` (all) or ``python -m benchmarks memory file`` (some). Each ``bench_<name>`` module
compares our store with Litestar's built-in store of the same kind (where there is one) and with the raw floor.
"""

from __future__ import annotations

import asyncio
import importlib
import sys

BACKENDS = ["memory", "file", "redis", "mongo", "sqlite", "postgres", "plugin", "copy", "wrappers"]


def main(argv: list[str]) -> None:
    for name in argv or BACKENDS:
        if name not in BACKENDS:
            raise SystemExit(f"unknown benchmark {name!r}; choose from {', '.join(BACKENDS)}")
        module = importlib.import_module(f"benchmarks.bench_{name}")
        asyncio.run(module.main())
        print(flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
