"""Signed acknowledge links: a click in an e-mail or a chat message acknowledges an incident.

The API's ``POST /incidents/{id}/ack`` needs a Bearer token, which a mail client or a
WeCom/DingTalk/Feishu message cannot send. So each recipient of a page gets its own
link, ``GET /console/link/{id}?who=…&exp=…&sig=…``, whose signature is the credential:
HMAC-SHA256, keyed by ``Settings.ack_link_secret``, over the incident id, the recipient
(``who``) and the expiry (``exp``). The GET only shows a page (chat apps and mail
scanners fetch links on their own); its form POSTs the same three fields back, which
signs the recipient in to the console for that incident only (``citybrain.console.links``;
a group's link first asks which person is acting). Links of older notifications,
``/api/v1/incidents/{id}/ack-link``, still acknowledge directly (``alerts.incidents.api``).

``who`` is ``<name>|<channel>|<tag>``: the name is what the timeline and the audit log
show (actor ``link:<name>``); the tag is a keyed digest of the address, so a link names
the address it was sent to without putting it in the URL — a robot's webhook address
carries its credential, and URLs end up in proxy logs and browser histories.

The exceptions' messages are for logs and tests; the pages a person sees say the same in
``Settings.language`` (``alerts.incidents.api``), and none names a shell command.

Only ``incident id`` is signed, not the database schema or the public URL, so a link
survives a change of either; the flip side is that deployments must not share a secret.
Everything here is pure: the clock is passed in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from alerts.model import Recipient

# Long enough for a page read the next morning; short enough that a forwarded or leaked
# link stops working. Every escalation step sends fresh links.
LIFETIME = timedelta(hours=24)

_PURPOSE = "citybrain.incident-ack.v1"      # domain separation: this key signs nothing else
_WHO = re.compile(r"(?P<name>.+)\|(?P<channel>[a-z][a-z0-9_-]{0,31})\|(?P<tag>[0-9a-f]{16})", re.DOTALL)
_EXP = re.compile(r"[0-9]{1,12}")
_SIG = re.compile(r"[A-Za-z0-9_-]{43}")     # 32 bytes, URL-safe Base64 without padding
MAX_WHO_CHARS = 400


class LinkError(Exception):
    """The link cannot acknowledge; the message says why, for the page."""


class LinkExpired(LinkError):
    pass


class LinkInvalid(LinkError):
    """Tampered, signed with another key, or issued for another incident."""


class LinkMalformed(LinkInvalid):
    """Truncated or garbled on the way (a field missing, a character changed by a mail client)."""


@dataclass(frozen=True)
class AckLink:
    """The three query fields of one recipient's link."""

    who: str
    exp: int                 # Unix seconds
    sig: str

    def query(self) -> str:
        return urlencode({"who": self.who, "exp": str(self.exp), "sig": self.sig})


@dataclass(frozen=True)
class Signer:
    """Whom a verified link was issued to."""

    name: str
    channel: str
    address_tag: str
    expires_at: int


def _key(secret: str) -> bytes:
    return secret.encode("utf-8")


def _address_tag(secret: str, channel: str, address: str) -> str:
    digest = hmac.new(_key(secret), f"address\0{channel}\0{address}".encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


def identity(secret: str, recipient: Recipient) -> str:
    # The name is kept on one line and bounded: it becomes the actor id of the audit log.
    name = " ".join(recipient.name.replace("|", "/").split())[:200] or "unnamed"
    return f"{name}|{recipient.channel}|{_address_tag(secret, recipient.channel, recipient.address)}"


def _mac(secret: str, incident_id: int, who: str, exp: int) -> str:
    # A JSON array is an unambiguous encoding: no name can shift bytes between fields.
    message = json.dumps([_PURPOSE, incident_id, who, exp], ensure_ascii=False, separators=(",", ":"))
    digest = hmac.new(_key(secret), message.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign(secret: str, incident_id: int, recipient: Recipient, *, expires_at: datetime) -> AckLink:
    """The link fields for one recipient of one incident, valid until ``expires_at``."""
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    exp = int(expires_at.timestamp())
    signed_by = identity(secret, recipient)
    return AckLink(who=signed_by, exp=exp, sig=_mac(secret, incident_id, signed_by, exp))


def verify(secret: str, incident_id: int, who: str, exp: str | int, sig: str, *, now: datetime) -> Signer:
    """The signer of a link for ``incident_id``, or ``LinkInvalid`` / ``LinkExpired``.

    The signature is checked before the expiry, so an edited ``exp`` reads as tampered
    rather than as a link that is merely old.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    exp_text = str(exp)
    parsed = _WHO.fullmatch(who) if len(who) <= MAX_WHO_CHARS else None
    if parsed is None or not _EXP.fullmatch(exp_text) or not _SIG.fullmatch(sig):
        raise LinkMalformed("this acknowledge link is incomplete or malformed; "
                            "open the link from the notification as it was sent")
    expires_at = int(exp_text)
    expected = _mac(secret, incident_id, who, expires_at)
    if not hmac.compare_digest(expected.encode("ascii"), sig.encode("ascii")):
        raise LinkInvalid(f"this acknowledge link is not valid for incident {incident_id}: it was altered, "
                          "belongs to another incident or was signed with another key")
    if now.timestamp() >= expires_at:
        raise LinkExpired("this acknowledge link has expired; acknowledge with the link of a newer "
                          "notification or on the incident page")
    return Signer(name=parsed["name"], channel=parsed["channel"], address_tag=parsed["tag"],
                  expires_at=expires_at)


def url(public_url: str, incident_id: int, link: AckLink) -> str:
    """The link's page in the console (``citybrain.console.links``)."""
    return f"{public_url.rstrip('/')}/console/link/{incident_id}?{link.query()}"
