"""The stream processors' commands: ``citybrain worker``, ``citybrain topics create`` and
``citybrain db rollup`` (rebuild what the ingest path maintains, from the raw rows).

Examples:
    citybrain topics create
    citybrain worker
    citybrain db rollup --from 2026-03-01T00:00+08:00 --to 2026-04-01T00:00+08:00
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Annotated

import typer

from citybrain.kernel import store
from citybrain.kernel.console import Output, OutputOpt, console, load_settings, print_json
from citybrain.kernel.i18n import N_, Catalogue
from citybrain.kernel.runtime import services

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

topics_app = typer.Typer(help=N_("Kafka topics.\n\nExample: citybrain topics create"), no_args_is_help=True)


def worker() -> None:
    """Run the stream processors (all family agents and the liveness derivation)."""
    from citybrain.kernel.dependencies import wait_for_broker, wait_for_database
    from dashboards.metrics_server import serve_process_metrics
    from streams.app import Worker, build_app
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
        Worker(fapp, loglevel="WARNING", quiet=True, redirect_stdouts=False).execute_from_commandline()


@topics_app.command("create", help=N_(
    "Create the family, dead-letter, state and liveness topics if missing."))
def topics_create() -> None:
    from streams.topics import ensure_topics, layout

    settings = load_settings()
    with services(settings, need_database=False) as ep:
        asyncio.run(ensure_topics(ep.kafka_bootstrap, settings))
    for name, partitions in layout(settings).items():
        console.print(_("{topic}: {partitions} partitions").format(topic=name, partitions=partitions))


def facts(
    family: Annotated[list[str] | None, typer.Option(
        "--family", help=N_("hotline (12345 work orders) or rating (好差评); both when not given"))] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Derive the facts of 12345 work orders and 好差评 ratings again from their stored
    events: after the work-order categories, the working-day calendar file or the
    rectification limits changed (a deadline stored as unknown for a year the calendar did
    not know gets its value). Each family in one transaction.

    Examples:
    citybrain db facts
    citybrain db facts --family hotline
    """
    from streams.facts import MODULES, rederive

    chosen = family or sorted(MODULES)
    unknown = [f for f in chosen if f not in MODULES]
    if unknown:
        raise typer.BadParameter(_("{families}: not a family with facts; choose from {known}").format(
            families=", ".join(unknown), known=", ".join(sorted(MODULES))))
    settings = load_settings()

    async def run(url: str) -> dict[str, int]:
        async with await store.connect_async(url, settings.database_schema) as conn:
            return {f: await rederive(conn, f, settings) for f in chosen}

    with services(settings, need_broker=False) as ep:
        done = asyncio.run(run(ep.database_url))
    if output is Output.json:
        print_json({"events": done})
    else:
        for f, n in done.items():
            console.print(_("{family}: facts derived again from {events} stored events").format(
                family=f, events=f"{n:,}"))


def _instant(text: str) -> datetime:
    try:
        t = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(_("{text} is not an ISO 8601 time, e.g. 2026-03-01T00:00+08:00").format(
            text=repr(text))) from exc
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def rollup(
    start: Annotated[str | None, typer.Option(
        "--from", help=N_("first hour, ISO 8601 (no offset: UTC)"))] = None,
    end: Annotated[str | None, typer.Option(
        "--to", help=N_("end (exclusive), ISO 8601 (no offset: UTC)"))] = None,
    zone: Annotated[str | None, typer.Option(
        "--zone", metavar="TZ", help=N_("keep the daily rollups in local days of TZ (IANA name, "
                                        "e.g. Asia/Shanghai): records it and rebuilds every daily row "
                                        "from the raw rows"))] = None,
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
    from citybrain import availability
    from streams import rollups

    # One job per run: --zone rebuilds every daily row already, and the two outputs
    # would otherwise both claim latency_days.
    if zone is not None and (start is not None or end is not None):
        raise typer.BadParameter(_("give either --from and --to, or --zone, not both"))
    if zone is None and (start is None or end is None):
        raise typer.BadParameter(_("give --from and --to (rebuild a range), or --zone TZ"))
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
                console.print(_("daily rollups now in {zone}: {rows} latency rows rebuilt").format(
                    zone=zone, rows=written))
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
        said = _("rebuilt {start} to {end}: {probe} probe and {cloud} cloud hourly rows, "
                 "{latency} daily latency rows, availability facts of {days} whole local days "
                 "({rows} rows)").format(
            start=result.start.isoformat(), end=result.end.isoformat(), probe=result.probe_hours,
            cloud=result.cloud_hours, latency=result.latency_days, days=len(facts.days), rows=facts.rows)
        console.print(said + (_(" (skipped: another refresh held the lock)") if facts.skipped else ""))
