"""``GET /api/v1/reports``: the evaluators' export, recorded in the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status

from citybrain.indicators.engine import WorkHours
from citybrain.kernel import audit
from citybrain.kernel.errors import CitybrainError
from citybrain.kernel.http.access import Caller, scoped_department
from citybrain.kernel.http.deps import Conn, commit, settings
from citybrain.kernel.http.errors import unavailable
from citybrain.kernel.i18n import Catalogue, current_language
from citybrain.kernel.settings import Settings
from citybrain.reports.cli import AUDIT_ACTION, report_details, report_language
from citybrain.reports.document import ReportError, build_report
from citybrain.reports.presentation import Presentation, file_name
from citybrain.reports.query import WindowQuery, window_from_query
from citybrain.reports.scorecard import load_weights
from citybrain.reports.writers import Format, render

router = APIRouter(tags=["reports"])
MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

_MEDIA = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


@router.get("/reports", summary="The five-key indicator report as a file",
            response_description="the report file; its data hash is in X-Citybrain-Data-SHA256")
def report(
    who: Caller,
    conn: Conn,
    cfg: Annotated[Settings, Depends(settings)],
    window: Annotated[WindowQuery, Depends()],
    format: Annotated[Format, Query(description="json, csv, xlsx or pdf")] = "json",
    lang: Annotated[str | None, Query(max_length=32, description=(
        "the report's language, zh-CN or en (default: the request's, i.e. Accept-Language when it "
        "names zh or en, else the server's CITYBRAIN_LANGUAGE): the XLSX, CSV and PDF are written in "
        "it; the JSON is the same in every language"))] = None,
) -> Response:
    try:
        language = report_language(lang, current_language())
    except ReportError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    win = window_from_query(window, cfg)
    department = scoped_department(who, window.department)
    if department is not None and conn.execute(
            "SELECT 1 FROM departments WHERE department_id = %s", (department,)).fetchone() is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, _("no department {department} in the registry").format(
            department=repr(department)))
    font = None
    if format == "pdf":
        # Refused before any work: without a CJK font on the server no PDF can be made (422,
        # naming what to install or set), whatever the window.
        from citybrain.reports.pdf import find_font

        try:
            font = find_font(cfg.report_font)
        except CitybrainError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    weights, source = None, "catalogue"
    if cfg.score_weights_file is not None:
        weights, source = load_weights(cfg.score_weights_file), str(cfg.score_weights_file)
    actor = who.actor
    # The request is the boundary where the clock is read.
    stamp = datetime.now(UTC)
    try:
        doc = build_report(conn, win, department=department, generated_by=actor.id,
                           generated_at=stamp, weights=weights, weights_source=source,
                           workers=cfg.report_workers, work_hours=WorkHours.of(cfg))
        body = render(doc, format, view=Presentation.load(conn, language), font=font)
    except CitybrainError as exc:
        raise unavailable(exc, cfg) from exc
    name = file_name(win, department, format)
    # Committed here, before the file is handed over: an export that is not audited is
    # not delivered (a failed commit is a 503 and no body).
    audit.record(conn, actor, AUDIT_ACTION, name, report_details(doc, format, name, len(body)), at=stamp)
    commit(conn, _("the export {name}").format(name=name))
    return Response(body, media_type=_MEDIA[format], headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Citybrain-Data-SHA256": doc.provenance.data_sha256,
    })
