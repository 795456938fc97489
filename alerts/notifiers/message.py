"""What every notification says, whatever the channel: one rendering, many formats.

Each channel's format (robot markdown, card, e-mail, JSON) is built from a ``Message``,
so every channel carries the same facts: the incident's title, severity, status,
department, the opening time in the operations centre's time zone (the zone is named
in the text, so nobody has to guess), the escalation step, the recipient, the body
text, and the two links — the incident page and the acknowledge link.

The labels are Chinese: the recipients are on-call staff of a Chinese operations centre
reading a group chat or a mailbox. The words 告警 (alert) and 事件 (incident) appear in
every message, so a DingTalk or Feishu robot protected by a keyword (自定义关键词)
accepts it when that keyword is 告警.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from alerts.model import Notification, Recipient, Severity

SEVERITY_LABELS: dict[Severity, str] = {
    Severity.I: "I级(特别重大)",
    Severity.II: "II级(重大)",
    Severity.III: "III级(较大)",
    Severity.IV: "IV级(一般)",
}

STATUS_LABELS: dict[str, str] = {
    "triggered": "待响应",
    "acknowledged": "已确认",
    "resolved": "已恢复",
    "closed": "已关闭",
}

INCIDENT_LINK_LABEL = "查看事件"
ACK_LINK_LABEL = "确认接单"
ELLIPSIS = "…"
# A headline is one line; a longer title (a storm listing assets) is cut so the size-capped
# formats (WeCom 4 KB) keep room for the links.
MAX_HEADLINE_BYTES = 300


@dataclass(frozen=True)
class Message:
    """The channel-independent content of one notification to one recipient."""

    notification: Notification
    recipient: Recipient
    headline: str                          # "【告警】II级(重大) 门户网站不可用"
    facts: tuple[tuple[str, str], ...]     # (label, value) lines, in display order
    opened_at_utc: str                     # ISO 8601, "Z"
    opened_at_local: str                   # ISO 8601 with the zone's offset
    timezone: str

    @property
    def text(self) -> str:
        return self.notification.text

    @property
    def incident_url(self) -> str:
        return self.notification.incident_url

    @property
    def ack_url(self) -> str:
        return self.notification.ack_url

    @property
    def subject(self) -> str:
        """One line (e-mail subject, card title): severity, title and incident number."""
        return one_line(f"{self.headline} (事件 #{self.notification.incident_id})")


def render(notification: Notification, recipient: Recipient, tz: ZoneInfo) -> Message:
    opened = as_utc(notification.opened_at)
    local = opened.astimezone(tz)
    severity = SEVERITY_LABELS.get(notification.severity, str(notification.severity))
    status = STATUS_LABELS.get(notification.status, notification.status)
    facts = (
        ("事件", f"#{notification.incident_id}"),
        ("级别", severity),
        ("状态", status),
        ("部门", notification.department_id or "未指定"),
        ("发生时间", local_time_text(opened, tz)),
        ("升级步骤", "首次通知" if notification.step == 0 else f"第 {notification.step} 级升级"),
        ("通知对象", f"{recipient.name} ({recipient.role})"),
    )
    return Message(
        notification=notification,
        recipient=recipient,
        headline=truncate_utf8(one_line(f"【告警】{severity} {notification.title}"), MAX_HEADLINE_BYTES),
        facts=facts,
        opened_at_utc=opened.isoformat().replace("+00:00", "Z"),
        opened_at_local=local.isoformat(),
        timezone=tz.key,
    )


def as_utc(moment: datetime) -> datetime:
    # Incident times come from timestamptz columns and are aware; a naive value can only
    # be UTC by the project's convention (store UTC), so it is read as such rather than
    # failing a page about a live incident.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def local_time_text(moment: datetime, tz: ZoneInfo) -> str:
    """'2026-03-01 18:00:00 (Asia/Shanghai, UTC+08:00)': the wall time and its zone."""
    local = as_utc(moment).astimezone(tz)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M:%S} ({tz.key}, UTC{offset[:3]}:{offset[3:]})"


def one_line(text: str) -> str:
    # Titles come from rules and asset names; a line break would split a mail header or
    # a card title, so every run of whitespace becomes one space.
    return " ".join(text.split())


def truncate_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` that fits in ``max_bytes`` UTF-8 bytes, marked with '…'."""
    if max_bytes <= 0:
        return ""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    room = max_bytes - len(ELLIPSIS.encode("utf-8"))
    if room <= 0:
        return ""
    # Cutting inside a multi-byte character leaves a partial sequence: drop it.
    return encoded[:room].decode("utf-8", errors="ignore") + ELLIPSIS


def markdown_escape(text: str) -> str:
    # Titles, asset names and texts come from producers: they must not inject links, HTML
    # (<font>, <a>), bold or code into an operations chat, nor turn a line into a heading
    # or a quote. The robots' markdown has no backslash escapes, so those characters are
    # replaced by their full-width forms (``markdown_text`` handles a heading marker per
    # line). Underscores stay: asset ids use them, and at worst a pair italicises a word.
    table = str.maketrans({"[": "［", "]": "］", "*": "＊", "`": "｀", "<": "＜", ">": "＞"})
    return text.translate(table)


def markdown_text(text: str) -> str:
    """The body text for a robot's markdown: each line escaped, line breaks kept."""
    lines = (markdown_escape(line) for line in text.splitlines())
    # A line of its own starting with '#' would become a heading.
    return "\n".join("＃" + line[1:] if line.startswith("#") else line for line in lines)


def fit(build: Callable[[str], str], text: str, max_bytes: int) -> str:
    """``build(text)``, with ``text`` cut so that the whole result fits in ``max_bytes``.

    Only the free text is cut: the headline, the facts and the two links always stay.
    """
    whole = build(text)
    if len(whole.encode("utf-8")) <= max_bytes:
        return whole
    frame = len(build("").encode("utf-8"))
    return build(truncate_utf8(text, max_bytes - frame))
