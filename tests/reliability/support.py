"""Shared by the reliability tests (model, crash, outage, soak, hostile): the run profile and small helpers.

``KVSTORES_TEST_PROFILE=long`` selects the long profile: many more Hypothesis examples and steps per backend, and
a soak of about 60 s per backend instead of 10 s. Anything else (or unset) is the default, bounded profile that
``./scripts/test.sh`` runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

PROFILE_VARIABLE = "KVSTORES_TEST_PROFILE"


@dataclass(frozen=True)
class Profile:
    """How hard the reliability tests push."""

    name: str
    model_examples: int
    """Hypothesis examples (random operation sequences) per server backend."""
    model_examples_embedded: int
    """Hypothesis examples per embedded backend (memory, file: cheap and with a controllable clock)."""
    model_steps: int
    """Operations per example, at most."""
    soak_seconds: float
    """How long the load generator runs against the example app."""
    crash_rounds: int
    """How many times writer processes are killed in the FileStore crash test."""


DEFAULT = Profile(
    "default", model_examples=12, model_examples_embedded=200, model_steps=40, soak_seconds=10.0, crash_rounds=6
)
LONG = Profile(
    "long", model_examples=300, model_examples_embedded=3000, model_steps=80, soak_seconds=60.0, crash_rounds=100
)


def profile() -> Profile:
    """Return the profile ``KVSTORES_TEST_PROFILE`` selects (``long``), else the default one."""
    return LONG if os.environ.get(PROFILE_VARIABLE, "").strip().lower() == "long" else DEFAULT
