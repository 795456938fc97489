"""The evaluation table in the console: Table 8 with its figures, and the assessed entries.

``/console/evaluation`` shows every row of the national evaluation table for a chosen
window (local dates, as the reports' form; presets for the last month, quarter and year)
and scope: its *measured* figures, computed by the reports' own code (``build_report``:
the same indicators and the same figures an export of that window has), and its
*assessed* items, each with the entries whose period overlaps the window — the figure that
counts (the latest approved version) and any newer version still pending or rejected,
with its status, version, assessor, reviewer and evidence links. The two kinds are
labelled 测量 (measured) and 评估 (assessed) everywhere and never added up.

``/console/evaluation/items/{item_id}`` is an assessed item: its rubric, its versions, a
form to enter a new version (evaluators) and, on a pending version, the second person's
approve/reject form (evaluators and admins other than its assessor). Both forms post to
the store's functions (``citybrain.assessments.store``) and audit as the API does; the
evidence files are downloaded through the same checked, audited path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, Response, UploadFile, status

from citybrain.assessments import store
from citybrain.assessments.api import file_response
from citybrain.assessments.evidence import MAX_FILES, Upload
from citybrain.console.auth import ConsoleError, Viewer, redirect
from citybrain.console.pages import PREFIX, language_of_request, render, settings_of
from citybrain.console.reports import presets
from citybrain.indicators.engine import WorkHours
from citybrain.indicators.evaluation import AssessedItem, load_table, period_of
from citybrain.kernel.errors import CitybrainError
from citybrain.kernel.http.access import scoped_department, within
from citybrain.kernel.http.deps import Conn, Connection, Now, Principal, commit
from citybrain.kernel.http.errors import database_limit
from citybrain.kernel.http.limits import text_problem
from citybrain.kernel.i18n import N_, Catalogue, Language, use_language
from citybrain.reports.document import ReportError, build_report
from citybrain.reports.evaluation import evaluation_rows, item_name, level_text, row_name, telemetry_text
from citybrain.reports.presentation import indicator_name
from citybrain.reports.query import bounded_window
from citybrain.reports.scorecard import weights_from_settings
from schemas.names import localized

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current
router = APIRouter(include_in_schema=False)

BASE = PREFIX + "/evaluation"
_TEXT = 64
PERIODS_OFFERED = 6     # the current period of the item's kind and the ones before it
STATUS_LABELS = {"pending": N_("pending review"), "approved": N_("approved"), "rejected": N_("rejected"),
                 "superseded": N_("superseded")}


@dataclass(frozen=True)
class Entry:
    """An assessed entry as the page shows it."""

    version: store.Version
    counts: bool            # the figure a report of this window counts
    department_name: str


def number(value: Decimal | float) -> str:
    """A score as people write it: 78.5, 100 (no trailing zeros, no exponent)."""
    return f"{Decimal(str(value)).normalize():f}"


def _refusal(exc: HTTPException) -> ConsoleError:
    return ConsoleError(exc.status_code, str(exc.detail))


def _departments(conn: Connection, language: Language, only: str | None) -> dict[str, str]:
    rows = conn.execute(
        "SELECT department_id, name, name_zh FROM departments"
        " WHERE %(only)s::text IS NULL OR department_id = %(only)s ORDER BY department_id",
        {"only": only}).fetchall()
    return {d: localized(n, z, language, d) for d, n, z in rows}


def _scope(who: Any, asked: str | None) -> str | None:
    try:
        return scoped_department(who, asked or None)
    except HTTPException as exc:
        raise _refusal(exc) from None


def _entries(conn: Connection, item_id: str | None, first: date, last: date, department: str | None,
             as_of: datetime, names: dict[str, str], language: Language) -> dict[str, list[Entry]]:
    """Item id → per series overlapping [first, last]: the version counted (latest approved
    as of ``as_of``) and, when newer, the series' latest version (pending or rejected)."""
    approved = store.figures(conn, first_day=first, last_day=last, department=department, as_of=as_of)
    counted = {v.version_id for v in approved}
    series: dict[tuple[str, str | None, date], list[store.Version]] = {}
    for v in store.versions(conn, item_id=item_id, department=department, period_from=first, period_to=last):
        series.setdefault(v.series, []).append(v)
    out: dict[str, list[Entry]] = {}
    whole = _("Whole city")
    for key in sorted(series, key=lambda k: (k[0], k[1] or "", k[2])):
        found = series[key]                       # newest first
        shown = [found[0]] + [v for v in found[1:] if v.version_id in counted]
        for v in shown:
            name = whole if v.department is None else names.get(v.department, v.department)
            out.setdefault(v.item_id, []).append(Entry(v, v.version_id in counted, name))
    return out


@router.get(BASE)
def evaluation_page(
    request: Request, session: Viewer, conn: Conn, now: Now,
    from_: Annotated[str | None, Query(alias="from", max_length=_TEXT)] = None,
    to: Annotated[str | None, Query(max_length=_TEXT)] = None,
    department: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    settings = settings_of(request)
    language = language_of_request(request)
    who = session.principal
    scope = _scope(who, department)
    today = now.astimezone(settings.tz).date()
    offered = presets(today)
    first_text, last_text = from_ or offered[0].first.isoformat(), to or offered[0].last.isoformat()
    with use_language(language):
        names = _departments(conn, language, who.department)
        if scope is not None and scope not in names:
            raise ConsoleError(status.HTTP_404_NOT_FOUND, _("There is no department {department} in the "
                                                            "registry.").format(department=repr(scope)))
        problem = None
        try:
            window = bounded_window(first_text, last_text, settings.timezone, settings)
        except ReportError as exc:
            problem, window = str(exc), None
        rows: list[dict[str, Any]] = []
        as_of = now
        if window is not None:
            weights, source = weights_from_settings(settings)
            try:
                doc = build_report(conn, window, department=scope, generated_by=who.actor.id,
                                   generated_at=now, weights=weights, weights_source=source,
                                   workers=settings.report_workers, work_hours=WorkHours.of(settings))
                first = window.start.astimezone(settings.tz).date()
                last = (window.end - timedelta(microseconds=1)).astimezone(settings.tz).date()
                entries = _entries(conn, None, first, last, scope, now, names, language)
            except CitybrainError as exc:
                raise ConsoleError(status.HTTP_503_SERVICE_UNAVAILABLE,
                                   database_limit(exc, settings) or str(exc)) from exc
            as_of = datetime.fromisoformat(doc.provenance.as_of_utc)
            rows = _rows(doc, entries, language)
        return render(request, "evaluation.html", {
            "problem": problem, "form": {"from": first_text, "to": last_text, "department": scope or ""},
            "presets": [(p, f"{BASE}?" + urlencode({"from": p.first.isoformat(), "to": p.last.isoformat(),
                                                    **({"department": scope} if scope else {})}))
                        for p in offered],
            "departments": sorted(names.items(), key=lambda kv: (kv[1], kv[0])),
            "limited": who.department is not None, "rows": rows, "as_of": as_of,
            "fronts": {f.id: (f.name_zh if language == "zh-CN" else f.name_en) for f in load_table().fronts},
            "status_labels": STATUS_LABELS, "number": number,
            "level_name": partial(level_text, language=language),
            "may_enter": who.role.value == "evaluator",
        }, status_code=422 if problem else 200)


def _rows(doc: Any, entries: dict[str, list[Entry]], language: Language) -> list[dict[str, Any]]:
    out = []
    for er in evaluation_rows(doc):
        row = er.row
        out.append({
            "id": row.id, "front": row.front,
            "name": row_name(row, language),
            "examples": row.examples_zh if language == "zh-CN" else row.examples_en,
            "measured": [{"id": t.indicator_id,
                          "name": t.indicator_id if t.result is None else indicator_name(t.result.indicator,
                                                                                         language),
                          "value": telemetry_text(t, language), "missing": t.result is None,
                          "no_data": t.result is not None and t.result.figure.value is None}
                         for t in er.telemetry],
            "assessed": [{"item": a.item, "name": item_name(a.item, language),
                          "entries": entries.get(a.item.id, [])} for a in er.assessed],
        })
    return out


# ── an assessed item ────────────────────────────────────────────────────────────────

def _item(item_id: str) -> AssessedItem:
    item = load_table().item(item_id)
    if item is None:
        raise ConsoleError(status.HTTP_404_NOT_FOUND, _("There is no assessed item {item}.").format(
            item=repr(item_id[:100])))
    return item


def _period_choices(item: AssessedItem, today: date) -> list[tuple[date, date]]:
    first, _last = period_of(item.period, today)
    choices = [period_of(item.period, first)]
    while len(choices) < PERIODS_OFFERED:
        previous = date.fromordinal(choices[-1][0].toordinal() - 1)
        choices.append(period_of(item.period, previous))
    return choices


def _item_page(request: Request, session: Any, conn: Connection, now: datetime, item: AssessedItem,
               department: str | None, *, form: dict[str, Any] | None = None, problem: str | None = None,
               status_code: int = 200, base: store.Version | None = None) -> Response:
    settings = settings_of(request)
    language = language_of_request(request)
    who = session.principal
    names = _departments(conn, language, who.department)
    found = store.versions(conn, item_id=item.id, department=department, limit=200)
    counted = {v.version_id for v in store.figures(conn, first_day=date(1, 1, 1), last_day=date(9999, 12, 31),
                                                   department=department, as_of=now)}
    whole = _("Whole city")
    entries = [Entry(v, v.version_id in counted, whole if v.department is None else names.get(v.department,
                                                                                             v.department))
               for v in found]
    person = store.person_of(conn, who.actor)
    today = now.astimezone(settings.tz).date()
    levels = []
    for lv in item.levels:
        low, high = item.level_range(lv.id) or (0.0, 0.0)
        levels.append({"level": lv, "low": f"{low:g}", "high": f"{high:g}", "last": lv is item.levels[-1],
                       "name": lv.name_zh if language == "zh-CN" else lv.name_en,
                       "meaning": lv.meaning_zh if language == "zh-CN" else lv.meaning_en})
    default = form or {}
    if base is not None and not default:
        default = {"department": base.department or "", "period": base.period_from.isoformat(),
                   "level": base.level, "score": f"{base.score.normalize():f}", "comment": "",
                   "keep": [e.sha256 for e in base.evidence]}
    return render(request, "evaluation_item.html", {
        "item": item, "name": item_name(item, language),
        "period_name": store.MESSAGES.translator(language).gettext(store.PERIOD_NAMES[item.period]),
        "about": item.about_zh if language == "zh-CN" else item.about_en, "levels": levels,
        "entries": entries, "status_labels": STATUS_LABELS, "problem": problem, "number": number,
        "level_name": partial(level_text, language=language),
        "departments": sorted(names.items(), key=lambda kv: (kv[1], kv[0])),
        "limited": who.department is not None, "scope": department or "",
        "periods": _period_choices(item, today), "form": default, "base": base,
        "may_enter": who.role.value == "evaluator",
        "may_review": who.role.value in store.REVIEWERS,
        "me": (who.actor.id, person), "max_files": MAX_FILES,
        "max_bytes": settings.assessment_evidence_max_bytes,
    }, status_code=status_code)


@router.get(BASE + "/items/{item_id}")
def item_page(request: Request, item_id: str, session: Viewer, conn: Conn, now: Now,
              department: Annotated[str | None, Query(max_length=200)] = None,
              base: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    with use_language(language_of_request(request)):
        item = _item(item_id)
        scope = _scope(session.principal, department)
        earlier = None
        if base and base.isdigit() and len(base) < 18:
            earlier = store.version(conn, int(base))
            if earlier is None or earlier.item_id != item.id:
                earlier = None
            else:
                try:
                    within(session.principal, earlier.department, _("this assessment"))
                except HTTPException as exc:
                    raise _refusal(exc) from None
        return _item_page(request, session, conn, now, item, scope, base=earlier)


def _clean(value: str, name: str) -> str:
    why = text_problem(value)
    if why is not None:
        raise store.AssessmentError(f"{name}: {why}")
    return value


@router.post(BASE + "/assessments")
async def enter(
    request: Request, session: Viewer, conn: Conn, now: Now,
    item: Annotated[str, Form(max_length=100)] = "",
    department: Annotated[str, Form(max_length=200)] = "",
    period: Annotated[str, Form(max_length=_TEXT)] = "",
    level: Annotated[str, Form(max_length=50)] = "",
    score: Annotated[str, Form(max_length=20)] = "",
    comment: Annotated[str, Form(max_length=store.MAX_COMMENT)] = "",
    keep: Annotated[list[str] | None, Form(max_length=MAX_FILES)] = None,
    evidence: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    settings = settings_of(request)
    who = session.principal
    form = {"department": department, "period": period, "level": level, "score": score, "comment": comment,
            "keep": keep or []}
    with use_language(language_of_request(request)):
        found = _item(item)
        try:
            within(who, department or None, _("an assessment of {department}").format(
                department=department or _("the whole city")))
        except HTTPException as exc:
            raise _refusal(exc) from None
        uploads = []
        for f in evidence or []:
            if not f.filename and not f.size:
                continue   # the form's empty file field
            content = await f.read(settings.assessment_evidence_max_bytes + 1)
            uploads.append(Upload(f.filename or "", f.content_type or "", content))
        try:
            for name, value in (("comment", comment), ("score", score), ("level", level)):
                _clean(value, name)
            try:
                first = date.fromisoformat(period)
            except ValueError:
                raise store.AssessmentError(_("Choose the period.")) from None
            made = store.enter(conn, item_id=found.id, department=department or None, period_from=first,
                               period_to=period_of(found.period, first)[1], level=level, score=score,
                               comment=comment, evidence=uploads, keep=keep or [], actor=who.actor, now=now,
                               tz=settings.tz, max_bytes=settings.assessment_evidence_max_bytes)
        except store.AssessmentError as exc:
            conn.rollback()
            return _item_page(request, session, conn, now, found, _scope(who, None), form=form,
                              problem=str(exc), status_code=exc.status if exc.status != 403 else 403)
        try:
            commit(conn, _("the assessment"))
        except HTTPException as exc:
            raise _refusal(exc) from None
    return redirect(f"{BASE}/items/{found.id}?{urlencode({'department': department} if department else {})}"
                    f"#version-{made.version_id}")


@router.post(BASE + "/assessments/{version_id}/review")
def review(request: Request, version_id: str, session: Viewer, conn: Conn, now: Now,
           decision: Annotated[str, Form(max_length=20)] = "",
           comment: Annotated[str, Form(max_length=store.MAX_COMMENT)] = "") -> Response:
    who = session.principal
    with use_language(language_of_request(request)):
        found = _version(conn, version_id, who)
        item = _item(found.item_id)
        try:
            _clean(comment, "comment")
            store.review(conn, found.version_id, decision=decision, comment=comment, actor=who.actor, now=now)
        except store.AssessmentError as exc:
            conn.rollback()
            return _item_page(request, session, conn, now, item, _scope(who, None), problem=str(exc),
                              status_code=exc.status)
        try:
            commit(conn, _("the review"))
        except HTTPException as exc:
            raise _refusal(exc) from None
    return redirect(f"{BASE}/items/{item.id}#version-{found.version_id}")


def _version(conn: Connection, version_id: str, who: Principal) -> store.Version:
    """The version, when it exists and lies within the viewer's department (a page otherwise)."""
    found = store.version(conn, int(version_id)) if version_id.isdigit() and len(version_id) < 18 else None
    if found is None:
        raise ConsoleError(status.HTTP_404_NOT_FOUND, _("There is no assessment version {version}.").format(
            version=repr(version_id[:20])))
    try:
        within(who, found.department, _("this assessment"))
    except HTTPException as exc:
        raise _refusal(exc) from None
    return found


@router.get(BASE + "/assessments/{version_id}/evidence/{position}")
def evidence(request: Request, version_id: str, position: str, session: Viewer, conn: Conn,
             now: Now) -> Response:
    who = session.principal
    with use_language(language_of_request(request)):
        found = _version(conn, version_id, who)
        try:
            got = store.evidence_file(conn, found.version_id, int(position)) if position.isdigit() and len(
                position) < 4 else None
        except store.DamagedEvidence as exc:
            raise ConsoleError(status.HTTP_500_INTERNAL_SERVER_ERROR, str(exc)) from None
        if got is None:
            raise ConsoleError(status.HTTP_404_NOT_FOUND, _(
                "This assessment has no evidence file {position}.").format(position=repr(position[:10])))
        record, content = got
        store.record_download(conn, found, record, who.actor, now=now)
        try:
            commit(conn, _("the download of {name}").format(name=record.file_name))
        except HTTPException as exc:
            raise _refusal(exc) from None
    return file_response(record, content)
