"""The ``citybrain`` command: noun–verb subcommands, ``-o table|json`` where it prints data.

Every help text a person reads (commands', groups' and options') is written in English
and marked ``N_`` where it is given (the ``help=`` of a Typer, a command or an option), so
``make i18n`` puts it in the catalogue of the package that gives it; when the command
starts, ``LocalizedGroup`` replaces each by its translation in Settings.language
(CITYBRAIN_LANGUAGE), before click reads any of them. Typer builds the help at import,
when no language is known yet; this is the one place that knows the whole command tree.
Typer's and click's own words (Usage, Options, --help) stay as they are.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from alerts import cli as alerter_cli
from alerts.detection import cli as detection_cli
from alerts.incidents import cli as incidents_cli
from alerts.maintenance import cli as maintenance_cli
from citybrain.api import cli as api_cli
from citybrain.indicators import cli as indicators_cli
from citybrain.kernel import store
from citybrain.kernel.console import Output, OutputOpt, console, err, load_settings, print_json
from citybrain.kernel.errors import CitybrainError
from citybrain.kernel.i18n import N_, Catalogue, Language, current_language, use_language
from citybrain.kernel.runtime import Stopped, exit_by_signal, services, stop_on_signals
from citybrain.kernel.settings import Settings, language_setting
from citybrain.reports import cli as reports_cli
from citybrain.simulator import cli as simulator_cli
from dashboards import cli as dashboards_cli
from schemas import cli as schemas_cli
from streams import cli as streams_cli

MESSAGES = Catalogue.of_package(__name__)


class LocalizedGroup(TyperGroup):
    """The root command: when it starts, the help of the whole tree is translated and the
    language becomes the current one (``use_language``) for what the command says."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        # Here, not at import: the language is read when the command runs (and a test's
        # CliRunner has set its environment by then).
        language = _language()
        localize_help(self, language)
        with use_language(language):
            return super().main(*args, **kwargs)


def _language() -> Language:
    try:
        return Settings().language
    except ValidationError:
        # The command reports the invalid setting itself (load_settings), in the language
        # CITYBRAIN_LANGUAGE asks for when that one is valid.
        return language_setting()


Command = TyperCommand | TyperGroup


def command_tree(command: Command) -> Iterator[Command]:
    yield command
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            if isinstance(sub, TyperCommand | TyperGroup):
                yield from command_tree(sub)


def _catalogue_of(command: Command) -> Catalogue | None:
    module = getattr(command.callback, "__module__", None)
    if module is None:
        return None
    try:
        return Catalogue.of_package(module)
    except LookupError:
        return None


def localize_help(root: Command, language: Language) -> None:
    """Every help text of ``root``'s tree in ``language``: a text is looked up in the
    catalogue of its command's module first, then in the others of the tree (a group's
    help, or a command's given where it is mounted, is in another package's). A text no
    catalogue knows stays as it is."""
    commands = list(command_tree(root))
    found = [c for c in (_catalogue_of(c) for c in commands) if c is not None]
    everywhere = list(dict.fromkeys([MESSAGES, *found]))

    def translated(text: str | None, own: Catalogue | None) -> str | None:
        if not text:
            return text
        for catalogue in ([own] if own else []) + everywhere:
            result = catalogue.translator(language).gettext(text)
            if result != text:
                return result
        return text

    for command in commands:
        own = _catalogue_of(command)
        command.help = translated(command.help, own)
        command.short_help = translated(command.short_help, own)
        for param in command.params:
            if isinstance(param, TyperOption | TyperArgument):
                param.help = translated(param.help, own)


HELP = N_("""Citybrain, the city operations centre's platform: noun–verb subcommands, -o table|json
where a command prints data.

Examples:
    citybrain db migrate
    citybrain assets import city.yaml
    citybrain worker
    citybrain simulate --days 1 --to-file city.jsonl
    citybrain status -o json
    citybrain demo""")

app = typer.Typer(cls=LocalizedGroup, help=HELP, no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help=N_("Database migrations.\n\nExample: citybrain db migrate"), no_args_is_help=True)
# Every domain's commands, mounted here (each domain's cli.py holds its own). The help of
# a command mounted on its own is given here, where it takes its name.
app.add_typer(db_app, name="db")
db_app.command("rollup", help=N_(
    "Rebuild the hourly probe and cloud rollups of [--from, --to), the daily rollups (latency"
    " histograms, packet and cloud sums) of the local days it meets and the availability facts of"
    " the local days wholly inside it, from the raw rows; or, with --zone, move the daily rollups"
    " to another zone's local days (all of them are rebuilt; the availability facts are dropped"
    " and the worker recomputes them).\n\n"
    "For rows loaded around the pipeline (COPY, back-fills). Examples:\n\n"
    "citybrain db rollup --from 2026-03-01T00:00+08:00 --to 2026-04-01T00:00+08:00\n\n"
    "citybrain db rollup --zone Asia/Shanghai"))(streams_cli.rollup)
db_app.command("facts", help=N_(
    "Derive the facts of 12345 work orders and 好差评 ratings again from their stored events: after"
    " the work-order categories, the working-day calendar file or the rectification limits changed"
    " (a deadline stored as unknown for a year the calendar did not know gets its value). Each"
    " family in one transaction.\n\n"
    "Examples:\n\n"
    "citybrain db facts\n\n"
    "citybrain db facts --family hotline"))(streams_cli.facts)
app.add_typer(schemas_cli.assets_app, name="assets")
app.add_typer(schemas_cli.schemas_app, name="schemas")
app.add_typer(streams_cli.topics_app, name="topics")
app.command("worker", help=N_("Run the stream processors (all family agents and the liveness derivation)."))(
    streams_cli.worker)
app.command("simulate", help=N_("Simulate a city (registry + all six event families, with failures)."))(
    simulator_cli.simulate)
app.command("status", help=N_("Stored events per family, dead letters, assets by state and key."))(
    dashboards_cli.status)
app.command("report", help=N_(
    "Export the five-key indicator report (XLSX, CSV, JSON or PDF) with its provenance.\n\n"
    "Dates are local dates in --tz and a --to date includes that whole day. Date-times without an"
    " offset are local; a --to date-time is exclusive. The export is recorded in the audit log (action"
    " report.export); the command prints the file and the SHA-256 of its data rows. Figures cover the"
    " window up to its as-of time, the earlier of its end and the report's time (now, or"
    " --generated-at), and each liveness feed's assets up to the feed's watermark; a warning says when"
    " that cuts the window.\n\n"
    "Examples:\n\n"
    "citybrain report --from 2026-03-01 --to 2026-03-31 --format xlsx -o march.xlsx\n\n"
    "citybrain report --from 2026-03-01T08:00 --to 2026-03-02T08:00 --tz UTC --format csv -o d.csv"))(
    reports_cli.report)
app.add_typer(api_cli.tokens_app, name="tokens")
app.command("api", help=N_("Serve the HTTP API (OpenAPI at /docs)."))(api_cli.serve)
app.add_typer(incidents_cli.incidents_app, name="incidents")
app.add_typer(detection_cli.rules_app, name="rules")
app.add_typer(maintenance_cli.maintenance_app, name="maintenance")
app.command("alerter", help=N_("Run the alerter: rules, noise control, incidents and the escalation loop."))(
    alerter_cli.alerter)
app.add_typer(dashboards_cli.app, name="dashboards")
app.add_typer(indicators_cli.app, name="indicators")


@db_app.command("migrate", help=N_(
    "Apply pending migrations. A schema's first migration chooses its storage mode"
    " (CITYBRAIN_STORAGE: auto, timescaledb or postgresql) and keeps it."))
def db_migrate(output: OutputOpt = Output.table) -> None:
    settings = load_settings()
    with services(settings, need_broker=False) as ep:
        st = store.migrate(ep.database_url, settings.database_schema, storage=settings.storage)
    if output is Output.json:
        print_json(st.__dict__)
    else:
        t = MESSAGES.translator(current_language())
        console.print(t.gettext("schema {schema}: {count} migrations applied, storage {mode} ({reason})")
                      .format(schema=st.schema, count=len(st.applied), mode=st.mode,
                              reason=st.mode_reason))


@db_app.command("status", help=N_(
    "Show applied and pending migrations, the storage mode and why it was chosen."))
def db_status(output: OutputOpt = Output.table) -> None:
    settings = load_settings()
    with services(settings, need_broker=False) as ep:
        st = store.status(ep.database_url, settings.database_schema, storage=settings.storage)
    if output is Output.json:
        print_json(st.__dict__)
        return
    # The storage mode and its reason stay as stored (they are also the -o json values).
    t = MESSAGES.translator(current_language())
    none = t.gettext("none")
    console.print(t.gettext("server {version}, schema {schema}").format(
        version=st.server_version, schema=st.schema))
    console.print(t.gettext("storage: {mode}: {reason}").format(mode=st.mode, reason=st.mode_reason))
    console.print(t.gettext("TimescaleDB on this server: {state}").format(state=st.timescale))
    console.print(t.gettext("applied: {applied}; pending: {pending}").format(
        applied=", ".join(map(str, st.applied)) or none,
        pending=", ".join(map(str, st.pending)) or none))


@app.command(help=N_(
    "Run the whole pipeline on a simulated city and print a summary (in CITYBRAIN_LANGUAGE)."))
def demo(
    days: Annotated[float, typer.Option(help=N_("simulated days"))] = 1.0,
    speed: Annotated[float, typer.Option(help=N_("simulated seconds per wall second"))] = 1440.0,
    workers: Annotated[int, typer.Option(help=N_("worker processes"))] = 1,
    out: Annotated[Path, typer.Option(help=N_("where the demo writes its files"))] = Path("demo-out"),
    scale: Annotated[float, typer.Option(min=0.05, max=1.0, help=N_(
        "the simulated city's size: 1 is the whole city, 0.3 about a third of its departments, districts,"
        " devices, cameras, hosts, services, links and datasets"))] = 1.0,
) -> None:
    from citybrain.demo.run import run_demo

    settings = load_settings()
    raise typer.Exit(run_demo(settings, days=days, speed=speed, workers=workers, out=out,
                              console=console, scale=scale))


def main() -> None:
    # SIGINT and SIGTERM unwind the command, so it stops what it started (runtime.services).
    stop_on_signals()
    try:
        app()
    except CitybrainError as exc:
        said = MESSAGES.translator(_language()).gettext("error:")
        err.print(f"[red]{said}[/red] {exc}")
        sys.exit(1)
    except Stopped as stopped:
        exit_by_signal(stopped.signum)


if __name__ == "__main__":
    main()
