"""``GET /api/v1/reports``: the evaluators' export, recorded in the audit log and the
export history (``citybrain.reports.exports``, shared with the console)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status

from citybrain.kernel.errors import CitybrainError
from citybrain.kernel.http.access import Caller, scoped_department
from citybrain.kernel.http.deps import Conn, Now, commit, settings
from citybrain.kernel.http.errors import unavailable
from citybrain.kernel.i18n import Catalogue, current_language
from citybrain.kernel.settings import Settings
from citybrain.reports import exports
from citybrain.reports.cli import report_language
from citybrain.reports.document import ReportError
from citybrain.reports.query import WindowQuery, window_from_query
from citybrain.reports.writers import Format

router = APIRouter(tags=["reports"])
MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current


@router.get("/reports", summary="The five-key indicator report as a file",
            response_description="the report file; its data hash is in X-Citybrain-Data-SHA256, the "
                                 "hash of the file's bytes in X-Citybrain-File-SHA256")
def report(
    who: Caller,
    conn: Conn,
    at: Now,
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
    actor = who.actor
    try:
        # The request's time (``Now``, read once at the boundary) stamps the report.
        file = exports.produce(conn, win, department=department, fmt=format, language=language,
                               actor=actor, at=at, settings=cfg)
    except exports.ExportRefused as exc:
        # Without a CJK font on the server no PDF can be made (422, naming what to install
        # or set), whatever the window: refused before any work.
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    except CitybrainError as exc:
        raise unavailable(exc, cfg) from exc
    # Committed here, before the file is handed over: an export that is not audited (and
    # kept in the history) is not delivered (a failed commit is a 503 and no body).
    exports.record(conn, file, actor, at=at)
    commit(conn, _("the export {name}").format(name=file.name))
    return Response(file.body, media_type=file.media_type, headers={
        "Content-Disposition": f'attachment; filename="{file.name}"',
        "X-Citybrain-Data-SHA256": file.data_sha256,
        "X-Citybrain-File-SHA256": file.file_sha256,
    })
