"""FileStore crash safety: writer processes killed with SIGKILL at random points while another process reads.

Every value written names its key and generation and is padded to a length derived from both, so a torn or mixed
value cannot pass for a whole one. The readers check every read while the writers are killed; afterwards a newly
opened store must hold a whole value for every key, and ``delete_expired`` must reclaim the temporary files the
killed writers left (once their writers are gone and the grace ``_ORPHAN_TEMP_SECONDS`` has passed).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from litestar_kvstores import FileStore
from litestar_kvstores._file import blocking
from litestar_kvstores._file.format import TEMP_PREFIX

from .support import profile

KEYS = [f"key-{n}" for n in range(16)]
WRITERS = 3

WRITER = """
import asyncio, random, sys
from litestar_kvstores import FileStore
from tests.reliability.test_crash_file import value_of

async def main(directory, seed):
    rng = random.Random(seed)
    async with FileStore(directory) as store:
        generation = seed * 1_000_000
        await store.set("key-0", value_of("key-0", generation))
        print("writing", flush=True)
        while True:
            generation += 1
            key = f"key-{rng.randrange(16)}"
            if rng.random() < 0.2:
                await store.set_many({key: value_of(key, generation), "key-0": value_of("key-0", generation)})
            else:
                await store.set(key, value_of(key, generation), expires_in=rng.choice([None, 3600]))

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""

READER = """
import asyncio, sys
from litestar_kvstores import FileStore
from tests.reliability.test_crash_file import check_value

async def main(directory):
    async with FileStore(directory) as store:
        reads = 0
        print("reading", flush=True)
        while True:
            for key in [f"key-{n}" for n in range(16)]:
                value = await store.get(key)
                problem = check_value(key, value)
                if problem:
                    print("TORN", problem, flush=True)
                    sys.exit(1)
                reads += 1

asyncio.run(main(sys.argv[1]))
"""


def value_of(key: str, generation: int) -> bytes:
    """The value a writer stores for ``key`` at ``generation``: a header naming both, then a padding whose length
    (1 to 64 KiB, several pages) and content follow from them."""
    head = f"{key}|{generation}|".encode()
    digest = hashlib.sha256(head).digest()
    length = 1 + int.from_bytes(digest[:2], "big")
    return head + (digest * (length // len(digest) + 1))[:length]


def check_value(key: str, value: bytes | None) -> str | None:
    """Return what is wrong with ``value`` as the value of ``key`` (``None`` when it is missing or whole)."""
    if value is None:
        return None
    name, _, rest = value.partition(b"|")
    generation, _, _ = rest.partition(b"|")
    if name.decode(errors="replace") != key or not generation.isdigit():
        return f"{key}: foreign or torn header {value[:40]!r}"
    if value != value_of(key, int(generation)):
        return f"{key}: torn value of generation {int(generation)} ({len(value)} bytes)"
    return None


def spawn(script: str, *args: str) -> subprocess.Popen[str]:
    """Start ``script`` in a new interpreter with the repository on its path."""
    return subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2]
    )


def started(*processes: subprocess.Popen[str]) -> list[subprocess.Popen[str]]:
    """Wait until each process has printed its first line (it is at work), and return them."""
    for process in processes:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.strip() in ("writing", "reading"), f"child failed to start: {first!r}"
    return list(processes)


def temp_files(directory: Path) -> list[Path]:
    return list(directory.rglob(f"{TEMP_PREFIX}*"))


async def test_killed_writers_never_leave_a_torn_value_and_their_temporary_files_are_reclaimed(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "store"
    async with FileStore(directory) as store:
        await store.set_many({key: value_of(key, 0) for key in KEYS})
    rng = random.Random()
    (reader,) = started(spawn(READER, str(directory)))
    try:
        for round_number in range(profile().crash_rounds):
            writers = started(
                *(spawn(WRITER, str(directory), str(round_number * WRITERS + n + 1)) for n in range(WRITERS))
            )
            await asyncio.sleep(rng.uniform(0.02, 0.3))
            for writer in writers:
                writer.send_signal(signal.SIGKILL)
            for writer in writers:
                writer.wait(timeout=10)
                assert writer.returncode == -signal.SIGKILL
            assert reader.poll() is None, f"the reader stopped: {reader.stdout.read() if reader.stdout else ''}"
    finally:
        reader.send_signal(signal.SIGKILL)
        reader.wait(timeout=10)

    left = temp_files(directory)
    print(f"{len(left)} temporary files left by {profile().crash_rounds * WRITERS} killed writers")
    async with FileStore(directory) as reopened:
        values = await reopened.get_many(KEYS)
        assert [check_value(key, value) for key, value in values.items()] == [None] * len(KEYS)
        assert all(value is not None for value in values.values())
        assert await reopened.count() == len(KEYS)
        for path in left:  # as if the grace for a writer this host cannot see had passed
            past = time.time() - 2 * blocking._ORPHAN_TEMP_SECONDS
            os.utime(path, (past, past))
        await reopened.delete_expired()
        assert temp_files(directory) == []
        assert await reopened.count() == len(KEYS)


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.parametrize(
    ("writer", "age", "reclaimed"),
    [
        pytest.param("dead", 2 * blocking._ORPHAN_TEMP_SECONDS, True, id="writer-gone"),
        pytest.param("dead", 0, False, id="writer-gone-within-the-grace"),
        pytest.param("alive", 2 * blocking._ORPHAN_TEMP_SECONDS, False, id="writer-alive"),
        pytest.param("alive", 2 * blocking._STALE_TEMP_SECONDS, True, id="writer-alive-but-older-than-the-bound"),
        pytest.param("unnamed", 2 * blocking._ORPHAN_TEMP_SECONDS, False, id="no-pid-in-the-name"),
        pytest.param("huge", 2 * blocking._ORPHAN_TEMP_SECONDS, False, id="pid-out-of-range"),
    ],
)
async def test_delete_expired_reclaims_temporary_files_whose_writer_is_gone(
    tmp_path: Path, writer: str, age: float, reclaimed: bool
) -> None:
    pid = {"dead": str(dead_pid()), "alive": str(os.getpid()), "unnamed": "x", "huge": "9" * 30}[writer]
    async with FileStore(tmp_path, namespace="ns") as store:
        await store.set("k", b"kept")
        temp = tmp_path / "ns" / f"{TEMP_PREFIX}{pid}-7"
        temp.write_bytes(b"half a value")
        past = time.time() - age
        os.utime(temp, (past, past))
        assert await store.delete_expired() == 0  # temporary files are not entries: not counted
        assert temp.exists() is not reclaimed
        assert await store.get("k") == b"kept"
