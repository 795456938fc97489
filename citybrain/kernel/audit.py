"""The audit log: who did what, when (table ``audit_log``, append-only).

Every report export, incident action, maintenance edit and policy edit writes one row
in the same transaction as the change it records, so an action without its audit entry
cannot commit.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from citybrain.kernel.errors import StoreError
from citybrain.kernel.i18n import Catalogue

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current


@dataclass(frozen=True)
class Actor:
    """Who acts: an API token (its public id and role) or a command-line user."""

    id: str
    role: str | None = None
    department: str | None = None

    @classmethod
    def cli(cls) -> Actor:
        # The OS account is the only identity a local command has; the CLI runs with
        # database credentials, so it acts as admin.
        return cls(id=f"cli:{getpass.getuser()}", role="admin")


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    role: str | None
    action: str
    subject: str | None
    details: dict[str, Any]


def record(conn: psycopg.Connection[Any], actor: Actor, action: str, subject: str | None = None,
           details: dict[str, Any] | None = None, *, at: datetime | None = None) -> int:
    """Append one entry; the caller commits it with the change it records."""
    try:
        row = conn.execute(
            "INSERT INTO audit_log (at, actor, role, action, subject, details)"
            " VALUES (coalesce(%s, now()), %s, %s, %s, %s, %s) RETURNING id",
            (at, actor.id, actor.role, action, subject, Jsonb(details or {})),
        ).fetchone()
    except psycopg.Error as exc:
        raise StoreError(_("cannot write the audit log: {error}; run `citybrain db migrate`").format(
            error=exc)) from exc
    assert row is not None
    return int(row[0])


def entries(conn: psycopg.Connection[Any], *, action: str | None = None,
            limit: int = 100) -> list[AuditEntry]:
    rows = conn.execute(
        "SELECT id, at, actor, role, action, subject, details FROM audit_log"
        " WHERE %(action)s::text IS NULL OR action = %(action)s ORDER BY id DESC LIMIT %(limit)s",
        {"action": action, "limit": limit},
    ).fetchall()
    return [AuditEntry(*r) for r in rows]


def people(conn: psycopg.Connection[Any], actor_ids: Iterable[str | None]) -> dict[str, str]:
    """The name a person reads for each actor id of the audit log: a token's holder
    (``token:<id>`` → the token's name, its id when it has none), the name a link or a code
    was issued to (``link:<name>``, ``code:<name>``), the OS account of a command
    (``cli:<user>``); any other id as it is. One query for all the tokens."""
    wanted = {a for a in actor_ids if a}
    token_ids = sorted(a.removeprefix("token:") for a in wanted if a.startswith("token:"))
    named: dict[str, str] = {}
    if token_ids:
        rows = conn.execute("SELECT token_id, name FROM api_tokens WHERE token_id = ANY(%s)",
                            (token_ids,)).fetchall()
        named = {f"token:{token_id}": name for token_id, name in rows if name}
    out: dict[str, str] = {}
    for actor in wanted:
        kind, _sep, rest = actor.partition(":")
        if kind == "token":
            out[actor] = named.get(actor, actor)
        elif kind in ("link", "code", "cli") and rest:
            out[actor] = rest
        else:
            out[actor] = actor
    return out
