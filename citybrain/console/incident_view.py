"""What the on-call pages show of an incident, in the reader's words: names for ids, the
two clocks, the escalation done and to come, and the timeline.

Everything here reads what the store keeps (``alerts.incidents.store``) and computes what
a page shows; nothing changes. The clocks are the deadlines fixed when the incident
opened (``alerts.incidents.sla``): the 30-minute response clock stops at the first human
response (``acknowledged_at``), the resolution clock at ``resolved_at``. The escalation
done is the timeline's ``escalation.step`` entries; to come, the frozen policy's steps
from ``escalation_step`` on, the first due at ``next_escalation_at``, each with whom it
will page as the ladder itself resolves it (``alerts.incidents.escalation.resolve``, on
the registry as it is now).

Contacts: the e-mail address of a person paged only for those who may see the
department's contacts (``access.sees_contacts``: the API's rule); a robot's address
never (it carries its credential), and group channels only by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from alerts.incidents import disclosure, escalation, escalation_policy, hotline
from alerts.incidents import store as incidents
from alerts.incidents.cli import SYSTEM_ACTOR, TIMELINE_LABELS
from alerts.incidents.lifecycle import TRANSITIONS, IncidentStatus
from alerts.notifiers.message import MESSAGES as ALERTS
from alerts.notifiers.message import channel_label, role_label, severity_label, status_label
from citybrain.console import codes
from citybrain.kernel import audit
from citybrain.kernel.i18n import N_, Catalogue, Language, Translator
from citybrain.kernel.settings import Settings
from schemas import workorder_categories
from schemas.names import Names, names_for

MESSAGES = Catalogue.of_package(__name__)
Connection = psycopg.Connection[Any]

# The actions a page offers, in the order shown, and the status each needs (None: any
# open incident for assign, any incident for a comment).
ACTIONS: tuple[str, ...] = ("ack", "assign", "comment", "resolve", "close", "reopen")
_TARGET: Mapping[str, IncidentStatus] = {
    "ack": IncidentStatus.acknowledged, "resolve": IncidentStatus.resolved,
    "close": IncidentStatus.closed, "reopen": IncidentStatus.triggered}
MAX_TEXT = 600          # a timeline entry's text shown in full up to this many characters


def span(delta: timedelta) -> str:
    """``1:05:09`` or ``5:09``: as the page's script writes it (console.js)."""
    seconds = int(abs(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass(frozen=True)
class Clock:
    """One deadline: counting (``running``), or stopped at ``done_at`` by ``done_by``."""

    deadline: datetime
    running: bool
    overdue: bool           # running and past the deadline
    text: str               # the countdown as sent (the script ticks it on)
    done_at: datetime | None = None
    done_by: str | None = None       # a display name
    late: bool = False      # stopped after the deadline
    unanswered: bool = False    # stopped without a person (resolved by itself / closed)

    @property
    def state(self) -> str:
        """due | overdue | met | late | none — for the list's words and colours."""
        if self.running:
            return "overdue" if self.overdue else "due"
        if self.unanswered:
            return "late" if self.late else "none"
        return "late" if self.late else "met"


def _countdown(t: Translator, deadline: datetime, now: datetime) -> tuple[bool, str]:
    left = deadline - now
    if left < timedelta(0):
        return True, t.gettext("{time} overdue").format(time=span(left))
    return False, t.gettext("{time} left").format(time=span(left))


def response_clock(t: Translator, found: incidents.Incident | Row, now: datetime,
                   people: Mapping[str, str]) -> Clock:
    due = found.response_due_at
    if found.acknowledged_at is not None:
        by = found.acknowledged_by
        return Clock(due, False, False, "", found.acknowledged_at, people.get(by or "", by),
                     late=found.acknowledged_at > due)
    if found.resolved_at is not None or found.status is IncidentStatus.closed:
        stopped = found.resolved_at or due
        return Clock(due, False, False, "", stopped, None, late=stopped > due, unanswered=True)
    overdue, text = _countdown(t, due, now)
    return Clock(due, True, overdue, text)


def resolution_clock(t: Translator, found: incidents.Incident | Row, now: datetime,
                     people: Mapping[str, str]) -> Clock:
    due = found.resolution_due_at
    if found.resolved_at is not None:
        by = found.resolved_by
        return Clock(due, False, False, "", found.resolved_at, people.get(by or "", by),
                     late=found.resolved_at > due)
    overdue, text = _countdown(t, due, now)
    return Clock(due, True, overdue, text)


# --- people -----------------------------------------------------------------------------

def actor_names(conn: Connection, t: Translator, actors: Iterable[str | None]) -> dict[str, str]:
    """A person's name for each actor id: ``token:<id>`` → the token's name,
    ``link:<name>`` and ``code:<name>`` → the name, ``system`` → the platform."""
    out = audit.people(conn, actors)
    if "system" in out:
        out["system"] = ALERTS.translator(t.language).gettext(SYSTEM_ACTOR)   # the alerts' own word
    return out


# --- the list ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    """An incident as a list shows it (no policy, no details, no timeline)."""

    incident_id: int
    title: str
    severity: str
    status: IncidentStatus
    department_id: str | None
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    assigned_to: str | None
    response_due_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_due_at: datetime
    calls: int = 0          # linked 12345 work orders (alerts/incidents/hotline.py)


# Open incidents citizens are calling about (linked 12345 work orders) come first: the
# calls raise an incident's visibility, never its paging.
_ROWS = """
WITH calls AS (
    SELECT w.incident_id, count(*) AS n
      FROM work_order_incidents w JOIN incidents i USING (incident_id)
     WHERE i.status = ANY(%(statuses)s)
     GROUP BY w.incident_id
)
SELECT i.incident_id, i.title, i.severity, i.status, i.department_id, i.opened_at, i.acknowledged_at,
       i.acknowledged_by, i.assigned_to, i.response_due_at, i.resolved_at, i.resolved_by, i.resolution_due_at,
       coalesce(c.n, 0)
  FROM incidents i LEFT JOIN calls c USING (incident_id)
 WHERE i.status = ANY(%(statuses)s)
   AND (%(severity)s::text IS NULL OR i.severity = %(severity)s)
   AND (%(department)s::text IS NULL OR i.department_id = %(department)s)
   AND (NOT %(mine)s OR i.assigned_to = %(person)s OR i.acknowledged_by = %(actor)s)
 ORDER BY (c.n > 0 AND i.status IN ('triggered', 'acknowledged')) IS TRUE DESC,
          i.opened_at DESC, i.incident_id DESC
 LIMIT %(limit)s
"""


def rows(conn: Connection, *, statuses: Sequence[IncidentStatus], severity: str | None,
         department: str | None, limit: int, mine: tuple[str, str] | None = None) -> list[Row]:
    """Newest first. ``mine``: (person, actor id) — assigned to the person or acknowledged
    by the actor."""
    person, actor = mine or ("", "")
    found = conn.execute(_ROWS, {
        "statuses": [s.value for s in statuses], "severity": severity, "department": department,
        "mine": mine is not None, "person": person, "actor": actor, "limit": limit}).fetchall()
    return [Row(r[0], r[1], r[2], IncidentStatus(r[3]), *r[4:]) for r in found]


@dataclass(frozen=True)
class Listed:
    row: Row
    severity: str
    status: str
    department: str
    response: Clock


def listed(conn: Connection, language: Language, found: Sequence[Row], now: datetime) -> list[Listed]:
    t, a = MESSAGES.translator(language), ALERTS.translator(language)
    names = names_for(conn, language, department_ids=[r.department_id for r in found if r.department_id])
    people = actor_names(conn, t, (r.acknowledged_by for r in found))
    return [Listed(r, severity_label(a, r.severity), status_label(a, r.status.value),
                   names.department(r.department_id) or t.gettext("no department"),
                   response_clock(t, r, now, people)) for r in found]


# --- one incident -----------------------------------------------------------------------

@dataclass(frozen=True)
class Paged:
    name: str
    role: str
    channel: str
    address: str | None      # an e-mail address, for those who may see contacts


@dataclass(frozen=True)
class StepDone:
    step: int
    at: datetime
    targets: str
    paged: tuple[Paged, ...]
    warning: str | None


@dataclass(frozen=True)
class StepToCome:
    step: int
    due_at: datetime
    targets: str
    people: tuple[Paged, ...]


@dataclass(frozen=True)
class Entry:
    at: datetime
    actor: str
    actor_id: str
    kind: str
    label: str
    text: str


@dataclass(frozen=True)
class CallShown:
    order_id: str
    category: str
    created_at: datetime | None
    response: tuple[str, str]       # (words, css class)
    completion: tuple[str, str]


@dataclass(frozen=True)
class CallsShown:
    """The 12345 work orders linked to the incident, as its page shows them."""

    count: int
    categories: tuple[tuple[str, int], ...]
    latest: tuple[CallShown, ...]
    breached: int


_OUTCOMES: Mapping[str | None, tuple[str, str]] = {
    "met": (N_("on time"), "ok"), "breached": (N_("late"), "bad"), "pending": (N_("running"), "muted"),
    "unknown": (N_("no deadline"), "muted"), None: ("—", "muted")}


def _calls(conn: Connection, t: Translator, incident_id: int, language: Language,
           settings: Settings) -> CallsShown:
    found = hotline.calls(conn, incident_id)
    try:
        known = workorder_categories.load(settings.workorder_categories_file).by_id
    except workorder_categories.CategoriesFileError:
        known = {}

    def name(category: str | None) -> str:
        entry = known.get(category or "")
        if entry is None:
            return category or t.gettext("no category")
        return entry.name_zh if language == "zh-CN" else entry.name_en

    def outcome(value: str | None) -> tuple[str, str]:
        words, css = _OUTCOMES.get(value, (value or "—", "muted"))
        return (t.gettext(words) if words != "—" else words), css

    return CallsShown(
        count=found.count, categories=tuple((name(c), n) for c, n in found.categories),
        latest=tuple(CallShown(o.order_id, name(o.category), o.created_at, outcome(o.response),
                               outcome(o.completion)) for o in found.latest),
        breached=found.breached)


@dataclass(frozen=True)
class Page:
    incident: incidents.Incident
    severity: str
    status: str
    department: str | None
    assets: tuple[tuple[str, str], ...]       # (id, name)
    response: Clock
    resolution: Clock
    done: tuple[StepDone, ...]
    to_come: tuple[StepToCome, ...]
    stopped: str | None          # why no step comes any more
    timeline: tuple[Entry, ...]
    details: tuple[tuple[str, str], ...]
    actions: tuple[str, ...]
    roster: tuple[str, ...]      # names an incident may be assigned to
    assignee: str | None
    acknowledged_by: str | None
    calls: CallsShown


def allowed_actions(status: IncidentStatus) -> tuple[str, ...]:
    """The actions the status allows (the transition table), in the page's order."""
    out = []
    for action in ACTIONS:
        target = _TARGET.get(action)
        if action == "assign":
            ok = status.is_open
        elif target is None:
            ok = True
        else:
            ok = target in TRANSITIONS[status]
        if ok:
            out.append(action)
    return tuple(out)


def _paged(a: Translator, recipient: Mapping[str, Any], contacts: bool) -> Paged:
    channel = str(recipient.get("channel") or "")
    address = str(recipient.get("address") or "")
    shown = address if contacts and channel == "email" and "://" not in address else None
    return Paged(str(recipient.get("name") or "?"), role_label(a, str(recipient.get("role") or "")),
                 channel_label(a, channel), shown or None)


def _targets(a: Translator, targets: Iterable[Any]) -> str:
    return a.gettext(", ").join(role_label(a, str(x)) for x in targets)


def _escalation(conn: Connection, a: Translator, t: Translator, found: incidents.Incident, settings: Settings,
                contacts: bool) -> tuple[tuple[StepDone, ...], tuple[StepToCome, ...], str | None]:
    done = []
    for e in found.timeline:
        if e.kind == "escalation.step":
            d = e.detail
            done.append(StepDone(int(d.get("step", 0)) + 1, e.at, _targets(a, d.get("targets") or ()),
                                 tuple(_paged(a, r, contacts) for r in d.get("recipients") or ()
                                       if isinstance(r, dict)),
                                 t.gettext("reached nobody") if not d.get("recipients") else None))
    steps = [s for s in (found.escalation_policy or {}).get("steps") or () if isinstance(s, dict)]
    if found.status is not IncidentStatus.triggered:
        why = {IncidentStatus.acknowledged: t.gettext("Escalation stopped: the incident was acknowledged."),
               IncidentStatus.resolved: t.gettext("Escalation stopped: the incident is resolved."),
               IncidentStatus.closed: t.gettext("Escalation stopped: the incident is closed.")}
        return tuple(done), (), why[found.status]
    if found.next_escalation_at is None or found.escalation_step >= len(steps):
        return tuple(done), (), t.gettext("No more escalation steps: every step of the policy has run.")
    try:
        policy = escalation.frozen_policy(found.escalation_policy)
    except escalation_policy.PolicyError:
        # The ladder stops on it too (an escalation.error entry when the step comes due).
        return tuple(done), (), t.gettext(
            "Escalation cannot go on: the policy frozen on this incident is unusable.")
    first = policy.steps[found.escalation_step].after_minutes
    to_come = []
    for index in range(found.escalation_step, len(policy.steps)):
        step = policy.steps[index]
        due = found.next_escalation_at + timedelta(minutes=step.after_minutes - first)
        reached = escalation.resolve(conn, policy, step, found.department_id, settings).recipients
        to_come.append(StepToCome(index + 1, due, _targets(a, step.notify), tuple(
            _paged(a, {"name": r.name, "role": r.role, "channel": r.channel, "address": r.address}, contacts)
            for r in reached)))
    return tuple(done), tuple(to_come), None


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def _entry_text(a: Translator, t: Translator, kind: str, d: Mapping[str, Any], contacts: bool,
                assets: Names) -> str:
    if kind == "opened":
        return t.gettext("rule {rule}").format(rule=d.get("rule_id", "?"))
    if kind == "resolved" and d.get("auto"):
        return t.gettext("resolved by itself: the condition cleared")
    if kind in ("acknowledged", "resolved", "closed", "reopened"):
        return str(d.get("note") or "")
    if kind == "assigned":
        return t.gettext("assigned to {name}").format(name=d.get("assignee", "?"))
    if kind == "comment":
        return str(d.get("text") or "")
    if kind == "assets.added":
        added = [str(x) for x in d.get("assets") or ()]
        return a.gettext(", ").join(f"{assets.asset(x)} ({x})" if assets.asset(x) != x else x for x in added)
    if kind == "hotline.calls":
        return t.gettext("{count} citizens' 12345 calls about it so far (no one is paged for calls)").format(
            count=d.get("calls", "?"))
    if kind == "sla.breach":
        return (t.gettext("the response deadline passed without a response") if d.get("breach") == "response"
                else t.gettext("the resolution deadline passed"))
    if kind == "escalation.step":
        names = [str(r.get("name")) for r in d.get("recipients") or () if isinstance(r, dict)]
        return t.gettext("step {number}: {targets}").format(
            number=int(d.get("step", 0)) + 1, targets=_targets(a, d.get("targets") or ())) + (
            f" — {a.gettext(', ').join(names)}" if names else "")
    if kind.startswith("notification."):
        # Two shapes: the page's recipient (name, address) and a delivery attempt (recipient, target).
        recipient = {"name": d.get("name") or d.get("recipient"), "role": d.get("role"),
                     "channel": d.get("channel"), "address": d.get("address") or d.get("target")}
        paged = _paged(a, recipient, contacts)
        said = f"{paged.name} ({paged.channel}{', ' + paged.address if paged.address else ''})"
        reason = d.get("reason") or (d.get("result") if kind != "notification.delivered" else None)
        return said + (f": {reason}" if reason else "")
    if kind.startswith("escalation."):
        return str(d.get("warning") or d.get("error") or "")
    return ", ".join(f"{k}: {v}" for k, v in d.items() if not isinstance(v, dict | list))


def _timeline(conn: Connection, a: Translator, t: Translator, found: incidents.Incident,
              contacts: bool, assets: Names) -> tuple[Entry, ...]:
    people = actor_names(conn, t, (e.actor for e in found.timeline))
    out = []
    for e in found.timeline:
        detail = disclosure.shown(e.detail, contacts=contacts)
        label = TIMELINE_LABELS.get(e.kind)
        out.append(Entry(e.at, people.get(e.actor, e.actor), e.actor, e.kind,
                         a.gettext(label) if label else e.kind,
                         _clip(_entry_text(a, t, e.kind, detail, contacts, assets))))
    return tuple(out)


def _details(found: incidents.Incident, contacts: bool) -> tuple[tuple[str, str], ...]:
    shown = disclosure.shown(found.details or {}, contacts=contacts)
    return tuple((str(k), _clip(v if isinstance(v, str) else str(v))) for k, v in shown.items())[:30]


def page(conn: Connection, language: Language, found: incidents.Incident, now: datetime, *,
         contacts: bool, settings: Settings) -> Page:
    """The page of ``found`` (``settings``: the escalation's, e.g. whose duty supervisors
    its ``duty_supervisor`` steps page)."""
    t, a = MESSAGES.translator(language), ALERTS.translator(language)
    asset_ids = list(dict.fromkeys(([found.asset_id] if found.asset_id else []) + list(found.assets)))
    added = [str(x) for e in found.timeline if e.kind == "assets.added" for x in e.detail.get("assets") or ()]
    names = names_for(conn, language, department_ids=[found.department_id] if found.department_id else [],
                      asset_ids=asset_ids + added)
    people = actor_names(conn, t, [found.acknowledged_by, found.resolved_by])
    roster = codes.roster(conn, found.department_id) if found.department_id else []
    done, to_come, stopped = _escalation(conn, a, t, found, settings, contacts)
    return Page(
        incident=found, severity=severity_label(a, found.severity),
        status=status_label(a, found.status.value),
        department=names.department(found.department_id),
        assets=tuple((x, names.asset(x) or x) for x in asset_ids),
        response=response_clock(t, found, now, people), resolution=resolution_clock(t, found, now, people),
        done=done, to_come=to_come, stopped=stopped,
        timeline=_timeline(conn, a, t, found, contacts, names), details=_details(found, contacts),
        actions=allowed_actions(found.status), roster=tuple(dict.fromkeys(c.name for c in roster)),
        assignee=found.assigned_to,
        acknowledged_by=people.get(found.acknowledged_by or "", found.acknowledged_by),
        calls=_calls(conn, t, found.incident_id, language, settings))
