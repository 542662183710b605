"""Worker threads for blocking calls (:class:`~litestar_kvstores.file.FileStore`, and the future-settling helper of
:class:`~litestar_kvstores.sqlite.SQLiteStore`'s own connection thread).

A hop through ``loop.run_in_executor`` costs about twice as much as the file operations it runs (a
``concurrent.futures.Future`` chained to an asyncio one, executor bookkeeping); this pool hands a call to an idle
thread through a ``SimpleQueue`` and resolves the caller's asyncio future directly with
``call_soon_threadsafe``. Threads are started when no idle thread is left, up to a fixed maximum, and are daemons:
an entry being written when the interpreter exits is either complete or absent (writes are atomic renames).

Protected by ``python -m benchmarks.bench_file``: every row that hops to a thread ("set 100 B", "get with renew",
"delete", "set 64 KiB").
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar, TypeVarTuple

import anyio.to_thread

__all__ = ("run_in_worker", "settle_future")

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")

MAX_THREADS = min(16, (os.cpu_count() or 1) + 4)

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]


def settle_future(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    """Resolve ``future`` (on its loop's thread) with ``result`` or ``error``; a cancelled one is left as it is."""
    if future.cancelled():  # the caller stopped waiting; the work itself has been done
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


class _Pool:
    """Threads that take jobs from one queue; ``_idle`` counts threads waiting for a job not yet promised one."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._guard = threading.Lock()
        self._threads = 0
        self._idle = 0

    def submit(self, job: _Job) -> None:
        self._jobs.put(job)
        with self._guard:
            if self._idle:
                self._idle -= 1
                return
            if self._threads >= MAX_THREADS:
                return  # a busy thread takes it when done
            self._threads += 1
        threading.Thread(target=self._work, name="litestar-kvstores-file", daemon=True).start()

    def _work(self) -> None:
        jobs = self._jobs
        while True:
            loop, future, function, args = jobs.get()
            result: Any = None
            error: BaseException | None = None
            try:
                result = function(*args)
            except BaseException as exc:  # delivered to the awaiting caller
                error = exc
            with contextlib.suppress(RuntimeError):  # raised if the caller's event loop has been closed
                loop.call_soon_threadsafe(settle_future, future, result, error)
            del loop, future, function, args, result, error  # hold no references while idle
            with self._guard:
                self._idle += 1


_pool = _Pool()


def _new_pool_in_child() -> None:
    global _pool
    _pool = _Pool()  # a forked child has none of its parent's threads


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_pool_in_child)


async def run_in_worker(function: Callable[[*_Ts], _T], *args: *_Ts) -> _T:
    """Run ``function(*args)`` in a worker thread and return its result (or raise its exception).

    Under an event loop other than asyncio's (trio), ``anyio.to_thread.run_sync`` does the hop.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return await anyio.to_thread.run_sync(partial(function, *args))
    future: asyncio.Future[_T] = loop.create_future()
    _pool.submit((loop, future, function, args))
    return await future
