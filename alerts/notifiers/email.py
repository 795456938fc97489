"""E-mail over SMTP: a plain-text body with an HTML alternative.

The HTML part is what most mail clients show: a card 640 px wide at most (it narrows on
a phone), the headline on a band in the severity's colour, what happened, the facts as
a table, the two links as buttons (acknowledge first: it is what the mail asks for).
Its styles are inline and its layout is tables, the one form every mail client keeps
(many drop ``<style>`` blocks and ignore flexbox); every value is HTML-escaped.

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

from alerts.model import Notification, Outcome, Recipient, Severity
from alerts.notifiers.message import Message, plain_text, render
from alerts.notifiers.outcomes import delivered, permanent, transient
from citybrain.kernel.clock import Clock
from citybrain.kernel.i18n import DEFAULT_LANGUAGE, Language

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
    return f"{plain_text(message)}\n\n{footer(message)}\n"


def footer(message: Message) -> str:
    t, number = message.t, message.notification.incident_id
    if message.ack_link is None:
        return t.gettext("Sent automatically by Citybrain about incident #{number}.").format(number=number)
    return t.gettext("Sent automatically by Citybrain about incident #{number}. The acknowledge link was "
                     "made for you alone: do not forward this mail.").format(number=number)


# The band's colours (background, text) per severity; green once resolved.
BANDS: dict[Severity, tuple[str, str]] = {
    Severity.I: ("#c62828", "#ffffff"),
    Severity.II: ("#e8590c", "#ffffff"),
    Severity.III: ("#f5b800", "#1f2329"),
    Severity.IV: ("#1a73e8", "#ffffff"),
}
RESOLVED_BAND = ("#2e7d32", "#ffffff")
FONT = ("-apple-system, BlinkMacSystemFont, 'PingFang SC', 'Hiragino Sans GB', 'Microsoft YaHei', "
        "'Noto Sans CJK SC', 'Helvetica Neue', Arial, sans-serif")
_BUTTON = ("display:inline-block;padding:9px 22px;margin:0 10px 8px 0;border-radius:4px;font-size:15px;"
           "font-weight:bold;text-decoration:none;")
_PRIMARY = _BUTTON + "background:#1a73e8;color:#ffffff;border:1px solid #1a73e8;"
_SECONDARY = _BUTTON + "background:#ffffff;color:#1a73e8;border:1px solid #1a73e8;"


def html_body(message: Message) -> str:
    n = message.notification
    band, band_text = (RESOLVED_BAND if n.status in ("resolved", "closed")
                       else BANDS.get(n.severity, BANDS[Severity.I]))
    rows = "".join(
        "<tr><th align=\"left\" valign=\"top\" style=\"padding:5px 16px 5px 0;color:#646a73;"
        f"font-weight:normal;white-space:nowrap;\">{escape(f.label)}</th>"
        f"<td style=\"padding:5px 0;{_emphasis(f.key, band)}\">{escape(f.value)}</td></tr>"
        for f in message.facts)
    text = "<br>\n".join(escape(line) for line in message.text.splitlines())
    buttons = ([(message.ack_link, _PRIMARY)] if message.ack_link else []) + [
        (message.incident_link, _SECONDARY if message.ack_link else _PRIMARY)]
    links = "\n".join(f'<a href="{escape(link.url)}" style="{style}">{escape(link.label)}</a>'
                      for link, style in buttons)
    cell = "padding:0 24px;"
    return (
        "<!DOCTYPE html>\n"
        f"<html lang=\"{message.language}\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{escape(message.subject)}</title></head>\n"
        "<body style=\"margin:0;padding:0;background:#f2f3f5;\">\n"
        "<table role=\"presentation\" width=\"100%\" cellspacing=\"0\" cellpadding=\"0\" "
        "style=\"background:#f2f3f5;\"><tr><td align=\"center\" style=\"padding:24px 12px;\">\n"
        "<table role=\"presentation\" width=\"100%\" cellspacing=\"0\" cellpadding=\"0\" "
        "style=\"max-width:640px;background:#ffffff;border:1px solid #dfe1e5;border-radius:6px;"
        f"font-family:{FONT};color:#1f2329;text-align:left;\">\n"
        f"<tr><td style=\"background:{band};color:{band_text};padding:14px 24px;font-size:17px;"
        "font-weight:bold;line-height:1.45;border-radius:6px 6px 0 0;\">"
        f"{escape(message.headline)}</td></tr>\n"
        "<tr><td style=\"padding:18px 24px 8px;font-size:16px;font-weight:bold;line-height:1.5;\">"
        f"{escape(message.title)}</td></tr>\n"
        + (f"<tr><td style=\"{cell}padding-bottom:8px;font-size:14px;line-height:1.6;color:#3c4043;\">"
           f"{text}</td></tr>\n" if text else "")
        + f"<tr><td style=\"padding:8px 24px 12px;\"><table role=\"presentation\" cellspacing=\"0\" "
        f"cellpadding=\"0\" style=\"font-size:14px;line-height:1.5;\">{rows}</table></td></tr>\n"
        + (f"<tr><td style=\"{cell}padding-bottom:8px;font-size:14px;color:#8f5b00;\">"
           f"{escape(message.note)}</td></tr>\n" if message.note else "")
        + f"<tr><td style=\"padding:8px 24px 14px;\">{links}</td></tr>\n"
        "<tr><td style=\"padding:12px 24px 16px;border-top:1px solid #eceef1;font-size:12px;"
        f"line-height:1.5;color:#8f959e;\">{escape(footer(message))}</td></tr>\n"
        "</table>\n</td></tr></table>\n</body></html>\n"
    )


def _emphasis(key: str, colour: str) -> str:
    # The severity in the band's colour, the due time in bold: what the reader acts on.
    if key == "severity":
        return f"color:{colour};font-weight:bold;"
    if key == "due":
        return "font-weight:bold;"
    return ""


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
    # After the content: setting it drops every Content-* header set before.
    mail["Content-Language"] = message.language
    return mail


class EmailNotifier:
    channel: str = "email"

    def __init__(self, config: SmtpConfig, tz: ZoneInfo, clock: Clock,
                 language: Language = DEFAULT_LANGUAGE) -> None:
        self._config = config
        self._tz = tz
        self._clock = clock
        self._language = language

    async def send(self, notification: Notification, recipient: Recipient) -> Outcome:
        message = render(notification, recipient, self._tz, self._language)
        try:
            mail = email_message(message, sender=self._config.sender, to=recipient.address,
                                 now=self._clock().astimezone(self._tz), domain=self._config.domain)
        except (ValueError, TypeError) as exc:
            # A malformed address or header value: the request is wrong, not the moment.
            return permanent(f"cannot build the e-mail: {exc}")
        return await asyncio.to_thread(submit, self._config, mail, recipient.address)


def submit(config: SmtpConfig, mail: EmailMessage, to: str) -> Outcome:
    """Hand one message to the mail server (blocking, bounded by ``config.timeout``); the
    outcome says whether a failure is worth retrying. The console's sign-in codes go this
    way too."""
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
