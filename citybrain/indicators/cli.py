"""``citybrain indicators``: the indicator catalogue and its SQL files.

Examples:
    citybrain indicators list
    citybrain indicators list -o json
    citybrain indicators render            # write sql/*.sql from templates/ and the catalogue
    citybrain indicators render --check    # exit 1 naming the files that are out of date
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from citybrain.indicators import render
from citybrain.indicators.catalogue import SQL_DIR, load_catalogue
from citybrain.indicators.model import Indicator
from citybrain.kernel.console import Output, OutputOpt, console, err
from citybrain.kernel.i18n import N_, Catalogue, current_language

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

# The table's labels (``-o json`` keeps the ids: key, unit and direction as the catalogue has them).
KEYS = {"infrastructure": N_("Infrastructure"), "data": N_("Data resources"),
        "system": N_("Information systems"), "portal": N_("Service portals"), "security": N_("Security"),
        "ops": N_("Operation services")}
UNITS = {"ms": N_("ms"), "minutes": N_("min"), "count": N_("count")}
DIRECTIONS = {"higher": N_("higher is better"), "lower": N_("lower is better")}

app = typer.Typer(help=N_("""The indicator catalogue and its SQL files.

Examples:
    citybrain indicators list
    citybrain indicators list -o json
    citybrain indicators render            # write sql/*.sql from templates/ and the catalogue
    citybrain indicators render --check    # exit 1 naming the files that are out of date"""),
                  no_args_is_help=True)


def describe(indicator: Indicator) -> dict[str, Any]:
    """A catalogue entry as exported: everything but the SQL text (see ``sql_file``)."""
    return {
        "id": indicator.id, "key": indicator.key, "name_en": indicator.name_en,
        "name_zh": indicator.name_zh, "unit": indicator.unit, "direction": indicator.direction,
        "target": indicator.target, "weight": indicator.weight, "formula": indicator.formula,
        "version": indicator.version, "sql_file": indicator.sql_file,
        "availability": indicator.availability, "breakdowns": list(indicator.breakdowns),
    }


@app.command("list", help=N_(
    "Every indicator of the catalogue: key, names, unit, target, weight, breakdowns."))
def list_indicators(output: OutputOpt = Output.table) -> None:
    catalogue = load_catalogue()
    if output is Output.json:
        sys.stdout.write(orjson.dumps([describe(i) for i in catalogue],
                                      option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    chinese = current_language() == "zh-CN"
    table = Table(title=_("{count} indicators").format(count=len(catalogue)))
    table.add_column(_("id"), no_wrap=True)
    for column in (N_("key"), N_("name"), N_("unit"), N_("better"), N_("target"), N_("weight"),
                   N_("breakdowns")):
        table.add_column(_(column))
    for i in catalogue:
        table.add_row(i.id, _(KEYS.get(i.key, i.key)), i.name_zh if chinese and i.name_zh else i.name_en,
                      _(UNITS[i.unit]) if i.unit in UNITS else i.unit,
                      _(DIRECTIONS[i.direction]) if i.direction in DIRECTIONS else i.direction,
                      "—" if i.target is None else f"{i.target:g}", f"{i.weight:g}",
                      ", ".join(i.breakdowns))
    console.print(table)


@app.command("render", help=N_(
    "Write each indicator's SQL file (sql/) from its family template (templates/) and the catalogue's"
    " params; remove files no entry renders. Edit the templates or the catalogue, never the SQL files:"
    " a test fails when they differ from their rendering."))
def render_sql(
    check: Annotated[bool, typer.Option("--check", help=N_("write nothing; exit 1 if a file is out of date"))]
    = False,
) -> None:
    if check:
        stale = render.stale_files()
        if stale:
            err.print(_("out of date in {folder}: {files}; run `{command}`").format(
                folder=SQL_DIR, files=", ".join(stale), command=render.COMMAND), highlight=False)
            raise typer.Exit(1)
        console.print(_("every SQL file in {folder} is its rendering").format(folder=SQL_DIR))
        return
    changed = render.write()
    for path in changed:
        console.print((_("wrote {path}") if path.exists() else _("removed {path}")).format(path=path))
    console.print(_("{count} file(s) changed").format(count=len(changed)) if changed
                  else _("every SQL file was up to date"))
