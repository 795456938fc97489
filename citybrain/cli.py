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

import asyncio
import logging
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from alerts import cli_incidents
from alerts import cli_rules as detection_cli
from citybrain import store
from citybrain.api import cli as api_cli
from citybrain.cli_common import Output, OutputOpt, console, err, load_settings, print_json
from citybrain.errors import CitybrainError
from citybrain.indicators import cli as indicators_cli
from citybrain.reports import cli as reports_cli
from citybrain.runtime import Stopped, exit_by_signal, services, stop_on_signals
from dashboards import cli as dashboards_cli

app = typer.Typer(help=__doc__, no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database migrations.\n\nExample: citybrain db migrate", no_args_is_help=True)
assets_app = typer.Typer(help="The asset registry.\n\nExample: citybrain assets import city.yaml",
                         no_args_is_help=True)
topics_app = typer.Typer(help="Kafka topics.\n\nExample: citybrain topics create", no_args_is_help=True)
schemas_app = typer.Typer(help="Event contracts.\n\nExample: citybrain schemas export schemas/jsonschema",
                          no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(assets_app, name="assets")
app.add_typer(topics_app, name="topics")
app.add_typer(schemas_app, name="schemas")
app.command("report")(reports_cli.report)
app.add_typer(api_cli.tokens_app, name="tokens")
app.command("api")(api_cli.serve)
app.add_typer(cli_incidents.incidents_app, name="incidents")
detection_cli.register(app)  # rules, maintenance, alerter
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


def _instant(text: str) -> datetime:
    try:
        t = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 time, e.g. 2026-03-01T00:00+08:00") from exc
    return t if t.tzinfo else t.replace(tzinfo=UTC)


@db_app.command("rollup")
def db_rollup(
    start: Annotated[str | None, typer.Option(
        "--from", help="first hour, ISO 8601 (no offset: UTC)")] = None,
    end: Annotated[str | None, typer.Option(
        "--to", help="end (exclusive), ISO 8601 (no offset: UTC)")] = None,
    zone: Annotated[str | None, typer.Option(
        "--zone", metavar="TZ", help="keep the daily rollups in local days of TZ (IANA name, "
        "e.g. Asia/Shanghai): records it and rebuilds every daily row from the raw rows")] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Rebuild the hourly probe and cloud rollups of [--from, --to), the daily rollups
    (latency histograms, packet and cloud sums) of the local days it meets and the
    availability facts of the local days wholly inside it, from the raw rows; or, with
    --zone, move the daily rollups to another zone's local days (set_zone: all of them
    are rebuilt; the availability facts are dropped and the worker recomputes them).

    For rows loaded around the pipeline (COPY, back-fills). Examples:
    citybrain db rollup --from 2026-03-01T00:00+08:00 --to 2026-04-01T00:00+08:00
    citybrain db rollup --zone Asia/Shanghai
    """
    from citybrain import availability, rollups

    # One job per run: --zone rebuilds every daily row already, and the two outputs
    # would otherwise both claim latency_days.
    if zone is not None and (start is not None or end is not None):
        raise typer.BadParameter("give either --from and --to, or --zone, not both")
    if zone is None and (start is None or end is None):
        raise typer.BadParameter("give --from and --to (rebuild a range), or --zone TZ")
    lo = hi = None
    if start is not None and end is not None:
        lo, hi = _instant(start), _instant(end)  # parsed before any work
    settings = load_settings()
    with services(settings, need_broker=False) as ep, \
            store.connect(ep.database_url, settings.database_schema) as conn:
        if zone is not None:
            written = rollups.set_zone(conn, zone)
            conn.commit()
            if output is Output.json:
                print_json({"zone": zone, "latency_days": written})
            else:
                console.print(f"daily rollups now in {zone}: {written} latency rows rebuilt")
            return
        assert lo is not None and hi is not None
        result = rollups.rebuild(conn, lo, hi)
        conn.commit()
        facts = availability.refresh(conn, lo, hi, force=True)
        conn.commit()
    if output is Output.json:
        rebuilt = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in result.__dict__.items()}
        print_json({**rebuilt,
                    "availability_days": len(facts.days), "availability_rows": facts.rows,
                    "availability_skipped": facts.skipped})
    else:
        console.print(f"rebuilt {result.start.isoformat()} to {result.end.isoformat()}: "
                      f"{result.probe_hours} probe and {result.cloud_hours} cloud hourly rows, "
                      f"{result.latency_days} daily latency rows, availability facts of "
                      f"{len(facts.days)} whole local days ({facts.rows} rows)"
                      + (" (skipped: another refresh held the lock)" if facts.skipped else ""))


@assets_app.command("import")
def assets_import(file: Path, output: OutputOpt = Output.table) -> None:
    """Import departments, districts and assets from a YAML or CSV file (upsert)."""
    from citybrain.assets import import_registry, load_registry

    settings = load_settings()
    registry = load_registry(file)
    with services(settings, need_broker=False) as ep:
        store.migrate(ep.database_url, settings.database_schema, storage=settings.storage)
        with store.connect(ep.database_url, settings.database_schema) as conn:
            report = import_registry(conn, registry)
    if output is Output.json:
        print_json(report.__dict__)
    else:
        console.print(
            f"imported {report.departments} departments, {report.districts} districts, "
            f"{report.assets} assets ({report.inserted_assets} new, {report.updated_assets} updated)"
        )


@topics_app.command("create")
def topics_create() -> None:
    """Create the family, dead-letter, state and liveness topics if missing."""
    from streams.topics import ensure_topics, layout

    settings = load_settings()
    with services(settings, need_database=False) as ep:
        asyncio.run(ensure_topics(ep.kafka_bootstrap, settings))
    for name, partitions in layout(settings).items():
        console.print(f"{name}: {partitions} partitions")


@schemas_app.command("export")
def schemas_export(directory: Path = Path("schemas/jsonschema")) -> None:
    """Write one JSON Schema file per family (single event and envelope)."""
    from schemas.jsonschema_export import export

    for path in export(directory):
        console.print(str(path))


@app.command()
def worker() -> None:
    """Run the stream processors (all family agents and the liveness derivation)."""
    import faust

    from citybrain.dependencies import wait_for_broker, wait_for_database
    from citybrain.metrics_server import serve_process_metrics
    from streams.app import build_app
    from streams.topics import ensure_topics

    settings = load_settings()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    with services(settings) as ep:
        wait_for_database(ep.database_url)  # started before the servers: wait for them
        store.migrate(ep.database_url, settings.database_schema, storage=settings.storage)
        wait_for_broker(ep.kafka_bootstrap)
        asyncio.run(ensure_topics(ep.kafka_bootstrap, settings))
        serve_process_metrics(settings)  # /metrics when CITYBRAIN_METRICS_PORT is set
        fapp = build_app(settings, ep.kafka_bootstrap, ep.database_url)
        faust.Worker(fapp, loglevel="WARNING", quiet=True, redirect_stdouts=False).execute_from_commandline()


@app.command()
def simulate(
    days: Annotated[float, typer.Option(help="simulated days")] = 1.0,
    speed: Annotated[float | None, typer.Option(help="simulated seconds per wall second; "
                                                "omit for as fast as possible")] = None,
    to_file: Annotated[Path | None, typer.Option("--to-file", help="write JSON lines "
                                                 "(topic, key, value) instead of producing")] = None,
    registry_out: Annotated[Path | None, typer.Option(help="also write the city's registry YAML")] = None,
    seed: int = 7,
    scale: Annotated[float, typer.Option(help="multiply asset counts")] = 1.0,
    import_registry: Annotated[bool, typer.Option(help="import the city's registry into the "
                                                  "database before producing")] = True,
) -> None:
    """Simulate a city (registry + all six event families, with failures)."""
    from citybrain import simulation

    settings = load_settings()
    start = simulation.window_start(datetime.now(UTC), timedelta(days=days))
    city = simulation.prepare(seed=seed, scale=scale, start=start, days=days)
    if registry_out:
        from citybrain.assets import write_registry

        write_registry(city.registry, registry_out)
        console.print(f"registry written to {registry_out}")
    if to_file is not None:
        n = simulation.to_file(city, settings, to_file)
        console.print(f"{n} messages written to {to_file}")
        return
    with services(settings, need_database=import_registry) as ep:
        if import_registry:
            from citybrain.assets import import_registry as import_into

            store.migrate(ep.database_url, settings.database_schema, storage=settings.storage)
            with store.connect(ep.database_url, settings.database_schema) as conn:
                report = import_into(conn, city.registry)
            console.print(f"registry imported: {report.assets} assets")
        n = asyncio.run(simulation.produce(city, settings, ep.kafka_bootstrap, speed=speed))
    console.print(f"{n} messages produced")


@app.command()
def status(output: OutputOpt = Output.table) -> None:
    """Stored events per family, dead letters, assets by state and key."""
    from citybrain.status import read_status
    from citybrain.summary import print_status

    settings = load_settings()
    with (services(settings, need_broker=False) as ep,
          store.connect(ep.database_url, settings.database_schema) as conn):
        st = read_status(conn)
    if output is Output.json:
        print_json(st.as_dict())
    else:
        print_status(console, st)


@app.command()
def demo(
    days: Annotated[float, typer.Option(help="simulated days")] = 1.0,
    speed: Annotated[float, typer.Option(help="simulated seconds per wall second")] = 1440.0,
    workers: Annotated[int, typer.Option(help="worker processes")] = 1,
    out: Annotated[Path, typer.Option(help="where the demo writes its files")] = Path("demo-out"),
) -> None:
    """Run the whole pipeline on a simulated city and print a summary."""
    from citybrain.demo import run_demo

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
