"""``citybrain incidents list|show|ack|resolve|assign|comment``: the on-call workflow from a shell.

The command acts as ``cli:<os user>`` (it holds database credentials, so it is trusted
like an admin); every action writes its timeline and audit entries like the API does.
Tables show times in CITYBRAIN_TIMEZONE; JSON keeps UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

import orjson
import psycopg
import typer
from rich.table import Table

from alerts.incidents import store as incidents
from alerts.incidents.lifecycle import IncidentStatus
from alerts.model import Severity
from citybrain.kernel import audit, store
from citybrain.kernel.clock import utc_now
from citybrain.kernel.console import Output, OutputOpt, console, load_settings, print_json
from citybrain.kernel.i18n import N_
from citybrain.kernel.runtime import services
from citybrain.kernel.settings import Settings

incidents_app = typer.Typer(
    help=N_("Incidents and the 30-minute response workflow.\n\n"
            "Examples:\n\n"
            "  citybrain incidents list --status triggered\n\n"
            "  citybrain incidents show 42 -o json\n\n"
            "  citybrain incidents ack 42 --note 'on my way'\n\n"
            "  citybrain incidents resolve 42 --note 'replaced the switch'"),
    no_args_is_help=True,
)




def _print(renderable: Any) -> None:
    console.print(renderable)



@contextmanager
def _connection(settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    with (services(settings, need_broker=False) as ep,
          store.connect(ep.database_url, settings.database_schema) as conn):
        yield conn


def _local(moment: datetime | None, settings: Settings, form: str = "%Y-%m-%d %H:%M:%S") -> str:
    return moment.astimezone(settings.tz).strftime(form) if moment else ""


def _aware(value: datetime | None, settings: Settings) -> datetime | None:
    # A time typed without an offset is read in the operations centre's zone, as a person
    # at its screens means it.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=settings.tz)


@incidents_app.command("list", help=N_("Incidents, newest first."))
def list_command(
    status: Annotated[IncidentStatus | None, typer.Option(
        help=N_("triggered, acknowledged, resolved, closed"))] = None,
    severity: Annotated[Severity | None, typer.Option(help=N_("I, II, III or IV"))] = None,
    department: Annotated[str | None, typer.Option(help=N_("owning department id"))] = None,
    asset: Annotated[str | None, typer.Option(help=N_("the incident's or an affected asset"))] = None,
    since: Annotated[datetime | None, typer.Option("--from", help=N_("opened at or after (ISO 8601)"))]
    = None,
    until: Annotated[datetime | None, typer.Option("--to", help=N_("opened before (ISO 8601)"))] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help=N_("at most this many"))] = 100,
    output: OutputOpt = Output.table,
) -> None:
    settings = load_settings()
    filters = incidents.Filters(status=status, severity=severity, department_id=department, asset_id=asset,
                                opened_from=_aware(since, settings), opened_to=_aware(until, settings),
                                limit=limit)
    with _connection(settings) as conn:
        found = incidents.list_incidents(conn, filters)
    if output is Output.json:
        print_json({"incidents": [i.as_dict(with_timeline=False) for i in found], "count": len(found)})
        return
    table = Table("id", "sev", "status", "department", "asset", "title", "opened", "respond by",
                  "acked by", "repeats", caption=f"times in {settings.timezone}")
    for i in found:
        table.add_row(str(i.incident_id), i.severity.value, i.status.value, i.department_id or "",
                      i.asset_id or "", i.title, _local(i.opened_at, settings, "%m-%d %H:%M"),
                      _local(i.response_due_at, settings, "%m-%d %H:%M"), i.acknowledged_by or "",
                      str(i.repeat_count))
    _print(table)


def _show(found: incidents.Incident, settings: Settings, output: Output) -> None:
    if output is Output.json:
        print_json(found.as_dict())
        return
    facts = Table.grid(padding=(0, 2))
    for label, value in (
        ("incident", f"#{found.incident_id} [{found.severity.value}] {found.title}"),
        ("status", found.status.value + (" (auto-resolved)" if found.auto_resolved else "")),
        ("department / asset", f"{found.department_id or '-'} / {found.asset_id or '-'}"),
        ("affected assets", ", ".join(found.assets) or "-"),
        ("opened", _local(found.opened_at, settings)),
        ("respond by", _local(found.response_due_at, settings)),
        ("resolve by", _local(found.resolution_due_at, settings)),
        ("acknowledged", f"{_local(found.acknowledged_at, settings)} {found.acknowledged_by or ''}".strip()),
        ("assigned to", found.assigned_to or "-"),
        ("resolved", f"{_local(found.resolved_at, settings)} {found.resolved_by or ''}".strip()),
        ("repeats / reopened", f"{found.repeat_count} / {found.reopened_count}"),
        ("escalation", f"policy {found.escalation_policy.get('source', '?')}, next step "
                       f"{found.escalation_step} at {_local(found.next_escalation_at, settings) or '-'}"),
    ):
        facts.add_row(label, value)
    _print(facts)
    timeline = Table("at", "actor", "what", "detail")
    for e in found.timeline:
        timeline.add_row(_local(e.at, settings), e.actor, e.kind,
                         orjson.dumps(e.detail).decode()[:200])
    _print(timeline)


@incidents_app.command("show", help=N_("One incident with its affected assets and timeline."))
def show_command(incident_id: int, output: OutputOpt = Output.table) -> None:
    settings = load_settings()
    with _connection(settings) as conn:
        found = incidents.show(conn, incident_id)
    _show(found, settings, output)


def _act(incident_id: int, output: Output,
         action: Callable[[psycopg.Connection[Any], audit.Actor, datetime], incidents.Incident]) -> None:
    settings = load_settings()
    # The shell is where the clock is read; the store receives it.
    now = utc_now()
    with _connection(settings) as conn:
        found = action(conn, audit.Actor.cli(), now)
    _show(found, settings, output)


@incidents_app.command("ack", help=N_("Acknowledge an incident: the first response; stops its escalation."))
def ack_command(incident_id: int, note: Annotated[str | None, typer.Option(help=N_("optional note"))] = None,
                output: OutputOpt = Output.table) -> None:
    _act(incident_id, output,
         lambda conn, who, now: incidents.ack(conn, incident_id, who, now=now, note=note))


@incidents_app.command("resolve", help=N_("Resolve an incident with a note."))
def resolve_command(incident_id: int,
                    note: Annotated[str, typer.Option(help=N_("what was done (required)"))],
                    output: OutputOpt = Output.table) -> None:
    _act(incident_id, output, lambda conn, who, now: incidents.resolve(conn, incident_id, who, note, now=now))


@incidents_app.command("assign", help=N_("Assign an open incident to a person."))
def assign_command(incident_id: int, assignee: str, output: OutputOpt = Output.table) -> None:
    _act(incident_id, output,
         lambda conn, who, now: incidents.assign(conn, incident_id, who, assignee, now=now))


@incidents_app.command("comment", help=N_("Add a comment to an incident's timeline."))
def comment_command(incident_id: int, text: str, output: OutputOpt = Output.table) -> None:
    _act(incident_id, output, lambda conn, who, now: incidents.comment(conn, incident_id, who, text, now=now))
