"""The on-call API: incidents (list, show, ack, resolve, assign, comment, close, reopen)
and the departments' escalation policies. Mounted under ``/api/v1``.

Who may do what is the access table (``citybrain.kernel.http.access``): every role reads (a
department-limited token reads its department only); ``oncall`` acts on its own
department's incidents only, ``operator`` on all (unless its token is limited to a
department), ``evaluator`` never acts, ``admin`` does everything and alone replaces
escalation policies (its own department's only, when its token is limited to one).
Robot webhook credentials are shown to nobody; the e-mail addresses of the people paged
only to those who page or administer that department (``alerts.incidents.disclosure``).
Errors: unknown incident 404, an action the incident's status does not allow 409 (the
message names from, to and what is allowed), unusable input 422; each ``detail`` in the
current language (``use_language``, the request's: Settings.language).

Acknowledging from a notification (``/incidents/{id}/ack-link``, no token): the link a
page carries is signed for its recipient and expires (``alerts.incidents.ack_link``). Its GET only
shows a confirmation page — chat apps and mail scanners fetch links by themselves — and
the page's form POSTs the same signed fields, which acknowledges as ``link:<name>``.
Answers are HTML pages in ``Settings.language`` (the ``alerts`` catalogue): 403 for an
expired or altered link, 404 for an unknown incident, 200 (saying by whom and when) for
an incident acknowledged already. No page names a shell command: whoever opens one is
on a phone or in a mail client.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from html import escape
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse
from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field

from alerts.incidents import ack_link, disclosure, escalation_policy, hotline
from alerts.incidents import store as incidents
from alerts.incidents.lifecycle import IllegalTransition, IncidentError, IncidentStatus
from alerts.incidents.store import IncidentConflict, IncidentInputError, IncidentNotFound
from alerts.model import Severity
from alerts.notifiers.message import (
    MESSAGES,
    channel_label,
    join,
    local_time_text,
    named,
    severity_label,
    status_label,
)
from citybrain.kernel import audit
from citybrain.kernel.http.access import Caller, scoped_department, sees_contacts, within
from citybrain.kernel.http.deps import Conn, Connection, Now, Principal
from citybrain.kernel.http.deps import settings as settings_dep
from citybrain.kernel.http.errors import page_responses
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.i18n import Translator
from citybrain.kernel.settings import Settings
from schemas.names import names_for

router = APIRouter(tags=["incidents"])
_ = MESSAGES.current     # the alerts catalogue, in the request's language

# A department or asset id in a filter: longer is no id (as the window's department and a
# maintenance window's target).
ID_CHARS = 200

# One admission for every route (the access table); the names say what the route does.
Reader = Caller
Actor = Caller
Admin = Caller





def _date_time(value: object) -> object:
    # pydantic would read a number (to=0.5, to=1700000000) as seconds since 1970; the
    # document says an RFC 3339 date-time, and a number is refused as not one.
    if isinstance(value, str) and not (value[:4].isdigit() and value[4:5] == "-"):
        raise ValueError(_("not a date-time: give ISO 8601 with an offset, e.g. 2026-03-02T09:00:00+08:00"))
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_date_time)]


class Note(BaseModel):
    note: str | None = Field(default=None, max_length=4000)


class Resolution(BaseModel):
    note: str = Field(min_length=1, max_length=4000, description="what was done; required")


class Assignment(BaseModel):
    assignee: str = Field(min_length=1, max_length=200)


class Comment(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


def _http(exc: IncidentError) -> HTTPException:
    if isinstance(exc, IncidentNotFound):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
    if isinstance(exc, IllegalTransition | IncidentConflict):
        return HTTPException(status.HTTP_409_CONFLICT, str(exc))
    if isinstance(exc, IncidentInputError):
        return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))
    return HTTPException(status.HTTP_409_CONFLICT, str(exc))


def _visible(conn: Connection, who: Principal, incident_id: int) -> incidents.Incident:
    try:
        found = incidents.show(conn, incident_id)
    except IncidentError as exc:
        raise _http(exc) from exc
    if not who.may_see(found.department_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, _(
            "this token is limited to department {department}; incident {number} belongs to {owner}").format(
                department=repr(who.department), number=incident_id, owner=repr(found.department_id)))
    return found


def _shown(who: Principal, found: incidents.Incident, *, with_timeline: bool = True) -> dict[str, Any]:
    """An incident as this caller may see it: the frozen policy's credentials redacted,
    the contacts of the people paged only for those who may see them."""
    contacts = sees_contacts(who, found.department_id)
    out = disclosure.shown(found.as_dict(with_timeline=with_timeline), contacts=contacts)
    out["escalation_policy"] = disclosure.policy_shown(found.escalation_policy or {}, contacts=contacts)
    return out  # type: ignore[no-any-return]


def _act(conn: Connection, who: Principal, incident_id: int,
         action: Callable[[], incidents.Incident]) -> dict[str, Any]:
    found = _visible(conn, who, incident_id)
    within(who, found.department_id, _("incident {number}").format(number=incident_id))
    try:
        return _shown(who, action())
    except IncidentError as exc:
        raise _http(exc) from exc


@router.get("/incidents", summary="Incidents, newest first")
def list_incidents(
    who: Reader, conn: Conn,
    status_: Annotated[IncidentStatus | None, Query(alias="status")] = None,
    severity: Severity | None = None,
    department: Annotated[str | None, Query(max_length=ID_CHARS)] = None,
    asset: Annotated[str | None, Query(max_length=ID_CHARS,
                                       description="the incident's asset or any affected asset")] = None,
    from_: Annotated[Instant | None, Query(alias="from", description="opened at or after")] = None,
    to: Annotated[Instant | None, Query(description="opened before")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    filters = incidents.Filters(status=status_, severity=severity,
                                department_id=scoped_department(who, department), asset_id=asset,
                                opened_from=from_, opened_to=to, limit=limit)
    found = incidents.list_incidents(conn, filters)
    return {"incidents": [_shown(who, i, with_timeline=False) for i in found], "count": len(found)}


@router.get("/incidents/{incident_id}", summary="One incident with its assets and timeline")
def show_incident(incident_id: int, who: Reader, conn: Conn) -> dict[str, Any]:
    out = _shown(who, _visible(conn, who, incident_id))
    # Citizens' 12345 calls about it (alerts/incidents/hotline.py): count, categories, latest.
    out["work_orders"] = hotline.calls(conn, incident_id).as_dict()
    return out


@router.post("/incidents/{incident_id}/ack", summary="Acknowledge (the first response; stops escalation)")
def ack(incident_id: int, who: Actor, conn: Conn, now: Now, body: Note | None = None) -> dict[str, Any]:
    note = body.note if body else None
    return _act(conn, who, incident_id,
                lambda: incidents.ack(conn, incident_id, who.actor, now=now, note=note))


@router.post("/incidents/{incident_id}/resolve", summary="Resolve with a note")
def resolve(incident_id: int, body: Resolution, who: Actor, conn: Conn, now: Now) -> dict[str, Any]:
    return _act(conn, who, incident_id,
                lambda: incidents.resolve(conn, incident_id, who.actor, body.note, now=now))


@router.post("/incidents/{incident_id}/assign", summary="Assign to a person")
def assign(incident_id: int, body: Assignment, who: Actor, conn: Conn, now: Now) -> dict[str, Any]:
    return _act(conn, who, incident_id,
                lambda: incidents.assign(conn, incident_id, who.actor, body.assignee, now=now))


@router.post("/incidents/{incident_id}/comment", summary="Add a comment to the timeline")
def comment(incident_id: int, body: Comment, who: Actor, conn: Conn, now: Now) -> dict[str, Any]:
    return _act(conn, who, incident_id,
                lambda: incidents.comment(conn, incident_id, who.actor, body.text, now=now))


@router.post("/incidents/{incident_id}/close", summary="Close a resolved incident")
def close(incident_id: int, who: Actor, conn: Conn, now: Now, body: Note | None = None) -> dict[str, Any]:
    note = body.note if body else None
    return _act(conn, who, incident_id,
                lambda: incidents.close(conn, incident_id, who.actor, now=now, note=note))


@router.post("/incidents/{incident_id}/reopen", summary="Reopen a resolved incident (escalation restarts)")
def reopen(incident_id: int, who: Actor, conn: Conn, now: Now, body: Note | None = None) -> dict[str, Any]:
    note = body.note if body else None
    return _act(conn, who, incident_id,
                lambda: incidents.reopen(conn, incident_id, who.actor, now=now, note=note))


@router.get("/escalation-policies/{department_id}",
            summary="The policy a new incident of this department would freeze")
def get_policy(department_id: str, who: Reader, conn: Conn,
               settings: Annotated[Settings, Depends(settings_dep)]) -> dict[str, Any]:
    scoped_department(who, department_id)
    try:
        frozen = escalation_policy.policy_for(conn, department_id, settings)
    except escalation_policy.PolicyError as exc:
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, str(exc)) from exc
    # The department's own policy, refused: say why the default stands in.
    shown = disclosure.policy_shown(frozen.snapshot(), contacts=sees_contacts(who, department_id))
    return {**shown, **({"refused": frozen.refused} if frozen.refused else {})}


@router.put("/escalation-policies/{department_id}", summary="Replace a department's policy (admin)",
            description="Group addresses are shown redacted after entry; send one back as shown to "
                        "keep the stored address.")
def put_policy(department_id: str, body: dict[str, Any], who: Admin, conn: Conn, now: Now,
               settings: Annotated[Settings, Depends(settings_dep)]) -> dict[str, Any]:
    within(who, department_id, _("escalation policy"))
    try:
        policy = escalation_policy.with_stored_addresses(
            conn, department_id, escalation_policy.parse_policy(body), settings)
        escalation_policy.replace_policy(conn, department_id, policy, who.actor, now=now)
    except escalation_policy.PolicyError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return disclosure.policy_shown({"source": "database", **policy.model_dump(mode="json")},
                                   contacts=sees_contacts(who, department_id))


@router.delete("/escalation-policies/{department_id}",
               summary="Drop a stored policy (back to the YAML file or the default)")
def delete_policy(department_id: str, who: Admin, conn: Conn, now: Now) -> dict[str, Any]:
    within(who, department_id, _("escalation policy"))
    if not escalation_policy.remove_policy(conn, department_id, who.actor, now=now):
        raise HTTPException(status.HTTP_404_NOT_FOUND, _("no stored policy for {department}").format(
            department=repr(department_id)))
    return {"removed": department_id}


# --- acknowledge links (no token: the signed link is the credential) --------------------

SettingsDep = Annotated[Settings, Depends(settings_dep)]
LinkField = Annotated[str, Query(max_length=1000)]
MAX_FORM_BYTES = 16_384
MAX_NOTE_CHARS = 4000

_PAGE_HEADERS = {
    # The signature rides in the URL and the form: no cache keeps the page, no Referer
    # carries the address on, and the page runs no script and posts only to this server.
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'",
}
_STYLE = ("body{font-family:sans-serif;max-width:36em;margin:2em auto;padding:0 1em}"
          "th{text-align:left;padding-right:1em}textarea{width:100%}"
          "button{font-size:1.1em;padding:.4em 1.2em}")


def _page(t: Translator, heading: str, body: str, code: int = status.HTTP_200_OK) -> HTMLResponse:
    html = (f"<!DOCTYPE html>\n<html lang=\"{t.language}\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(heading)}</title><style>{_STYLE}</style></head>\n"
            f"<body>\n<h1>{escape(heading)}</h1>\n{body}\n</body></html>\n")
    return HTMLResponse(html, status_code=code, headers=_PAGE_HEADERS)


def _say(translated: str, **values: str) -> str:
    """A paragraph of a translated text, its fields filled with HTML that is already escaped."""
    return "<p>" + escape(translated).format(**values) + "</p>"


def _facts(conn: Connection, t: Translator, found: incidents.Incident, settings: Settings) -> str:
    """The incident as the notification showed it: names, not only ids; times in the zone."""
    names = names_for(conn, t.language, department_ids=[found.department_id] if found.department_id else [],
                      asset_ids=found.assets[:3])
    rows = [
        (t.gettext("Incident"), f"#{found.incident_id}"),
        (t.gettext("Title"), found.title),
        (t.gettext("Severity"), severity_label(t, found.severity)),
        (t.gettext("Status"), status_label(t, found.status.value)),
    ]
    if found.assets:
        shown = join(t, [named(names.asset(a), a) for a in found.assets[:3]])
        if len(found.assets) > 3:
            shown = t.gettext("{names} and {count} more").format(names=shown, count=len(found.assets) - 3)
        rows.append((t.ngettext("Asset", "Assets", len(found.assets)), shown))
    rows += [
        (t.gettext("Department"), named(names.department(found.department_id), found.department_id)
         if found.department_id else t.gettext("unassigned")),
        (t.gettext("Since"), local_time_text(found.opened_at, settings.tz, t.language)),
        (t.gettext("Respond by"), local_time_text(found.response_due_at, settings.tz, t.language)),
    ]
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def _state_page(conn: Connection, t: Translator, found: incidents.Incident,
                settings: Settings) -> HTMLResponse:
    """An incident the link can no longer acknowledge: say who did, or why not."""
    number = str(found.incident_id)
    if found.acknowledged_at is not None:
        when = local_time_text(found.acknowledged_at, settings.tz, t.language)
        return _page(t, t.gettext("Incident #{number} was already acknowledged").format(number=number),
                     _say(t.gettext("Acknowledged by {who} at {time}. Nothing more to do here."),
                          who=f"<b>{escape(found.acknowledged_by or '?')}</b>", time=escape(when))
                     + f"\n{_facts(conn, t, found, settings)}")
    # Resolved or closed without anyone acknowledging (e.g. auto-resolved): not an ack to repeat.
    return _page(t, t.gettext("Incident #{number} cannot be acknowledged").format(number=number),
                 _say(t.gettext("It is {status} and was never acknowledged."),
                      status=escape(status_label(t, found.status.value)))
                 + f"\n{_facts(conn, t, found, settings)}", status.HTTP_409_CONFLICT)


def _signer(t: Translator, settings: Settings, incident_id: int, fields: Mapping[str, str],
            now: datetime) -> ack_link.Signer | HTMLResponse:
    refused = status.HTTP_403_FORBIDDEN
    if settings.ack_link_secret is None:
        return _page(t, t.gettext("Acknowledge links are not enabled"), _say(t.gettext(
            "This server issues no acknowledge links: acknowledge on the incident page, "
            "or ask the operations centre's duty staff to.")), refused)
    try:
        return ack_link.verify(settings.ack_link_secret.get_secret_value(), incident_id,
                               fields.get("who", ""), fields.get("exp", ""), fields.get("sig", ""), now=now)
    except ack_link.LinkExpired:
        return _page(t, t.gettext("This link has expired"), _say(t.gettext(
            "This acknowledge link has expired. Acknowledge with the link of a newer notification, "
            "or on the incident page.")), refused)
    except ack_link.LinkMalformed:
        return _page(t, t.gettext("This link is not valid"), _say(t.gettext(
            "This acknowledge link is incomplete or garbled. Open it from the notification as it was "
            "sent (a mail program may cut a long link).")), refused)
    except ack_link.LinkInvalid:
        return _page(t, t.gettext("This link is not valid"), _say(t.gettext(
            "This acknowledge link is not valid for incident #{number}: it was altered, belongs to "
            "another incident or was signed with another key."), number=str(incident_id)), refused)


class _LinkUsed(Exception):
    """Another request acknowledged with this link first."""


def _used_page(conn: Connection, t: Translator, found: incidents.Incident, sig: str,
               settings: Settings) -> HTMLResponse | None:
    """The page of a link that acknowledged once already, or None. A link acts once: after
    a reopening the incident's escalation sends fresh links, and an old one (forwarded,
    in a mail archive, in a proxy log) must not acknowledge the new trouble."""
    row = conn.execute("SELECT used_at, used_by FROM ack_link_uses WHERE sig = %s AND incident_id = %s",
                       (sig, found.incident_id)).fetchone()
    if row is None:
        return None
    when = local_time_text(row[0], settings.tz, t.language)
    return _page(t, t.gettext("This link was used already"), _say(t.gettext(
        "It acknowledged incident #{number} as {who} at {time}. A link acknowledges once: use the "
        "link of the latest notification, or the incident page."),
        number=str(found.incident_id), who=f"<b>{escape(str(row[1]))}</b>", time=escape(when))
        + f"\n{_facts(conn, t, found, settings)}", status.HTTP_409_CONFLICT)


def _incident(conn: Connection, t: Translator, incident_id: int) -> incidents.Incident | HTMLResponse:
    try:
        return incidents.show(conn, incident_id)
    except IncidentNotFound:
        return _no_incident(t, incident_id)


def _no_incident(t: Translator, incident_id: int) -> HTMLResponse:
    return _page(t, t.gettext("No such incident"),
                 _say(t.gettext("There is no incident #{number}."), number=str(incident_id)),
                 status.HTTP_404_NOT_FOUND)


async def _form(request: Request) -> dict[str, str]:
    # The confirmation page posts a few urlencoded fields; they are read here, bounded,
    # rather than pulling in python-multipart for FastAPI's Form. Anything unreadable is
    # an empty form, which verification then refuses as a malformed link.
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, _("form too large"))
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=8)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {name: values[0] for name, values in parsed.items()}


# The link's own refusals are pages; a malformed request gets the API's JSON error.
_PAGES = {
    403: "acknowledge links are not enabled, or the link expired or was altered",
    404: "no such incident",
    409: "the incident cannot be acknowledged (any more), or the link was used already",
}
_LINK_PAGE = page_responses(_PAGES)
_LINK_FORM = page_responses({**_PAGES, 422: "the note is too long"})


@router.get("/incidents/{incident_id}/ack-link", response_class=HTMLResponse, responses=_LINK_PAGE,
            summary="Confirmation page of a signed acknowledge link (does not acknowledge)")
def ack_link_page(incident_id: int, conn: Conn, now: Now, settings: SettingsDep,
                  who: LinkField = "", exp: LinkField = "", sig: LinkField = "") -> HTMLResponse:
    t = MESSAGES.translator(settings.language)
    # Verified before the incident is read, so an unsigned request learns nothing about it.
    signer = _signer(t, settings, incident_id, {"who": who, "exp": exp, "sig": sig}, now)
    if isinstance(signer, HTMLResponse):
        return signer
    found = _incident(conn, t, incident_id)
    if isinstance(found, HTMLResponse):
        return found
    if found.status is not IncidentStatus.triggered:
        return _state_page(conn, t, found, settings)
    used = _used_page(conn, t, found, sig, settings)
    if used is not None:
        return used
    hidden = "".join(f'<input type="hidden" name="{name}" value="{escape(value)}">'
                     for name, value in (("who", who), ("exp", exp), ("sig", sig)))
    note, button = escape(t.gettext("Note (optional)")), escape(t.gettext("Acknowledge"))
    return _page(
        t, t.gettext("Acknowledge incident #{number}?").format(number=incident_id),
        f"{_facts(conn, t, found, settings)}\n"
        + _say(t.gettext("You are acknowledging as {who} ({channel}). This stops the escalation."),
               who=f"<b>{escape(signer.name)}</b>", channel=escape(channel_label(t, signer.channel)))
        + f'\n<form method="post" action="ack-link">{hidden}'
        f'<p><label>{note}<br>'
        f'<textarea name="note" rows="3" maxlength="{MAX_NOTE_CHARS}"></textarea></label></p>'
        f'<p><button type="submit">{button}</button></p></form>')


@router.post("/incidents/{incident_id}/ack-link", response_class=HTMLResponse, responses=_LINK_FORM,
             summary="Acknowledge with a signed link's form (no token)")
def ack_by_link(incident_id: int, conn: Conn, now: Now, settings: SettingsDep,
                form: Annotated[dict[str, str], Depends(_form)]) -> HTMLResponse:
    t = MESSAGES.translator(settings.language)
    signer = _signer(t, settings, incident_id, form, now)
    if isinstance(signer, HTMLResponse):
        return signer
    found = _incident(conn, t, incident_id)
    if isinstance(found, HTMLResponse):
        return found
    sig = form.get("sig", "")
    if found.status is not IncidentStatus.triggered:
        return _state_page(conn, t, found, settings)
    used = _used_page(conn, t, found, sig, settings)
    if used is not None:
        return used
    typed = form.get("note", "").strip()
    if len(typed) > MAX_NOTE_CHARS:
        return _page(t, t.gettext("Note too long"),
                     _say(t.gettext("Keep the note under {count} characters."), count=str(MAX_NOTE_CHARS)),
                     status.HTTP_422_UNPROCESSABLE_CONTENT)
    # The link stands for the person it was sent to, acting for the incident's department.
    actor = audit.Actor(id=f"link:{signer.name}", role=Role.oncall.value, department=found.department_id)
    # The timeline's note is stored, not shown here: it is written as every other timeline entry is.
    note = f"acknowledged with the link sent to {signer.name} by {signer.channel}" + (
        f": {typed}" if typed else "")
    try:
        # The use is stored with the acknowledgement, in one savepoint: a link that lost
        # the race to another acknowledgement stays unused.
        with conn.transaction():
            claimed = conn.execute(
                "INSERT INTO ack_link_uses (sig, incident_id, used_at, used_by) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (sig) DO NOTHING RETURNING sig",
                (sig, incident_id, now, actor.id)).fetchone()
            if claimed is None:
                # The same link posted twice at once: the other request acknowledged.
                raise _LinkUsed
            done = incidents.ack(conn, incident_id, actor, now=now, note=note)
    except _LinkUsed:
        return _used_page(conn, t, found, sig, settings) or _state_page(conn, t, found, settings)
    except IllegalTransition:
        # Someone acknowledged between the read and the row lock: report theirs.
        current = _incident(conn, t, incident_id)
        return current if isinstance(current, HTMLResponse) else _state_page(conn, t, current, settings)
    except IncidentNotFound:
        return _no_incident(t, incident_id)
    return _page(t, t.gettext("Incident #{number} acknowledged").format(number=incident_id),
                 _say(t.gettext("Acknowledged by {who} at {time}. The escalation has stopped."),
                      who=f"<b>{escape(signer.name)}</b>",
                      time=escape(local_time_text(now, settings.tz, t.language)))
                 + f"\n{_facts(conn, t, done, settings)}")
