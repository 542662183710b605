"""MemoryStore's counting calls (``incr_and_read_nowait``, counter groups) against a model: every counter gets 1 added,
or, when one of them cannot be counted, none is written and the call raises ``ValueError``."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from litestar_kvstores import MemoryStore
from litestar_kvstores.validation import INT64_MAX, parse_counter
from tests.reliability.support import profile

KEYS = ("a", "b", "c")
SUFFIXES = ("::s", "::m", "::h")
STORED = st.one_of(  # what a counter's key may hold before the call
    st.none(),
    st.integers(-5, 5).map(lambda n: b"%d" % n),
    st.sampled_from([b"%d" % INT64_MAX, b"%d" % (INT64_MAX - 1), b"007", b"x", b"", b" 5", b"+5", b"-0"]),
)


def expected_counts(stored: dict[str, bytes | None], counters: list[str]) -> list[int] | None:
    """The counts adding 1 to each counter gives, or ``None`` when one of them cannot be counted."""
    counts = []
    for counter in counters:
        data = stored[counter]
        if data is None:
            counts.append(1)
            continue
        try:
            value = parse_counter(data) + 1
        except ValueError:
            return None
        if value > INT64_MAX:
            return None
        counts.append(value)
    return counts


@settings(max_examples=profile().model_examples_embedded, deadline=None)
@given(
    stored=st.fixed_dictionaries({f"{key}{suffix}": STORED for key in KEYS for suffix in SUFFIXES}),
    calls=st.lists(
        st.tuples(
            st.sampled_from(KEYS),
            st.lists(st.sampled_from(SUFFIXES), min_size=1, max_size=3, unique=True),
            st.booleans(),
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_counting_calls_count_every_counter_or_write_none(
    stored: dict[str, bytes | None], calls: list[tuple[str, list[str], bool]]
) -> None:
    async def run() -> None:
        store = MemoryStore()
        await store.set_many({key: value for key, value in stored.items() if value is not None})
        model = dict(stored)
        for key, suffixes, grouped in calls:
            counters = [key + suffix for suffix in suffixes]
            expected = expected_counts(model, counters)
            try:
                if grouped:
                    counts, seconds_left = store.counter_group([(suffix, 60) for suffix in suffixes]).incr_nowait(key)
                    assert all(left is None or 0 < left <= 60 for left in seconds_left)
                else:
                    counts, _ = store.incr_and_read_nowait([(counter, 60) for counter in counters])
            except ValueError:
                assert expected is None, f"{counters} of {[model[c] for c in counters]} raised"
            else:
                assert counts == expected, f"{counters} of {[model[c] for c in counters]}"
                model.update({counter: b"%d" % count for counter, count in zip(counters, counts, strict=True)})
            assert await store.get_many(list(model)) == model  # nothing else written, nothing lost

    asyncio.run(run())
