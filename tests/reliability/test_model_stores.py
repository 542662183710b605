"""Model-based tests: random operation sequences on every backend, checked against a small reference model.

Hypothesis drives ``set``/``get`` (with and without renewal)/``exists``/``expires_in``/``delete``/``delete_all``/
``incr``/``get_many``/``set_many``/``keys``/``count``/``namespaces``/``delete_expired`` over several namespaces
(each operation builds its store anew with ``with_namespace``), with time passing in between, and compares every
answer with :class:`Model`.

Time: the model keeps, for every expiring entry, the interval in which its deadline lies (the clock read before and
after the call that set it), so an answer is only judged where it is certain; near a deadline either answer is
accepted and the model learns from it. Where the backend allows it the clock is controllable (the memory store's
``litestar_kvstores.memory.monotonic`` and the wall clock ``time.time`` the file store reads are replaced by the
real clock plus an offset that ``advance`` moves forward by up to a minute); elsewhere time is real and the
expiries are short (50-500 ms) or long (10 minutes).

The Hypothesis state machine runs in a worker thread; every store call is sent to the test's event loop, where the
fixture's store (and its connection) lives.

Targeted rules pick an entry the model knows to be alive and expiring (renew it and outlive its old expiry; let it
expire, then ``get``/``exists``/``incr``/``add``/``compare_and_set``/``compare_and_delete`` it) or fill every namespace
before a ``delete_all``, so that the classes of defects found so far are met in most examples, not by chance.
:data:`REGRESSIONS` holds fixed sequences (every shrunk failure goes there) that run on every backend and wrapper in
every run.

``KVSTORES_TEST_PROFILE=long`` runs many more and longer sequences (see ``tests/reliability/support.py``).
"""

from __future__ import annotations

import asyncio
import builtins
import inspect
import itertools
import math
import re
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import Any, Protocol, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test

from litestar_kvstores import MemoryStore
from litestar_kvstores.base import TTL, KVStore
from tests.support.wrappers import WRAPPERS

from .support import profile

T = TypeVar("T")
Path = tuple[str, ...]
Slot = tuple[Path, str]

PATHS: list[Path] = [(), ("a",), ("ab",), ("a", "b"), ("a.b",)]
"""Namespaces below the example's root: siblings sharing a prefix (``a``/``ab``), a child, a dotted name."""
KEYS = ["k", "K", "a:b", "a/b", "../x", "ü", "k k", "%tmp-1-0", "=k", "a"]
VALUES: list[bytes | str] = [b"", b"v", b"7", b"-3", b"\x00\xff", "text-ü"]
MARGIN = 0.05
"""Seconds of slack around a deadline for clock resolution (milliseconds on servers) and clock reads."""
CONTROLLABLE = {"memory", "file", "sqlite"}
"""Backends whose clock the test moves: memory (``litestar_kvstores.memory.monotonic``), file and SQLite
(``time.time``)."""
INTEGER = re.compile(rb"-?(0|[1-9][0-9]*)")


def encoded(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value


def seconds(ttl: TTL) -> float:
    return ttl.total_seconds() if isinstance(ttl, timedelta) else float(ttl)


class State(Enum):
    MISSING = "missing"
    ALIVE = "alive"
    EXPIRED = "expired"
    UNCERTAIN = "uncertain"  # within MARGIN of its deadline: either answer is right
    UNKNOWN = "unknown"  # an earlier answer could not tell which of two histories happened


@dataclass
class Entry:
    value: bytes
    deadline: tuple[float, float] | None
    """The earliest and latest moment (model clock) the entry expires; ``None``: never."""


@dataclass
class Clock:
    """The model's clock: ``time.monotonic()`` plus an offset that only a controllable backend's clock follows."""

    controllable: bool
    offset: float = 0.0

    def now(self) -> float:
        return time.monotonic() + self.offset


class Model:
    """What a correct store holds: entries by (namespace path, key), with deadline intervals."""

    def __init__(self) -> None:
        self.entries: dict[Slot, Entry] = {}
        self.unknown: set[Slot] = set()
        self.written: set[Path] = set()

    def state(self, slot: Slot, c0: float, c1: float) -> State:
        """The state of ``slot`` for an answer given between ``c0`` and ``c1``."""
        if slot in self.unknown:
            return State.UNKNOWN
        entry = self.entries.get(slot)
        if entry is None:
            return State.MISSING
        if entry.deadline is None or c1 < entry.deadline[0] - MARGIN:
            return State.ALIVE
        if c0 > entry.deadline[1] + MARGIN:
            return State.EXPIRED
        return State.UNCERTAIN

    def drop(self, slot: Slot) -> None:
        self.entries.pop(slot, None)
        self.unknown.discard(slot)

    def put(self, slot: Slot, value: bytes, ttl: TTL | None, t0: float, t1: float) -> None:
        self.unknown.discard(slot)
        deadline = None if ttl is None else (t0 + seconds(ttl), t1 + seconds(ttl))
        self.entries[slot] = Entry(value, deadline)
        self.written.update(slot[0][:n] for n in range(len(slot[0]) + 1))

    def forget_unknown(self, slot: Slot) -> None:
        self.entries.pop(slot, None)
        self.unknown.add(slot)

    def under(self, path: Path) -> list[Slot]:
        return [slot for slot in [*self.entries, *self.unknown] if slot[0][: len(path)] == path]

    def observe_read(self, slot: Slot, answer: bytes | None, c0: float, c1: float) -> Entry | None:
        """Check a value read at ``slot`` and learn from it; return the live entry (``None`` once it is gone)."""
        state = self.state(slot, c0, c1)
        entry = self.entries.get(slot)
        if state in (State.MISSING, State.EXPIRED):
            assert answer is None, f"{slot} should be missing or expired, read {answer!r}"
        elif state is State.ALIVE:
            assert entry is not None
            assert answer == entry.value, f"{slot} should hold {entry.value!r}, read {answer!r}"
        elif state is State.UNCERTAIN:
            assert entry is not None
            assert answer in (None, entry.value), f"{slot} should hold {entry.value!r} or be expired, read {answer!r}"
        if answer is None:
            self.drop(slot)
            return None
        return entry


class Caller(Protocol):
    """Runs a store call on the test's event loop from the machine's thread and returns its result."""

    def __call__(self, operation: Coroutine[Any, Any, T], /) -> T: ...


def machine_class(
    root: KVStore, clock: Clock, call: Caller, namespaces: Callable[[], str]
) -> type[RuleBasedStateMachine]:
    """A state machine class over a fresh namespace of ``root`` per example, timed by ``clock``."""
    if clock.controllable:
        ttls = st.one_of(
            st.sampled_from([1, 5, 30, 90]), st.floats(0.2, 60), st.builds(timedelta, seconds=st.integers(1, 90))
        )
        advances = st.one_of(st.sampled_from([0.5, 2, 10, 40]), st.floats(0.01, 70))
    else:
        ttls = st.one_of(st.floats(0.05, 0.5), st.just(600), st.just(timedelta(minutes=10)))
        advances = st.floats(0.05, 0.4)
    expiries = st.one_of(st.none(), ttls, ttls)
    # mostly the same few keys of one namespace, so that operations meet on them
    any_path = st.one_of(st.just(PATHS[0]), st.just(PATHS[0]), st.sampled_from(PATHS))
    any_key = st.one_of(st.just(KEYS[0]), st.just(KEYS[1]), st.sampled_from(KEYS))
    any_value = st.sampled_from(VALUES)

    class StoreMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.root = root.with_namespace(namespaces())
            self.model = Model()

        def store(self, path: Path) -> KVStore:
            store = self.root
            for name in path:
                store = store.with_namespace(name)
            return store

        def timed(self, operation: Coroutine[Any, Any, T]) -> tuple[T, float, float]:
            t0 = clock.now()
            result = call(operation)
            return result, t0, clock.now()

        def teardown(self) -> None:
            call(self.root.delete_all())

        @rule(path=any_path, key=any_key, value=any_value, ttl=expiries)
        def set(self, path: Path, key: str, value: bytes | str, ttl: TTL | None) -> None:
            _, t0, t1 = self.timed(self.store(path).set(key, value, expires_in=ttl))
            self.model.put((path, key), encoded(value), ttl, t0, t1)

        @rule(path=any_path, mapping=st.dictionaries(any_key, any_value, max_size=3), ttl=expiries)
        def set_many(self, path: Path, mapping: dict[str, bytes | str], ttl: TTL | None) -> None:
            _, t0, t1 = self.timed(self.store(path).set_many(mapping, expires_in=ttl))
            for key, value in mapping.items():
                self.model.put((path, key), encoded(value), ttl, t0, t1)

        @rule(path=any_path, key=any_key, renew=expiries)
        def get(self, path: Path, key: str, renew: TTL | None) -> None:
            answer, t0, t1 = self.timed(self.store(path).get(key, renew_for=renew))
            entry = self.model.observe_read((path, key), answer, t0, t1)
            if entry is not None and renew is not None and entry.deadline is not None:
                entry.deadline = (t0 + seconds(renew), t1 + seconds(renew))

        @rule(path=any_path, keys=st.lists(any_key, max_size=4, unique=True))
        def get_many(self, path: Path, keys: list[str]) -> None:
            answer, t0, t1 = self.timed(self.store(path).get_many(keys))
            assert set(answer) == set(keys)
            for key in keys:
                self.model.observe_read((path, key), answer[key], t0, t1)

        @rule(path=any_path, key=any_key)
        def exists(self, path: Path, key: str) -> None:
            answer, t0, t1 = self.timed(self.store(path).exists(key))
            assert isinstance(answer, bool)
            entry = self.model.entries.get((path, key))
            value = None if not answer else entry.value if entry is not None else b"?"
            if (path, key) not in self.model.unknown or not answer:
                self.model.observe_read((path, key), value, t0, t1)

        @rule(path=any_path, key=any_key)
        def expires_in(self, path: Path, key: str) -> None:
            slot = (path, key)
            answer, t0, t1 = self.timed(self.store(path).expires_in(key))
            state = self.model.state(slot, t0, t1)
            entry = self.model.entries.get(slot)
            if state in (State.MISSING, State.EXPIRED):
                assert answer is None, f"{slot} should be missing or expired, expires_in={answer}"
                self.model.drop(slot)
            elif state in (State.ALIVE, State.UNCERTAIN):
                assert entry is not None
                if entry.deadline is None:
                    assert answer is None, f"{slot} has no expiry, expires_in={answer}"
                elif answer is None:
                    assert state is State.UNCERTAIN, f"{slot} should be alive, expires_in=None"
                    self.model.drop(slot)
                else:
                    low = max(1, math.ceil(entry.deadline[0] - t1 - MARGIN))
                    high = math.ceil(entry.deadline[1] - t0 + MARGIN)
                    assert low <= answer <= high, f"{slot}: expires_in={answer}, expected {low}..{high}"
            else:
                assert answer is None or (isinstance(answer, int) and answer >= 1)

        @rule(path=any_path, keys=st.lists(any_key, min_size=1, max_size=3))
        def delete(self, path: Path, keys: list[str]) -> None:
            store = self.store(path)
            self.timed(store.delete(keys[0]) if len(keys) == 1 else store.delete_many(keys))
            for key in keys:
                self.model.drop((path, key))

        @rule(path=any_path, key=any_key, amount=st.integers(-5, 5), ttl=expiries)
        def incr(self, path: Path, key: str, amount: int, ttl: TTL | None) -> None:
            slot = (path, key)
            error: ValueError | None = None
            t0 = clock.now()
            try:
                answer: int | None = call(self.store(path).incr(key, amount, expires_in=ttl))
            except ValueError as caught:
                answer, error = None, caught
            t1 = clock.now()
            state = self.model.state(slot, t0, t1)
            entry = self.model.entries.get(slot)
            old = int(entry.value) if entry is not None and INTEGER.fullmatch(entry.value) else None
            if state is State.UNKNOWN:
                return
            if state in (State.MISSING, State.EXPIRED):
                assert error is None, f"new counter {slot} raised {error!r}"
                assert answer == amount, f"new counter {slot}: {answer!r}, expected {amount}"
                self.model.put(slot, str(amount).encode(), ttl, t0, t1)
                return
            assert entry is not None
            kept = None if old is None else old + amount
            if state is State.ALIVE:
                if old is None:
                    assert error is not None, f"incr of {entry.value!r} at {slot} should raise ValueError"
                else:
                    assert error is None, f"incr of {entry.value!r} at {slot} raised {error!r}"
                    assert answer == kept, f"incr {slot}: {answer!r}, expected {kept}"
                    entry.value = str(kept).encode()
                return
            # uncertain: the entry was either still there (counted on) or expired (a new counter)
            if error is not None:
                assert old is None, f"incr of the integer {entry.value!r} at {slot} raised {error!r}"
            elif answer == kept and kept != amount:
                entry.value = str(kept).encode()
            elif answer == amount and kept != amount:
                self.model.put(slot, str(amount).encode(), ttl, t0, t1)
            else:
                assert answer == amount == kept, f"incr {slot}: {answer!r}, expected {kept} or {amount}"
                entry.value = str(kept).encode()  # the value of both histories; only the expiry is in doubt
                if ttl is None or entry.deadline is None:
                    self.model.forget_unknown(slot)
                else:
                    entry.deadline = (
                        min(entry.deadline[0], t0 + seconds(ttl)),
                        max(entry.deadline[1], t1 + seconds(ttl)),
                    )

        @rule(path=any_path, key=any_key, value=any_value, ttl=expiries)
        def add(self, path: Path, key: str, value: bytes | str, ttl: TTL | None) -> None:
            slot = (path, key)
            answer, t0, t1 = self.timed(self.store(path).add(key, value, expires_in=ttl))
            state = self.model.state(slot, t0, t1)
            if state in (State.MISSING, State.EXPIRED):
                assert answer is True, f"add to the missing {slot} refused"
            elif state is State.ALIVE:
                assert answer is False, f"add over the live {slot} wrote"
            if answer:
                self.model.put(slot, encoded(value), ttl, t0, t1)

        @rule(path=any_path, key=any_key, expected=st.one_of(st.none(), any_value), value=any_value, ttl=expiries)
        def compare_and_set(
            self, path: Path, key: str, expected: bytes | str | None, value: bytes | str, ttl: TTL | None
        ) -> None:
            slot = (path, key)
            answer, t0, t1 = self.timed(self.store(path).compare_and_set(key, expected, value, expires_in=ttl))
            state = self.model.state(slot, t0, t1)
            entry = self.model.entries.get(slot)
            if_alive = entry is not None and expected is not None and entry.value == encoded(expected)
            if state in (State.MISSING, State.EXPIRED):
                assert answer is (expected is None), f"compare_and_set({expected!r}) of the missing {slot}: {answer}"
            elif state is State.ALIVE:
                assert answer is if_alive, f"compare_and_set({expected!r}) of {slot}: {answer}"
            elif state is State.UNCERTAIN and not answer and if_alive:
                self.model.drop(slot)  # it refused a match: the entry had expired
            if answer:
                self.model.put(slot, encoded(value), ttl, t0, t1)

        @rule(path=any_path, key=any_key, expected=any_value)
        def compare_and_delete(self, path: Path, key: str, expected: bytes | str) -> None:
            slot = (path, key)
            answer, t0, t1 = self.timed(self.store(path).compare_and_delete(key, expected))
            state = self.model.state(slot, t0, t1)
            entry = self.model.entries.get(slot)
            matches = entry is not None and entry.value == encoded(expected)
            if state in (State.MISSING, State.EXPIRED):
                assert answer is False, f"compare_and_delete of the missing {slot} said it deleted"
            elif state is State.ALIVE:
                assert answer is matches, f"compare_and_delete({expected!r}) of {slot}: {answer}"
            elif state is State.UNCERTAIN:
                assert matches or not answer, f"compare_and_delete({expected!r}) of {slot} deleted another value"
            if answer or matches:  # deleted, or (uncertain) refused a match because it had expired
                self.model.drop(slot)

        @rule(path=any_path, now=st.integers(0, 3))
        def delete_all(self, path: Path, now: int) -> None:
            if now:  # one draw in four: clearing often would leave little for the other operations to meet
                return
            self.timed(self.store(path).delete_all())
            for slot in self.model.under(path):
                self.model.drop(slot)
            self.model.written = {p for p in self.model.written if p[: len(path)] != path or p == path[:-1]}
            self.model.written.update(path[:n] for n in range(len(path)))

        def listed(self, path: Path, t0: float, t1: float) -> tuple[builtins.set[str], builtins.set[str]]:
            """The keys of ``path`` that must be listed and those that may be."""
            must: set[str] = set()
            may: set[str] = set()
            for slot in self.model.under(path):
                if slot[0] != path:
                    continue
                state = self.model.state(slot, t0, t1)
                if state is State.ALIVE:
                    must.add(slot[1])
                if state in (State.ALIVE, State.UNCERTAIN, State.UNKNOWN):
                    may.add(slot[1])
            return must, may

        @rule(path=any_path)
        def keys(self, path: Path) -> None:
            async def collect() -> list[str]:
                return [key async for key in self.store(path).keys()]  # noqa: SIM118  (an async iterator)

            answer, t0, t1 = self.timed(collect())
            assert len(answer) == len(set(answer)), f"keys() of {path} repeats a key: {answer}"
            must, may = self.listed(path, t0, t1)
            assert must <= set(answer) <= may, f"keys() of {path}: {sorted(answer)}, expected {must} .. {may}"
            for key in may - set(answer):
                self.model.drop((path, key))

        @rule(path=any_path)
        def count(self, path: Path) -> None:
            answer, t0, t1 = self.timed(self.store(path).count())
            must, may = self.listed(path, t0, t1)
            assert len(must) <= answer <= len(may), f"count() of {path}: {answer}, expected {len(must)}..{len(may)}"

        @rule(path=any_path)
        def namespaces(self, path: Path) -> None:
            async def collect() -> list[str]:
                return [name async for name in self.store(path).namespaces()]

            answer, t0, t1 = self.timed(collect())
            assert len(answer) == len(set(answer)), f"namespaces() of {path} repeats a name: {answer}"
            depth = len(path)
            must = {
                slot[0][depth]
                for slot in self.model.under(path)
                if len(slot[0]) > depth and self.model.state(slot, t0, t1) is State.ALIVE
            }
            may = {p[depth] for p in self.model.written if len(p) > depth and p[:depth] == path}
            assert must <= set(answer) <= may, f"namespaces() of {path}: {answer}, expected {must} .. {may}"

        @rule(path=any_path)
        def delete_expired(self, path: Path) -> None:
            answer, _, _ = self.timed(self.store(path).delete_expired())
            assert isinstance(answer, int)
            assert answer >= 0

        @rule(seconds=advances)
        def advance(self, seconds: float) -> None:
            if clock.controllable:
                clock.offset += seconds
            else:
                time.sleep(seconds)

        # Targeted rules: they pick an entry the model knows to be alive and expiring, so that renewal and what
        # happens after an expiry are checked in most examples rather than in the few that meet them by chance.

        def expiring(self) -> list[Slot]:
            """The entries certainly alive now that expire (on real time: within a second, so a wait is short)."""
            now = clock.now()
            horizon = math.inf if clock.controllable else now + 1
            return sorted(
                slot
                for slot, entry in self.model.entries.items()
                if entry.deadline is not None
                and self.model.state(slot, now, now) is State.ALIVE
                and entry.deadline[1] < horizon
            )

        def wait_past(self, slot: Slot) -> float:
            """Seconds from now until ``slot``'s deadline is certainly past."""
            entry = self.model.entries[slot]
            assert entry.deadline is not None
            return max(0.0, entry.deadline[1] + 2 * MARGIN - clock.now())

        @rule(path=st.sampled_from(PATHS[1:]), value=any_value, ttl=expiries)
        def delete_all_among_neighbours(self, path: Path, value: bytes | str, ttl: TTL | None) -> None:
            for other in PATHS:  # a key in the parent, the sibling sharing a prefix, the child, the dotted name
                self.set(other, KEYS[0], value, ttl)
            self.delete_all(path, 0)
            for other in PATHS:
                self.keys(other)
            self.namespaces(())

        def pick_expiring(self, index: int) -> Slot | None:
            """The ``index``-th (modulo) of :meth:`expiring`, or ``None`` when there is none.

            The rules draw an index rather than from the list itself, and draw all they need before looking: what
            is expiring follows the real clock, and Hypothesis refuses data drawn differently when it replays a case.
            """
            candidates = self.expiring()
            return candidates[index % len(candidates)] if candidates else None

        @rule(index=st.integers(0, 63), extra=st.floats(1, 60))
        def renew_then_outlive_the_old_expiry(self, index: int, extra: float) -> None:
            slot = self.pick_expiring(index)
            if slot is None:
                return
            path, key = slot
            wait = self.wait_past(slot)
            # on real time the renewal shows at once in expires_in (from under a second to ten minutes)
            renew = wait + extra if clock.controllable else 600
            self.get(path, key, renew)
            self.expires_in(path, key)
            if clock.controllable:
                self.advance(wait)
                self.get(path, key, None)
                self.expires_in(path, key)

        @precondition(lambda self: clock.controllable)
        @rule(
            index=st.integers(0, 63),
            operation=st.sampled_from(["get", "exists", "incr", "add", "cas", "cas_none", "cad"]),
            ttl=expiries,
            value=any_value,
            amount=st.integers(-5, 5),
        )
        def operate_after_expiry(
            self, index: int, operation: str, ttl: TTL | None, value: bytes | str, amount: int
        ) -> None:
            slot = self.pick_expiring(index)
            if slot is None:
                return
            path, key = slot
            old = self.model.entries[slot].value
            self.advance(self.wait_past(slot))
            if operation == "get":
                self.get(path, key, ttl)
            elif operation == "exists":
                self.exists(path, key)
            elif operation == "incr":
                self.incr(path, key, amount, ttl)
            elif operation == "add":
                self.add(path, key, value, ttl)
            elif operation == "cad":
                self.compare_and_delete(path, key, old)
            else:
                self.compare_and_set(path, key, old if operation == "cas" else None, value, ttl)
            self.get(path, key, None)
            self.expires_in(path, key)

    return StoreMachine


def model_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        report_multiple_bugs=False,
        stateful_step_count=profile().model_steps,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=list(HealthCheck),
    )


def install_clock(backend: str, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Return the model clock, making the backend's clock follow it where it can (memory, file)."""
    clock = Clock(controllable=backend in CONTROLLABLE)
    if backend == "memory":
        real_monotonic = time.monotonic
        monkeypatch.setattr("litestar_kvstores.memory.monotonic", lambda: real_monotonic() + clock.offset)
    elif backend in ("file", "sqlite"):
        real_time = time.time
        monkeypatch.setattr(time, "time", lambda: real_time() + clock.offset)
    return clock


def caller(loop: asyncio.AbstractEventLoop) -> Caller:
    """A function that runs a store call on ``loop`` (the test's) from the machine's thread and returns its result."""

    def call(operation: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(operation, loop).result(timeout=60)

    return call


async def run_machine(store: KVStore, clock: Clock, run_settings: settings) -> None:
    """Run the state machine over ``store`` in a worker thread, sending every call to this event loop."""
    counter = itertools.count()
    machine = machine_class(store, clock, caller(asyncio.get_running_loop()), lambda: f"m{next(counter)}")
    await asyncio.to_thread(run_state_machine_as_test, machine, settings=run_settings)


async def test_random_operation_sequences_match_the_model(
    backend: str, store: KVStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = install_clock(backend, monkeypatch)
    chosen = profile()
    examples = chosen.model_examples_embedded if backend in CONTROLLABLE else chosen.model_examples
    await run_machine(store, clock, model_settings(examples))


@pytest.mark.parametrize("wrapper", sorted(WRAPPERS))
async def test_wrapped_stores_match_the_model(wrapper: str, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = install_clock("memory", monkeypatch)  # the wrappers over memory stores, on the model's clock
    async with WRAPPERS[wrapper](MemoryStore()) as store:
        await run_machine(store, clock, model_settings(profile().model_examples_embedded // 2))


# --- regressions: fixed sequences, run on every backend and wrapper in every run -------------------------------------
#
# Every failure Hypothesis shrinks (it prints the steps as ``state.rule(...)`` calls) becomes an entry here, and so
# does every known class of defect the random sequences may take many examples to reach: the steps run through the
# same machine and model, so they judge the answers exactly as the random sequences do.

Step = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Timing:
    """The expiries and clock advances of a regression, for a controllable clock or for real time."""

    short: float
    """An expiry that runs out during the sequence."""
    long: float
    """An expiry that does not."""
    before: float
    """An advance that stays well before ``short``'s deadline."""
    past: float
    """An advance that goes well past ``short``'s deadline, and well before ``long``'s."""


TIMINGS = {True: Timing(short=2, long=60, before=1, past=3), False: Timing(short=0.3, long=600, before=0.1, past=0.45)}
"""By whether the clock is controllable: jumps on the model's clock, or real sleeps with margins for a busy machine."""


def step(rule_name: str, **arguments: Any) -> Step:
    return rule_name, arguments


def everywhere(rule_name: str, **arguments: Any) -> list[Step]:
    """``rule_name`` on the key ``k`` of every namespace of :data:`PATHS`."""
    return [step(rule_name, path=path, **arguments) for path in PATHS]


def renewed(t: Timing, ttl: float | None, renew: TTL) -> list[Step]:
    """Set ``k`` with ``ttl``, read it renewing for ``renew``, wait past ``t.short`` and read it again."""
    reads = [step("get"), step("expires_in")]
    return [step("set", ttl=ttl), step("get", renew=renew), step("advance", seconds=t.past), *reads]


REGRESSIONS: dict[str, Callable[[Timing], list[Step]]] = {
    # renewal
    "renew_for_outlives_the_old_expiry": lambda t: renewed(t, t.short, t.long),
    "renewed_counter_gets_the_new_expiry": lambda t: [  # the shrink of a memory store without renewal
        step("incr", amount=1, ttl=t.short),
        step("get", renew=t.long),
        step("expires_in"),
    ],
    # Litestar's Redis store sends EXPIRE with timedelta.seconds: 0 for a day, which deletes the key
    "renew_for_a_day_as_timedelta": lambda t: renewed(t, t.short, timedelta(days=1)),
    "renewal_leaves_a_key_without_expiry_without": lambda t: renewed(t, None, t.short),
    "renewal_does_not_revive_an_expired_key": lambda t: [
        step("set", ttl=t.short),
        step("advance", seconds=t.past),
        step("get", renew=t.long),
        step("exists"),
        step("count"),
    ],
    # expiry at the boundary
    "alive_just_before_the_deadline_gone_after": lambda t: [
        step("set", ttl=t.short),
        step("expires_in"),
        step("advance", seconds=t.before),
        step("get"),
        step("exists"),
        step("advance", seconds=t.past - t.before),
        step("exists"),
        step("expires_in"),
        step("get"),
        step("keys"),
        step("count"),
    ],
    "expires_in_rounds_up": lambda t: [
        step("set", key="k", ttl=1.5),
        step("expires_in", key="k"),
        step("set", key="K", ttl=timedelta(minutes=10)),
        step("expires_in", key="K"),
    ],
    "set_many_and_get_many_expire": lambda t: [
        step("set_many", mapping={"k": b"v", "K": "text-ü"}, ttl=t.short),
        step("get_many", keys=["k", "K"]),
        step("advance", seconds=t.past),
        step("get_many", keys=["k", "K", "a"]),
        step("keys"),
    ],
    "delete_expired_keeps_live_keys": lambda t: [
        step("set", key="k", ttl=t.short),
        step("set", key="K", ttl=None),
        step("set", key="a", ttl=t.long),
        step("advance", seconds=t.past),
        step("delete_expired"),
        step("count"),
        step("keys"),
        step("get", key="K"),
        step("get", key="a"),
    ],
    # incr
    "incr_on_an_expired_counter_starts_again": lambda t: [
        step("incr", amount=2, ttl=t.short),
        step("advance", seconds=t.past),
        step("incr", amount=5),
        step("expires_in"),
        step("get"),
    ],
    "incr_keeps_the_window_of_the_first_count": lambda t: [
        step("incr", amount=1, ttl=t.short),
        step("incr", amount=1, ttl=t.long),
        step("expires_in"),
        step("advance", seconds=t.past),
        step("get"),
        step("incr", amount=-1),
    ],
    "incr_on_an_expired_text_starts_a_counter": lambda t: [
        step("set", value="text-ü", ttl=t.short),
        step("incr", amount=1),  # alive: ValueError
        step("advance", seconds=t.past),
        step("incr", amount=3),
        step("get"),
    ],
    # compare-and-set, compare-and-delete, add
    "compare_and_set_after_expiry": lambda t: [
        step("set", value=b"v", ttl=t.short),
        step("advance", seconds=t.past),
        step("compare_and_set", expected=b"v", value=b"-3"),
        step("compare_and_set", expected=None, value=b"7"),
        step("get"),
        step("expires_in"),
    ],
    "compare_and_set_gives_the_new_expiry": lambda t: [
        step("set", key="k", value=b"v", ttl=None),
        step("compare_and_set", key="k", expected=b"v", value=b"7", ttl=t.short),
        step("set", key="K", value=b"v", ttl=t.short),
        step("compare_and_set", key="K", expected="v", value=b"7", ttl=None),
        step("advance", seconds=t.past),
        step("get", key="k"),
        step("get", key="K"),
        step("expires_in", key="K"),
    ],
    "compare_and_delete_and_add_after_expiry": lambda t: [
        step("set", value=b"v", ttl=t.short),
        step("add", value=b"7"),  # alive: refused
        step("advance", seconds=t.past),
        step("compare_and_delete", expected=b"v"),
        step("add", value=b"7"),
        step("get"),
    ],
    # delete_all across namespaces
    "delete_all_takes_children_not_siblings_or_parent": lambda t: [
        *everywhere("set", value=b"v"),
        step("delete_all", path=("a",)),
        *everywhere("get"),
        step("namespaces"),
        step("namespaces", path=("a",)),
        step("count", path=("ab",)),
    ],
    "delete_all_of_the_root_takes_every_namespace": lambda t: [
        *everywhere("set", value=b"v", ttl=t.long),
        step("delete_all"),
        step("namespaces"),
        *everywhere("count"),
    ],
    "keys_that_look_like_paths_stay_in_their_namespace": lambda t: [
        step("set", key="a/b"),
        step("set", key="a:b"),
        step("set", path=("a",), key="b"),
        step("set", path=("a", "b"), key="../x"),
        step("delete_all", path=("a",)),
        step("keys"),
        step("get", key="a/b"),
        step("get", path=("a", "b"), key="../x"),
        step("namespaces"),
    ],
}
"""Fixed sequences, by name; each a function of the :class:`Timing` of the backend's clock."""

DEFAULTS: dict[str, Any] = {"path": (), "key": "k", "value": b"v", "ttl": None, "renew": None, "now": 0}
"""What a regression step leaves out: the root namespace, the key ``k``, no expiry, ``delete_all`` really runs."""


def run_regression(store: KVStore, clock: Clock, call: Caller, name: str) -> None:
    """Run the regression ``name`` on ``store`` through the state machine; call from a worker thread.

    Raises:
        AssertionError: the store's answer differs from the model's, naming the regression.
    """
    machine = machine_class(store, clock, call, lambda: f"r-{name}")()
    try:
        for rule_name, arguments in REGRESSIONS[name](TIMINGS[clock.controllable]):
            method = getattr(machine, rule_name)
            parameters = inspect.signature(method).parameters
            method(**{parameter: arguments.get(parameter, DEFAULTS.get(parameter)) for parameter in parameters})
    except AssertionError as failure:
        raise AssertionError(f"regression {name}: {failure}") from failure
    finally:
        machine.teardown()


async def run_regressions(store: KVStore, clock: Clock) -> None:
    """Run every regression on ``store``, one after the other (in a worker thread, as Hypothesis does)."""
    call = caller(asyncio.get_running_loop())

    def run_all() -> None:
        for name in REGRESSIONS:
            run_regression(store, clock, call, name)

    await asyncio.to_thread(run_all)


async def test_regressions_match_the_model(backend: str, store: KVStore, monkeypatch: pytest.MonkeyPatch) -> None:
    await run_regressions(store, install_clock(backend, monkeypatch))


@pytest.mark.parametrize("wrapper", sorted(WRAPPERS))
async def test_regressions_match_the_model_through_wrappers(wrapper: str, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = install_clock("memory", monkeypatch)
    async with WRAPPERS[wrapper](MemoryStore()) as store:
        await run_regressions(store, clock)
