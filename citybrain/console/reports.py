"""The evaluators' pages: take a report, see and re-download past exports, read the definitions.

``/console/reports`` is a form — the window as local dates of the city's zone, read by the
same code as the API's ``from``/``to`` (``citybrain.reports.query.bounded_window``: a
``to`` date includes that whole day), with presets for the last month, quarter and year
computed from the request's clock in the city's zone; the department (the session's own
when its token is limited to one); the language; the format — and below it the export
history the session may see. ``POST /console/reports/download`` makes the file with the
API's function (``citybrain.reports.exports``), records it in the audit log and the
history, commits, then hands it over. A past export is handed over again byte for byte
from its stored copy after its SHA-256 is checked, and that is audited too.

``/console/indicators`` lists the catalogue's definitions: names, formulas, units,
targets, versions and the SQL each figure is computed with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request, Response, status

from citybrain.console.auth import ConsoleError, Viewer
from citybrain.console.pages import PREFIX, language_of_request, render, settings_of
from citybrain.indicators.catalogue import load_catalogue
from citybrain.kernel.errors import CitybrainError
from citybrain.kernel.http.access import scoped_department, within
from citybrain.kernel.http.deps import Conn, Connection, Now, commit
from citybrain.kernel.http.errors import database_limit
from citybrain.kernel.http.sessions import Session
from citybrain.kernel.i18n import LANGUAGES, N_, Catalogue, Language, use_language
from citybrain.reports import exports
from citybrain.reports.cli import report_language
from citybrain.reports.document import ReportError
from citybrain.reports.presentation import indicator_formula, key_label, unit_label, value_text, window_text
from citybrain.reports.query import bounded_window
from citybrain.reports.writers import FORMATS, Format
from schemas.names import localized

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current
router = APIRouter(include_in_schema=False)

HISTORY_ROWS = 50
# Offered in this order: the spreadsheet first, the machine-readable JSON after the CSV.
FORMAT_CHOICES: tuple[Format, ...] = ("xlsx", "csv", "json", "pdf")
LANGUAGE_NAMES: Mapping[str, str] = {"zh-CN": "中文", "en": "English"}
_TEXT = 64   # longer than any date, language tag or format

Text = Annotated[str, Form(max_length=_TEXT)]


@dataclass(frozen=True)
class Preset:
    key: str
    label: str        # N_ text, translated by the template
    first: date
    last: date        # inclusive


def presets(today: date) -> list[Preset]:
    """Whole calendar periods before ``today`` (a local date of the city's zone), and this
    month so far (the window then reaches past now: the report says what it covers)."""
    month = today.replace(day=1)
    last_month_end = month - timedelta(days=1)
    quarter = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    last_quarter_end = quarter - timedelta(days=1)
    last_quarter = date(last_quarter_end.year, 3 * ((last_quarter_end.month - 1) // 3) + 1, 1)
    return [
        Preset("last-month", N_("Last month"), last_month_end.replace(day=1), last_month_end),
        Preset("last-quarter", N_("Last quarter"), last_quarter, last_quarter_end),
        Preset("last-year", N_("Last year"), date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
        Preset("this-month", N_("This month so far"), month, today),
    ]



def _departments(conn: Connection, language: Language, only: str | None) -> list[tuple[str, str]]:
    """(id, name) of the departments the form offers: the registry's, or the session's own."""
    rows = conn.execute(
        "SELECT department_id, name, name_zh FROM departments"
        " WHERE %(only)s::text IS NULL OR department_id = %(only)s", {"only": only}).fetchall()
    return sorted(((d, localized(n, z, language, d)) for d, n, z in rows), key=lambda r: (r[1], r[0]))


def _refusal(exc: HTTPException) -> ConsoleError:
    return ConsoleError(exc.status_code, str(exc.detail))


def _page(request: Request, session: Session, conn: Connection, now: datetime, form: Mapping[str, str], *,
          problem: str | None = None, status_code: int = 200) -> Response:
    settings = settings_of(request)
    language = language_of_request(request)
    who = session.principal
    today = now.astimezone(settings.tz).date()
    departments = _departments(conn, language, who.department)
    names = dict(departments)
    rows = exports.history(conn, who.department, limit=HISTORY_ROWS)
    if who.department is None:
        # Exports of departments no longer in the registry are still listed (by id).
        names.update({d: d for d in {r.department for r in rows if r.department} - names.keys()})
    choice = {k: form.get(k, "") for k in ("department", "lang", "format")}

    def link(p: Preset) -> str:
        query = {"from": p.first.isoformat(), "to": p.last.isoformat(),
                 **{k: v for k, v in choice.items() if v}}
        return f"{PREFIX}/reports?{urlencode(query)}"

    return render(request, "reports.html", {
        "form": form, "problem": problem,
        "presets": [(p, link(p)) for p in presets(today)],
        "departments": departments, "limited": who.department is not None,
        "report_languages": LANGUAGES, "language_names": LANGUAGE_NAMES, "formats": FORMAT_CHOICES,
        "max_days": settings.api_max_window_days,
        "history": [(e, window_text(e.window, language), names.get(e.department or "", e.department))
                    for e in rows],
        "history_limit": HISTORY_ROWS,
    }, status_code=status_code)


@router.get(PREFIX + "/reports")
def reports_page(
    request: Request, session: Viewer, conn: Conn, now: Now,
    from_: Annotated[str | None, Query(alias="from", max_length=_TEXT)] = None,
    to: Annotated[str | None, Query(max_length=_TEXT)] = None,
    department: Annotated[str | None, Query(max_length=200)] = None,
    lang: Annotated[str | None, Query(max_length=_TEXT)] = None,
    format: Annotated[str | None, Query(max_length=_TEXT)] = None,
) -> Response:
    """The form (pre-filled from the query: the presets are links) and the export history."""
    settings = settings_of(request)
    default = presets(now.astimezone(settings.tz).date())[0]
    language = language_of_request(request)
    form = {"from": from_ or default.first.isoformat(), "to": to or default.last.isoformat(),
            "department": session.principal.department or department or "",
            "lang": lang if lang in LANGUAGES else language,
            "format": format if format in FORMATS else "xlsx"}
    return _page(request, session, conn, now, form)


@router.post(PREFIX + "/reports/download")
def download(
    request: Request, session: Viewer, conn: Conn, now: Now,
    from_: Annotated[str, Form(alias="from", max_length=_TEXT)] = "",
    to: Text = "",
    department: Annotated[str, Form(max_length=200)] = "",
    lang: Text = "",
    format: Text = "",
) -> Response:
    """Make the report, record it (audit log and history, committed), then hand it over."""
    settings = settings_of(request)
    who = session.principal
    form = {"from": from_, "to": to, "department": department, "lang": lang, "format": format}
    page_language = language_of_request(request)
    with use_language(page_language):
        try:
            if not from_.strip() or not to.strip():
                raise ReportError(_("Choose the first and the last day of the window."))
            if format not in FORMATS:
                raise ReportError(_("Choose a format: XLSX, CSV, JSON or PDF."))
            fmt: Format = format   # one of FORMATS, checked above
            language = report_language(lang or None, page_language)
            window = bounded_window(from_, to, settings.timezone, settings)
        except ReportError as exc:
            return _page(request, session, conn, now, form, problem=str(exc),
                         status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
        try:
            scope = scoped_department(who, department or None)
        except HTTPException as exc:
            raise _refusal(exc) from None
        if scope is not None and not _departments(conn, page_language, scope):
            return _page(request, session, conn, now, form, status_code=status.HTTP_404_NOT_FOUND,
                         problem=_("There is no department {department} in the registry.").format(
                             department=repr(scope)))
        try:
            file = exports.produce(conn, window, department=scope, fmt=fmt, language=language,
                                   actor=who.actor, at=now, settings=settings)
        except exports.ExportRefused as exc:
            return _page(request, session, conn, now, form, problem=str(exc),
                         status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
        except CitybrainError as exc:
            raise ConsoleError(status.HTTP_503_SERVICE_UNAVAILABLE,
                               database_limit(exc, settings) or str(exc)) from exc
        exports.record(conn, file, who.actor, at=now)
        try:
            commit(conn, _("the export {name}").format(name=file.name))
        except HTTPException as exc:
            raise _refusal(exc) from None
    return _file(file.body, file.name, file.media_type, file.data_sha256, file.file_sha256)


def _file(body: bytes, name: str, media_type: str, data_sha256: str, file_sha256: str) -> Response:
    return Response(body, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Citybrain-Data-SHA256": data_sha256,
        "X-Citybrain-File-SHA256": file_sha256,
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    })


@router.get(PREFIX + "/reports/exports/{export_id}")
def download_again(request: Request, export_id: str, session: Viewer, conn: Conn, now: Now) -> Response:
    """A past export's stored bytes, checked against the SHA-256 recorded when it was first
    delivered, and the re-download audited."""
    who = session.principal
    with use_language(language_of_request(request)):
        found = exports.find(conn, int(export_id)) if export_id.isdigit() and len(export_id) < 19 else None
        if found is None:
            missing = _("There is no export {export} in the history.").format(export=repr(export_id))
            raise ConsoleError(status.HTTP_404_NOT_FOUND, missing)
        try:
            within(who, found.department, _("export {export}").format(export=found.export_id))
        except HTTPException as exc:
            raise _refusal(exc) from None
        try:
            stored = exports.fetch(conn, found.export_id)
        except exports.DamagedExport as exc:
            # The refusal is evidence too: recorded (and committed) before the page says so.
            exports.record_damage(conn, found.export_id, who.actor, at=now, message=str(exc))
            conn.commit()
            raise ConsoleError(status.HTTP_500_INTERNAL_SERVER_ERROR, str(exc)) from None
        assert stored is not None
        export, body = stored
        exports.record_redownload(conn, export, who.actor, at=now)
        try:
            commit(conn, _("the export {name}").format(name=export.file_name))
        except HTTPException as exc:
            raise _refusal(exc) from None
    return _file(body, export.file_name, export.media_type, export.data_sha256, export.file_sha256)


@router.get(PREFIX + "/indicators")
def indicators_page(request: Request, session: Viewer) -> Response:
    """The catalogue's definitions, grouped by key: what every figure in a report means."""
    language = language_of_request(request)
    groups: dict[str, list[dict[str, Any]]] = {}
    for ind in load_catalogue():
        groups.setdefault(ind.key, []).append({
            "ind": ind,
            "formula": indicator_formula(ind, language),
            "other_formula": ind.formula if language == "zh-CN" else ind.formula_zh,
            "unit": unit_label(ind.unit, language),
            "target": None if ind.target is None else value_text(ind.target, ind.unit, language),
        })
    return render(request, "indicators.html", {
        "groups": [(key, key_label(key, language), items) for key, items in groups.items()]})
