"""The demo's incident workflow: the alerter on a simulated clock, a simulated on-call
team answering pages, and stand-ins for the mail server and the group robot.

A simulated day runs at 1,440×, so the 30-minute response clock, the 10/20/30-minute
escalation steps and the on-call answers all run on ``alerts.watermark_clock.WatermarkClock`` — the
simulation's event time as far as the pipeline has processed it — instead of the wall
clock (the alerter runs with ``CITYBRAIN_ALERTER_CLOCK=pipeline``).
Everything else (detection, incidents, escalation, notifiers, SLA breaches) is the
production code, unchanged.
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import yaml
from aiosmtpd.controller import Controller

from alerts.incidents import store as incidents
from alerts.incidents.lifecycle import OPEN_STATUSES, IllegalTransition
from citybrain.demo.labels import MESSAGES, cell
from citybrain.kernel import store
from citybrain.kernel.audit import Actor
from citybrain.kernel.clock import Clock
from citybrain.kernel.i18n import N_, Language
from citybrain.kernel.runtime import free_port
from schemas.names import load_names


class GroupRobotStandIn:
    """A loopback HTTP server standing in for the operations centre's WeCom group robot:
    it records every message and answers as the robot does (``errcode`` 0)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        recorder = self.messages

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorder.append(json.loads(body or b"{}"))
                reply = b'{"errcode":0,"errmsg":"ok"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/cgi-bin/webhook/send?key=demo"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class MailStandIn:
    """A real SMTP server (aiosmtpd) on loopback standing in for the city's mail server;
    it keeps the recipients of every message."""

    def __init__(self) -> None:
        self.recipients: Counter[str] = Counter()
        self.messages = 0
        outer = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                outer.messages += 1
                outer.recipients.update(envelope.rcpt_tos)
                return "250 OK"

        self.port = free_port()
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


def demo_policy_dir(out: Path, robot_url: str) -> Path:
    """The default ladder, plus the operations centre's group robot on every step."""
    folder = out / "policies"
    folder.mkdir(parents=True, exist_ok=True)
    policy = {
        "name": "demo",
        "steps": [
            {"after_minutes": 0, "notify": ["oncall", "group"]},
            {"after_minutes": 10, "notify": ["oncall", "lead"]},
            {"after_minutes": 20, "notify": ["first_responsible"]},
            {"after_minutes": 30, "notify": ["duty_supervisor", "group"], "record_breach": True},
        ],
        "groups": [{"name": "ops-centre-group", "channel": "wecom", "address": robot_url}],
    }
    (folder / "default.yaml").write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")
    return folder


class OnCallTeam:
    """Simulated on-call staff: each page is answered after a delay — most within the 30
    minutes, some late, a few never — and what was acknowledged is resolved some time
    later (unless the condition cleared by itself first)."""

    # Who answers how, in turn: most in time, one in four late, one in eight never (so a
    # short simulated day still shows every case); the delays are drawn from a seeded
    # generator.
    PATTERN = ("in time", "in time", "late", "in time", "in time", "late", "in time", "never")

    def __init__(self, database_url: str, schema: str, clock: Clock, language: Language, seed: int = 7,
                 poll_seconds: float = 0.05) -> None:
        self._url, self._schema, self._clock = database_url, schema, clock
        # The staff's notes on the timeline are in the operations centre's language.
        self._t = MESSAGES.translator(language)
        self._rng = random.Random(seed)
        self._poll = poll_seconds
        self._plans: dict[int, tuple[timedelta | None, timedelta]] = {}
        self._halt = threading.Event()
        self.acks = Counter[str]()
        self.polls = 0  # rounds done: a waiter knows the team has seen what was due
        self._thread = threading.Thread(target=self._run, name="oncall", daemon=True)

    def _plan(self) -> tuple[timedelta | None, timedelta]:
        kind = self.PATTERN[len(self._plans) % len(self.PATTERN)]
        answer: timedelta | None = None
        if kind == "in time":
            answer = timedelta(minutes=self._rng.uniform(2, 25))
        elif kind == "late":
            answer = timedelta(minutes=self._rng.uniform(35, 90))
        return answer, timedelta(minutes=self._rng.uniform(20, 180))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._halt.set()
        self._thread.join(30)

    def _run(self) -> None:
        with store.connect(self._url, self._schema, autocommit=True) as conn:
            while not self._halt.wait(self._poll):
                self._step(conn)
                self.polls += 1

    def _step(self, conn: psycopg.Connection[Any]) -> None:
        now = self._clock()
        rows = conn.execute(
            "SELECT incident_id, status, opened_at, acknowledged_at, department_id FROM incidents"
            " WHERE status = ANY(%s) ORDER BY incident_id", (list(OPEN_STATUSES),)).fetchall()
        for incident_id, status, opened_at, acked_at, department in rows:
            plan = self._plans.get(incident_id)
            if plan is None:
                plan = self._plans[incident_id] = self._plan()
            answer, fix = plan
            who = Actor(id=f"oncall:{department or 'ops'} (simulated)", role="oncall", department=department)
            try:
                with conn.transaction():
                    if status == "triggered" and answer is not None and now >= opened_at + answer:
                        incidents.ack(conn, incident_id, who, now=now,
                                      note=self._t.gettext("on it (simulated on-call)"))
                        self.acks["late" if answer > timedelta(minutes=30) else "in time"] += 1
                    elif status == "acknowledged" and acked_at is not None and now >= acked_at + fix:
                        incidents.resolve(conn, incident_id, who,
                                          self._t.gettext("fixed on site (simulated)"), now=now)
            except IllegalTransition:
                continue  # the alerter resolved it meanwhile: the condition cleared


RESPONSE_INDICATOR = "ops.response_30min_rate"


def print_incidents(console: Any, conn: psycopg.Connection[Any], window: Any, *,
                    mail: MailStandIn, robot: GroupRobotStandIn, team: OnCallTeam,
                    language: Language) -> None:
    """Incidents opened, answered in time / late / not at all, breaches, pages, and the
    30-minute compliance per department as the indicator computes it."""
    from rich.table import Table

    from citybrain.indicators.catalogue import find
    from citybrain.indicators.engine import compute

    t = MESSAGES.translator(language)
    by_rule = conn.execute(
        "SELECT rule_id, severity, count(*),"
        " count(*) FILTER (WHERE auto_resolved),"
        " count(*) FILTER (WHERE acknowledged_at <= opened_at + interval '30 minutes'),"
        " count(*) FILTER (WHERE acknowledged_at > opened_at + interval '30 minutes'),"
        " count(*) FILTER (WHERE acknowledged_at IS NULL),"
        " coalesce(sum(cardinality(ARRAY(SELECT 1 FROM incident_assets a"
        "     WHERE a.incident_id = i.incident_id))), 0)"
        " FROM incidents i GROUP BY rule_id, severity ORDER BY severity, rule_id").fetchall()
    columns = (N_("rule"), N_("severity"), N_("incidents"), N_("assets affected"), N_("auto-resolved"),
               N_("ack ≤ 30 min"), N_("ack late"), N_("no ack"))
    table = Table(*(t.gettext(c) for c in columns), title=t.gettext("Incidents opened by the alerter"))
    for rule, severity, n, auto, in_time, late, none, assets in by_rule:
        table.add_row(rule, severity, str(n), str(assets), str(auto), str(in_time), str(late), str(none))
    console.print(table)

    breaches = dict(conn.execute("SELECT kind, count(*) FROM sla_breaches GROUP BY kind").fetchall())
    steps = Counter(kind for (kind,) in conn.execute(
        "SELECT kind FROM incident_events WHERE kind LIKE 'notification.%%' OR kind LIKE 'escalation.%%'"))
    console.print(cell(t.gettext(
        "SLA breaches stored: {response} response (not acknowledged within 30 min), {resolution}"
        " resolution. Simulated on-call answered {in_time} in time and {late} late.").format(
        response=breaches.get("response", 0), resolution=breaches.get("resolution", 0),
        in_time=team.acks["in time"], late=team.acks["late"])))
    # Timeline entry kinds are ids (as the API and `citybrain incidents show` list them).
    console.print(cell(t.gettext(
        "Pages: {mails} e-mails to {people} people via the stand-in mail server, {robot} messages to"
        " the stand-in WeCom group robot; timeline entries: {entries}").format(
        mails=mail.messages, people=len(mail.recipients), robot=len(robot.messages),
        entries=t.gettext(", ").join(f"{k} {v}" for k, v in sorted(steps.items())))))

    result = compute(conn, find(RESPONSE_INDICATOR), window)
    names = load_names(conn, language, ())
    no_data = t.gettext("no data")
    table = Table(t.gettext("department"), t.gettext("incidents (due in window)"),
                  t.gettext("acknowledged ≤ 30 min"), t.gettext("compliance"),
                  title=t.gettext("30-minute compliance per department ({indicator})").format(
                      indicator=RESPONSE_INDICATOR))
    for b in result.breakdowns:
        if b.dimension != "department":
            continue
        f = b.figure
        table.add_row(cell(names.department(b.member) or b.member), _num(f.denominator), _num(f.numerator),
                      no_data if f.value is None else f"{f.value:.1f} {result.indicator.unit}")
    total = result.figure
    table.add_row("[bold]" + cell(t.gettext("city")) + "[/bold]", _num(total.denominator),
                  _num(total.numerator),
                  no_data if total.value is None else f"{total.value:.1f} {result.indicator.unit}")
    console.print(table)

    breached = conn.execute(
        "SELECT b.incident_id FROM sla_breaches b WHERE kind = 'response' ORDER BY incident_id LIMIT 1"
    ).fetchone()
    if breached is not None:
        shown = incidents.show(conn, breached[0])
        department = names.department(shown.department_id)
        console.print(cell(t.gettext("Timeline of incident {number} ({title}, severity {severity},"
                                     " {department}):").format(
            number=shown.incident_id, title=shown.title, severity=shown.severity.value,
            department=department or "-")))
        for e in shown.timeline[:12]:
            console.print(cell(f"  {e.at.astimezone(window.tz):%H:%M:%S} {e.kind:<24} {e.actor}"))


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"
