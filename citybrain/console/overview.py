"""The operators' overview (``GET /console/overview``): the city at a glance.

One page, one column on a phone and tiles on a desk, with what an operations centre
looks at first:

* the five keys' scores and bands for the current local month so far (from the first
  local midnight of the month in ``Settings.tz`` to the request's clock), computed by the
  reports' own code (``build_report``: the same indicators, weights and scorecard an
  evaluator's export has); a key without evidence says "no data", never 0 or 100;
* open incidents by severity and by department, each count linking to the incident
  list filtered, and the newest few open ones (``alerts.incidents.overview``);
* today's 30-minute response compliance, with its counts (incidents opened since
  today's local midnight; ``alerts.incidents.overview.response_compliance``);
* the assets offline now, longest first, bounded (``streams.asset_state``), each linked
  to its open incident when it has one;
* the Grafana dashboards in the reader's language, when ``Settings.grafana_url`` is set.

A session limited to a department sees that department's figures only, as the API's
reads do (``scoped_department``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cache
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request, status
from fastapi.responses import Response

from alerts.incidents import overview as incidents_overview
from alerts.model import Severity
from alerts.notifiers import message as incident_texts
from citybrain.console.auth import ConsoleError, Viewer
from citybrain.console.pages import PREFIX, language_of_request, render
from citybrain.indicators.engine import WorkHours
from citybrain.indicators.model import ReportWindow
from citybrain.kernel.errors import CitybrainError
from citybrain.kernel.http.access import scoped_department
from citybrain.kernel.http.deps import Conn, Now
from citybrain.kernel.i18n import Catalogue, Language, use_language
from citybrain.kernel.settings import Settings
from citybrain.reports.document import ReportDocument, build_report
from citybrain.reports.presentation import band_label, key_label
from citybrain.reports.scorecard import Band, weights_from_settings
from dashboards import texts
from schemas.names import names_for
from streams.asset_state import offline_now

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current
router = APIRouter(include_in_schema=False)

# The five keys of the national evaluation (operations has its own figures: compliance).
FIVE_KEYS: tuple[str, ...] = ("infrastructure", "data", "system", "portal", "security")
# The console's band colours (console.css band-A … band-D), best first.
BAND_CLASSES: Mapping[Band, str] = {"mature": "band-A", "growth": "band-B", "start-up": "band-C",
                                    "preparation": "band-D"}
NEWEST_OPEN = 5
OFFLINE_SHOWN = 50


@dataclass(frozen=True)
class KeyTile:
    key: str
    label: str
    score: str | None            # "87.50"; None: no evidence (the page says "no data")
    band: str | None
    band_class: str
    with_data: int               # indicators of the key that have a value (and a target)
    scored_of: int               # indicators of the key that have a target


@dataclass(frozen=True)
class Count:
    label: str
    count: int
    href: str


def month_start(now: datetime, settings: Settings) -> datetime:
    """The first local midnight of ``now``'s month in the city's zone."""
    local = now.astimezone(settings.tz)
    return datetime.combine(local.date().replace(day=1), time(), tzinfo=settings.tz)


def day_start(now: datetime, settings: Settings) -> datetime:
    """Today's local midnight in the city's zone."""
    return datetime.combine(now.astimezone(settings.tz).date(), time(), tzinfo=settings.tz)


def incidents_href(**filters: str | None) -> str:
    """The incident list filtered (the console's ``/console/incidents``)."""
    query = urlencode({k: v for k, v in filters.items() if v is not None})
    return f"{PREFIX}/incidents" + (f"?{query}" if query else "")


def _score_text(score: float | None) -> str | None:
    return None if score is None else f"{score:.2f}"


def key_tiles(doc: ReportDocument, language: Language) -> list[KeyTile]:
    tiles = []
    for key in FIVE_KEYS:
        ks = doc.scorecard.for_key(key)
        tiles.append(KeyTile(
            key=key, label=key_label(key, language), score=_score_text(ks.score),
            band=band_label(ks.band, language) if ks.band is not None else None,
            band_class=BAND_CLASSES[ks.band] if ks.band is not None else "muted",
            with_data=len(ks.scored) + len(ks.zero_weight),
            scored_of=len(ks.scored) + len(ks.zero_weight) + len(ks.no_data)))
    return tiles


def _scores(conn: Conn, settings: Settings, who_id: str, start: datetime, now: datetime,
            department: str | None) -> ReportDocument | None:
    """The month-so-far report (None at the very first instant of the month: no window)."""
    if now <= start:
        return None
    weights, source = weights_from_settings(settings)
    return build_report(conn, ReportWindow(start, now, settings.tz), department=department,
                        generated_by=who_id, generated_at=now, weights=weights, weights_source=source,
                        workers=settings.report_workers, work_hours=WorkHours.of(settings))


@cache
def _boards(language: Language) -> tuple[tuple[str, str], ...]:
    """(uid, title) of every Grafana dashboard in ``language`` (titles and uids do not
    depend on the settings the boards are built with)."""
    from dashboards.build import boards, committed_settings

    return tuple((b.uid, b.title) for b in boards(committed_settings(), [language]))


def grafana_links(settings: Settings, language: Language, department: str | None) -> list[tuple[str, str]]:
    """(title, URL) of the dashboards; none without ``Settings.grafana_url``."""
    if not settings.grafana_url:
        return []
    base = settings.grafana_url.rstrip("/")
    scope = f"?var-department={quote(department, safe='')}" if department else ""
    return [(title, f"{base}/d/{uid}{scope}") for uid, title in _boards(language)]


def _severity_counts(counts: Sequence[incidents_overview.OpenCount], t: Any,
                     department: str | None) -> list[Count]:
    by = {s.value: 0 for s in Severity}
    for c in counts:
        by[c.severity] = by.get(c.severity, 0) + c.count
    return [Count(incident_texts.severity_label(t, sev), n,
                  incidents_href(status="open", severity=sev, department=department))
            for sev, n in by.items()]


@router.get(PREFIX + "/overview")
def overview(request: Request, session: Viewer, conn: Conn, now: Now) -> Response:
    who = session.principal
    settings: Settings = request.app.state.settings
    language = language_of_request(request)
    department = scoped_department(who, None)   # a limited session: its department's figures
    with use_language(language):
        return _page(request, conn, settings, language, who.actor.id, department, now)


def _page(request: Request, conn: Conn, settings: Settings, language: Language, who_id: str,
          department: str | None, now: datetime) -> Response:
    start = month_start(now, settings)
    today = day_start(now, settings)
    try:
        doc = _scores(conn, settings, who_id, start, now, department)
        counts = incidents_overview.open_counts(conn, department=department)
        newest = incidents_overview.newest_open(conn, department=department, limit=NEWEST_OPEN)
        compliance = incidents_overview.response_compliance(conn, start=today, now=now, department=department)
        offline = offline_now(conn, now=now, department=department, limit=OFFLINE_SHOWN)
        linked = incidents_overview.open_incident_of(conn, (a.asset_id for a in offline.assets))
    except CitybrainError as exc:
        raise ConsoleError(status.HTTP_503_SERVICE_UNAVAILABLE, _(
            "The overview cannot be read from the database now ({error}). Try again in a "
            "minute; if it persists, tell the platform's administrators.").format(error=exc)) from exc
    departments = {c.department_id for c in counts if c.department_id} | {
        i.department_id for i in newest if i.department_id} | {
        a.department_id for a in offline.assets if a.department_id}
    if department:
        departments.add(department)
    names = names_for(conn, language, department_ids=departments,
                      asset_ids=[a.asset_id for a in offline.assets])
    t = incident_texts.MESSAGES.translator(language)
    by_department: dict[str | None, int] = {}
    for c in counts:
        by_department[c.department_id] = by_department.get(c.department_id, 0) + c.count
    department_counts = sorted(
        (Count(names.department(d) or _("(no department)"), n,
               incidents_href(status="open", department=d if d is not None else department))
         for d, n in by_department.items()), key=lambda c: (-c.count, c.label))
    return render(request, "overview.html", {
        "scope": names.department(department) if department else None,
        "month_start": start, "now": now, "today": today,
        "as_of": datetime.fromisoformat(doc.provenance.as_of_utc) if doc else now,
        "feeds_behind": _feeds_behind(doc, language, now),
        "tiles": key_tiles(doc, language) if doc else [],
        "open_total": sum(c.count for c in counts),
        "open_href": incidents_href(status="open", department=department),
        "by_severity": _severity_counts(counts, t, department),
        "by_department": department_counts,
        "newest": [{"id": i.incident_id, "title": i.title, "severity": i.severity.value,
                    "severity_label": incident_texts.severity_label(t, i.severity),
                    "status": incident_texts.status_label(t, i.status.value),
                    "department": names.department(i.department_id), "opened_at": i.opened_at}
                   for i in newest],
        "compliance": compliance,
        "rate": None if compliance.rate is None else f"{compliance.rate:.1f}",
        "response_minutes": sorted({int(m) if float(m).is_integer() else m
                                    for m in settings.incident_response_minutes.values()}),
        "offline": [{"id": a.asset_id, "name": names.asset(a.asset_id),
                     "department": names.department(a.department_id), "since": a.since,
                     "for": _duration(now - a.since), "incident": linked.get(a.asset_id)}
                    for a in offline.assets],
        "offline_total": offline.total,
        "grafana": grafana_links(settings, language, department),
    })


def _feeds_behind(doc: ReportDocument | None, language: Language, now: datetime
                  ) -> list[tuple[str, datetime]]:
    """The liveness feeds whose evidence ends before now (their as-of), by name."""
    if doc is None:
        return []
    t = texts.translator(language)
    behind = ((feed, datetime.fromisoformat(at)) for feed, at in doc.provenance.as_of_feeds)
    return [(texts.text(t, texts.FAMILIES, feed), at) for feed, at in behind if at < now]


def _duration(span: timedelta) -> str:
    """How long, as a person reads it: "3 d 4 h", "2 h 05 min", "12 min"."""
    minutes = max(0, int(span.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("{days} d {hours} h").format(days=days, hours=hours)
    if hours:
        return _("{hours} h {minutes:02d} min").format(hours=hours, minutes=mins)
    return _("{minutes} min").format(minutes=mins)
