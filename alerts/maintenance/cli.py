"""``citybrain maintenance add|list|rm|extend|retroactive``: maintenance windows and silences.

A window's time counts from the moment it is added; with ``--retroactive REASON`` (the
CLI acts as admin) or ``citybrain maintenance retroactive ID --reason ...`` later, its
declared time before that counts too (audited; reports list such windows).

Examples:
    citybrain maintenance add --scope asset --target cam-0001 \\
        --start 2026-03-28T02:00 --end 2026-03-28T04:00 --tz Europe/Berlin --reason "firmware"
    citybrain maintenance add --scope district --target d-east --start 2026-04-05T01:00 \\
        --end 2026-04-05T03:00 --rrule "FREQ=WEEKLY;BYDAY=SU" --reason "weekly patching"
    citybrain maintenance add --silence --scope department --target water --start ... --end ...
    citybrain maintenance list -o json
    citybrain maintenance rm 12
    citybrain maintenance retroactive 13 --reason "crew started at 10:00, filed at 11:59"
"""

from __future__ import annotations

import sys
from typing import Annotated

import orjson
import typer
from rich.table import Table

from alerts.maintenance import windows as maintenance
from citybrain.kernel import audit, store
from citybrain.kernel.clock import utc_now
from citybrain.kernel.console import Output, OutputOpt, console, load_settings
from citybrain.kernel.i18n import N_
from citybrain.kernel.runtime import services

maintenance_app = typer.Typer(help=N_("""Maintenance windows and silences.

A window's time counts from the moment it is added; with --retroactive REASON (the CLI
acts as admin) or `citybrain maintenance retroactive ID --reason ...` later, its declared
time before that counts too (audited; reports list such windows).

Examples:
    citybrain maintenance add --scope asset --target cam-0001 \\
        --start 2026-03-28T02:00 --end 2026-03-28T04:00 --tz Europe/Berlin --reason "firmware"
    citybrain maintenance add --scope district --target d-east --start 2026-04-05T01:00 \\
        --end 2026-04-05T03:00 --rrule "FREQ=WEEKLY;BYDAY=SU" --reason "weekly patching"
    citybrain maintenance add --silence --scope department --target water --start ... --end ...
    citybrain maintenance list -o json
    citybrain maintenance retroactive 13 --reason "crew started at 10:00, filed at 11:59"
    citybrain maintenance rm 12"""),
                              no_args_is_help=True)


def _print(windows: list[maintenance.MaintenanceWindow], output: Output) -> None:
    if output is Output.json:
        sys.stdout.write(orjson.dumps([w.as_dict() for w in windows], option=orjson.OPT_INDENT_2).decode()
                         + "\n")
        return
    table = Table("id", "kind", "scope", "target", "first", "recurrence", "next period", "counts from",
                  "reason", "by", "removed")
    for w in windows:
        tz = maintenance.zone(w.timezone)
        first = f"{w.starts_at.astimezone(tz):%Y-%m-%d %H:%M}–{w.ends_at.astimezone(tz):%H:%M} {w.timezone}"
        if w.retroactive_by:
            counts = f"start (retroactive, {w.retroactive_by}: {w.retroactive_reason})"
        elif w.counts_from > w.starts_at:
            counts = f"{w.counts_from.astimezone(tz):%Y-%m-%d %H:%M} (added)"
        else:
            counts = "start"
        nxt = (f"{w.next_start.astimezone(tz):%Y-%m-%d %H:%M}–{w.next_end.astimezone(tz):%H:%M}"
               if w.next_start and w.next_end else "-")
        until = f" until {w.until_at.astimezone(tz):%Y-%m-%d}" if w.until_at else ""
        table.add_row(str(w.window_id), w.kind, w.scope, w.target or "-", first,
                      (w.recurrence or "-") + until, nxt, counts, w.reason, w.created_by,
                      f"{w.removed_at:%Y-%m-%d %H:%M}Z by {w.removed_by}" if w.removed_at else "")
    console.print(table)


@maintenance_app.command("add", help=N_(
    "Add a maintenance window (no alerts in scope) or, with --silence, a silence. Its time counts"
    " from now; with --retroactive REASON from its declared start."))
def add(
    scope: Annotated[str, typer.Option(help=N_("all, asset, department, district or tag"))],
    start: Annotated[str, typer.Option(
        help=N_("first start, ISO 8601 (local time in --tz without an offset)"))],
    end: Annotated[str, typer.Option(help=N_("end of the first occurrence"))],
    reason: Annotated[str, typer.Option(help=N_("why; shown to operators and audited"))],
    target: Annotated[str | None, typer.Option(help=N_("asset / department / district id, or tag"))] = None,
    rrule: Annotated[str | None, typer.Option(help=N_("RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=SU"))] = None,
    until: Annotated[str | None, typer.Option(help=N_("last start of a recurring window"))] = None,
    tz: Annotated[str | None, typer.Option("--tz", help=N_("IANA zone (default CITYBRAIN_TIMEZONE)"))] = None,
    silence: Annotated[bool, typer.Option("--silence", help=N_(
        "suppress notifications only (incidents still open)"))] = False,
    retroactive: Annotated[str | None, typer.Option(
        "--retroactive", metavar="REASON", help=N_("also count the declared time before now, and why "
                                                   "(admin; audited, listed in reports)"))] = None,
    output: OutputOpt = Output.table,
) -> None:
    settings = load_settings()
    spec = maintenance.make_spec(
        kind="silence" if silence else "maintenance", scope=scope, target=target, starts_at=start,
        ends_at=end, timezone=tz or settings.timezone, reason=reason, recurrence=rrule, until=until)
    with services(settings, need_broker=False) as ep:
        store.migrate(ep.database_url, settings.database_schema, storage=settings.storage)
        with store.connect(ep.database_url, settings.database_schema) as conn:
            window = maintenance.create(conn, spec, audit.Actor.cli(), now=utc_now(),
                                        horizon_days=settings.maintenance_horizon_days,
                                        retroactive_reason=retroactive)
    _print([window], output)
    if output is Output.table and window.counts_from > window.starts_at:
        console.print(f"Its time before {window.counts_from:%Y-%m-%d %H:%M}Z (when it was added) does "
                      "not count; to count it: citybrain maintenance retroactive "
                      f"{window.window_id} --reason ...")


@maintenance_app.command("list", help=N_("List windows with their next (or current) period."))
def list_(
    all_: Annotated[bool, typer.Option("--all", help=N_("include removed windows"))] = False,
    kind: Annotated[str | None, typer.Option(help=N_("maintenance or silence"))] = None,
    output: OutputOpt = Output.table,
) -> None:
    settings = load_settings()
    with (services(settings, need_broker=False) as ep,
          store.connect(ep.database_url, settings.database_schema) as conn):
        windows = maintenance.listing(conn, now=utc_now(), include_removed=all_, kind=kind)
    _print(windows, output)


@maintenance_app.command("rm", help=N_(
    "Remove a window: past periods stay on record, future ones are dropped."))
def rm(window_id: int, output: OutputOpt = Output.table) -> None:
    settings = load_settings()
    with (services(settings, need_broker=False) as ep,
          store.connect(ep.database_url, settings.database_schema) as conn):
        window = maintenance.remove(conn, window_id, audit.Actor.cli(), now=utc_now())
    _print([window], output)


@maintenance_app.command("retroactive", help=N_(
    "Count a window's declared time before it was added (admin; audited, listed in reports)."))
def retroactive(
    window_id: int,
    reason: Annotated[str, typer.Option(help=N_("why its time before it was added should count; audited"))],
    output: OutputOpt = Output.table,
) -> None:
    settings = load_settings()
    with (services(settings, need_broker=False) as ep,
          store.connect(ep.database_url, settings.database_schema) as conn):
        window = maintenance.approve_retroactive(conn, window_id, audit.Actor.cli(), reason,
                                                 now=utc_now())
    _print([window], output)


@maintenance_app.command("extend", help=N_(
    "Expand open-ended recurring windows up to the horizon (the alerter does it hourly)."))
def extend() -> None:
    settings = load_settings()
    with (services(settings, need_broker=False) as ep,
          store.connect(ep.database_url, settings.database_schema) as conn):
        added = maintenance.extend_horizon(conn, now=utc_now(),
                                           horizon_days=settings.maintenance_horizon_days)
    console.print(f"{added} periods added (horizon {settings.maintenance_horizon_days} days)")
