"""What every notification says, whatever the channel: one rendering, many formats.

Each channel's format (robot markdown, card, e-mail, JSON) is built from a ``Message``,
so every channel carries the same content, in ``Settings.language`` (zh-CN by default,
en too; the texts are the ``alerts`` catalogue's, ``alerts/locale``):

- the headline: severity, the department's and the asset's names (the registry's
  display names in that language; a storm names its first few assets and counts the
  rest) — and, as the subject of a mail or a card, what happened;
- what happened: the incident's title, then the notification's text (a storm's assets…);
- facts, one per line: the incident number, severity, status, the assets and the
  department with their ids (operators act on ids), since when (the opening time in
  the operations centre's time zone, the zone named), the response due time (the
  30-minute clock: opened + the severity's response minutes), the escalation step and
  whom it pages, and the recipient;
- two links: the incident page and this recipient's acknowledge page. Without signed
  links (no ``ack_link_secret``) there is no acknowledge link, and a note says where to
  acknowledge instead.

No message names a shell command: the recipients act from a phone or a mailbox.

Untrusted text (titles, names, free text come from producers and the registry) is
escaped by each format (``markdown_escape``, HTML escaping); sizes are kept within each
channel's limit by ``fit``, which cuts the free text first and only then the names and
values, never the links.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel.dates import get_timezone_name

from alerts.model import Notification, Recipient, Severity
from citybrain.kernel.i18n import DEFAULT_LANGUAGE, LOCALE_DIRS, N_, Catalogue, Language, Translator

MESSAGES = Catalogue.of_package(__name__)          # alerts/locale

SEVERITY_LABELS: dict[Severity, str] = {
    Severity.I: N_("Level I (especially serious)"),
    Severity.II: N_("Level II (serious)"),
    Severity.III: N_("Level III (major)"),
    Severity.IV: N_("Level IV (general)"),
}

STATUS_LABELS: dict[str, str] = {
    "triggered": N_("awaiting response"),
    "acknowledged": N_("acknowledged"),
    "resolved": N_("resolved"),
    "closed": N_("closed"),
}

# The roles an escalation step pages (alerts.incidents.escalation_policy.Target) and the
# recipients' roles.
ROLE_LABELS: dict[str, str] = {
    "oncall": N_("on-call"),
    "lead": N_("team lead"),
    "first_responsible": N_("first responsible person"),
    "duty_supervisor": N_("duty supervisor"),
    "group": N_("department group"),
}

CHANNEL_LABELS: dict[str, str] = {
    "email": N_("e-mail"),
    "wecom": N_("WeCom"),
    "dingtalk": N_("DingTalk"),
    "feishu": N_("Feishu"),
    "webhook": N_("webhook"),
}

# DingTalk and Feishu robots protected by custom keywords (自定义关键词) drop every message
# without one of them. The keyword is configured once per robot, in Chinese, by whoever
# set the group up — not per language of this server — so 告警 stays in every headline in
# both languages (and with it in every message body, card and title), whatever the
# catalogue's translation of "Alert" says.
KEYWORD = "告警"
ELLIPSIS = "…"
# A headline and a title are one line each; longer ones (a storm listing assets, a
# producer's long title) are cut, so the size-capped formats (WeCom 4 KB) keep room for
# the facts and the links.
MAX_HEADLINE_BYTES = 240
MAX_TITLE_BYTES = 300
MAX_VALUE_BYTES = 240
# Assets named in the headline and the asset fact; the others are counted.
NAMED_ASSETS = 3


@dataclass(frozen=True)
class Fact:
    key: str          # incident, severity, status, assets, department, since, due, step, recipient
    label: str
    value: str


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class Message:
    """The channel-independent content of one notification to one recipient, in one language."""

    notification: Notification
    recipient: Recipient
    t: Translator                          # for a format's own few words
    headline: str                          # "【告警】II级(重大) 市数据局 · 市政务服务网"
    title: str                             # what happened, one line
    subject: str                           # one line: headline, title, incident number
    facts: tuple[Fact, ...]                # in display order
    incident_link: Link
    ack_link: Link | None                  # None: signed links are not enabled
    note: str | None                       # where to acknowledge when there is no ack link
    opened_at_utc: str                     # ISO 8601, "Z"
    opened_at_local: str                   # ISO 8601 with the zone's offset
    response_due_at_utc: str | None
    response_due_at_local: str | None
    timezone: str

    @property
    def language(self) -> Language:
        return self.t.language

    @property
    def text(self) -> str:
        return self.notification.text

    @property
    def incident_url(self) -> str:
        return self.incident_link.url

    @property
    def ack_url(self) -> str | None:
        return None if self.ack_link is None else self.ack_link.url

    def line(self, label: str, value: str) -> str:
        """'部门：市数据局' / 'Department: Water Authority' (the colon is the language's)."""
        return self.t.gettext("{label}: {value}").format(label=label, value=value)

    @property
    def links(self) -> tuple[Link, ...]:
        """The links in the order a text shows them: the incident page, then acknowledge."""
        return (self.incident_link,) if self.ack_link is None else (self.incident_link, self.ack_link)


def render(notification: Notification, recipient: Recipient, tz: ZoneInfo,
           language: Language = DEFAULT_LANGUAGE) -> Message:
    t = MESSAGES.translator(language)
    n = notification
    opened = as_utc(n.opened_at)
    severity = severity_label(t, n.severity)
    department = n.department_name or n.department_id
    asset_names = assets_text(t, n, with_ids=False)
    where = " · ".join(part for part in (department, asset_names) if part)
    headline = truncate_utf8(one_line(f"【{alert_tag(t)}】{severity} {where}".strip()), MAX_HEADLINE_BYTES)
    title = truncate_utf8(one_line(n.title), MAX_TITLE_BYTES)

    facts = [
        Fact("incident", t.gettext("Incident"), f"#{n.incident_id}"),
        Fact("severity", t.gettext("Severity"), severity),
        Fact("status", t.gettext("Status"), status_label(t, n.status)),
    ]
    if n.assets:
        count = max(n.asset_count, len(n.assets))
        facts.append(Fact("assets", t.ngettext("Asset", "Assets", count), assets_text(t, n, with_ids=True)))
    facts += [
        Fact("department", t.gettext("Department"),
             named(n.department_name, n.department_id) if n.department_id else t.gettext("unassigned")),
        Fact("since", t.gettext("Since"), local_time_text(opened, tz, t.language)),
    ]
    due = as_utc(n.response_due_at) if n.response_due_at is not None else None
    if due is not None:
        facts.append(Fact("due", t.gettext("Respond by"), due_text(t, opened, due, tz)))
    facts += [
        Fact("step", t.gettext("Escalation"), step_text(t, n.step, n.targets)),
        Fact("recipient", t.gettext("Recipient"), t.gettext("{name} ({role})").format(
            name=one_line(recipient.name), role=role_label(t, recipient.role))),
    ]
    return Message(
        notification=n,
        recipient=recipient,
        t=t,
        headline=headline,
        title=title,
        subject=one_line(t.gettext("{headline}: {title} (incident #{number})").format(
            headline=headline, title=title, number=n.incident_id)),
        facts=tuple(Fact(f.key, f.label, truncate_utf8(one_line(f.value), MAX_VALUE_BYTES)) for f in facts),
        incident_link=Link(t.gettext("Open incident"), n.incident_url),
        ack_link=Link(t.gettext("Acknowledge"), n.ack_url) if n.ack_url else None,
        note=None if n.ack_url else t.gettext(
            "No one-click acknowledge link (this server signs none): acknowledge on the incident page, "
            "or ask the operations centre's duty staff to."),
        opened_at_utc=iso_utc(opened),
        opened_at_local=opened.astimezone(tz).isoformat(),
        response_due_at_utc=iso_utc(due) if due is not None else None,
        response_due_at_local=due.astimezone(tz).isoformat() if due is not None else None,
        timezone=tz.key,
    )


def plain_text(message: Message) -> str:
    """The message as plain text (an e-mail's plain part, a webhook's ``message``)."""
    lines = [message.headline, message.title, ""]
    lines += [message.line(f.label, f.value) for f in message.facts]
    if message.text:
        lines += ["", message.text]
    lines += ["", *(message.line(link.label, link.url) for link in message.links)]
    if message.note:
        lines += [message.note]
    return "\n".join(lines)


def alert_tag(t: Translator) -> str:
    """'告警' in Chinese, '告警 Alert' in English: the robots' keyword is always there."""
    tag = t.gettext("Alert")
    return tag if KEYWORD in tag else f"{KEYWORD} {tag}"


def severity_label(t: Translator, severity: Severity | str) -> str:
    try:
        return t.gettext(SEVERITY_LABELS[Severity(severity)])
    except (ValueError, KeyError):
        return str(severity)


def status_label(t: Translator, status: str) -> str:
    label = STATUS_LABELS.get(status)
    return t.gettext(label) if label else status


def role_label(t: Translator, role: str) -> str:
    label = ROLE_LABELS.get(role)
    return t.gettext(label) if label else role


def channel_label(t: Translator, channel: str) -> str:
    label = CHANNEL_LABELS.get(channel)
    return t.gettext(label) if label else channel


def join(t: Translator, items: Sequence[str]) -> str:
    # TRANSLATORS: the separator of a list of names or roles ("a, b, c").
    return t.gettext(", ").join(items)


def named(name: str | None, ident: str | None) -> str:
    """'市数据局 (dept-07)': the name, and the id an operator acts on when it differs."""
    if not name or name == ident:
        return ident or ""
    return f"{name} ({ident})" if ident else name


def assets_text(t: Translator, n: Notification, *, with_ids: bool) -> str:
    """The first few assets by name (and id), and how many more the incident holds."""
    shown = [named(name, ident) if with_ids else (name or ident) for ident, name in n.assets[:NAMED_ASSETS]]
    if not shown:
        return ""
    more = max(n.asset_count, len(n.assets)) - len(shown)
    text = join(t, shown)
    return t.gettext("{names} and {count} more").format(names=text, count=more) if more > 0 else text


def step_text(t: Translator, step: int, targets: Sequence[str]) -> str:
    which = (t.gettext("first notice") if step == 0
             else t.gettext("step {step}").format(step=step))
    if not targets:
        return which
    return t.gettext("{step}, to {targets}").format(
        step=which, targets=join(t, [role_label(t, r) for r in targets]))


def due_text(t: Translator, opened: datetime, due: datetime, tz: ZoneInfo) -> str:
    minutes = (due - opened).total_seconds() / 60
    return t.gettext("{time} ({minutes} min after opening)").format(
        time=f"{due.astimezone(tz):%Y-%m-%d %H:%M}", minutes=f"{minutes:g}")


def as_utc(moment: datetime) -> datetime:
    # Incident times come from timestamptz columns and are aware; a naive value can only
    # be UTC by the project's convention (store UTC), so it is read as such rather than
    # failing a page about a live incident.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso_utc(moment: datetime) -> str:
    return as_utc(moment).isoformat().replace("+00:00", "Z")


def zone_name(local: datetime, language: Language) -> str:
    """The zone's name as the language says it at that moment ('中国标准时间', 'China Standard Time')."""
    try:
        return str(get_timezone_name(local, width="long", locale=LOCALE_DIRS[language]))
    except (LookupError, ValueError):    # a zone Babel has no name for: the offset says enough
        return ""


def local_time_text(moment: datetime, tz: ZoneInfo, language: Language = DEFAULT_LANGUAGE) -> str:
    """'2026-03-01 18:00:00 中国标准时间 (Asia/Shanghai, UTC+08:00)': the wall time and its zone."""
    local = as_utc(moment).astimezone(tz)
    offset = local.strftime("%z")
    name = zone_name(local, language)
    return " ".join(part for part in (f"{local:%Y-%m-%d %H:%M:%S}", name) if part) + (
        f" ({tz.key}, UTC{offset[:3]}:{offset[3:]})")


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


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))


# How far ``fit`` cuts names and values when the free text alone is not enough: first
# not at all (as rendered), then to 96 bytes each, then to 32.
VALUE_CUTS: tuple[int | None, ...] = (None, 96, 32)


def clip(text: str, cut: int | None) -> str:
    """A name or value as a format shows it at one of ``fit``'s steps."""
    return text if cut is None else truncate_utf8(text, cut)


def fit(build: Callable[[str, int | None], str], text: str, max_bytes: int, *,
        size: Callable[[str], int] = utf8_size) -> str:
    """``build(text, cut)`` within ``max_bytes`` (UTF-8 bytes, or as ``size`` measures them).

    The free text is cut first; only when the rest alone is too long (names and values
    hundreds of bytes each) are the headline, the title and every fact value cut too,
    with ``clip(value, cut)`` in ``build``. The links are never cut: a message without
    a working link is worse than a short one. ``build`` may add bytes per line of the
    text (a paragraph per line), and ``size`` may count a character as more than its
    UTF-8 bytes (JSON escapes), so the result is measured, not predicted.
    """
    built = ""
    for cut in VALUE_CUTS:
        built = build("", cut)
        frame = size(built)
        if frame > max_bytes:
            continue
        room = max_bytes - frame
        budget = room
        while budget > 0:
            whole = build(text if utf8_size(text) <= budget else truncate_utf8(text, budget), cut)
            cost = size(whole) - frame            # what the text costs as built and measured
            if cost <= room:
                return whole
            # Scale the cut by what a byte of this text costs (2 for JSON quotes, more
            # with paragraphs), and always cut further.
            budget = min(budget - 1, budget * room // cost)
        return built
    # Even the shortest frame is too long (links of kilobytes): send it, and the robot's
    # refusal is recorded on the timeline like any other failed delivery.
    return built
