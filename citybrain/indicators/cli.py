"""``citybrain indicators``: the indicator catalogue.

Examples:
    citybrain indicators list
    citybrain indicators list -o json
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from citybrain.indicators.catalogue import load_catalogue
from citybrain.indicators.model import Indicator
from citybrain.kernel.console import Output, console

app = typer.Typer(help=__doc__, no_args_is_help=True)


def describe(indicator: Indicator) -> dict[str, Any]:
    """A catalogue entry as exported: everything but the SQL text (see ``sql_file``)."""
    return {
        "id": indicator.id, "key": indicator.key, "name_en": indicator.name_en,
        "name_zh": indicator.name_zh, "unit": indicator.unit, "direction": indicator.direction,
        "target": indicator.target, "weight": indicator.weight, "formula": indicator.formula,
        "version": indicator.version, "sql_file": indicator.sql_file,
        "availability": indicator.availability, "breakdowns": list(indicator.breakdowns),
    }


@app.command("list")
def list_indicators(
    output: Annotated[Output, typer.Option("-o", "--output", help="table or json")] = Output.table,
) -> None:
    """Every indicator of the catalogue: key, names, unit, target, weight, breakdowns."""
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
