"""API tokens: created by ``citybrain tokens create``, stored as SHA-256 digests only."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import psycopg

from citybrain.kernel.errors import CitybrainError, StoreError
from citybrain.kernel.i18n import Catalogue

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current


class Role(StrEnum):
    operator = "operator"    # watches and acts on every incident
    oncall = "oncall"        # acts on its departments' incidents
    evaluator = "evaluator"  # reads indicators and reports; enters and reviews assessed scores
    admin = "admin"          # everything, including escalation policies and tokens


class TokenError(CitybrainError):
    """A token that cannot be created as asked (unknown department, ...)."""


@dataclass(frozen=True)
class Token:
    token_id: str
    role: Role
    department: str | None
    name: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    expires_at: datetime | None = None   # None: no end

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at


# The printed token is "<prefix>_<id>_<secret>": the id is what audit entries show, the
# secret is only ever held as a digest.
_PREFIX = "cbt"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


_LIFETIME = re.compile(r"(?P<count>[0-9]{1,5})(?P<unit>[dh])")


def parse_lifetime(text: str) -> timedelta:
    """``90d`` or ``12h``: how long a new token lives."""
    found = _LIFETIME.fullmatch(text.strip().lower())
    if found is None or int(found["count"]) == 0:
        raise TokenError(_("cannot read the lifetime {text}: give a number of days or hours, "
                           "e.g. 90d or 12h").format(text=repr(text)))
    count = int(found["count"])
    return timedelta(days=count) if found["unit"] == "d" else timedelta(hours=count)


def create(conn: psycopg.Connection[Any], role: Role, *, department: str | None, name: str,
           created_by: str, expires_at: datetime | None = None) -> tuple[Token, str]:
    """Store a new token and return it with its clear text (shown once)."""
    if expires_at is not None and expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    token_id = secrets.token_hex(4)
    clear = f"{_PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
    if department is not None:
        known = conn.execute("SELECT 1 FROM departments WHERE department_id = %s",
                             (department,)).fetchone()
        if known is None:
            raise TokenError(_("unknown department {department}; import the registry first "
                               "(citybrain assets import FILE)").format(department=repr(department)))
    try:
        row = conn.execute(
            "INSERT INTO api_tokens (token_id, token_sha256, name, role, department_id, created_by,"
            " expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING created_at",
            (token_id, _digest(clear), name, role.value, department, created_by, expires_at),
        ).fetchone()
    except psycopg.Error as exc:
        raise StoreError(_("cannot store the token: {error}; run `citybrain db migrate`").format(
            error=exc)) from exc
    assert row is not None
    return Token(token_id, role, department, name, row[0], created_by, None, expires_at), clear


def authenticate(conn: psycopg.Connection[Any], clear: str) -> Token | None:
    """The unrevoked token with this clear text, or None (unknown or revoked). An expired
    one is returned: the caller says "expired" rather than "unknown"."""
    row = conn.execute(
        f"SELECT {_FIELDS} FROM api_tokens WHERE token_sha256 = %s AND revoked_at IS NULL",
        (_digest(clear),),
    ).fetchone()
    if row is None:
        return None
    return _token(row)


_FIELDS = "token_id, role, department_id, name, created_at, created_by, revoked_at, expires_at"


def _token(row: tuple[Any, ...]) -> Token:
    return Token(row[0], Role(row[1]), row[2], row[3], row[4], row[5], row[6], row[7])


def listing(conn: psycopg.Connection[Any]) -> list[Token]:
    rows = conn.execute(f"SELECT {_FIELDS} FROM api_tokens ORDER BY created_at, token_id").fetchall()
    return [_token(r) for r in rows]


def revoke(conn: psycopg.Connection[Any], token_id: str) -> bool:
    cur = conn.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE token_id = %s AND revoked_at IS NULL",
        (token_id,),
    )
    return cur.rowcount == 1
