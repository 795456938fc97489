"""One-time codes e-mailed to the people of a department's roster.

The roster is the registry's contacts of a department (``departments.contacts`` and its
``first_responsible``) that have an e-mail address — the same people the escalation pages.
A code proves that whoever types it reads that person's mail: it signs them in to the
console, or names them as the one acting on a link that was sent to a group robot.

A code is six digits, lives ``Settings.console_code_minutes``, is used up by
``console_code_attempts`` wrong tries and works once. It is bound to the browser that asked
for it: the form that asks for the code carries a random value (``request``) whose digest,
with the code's, is what is stored, so a code read over a shoulder is no use elsewhere.
Addresses are never shown: pages list names only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import psycopg

from alerts.model import Outcome
from alerts.notifiers.email import SmtpConfig, submit
from alerts.notifiers.outcomes import permanent
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.i18n import Catalogue, Language
from citybrain.kernel.settings import Settings

MESSAGES = Catalogue.of_package(__name__)
Connection = psycopg.Connection[Any]

# Contact roles that are people on a roster (groups are robots, not people).
PEOPLE = ("oncall", "lead", "first_responsible", "duty_supervisor")


@dataclass(frozen=True)
class Contact:
    department_id: str
    name: str
    role: str
    email: str


class CodeRefused(Exception):
    """The code cannot sign in; ``why`` is ``wrong``, ``expired``, ``used`` or ``unknown``."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def _people(department_id: str, first: Any, contacts: Any) -> list[Contact]:
    found: list[Contact] = []
    listed = ([{**first, "role": "first_responsible"}] if isinstance(first, dict) and first else [])
    listed += [c for c in (contacts or []) if isinstance(c, dict)]
    seen: set[str] = set()
    for c in listed:
        email, role = str(c.get("email") or "").strip(), str(c.get("role") or "")
        if not email or role not in PEOPLE or email.lower() in seen:
            continue
        seen.add(email.lower())
        found.append(Contact(department_id, str(c.get("name") or email).strip()[:200], role, email))
    return found


def roster(conn: Connection, department_id: str) -> list[Contact]:
    """The department's people with an e-mail address, in the registry's order."""
    row = conn.execute("SELECT first_responsible, contacts FROM departments WHERE department_id = %s",
                       (department_id,)).fetchone()
    return [] if row is None else _people(department_id, row[0], row[1])


def by_email(conn: Connection, email: str) -> Contact | None:
    """The roster contact with this address (the first department listing it), or None."""
    wanted = email.strip().lower()
    if not wanted or len(wanted) > 320:
        return None
    rows = conn.execute(
        "SELECT department_id, first_responsible, contacts FROM departments d"
        " WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(d.contacts) c WHERE lower(c->>'email') = %(e)s)"
        " OR lower(d.first_responsible->>'email') = %(e)s ORDER BY department_id", {"e": wanted}).fetchall()
    for department_id, first, contacts in rows:
        for contact in _people(department_id, first, contacts):
            if contact.email.lower() == wanted:
                return contact
    return None


def _digest(request: str, code: str) -> bytes:
    return hashlib.sha256(f"{request}\0{code}".encode()).digest()


def issue(conn: Connection, contact: Contact, *, now: datetime, settings: Settings,
          incident: int | None = None) -> tuple[str, str]:
    """A new code for ``contact``: (the browser's request value, the code to send)."""
    request = secrets.token_urlsafe(24)
    code = f"{secrets.randbelow(1_000_000):06d}"
    conn.execute(
        "INSERT INTO sign_in_codes (request_sha256, code_sha256, person, contact_role, department_id,"
        " incident_id, created_at, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (hashlib.sha256(request.encode()).digest(), _digest(request, code), contact.name, contact.role,
         contact.department_id, incident, now, now + timedelta(minutes=settings.console_code_minutes)))
    return request, code


@dataclass(frozen=True)
class Redeemed:
    person: str
    contact_role: str
    department_id: str | None
    incident: int | None

    @property
    def session_role(self) -> tuple[Role, str | None]:
        """The role and department the person acts with once signed in: the operations
        centre's duty supervisors watch the whole city (operator); the rest act for their
        own department (oncall)."""
        if self.contact_role == "duty_supervisor":
            return Role.operator, None
        return Role.oncall, self.department_id


def redeem(conn: Connection, request: str, code: str, *, now: datetime, settings: Settings) -> Redeemed:
    """The person a right code names (the code is used up), else ``CodeRefused``. A wrong
    try is counted even though the caller's transaction is rolled back: it is committed here."""
    row = conn.execute(
        "SELECT code_id, code_sha256, person, contact_role, department_id, incident_id, expires_at, attempts,"
        " used_at FROM sign_in_codes WHERE request_sha256 = %s FOR UPDATE",
        (hashlib.sha256(request.encode()).digest(),)).fetchone()
    if row is None:
        raise CodeRefused("unknown")
    code_id, stored, person, role, department, incident, expires_at, attempts, used_at = row
    if used_at is not None:
        raise CodeRefused("used")
    if now >= expires_at or attempts >= settings.console_code_attempts:
        raise CodeRefused("expired")
    if not hmac.compare_digest(stored, _digest(request, code.strip())):
        conn.execute("UPDATE sign_in_codes SET attempts = attempts + 1 WHERE code_id = %s", (code_id,))
        conn.commit()
        raise CodeRefused("wrong")
    conn.execute("UPDATE sign_in_codes SET used_at = %s WHERE code_id = %s", (now, code_id))
    return Redeemed(person, role, department, incident)


def send(settings: Settings, contact: Contact, code: str, language: Language, *, now: datetime,
         incident: int | None = None) -> Outcome:
    """E-mail the code to the contact (blocking, bounded by the notifier time-out)."""
    config = SmtpConfig.from_settings(settings)
    if config is None:
        return permanent("no mail server is configured (CITYBRAIN_SMTP_HOST)")
    t = MESSAGES.translator(language)
    minutes = f"{settings.console_code_minutes:g}"
    mail = EmailMessage()
    mail["Subject"] = t.gettext("Citybrain sign-in code {code}").format(code=code)
    mail["From"] = config.sender
    mail["To"] = contact.email
    mail["Date"] = format_datetime(now.astimezone(settings.tz))
    mail["Message-ID"] = make_msgid(domain=config.domain)
    lines = [t.gettext("Your one-time code for the Citybrain console: {code}").format(code=code),
             t.gettext("It works once, for {minutes} minutes, in the browser that asked for it.").format(
                 minutes=minutes)]
    if incident is not None:
        lines.append(t.gettext("It names you as the one acting on incident #{number}.").format(
            number=incident))
    lines.append(t.gettext("If you did not ask for it, ignore this mail and tell the operations centre."))
    mail.set_content("\n\n".join(lines) + "\n")
    return submit(config, mail, contact.email)
