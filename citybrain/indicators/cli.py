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
from citybrain.kernel.i18n import N_

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
    table = Table(title=f"{len(catalogue)} indicators")
    table.add_column("id", no_wrap=True)
    for column in ("key", "name", "unit", "better", "target", "weight", "breakdowns"):
        table.add_column(column)
    for i in catalogue:
        table.add_row(i.id, i.key, f"{i.name_en}\n{i.name_zh}", i.unit, i.direction,
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
            err.print(f"out of date in {SQL_DIR}: {', '.join(stale)}; run `{render.COMMAND}`")
            raise typer.Exit(1)
        console.print(f"every SQL file in {SQL_DIR} is its rendering")
        return
    changed = render.write()
    for path in changed:
        console.print(f"{'wrote' if path.exists() else 'removed'} {path}")
    console.print(f"{len(changed)} file(s) changed" if changed else "every SQL file was up to date")
