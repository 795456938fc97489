"""Console sessions: a browser signed in with a token, a one-time code or a signed link.

The cookie carries a random secret; the table ``console_sessions`` keeps its SHA-256 only.
A session ends at its absolute expiry, after ``Settings.console_idle_minutes`` without a
request, or when signed out, and never outlives the token it was opened with (a revoked
or expired token ends its sessions at their next request). Forms carry the session's
anti-forgery value (``csrf``), compared in constant time on every POST, and the cookie is
``HttpOnly`` and ``SameSite=Lax`` — and ``Secure`` with the ``__Host-`` prefix when the
public address is HTTPS — so neither script nor another site can use it.

Everything here takes the time as a parameter: the console reads its clock once per request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from citybrain.kernel.http.deps import Principal
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.settings import Settings

Connection = psycopg.Connection[Any]

COOKIE = "citybrain_session"
SECURE_COOKIE = "__Host-citybrain_session"   # the browser keeps it to this host, HTTPS, path /
CSRF_FIELD = "csrf"


class SessionEnded(Exception):
    """The cookie names a session that is over; the message says why (for the sign-in page)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why   # expired | idle | signed_out | token | unknown


@dataclass(frozen=True)
class Session:
    session_id: str
    principal: Principal
    csrf: str
    signed_in_with: str
    created_at: datetime
    expires_at: datetime


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def cookie_name(settings: Settings) -> str:
    return SECURE_COOKIE if secure(settings) else COOKIE


def secure(settings: Settings) -> bool:
    """Whether the cookie is Secure: the console is served over HTTPS (its public address)."""
    return settings.public_url.lower().startswith("https://")


def start(conn: Connection, *, actor_id: str, person: str, role: Role, department: str | None,
          signed_in_with: str, now: datetime, settings: Settings, token_id: str | None = None,
          incident: int | None = None, not_after: datetime | None = None) -> tuple[Session, str]:
    """A new session and its cookie value (shown once, to the browser)."""
    clear = secrets.token_urlsafe(32)
    session_id = secrets.token_hex(6)
    csrf = secrets.token_urlsafe(24)
    expires_at = now + timedelta(hours=settings.console_session_hours)
    if not_after is not None:
        expires_at = min(expires_at, not_after)
    conn.execute(
        "INSERT INTO console_sessions (session_sha256, session_id, actor_id, person, role, department_id,"
        " token_id, incident_id, csrf, signed_in_with, created_at, last_seen_at, expires_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (digest(clear), session_id, actor_id, person, role.value, department, token_id, incident, csrf,
         signed_in_with, now, now, expires_at))
    principal = Principal(token_id or "", role, department, person=person, actor_id=actor_id,
                          incident=incident)
    return Session(session_id, principal, csrf, signed_in_with, now, expires_at), clear


def load(conn: Connection, clear: str, *, now: datetime, settings: Settings) -> Session:
    """The live session of this cookie value, its last request moved to ``now``; else
    ``SessionEnded`` saying why."""
    row = conn.execute(
        "SELECT s.session_id, s.actor_id, s.person, s.role, s.department_id, s.token_id, s.incident_id,"
        " s.csrf, s.signed_in_with, s.created_at, s.last_seen_at, s.expires_at, s.ended_at,"
        " t.revoked_at, t.expires_at"
        " FROM console_sessions s LEFT JOIN api_tokens t USING (token_id) WHERE s.session_sha256 = %s",
        (digest(clear),)).fetchone()
    if row is None:
        raise SessionEnded("unknown")
    (session_id, actor_id, person, role, department, token_id, incident, csrf, how, created_at,
     last_seen_at, expires_at, ended_at, token_revoked, token_expires) = row
    if ended_at is not None:
        raise SessionEnded("signed_out")
    why = None
    if now >= expires_at:
        why = "expired"
    elif now >= last_seen_at + timedelta(minutes=settings.console_idle_minutes):
        why = "idle"
    elif token_id is not None and (token_revoked is not None
                                   or (token_expires is not None and now >= token_expires)):
        why = "token"
    if why is not None:
        conn.execute("UPDATE console_sessions SET ended_at = %s WHERE session_id = %s AND ended_at IS NULL",
                     (now, session_id))
        raise SessionEnded(why)
    conn.execute("UPDATE console_sessions SET last_seen_at = greatest(last_seen_at, %s)"
                 " WHERE session_id = %s", (now, session_id))
    principal = Principal(token_id or "", Role(role), department, person=person, actor_id=actor_id,
                          incident=incident)
    return Session(session_id, principal, csrf, how, created_at, expires_at)


def end(conn: Connection, session_id: str, now: datetime) -> None:
    conn.execute("UPDATE console_sessions SET ended_at = %s WHERE session_id = %s AND ended_at IS NULL",
                 (now, session_id))


def csrf_ok(session: Session, sent: str | None) -> bool:
    return sent is not None and hmac.compare_digest(session.csrf.encode(), sent.encode())
