"""Evidence files and people for the assessments tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from citybrain.assessments import store
from citybrain.assessments.evidence import Upload
from citybrain.indicators.evaluation import period_of
from citybrain.kernel.audit import Actor
from citybrain.kernel.http import tokens
from citybrain.kernel.http.tokens import Role

Conn = psycopg.Connection[Any]
SHANGHAI = ZoneInfo("Asia/Shanghai")
# 2026-03-10 10:00 in Shanghai: the first quarter and the year 2026 have begun.
NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
YEAR = (date(2026, 1, 1), date(2026, 12, 31))
MINUTES = Upload("协调会议纪要.pdf", "application/pdf", b"%PDF-1.4\n% minutes of the coordination meeting\n")
PHOTO = Upload("board.png", "image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
MAX_BYTES = 1 << 20


def person(db: Conn, role: Role, name: str, department: str | None = None) -> Actor:
    """An actor whose token is named after the person (``audit.people`` reads the name)."""
    token, _ = tokens.create(db, role, department=department, name=name, created_by="test")
    return Actor(id=f"token:{token.token_id}", role=role.value, department=department)


def enter(db: Conn, actor: Actor, *, item: str = "mechanism.coordination", department: str | None = None,
          level: str = "working", score: str = "78.5", evidence: tuple[Upload, ...] = (MINUTES,),
          keep: tuple[str, ...] = (), at: datetime = NOW, period: tuple[date, date] = YEAR) -> store.Version:
    return store.enter(db, item_id=item, department=department, period_from=period[0], period_to=period[1],
                       level=level, score=score, comment="例会每月召开，有纪要", evidence=evidence, keep=keep,
                       actor=actor, now=at, tz=SHANGHAI, max_bytes=MAX_BYTES)


def water_version(db: Conn, now: datetime) -> store.Version:
    """A pending assessment of department water for the year of ``now``, with one evidence
    file, entered by someone no matrix token is (the access tests review it)."""
    first, last = period_of("year", now.astimezone(SHANGHAI).date())
    return store.enter(db, item_id="mechanism.coordination", department="water", period_from=first,
                       period_to=last, level="working", score="75", comment="例会纪要齐全",
                       evidence=(MINUTES,),
                       actor=Actor(id="cli:assessor", role="evaluator"), now=now, tz=SHANGHAI,
                       max_bytes=MAX_BYTES)
