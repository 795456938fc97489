"""E-mail over SMTP: a plain-text body with a simple HTML alternative.

The stdlib ``smtplib`` runs in a worker thread (``asyncio.to_thread``) so a slow mail
server never blocks the event loop; every socket operation is bounded by
``notify_timeout_seconds``. Transport security comes from settings: none, STARTTLS
(RFC 3207) or implicit TLS (``SMTP_SSL``), AUTH only when a user is configured.

What a failure means for retrying follows SMTP's own reply classes (RFC 5321 §4.2.1):
a 4yz reply is transient ("try again later": greylisting, mailbox busy) and is retried;
a 5yz reply is permanent (unknown mailbox, relaying denied, authentication failed) and
is not. Connection refused, resets and time-outs are retried; a TLS certificate that
does not verify, or a server that lacks STARTTLS/AUTH while settings demand it, is a
configuration error and is not.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from alerts.model import Notification, Outcome, Recipient
from alerts.notifiers.message import ACK_LINK_LABEL, INCIDENT_LINK_LABEL, Message, render
from alerts.notifiers.outcomes import delivered, permanent, transient
from citybrain.kernel.clock import Clock

if TYPE_CHECKING:
    from citybrain.kernel.settings import Settings

SECURITY_MODES = ("none", "starttls", "ssl")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    security: str = "none"           # none | starttls | ssl
    user: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.security not in SECURITY_MODES:
            raise ValueError(f"smtp security must be one of {SECURITY_MODES}, not {self.security!r}")

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig | None:
        """None when no SMTP host is configured: the email channel is then absent."""
        if not settings.smtp_host:
            return None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            security=settings.smtp_security,
            user=settings.smtp_user,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            ca_file=settings.smtp_ca_file,
            timeout=settings.notify_timeout_seconds,
        )

    @property
    def domain(self) -> str:
        return self.sender.rpartition("@")[2] or "localhost"


def plain_body(message: Message) -> str:
    lines = [message.headline, ""]
    lines += [f"{label}: {value}" for label, value in message.facts]
    lines += ["", message.text, "", f"{INCIDENT_LINK_LABEL}: {message.incident_url}",
              f"{ACK_LINK_LABEL}: {message.ack_url}", ""]
    return "\n".join(lines)


def html_body(message: Message) -> str:
    rows = "".join(f"<tr><th align=\"left\">{escape(label)}</th><td>{escape(value)}</td></tr>"
                   for label, value in message.facts)
    text = "<br>\n".join(escape(line) for line in message.text.splitlines())
    return (
        "<!DOCTYPE html>\n<html><body>\n"
        f"<h3>{escape(message.headline)}</h3>\n"
        f"<table>{rows}</table>\n"
        f"<p>{text}</p>\n"
        f"<p><a href=\"{escape(message.incident_url)}\">{INCIDENT_LINK_LABEL}</a> · "
        f"<a href=\"{escape(message.ack_url)}\">{ACK_LINK_LABEL}</a></p>\n"
        "</body></html>\n"
    )


def email_message(message: Message, *, sender: str, to: str, now: datetime, domain: str) -> EmailMessage:
    n = message.notification
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = sender
    mail["To"] = to
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = make_msgid(idstring=f"incident-{n.incident_id}-step-{n.step}", domain=domain)
    # Every mail about one incident references the same id, so mail clients thread them.
    mail["References"] = f"<incident-{n.incident_id}@{domain}>"
    mail["X-Citybrain-Incident"] = str(n.incident_id)
    mail["X-Citybrain-Severity"] = str(n.severity)
    mail.set_content(plain_body(message))
    mail.add_alternative(html_body(message), subtype="html")
    return mail


class EmailNotifier:
    channel: str = "email"

    def __init__(self, config: SmtpConfig, tz: ZoneInfo, clock: Clock) -> None:
        self._config = config
        self._tz = tz
        self._clock = clock

    async def send(self, notification: Notification, recipient: Recipient) -> Outcome:
        message = render(notification, recipient, self._tz)
        try:
            mail = email_message(message, sender=self._config.sender, to=recipient.address,
                                 now=self._clock().astimezone(self._tz), domain=self._config.domain)
        except (ValueError, TypeError) as exc:
            # A malformed address or header value: the request is wrong, not the moment.
            return permanent(f"cannot build the e-mail: {exc}")
        return await asyncio.to_thread(self._submit, mail, recipient.address)

    def _submit(self, mail: EmailMessage, to: str) -> Outcome:
        config = self._config
        try:
            context = ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)
        except (OSError, ssl.SSLError) as exc:
            return permanent(f"cannot load the CA file {config.ca_file}: {exc}")
        try:
            smtp: smtplib.SMTP
            if config.security == "ssl":
                smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=context)
            else:
                smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
            with smtp:
                smtp.ehlo()
                if config.security == "starttls":
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if config.user:
                    smtp.login(config.user, config.password or "")
                smtp.send_message(mail, from_addr=config.sender, to_addrs=[to])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()), (550, b"refused"))
            return _reply_outcome("recipient refused", code, reply)
        except smtplib.SMTPAuthenticationError as exc:
            return permanent(f"authentication failed: {exc.smtp_code} {_text(exc.smtp_error)}")
        except smtplib.SMTPResponseException as exc:
            return _reply_outcome("SMTP error", exc.smtp_code, exc.smtp_error)
        except smtplib.SMTPNotSupportedError as exc:
            return permanent(f"server lacks a required extension: {exc}")
        except smtplib.SMTPServerDisconnected as exc:
            return transient(f"server disconnected: {exc}")
        except smtplib.SMTPException as exc:
            return permanent(f"SMTP error: {type(exc).__name__}: {exc}")
        except ssl.SSLError as exc:
            # Includes certificate verification failures: wrong CA, wrong host name.
            return permanent(f"TLS error: {exc}")
        except TimeoutError:
            return transient(f"time-out after {config.timeout:g} s talking to {config.host}:{config.port}")
        except OSError as exc:
            return transient(f"connection error to {config.host}:{config.port}: {exc}")
        return delivered(f"accepted by {config.host}:{config.port}")


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw


def _reply_outcome(what: str, code: int, reply: bytes | str) -> Outcome:
    # 4yz: transient, retry; 5yz (and anything unexpected): permanent.
    return Outcome(delivered=False, retryable=400 <= code < 500, detail=f"{what}: {code} {_text(reply)}")
