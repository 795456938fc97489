"""For the demo: each injected failure next to what the pipeline recorded about it.

This is the check a person can make by eye that the pipeline sees what happened;
every figure is a parameterised query over the stored rows and state intervals.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from rich.console import Console
from rich.table import Table

from citybrain.kernel.settings import Settings
from citybrain.simulator import InjectedFailure
from citybrain.simulator.prepared import City
from streams.liveness import State

Conn = psycopg.Connection[Any]
SLACK = timedelta(minutes=15)  # offline is detected after interval × tolerance


def _window(f: InjectedFailure, city: City) -> tuple[Any, Any]:
    return f.start, (f.end or city.end) + SLACK


def _offline(conn: Conn, f: InjectedFailure, city: City, tz: ZoneInfo) -> str:
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
    when = f", first at {first.astimezone(tz):%H:%M:%S}" if first else ""
    return f"{assets} of {len(ids)} assets offline ({intervals} offline intervals{when})"


def _pictures(conn: Conn, f: InjectedFailure, city: City, tz: ZoneInfo) -> str:
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
    if not intervals or first is None:
        recorded = f"no {state} interval"
    else:
        until = "still open" if still or last is None else f"{last.astimezone(tz):%H:%M:%S}"
        recorded = (f"{state} {first.astimezone(tz):%H:%M:%S}–{until}"
                    f" ({intervals} interval{'s' if intervals != 1 else ''})")
    return f"{faults} reports with picture faults, {offline} reports offline; {recorded}"


def _loss(conn: Conn, f: InjectedFailure, city: City, tz: ZoneInfo) -> str:
    lo, hi = f.start, f.end or city.end
    row = conn.execute(
        "SELECT sum(packets_lost), sum(packets_sent) FROM probe_events"
        " WHERE asset_id = ANY(%s) AND occurred_at >= %s AND occurred_at < %s",
        (list(f.asset_ids), lo, hi),
    ).fetchone()
    lost, sent = row if row else (None, None)
    if not sent or lost is None:
        return "no probe packets recorded in the burst"
    return f"packet loss {100 * lost / sent:.1f} % ({lost}/{sent}) during the burst"


def _security(conn: Conn, f: InjectedFailure, city: City, tz: ZoneInfo) -> str:
    lo, hi = _window(f, city)
    rows = conn.execute(
        "SELECT level, category, count(*) FROM security_events"
        " WHERE asset_id = ANY(%s) AND occurred_at >= %s AND occurred_at < %s"
        " GROUP BY 1, 2 ORDER BY 1, 2",
        (list(f.asset_ids), lo - SLACK, hi),
    ).fetchall()
    return ", ".join(f"level {lv} {cat} ×{n}" for lv, cat, n in rows) or "none stored"


def _stale(conn: Conn, f: InjectedFailure, city: City, tz: ZoneInfo) -> str:
    row = conn.execute(
        "SELECT max(occurred_at) FROM data_events WHERE asset_id = ANY(%s) AND action = 'updated'",
        (list(f.asset_ids),),
    ).fetchone()
    last = row[0] if row else None
    return "no 'updated' event stored in the window" if last is None else f"last updated {last}"


EVIDENCE: dict[str, Callable[[Conn, InjectedFailure, City, ZoneInfo], str]] = {
    "district_outage": _offline,
    "flapping_device": _offline,
    "portal_outage": _offline,
    "camera_picture_fault": _pictures,
    "packet_loss_burst": _loss,
    "security_event": _security,
    "data_leak": _security,
    "stale_dataset": _stale,
}


# Failures injected many times are summarised in one row per kind.
GROUPED = {"security_event", "resource_request", "unregistered_source", "failed_quality_check",
           "duplicate_message", "malformed_message"}


def print_evidence(console: Console, conn: Conn, city: City, settings: Settings) -> None:
    tz = settings.tz
    table = Table(show_lines=False, pad_edge=False)
    table.add_column("injected", no_wrap=True)
    table.add_column(f"when ({settings.timezone})", no_wrap=True)
    table.add_column("assets", no_wrap=True)
    table.add_column("recorded by the pipeline")
    grouped: dict[str, list[InjectedFailure]] = {}
    for f in city.scenario.failures:
        if f.kind in GROUPED:
            grouped.setdefault(f.kind, []).append(f)
            continue
        check = EVIDENCE.get(f.kind)
        end = f"–{f.end.astimezone(tz):%H:%M}" if f.end else ""
        more = f" +{len(f.asset_ids) - 1}" if len(f.asset_ids) > 1 else ""
        table.add_row(
            f.kind,
            f"{f.start.astimezone(tz):%m-%d %H:%M}{end}",
            f"{f.asset_ids[0]}{more}" if f.asset_ids else "",
            check(conn, f, city, tz) if check else f.detail,
        )
    for kind, failures in grouped.items():
        first, last = failures[0].start.astimezone(tz), failures[-1].start.astimezone(tz)
        table.add_row(f"{kind} ×{len(failures)}", f"{first:%m-%d %H:%M}–{last:%H:%M}",
                      f"{len({a for f in failures for a in f.asset_ids})} assets",
                      _grouped(conn, kind, failures, city))
    console.print(table)


def _grouped(conn: Conn, kind: str, failures: list[InjectedFailure], city: City) -> str:
    assets = sorted({a for f in failures for a in f.asset_ids})
    if kind == "security_event":
        rows = conn.execute(
            "SELECT level, count(*) FROM security_events GROUP BY 1 ORDER BY 1"
        ).fetchall()
        return "stored by level: " + ", ".join(f"{lv} ×{n}" for lv, n in rows)
    if kind == "malformed_message":
        row = conn.execute(
            "SELECT count(*), count(DISTINCT (topic, partition, \"offset\")) FROM dead_letters"
        ).fetchone()
        return f"{row[0] if row else 0} dead letters from {row[1] if row else 0} messages"
    if kind == "unregistered_source":
        row = conn.execute(
            "SELECT count(*), coalesce(sum(events), 0) FROM unregistered_sources WHERE asset_id = ANY(%s)",
            (assets,),
        ).fetchone()
        return f"{row[1] if row else 0} events stored, {row[0] if row else 0} sources listed for registration"
    if kind == "failed_quality_check":
        row = conn.execute(
            "SELECT count(*) FROM data_events WHERE action = 'quality_check' AND NOT passed"
        ).fetchone()
        return f"{row[0] if row else 0} failed quality checks stored"
    if kind == "duplicate_message":
        return "each stored once (identity: occurred_at, event_id)"
    if kind == "resource_request":
        row = conn.execute(
            "SELECT count(DISTINCT request_id), count(DISTINCT request_id) FILTER"
            " (WHERE fulfilled_at IS NOT NULL) FROM cloud_events WHERE kind = 'request'"
        ).fetchone()
        return f"{row[0] if row else 0} requests stored, {row[1] if row else 0} fulfilled"
    return ""
