"""``citybrain rules check``: the alert rules, validated offline (mounted by citybrain/cli.py).

Examples:
    citybrain rules check                      # the rules the alerter would load
    citybrain rules check my-rules/ extra.yaml -o json

The table output is in CITYBRAIN_LANGUAGE: each problem names its file, rule and field
(as written in the files) and says what is wrong in words (rules.py's; pydantic's own
schema messages stay as pydantic writes them). ``-o json`` keeps its keys; a problem's
``message`` is the same sentence.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from alerts.detection.rules import check_files, rule_files
from citybrain.kernel.console import Output, OutputOpt, console, load_settings
from citybrain.kernel.i18n import N_, Catalogue, current_language

MESSAGES = Catalogue.of_package(__name__)          # alerts/locale

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
        # The command's language (citybrain/cli.py makes Settings.language current): checking
        # files given by path needs no valid settings otherwise.
        t = MESSAGES.translator(current_language())
        for p in problems:
            console.print(str(p), markup=False, highlight=False)
        verdict = (t.gettext("{count} problem(s)").format(count=len(problems)) if problems
                   else t.gettext("OK"))
        console.print(t.gettext("{rules} valid rule(s) in {files} file(s): {verdict}").format(
            rules=len(rules), files=len(paths), verdict=verdict), markup=False)
    if problems:
        raise typer.Exit(1)
