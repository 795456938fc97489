"""The assessments store: every change a new version, a second person decides, each write
audited in its own transaction, only approved versions count (the latest approved as of a
time), and input that cannot be accepted is refused by name."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from citybrain.assessments import store
from citybrain.assessments.evidence import Upload
from citybrain.kernel import audit
from citybrain.kernel import store as kernel_store
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.i18n import use_language
from tests.citybrain.assessments.support import MINUTES, NOW, PHOTO, Conn, enter, person
from tests.citybrain.indicators.city import department


@pytest.fixture(autouse=True)
def english() -> Any:
    with use_language("en"):
        yield


def test_a_version_is_pending_until_a_second_person_approves_it(db: Conn) -> None:
    department(db, "water")
    li, wang = person(db, Role.evaluator, "李娜"), person(db, Role.evaluator, "王强")
    v1 = enter(db, li)
    assert (v1.version, v1.status, v1.assessor_name) == (1, "pending", "李娜")
    assert v1.score == Decimal("78.5")
    assert [(e.file_name, e.sha256, e.bytes) for e in v1.evidence] == [
        (MINUTES.file_name, hashlib.sha256(MINUTES.content).hexdigest(), len(MINUTES.content))]
    # Nothing counts before the approval.
    assert store.figures(db, first_day=date(2026, 3, 1), last_day=date(2026, 3, 31), department=None,
                         as_of=NOW + timedelta(days=1)) == []
    with pytest.raises(store.Refused, match="李娜 entered version 1 and may not review it"):
        store.review(db, v1.version_id, decision="approved", comment="", actor=li, now=NOW)
    # The same person with another token is still the same person.
    li_again = person(db, Role.admin, " 李娜 ")
    with pytest.raises(store.Refused):
        store.review(db, v1.version_id, decision="approved", comment="", actor=li_again, now=NOW)
    approved = store.review(db, v1.version_id, decision="approved", comment="证据齐全", actor=wang,
                            now=NOW + timedelta(hours=1))
    assert approved.status == "approved" and approved.review is not None
    assert (approved.review.reviewer_name, approved.review.reviewer_role) == ("王强", "evaluator")
    with pytest.raises(store.Conflict, match="already approved by 王强"):
        store.review(db, v1.version_id, decision="rejected", comment="no",
                     actor=person(db, Role.admin, "周七"), now=NOW)
    # A month's report of March counts the year's approved score.
    got = store.figures(db, first_day=date(2026, 3, 1), last_day=date(2026, 3, 31), department=None,
                        as_of=NOW + timedelta(days=1))
    assert [(f.version_id, f.score) for f in got] == [(v1.version_id, Decimal("78.5"))]


def test_every_change_is_a_new_version_and_the_latest_approved_counts_as_of_a_time(db: Conn) -> None:
    li, wang = person(db, Role.evaluator, "李娜"), person(db, Role.admin, "王强")
    v1 = enter(db, li)
    store.review(db, v1.version_id, decision="approved", comment="", actor=wang, now=NOW + timedelta(hours=1))
    v2 = enter(db, li, level="sound", score="90", evidence=(PHOTO,), keep=(MINUTES.sha256,),
               at=NOW + timedelta(days=2))
    assert v2.version == 2 and v2.status == "pending"
    # The kept file is cited again, by its digest, after the new one's place in the list.
    assert [e.file_name for e in v2.evidence] == [MINUTES.file_name, PHOTO.file_name]
    # v1 stays as it was: approved, unchanged.
    first = store.version(db, v1.version_id)
    assert first is not None
    assert (first.status, first.score, first.latest) == ("approved", Decimal("78.5"), False)

    def counted(at: Any) -> list[int]:
        return [f.version for f in store.figures(db, first_day=date(2026, 1, 1), last_day=date(2026, 12, 31),
                                                  department=None, as_of=at)]

    assert counted(NOW + timedelta(days=3)) == [1]          # v2 pending: v1 still counts
    store.review(db, v2.version_id, decision="approved", comment="", actor=wang, now=NOW + timedelta(days=4))
    assert counted(NOW + timedelta(days=5)) == [2]
    assert counted(NOW + timedelta(days=3)) == [1]          # a report stamped before v2's approval
    assert counted(NOW) == []                               # before any approval
    v3 = enter(db, li, level="initial", score="60", at=NOW + timedelta(days=6))
    store.review(db, v3.version_id, decision="rejected", comment="纪要不全", actor=wang,
                 now=NOW + timedelta(days=7))
    assert counted(NOW + timedelta(days=8)) == [2]          # a rejected version never counts
    statuses = [(v.version, v.status) for v in store.versions(db, item_id="mechanism.coordination")]
    assert statuses == [(3, "rejected"), (2, "approved"), (1, "approved")]


def test_a_superseded_version_cannot_be_reviewed(db: Conn) -> None:
    li, wang = person(db, Role.evaluator, "李娜"), person(db, Role.evaluator, "王强")
    v1 = enter(db, li)
    enter(db, li, score="80")
    with pytest.raises(store.Conflict, match="superseded"):
        store.review(db, v1.version_id, decision="approved", comment="", actor=wang, now=NOW)
    assert [v.status for v in store.versions(db)] == ["pending", "superseded"]


def test_each_write_and_its_audit_entry_commit_together(database_url: str, schema: str, db: Conn) -> None:
    li, wang = person(db, Role.evaluator, "李娜"), person(db, Role.evaluator, "王强")
    with kernel_store.connect(database_url, schema) as conn:   # one transaction, not committed
        v1 = enter(conn, li)
        entry = audit.entries(conn, action=store.ENTER_ACTION)[0]
        assert entry.subject == "mechanism.coordination/city/2026-01-01"
        assert entry.details["evidence"] == [{"file_name": MINUTES.file_name, "sha256": MINUTES.sha256}]
        assert conn.execute("SELECT audit_id FROM assessment_versions WHERE version_id = %s",
                            (v1.version_id,)).fetchone() == (entry.id,)
        conn.rollback()
    assert store.versions(db) == [] and audit.entries(db, action=store.ENTER_ACTION) == []
    v1 = enter(db, li)
    with kernel_store.connect(database_url, schema) as conn:
        store.review(conn, v1.version_id, decision="approved", comment="", actor=wang, now=NOW)
        assert audit.entries(conn, action=store.REVIEW_ACTION)[0].details["decision"] == "approved"
        conn.rollback()
    assert audit.entries(db, action=store.REVIEW_ACTION) == []
    assert [v.status for v in store.versions(db)] == ["pending"]


def test_nothing_is_updated_or_deleted_in_place(db: Conn) -> None:
    v1 = enter(db, person(db, Role.evaluator, "李娜"))
    for statement in ("UPDATE assessment_versions SET score = 100", "DELETE FROM assessment_evidence",
                      "UPDATE assessment_files SET content = 'x'"):
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            db.execute(statement)
    assert store.version(db, v1.version_id) == v1


@pytest.mark.parametrize(("change", "said"), [
    ({"item": "mechanism.nothing"}, "there is no assessed item 'mechanism.nothing'"),
    ({"level": "sound", "score": "84"}, "a score of 84 is not in level sound, which takes scores from 85 to "
                                        "100"),
    ({"level": "working", "score": "85"}, "from 70 to 85 (excluded)"),
    ({"level": "best", "score": "99"}, "has no rubric level 'best'"),
    ({"score": "101", "level": "sound"}, "the score must be between 0 and 100"),
    ({"score": "78.555"}, "at most two decimals"),
    ({"score": "NaN"}, "at most two decimals"),
    ({"score": "many"}, "is not a number"),
    ({"period": (date(2026, 1, 1), date(2026, 6, 30))}, "assessed per year: a period from 2026-01-01 runs "
                                                        "to 2026-12-31"),
    ({"period": (date(2027, 1, 1), date(2027, 12, 31))}, "has not begun"),
    ({"item": "capability.ease_of_use", "level": "good", "score": "75"}, "assessed per quarter"),
    ({"department": "nowhere"}, "no department 'nowhere'"),
    ({"evidence": (Upload("scan.pdf", "application/pdf", PHOTO.content),)}, "declared as application/pdf, "
                                                                            "but its bytes are image/png"),
    ({"evidence": (Upload("tool.exe", "application/octet-stream", b"MZ\x90\x00\x03"),)}, "not a file of an "
                                                                                        "accepted kind"),
    ({"evidence": (Upload("page.html", "text/html", b"<html>"),)}, "of type text/html, which is not "
                                                                   "accepted"),
    ({"evidence": (Upload("empty.txt", "text/plain", b""),)}, "is empty"),
    ({"evidence": (Upload("big.txt", "text/plain", b"a" * ((1 << 20) + 1)),)}, "larger than 1048576 bytes"),
    ({"evidence": (MINUTES, MINUTES)}, "given twice"),
    ({"keep": ("0" * 64,)}, "is not evidence of an earlier version"),
])
def test_input_that_cannot_be_accepted_is_refused_by_name(db: Conn, change: dict[str, Any],
                                                          said: str) -> None:
    department(db, "water")
    with pytest.raises(store.AssessmentError) as caught:
        enter(db, person(db, Role.evaluator, "李娜"), **change)
    assert said in str(caught.value)
    assert store.versions(db) == []


def test_an_untyped_upload_is_typed_by_its_bytes_and_a_folder_is_dropped(db: Conn) -> None:
    v = enter(db, person(db, Role.evaluator, "李娜"),
              evidence=(Upload("C:\\scans\\会议.pdf", "application/octet-stream", MINUTES.content),
                        Upload("figures.csv", "application/vnd.ms-excel", b"a,b\n1,2\n")))
    assert [(e.file_name, e.content_type) for e in v.evidence] == [("会议.pdf", "application/pdf"),
                                                                   ("figures.csv", "text/csv")]
    found = store.evidence_file(db, v.version_id, 1)
    assert found is not None and found[1] == MINUTES.content
    assert store.evidence_file(db, v.version_id, 3) is None


def test_a_damaged_file_is_not_served(db: Conn) -> None:
    v = enter(db, person(db, Role.evaluator, "李娜"))
    db.execute("ALTER TABLE assessment_files DISABLE TRIGGER assessment_files_append_only")
    db.execute("UPDATE assessment_files SET content = 'tampered'")
    db.execute("ALTER TABLE assessment_files ENABLE TRIGGER assessment_files_append_only")
    with pytest.raises(store.DamagedEvidence, match="damaged"):
        store.evidence_file(db, v.version_id, 1)


def test_a_department_report_counts_its_own_series_and_the_citys(db: Conn) -> None:
    department(db, "water", "roads")
    li, wang = person(db, Role.evaluator, "李娜"), person(db, Role.evaluator, "王强")
    for dept in (None, "water", "roads"):
        v = enter(db, li, department=dept)
        store.review(db, v.version_id, decision="approved", comment="", actor=wang, now=NOW)

    def scopes(department: str | None) -> list[str | None]:
        got = store.figures(db, first_day=date(2026, 3, 1), last_day=date(2026, 3, 31),
                            department=department, as_of=NOW)
        return [f.department for f in got]

    assert scopes(None) == [None, "roads", "water"]
    assert scopes("water") == [None, "water"]
    assert [v.department for v in store.versions(db, department="water", exact_department=True)] == ["water"]


def test_only_evaluators_and_admins_review(db: Conn) -> None:
    v = enter(db, person(db, Role.evaluator, "李娜"))
    with pytest.raises(store.Refused, match="only an evaluator or an admin"):
        store.review(db, v.version_id, decision="approved", comment="",
                     actor=person(db, Role.operator, "赵六"), now=NOW)
    with pytest.raises(store.AssessmentError, match="a comment is required"):
        store.review(db, v.version_id, decision="rejected", comment="  ",
                     actor=person(db, Role.admin, "王强"), now=NOW)
    with pytest.raises(store.NotFound):
        store.review(db, 999, decision="approved", comment="", actor=person(db, Role.admin, "周七"), now=NOW)
