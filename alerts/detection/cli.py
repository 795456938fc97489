"""``citybrain rules check``: the alert rules, validated offline (mounted by citybrain/cli.py).

Examples:
    citybrain rules check                      # the rules the alerter would load
    citybrain rules check my-rules/ extra.yaml -o json
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from alerts.detection.rules import check_files, rule_files
from citybrain.kernel.console import Output, OutputOpt, console, load_settings
from citybrain.kernel.i18n import N_

rules_app = typer.Typer(help=N_("Alert rules.\n\nExample: citybrain rules check alerts/rules/"),
                        no_args_is_help=True)


@rules_app.command("check", help=N_(
    "Validate rule files offline: every problem, naming file, rule and field; exit 1 on any."))
def check(
    files: Annotated[list[Path] | None, typer.Argument(help=N_(
        "rule files or folders (default: CITYBRAIN_ALERT_RULES_PATH, else the packaged rules)"))] = None,
    output: OutputOpt = Output.table,
) -> None:
    if files:
        paths = [p for f in files for p in (rule_files(f) if f.is_dir() else [f])]
    else:
        paths = rule_files(load_settings().alert_rules_path)
    rules, problems = check_files(paths)
    if output is Output.json:
        sys.stdout.write(orjson.dumps({
            "files": [str(p) for p in paths], "rules": [r.id for r in rules],
            "problems": [{"file": p.file, "rule": p.rule, "field": p.field, "message": p.message}
                         for p in problems]}, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        for p in problems:
            console.print(str(p), markup=False, highlight=False)
        verdict = f"{len(problems)} problem(s)" if problems else "OK"
        console.print(f"{len(rules)} valid rule(s) in {len(paths)} file(s): {verdict}", markup=False)
    if problems:
        raise typer.Exit(1)
