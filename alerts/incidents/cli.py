"""``citybrain incidents list|show|ack|resolve|assign|comment``: the on-call workflow from a shell.

The command acts as ``cli:<os user>`` (it holds database credentials, so it is trusted
like an admin); every action writes its timeline and audit entries like the API does.
Tables are for people: in CITYBRAIN_LANGUAGE (headers, severities, statuses, timeline
entries), departments and assets by name with the id an operator types, times in
CITYBRAIN_TIMEZONE. JSON keeps ids, enum values and UTC; a timeline entry's detail is
shown as it was stored.
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
from alerts.notifiers.message import MESSAGES, join, named, severity_label, status_label
from citybrain.kernel import audit, store
from citybrain.kernel.clock import utc_now
from citybrain.kernel.console import Output, OutputOpt, console, load_settings, print_json
from citybrain.kernel.i18n import N_, Translator
from citybrain.kernel.runtime import services
from citybrain.kernel.settings import Settings
from schemas.names import Names, names_for

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


# The timeline's entry kinds (incident_events.kind: ids, as JSON and the API give them).
TIMELINE_LABELS: dict[str, str] = {
    "opened": N_("opened"),
    "acknowledged": N_("acknowledged"),
    "resolved": N_("resolved"),
    "closed": N_("closed"),
    "reopened": N_("reopened"),
    "assigned": N_("assigned"),
    "comment": N_("comment"),
    "assets.added": N_("assets added"),
    "sla.breach": N_("SLA breach"),
    "hotline.calls": N_("citizens calling (12345)"),
    "escalation.step": N_("escalation step"),
    "escalation.warning": N_("escalation warning"),
    "escalation.error": N_("escalation error"),
    "notification.attempt": N_("notification sending"),
    "notification.delivered": N_("notification delivered"),
    "notification.retrying": N_("notification retrying"),
    "notification.failed": N_("notification failed"),
    "notification.cancelled": N_("notification cancelled"),
}
SYSTEM_ACTOR = N_("system")


def _actor(t: Translator, actor: str | None) -> str:
    # Actors are ids (cli:<user>, token:<id>, link:<name>) but for the platform itself.
    return t.gettext(SYSTEM_ACTOR) if actor == "system" else actor or ""


def _names(conn: psycopg.Connection[Any], t: Translator, found: list[incidents.Incident]) -> Names:
    assets = [a for i in found for a in ([i.asset_id] if i.asset_id else []) + list(i.assets)]
    return names_for(conn, t.language, department_ids=[i.department_id for i in found if i.department_id],
                     asset_ids=assets)



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
    t = MESSAGES.translator(settings.language)
    with _connection(settings) as conn:
        found = incidents.list_incidents(conn, filters)
        names = _names(conn, t, found) if output is Output.table else Names(t.language)
    if output is Output.json:
        print_json({"incidents": [i.as_dict(with_timeline=False) for i in found], "count": len(found)})
        return
    columns = (N_("No."), N_("Severity"), N_("Status"), N_("Department"), N_("Affected asset"), N_("Title"),
               N_("Opened"), N_("Respond by"), N_("Acknowledged by"), N_("Repeats"))
    table = Table(*(t.gettext(c) for c in columns),
                  caption=t.gettext("Times in {zone}").format(zone=settings.timezone))
    for i in found:
        table.add_row(str(i.incident_id), severity_label(t, i.severity), status_label(t, i.status.value),
                      named(names.department(i.department_id), i.department_id),
                      named(names.asset(i.asset_id), i.asset_id), i.title,
                      _local(i.opened_at, settings, "%m-%d %H:%M"),
                      _local(i.response_due_at, settings, "%m-%d %H:%M"), _actor(t, i.acknowledged_by),
                      str(i.repeat_count))
    _print(table)


def _show(found: incidents.Incident, names: Names, settings: Settings, output: Output) -> None:
    if output is Output.json:
        print_json(found.as_dict())
        return
    t = MESSAGES.translator(settings.language)

    def when_who(at: datetime | None, who: str | None) -> str:
        return f"{_local(at, settings)} {_actor(t, who)}".strip() or "-"

    status = status_label(t, found.status.value)
    policy = found.escalation_policy.get("source", "?")
    escalation = (t.gettext("policy {policy}; next step {step} at {time}").format(
                      policy=policy, step=found.escalation_step,
                      time=_local(found.next_escalation_at, settings))
                  if found.next_escalation_at else
                  t.gettext("policy {policy}; no step pending").format(policy=policy))
    facts = Table.grid(padding=(0, 2))
    for label, value in (
        (N_("Incident"), f"#{found.incident_id} [{severity_label(t, found.severity)}] {found.title}"),
        (N_("Status"), t.gettext("{status} (auto-resolved)").format(status=status) if found.auto_resolved
         else status),
        (N_("Department"), named(names.department(found.department_id), found.department_id) or "-"),
        (N_("Affected assets"), join(t, [named(names.asset(a), a) for a in found.assets]) or "-"),
        (N_("Opened"), _local(found.opened_at, settings)),
        (N_("Respond by"), _local(found.response_due_at, settings)),
        (N_("Resolve by"), _local(found.resolution_due_at, settings)),
        (N_("Acknowledged"), when_who(found.acknowledged_at, found.acknowledged_by)),
        (N_("Assigned to"), found.assigned_to or "-"),
        (N_("Resolved"), when_who(found.resolved_at, found.resolved_by)),
        (N_("Repeats / reopened"), f"{found.repeat_count} / {found.reopened_count}"),
        (N_("Escalation"), escalation),
    ):
        facts.add_row(t.gettext(label), value)
    _print(facts)
    # The detail is the entry as stored (evidence, written once): shown as it is.
    timeline = Table(t.gettext("Time"), t.gettext("By"), t.gettext("Entry"), t.gettext("Detail"),
                     caption=t.gettext("Times in {zone}").format(zone=settings.timezone))
    for e in found.timeline:
        kind = TIMELINE_LABELS.get(e.kind)
        timeline.add_row(_local(e.at, settings), _actor(t, e.actor), t.gettext(kind) if kind else e.kind,
                         orjson.dumps(e.detail).decode()[:200])
    _print(timeline)


@incidents_app.command("show", help=N_("One incident with its affected assets and timeline."))
def show_command(incident_id: int, output: OutputOpt = Output.table) -> None:
    settings = load_settings()
    t = MESSAGES.translator(settings.language)
    with _connection(settings) as conn:
        found = incidents.show(conn, incident_id)
        names = _names(conn, t, [found])
    _show(found, names, settings, output)


def _act(incident_id: int, output: Output,
         action: Callable[[psycopg.Connection[Any], audit.Actor, datetime], incidents.Incident]) -> None:
    settings = load_settings()
    # The shell is where the clock is read; the store receives it.
    now = utc_now()
    t = MESSAGES.translator(settings.language)
    with _connection(settings) as conn:
        found = action(conn, audit.Actor.cli(), now)
        names = _names(conn, t, [found])
    _show(found, names, settings, output)


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
