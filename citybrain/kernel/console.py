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
from rich.markup import escape

from citybrain.kernel import validation
from citybrain.kernel.i18n import N_, Catalogue, use_language
from citybrain.kernel.settings import Settings, language_setting

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

# The one console for command output, and the one for errors and warnings. Wide enough for
# the tables when output goes to a file or a CI log, not a terminal.
console = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, soft_wrap=True)


class Output(StrEnum):
    table = "table"
    json = "json"


OutputOpt = Annotated[Output, typer.Option("-o", "--output", help=N_("table or json"))]


def load_settings() -> Settings:
    """The settings, or exit 2 with each offending CITYBRAIN_* variable named and what is
    wrong with it, in the language of CITYBRAIN_LANGUAGE (the default when it is the one
    at fault). The values are not echoed: one may be a password."""
    try:
        return Settings()
    except ValidationError:
        pass
    # Again, in the language the person asked for: the validators' messages are written
    # when they fail.
    with use_language(language_setting()):
        try:
            return Settings()
        except ValidationError as exc:
            said = _("invalid CITYBRAIN_* setting:")
            err.print(f"[red]{escape(said)}[/red]")
            for line in settings_problems(exc):
                err.print(f"  {escape(line)}", highlight=False)
            raise typer.Exit(2) from exc


def settings_problems(exc: ValidationError) -> list[str]:
    """One line per invalid setting: the variable, then what is wrong (current language)."""
    lines = []
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ())]
        name = "CITYBRAIN_" + loc[0].upper() if loc else "CITYBRAIN_*"
        where = ".".join([name, *loc[1:]])
        lines.append(f"{where}: {validation.message(error)}")
    return lines


def print_json(data: object) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
