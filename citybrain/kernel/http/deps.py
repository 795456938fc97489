"""Request-scoped dependencies: the settings, a database connection, the caller.

Routers (here, ``alerts.incidents.api``, ``alerts.maintenance.api``) declare what they need:

    @router.post("/incidents/{incident_id}/ack")
    def ack(incident_id: int, who: Caller, conn: Conn) -> ...

``Caller`` (``citybrain.kernel.http.access``) authenticates the token and admits it by the
route's row of the access table. A connection is taken from the pool for the request
and committed when the handler returns without an exception (rolled back otherwise),
*before* the answer is sent: a change and its audit entry commit together, and a
commit that fails is an error answer, never a delivered body.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import psycopg
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import ConnectionPool

from citybrain.kernel.audit import Actor
from citybrain.kernel.clock import Clock, utc_now
from citybrain.kernel.http import tokens
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.i18n import Catalogue
from citybrain.kernel.settings import Settings

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

Connection = psycopg.Connection[Any]

_bearer = HTTPBearer(auto_error=False, description="a token from `citybrain tokens create`")


def settings(request: Request) -> Settings:
    value: Settings = request.app.state.settings
    return value


def now(request: Request) -> datetime:
    """Processing time of a request: the app's clock when one is set (tests freeze it),
    else the wall clock — the boundary where the clock is read."""
    frozen: Clock | None = getattr(request.app.state, "clock", None)
    return frozen() if frozen is not None else utc_now()


Now = Annotated[datetime, Depends(now)]


def connection(request: Request) -> Iterator[Connection]:
    pool: ConnectionPool[Connection] = request.app.state.pool
    with pool.connection() as conn:  # commits on success, rolls back on an exception
        yield conn


# scope="function": FastAPI leaves a yield dependency's default ("request") exit until
# after the response is sent, so a commit failing there would follow a delivered answer.
# Every route and the caller's authentication share this one declaration (FastAPI keys
# its per-request cache by scope, so a plain Depends(connection) would be a second one).
Conn = Annotated[Connection, Depends(connection, scope="function")]


def commit(conn: Connection, what: str) -> None:
    """Commit now, before the answer is built: a commit that fails is a 503 naming
    ``what`` (in the current language) was not recorded, and the body (an export, a
    figure) is not delivered."""
    try:
        conn.commit()
    except psycopg.Error as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            _("{what} could not be recorded in the audit log, so nothing is delivered; "
                              "try again").format(what=what)) from exc


class Reach(StrEnum):
    """How far a role's admission to a route reaches (``citybrain.kernel.http.access``)."""

    scoped = "scoped"   # every department, or the token's own when it is limited to one
    own = "own"         # its token's own department only; a token without one is refused
    city = "city"       # only a token not limited to a department (city-wide figures)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    token_id: str            # "" for a console session signed in without a token
    role: Role
    department: str | None   # the department a token is limited to; None = all
    reach: Reach = Reach.scoped   # set by the access table for the route being served
    # A console session (``citybrain.kernel.http.sessions``): who signed in, the audit
    # log's name for them, the one incident a notification link's session may reach.
    person: str | None = None
    actor_id: str | None = None
    incident: int | None = None

    @property
    def actor(self) -> Actor:
        return Actor(id=self.actor_id or f"token:{self.token_id}", role=self.role.value,
                     department=self.department)

    def may_see(self, department: str | None) -> bool:
        return self.department is None or department == self.department


def principal(
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    conn: Conn,
    at: Now,
) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                            _("missing token: send Authorization: Bearer <token>"),
                            headers={"WWW-Authenticate": "Bearer"})
    token = tokens.authenticate(conn, creds.credentials)
    if token is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, _("unknown or revoked token"),
                            headers={"WWW-Authenticate": "Bearer"})
    if token.expired(at):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, _("token expired: ask an admin for a new one"),
                            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return Principal(token.token_id, token.role, token.department)
