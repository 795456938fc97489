"""The assessments store (migration 029): versions of a score, their evidence, the second
person's decision, and the figures reports read.

A *series* is one item (``citybrain.indicators.evaluation``) for one department (None: the
whole city) and one calendar period of the item's kind, in local dates. ``enter`` adds
the series' next version — score, rubric level, comment, evidence files, who scored —
and ``review`` records the approval or rejection of a series' latest version by someone
other than its assessor (another actor id and another person's name). Nothing is updated
in place: a changed score is a new version, and the tables refuse updates and deletes.
Each write appends its audit entry (``citybrain.kernel.audit``) in the caller's
transaction, which the caller commits: an assessment without its audit entry cannot
commit.

A version's status: ``approved`` or ``rejected`` (reviewed), ``pending`` (the latest of its
series, not reviewed yet) or ``superseded`` (a newer version exists, so it can no longer be
reviewed). ``figures`` gives what reports count: per series, the latest version approved
at or before a time (a report's generated-at), so the same stamp gives the same figures.

Time is a parameter (``now``); nothing here reads the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from zoneinfo import ZoneInfo

import psycopg

from citybrain.assessments.evidence import MAX_FILES, EvidenceError, Upload, checked
from citybrain.indicators.evaluation import AssessedItem, load_table, period_of
from citybrain.kernel import audit
from citybrain.kernel.audit import Actor
from citybrain.kernel.errors import CitybrainError, StoreError
from citybrain.kernel.i18n import N_, Catalogue

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

Connection = psycopg.Connection[Any]
Decision = Literal["approved", "rejected"]
Status = Literal["pending", "approved", "rejected", "superseded"]
STATUSES: tuple[Status, ...] = ("pending", "approved", "rejected", "superseded")
REVIEWERS = frozenset({"evaluator", "admin"})
MAX_COMMENT = 4000

ENTER_ACTION = "assessment.enter"
REVIEW_ACTION = "assessment.review"
EVIDENCE_ACTION = "assessment.evidence"


class AssessmentError(CitybrainError):
    """Input that cannot be accepted (the asker's to fix: a 4xx); the message says why."""

    status = 422


class NotFound(AssessmentError):
    status = 404


class Refused(AssessmentError):
    """Not this person: the assessor may not review their own score."""

    status = 403


class Conflict(AssessmentError):
    """The series changed meanwhile (reviewed, or a newer version entered)."""

    status = 409


class DamagedEvidence(CitybrainError):
    """A stored file whose bytes no longer hash to its recorded SHA-256."""


@dataclass(frozen=True)
class Evidence:
    position: int
    file_name: str
    content_type: str
    sha256: str
    bytes: int


@dataclass(frozen=True)
class Review:
    decision: Decision
    comment: str
    reviewer_id: str
    reviewer_name: str
    reviewer_role: str
    reviewed_at: datetime


@dataclass(frozen=True)
class Version:
    version_id: int
    item_id: str
    department: str | None
    period_from: date
    period_to: date
    version: int
    level: str
    score: Decimal
    max_score: Decimal
    comment: str
    assessor_id: str
    assessor_name: str
    assessor_role: str
    created_at: datetime
    evidence: tuple[Evidence, ...]
    review: Review | None
    latest: bool            # the newest version of its series

    @property
    def status(self) -> Status:
        if self.review is not None:
            return self.review.decision
        return "pending" if self.latest else "superseded"

    @property
    def series(self) -> tuple[str, str | None, date]:
        return self.item_id, self.department, self.period_from


def _item(item_id: str) -> AssessedItem:
    item = load_table().item(item_id)
    if item is None:
        known = ", ".join(i.id for i in load_table().items)
        raise AssessmentError(_("there is no assessed item {item}; the items are: {known}").format(
            item=repr(item_id), known=known))
    return item


def _text(value: str, what: str, *, required: bool) -> str:
    text = value.strip()
    if required and not text:
        raise AssessmentError(_("{what} is required").format(what=what))
    if len(text) > MAX_COMMENT:
        raise AssessmentError(_("{what} is longer than {limit} characters").format(
            what=what, limit=MAX_COMMENT))
    if "\x00" in text:
        raise AssessmentError(_("{what} contains a NUL character").format(what=what))
    return text


def _score(value: float | str | Decimal, item: AssessedItem, level_id: str) -> Decimal:
    try:
        score = Decimal(str(value).strip())
    except InvalidOperation:
        raise AssessmentError(_("the score {score} is not a number").format(
            score=repr(str(value)[:20]))) from None
    if not score.is_finite() or score != score.quantize(Decimal("0.01")):
        raise AssessmentError(_("the score {score} must be a number with at most two decimals").format(
            score=str(value)[:20]))
    maximum = Decimal(str(item.max_score))
    if not Decimal(0) <= score <= maximum:
        raise AssessmentError(_("the score must be between 0 and {max} for {item}").format(
            max=f"{maximum.normalize():f}", item=item.id))
    span = item.level_range(level_id)
    if span is None:
        raise AssessmentError(_("{item} has no rubric level {level}; its levels are: {levels}").format(
            item=item.id, level=repr(level_id), levels=", ".join(lv.id for lv in item.levels)))
    low, high = (Decimal(str(x)) for x in span)
    last = level_id == item.levels[-1].id
    if not (low <= score and (score <= high if last else score < high)):
        raise AssessmentError(_("a score of {score} is not in level {level}, which takes scores from {low} "
                                "to {high}{end}").format(
            score=f"{score.normalize():f}", level=level_id, low=f"{low.normalize():f}",
            high=f"{high.normalize():f}", end="" if last else _(" (excluded)")))
    return score


def _period(item: AssessedItem, first: date, last: date, today: date) -> None:
    expected = period_of(item.period, first)
    if (first, last) != expected:
        raise AssessmentError(_("{item} is assessed per {kind}: a period from {first} runs to {last}, the "
                                "whole calendar period").format(
            item=item.id, kind=_(PERIOD_NAMES[item.period]), first=expected[0].isoformat(),
            last=expected[1].isoformat()))
    if first > today:
        raise AssessmentError(_("the period {first} to {last} has not begun; a period can be assessed "
                                "from its first day").format(first=first.isoformat(), last=last.isoformat()))


# The period kinds and the decisions as a sentence names them.
PERIOD_NAMES = {"month": N_("month"), "quarter": N_("quarter"), "half_year": N_("half-year"),
                "year": N_("year")}
DECISION_NAMES = {"approved": N_("approved"), "rejected": N_("rejected")}


def _department(conn: Connection, department: str | None) -> None:
    if department is not None and conn.execute(
            "SELECT 1 FROM departments WHERE department_id = %s", (department,)).fetchone() is None:
        raise NotFound(_("no department {department} in the registry").format(department=repr(department)))


def _uploads(uploads: Sequence[Upload], keep: Sequence[str], previous: Sequence[Version],
             max_bytes: int) -> list[Upload | Evidence]:
    """The version's files in order: the kept ones (files of the series' earlier versions,
    by SHA-256) then the new ones, each checked."""
    if len(uploads) + len(keep) > MAX_FILES:
        raise AssessmentError(_("at most {count} evidence files per version").format(count=MAX_FILES))
    earlier = {e.sha256: e for v in previous for e in v.evidence}
    files: list[Upload | Evidence] = []
    for digest in keep:
        found = earlier.get(digest.strip().lower())
        if found is None:
            raise AssessmentError(_("the file {sha256} to keep is not evidence of an earlier version of this "
                                    "assessment").format(sha256=digest[:64]))
        files.append(found)
    total = 0
    for upload in uploads:
        try:
            good = checked(upload)
        except EvidenceError as exc:
            raise AssessmentError(str(exc)) from None
        total += len(good.content)
        if total > max_bytes:
            raise AssessmentError(_("the evidence files are larger than {limit} bytes together "
                                    "(CITYBRAIN_ASSESSMENT_EVIDENCE_MAX_BYTES)").format(limit=max_bytes))
        files.append(good)
    digests = [f.sha256 for f in files]
    if len(set(digests)) != len(digests):
        raise AssessmentError(_("the same evidence file is given twice"))
    return files


def person_of(conn: Connection, actor: Actor) -> str:
    """The name the audit log gives the actor (a token's holder, a code's person)."""
    return audit.people(conn, [actor.id])[actor.id]


def _same_person(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def enter(conn: Connection, *, item_id: str, department: str | None, period_from: date, period_to: date,
          level: str, score: float | str | Decimal, comment: str, evidence: Sequence[Upload] = (),
          keep: Sequence[str] = (), actor: Actor, now: datetime, tz: ZoneInfo, max_bytes: int) -> Version:
    """The series' next version, with its evidence and its audit entry (the caller commits)."""
    item = _item(item_id)
    level = level.strip()
    value = _score(score, item, level)
    text = _text(comment, _("a comment"), required=True)
    _period(item, period_from, period_to, now.astimezone(tz).date())
    _department(conn, department)
    # The series' versions, locked: a review or another entry of the same series waits.
    conn.execute("SELECT version_id FROM assessment_versions WHERE item_id = %s AND department_id IS NOT "
                 "DISTINCT FROM %s AND period_from = %s FOR UPDATE", (item.id, department, period_from))
    previous = versions(conn, item_id=item.id, department=department, exact_department=True,
                        period_from=period_from, period_to=period_from)
    files = _uploads(evidence, keep, previous, max_bytes)
    number = max((v.version for v in previous), default=0) + 1
    person = person_of(conn, actor)
    subject = series_name(item.id, department, period_from)
    audit_id = audit.record(conn, actor, ENTER_ACTION, subject, {
        "item": item.id, "department": department, "period_from": period_from.isoformat(),
        "period_to": period_to.isoformat(), "version": number, "level": level, "score": str(value),
        "max_score": str(item.max_score), "assessor": person,
        "evidence": [{"file_name": f.file_name, "sha256": f.sha256} for f in files]}, at=now)
    try:
        row = conn.execute(
            "INSERT INTO assessment_versions (item_id, department_id, period_from, period_to, version, level,"
            " score, max_score, comment, assessor_id, assessor_name, assessor_role, created_at, audit_id)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING version_id",
            (item.id, department, period_from, period_to, number, level, value, item.max_score, text,
             actor.id, person, actor.role or "", now, audit_id)).fetchone()
    except psycopg.errors.UniqueViolation:
        raise Conflict(_("another version of this assessment was entered at the same time; reload and try "
                         "again")) from None
    assert row is not None
    version_id = int(row[0])
    for position, f in enumerate(files, 1):
        if isinstance(f, Upload):
            conn.execute("INSERT INTO assessment_files (sha256, bytes, content, stored_at)"
                         " VALUES (%s, %s, %s, %s) ON CONFLICT (sha256) DO NOTHING",
                         (f.sha256, len(f.content), f.content, now))
        conn.execute("INSERT INTO assessment_evidence (version_id, position, file_name, content_type, sha256)"
                     " VALUES (%s, %s, %s, %s, %s)",
                     (version_id, position, f.file_name, f.content_type, f.sha256))
    found = version(conn, version_id)
    assert found is not None
    return found


def review(conn: Connection, version_id: int, *, decision: str, comment: str, actor: Actor,
           now: datetime) -> Version:
    """The second person's decision on a series' latest version, with its audit entry."""
    if decision not in ("approved", "rejected"):
        raise AssessmentError(_("the decision must be approved or rejected, not {decision}").format(
            decision=repr(decision[:20])))
    text = _text(comment, _("a comment"), required=decision == "rejected")
    if (actor.role or "") not in REVIEWERS:
        raise Refused(_("only an evaluator or an admin reviews an assessment"))
    row = conn.execute("SELECT item_id, department_id, period_from FROM assessment_versions"
                       " WHERE version_id = %s", (version_id,)).fetchone()
    if row is None:
        raise NotFound(_("there is no assessment version {version}").format(version=version_id))
    conn.execute("SELECT version_id FROM assessment_versions WHERE item_id = %s AND department_id IS NOT "
                 "DISTINCT FROM %s AND period_from = %s FOR UPDATE", row)
    found = version(conn, version_id)
    assert found is not None
    person = person_of(conn, actor)
    if actor.id == found.assessor_id or _same_person(person, found.assessor_name):
        raise Refused(_("{person} entered version {version} and may not review it: a second person approves "
                        "or rejects an assessment").format(person=found.assessor_name, version=found.version))
    if found.review is not None:
        raise Conflict(_("version {version} was already {decision} by {person}").format(
            version=found.version, decision=_(DECISION_NAMES[found.review.decision]),
            person=found.review.reviewer_name))
    if not found.latest:
        raise Conflict(_("version {version} has been superseded by a newer version; review the latest "
                         "one").format(version=found.version))
    audit_id = audit.record(conn, actor, REVIEW_ACTION, series_name(*found.series), {
        "version_id": version_id, "version": found.version, "decision": decision, "reviewer": person,
        "assessor": found.assessor_name, "score": str(found.score), "level": found.level}, at=now)
    try:
        conn.execute("INSERT INTO assessment_reviews (version_id, decision, comment, reviewer_id,"
                     " reviewer_name, reviewer_role, reviewed_at, audit_id)"
                     " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                     (version_id, decision, text, actor.id, person, actor.role or "", now, audit_id))
    except psycopg.errors.UniqueViolation:
        raise Conflict(_("version {version} was reviewed by someone else at the same time").format(
            version=found.version)) from None
    done = version(conn, version_id)
    assert done is not None
    return done


def series_name(item_id: str, department: str | None, period_from: date) -> str:
    """The audit log's subject of a series: ``item/department-or-city/first day``."""
    return f"{item_id}/{department or 'city'}/{period_from.isoformat()}"


_SELECT = (
    "SELECT v.version_id, v.item_id, v.department_id, v.period_from, v.period_to, v.version, v.level,"
    " v.score, v.max_score, v.comment, v.assessor_id, v.assessor_name, v.assessor_role, v.created_at,"
    " r.decision, r.comment, r.reviewer_id, r.reviewer_name, r.reviewer_role, r.reviewed_at,"
    " v.version = max(v.version) OVER (PARTITION BY v.item_id, coalesce(v.department_id, ''), v.period_from)"
    " AS latest"
    " FROM assessment_versions v LEFT JOIN assessment_reviews r ON r.version_id = v.version_id")


def _evidence(conn: Connection, ids: Iterable[int]) -> dict[int, tuple[Evidence, ...]]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = conn.execute(
        "SELECT e.version_id, e.position, e.file_name, e.content_type, e.sha256, f.bytes"
        " FROM assessment_evidence e JOIN assessment_files f ON f.sha256 = e.sha256"
        " WHERE e.version_id = ANY(%s) ORDER BY e.version_id, e.position", (wanted,)).fetchall()
    out: dict[int, list[Evidence]] = {}
    for vid, position, name, kind, digest, size in rows:
        out.setdefault(int(vid), []).append(Evidence(int(position), name, kind, digest, int(size)))
    return {k: tuple(v) for k, v in out.items()}


def _versions(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> list[Version]:
    files = _evidence(conn, (r[0] for r in rows))
    found = []
    for (vid, item, dept, first, last, number, level, score, maximum, comment, a_id, a_name, a_role, created,
         decision, r_comment, r_id, r_name, r_role, r_at, latest) in rows:
        reviewed = None if decision is None else Review(decision, r_comment, r_id, r_name, r_role, r_at)
        found.append(Version(int(vid), item, dept, first, last, int(number), level, Decimal(score),
                             Decimal(maximum), comment, a_id, a_name, a_role, created,
                             files.get(int(vid), ()), reviewed, bool(latest)))
    return found


def version(conn: Connection, version_id: int) -> Version | None:
    rows = conn.execute(
        f"SELECT * FROM ({_SELECT} WHERE (v.item_id, coalesce(v.department_id, ''), v.period_from) IN"
        " (SELECT item_id, coalesce(department_id, ''), period_from FROM assessment_versions"
        "  WHERE version_id = %(id)s)) s WHERE s.version_id = %(id)s", {"id": version_id}).fetchall()
    return _versions(conn, rows)[0] if rows else None


def versions(conn: Connection, *, item_id: str | None = None, department: str | None = None,
             exact_department: bool = False, period_from: date | None = None, period_to: date | None = None,
             status: Status | None = None, limit: int = 500) -> list[Version]:
    """Versions newest first: of one item or all, of periods overlapping [period_from,
    period_to] (local dates; either open), of one status or all. ``department``: with
    ``exact_department`` that department's series only (None: the city's); without, None
    is every series and a department its own series and the city's."""
    try:
        rows = conn.execute(
            f"SELECT * FROM ({_SELECT}) s WHERE (%(item)s::text IS NULL OR s.item_id = %(item)s)"
            " AND (CASE WHEN %(exact)s THEN s.department_id IS NOT DISTINCT FROM %(dept)s"
            "      ELSE %(dept)s::text IS NULL OR s.department_id = %(dept)s OR s.department_id IS NULL END)"
            " AND (%(first)s::date IS NULL OR s.period_to >= %(first)s)"
            " AND (%(last)s::date IS NULL OR s.period_from <= %(last)s)"
            " AND (%(status)s::text IS NULL OR CASE WHEN s.decision IS NOT NULL THEN s.decision"
            "      WHEN s.latest THEN 'pending' ELSE 'superseded' END = %(status)s)"
            " ORDER BY s.created_at DESC, s.version_id DESC LIMIT %(limit)s",
            {"item": item_id, "dept": department, "exact": exact_department, "first": period_from,
             "last": period_to, "status": status, "limit": limit}).fetchall()
    except psycopg.errors.UndefinedTable as exc:
        raise StoreError(_("the assessments tables are missing: {error}; run `citybrain db migrate`").format(
            error=exc)) from exc
    return _versions(conn, rows)


def figures(conn: Connection, *, first_day: date, last_day: date, department: str | None,
            as_of: datetime) -> list[Version]:
    """What counts, per series whose period overlaps [first_day, last_day]: its latest
    version approved at or before ``as_of``, in (item, department, period) order. A
    department's report counts its own series and the city's; the city's counts every one."""
    try:
        rows = conn.execute(
            "SELECT * FROM (SELECT DISTINCT ON (s.item_id, coalesce(s.department_id, ''), s.period_from) s.*"
            f" FROM ({_SELECT}) s"
            " WHERE s.decision = 'approved' AND s.reviewed_at <= %(as_of)s"
            " AND s.period_to >= %(first)s AND s.period_from <= %(last)s"
            " AND (%(dept)s::text IS NULL OR s.department_id = %(dept)s OR s.department_id IS NULL)"
            " ORDER BY s.item_id, coalesce(s.department_id, ''), s.period_from, s.version DESC) f"
            " ORDER BY f.item_id, f.department_id NULLS FIRST, f.period_from",
            {"as_of": as_of, "first": first_day, "last": last_day, "dept": department}).fetchall()
    except psycopg.errors.UndefinedTable as exc:
        raise StoreError(_("the assessments tables are missing: {error}; run `citybrain db migrate`").format(
            error=exc)) from exc
    return _versions(conn, rows)


def evidence_file(conn: Connection, version_id: int, position: int) -> tuple[Evidence, bytes] | None:
    """One evidence file's record and bytes, checked against its SHA-256 (None: no such file)."""
    import hashlib

    row = conn.execute(
        "SELECT e.position, e.file_name, e.content_type, e.sha256, f.bytes, f.content"
        " FROM assessment_evidence e JOIN assessment_files f ON f.sha256 = e.sha256"
        " WHERE e.version_id = %s AND e.position = %s", (version_id, position)).fetchone()
    if row is None:
        return None
    found = Evidence(int(row[0]), row[1], row[2], row[3], int(row[4]))
    content = bytes(row[5])
    if hashlib.sha256(content).hexdigest() != found.sha256:
        raise DamagedEvidence(_("the stored evidence file {name} is damaged: its bytes do not match its "
                                "SHA-256 {sha256}, so it is not served").format(
            name=found.file_name, sha256=found.sha256))
    return found, content


def record_download(conn: Connection, found: Version, evidence: Evidence, actor: Actor, *,
                    now: datetime) -> int:
    """The audit entry of an evidence file handed over."""
    return audit.record(conn, actor, EVIDENCE_ACTION, series_name(*found.series), {
        "version_id": found.version_id, "position": evidence.position, "file_name": evidence.file_name,
        "sha256": evidence.sha256}, at=now)
