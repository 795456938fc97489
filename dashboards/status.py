"""What the store holds right now: events per family, dead letters, assets by state;
read (``read_status``) and printed for a person at a terminal (``print_status``: the
status command and the demo's summary).

``Status`` (and ``-o json``) keeps the stored values and ids (``iot``, ``offline``, the
dead-letter reason classes); the printed tables name them in the reader's language.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, get_args

import psycopg
from psycopg import sql
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from citybrain.kernel.i18n import N_, Language, Translator, current_language
from dashboards import texts
from schemas.events import TABLES
from schemas.registry import Key
from streams.liveness import State

# An asset the liveness derivation never saw has no asset_state row: kinds without a
# heartbeat (cloud hosts, datasets, security sensors).
UNTRACKED = "untracked"
STATES: tuple[str, ...] = (*(s.value for s in State), UNTRACKED)
KEYS: tuple[Key, ...] = get_args(Key)

# The dead-letter reason classes (``_reason_class``) as a person reads them; the class
# "invalid field <field>" reads "invalid field {field}".
REASONS: dict[str, str] = {
    "invalid JSON": N_("invalid JSON"),
    "empty message": N_("empty message"),
    "expected a JSON object": N_("not a JSON object"),
    "oversized message": N_("oversized message"),
    "occurred_at in the future": N_("occurred_at in the future"),
    "occurred_at too old": N_("occurred_at too old"),
}
INVALID_FIELD = "invalid field "


@dataclass(frozen=True)
class Status:
    events: dict[str, int]
    dead_lettered: int
    dead_letter_reasons: dict[str, int]
    unregistered_events: int
    unregistered_sources: int
    assets: dict[str, dict[str, int]]  # key -> state -> count (registered, not retired)
    state_changes: dict[str, int]      # state entered -> transitions
    watermarks: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _reason_class(reason: str) -> str:
    # "events[3].status: Input should be ..." -> "status: Input should be ..." grouped
    # by the part before the first detail, so the summary stays short.
    head = reason.split(" (", 1)[0]
    for fixed in ("invalid JSON", "empty message", "expected a JSON object"):
        if head.startswith(fixed):
            return fixed
    if head.startswith("oversized"):
        return "oversized message"
    if " is in the future" in head:
        return "occurred_at in the future"
    if " is too old" in head:
        return "occurred_at too old"
    field_part = head.split(":", 1)[0]
    if field_part.startswith("events["):
        field_part = field_part.split("].", 1)[-1]
    return f"{INVALID_FIELD}{field_part}"


def read_status(conn: psycopg.Connection[Any]) -> Status:
    events: dict[str, int] = {}
    for family, table in TABLES.items():
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
        events[family] = int(row[0]) if row else 0
    reasons: dict[str, int] = {}
    for (reason,) in conn.execute("SELECT reason FROM dead_letters"):
        cls = _reason_class(reason)
        reasons[cls] = reasons.get(cls, 0) + 1
    unreg = conn.execute(
        "SELECT coalesce(sum(events), 0), count(DISTINCT asset_id) FROM unregistered_sources"
    ).fetchone()
    assets: dict[str, dict[str, int]] = {k: dict.fromkeys(STATES, 0) for k in KEYS}
    for key, state, n in conn.execute(
        "SELECT a.key, coalesce(s.state, %s), count(*) FROM assets a"
        " LEFT JOIN asset_state s USING (asset_id)"
        " WHERE a.retired_at IS NULL OR a.retired_at > now()"
        " GROUP BY 1, 2",
        (UNTRACKED,),
    ):
        assets[key][state] = int(n)
    changes = {
        state: int(n)
        for state, n in conn.execute(
            "SELECT state, count(*) FROM state_intervals GROUP BY state ORDER BY state"
        )
    }
    marks = {
        feed: wm.isoformat()
        for feed, wm in conn.execute("SELECT feed, watermark FROM feed_watermarks ORDER BY feed")
    }
    return Status(
        events=events,
        dead_lettered=sum(reasons.values()),
        dead_letter_reasons=dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        unregistered_events=int(unreg[0]) if unreg else 0,
        unregistered_sources=int(unreg[1]) if unreg else 0,
        assets=assets,
        state_changes=changes,
        watermarks=marks,
    )


def _reason_text(t: Translator, reason: str) -> str:
    if reason in REASONS:
        return t.gettext(REASONS[reason])
    if reason.startswith(INVALID_FIELD):
        return t.gettext("invalid field {field}").format(field=reason.removeprefix(INVALID_FIELD))
    return reason


def print_status(console: Console, st: Status, language: Language | None = None) -> None:
    """The status in ``language`` (default: the current one, Settings.language in a command)."""
    t = texts.translator(language or current_language())

    def bold(text: str) -> str:
        return f"[bold]{escape(text)}[/bold]"

    console.print(bold(t.gettext("Stored events per family")))
    events = Table()
    events.add_column(t.gettext("Family"))
    events.add_column(t.gettext("Events"), justify="right")
    for family, n in st.events.items():
        events.add_row(escape(texts.text(t, texts.FAMILIES, family)), f"{n:,}")
    events.add_row(bold(t.gettext("Total")), bold(f"{sum(st.events.values()):,}"))
    console.print(events)

    console.print(t.gettext(
        "Dead-lettered: {dead}    from unregistered sources: {events} events ({sources} asset ids, "
        "stored and listed for registration)").format(
        dead=bold(str(st.dead_lettered)), events=f"{st.unregistered_events:,}",
        sources=st.unregistered_sources))
    if st.dead_letter_reasons:
        console.print(bold(t.gettext("Dead letters by reason")))
        dl = Table()
        dl.add_column(t.gettext("Reason"))
        dl.add_column(t.gettext("Messages"), justify="right")
        for reason, n in st.dead_letter_reasons.items():
            dl.add_row(escape(_reason_text(t, reason)), str(n))
        console.print(dl)

    console.print(bold(t.gettext("Registered assets by key and current liveness state")))
    assets = Table()
    assets.add_column(t.gettext("Key"))
    for state in STATES:
        assets.add_column(escape(texts.text(t, texts.COUNTED_STATES, state)), justify="right")
    for key in KEYS:
        row = st.assets.get(key, {})
        if sum(row.values()):
            assets.add_row(escape(texts.text(t, texts.KEYS, key)), *(str(row.get(s, 0)) for s in STATES))
    console.print(assets)
    console.print("[dim]" + escape(t.gettext(
        "{untracked}: kinds without a heartbeat (cloud hosts, datasets, security sensors)").format(
        untracked=texts.text(t, texts.COUNTED_STATES, UNTRACKED))) + "[/dim]")
    if st.state_changes:
        changes = t.gettext(", ").join(
            f"{texts.text(t, texts.COUNTED_STATES, state)} {n:,}" for state, n in st.state_changes.items())
        console.print(escape(t.gettext("State changes entered: {changes}").format(changes=changes)))
    if st.watermarks:
        marks = t.gettext(", ").join(
            f"{texts.text(t, texts.FAMILIES, feed)} {w}" for feed, w in st.watermarks.items())
        console.print(escape(t.gettext("Feed watermarks (event time): {marks}").format(marks=marks)))
