"""The worker threads behind FileStore's blocking calls: results, errors, cancellation, concurrency."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from litestar_kvstores._threads import MAX_THREADS, run_in_worker


async def test_returns_the_result_from_another_thread() -> None:
    assert await run_in_worker(threading.get_ident) != threading.get_ident()


async def test_raises_the_functions_exception() -> None:
    def fail() -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        await run_in_worker(fail)


async def test_a_cancelled_caller_does_not_break_the_pool() -> None:
    done = threading.Event()

    def slow() -> str:
        time.sleep(0.2)
        done.set()
        return "late"

    task = asyncio.create_task(run_in_worker(slow))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(done.wait, 5), "the work still runs to its end"
    assert await run_in_worker(lambda: "next") == "next"


async def test_runs_calls_concurrently_up_to_the_maximum() -> None:
    started = threading.Semaphore(0)
    release = threading.Event()

    def blocked() -> None:
        started.release()
        release.wait(10)

    calls = [asyncio.create_task(run_in_worker(blocked)) for _ in range(MAX_THREADS)]
    try:
        for _ in range(MAX_THREADS):
            assert await asyncio.to_thread(started.acquire, True, 10), "a call waited for another to finish"
    finally:
        release.set()
        await asyncio.gather(*calls)


def test_serves_several_event_loops() -> None:
    results: list[int] = []

    def in_own_loop() -> None:
        results.append(asyncio.run(run_in_worker(lambda: 7)))

    threads = [threading.Thread(target=in_own_loop) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == [7, 7, 7, 7]
