"""Signing in and out, and the dependency every console page declares (``Viewer``).

``Viewer`` reads the session cookie (``citybrain.kernel.http.sessions``), refuses a POST
whose form lacks the session's anti-forgery value or comes from another origin, admits
the session by the route's row of the access table (``citybrain.kernel.http.access``) —
the same table the API's tokens are admitted by — and keeps a notification link's session
to its one incident. A request without a live session is sent to the sign-in page, which
says why (expired, idle, signed out) and comes back to where it was going.

Sign-in: a personal token (``citybrain tokens create``: the session acts with its role and
department and names the token's holder), or a one-time code e-mailed to a roster contact
(``codes``). Sign-in forms have no session yet, so they carry a double-submit value
(a ``SameSite=Strict`` cookie and the same value in the form) against login forgery. Every
sign-in, refusal of a code and sign-out is in the audit log.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response, status
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from citybrain.console import codes
from citybrain.console.pages import LANGUAGE_COOKIE, PREFIX, language_of_request, render, settings_of
from citybrain.kernel import audit
from citybrain.kernel.http import sessions, tokens
from citybrain.kernel.http.access import admit, rule_for
from citybrain.kernel.http.deps import Conn, Connection, Now
from citybrain.kernel.http.sessions import Session, SessionEnded
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.i18n import LANGUAGES, N_, Catalogue
from citybrain.kernel.settings import Settings

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current
router = APIRouter(include_in_schema=False)

FORM_COOKIE = "citybrain_form"     # the sign-in forms' double-submit value
MAX_FIELD = 4000


class ConsoleError(Exception):
    """A refusal shown as a console page (not the API's JSON): status and sentence."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


class SignInNeeded(Exception):
    def __init__(self, next_path: str, why: str | None = None) -> None:
        super().__init__(why or "sign in")
        self.next_path = next_path
        self.why = why



def same_origin(request: Request) -> bool:
    """A browser's POST names where its form came from (Origin, else Referer); it must be
    this server. A request naming neither (not a browser) is judged by the form's value."""
    sent = request.headers.get("origin") or request.headers.get("referer")
    if not sent or sent == "null":
        return sent != "null"
    here = request.headers.get("host", "")
    public = urlsplit(settings_of(request).public_url).netloc
    return urlsplit(sent).netloc in {here, public}


async def _form_field(request: Request, name: str) -> str | None:
    form = await request.form()
    value = form.get(name)
    return value if isinstance(value, str) else None


def _path_with_query(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def _route_path(request: Request) -> str | None:
    route = request.scope.get("route")
    return getattr(route, "path_format", None) or getattr(route, "path", None)


async def viewer(request: Request, conn: Conn, now: Now) -> Session:
    """The signed-in session, admitted to this route (module docstring)."""
    settings = settings_of(request)
    clear = request.cookies.get(sessions.cookie_name(settings))
    going = _path_with_query(request) if request.method == "GET" else PREFIX + "/"
    if not clear:
        raise SignInNeeded(going)
    try:
        session = sessions.load(conn, clear, now=now, settings=settings)
    except SessionEnded as ended:
        conn.commit()   # the session's end is recorded even though this request fails
        raise SignInNeeded(going, ended.why) from None
    request.state.console_session = session
    if request.method == "POST" and (
            not same_origin(request) or not sessions.csrf_ok(session, await _form_field(request, "csrf"))):
        raise ConsoleError(status.HTTP_403_FORBIDDEN, _(
                "This form was not sent from this console page (its anti-forgery value is missing or "
                "wrong). Reload the page and try again."))
    method = "GET" if request.method == "HEAD" else request.method
    path = _route_path(request)
    rule = rule_for(method, path) if path is not None else None
    if session.principal.incident is not None:
        asked = request.path_params.get("incident_id")
        if rule is None or not rule.incident_session or (
                asked is not None and str(asked) != str(session.principal.incident)):
            raise ConsoleError(status.HTTP_403_FORBIDDEN, _(
                "You signed in with a notification's link, which opens incident #{number} only. "
                "Sign in with your token or a code to see more.").format(number=session.principal.incident))
    try:
        admitted = admit(session.principal, rule)
    except HTTPException as exc:
        raise ConsoleError(exc.status_code, str(exc.detail)) from None
    return Session(session.session_id, admitted, session.csrf, session.signed_in_with,
                   session.created_at, session.expires_at)


Viewer = Annotated[Session, Depends(viewer)]


# --- pages and answers -----------------------------------------------------------------

def safe_next(value: str | None) -> str:
    """Where to go after signing in: a console path on this server, nothing else."""
    if value and value.startswith(PREFIX + "/") and not value.startswith("//") and "\\" not in value:
        return value
    return PREFIX + "/"


def redirect(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=status.HTTP_303_SEE_OTHER)


def set_session_cookie(response: Response, settings: Settings, clear: str, session: Session) -> None:
    response.set_cookie(sessions.cookie_name(settings), clear, httponly=True, samesite="lax",
                        secure=sessions.secure(settings), path="/",
                        max_age=max(1, int((session.expires_at - session.created_at).total_seconds())))


def _form_token(request: Request) -> tuple[str, bool]:
    """The double-submit value of the sign-in forms: the cookie's, or a new one."""
    existing = request.cookies.get(FORM_COOKIE)
    if existing and 16 <= len(existing) <= 64:
        return existing, False
    return secrets.token_urlsafe(24), True


def _with_form_cookie(request: Request, response: Response, value: str, new: bool) -> Response:
    if new:
        response.set_cookie(FORM_COOKIE, value, httponly=True, samesite="strict",
                            secure=sessions.secure(settings_of(request)), path=PREFIX)
    return response


def sign_in_page(request: Request, *, next_path: str = PREFIX + "/", why: str | None = None,
                 problem: str | None = None, sent_to: str | None = None, code_request: str | None = None,
                 status_code: int = 200) -> Response:
    value, new = _form_token(request)
    page = render(request, "sign_in.html", {
        "next": safe_next(next_path), "why": why, "problem": problem, "form_token": value,
        "sent_to": sent_to, "code_request": code_request}, status_code=status_code)
    return _with_form_cookie(request, page, value, new)


def _stale_form(request: Request, next_path: str) -> Response:
    return sign_in_page(request, next_path=next_path, status_code=403, problem=_(
        "This sign-in form has expired or came from elsewhere. Try again."))


def _form_ok(request: Request, sent: str | None) -> bool:
    cookie = request.cookies.get(FORM_COOKIE)
    return (same_origin(request) and cookie is not None and sent is not None
            and hmac.compare_digest(cookie.encode(), sent.encode()))


def install(app: Any) -> None:
    """The console's answers to its refusals: pages, and the sign-in page for no session."""

    async def on_sign_in(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInNeeded)
        if request.method == "GET" and exc.why is None:
            return redirect(f"{PREFIX}/sign-in?next={quote(exc.next_path, safe='/')}")
        page = sign_in_page(request, next_path=exc.next_path, why=exc.why, status_code=401)
        if exc.why is not None:   # the cookie names a session that is over: the browser drops it
            page.delete_cookie(sessions.cookie_name(settings_of(request)), path="/")
        return page

    async def on_refusal(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ConsoleError)
        return render(request, "error.html", {"status": exc.status_code, "message": exc.message},
                      status_code=exc.status_code)

    app.add_exception_handler(SignInNeeded, on_sign_in)
    app.add_exception_handler(ConsoleError, on_refusal)


def refuse_http(exc: StarletteHTTPException) -> ConsoleError:
    return ConsoleError(exc.status_code, str(exc.detail))


# --- routes ----------------------------------------------------------------------------

@router.get("/")
def root() -> RedirectResponse:
    return redirect(PREFIX + "/")


@router.get(PREFIX + "/sign-in")
def sign_in_form(request: Request, next: str | None = None) -> Response:
    return sign_in_page(request, next_path=next or PREFIX + "/")


def open_session(request: Request, conn: Connection, now: datetime, going: str, **start: Any) -> Response:
    """A new session (``sessions.start`` with ``start``), its audit entry, its cookie and
    a 303 to ``going``: every sign-in ends here, whatever proved who it is (a token, a
    code, a notification's link)."""
    settings = settings_of(request)
    session, clear = sessions.start(conn, now=now, settings=settings, **start)
    _audit_sign_in(conn, session, now)
    response = redirect(going)
    set_session_cookie(response, settings, clear, session)
    return response


def _audit_sign_in(conn: Connection, session: Session, now: datetime) -> None:
    who = session.principal
    audit.record(conn, who.actor, "console.sign_in", session.session_id,
                 {"with": session.signed_in_with, "person": who.person, "department": who.department,
                  "incident": who.incident, "expires_at": session.expires_at.isoformat()}, at=now)


Field = Annotated[str, Form(max_length=MAX_FIELD)]


@router.post(PREFIX + "/sign-in")
def sign_in_with_token(request: Request, conn: Conn, now: Now, token: Field = "", form_token: Field = "",
                       next: Field = "") -> Response:
    if not _form_ok(request, form_token):
        return _stale_form(request, next)
    found = tokens.authenticate(conn, token.strip()) if token.strip() else None
    if found is None:
        return sign_in_page(request, next_path=next, status_code=401, problem=_(
            "This token is unknown or revoked. Check it, or ask an admin for a new one."))
    if found.expired(now):
        return sign_in_page(request, next_path=next, status_code=401, problem=_(
            "This token has expired. Ask an admin for a new one."))
    return open_session(request, conn, now, safe_next(next), actor_id=f"token:{found.token_id}",
                        person=found.name or found.token_id, role=found.role, department=found.department,
                        signed_in_with="token", token_id=found.token_id, not_after=found.expires_at)


@router.post(PREFIX + "/sign-in/code")
def send_code(request: Request, conn: Conn, now: Now, email: Field = "", form_token: Field = "",
              next: Field = "") -> Response:
    if not _form_ok(request, form_token):
        return _stale_form(request, next)
    settings = settings_of(request)
    contact = codes.by_email(conn, email)
    # The page is the same whether or not the address is on a roster: it tells nobody who is.
    request_value, code = ("", "")
    if contact is not None:
        request_value, code = codes.issue(conn, contact, now=now, settings=settings)
        audit.record(conn, audit.Actor(f"code:{contact.name}", None, contact.department_id),
                     "console.code_sent", contact.department_id, {"person": contact.name}, at=now)
        conn.commit()   # the code exists before the mail that carries it
        outcome = codes.send(settings, contact, code, language_of_request(request), now=now)
        if not outcome.delivered:
            return sign_in_page(request, next_path=next, status_code=503, problem=_(
                "The code could not be sent ({reason}). Sign in with your token, or try again later.").format(
                    reason=outcome.detail))
    else:
        request_value = secrets.token_urlsafe(24)   # looks like any other; redeems nothing
    return sign_in_page(request, next_path=next, sent_to=email.strip(), code_request=request_value)


_CODE_REFUSED = {
    "wrong": N_("That code is not right. Check the mail and type it again."),
    "expired": N_("That code has expired or was tried too often. Ask for a new one."),
    "used": N_("That code was used already. Ask for a new one."),
    "unknown": N_("That code is not right. Check the mail and type it again."),
}


def code_refusal(why: str) -> str:
    return _(_CODE_REFUSED.get(why, _CODE_REFUSED["unknown"]))


@router.post(PREFIX + "/sign-in/code/verify")
def verify_code(request: Request, conn: Conn, now: Now, code: Field = "", code_request: Field = "",
                form_token: Field = "", next: Field = "", email: Field = "") -> Response:
    if not _form_ok(request, form_token):
        return _stale_form(request, next)
    settings = settings_of(request)
    try:
        redeemed = codes.redeem(conn, code_request, code, now=now, settings=settings)
    except codes.CodeRefused as refused:
        return sign_in_page(request, next_path=next, status_code=401, problem=code_refusal(refused.why),
                            sent_to=email or None,
                            code_request=code_request if refused.why == "wrong" else None)
    role, department = redeemed.session_role
    return open_session(request, conn, now, safe_next(next), actor_id=f"code:{redeemed.person}",
                        person=redeemed.person, role=role, department=department, signed_in_with="code")


@router.post(PREFIX + "/sign-out")
def sign_out(request: Request, session: Viewer, conn: Conn, now: Now) -> Response:
    sessions.end(conn, session.session_id, now)
    audit.record(conn, session.principal.actor, "console.sign_out", session.session_id, {}, at=now)
    response = sign_in_page(request, why="signed_out")
    response.delete_cookie(sessions.cookie_name(settings_of(request)), path="/")
    return response


@router.get(PREFIX + "/language")
def pick_language(to: str, next: str | None = None) -> Response:
    response = redirect(safe_next(next))
    if to in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, to, samesite="lax", path="/", max_age=365 * 24 * 3600)
    return response


@router.get(PREFIX + "/")
def home(session: Viewer) -> Response:
    """Where a session starts: the page its role works on."""
    who = session.principal
    if who.incident is not None:
        return redirect(f"{PREFIX}/incidents/{who.incident}")
    start = {Role.operator: "overview", Role.admin: "overview", Role.oncall: "incidents",
             Role.evaluator: "reports"}[who.role]
    return redirect(f"{PREFIX}/{start}")


@router.get(PREFIX + "/account")
def account(request: Request, session: Viewer) -> Response:
    """Who this session is: the person, role, department, how they signed in, until when."""
    return render(request, "account.html", {
        "signed_in_with": session.signed_in_with, "created_at": session.created_at,
        "expires_at": session.expires_at})
