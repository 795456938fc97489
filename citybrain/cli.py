"""The ``citybrain`` command: noun–verb subcommands, ``-o table|json`` where it prints data.

Examples:
    citybrain db migrate
    citybrain assets import city.yaml
    citybrain worker
    citybrain simulate --days 1 --to-file city.jsonl
    citybrain status -o json
    citybrain demo
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from alerts import cli as alerter_cli
from alerts.detection import cli as detection_cli
from alerts.incidents import cli as incidents_cli
from alerts.maintenance import cli as maintenance_cli
from citybrain.api import cli as api_cli
from citybrain.indicators import cli as indicators_cli
from citybrain.kernel import store
from citybrain.kernel.console import Output, OutputOpt, console, err, load_settings, print_json
from citybrain.kernel.errors import CitybrainError
from citybrain.kernel.runtime import Stopped, exit_by_signal, services, stop_on_signals
from citybrain.reports import cli as reports_cli
from citybrain.simulator import cli as simulator_cli
from dashboards import cli as dashboards_cli
from schemas import cli as schemas_cli
from streams import cli as streams_cli

app = typer.Typer(help=__doc__, no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database migrations.\n\nExample: citybrain db migrate", no_args_is_help=True)
# Every domain's commands, mounted here (each domain's cli.py holds its own).
app.add_typer(db_app, name="db")
db_app.command("rollup")(streams_cli.rollup)
app.add_typer(schemas_cli.assets_app, name="assets")
app.add_typer(schemas_cli.schemas_app, name="schemas")
app.add_typer(streams_cli.topics_app, name="topics")
app.command("worker")(streams_cli.worker)
app.command("simulate")(simulator_cli.simulate)
app.command("status")(dashboards_cli.status)
app.command("report")(reports_cli.report)
app.add_typer(api_cli.tokens_app, name="tokens")
app.command("api")(api_cli.serve)
app.add_typer(incidents_cli.incidents_app, name="incidents")
app.add_typer(detection_cli.rules_app, name="rules")
app.add_typer(maintenance_cli.maintenance_app, name="maintenance")
app.command("alerter")(alerter_cli.alerter)
app.add_typer(dashboards_cli.app, name="dashboards")
app.add_typer(indicators_cli.app, name="indicators")


@db_app.command("migrate")
def db_migrate(output: OutputOpt = Output.table) -> None:
    """Apply pending migrations. A schema's first migration chooses its storage mode
    (CITYBRAIN_STORAGE: auto, timescaledb or postgresql) and keeps it."""
    settings = load_settings()
    with services(settings, need_broker=False) as ep:
        st = store.migrate(ep.database_url, settings.database_schema, storage=settings.storage)
    if output is Output.json:
        print_json(st.__dict__)
    else:
        console.print(f"schema {st.schema}: {len(st.applied)} migrations applied, "
                      f"storage {st.mode} ({st.mode_reason})")


@db_app.command("status")
def db_status(output: OutputOpt = Output.table) -> None:
    """Show applied and pending migrations, the storage mode and why it was chosen."""
    settings = load_settings()
    with services(settings, need_broker=False) as ep:
        st = store.status(ep.database_url, settings.database_schema, storage=settings.storage)
    if output is Output.json:
        print_json(st.__dict__)
        return
    console.print(f"server {st.server_version}, schema {st.schema}")
    console.print(f"storage: {st.mode}: {st.mode_reason}")
    console.print(f"TimescaleDB on this server: {st.timescale}")
    console.print(f"applied: {st.applied or 'none'}; pending: {st.pending or 'none'}")


@app.command()
def demo(
    days: Annotated[float, typer.Option(help="simulated days")] = 1.0,
    speed: Annotated[float, typer.Option(help="simulated seconds per wall second")] = 1440.0,
    workers: Annotated[int, typer.Option(help="worker processes")] = 1,
    out: Annotated[Path, typer.Option(help="where the demo writes its files")] = Path("demo-out"),
) -> None:
    """Run the whole pipeline on a simulated city and print a summary."""
    from citybrain.demo.run import run_demo

    settings = load_settings()
    raise typer.Exit(run_demo(settings, days=days, speed=speed, workers=workers, out=out,
                              console=console))


def main() -> None:
    # SIGINT and SIGTERM unwind the command, so it stops what it started (runtime.services).
    stop_on_signals()
    try:
        app()
    except CitybrainError as exc:
        err.print(f"[red]error:[/red] {exc}")
        sys.exit(1)
    except Stopped as stopped:
        exit_by_signal(stopped.signum)


if __name__ == "__main__":
    main()
