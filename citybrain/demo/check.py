"""The demo checks its own story: each injected failure next to the incident it should
have opened, and every incident next to the evidence that caused it.

The scenario (citybrain/simulator/scenario.py) is the ground truth. For each failure a
rule should catch, the check looks for an incident of that rule on that asset (or listing
it among the assets of a parent incident), opened not before the failure began and
within the rule's own delay (its ``for``, the liveness tolerance, the consecutive count
or the absence's cadence) plus ``SLACK`` after it: the demo's pipeline clock moves in
steps of a few simulated minutes. A district outage must be ONE incident on the gateway
that paged someone. Independently of the scenario, no incident may open before the event
time of its evidence (``source_event_at``).

``expectations`` and ``judge`` are pure; ``read_incidents`` and ``print_self_check`` do
the reading and the printing. The verdicts are worded in the reader's language and name
assets by their registry names, the id in brackets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from alerts.detection.flapping import FLAPPING_RULE
from alerts.detection.rules import Absence, Consecutive, Rule, StateIs, Threshold
from citybrain.demo.labels import FAILURE_KINDS, MESSAGES, PICTURE_FAULTS, asset_label, cell, label
from citybrain.kernel.i18n import Language, Translator
from citybrain.simulator import InjectedFailure, Scenario
from schemas.names import Names

SLACK = timedelta(minutes=15)
OUTAGE_RULES = ("gateway-offline", "device-offline", "link-down")
_DEFAULT_INTERVAL_S = 60


@dataclass(frozen=True)
class StoredIncident:
    incident_id: int
    rule_id: str
    asset_id: str | None
    assets: tuple[str, ...]
    opened_at: datetime
    source_event_at: datetime | None
    resolved_at: datetime | None
    pages: int  # notifications delivered for it

    def concerns(self, asset_id: str) -> bool:
        return self.asset_id == asset_id or asset_id in self.assets


@dataclass(frozen=True)
class Expectation:
    failure: InjectedFailure
    rules: tuple[str, ...]        # any of them will do
    asset: str
    earliest: datetime            # the failure's start: nothing may open before it
    latest: datetime              # the rule's delay plus SLACK after the start
    # A parent outage: ONE incident on ``asset`` itself, covering ``related`` (the asset
    # and its children), that paged someone.
    parent: bool = False
    related: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    ok: bool
    injected: str
    when: str
    expected: str
    found: str


def rule_delay(rule: Rule, interval_s: int | None, tolerance: float) -> timedelta:
    """How long after a condition begins the rule can fire at the earliest."""
    every = timedelta(seconds=interval_s or _DEFAULT_INTERVAL_S)
    c = rule.condition
    if isinstance(c, StateIs):
        base = every * tolerance          # offline once a heartbeat is overdue
    elif isinstance(c, Consecutive):
        base = every * c.count
    elif isinstance(c, Absence):
        # Counted from when the alerter first watched the asset, which may be a while
        # after the failure began (a dataset stale from the start): twice.
        within = every if c.within == "expected_interval" else c.within
        base = within * c.factor * 2
    elif isinstance(c, Threshold):
        base = every                      # the first reading over the line
    else:
        base = timedelta(0)
    return rule.for_ + base


def _wanted(f: InjectedFailure) -> tuple[str, ...]:
    """The rules that should catch a failure, best first; () when none should."""
    level = f.param("level")
    match f.kind:
        case "district_outage":
            return OUTAGE_RULES
        case "camera_picture_fault":
            return ("device-offline",) if f.param("fault") == "offline" else ("camera-picture-fault",)
        case "flapping_device":
            return ("device-offline", FLAPPING_RULE)
        case "packet_loss_burst":
            return ("link-packet-loss",)
        case "portal_outage":
            return ("portal-unavailable",)
        case "cloud_hot_host":
            return ("cloud-utilisation-high",)
        case "security_event":
            return ("security-critical",) if level in ("I", "II") else ()
        case "data_leak":
            return ("security-critical",) if level in ("I", "II") else ("security-data-leak",)
        case "stale_dataset":
            return ("dataset-stale",)
    return ()


def expectations(scenario: Scenario, rules: Iterable[Rule], *, intervals: Mapping[str, int | None],
                 children: Mapping[str, Sequence[str]], tolerance: float,
                 end: datetime) -> list[Expectation]:
    """Every injected failure that a loaded rule should turn into an incident before
    ``end`` (the simulated window's end)."""
    by_id = {r.id: r for r in rules}
    out: list[Expectation] = []
    for f in scenario.failures:
        wanted = _wanted(f)
        # asset-flapping is detection's own, not a rule file's: it stands or falls with
        # the state rules it holds.
        loaded = tuple(r for r in wanted if r in by_id or (r == FLAPPING_RULE and by_id))
        first = next((by_id[r] for r in loaded if r in by_id), None)
        if first is None:
            continue
        asset = f.asset_ids[0]
        delay = rule_delay(first, intervals.get(asset), tolerance)
        lasted = (f.end or end) - f.start
        if f.start + delay > end or (f.end is not None and lasted < first.for_):
            continue  # too short, or too late in the window, for the rule to fire
        parent = f.kind == "district_outage"
        out.append(Expectation(f, loaded, asset, f.start, f.start + delay + SLACK, parent=parent,
                               related=(asset, *children.get(asset, ())) if parent else ()))
    return out


def _minutes(d: timedelta, t: Translator) -> str:
    m = d.total_seconds() / 60
    if abs(m) >= 1:
        return t.gettext("{minutes:+.0f} min").format(minutes=m)
    return t.gettext("{seconds:+.0f} s").format(seconds=d.total_seconds())


def _describe(i: StoredIncident, start: datetime, tz: ZoneInfo, names: Names) -> str:
    t = MESSAGES.translator(names.language)
    text = t.gettext("#{number} {rule} on {asset}, opened {time} ({offset})").format(
        number=i.incident_id, rule=i.rule_id,
        asset="-" if i.asset_id is None else asset_label(names, i.asset_id),
        time=f"{i.opened_at.astimezone(tz):%H:%M}", offset=_minutes(i.opened_at - start, t))
    if len(i.assets) > 1:
        text += t.ngettext(", {count} asset", ", {count} assets", len(i.assets)).format(
            count=len(i.assets))
    return text


def _judge_one(e: Expectation, incidents: Sequence[StoredIncident], tz: ZoneInfo, names: Names) -> Verdict:
    t = MESSAGES.translator(names.language)
    f = e.failure
    until = f"–{f.end.astimezone(tz):%H:%M}" if f.end is not None else ""
    kind, asset = label(t, FAILURE_KINDS, f.kind), asset_label(names, e.asset)
    injected = (t.gettext("{kind}: {asset} ({fault})").format(
                    kind=kind, asset=asset, fault=label(t, PICTURE_FAULTS, f.param("fault")))
                if f.param("fault") else t.gettext("{kind}: {asset}").format(kind=kind, asset=asset))
    when = f"{f.start.astimezone(tz):%m-%d %H:%M}{until}"
    bound = (e.latest - e.earliest).total_seconds() / 60
    # Rule ids stay ids: they are what `citybrain rules` and the incident list show.
    rules = " / ".join(e.rules)
    expected = (t.gettext("{rules}, opened within {minutes} min; one incident on the parent, paged")
                if e.parent else t.gettext("{rules}, opened within {minutes} min")).format(
        rules=rules, minutes=f"{bound:.0f}")
    mine = [i for i in incidents if i.rule_id in e.rules and i.concerns(e.asset)]
    inside = [i for i in mine if e.earliest <= i.opened_at <= e.latest]
    problems: list[str] = []
    if e.parent:
        hi = (f.end or e.latest) + SLACK
        around = [i for i in incidents if i.rule_id in OUTAGE_RULES
                  and e.earliest - SLACK <= i.opened_at <= hi and any(i.concerns(a) for a in e.related)]
        if len(around) != 1:
            problems.append(t.ngettext("{count} incident instead of one parent incident",
                                       "{count} incidents instead of one parent incident",
                                       len(around)).format(count=len(around)))
        inside = [i for i in inside if i.asset_id == e.asset]
        if inside and not any(i.pages for i in inside):
            problems.append(t.gettext("nobody was paged"))
        if inside and all(i.resolved_at is not None and i.resolved_at <= i.opened_at for i in inside):
            problems.append(t.gettext("resolved the moment it opened"))
        shown = around or inside
    else:
        shown = inside or mine
    if not inside:
        early = [i for i in mine if i.opened_at < e.earliest]
        late = [i for i in mine if i.opened_at > e.latest]
        if early:
            problems.append(t.gettext("opened {offset} before the failure began").format(
                offset=_minutes(early[0].opened_at - e.earliest, t)))
        elif late:
            problems.append(t.gettext("opened {offset}, after the bound").format(
                offset=_minutes(late[0].opened_at - e.earliest, t)))
        else:
            problems.append(t.gettext("no incident"))
    # TRANSLATORS: between the items of a list of incidents or problems.
    semicolon = t.gettext("; ")
    found = semicolon.join(_describe(i, f.start, tz, names) for i in shown[:3]) or "—"
    if len(shown) > 3:
        found += semicolon + t.gettext("… {count} more").format(count=len(shown) - 3)
    if problems:
        # TRANSLATORS: between the items of a short list.
        listed = t.gettext(", ").join(problems)
        found = t.gettext("{problems} ({incidents})").format(problems=listed, incidents=found) \
            if shown else listed
    return Verdict(not problems, injected, when, expected, found)


def judge(expected: Sequence[Expectation], incidents: Sequence[StoredIncident],
          tz: ZoneInfo, names: Names) -> list[Verdict]:
    """One verdict per expectation, then one on the evidence of every incident; worded in
    ``names.language``, assets by their registry names."""
    t = MESSAGES.translator(names.language)
    verdicts = [_judge_one(e, incidents, tz, names) for e in expected]
    early = [i for i in incidents if i.source_event_at is not None and i.opened_at < i.source_event_at]
    found = t.ngettext("{count} opened at or after its evidence",
                       "all {count} opened at or after their evidence", len(incidents)).format(
        count=len(incidents))
    if early:
        worst = sorted(early, key=lambda i: i.opened_at - (i.source_event_at or i.opened_at))
        found = t.gettext("{count} of {total} opened before their evidence: {incidents}").format(
            count=len(early), total=len(incidents), incidents=t.gettext(", ").join(
                f"#{i.incident_id} {i.rule_id} "
                + _minutes(i.opened_at - (i.source_event_at or i.opened_at), t) for i in worst[:5]))
    verdicts.append(Verdict(not early, t.gettext("every incident"), "",
                            t.gettext("opened at or after its evidence's event time"), found))
    return verdicts


def read_incidents(conn: psycopg.Connection[Any]) -> list[StoredIncident]:
    rows = conn.execute(
        "SELECT i.incident_id, i.rule_id, i.asset_id,"
        " ARRAY(SELECT a.asset_id FROM incident_assets a WHERE a.incident_id = i.incident_id"
        "       ORDER BY a.asset_id),"
        " i.opened_at, i.source_event_at, i.resolved_at,"
        " (SELECT count(*) FROM incident_events e WHERE e.incident_id = i.incident_id"
        "  AND e.kind = 'notification.delivered')"
        " FROM incidents i ORDER BY i.opened_at, i.incident_id").fetchall()
    return [StoredIncident(r[0], r[1], r[2], tuple(r[3] or ()), r[4], r[5], r[6], int(r[7])) for r in rows]


def print_self_check(console: Console, verdicts: Sequence[Verdict], logs: str, language: Language) -> bool:
    """The table, and a loud message when something is missing; True when all is well."""
    t = MESSAGES.translator(language)
    table = Table("", t.gettext("injected"), t.gettext("when"), t.gettext("expected incident"),
                  t.gettext("found"),
                  title=t.gettext("Self-check: each injected failure and the incident it should open"))
    for v in verdicts:
        mark = "[green]✓[/green]" if v.ok else "[bold red]✗[/bold red]"
        table.add_row(mark, cell(v.injected), v.when, cell(v.expected),
                      cell(v.found) if v.ok else f"[red]{cell(v.found)}[/red]")
    console.print(table)
    failed = [v for v in verdicts if not v.ok]
    if not failed:
        console.print("[green]" + cell(t.gettext("Self-check passed: {passed} of {total} ✓").format(
            passed=len(verdicts), total=len(verdicts))) + "[/green]")
        return True
    console.print(Panel(
        cell("\n".join(t.gettext("✗ {injected}: {found}").format(injected=v.injected, found=v.found)
                        for v in failed)
             + "\n\n" + t.gettext(
                 "The platform did not tell the story it was given. The alerter's decisions are in"
                 " {logs}; the incidents with `citybrain incidents list` (CITYBRAIN_DATA_DIR as for"
                 " this demo).").format(logs=logs)),
        title=cell(t.gettext("SELF-CHECK FAILED: {failed} of {total}").format(
            failed=len(failed), total=len(verdicts))),
        border_style="bold red"))
    return False
