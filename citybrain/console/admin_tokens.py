"""Tokens: the list (never a secret), creating one (its clear text shown once), revoking.

The same functions and audit entries as ``citybrain tokens create|revoke``
(``token.create``, ``token.revoke``). A token's lifetime runs from the request's time,
the clock the API checks expiry with. A department-limited admin sees, creates and
revokes its own department's tokens only: a token it made can never reach further than
its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request, status
from fastapi.responses import Response

from citybrain.console.admin import ADMIN, allowed, departments, page_language
from citybrain.console.auth import ConsoleError, Viewer, redirect
from citybrain.console.pages import render
from citybrain.kernel import audit
from citybrain.kernel.errors import CitybrainError
from citybrain.kernel.http import tokens
from citybrain.kernel.http.deps import Conn, Connection, Now, Principal
from citybrain.kernel.http.deps import now as request_now
from citybrain.kernel.http.tokens import Role, Token
from citybrain.kernel.i18n import Catalogue, current_language
from schemas.names import load_names

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current
router = APIRouter(include_in_schema=False)

TOKENS = ADMIN + "/tokens"
TokenId = Annotated[str, Path(max_length=64)]
Short = Annotated[str, Form(max_length=200)]


def _mine(conn: Connection, who: Principal) -> list[Token]:
    """The tokens this admin may see, newest first: all, or its department's."""
    found = [t for t in tokens.listing(conn) if who.may_see(t.department)]
    return sorted(found, key=lambda t: (t.created_at, t.token_id), reverse=True)


def _one(conn: Connection, who: Principal, token_id: str) -> Token:
    found = next((t for t in tokens.listing(conn) if t.token_id == token_id), None)
    if found is None:
        raise ConsoleError(status.HTTP_404_NOT_FOUND, _("There is no token {token_id}.").format(
            token_id=repr(token_id)))
    allowed(who, found.department, _("token {token_id}").format(token_id=token_id))
    return found


def _page(request: Request, conn: Connection, who: Principal, *, form: dict[str, str] | None = None,
          problem: str | None = None, revoked: str | None = None, status_code: int = 200) -> Response:
    with page_language(request) as language:
        listed = _mine(conn, who)
        names = load_names(conn, language, asset_ids=())
        choices = departments(conn, who, language)
    return render(request, "admin_tokens.html", {
        "tokens": listed, "names": names.departments, "departments": choices, "roles": list(Role),
        "form": form or {"name": "", "role": Role.oncall.value, "department": who.department or "",
                         "lifetime": "90d"},
        # Only a token this admin sees and that is revoked: a crafted link announces nothing.
        "problem": problem,
        "revoked": revoked if any(t.token_id == revoked and t.revoked_at for t in listed) else None,
        "now": request_now(request)}, status_code=status_code)


@router.get(TOKENS)
def token_list(request: Request, session: Viewer, conn: Conn, revoked: str | None = None) -> Response:
    return _page(request, conn, session.principal, revoked=revoked)


def _expiry(lifetime: str, now: datetime) -> datetime | None:
    return now + tokens.parse_lifetime(lifetime) if lifetime.strip() else None


@router.post(TOKENS)
def create_token(request: Request, session: Viewer, conn: Conn, now: Now, name: Short = "",
                 role: Short = "", department: Short = "", lifetime: Short = "") -> Response:
    who = session.principal
    form = {"name": name, "role": role, "department": department, "lifetime": lifetime}
    limited_to = department.strip() or None
    with page_language(request):
        # Refused outright, as the API would: a token reaching past this admin's own department.
        allowed(who, limited_to, _("a new token"))
        try:
            if not name.strip():
                raise tokens.TokenError(_("Name who or what holds the token (a person, a system)."))
            if role not in {r.value for r in Role}:
                raise tokens.TokenError(_("Choose a role."))
            if role == Role.oncall.value and limited_to is None:
                raise tokens.TokenError(_("An on-call token needs a department: it acts for that "
                                          "department only."))
            expires_at = _expiry(lifetime, now)
            token, clear = tokens.create(conn, Role(role), department=limited_to, name=name.strip(),
                                         created_by=who.actor.id, expires_at=expires_at)
        except CitybrainError as exc:
            return _page(request, conn, who, form=form, problem=str(exc), status_code=422)
        audit.record(conn, who.actor, "token.create", token.token_id,
                     {"role": token.role.value, "department": limited_to, "name": token.name,
                      "expires_at": expires_at.isoformat() if expires_at else None}, at=now)
        names = load_names(conn, current_language(), asset_ids=())
    # The page that shows the clear text is sent with no-store (pages.HEADERS), never cached.
    return render(request, "admin_token_created.html", {"token": token, "clear": clear,
                                                        "names": names.departments})


@router.get(TOKENS + "/{token_id}/revoke")
def revoke_form(request: Request, token_id: TokenId, session: Viewer, conn: Conn) -> Response:
    with page_language(request) as language:
        found = _one(conn, session.principal, token_id)
        names = load_names(conn, language, asset_ids=())
    return render(request, "admin_token_revoke.html", {"token": found, "names": names.departments,
                                                       "own": found.token_id == session.principal.token_id})


@router.post(TOKENS + "/{token_id}/revoke")
def revoke_token(request: Request, token_id: TokenId, session: Viewer, conn: Conn, now: Now) -> Response:
    who = session.principal
    with page_language(request):
        found = _one(conn, who, token_id)
        if not tokens.revoke(conn, token_id):
            raise ConsoleError(status.HTTP_409_CONFLICT, _("Token {token_id} was revoked already.").format(
                token_id=repr(token_id)))
        details: dict[str, Any] = {"role": found.role.value, "department": found.department,
                                   "name": found.name}
        audit.record(conn, who.actor, "token.revoke", token_id, details, at=now)
    return redirect(f"{TOKENS}?revoked={token_id}")
