"""For the demo: each injected failure next to what the pipeline recorded about it.

This is the check a person can make by eye that the pipeline sees what happened;
every figure is a parameterised query over the stored rows and state intervals, worded
in the reader's language (Settings.language), assets by their registry names.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from rich.console import Console
from rich.table import Table

from citybrain.demo.labels import (
    FAILURE_KINDS,
    MESSAGES,
    asset_label,
    cell,
    label,
)
from citybrain.kernel.i18n import Translator
from citybrain.kernel.settings import Settings
from citybrain.simulator import InjectedFailure
from citybrain.simulator.prepared import City
from schemas.names import load_names
from schemas.vocabulary import liveness_state, security_category
from streams.liveness import State

Conn = psycopg.Connection[Any]
SLACK = timedelta(minutes=15)  # offline is detected after interval × tolerance


def _window(f: InjectedFailure, city: City) -> tuple[Any, Any]:
    return f.start, (f.end or city.end) + SLACK


def _offline(conn: Conn, f: InjectedFailure, city: City, tz: ZoneInfo, t: Translator) -> str:
    lo, hi = _window(f, city)
    # A silent gateway takes its children with it: count them through the topology.
    ids = list(f.asset_ids) + [
        r[0] for r in conn.execute("SELECT asset_id FROM assets WHERE parent_id = ANY(%s)",
                                   (list(f.asset_ids),))
    ]
    row = conn.execute(
        "SELECT count(DISTINCT asset_id), count(*), min(started_at) FROM state_intervals"
        " WHERE asset_id = ANY(%s) AND state = 'offline'"
        " AND started_at < %s AND coalesce(ended_at, 'infinity') > %s",
        (ids, hi, lo),
    ).fetchone()
    assets, intervals, first = row if row else (0, 0, None)
    if first is None:
        return t.gettext("{offline} of {total} assets offline ({intervals} offline intervals)").format(
            offline=assets, total=len(ids), intervals=intervals)
    return t.gettext("{offline} of {total} assets offline ({intervals} offline intervals, first at"
                     " {first})").format(offline=assets, total=len(ids), intervals=intervals,
                                         first=f"{first.astimezone(tz):%H:%M:%S}")


def _pictures(conn: Conn, f: InjectedFailure, city: City, tz: ZoneInfo, t: Translator) -> str:
    lo, hi = _window(f, city)
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE cardinality(faults) > 0),"
        " count(*) FILTER (WHERE NOT online) FROM video_events"
        " WHERE asset_id = ANY(%s) AND occurred_at >= %s AND occurred_at < %s",
        (list(f.asset_ids), lo, hi),
    ).fetchone()
    faults, offline = row if row else (0, 0)
    # A camera that reports online with a bad picture is degraded (up, not intact);
    # the "offline" variant of the fault is the VMS reporting online=false.
    state = State.OFFLINE if f.param("fault") == "offline" else State.DEGRADED
    row = conn.execute(
        "SELECT count(*), min(started_at), max(ended_at), bool_or(ended_at IS NULL) FROM state_intervals"
        " WHERE asset_id = ANY(%s) AND state = %s"
        " AND started_at < %s AND coalesce(ended_at, 'infinity') > %s",
        (list(f.asset_ids), state, hi, lo),
    ).fetchone()
    intervals, first, last, still = row if row else (0, None, None, None)
    state_name = liveness_state(state, t.language)
    if not intervals or first is None:
        recorded = t.gettext("no {state} interval").format(state=state_name)
    else:
        until = t.gettext("still open") if still or last is None else f"{last.astimezone(tz):%H:%M:%S}"
        recorded = t.ngettext("{state} {first}–{until} ({count} interval)",
                              "{state} {first}–{until} ({count} intervals)", intervals).format(
            state=state_name, first=f"{first.astimezone(tz):%H:%M:%S}", until=until, count=intervals)
    return t.gettext("{faults} reports with picture faults, {offline} reports offline; {recorded}").format(
        faults=faults, offline=offline, recorded=recorded)


def _loss(conn: Conn, f: InjectedFailure, city: City, tz: ZoneInfo, t: Translator) -> str:
    lo, hi = f.start, f.end or city.end
    row = conn.execute(
        "SELECT sum(packets_lost), sum(packets_sent) FROM probe_events"
        " WHERE asset_id = ANY(%s) AND occurred_at >= %s AND occurred_at < %s",
        (list(f.asset_ids), lo, hi),
    ).fetchone()
    lost, sent = row if row else (None, None)
    if not sent or lost is None:
        return t.gettext("no probe packets recorded in the burst")
    return t.gettext("packet loss {percent}% ({lost}/{sent}) during the burst").format(
        percent=f"{100 * lost / sent:.1f}", lost=lost, sent=sent)


def _security(conn: Conn, f: InjectedFailure, city: City, tz: ZoneInfo, t: Translator) -> str:
    lo, hi = _window(f, city)
    rows = conn.execute(
        "SELECT level, category, count(*) FROM security_events"
        " WHERE asset_id = ANY(%s) AND occurred_at >= %s AND occurred_at < %s"
        " GROUP BY 1, 2 ORDER BY 1, 2",
        (list(f.asset_ids), lo - SLACK, hi),
    ).fetchall()
    return t.gettext(", ").join(
        t.gettext("level {level} {category} ×{count}").format(
            level=lv, category=security_category(cat, t.language), count=n)
        for lv, cat, n in rows) or t.gettext("none stored")


def _stale(conn: Conn, f: InjectedFailure, city: City, tz: ZoneInfo, t: Translator) -> str:
    row = conn.execute(
        "SELECT max(occurred_at) FROM data_events WHERE asset_id = ANY(%s) AND action = 'updated'",
        (list(f.asset_ids),),
    ).fetchone()
    last = row[0] if row else None
    if last is None:
        return t.gettext("no 'updated' event stored in the window")
    return t.gettext("last updated {time}").format(time=f"{last.astimezone(tz):%m-%d %H:%M:%S}")


def _hot_host(conn: Conn, f: InjectedFailure, city: City, tz: ZoneInfo, t: Translator) -> str:
    lo, hi = f.start, f.end or city.end
    row = conn.execute(
        "SELECT max(cpu_used_cores / nullif(cpu_alloc_cores, 0)), count(*) FROM cloud_events"
        " WHERE asset_id = ANY(%s) AND kind = 'usage' AND occurred_at >= %s AND occurred_at < %s",
        (list(f.asset_ids), lo, hi),
    ).fetchone()
    peak, readings = row if row else (None, 0)
    if peak is None:
        return t.gettext("no usage readings stored while it ran hot")
    return t.ngettext("CPU at most {percent}% of its allocated cores ({count} reading)",
                      "CPU at most {percent}% of its allocated cores ({count} readings)", readings).format(
        percent=f"{100 * peak:.0f}", count=readings)


Evidence = Callable[[Conn, InjectedFailure, City, ZoneInfo, Translator], str]
EVIDENCE: dict[str, Evidence] = {
    "district_outage": _offline,
    "flapping_device": _offline,
    "portal_outage": _offline,
    "camera_picture_fault": _pictures,
    "packet_loss_burst": _loss,
    "cloud_hot_host": _hot_host,
    "security_event": _security,
    "data_leak": _security,
    "stale_dataset": _stale,
}


# Failures injected many times are summarised in one row per kind.
GROUPED = {"security_event", "resource_request", "unregistered_source", "failed_quality_check",
           "duplicate_message", "malformed_message"}


def print_evidence(console: Console, conn: Conn, city: City, settings: Settings) -> None:
    tz, t = settings.tz, MESSAGES.translator(settings.language)
    names = load_names(conn, settings.language, {a for f in city.scenario.failures for a in f.asset_ids})
    table = Table(show_lines=False, pad_edge=False)
    table.add_column(t.gettext("injected"), no_wrap=True)
    table.add_column(t.gettext("when ({zone})").format(zone=settings.timezone), no_wrap=True)
    table.add_column(t.gettext("assets"), no_wrap=True)
    table.add_column(t.gettext("recorded by the pipeline"))
    grouped: dict[str, list[InjectedFailure]] = {}
    for f in city.scenario.failures:
        if f.kind in GROUPED:
            grouped.setdefault(f.kind, []).append(f)
            continue
        check = EVIDENCE.get(f.kind)
        end = f"–{f.end.astimezone(tz):%H:%M}" if f.end else ""
        more = t.gettext(" +{count}").format(count=len(f.asset_ids) - 1) if len(f.asset_ids) > 1 else ""
        table.add_row(
            cell(label(t, FAILURE_KINDS, f.kind)),
            f"{f.start.astimezone(tz):%m-%d %H:%M}{end}",
            cell(asset_label(names, f.asset_ids[0]) + more) if f.asset_ids else "",
            # Without a query of its own, the scenario's note (English, as the simulator wrote it).
            cell(check(conn, f, city, tz, t) if check else f.detail),
        )
    for kind, failures in grouped.items():
        first, last = failures[0].start.astimezone(tz), failures[-1].start.astimezone(tz)
        count = len({a for f in failures for a in f.asset_ids})
        table.add_row(cell(f"{label(t, FAILURE_KINDS, kind)} ×{len(failures)}"),
                      f"{first:%m-%d %H:%M}–{last:%H:%M}",
                      t.ngettext("{count} asset", "{count} assets", count).format(count=count),
                      cell(_grouped(conn, kind, failures, t)))
    console.print(table)


def _grouped(conn: Conn, kind: str, failures: list[InjectedFailure], t: Translator) -> str:
    assets = sorted({a for f in failures for a in f.asset_ids})
    if kind == "security_event":
        rows = conn.execute(
            "SELECT level, count(*) FROM security_events GROUP BY 1 ORDER BY 1"
        ).fetchall()
        return t.gettext("stored by level: {levels}").format(
            levels=t.gettext(", ").join(f"{lv} ×{n}" for lv, n in rows))
    if kind == "malformed_message":
        row = conn.execute(
            "SELECT count(*), count(DISTINCT (topic, partition, \"offset\")) FROM dead_letters"
        ).fetchone()
        return t.gettext("{letters} dead letters from {messages} messages").format(
            letters=row[0] if row else 0, messages=row[1] if row else 0)
    if kind == "unregistered_source":
        row = conn.execute(
            "SELECT count(*), coalesce(sum(events), 0) FROM unregistered_sources WHERE asset_id = ANY(%s)",
            (assets,),
        ).fetchone()
        return t.gettext("{events} events stored, {sources} sources listed for registration").format(
            events=row[1] if row else 0, sources=row[0] if row else 0)
    if kind == "failed_quality_check":
        row = conn.execute(
            "SELECT count(*) FROM data_events WHERE action = 'quality_check' AND NOT passed"
        ).fetchone()
        return t.gettext("{count} failed quality checks stored").format(count=row[0] if row else 0)
    if kind == "duplicate_message":
        return t.gettext("each stored once (identity: occurred_at, event_id)")
    if kind == "resource_request":
        row = conn.execute(
            "SELECT count(DISTINCT request_id), count(DISTINCT request_id) FILTER"
            " (WHERE fulfilled_at IS NOT NULL) FROM cloud_events WHERE kind = 'request'"
        ).fetchone()
        return t.gettext("{requests} requests stored, {fulfilled} fulfilled").format(
            requests=row[0] if row else 0, fulfilled=row[1] if row else 0)
    return ""
