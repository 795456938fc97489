"""The demo's citizens' side and the whole evaluation table.

After the five-key scorecard the demo shows what the simulated city's people did — portal
use, 好差评 ratings, 12345 work orders and what became of their time limits, the orders
linked to the incidents the alerter opened — read back from the facts the pipeline stored,
and then every row of the national evaluation table with its measured figures and its
assessed scores, each labelled. Two assessments are entered first, as evaluators would: one
reviewed and approved by a second person (so it counts), one still waiting for review (so
it does not), to show both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from citybrain.assessments import store as assessments
from citybrain.assessments.evidence import Upload
from citybrain.indicators.evaluation import load_table, period_of
from citybrain.indicators.model import ReportWindow
from citybrain.kernel.audit import Actor
from citybrain.kernel.i18n import Catalogue
from citybrain.kernel.settings import Settings
from citybrain.reports.document import ReportDocument
from citybrain.reports.evaluation import evaluation_rows, figure_text, item_name, row_name, telemetry_text
from citybrain.reports.presentation import indicator_name

MESSAGES = Catalogue.of_package(__name__)

# The demo's two evaluators: the second reviews the first's entry (never their own).
ASSESSOR = Actor("cli:demo-evaluator", "evaluator")
REVIEWER = Actor("cli:demo-reviewer", "evaluator")


def seed_assessments(conn: psycopg.Connection[Any], settings: Settings, now: datetime) -> None:
    """Enter mechanism.coordination (then approved by the second evaluator) and
    capability.team_fit (left for review) for the year of ``now``; committed."""
    today = now.astimezone(settings.tz).date()
    first, last = period_of("year", today)
    minutes = ("协调例会纪要（模拟）\n"
               "每月召开一次由大数据局牵头、各部门联络人参加的协调例会；本年度 11 次，纪要齐全。\n").encode()
    entered = assessments.enter(
        conn, item_id="mechanism.coordination", department=None, period_from=first, period_to=last,
        level="working", score="78", comment="例会每月召开，纪要齐全；尚无争议解决记录。",
        evidence=(Upload("协调例会纪要.txt", "text/plain", minutes),), actor=ASSESSOR, now=now,
        tz=settings.tz, max_bytes=settings.assessment_evidence_max_bytes)
    assessments.review(conn, entered.version_id, decision="approved", comment="证据与评分一致。",
                       actor=REVIEWER, now=now)
    roster = "运营团队名册（模拟）\n驻场运维 12 人，其中持证 9 人；7×24 值班表见附件。\n".encode()
    assessments.enter(
        conn, item_id="capability.team_fit", department=None, period_from=first, period_to=last,
        level="matched", score="75", comment="团队规模与职责匹配，夜班人手偏紧。",
        evidence=(Upload("运营团队名册.txt", "text/plain", roster),), actor=ASSESSOR, now=now,
        tz=settings.tz, max_bytes=settings.assessment_evidence_max_bytes)
    conn.commit()


@dataclass(frozen=True)
class Citizens:
    usage_events: int
    users: int                  # distinct pseudonymous users in the window
    ratings: int
    bad_ratings: int
    rectified_on_time: int
    rectified_late: int
    rectification_pending: int
    orders: int
    limits_met: int
    limits_breached: int
    limits_pending: int
    orders_linked: int          # work orders linked to an incident
    incidents_with_calls: int


def read_citizens(conn: psycopg.Connection[Any], window: ReportWindow) -> Citizens:
    w = (window.start, window.end)
    usage = conn.execute(
        "SELECT count(*), count(DISTINCT user_key) FROM usage_events"
        " WHERE occurred_at >= %s AND occurred_at < %s", w).fetchone()
    ratings = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE bad),"
        " count(*) FILTER (WHERE rectification = 'on_time'),"
        " count(*) FILTER (WHERE rectification = 'late'),"
        " count(*) FILTER (WHERE rectification = 'pending')"
        " FROM rating_facts WHERE rated_at >= %s AND rated_at < %s", w).fetchone()
    orders = conn.execute(
        "SELECT count(*) FROM work_orders WHERE created_at >= %s AND created_at < %s", w).fetchone()
    limits = conn.execute(
        "SELECT count(*) FILTER (WHERE l.outcome = 'met'), count(*) FILTER (WHERE l.outcome = 'breached'),"
        " count(*) FILTER (WHERE l.outcome = 'pending')"
        " FROM work_order_limits l JOIN work_orders o USING (order_id)"
        " WHERE o.created_at >= %s AND o.created_at < %s", w).fetchone()
    linked = conn.execute(
        "SELECT count(DISTINCT l.order_id), count(DISTINCT l.incident_id)"
        " FROM work_order_incidents l JOIN work_orders o USING (order_id)"
        " WHERE o.created_at >= %s AND o.created_at < %s", w).fetchone()
    assert usage and ratings and orders and limits and linked  # aggregates return one row
    return Citizens(*usage, *ratings, *orders, *limits, *linked)


def print_citizens(console: Console, c: Citizens, settings: Settings) -> None:
    t = MESSAGES.translator(settings.language)
    lines = [
        t.gettext("Portal: {events} sign-ins and transactions by {users} people (pseudonymous keys).").format(
            events=f"{c.usage_events:,}", users=f"{c.users:,}"),
        t.gettext("好差评: {ratings} ratings, {bad} bad; rectified on time {on_time}, late {late},"
                  " still within or past their working-day deadline {pending}.").format(
            ratings=f"{c.ratings:,}", bad=c.bad_ratings, on_time=c.rectified_on_time,
            late=c.rectified_late, pending=c.rectification_pending),
        t.gettext("12345: {orders} work orders; time limits met {met}, breached {breached} (stored as facts),"
                  " running {pending}; {linked} orders linked to {incidents} incidents, which paged nobody"
                  " again.").format(
            orders=c.orders, met=c.limits_met, breached=c.limits_breached, pending=c.limits_pending,
            linked=c.orders_linked, incidents=c.incidents_with_calls),
    ]
    for line in lines:
        console.print(escape(line))


def print_evaluation(console: Console, doc: ReportDocument, settings: Settings) -> None:
    """Every row of the evaluation table: measured figures and assessed scores, labelled."""
    t = MESSAGES.translator(settings.language)
    language = settings.language
    table = load_table()
    grid = Table(title=t.gettext("The evaluation table (every row, measured and assessed)"), show_lines=False,
                 expand=True)
    grid.add_column(t.gettext("Front"), no_wrap=True)
    grid.add_column(t.gettext("Row"))
    grid.add_column(t.gettext("Measured"), ratio=3)
    grid.add_column(t.gettext("Assessed"), ratio=2)
    front = None
    for er in evaluation_rows(doc):
        shown_front = ""
        if er.row.front != front:
            front = er.row.front
            name = table.front(front)
            shown_front = name.name_zh if language == "zh-CN" else name.name_en
        measured = "\n".join(
            f"{indicator_name(tm.result.indicator, language)} {telemetry_text(tm, language)}"
            if tm.result is not None else tm.indicator_id
            for tm in er.telemetry)
        assessed = "\n".join(
            f"{item_name(a.item, language)}: "
            + ("; ".join(figure_text(v, language) for v in a.figures) or t.gettext("not assessed yet"))
            for a in er.assessed)
        grid.add_row(escape(shown_front), escape(row_name(er.row, language)), escape(measured or "—"),
                     escape(assessed or "—"))
    console.print(grid)
    console.print(escape(t.gettext(
        "Measured figures come from the stored evidence; assessed scores from evaluators, counted only once"
        " a second person approved them. The two are never added together.")))
