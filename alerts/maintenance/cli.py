"""``citybrain maintenance add|list|rm|extend|retroactive``: maintenance windows and silences.

What a window counts from, and examples, are the command's help (``maintenance_app``
below, translated when the command starts). Tables and messages are in
CITYBRAIN_LANGUAGE (kinds and scopes as words, targets by their registry name with the
id); JSON keeps ids, values and UTC as the API gives them.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import orjson
import psycopg
import typer
from rich.table import Table

from alerts.maintenance import windows as maintenance
from citybrain.kernel import audit, store
from citybrain.kernel.clock import utc_now
from citybrain.kernel.console import Output, OutputOpt, console, load_settings
from citybrain.kernel.i18n import N_, Catalogue, Language, Translator
from citybrain.kernel.runtime import services
from schemas.names import Names, load_names

MESSAGES = Catalogue.of_package(__name__)          # alerts/locale

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


KIND_LABELS = {"maintenance": N_("maintenance"), "silence": N_("silence")}
SCOPE_LABELS = {"all": N_("all"), "asset": N_("asset"), "department": N_("department"),
                "district": N_("district"), "tag": N_("tag")}


def _label(t: Translator, labels: dict[str, str], value: str) -> str:
    label = labels.get(value)
    return t.gettext(label) if label else value


def _names(conn: psycopg.Connection[Any], language: Language,
           windows: list[maintenance.MaintenanceWindow]) -> Names:
    return load_names(conn, language, [w.target for w in windows if w.scope == "asset" and w.target])


def _target(names: Names, w: maintenance.MaintenanceWindow) -> str:
    """'1号水泵 (pump-1)': a registry target by its name, with the id the commands take."""
    if not w.target:
        return "-"
    name = (names.asset(w.target) if w.scope == "asset" else names.department(w.target)
            if w.scope == "department" else names.district(w.target) if w.scope == "district" else None)
    return w.target if not name or name == w.target else f"{name} ({w.target})"


def _print(windows: list[maintenance.MaintenanceWindow], names: Names, output: Output) -> None:
    if output is Output.json:
        sys.stdout.write(orjson.dumps([w.as_dict() for w in windows], option=orjson.OPT_INDENT_2).decode()
                         + "\n")
        return
    t = MESSAGES.translator(names.language)
    columns = (N_("No."), N_("Kind"), N_("Scope"), N_("Target"), N_("First period"), N_("Recurrence"),
               N_("Next period"), N_("Counts from"), N_("Reason"), N_("Added by"), N_("Removed"))
    table = Table(*(t.gettext(c) for c in columns))
    for w in windows:
        tz = maintenance.zone(w.timezone)
        first = f"{w.starts_at.astimezone(tz):%Y-%m-%d %H:%M}–{w.ends_at.astimezone(tz):%H:%M} {w.timezone}"
        if w.retroactive_by:
            counts = t.gettext("its start (retroactive, {who}: {reason})").format(
                who=w.retroactive_by, reason=w.retroactive_reason)
        elif w.counts_from > w.starts_at:
            added = w.counts_from.astimezone(tz)
            counts = t.gettext("{time} (when added)").format(time=f"{added:%Y-%m-%d %H:%M}")
        else:
            counts = t.gettext("its start")
        nxt = (f"{w.next_start.astimezone(tz):%Y-%m-%d %H:%M}–{w.next_end.astimezone(tz):%H:%M}"
               if w.next_start and w.next_end else "-")
        recurrence = w.recurrence or "-"
        if w.until_at:
            recurrence = t.gettext("{rule} until {date}").format(rule=recurrence,
                                                                 date=f"{w.until_at.astimezone(tz):%Y-%m-%d}")
        removed = (t.gettext("{time}Z by {who}").format(time=f"{w.removed_at:%Y-%m-%d %H:%M}",
                                                        who=w.removed_by) if w.removed_at else "")
        table.add_row(str(w.window_id), _label(t, KIND_LABELS, w.kind), _label(t, SCOPE_LABELS, w.scope),
                      _target(names, w), first, recurrence, nxt, counts, w.reason, w.created_by, removed)
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
            names = _names(conn, settings.language, [window])
    _print([window], names, output)
    if output is Output.table and window.counts_from > window.starts_at:
        t = MESSAGES.translator(settings.language)
        console.print(t.gettext(
            "Its time before {time}Z (when it was added) does not count; to count it: "
            "citybrain maintenance retroactive {number} --reason ...").format(
                time=f"{window.counts_from:%Y-%m-%d %H:%M}", number=window.window_id), markup=False)


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
        names = _names(conn, settings.language, windows)
    _print(windows, names, output)


@maintenance_app.command("rm", help=N_(
    "Remove a window: past periods stay on record, future ones are dropped."))
def rm(window_id: int, output: OutputOpt = Output.table) -> None:
    settings = load_settings()
    with (services(settings, need_broker=False) as ep,
          store.connect(ep.database_url, settings.database_schema) as conn):
        window = maintenance.remove(conn, window_id, audit.Actor.cli(), now=utc_now())
        names = _names(conn, settings.language, [window])
    _print([window], names, output)


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
        names = _names(conn, settings.language, [window])
    _print([window], names, output)


@maintenance_app.command("extend", help=N_(
    "Expand open-ended recurring windows up to the horizon (the alerter does it hourly)."))
def extend() -> None:
    settings = load_settings()
    with (services(settings, need_broker=False) as ep,
          store.connect(ep.database_url, settings.database_schema) as conn):
        added = maintenance.extend_horizon(conn, now=utc_now(),
                                           horizon_days=settings.maintenance_horizon_days)
    t = MESSAGES.translator(settings.language)
    console.print(t.ngettext("{count} period added (horizon {days} days)",
                             "{count} periods added (horizon {days} days)", added).format(
        count=added, days=settings.maintenance_horizon_days))
