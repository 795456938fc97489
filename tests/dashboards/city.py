"""A small simulated city, loaded into a test schema through the real ingest code.

The simulator's registry is imported, and its six event families go through the same
``Ingestor`` (decode → dead letters → COPY) and liveness derivation (state intervals,
asset states, watermarks) the workers run — only the broker is left out, since the
dashboards read the database, not Kafka. Incidents, SLA breaches and a maintenance window
are inserted as representative rows: the alerter that writes them is another process (the
incidents' titles are Chinese, as the alerter of a Chinese centre writes them).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from citybrain.kernel.settings import FAMILIES, Settings
from citybrain.simulator import CityConfig
from citybrain.simulator import prepared as simulation
from schemas.assets import import_registry
from streams import facts
from streams.derivation import derive
from streams.ingest import Ingestor, RawMessage
from streams.sink import DeadLetter, EventSink

# 20:00 to 02:00 in Shanghai: the window crosses a local midnight, so 'day' breakdowns
# have two members.
START = datetime(2026, 3, 1, 20, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)
HOURS = 6
END = START + timedelta(hours=HOURS)
CONFIG = CityConfig(seed=7, departments=4, districts=3, iot_devices=120, cameras=40, cloud_hosts=4,
                    services=8, links=4, datasets=8)
BATCH = 500


@dataclass(frozen=True)
class LoadedCity:
    city: simulation.City
    messages: int
    departments: tuple[str, ...]
    districts: tuple[str, ...]


async def _ingest(settings: Settings, database_url: str, city: simulation.City) -> int:
    async def no_dead_letter_topic(_: Sequence[DeadLetter]) -> None:
        return None  # the dead_letters table is written by the sink; there is no broker

    ingestors = {
        family: Ingestor(family, settings,
                         EventSink(database_url, settings.database_schema, family,
                                   facts=facts.deriver(family, settings)),
                         dead_letter=no_dead_letter_topic,
                         clock=lambda: END + timedelta(minutes=1))
        for family in FAMILIES
    }
    offsets: dict[str, int] = defaultdict(int)
    pending: dict[str, list[RawMessage]] = defaultdict(list)
    count = 0

    async def flush(family: str) -> None:
        batch, pending[family] = pending[family], []
        if batch:
            ingestor = ingestors[family]
            await ingestor.commit(await ingestor.prepare(batch))

    for message in city.messages():
        topic = settings.topic(message.family)
        pending[message.family].append(RawMessage(topic, 0, offsets[topic], message.value))
        offsets[topic] += 1
        count += 1
        if len(pending[message.family]) >= BATCH:
            await flush(message.family)
    for family in list(pending):
        await flush(family)
    await asyncio.to_thread(derive, settings, database_url)
    for ingestor in ingestors.values():
        await ingestor.sink.close()
    return count


INCIDENTS_SQL = """
INSERT INTO incidents (fingerprint, rule_id, title, severity, status, key, department_id, asset_id,
                       opened_at, acknowledged_at, resolved_at, last_seen_at, response_due_at,
                       resolution_due_at, next_escalation_at)
SELECT 'fp-' || n, 'device_offline', '设备离线：' || coalesce(a.name_zh, a.name, a.asset_id),
       (ARRAY['I', 'II', 'III', 'IV'])[1 + mod(n, 4)],
       (ARRAY['triggered', 'acknowledged', 'resolved', 'closed'])[1 + mod(n, 4)],
       a.key, a.department_id, a.asset_id,
       %(start)s + n * interval '13 minutes',
       CASE WHEN mod(n, 4) <> 0
            THEN %(start)s + n * interval '13 minutes' + mod(n, 7) * interval '9 minutes' END,
       CASE WHEN mod(n, 4) >= 2 THEN %(start)s + n * interval '13 minutes' + interval '2 hours' END,
       %(start)s + n * interval '13 minutes',
       %(start)s + n * interval '13 minutes' + interval '30 minutes',
       %(start)s + n * interval '13 minutes' + interval '4 hours',
       CASE WHEN mod(n, 4) = 0 THEN %(start)s + n * interval '13 minutes' + interval '10 minutes' END
FROM generate_series(1, 24) n
JOIN LATERAL (SELECT asset_id, name, name_zh, key, department_id FROM assets ORDER BY asset_id
              OFFSET n LIMIT 1) a ON true;

INSERT INTO sla_breaches (incident_id, kind, department_id, severity, opened_at, due_at, breached_at)
SELECT incident_id, 'response', department_id, severity, opened_at, response_due_at, response_due_at
FROM incidents
WHERE acknowledged_at IS NULL OR acknowledged_at > response_due_at;

-- The simulated outages all recover inside the window: six devices go down 30 minutes
-- before its end, so the "down now" panels have something to show.
CREATE TEMP TABLE down AS
SELECT s.asset_id FROM asset_state s JOIN assets a ON a.asset_id = s.asset_id
WHERE a.kind = 'iot_device' AND s.state = 'online' ORDER BY s.asset_id LIMIT 6;
UPDATE state_intervals si SET ended_at = %(end)s - interval '30 minutes'
FROM down WHERE si.asset_id = down.asset_id AND si.ended_at IS NULL;
INSERT INTO state_intervals (asset_id, state, started_at, ended_at, reason)
SELECT asset_id, 'offline', %(end)s - interval '30 minutes', NULL, 'test: no heartbeat' FROM down;
UPDATE asset_state s SET state = 'offline', since = %(end)s - interval '30 minutes'
FROM down WHERE s.asset_id = down.asset_id;

INSERT INTO maintenance_windows (kind, scope, target, starts_at, ends_at, timezone, reason, created_by)
SELECT 'maintenance', 'district', min(district_id), %(start)s + interval '1 hour',
       %(start)s + interval '2 hours', 'Asia/Shanghai', 'planned works', 'test'
FROM districts;
INSERT INTO maintenance_periods (window_id, starts_at, ends_at)
SELECT window_id, starts_at, ends_at FROM maintenance_windows;
"""


def load(db: psycopg.Connection[Any], settings: Settings, database_url: str) -> LoadedCity:
    city = simulation.prepare(seed=CONFIG.seed, scale=1.0, start=START, days=HOURS / 24, config=CONFIG)
    import_registry(db, city.registry)
    messages = asyncio.run(_ingest(settings, database_url, city))
    for statement in INCIDENTS_SQL.split(";\n"):
        if statement.strip():
            db.execute(statement, {"start": START, "end": END})
    departments = tuple(r[0] for r in db.execute("SELECT department_id FROM departments ORDER BY 1"))
    districts = tuple(r[0] for r in db.execute("SELECT district_id FROM districts ORDER BY 1"))
    return LoadedCity(city, messages, departments, districts)
