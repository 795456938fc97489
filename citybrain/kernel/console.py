"""What every command module shares: the consoles, the settings loader, ``-o table|json``
and JSON output.

Kept apart from ``citybrain.cli`` (which imports the command modules to register them),
so the command modules can import it at the top without a cycle.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console

from citybrain.kernel.i18n import N_
from citybrain.kernel.settings import Settings

# The one console for command output, and the one for errors and warnings. Wide enough for
# the tables when output goes to a file or a CI log, not a terminal.
console = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, soft_wrap=True)


class Output(StrEnum):
    table = "table"
    json = "json"


OutputOpt = Annotated[Output, typer.Option("-o", "--output", help=N_("table or json"))]


def load_settings() -> Settings:
    """The settings, or exit 2 with the offending CITYBRAIN_* variable named."""
    try:
        return Settings()
    except ValidationError as exc:
        err.print(f"[red]invalid CITYBRAIN_* setting:[/red] {exc}")
        raise typer.Exit(2) from exc


def print_json(data: object) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
