"""A notification's signed link signs its recipient in, for that one incident.

The link (``alerts.incidents.ack_link``: ``/console/link/<id>?who=…&exp=…&sig=…``) is the
credential: HMAC-signed for one recipient of one incident, expiring. Its GET only shows
a page — chat apps and mail scanners fetch links by themselves — and signs nobody in:

- a link mailed to a person: "open incident #N as <name>", one button; its POST opens a
  session as ``link:<name>`` (on call for the incident's department), limited to that
  incident and ending when the link expires;
- a link sent to a group's robot (WeCom, DingTalk, Feishu, a webhook) names no person:
  the page asks who is acting (the department's roster, names only), a one-time code is
  e-mailed to that person (``codes``), and the code opens a session as ``code:<name>``,
  limited to the incident — so every acknowledgement names a person, never the group.

The POSTs carry no session (there is none yet) and so no anti-forgery value: each
carries the signed fields again, re-verified, and must come from this server's own page
(``auth.same_origin``). A refused link says why, in the reader's language, and what to do.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, status
from fastapi.responses import Response

from alerts.incidents import ack_link
from alerts.incidents import store as incidents
from alerts.incidents.store import IncidentNotFound
from alerts.notifiers.message import MESSAGES as ALERTS
from alerts.notifiers.message import role_label, severity_label, status_label
from citybrain.console import codes
from citybrain.console.auth import (
    ConsoleError,
    code_refusal,
    open_session,
    same_origin,
)
from citybrain.console.pages import PREFIX, language_of_request, render, settings_of
from citybrain.kernel import audit
from citybrain.kernel.http.deps import Conn, Connection, Now
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.i18n import Catalogue, use_language
from schemas.names import names_for

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current
router = APIRouter(include_in_schema=False)

MAX_FIELD = 1000
LinkQuery = Annotated[str, Query()]
Field = Annotated[str, Form()]



def _refused(message: str) -> ConsoleError:
    return ConsoleError(status.HTTP_403_FORBIDDEN, message)


def _verify(request: Request, incident_id: int, who: str, exp: str, sig: str,
            now: datetime) -> ack_link.Signer:
    """The link's signer, or a 403 page saying why and what to do."""
    secret = settings_of(request).ack_link_secret
    if secret is None:
        raise _refused(_("This server signs no notification links. Sign in with your token to open the "
                         "incident."))
    if max(len(who), len(exp), len(sig)) > MAX_FIELD:
        raise _refused(_("This link is incomplete or garbled. Open it from the notification as it was sent "
                         "(a mail program may cut a long link)."))
    try:
        return ack_link.verify(secret.get_secret_value(), incident_id, who, exp, sig, now=now)
    except ack_link.LinkExpired:
        raise _refused(_("This link has expired. Open the link of a newer notification, or sign in with "
                         "your token.")) from None
    except ack_link.LinkMalformed:
        raise _refused(_("This link is incomplete or garbled. Open it from the notification as it was sent "
                         "(a mail program may cut a long link).")) from None
    except ack_link.LinkInvalid:
        raise _refused(_("This link is not valid for incident #{number}: it was altered, belongs to another "
                         "incident or was signed with another key. Open it from the notification as it was "
                         "sent, or sign in with your token.").format(number=incident_id)) from None


def _incident(conn: Connection, incident_id: int) -> incidents.Incident:
    try:
        return incidents.show(conn, incident_id)
    except IncidentNotFound:
        raise ConsoleError(status.HTTP_404_NOT_FOUND, _("There is no incident #{number}.").format(
            number=incident_id)) from None


def _checked(request: Request, incident_id: int, who: str, exp: str, sig: str,
             now: datetime) -> ack_link.Signer:
    """A POST: from this server's page, with a link that verifies."""
    if not same_origin(request):
        raise _refused(_("This form was not sent from this console's page. Open the link again."))
    return _verify(request, incident_id, who, exp, sig, now)


def _summary(conn: Connection, request: Request, found: incidents.Incident) -> dict[str, object]:
    language = language_of_request(request)
    a = ALERTS.translator(language)
    names = names_for(conn, language, department_ids=[found.department_id] if found.department_id else [],
                      asset_ids=found.assets[:3])
    return {"found": found, "severity": severity_label(a, found.severity),
            "status_label": status_label(a, found.status.value),
            "department": names.department(found.department_id),
            "assets": [(x, names.asset(x) or x) for x in found.assets[:3]],
            "more_assets": len(found.assets) - 3}


def _page(request: Request, conn: Connection, found: incidents.Incident, fields: dict[str, str],
          signer: ack_link.Signer, *, step: str, status_code: int = 200, **extra: object) -> Response:
    a = ALERTS.translator(language_of_request(request))
    roster = codes.roster(conn, found.department_id) if found.department_id else []
    return render(request, "link.html", {
        **_summary(conn, request, found), "fields": fields, "signer": signer, "step": step,
        "roster": [(c.name, role_label(a, c.role)) for c in roster],
        "sign_in": f"{PREFIX}/sign-in?next={PREFIX}/incidents/{found.incident_id}",
        "problem": None, "person": None, "code_request": None, **extra}, status_code=status_code)


def _start(request: Request, conn: Connection, now: datetime, *, incident_id: int, expires: int,
           **start: Any) -> Response:
    """A session for this incident only, ending when the link does."""
    return open_session(request, conn, now, f"{PREFIX}/incidents/{incident_id}", incident=incident_id,
                        not_after=datetime.fromtimestamp(expires, UTC), **start)


def _fields(who: str, exp: str, sig: str) -> dict[str, str]:
    return {"who": who, "exp": exp, "sig": sig}


@router.get(PREFIX + "/link/{incident_id}")
def link_page(request: Request, incident_id: int, conn: Conn, now: Now, who: LinkQuery = "",
              exp: LinkQuery = "", sig: LinkQuery = "") -> Response:
    """The link's page: nobody is signed in by opening it."""
    with use_language(language_of_request(request)):
        # Verified before the incident is read: an unsigned request learns nothing about it.
        signer = _verify(request, incident_id, who, exp, sig, now)
        found = _incident(conn, incident_id)
    step = "person" if signer.channel == "email" else "who"
    return _page(request, conn, found, _fields(who, exp, sig), signer, step=step)


@router.post(PREFIX + "/link/{incident_id}")
def sign_in_with_link(request: Request, incident_id: int, conn: Conn, now: Now, who: Field = "",
                      exp: Field = "", sig: Field = "") -> Response:
    """A person's link: a session as ``link:<name>`` for this incident only."""
    with use_language(language_of_request(request)):
        signer = _checked(request, incident_id, who, exp, sig, now)
        if signer.channel != "email":
            raise _refused(_("This link was sent to a group: choose who you are on its page, and prove it "
                             "with a code."))
        found = _incident(conn, incident_id)
    return _start(request, conn, now, actor_id=f"link:{signer.name}", person=signer.name, role=Role.oncall,
                  department=found.department_id, signed_in_with="link", incident_id=incident_id,
                  expires=signer.expires_at)


@router.post(PREFIX + "/link/{incident_id}/who")
def choose_person(request: Request, incident_id: int, conn: Conn, now: Now, who: Field = "",
                  exp: Field = "", sig: Field = "", person: Field = "") -> Response:
    """A group's link: the chosen roster person gets a one-time code by e-mail."""
    language = language_of_request(request)
    with use_language(language):
        signer = _checked(request, incident_id, who, exp, sig, now)
        found = _incident(conn, incident_id)
        fields = _fields(who, exp, sig)
        roster = codes.roster(conn, found.department_id) if found.department_id else []
        contact = next((c for c in roster if c.name == person.strip()), None)
        if contact is None:
            return _page(request, conn, found, fields, signer, step="who",
                         status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
                         problem=_("Choose your name from the list."))
        settings = settings_of(request)
        code_request, code = codes.issue(conn, contact, now=now, settings=settings, incident=incident_id)
        audit.record(conn, audit.Actor(f"code:{contact.name}", None, contact.department_id),
                     "console.code_sent", contact.department_id,
                     {"person": contact.name, "incident": incident_id, "link": signer.name}, at=now)
        conn.commit()    # the code exists before the mail that carries it
        outcome = codes.send(settings, contact, code, language, now=now, incident=incident_id)
        if not outcome.delivered:
            return _page(request, conn, found, fields, signer, step="who",
                         status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                         problem=_("The code could not be sent ({reason}). Sign in with your token, or try "
                                   "again later.").format(reason=outcome.detail))
    return _page(request, conn, found, fields, signer, step="code", person=contact.name,
                 code_request=code_request)


@router.post(PREFIX + "/link/{incident_id}/verify")
def verify_code(request: Request, incident_id: int, conn: Conn, now: Now, who: Field = "", exp: Field = "",
                sig: Field = "", person: Field = "", code_request: Field = "", code: Field = "") -> Response:
    """The code names the person: a session as ``code:<name>`` for this incident only."""
    with use_language(language_of_request(request)):
        signer = _checked(request, incident_id, who, exp, sig, now)
        found = _incident(conn, incident_id)
        fields = _fields(who, exp, sig)
        try:
            if len(code_request) > MAX_FIELD or len(code) > 20:
                raise codes.CodeRefused("unknown")
            redeemed = codes.redeem(conn, code_request, code, now=now, settings=settings_of(request))
        except codes.CodeRefused as refused:
            again = refused.why == "wrong"
            return _page(request, conn, found, fields, signer, step="code" if again else "who",
                         status_code=status.HTTP_401_UNAUTHORIZED, problem=code_refusal(refused.why),
                         person=person[:200] if again else None, code_request=code_request if again else None)
        if redeemed.incident != incident_id:
            raise _refused(_("This code was not sent for incident #{number}.").format(number=incident_id))
    role, department = redeemed.session_role
    return _start(request, conn, now, actor_id=f"code:{redeemed.person}", person=redeemed.person, role=role,
                  department=department, signed_in_with="code", incident_id=incident_id,
                  expires=signer.expires_at)
