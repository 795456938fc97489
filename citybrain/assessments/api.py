"""HTTP API of the assessed indicators (mounted under ``/api/v1``):

* ``GET /assessments`` — versions, newest first, with their status, review and evidence
  (filters: item, department, a period overlapping ``from``–``to``, status);
* ``POST /assessments`` — an evaluator enters the next version of an item's score for a
  department (or the city) and a calendar period, with its rubric level, a comment and
  evidence files (base64 in the JSON body; ``keep_evidence`` cites files of the series'
  earlier versions by SHA-256 without sending them again);
* ``POST /assessments/{version_id}/review`` — a second person (an evaluator or an admin,
  never the version's assessor) approves or rejects the series' latest version;
* ``GET /assessments/{version_id}/evidence/{position}`` — one evidence file, byte for byte
  after its SHA-256 is checked; the download is audited.

Who may do what is the access table's (``citybrain.kernel.http.access``, "assessments"):
evaluators enter and review, admins review, operators read, on-call staff nothing. A
token limited to a department reaches that department's series (and reads the city's).
Each write and its audit entry are committed before the answer; input the server cannot
use is a 4xx naming the problem.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from citybrain.assessments import store
from citybrain.assessments.evidence import MAX_FILES, MAX_NAME, Upload
from citybrain.kernel.http.access import Caller, scoped_department, within
from citybrain.kernel.http.deps import Conn, Now, commit, settings
from citybrain.kernel.i18n import Catalogue
from citybrain.kernel.settings import Settings

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current
router = APIRouter(tags=["assessments"])
Config = Annotated[Settings, Depends(settings)]
BASE = "/api/v1/assessments"
DAY = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"   # a local date; parsed (and refused with a 422) below


class EvidenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file_name: str = Field(min_length=1, max_length=MAX_NAME)
    content_type: str = Field(default="application/octet-stream", max_length=200,
                              description="pdf, png, jpeg, docx, xlsx, plain text or csv; octet-stream: "
                                          "typed by its bytes and extension")
    content_base64: str = Field(min_length=4, description="the file's bytes, base64 (RFC 4648)")


class AssessmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item: str = Field(min_length=1, max_length=100, description="an assessed item of the evaluation table")
    department: str | None = Field(default=None, max_length=200, description="null: the whole city")
    period_from: str = Field(pattern=DAY, description="first day (YYYY-MM-DD) of one whole calendar "
                                                      "period of the item's kind")
    period_to: str = Field(pattern=DAY, description="last day of that period (included)")
    level: str = Field(min_length=1, max_length=50, description="the rubric level the score is in")
    score: Decimal = Field(ge=0, le=100000, allow_inf_nan=False, max_digits=9, decimal_places=2)
    comment: str = Field(min_length=1, max_length=store.MAX_COMMENT)
    evidence: list[EvidenceIn] = Field(default_factory=list, max_length=MAX_FILES)
    keep_evidence: list[Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]] = Field(
        default_factory=list, max_length=MAX_FILES,
        description="SHA-256 of files of this series' earlier versions to cite again")


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: store.Decision
    comment: str = Field(default="", max_length=store.MAX_COMMENT, description="required when rejecting")


def evidence_href(version_id: int, position: int) -> str:
    return f"{BASE}/{version_id}/evidence/{position}"


def version_dict(v: store.Version) -> dict[str, Any]:
    """One version as the API gives it."""
    review = None if v.review is None else {
        "decision": v.review.decision, "comment": v.review.comment,
        "reviewer": {"id": v.review.reviewer_id, "name": v.review.reviewer_name,
                     "role": v.review.reviewer_role},
        "reviewed_at": v.review.reviewed_at.isoformat()}
    return {
        "version_id": v.version_id, "item": v.item_id, "department": v.department,
        "period": {"from": v.period_from.isoformat(), "to": v.period_to.isoformat()},
        "version": v.version, "status": v.status, "level": v.level, "score": float(v.score),
        "max_score": float(v.max_score), "comment": v.comment,
        "assessor": {"id": v.assessor_id, "name": v.assessor_name, "role": v.assessor_role},
        "created_at": v.created_at.isoformat(), "review": review,
        "evidence": [{"position": e.position, "file_name": e.file_name, "content_type": e.content_type,
                      "sha256": e.sha256, "bytes": e.bytes, "href": evidence_href(v.version_id, e.position)}
                     for e in v.evidence],
    }


def refusal(exc: store.AssessmentError) -> HTTPException:
    return HTTPException(exc.status, str(exc))


def _decoded(files: list[EvidenceIn]) -> list[Upload]:
    uploads = []
    for n, f in enumerate(files):
        try:
            content = base64.b64decode(f.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, _(
                "evidence[{n}].content_base64 is not base64").format(n=n)) from None
        uploads.append(Upload(f.file_name, f.content_type, content))
    return uploads


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, _("{name} is not a date: {value}").format(
            name=name, value=repr(value[:20]))) from None


def _required_day(value: str, name: str) -> date:
    found = _day(value, name)
    assert found is not None
    return found


def _found(conn: Conn, version_id: int) -> store.Version:
    found = store.version(conn, version_id) if 0 < version_id < 2**62 else None
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, _("there is no assessment version {version}").format(
            version=version_id))
    return found


@router.get("/assessments", summary="Assessed indicators: every version, with status, review and evidence")
def list_assessments(
    who: Caller, conn: Conn,
    item: Annotated[str | None, Query(max_length=100)] = None,
    department: Annotated[str | None, Query(max_length=200)] = None,
    from_: Annotated[str | None, Query(alias="from", pattern=DAY,
                                       description="periods ending on or after this day")] = None,
    to: Annotated[str | None, Query(pattern=DAY,
                                    description="periods starting on or before this day")] = None,
    state: Annotated[store.Status | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    scope = scoped_department(who, department)
    found = store.versions(conn, item_id=item, department=scope, period_from=_day(from_, "from"),
                           period_to=_day(to, "to"),
                           status=state, limit=limit)
    return {"assessments": [version_dict(v) for v in found]}


@router.post("/assessments", status_code=status.HTTP_201_CREATED,
             summary="Enter the next version of an assessed score (a second person reviews it)")
def enter(body: AssessmentIn, who: Caller, conn: Conn, now: Now, cfg: Config) -> dict[str, Any]:
    within(who, body.department, _("an assessment of {department}").format(
        department=body.department or _("the whole city")))
    try:
        made = store.enter(conn, item_id=body.item, department=body.department,
                           period_from=_required_day(body.period_from, "period_from"),
                           period_to=_required_day(body.period_to, "period_to"), level=body.level,
                           score=body.score, comment=body.comment, evidence=_decoded(body.evidence),
                           keep=body.keep_evidence, actor=who.actor, now=now, tz=cfg.tz,
                           max_bytes=cfg.assessment_evidence_max_bytes)
    except store.AssessmentError as exc:
        raise refusal(exc) from None
    commit(conn, _("the assessment"))
    return version_dict(made)


@router.post("/assessments/{version_id}/review", summary="Approve or reject a version (not its assessor)")
def review(version_id: int, body: ReviewIn, who: Caller, conn: Conn, now: Now) -> dict[str, Any]:
    found = _found(conn, version_id)
    within(who, found.department, _("assessment version {version}").format(version=version_id))
    try:
        done = store.review(conn, version_id, decision=body.decision, comment=body.comment, actor=who.actor,
                            now=now)
    except store.AssessmentError as exc:
        raise refusal(exc) from None
    commit(conn, _("the review"))
    return version_dict(done)


@router.get("/assessments/{version_id}/evidence/{position}", summary="One evidence file, checked and audited",
            response_class=Response)
def evidence(version_id: int, position: int, who: Caller, conn: Conn, now: Now) -> Response:
    found = _found(conn, version_id)
    within(who, found.department, _("assessment version {version}").format(version=version_id))
    try:
        got = store.evidence_file(conn, version_id, position) if 0 < position < 1000 else None
    except store.DamagedEvidence as exc:
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, str(exc)) from None
    if got is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, _(
            "version {version} has no evidence file {position}").format(
            version=version_id, position=position))
    record, content = got
    store.record_download(conn, found, record, who.actor, now=now)
    commit(conn, _("the download of {name}").format(name=record.file_name))
    return file_response(record, content)


def file_response(record: store.Evidence, content: bytes) -> Response:
    """An evidence file as an attachment (never shown inline: it is someone's document)."""
    from urllib.parse import quote

    return Response(content, media_type=record.content_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(record.file_name)}",
        "X-Citybrain-File-SHA256": record.sha256, "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff"})
