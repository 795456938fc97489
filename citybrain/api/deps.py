"""Request-scoped dependencies: the settings, a database connection, the caller.

Routers (here and in ``alerts.api``) declare what they need:

    @router.post("/incidents/{incident_id}/ack")
    def ack(incident_id: int, who: Principal = Depends(require(Role.oncall, Role.operator)),
            conn: Connection = Depends(connection)) -> ...

A connection is taken from the pool for the request and committed when the handler
returns without an exception (rolled back otherwise), so a change and its audit entry
commit together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import psycopg
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import ConnectionPool

from citybrain.api import tokens
from citybrain.api.tokens import Role
from citybrain.audit import Actor
from citybrain.settings import Settings

Connection = psycopg.Connection[Any]

_bearer = HTTPBearer(auto_error=False, description="a token from `citybrain tokens create`")


def settings(request: Request) -> Settings:
    value: Settings = request.app.state.settings
    return value


def now(request: Request) -> datetime:
    """Processing time of a request: the app's clock when one is set (tests freeze it),
    else the wall clock — the boundary where the clock is read."""
    frozen: Callable[[], datetime] | None = getattr(request.app.state, "clock", None)
    return frozen() if frozen is not None else datetime.now(UTC)


Now = Annotated[datetime, Depends(now)]


def connection(request: Request) -> Iterator[Connection]:
    pool: ConnectionPool[Connection] = request.app.state.pool
    with pool.connection() as conn:  # commits on success, rolls back on an exception
        yield conn


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    token_id: str
    role: Role
    department: str | None   # the department a token is limited to; None = all

    @property
    def actor(self) -> Actor:
        return Actor(id=f"token:{self.token_id}", role=self.role.value, department=self.department)

    def may_see(self, department: str | None) -> bool:
        return self.department is None or department == self.department


def principal(
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    conn: Annotated[Connection, Depends(connection)],
) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                            "missing token: send Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})
    token = tokens.authenticate(conn, creds.credentials)
    if token is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked token",
                            headers={"WWW-Authenticate": "Bearer"})
    return Principal(token.token_id, token.role, token.department)


def require(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency admitting only the given roles (admin is always admitted)."""
    allowed = set(roles) | {Role.admin}

    def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if who.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"role {who.role.value} may not do this (needs one of: {names})")
        return who

    return check


ANY_ROLE = (Role.operator, Role.oncall, Role.evaluator, Role.admin)


def scoped_department(who: Principal, asked: str | None) -> str | None:
    """The department a read is limited to: the token's own, or what was asked for."""
    if who.department is None:
        return asked
    if asked is not None and asked != who.department:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"this token is limited to department {who.department!r}")
    return who.department
