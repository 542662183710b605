"""Running ``litestar stores ...`` in-process through Litestar's own CLI (click's ``CliRunner``)."""

from __future__ import annotations

import os

from click.testing import CliRunner, Result
from litestar.cli.main import litestar_group

APP = "tests.support.cli_app:create_app"
"""The app the CLI tests load: its stores come from the ``KVSTORES_*`` variables given to :func:`invoke`."""


def invoke(environment: dict[str, str], *arguments: str, answer: str | None = None, app: str = APP) -> Result:
    """Run ``litestar --app APP stores ARGUMENTS`` with only ``environment``'s stores."""
    clean = {name: None for name in os.environ if name.startswith("KVSTORES_")}
    return CliRunner().invoke(
        litestar_group, ["--app", app, "stores", *arguments], env={**clean, **environment}, input=answer
    )


def line_of(result: Result, name: str) -> str:
    lines = [line for line in result.output.splitlines() if line.startswith(name + " ")]
    assert len(lines) == 1, result.output
    return lines[0]
