"""Alerting benchmark: event → notification latency under background load, and offline
detection delay.

Runs on the embedded broker and database (or the configured ones) with one
``citybrain worker`` (ingest + liveness) and one ``citybrain alerter``; the escalation
policy's first step posts to a webhook served by this program on loopback. While a
background of ``--rate`` events/s (envelopes of 100: 80 % IoT heartbeats, 10 % link
probes, 10 % cloud usage, all with live timestamps; the alerter decodes and evaluates
the probe and cloud share) runs:

* **event → notification**: every ``--interval`` seconds one level-I security event on a
  fresh asset; the latency is from just before it is produced to the moment the webhook
  receives its notification (one process clock, the same machine).
* **offline detection delay**: ``--watch`` devices (heartbeat every second, expected
  interval 10 s, so offline 25 s after the last heartbeat) stop one after another; the
  delay is the notification's arrival minus that deadline (last heartbeat + interval ×
  tolerance), and separately the incident's opening minus the deadline.

The last line holds ``name=value`` pairs.

    .venv/bin/python -m bench.alerts [--rate 10000] [--samples 120] [--watch 10]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from citybrain.kernel import store
from citybrain.kernel.runtime import services
from citybrain.kernel.settings import Settings
from schemas.assets import import_registry
from schemas.registry import Asset, Contact, Department, Registry
from streams.topics import ensure_topics

WATCH_INTERVAL_S = 10
TOLERANCE = 2.5


class Webhook:
    """The notification receiver: records (arrival time, body) of every POST."""

    def __init__(self) -> None:
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.url = ""

    def arrivals(self) -> list[tuple[float, dict[str, Any]]]:
        with self.lock:
            return list(self.received)


@contextmanager
def webhook() -> Iterator[Webhook]:
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            arrived = time.time()
            body = orjson.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            with hook.lock:
                hook.received.append((arrived, body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


def registry(devices: int, links: int, hosts: int, watch: int, targets: int, at: datetime) -> Registry:
    assets = [Asset(asset_id=f"dev-{i}", kind="iot_device", department_id="bench", expected_interval_s=30,
                    registered_at=at) for i in range(devices)]
    assets += [Asset(asset_id=f"link-{i}", kind="link", department_id="bench", expected_interval_s=30,
                     registered_at=at) for i in range(links)]
    assets += [Asset(asset_id=f"host-{i}", kind="cloud_host", department_id="bench", registered_at=at)
               for i in range(hosts)]
    assets += [Asset(asset_id=f"watch-{i}", kind="iot_device", department_id="bench",
                     expected_interval_s=WATCH_INTERVAL_S, registered_at=at) for i in range(watch)]
    assets += [Asset(asset_id=f"target-{i}", kind="other", department_id="bench", registered_at=at)
               for i in range(targets)]
    return Registry(departments=(Department(department_id="bench", name="Bench",
                                            first_responsible=Contact(name="B", role="first_responsible")),),
                    assets=tuple(assets))


def _env(settings: Settings, url: str, policies: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "CITYBRAIN_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "",
        "CITYBRAIN_DATABASE_URL": url,
        "CITYBRAIN_DATABASE_SCHEMA": settings.database_schema,
        "CITYBRAIN_TOPIC_PREFIX": settings.topic_prefix,
        "CITYBRAIN_CONSUMER_GROUP": settings.consumer_group,
        "CITYBRAIN_DATA_DIR": str(settings.data_dir),
        "CITYBRAIN_LIVENESS_TOLERANCE": str(TOLERANCE),
        "CITYBRAIN_ESCALATION_POLICY_DIR": str(policies),
    })
    return env


class Load:
    """The background producer plus the measured events, on one producer."""

    def __init__(self, settings: Settings, args: argparse.Namespace) -> None:
        self.settings = settings
        self.args = args
        self.ids = itertools.count()
        self.produced = 0
        self.sent_at: dict[str, float] = {}           # target asset → wall time before produce
        self.last_beat: dict[str, datetime] = {}      # watch device → last heartbeat's event time
        self.stop_at: dict[str, float] = {}           # watch device → wall time it goes silent
        self.cursor = {"iot": 0, "probe": 0, "cloud": 0}

    def _events(self, family: str, n: int, now: datetime) -> list[dict[str, Any]]:
        stamp = now.isoformat()
        out: list[dict[str, Any]] = []
        for _ in range(n):
            i = self.cursor[family]
            self.cursor[family] += 1
            eid = f"b{next(self.ids)}"
            if family == "iot":
                out.append({"event_id": eid, "asset_id": f"dev-{i % self.args.devices}",
                            "occurred_at": stamp})
            elif family == "probe":
                out.append({"event_id": eid, "asset_id": f"link-{i % self.args.links}", "occurred_at": stamp,
                            "target_kind": "link", "ok": True, "latency_ms": 12.0, "packets_sent": 20,
                            "packets_lost": 0})
            else:
                out.append({"event_id": eid, "asset_id": f"host-{i % self.args.hosts}", "occurred_at": stamp,
                            "kind": "usage", "cpu_alloc_cores": 16.0, "cpu_used_cores": 6.0,
                            "mem_alloc_gb": 64.0, "mem_used_gb": 30.0})
        return out

    async def run(self, producer: AIOKafkaProducer, until: float) -> None:
        """Every 100 ms: rate/10 background events in envelopes of 100, and once a second
        the watch devices' heartbeats (until each one's stop time)."""
        per_tick = self.args.rate / 10
        shares = {"iot": 0.8, "probe": 0.1, "cloud": 0.1}
        owed = dict.fromkeys(shares, 0.0)
        tick, next_beat = time.monotonic(), 0.0
        pending: list[Any] = []
        while time.time() < until:
            now = datetime.now(UTC)
            for family, share in shares.items():
                owed[family] += per_tick * share
                while owed[family] >= 100:
                    owed[family] -= 100
                    value = orjson.dumps({"source": "bench", "events": self._events(family, 100, now)})
                    pending.append(await producer.send(self.settings.topic(family), value,
                                                       key=f"gw-{self.produced % 64}".encode()))
                    self.produced += 100
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + 1.0
                beats = [{"event_id": f"w{next(self.ids)}", "asset_id": w, "occurred_at": now.isoformat()}
                         for w, stop in self.stop_at.items() if time.time() < stop]
                for b in beats:
                    self.last_beat[b["asset_id"]] = now
                if beats:
                    pending.append(await producer.send(self.settings.topic("iot"),
                                                       orjson.dumps({"source": "watch", "events": beats}),
                                                       key=b"watch"))
            if len(pending) > 200:
                await asyncio.gather(*pending)
                pending.clear()
            tick += 0.1
            await asyncio.sleep(max(0.0, tick - time.monotonic()))
        await asyncio.gather(*pending)

    async def security(self, producer: AIOKafkaProducer, index: int) -> None:
        target = f"target-{index}"
        event = {"event_id": f"sec-{index}", "asset_id": target, "occurred_at": datetime.now(UTC).isoformat(),
                 "source": "ids", "category": "intrusion", "level": "I", "title": f"bench-{index}"}
        value = orjson.dumps(event)
        self.sent_at[target] = time.time()
        await producer.send_and_wait(self.settings.topic("security"), value, key=target.encode())


def paged(body: dict[str, Any]) -> list[str]:
    """The asset ids a webhook notification names (its ``assets``; the title is in the
    platform's language and names assets by their registry names)."""
    return [str(a["asset_id"]) for a in body.get("assets", ())]


async def drive(settings: Settings, args: argparse.Namespace, load: Load, hook: Webhook) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=5,
                                max_request_size=4 << 20, enable_idempotence=False)
    await producer.start()
    try:
        start = time.time()
        for i in range(args.watch):
            load.stop_at[f"watch-{i}"] = start + args.warmup + 10 + i * 6
        measured = args.warmup + max(args.samples * args.interval, 10 + args.watch * 6 + 40) + 5
        background = asyncio.ensure_future(load.run(producer, start + measured))
        # Warm-up: the worker and the alerter join their groups; a first page proves the path.
        await load.security(producer, 0)
        while not any("target-0" in paged(b) for _, b in hook.arrivals()):
            if time.time() - start > args.warmup + 60:
                raise SystemExit("no notification for the warm-up event; see the logs")
            await asyncio.sleep(0.2)
        await asyncio.sleep(max(0.0, start + args.warmup - time.time()))
        for i in range(1, args.samples + 1):
            await load.security(producer, i)
            await asyncio.sleep(args.interval)
        await background
        return load.produced / (time.time() - start)
    finally:
        await producer.stop()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each process (before its schema is dropped), then wait for it."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    procs.clear()


def measure(settings: Settings, args: argparse.Namespace, url: str, hook: Webhook, tmp: Path,
            procs: list[subprocess.Popen[bytes]]) -> dict[str, float]:
    store.migrate(url, settings.database_schema, storage=settings.storage)
    with store.connect(url, settings.database_schema) as conn:
        import_registry(conn, registry(args.devices, args.links, args.hosts, args.watch,
                                       args.samples + 1, datetime.now(UTC) - timedelta(days=1)))
    asyncio.run(ensure_topics(settings.kafka_bootstrap or "", settings))
    policies = tmp / "policies"
    policies.mkdir()
    (policies / "default.yaml").write_text(
        "name: bench\nsteps:\n  - {after_minutes: 0, notify: [group]}\n"
        f"groups:\n  - {{name: bench-hook, channel: webhook, address: '{hook.url}'}}\n")
    env = _env(settings, url, policies)
    for role in ("worker", "alerter"):
        with (tmp / f"{role}.log").open("wb") as out:
            procs.append(subprocess.Popen([sys.executable, "-m", "citybrain", role], env=env,
                                          stdout=out, stderr=subprocess.STDOUT))
    load = Load(settings, args)
    rate = asyncio.run(drive(settings, args, load, hook))
    time.sleep(5)  # the last notifications in flight
    arrivals = hook.arrivals()
    first: dict[str, float] = {}
    for arrived, body in arrivals:
        for asset in paged(body):
            first.setdefault(asset, arrived)
    latencies = [(first[t] - sent) * 1000 for t, sent in load.sent_at.items()
                 if t in first and t != "target-0"]
    delays, opened = [], []
    with store.connect(url, settings.database_schema) as conn:
        for w in load.stop_at:
            deadline = load.last_beat[w] + timedelta(seconds=WATCH_INTERVAL_S * TOLERANCE)
            if w in first:
                delays.append(first[w] - deadline.timestamp())
            row = conn.execute("SELECT opened_at FROM incidents WHERE fingerprint = %s",
                               (f"device-offline:{w}",)).fetchone()
            if row is not None:
                opened.append((row[0] - deadline).total_seconds())
        stored = conn.execute("SELECT (SELECT count(*) FROM iot_events) + (SELECT count(*) FROM"
                              " probe_events) + (SELECT count(*) FROM cloud_events)").fetchone()
    missing = args.samples - len(latencies)
    print(f"background: {load.produced} events produced at {rate:.0f}/s, {stored[0] if stored else 0}"
          f" stored; pages received: {len(arrivals)}; security samples without a page: {missing};"
          f" watch devices paged: {len(delays)}/{args.watch}", file=sys.stderr)
    figures = {
        "background_events_per_s": rate,
        "event_to_notification_p50_ms": statistics.median(latencies) if latencies else float("nan"),
        "event_to_notification_p99_ms": pct(latencies, 0.99) if latencies else float("nan"),
        "event_to_notification_max_ms": max(latencies) if latencies else float("nan"),
        "samples": float(len(latencies)),
        "offline_detection_delay_p50_s": statistics.median(opened) if opened else float("nan"),
        "offline_detection_delay_max_s": max(opened) if opened else float("nan"),
        "offline_notification_delay_p50_s": statistics.median(delays) if delays else float("nan"),
        "offline_notification_delay_max_s": max(delays) if delays else float("nan"),
    }
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=10_000, help="background events/s")
    ap.add_argument("--samples", type=int, default=120, help="security events measured")
    ap.add_argument("--interval", type=float, default=0.5, help="seconds between security events")
    ap.add_argument("--watch", type=int, default=10, help="devices that go silent")
    ap.add_argument("--warmup", type=float, default=20.0)
    ap.add_argument("--devices", type=int, default=10_000)
    ap.add_argument("--links", type=int, default=1000)
    ap.add_argument("--hosts", type=int, default=1000)
    args = ap.parse_args()

    base = Settings()
    tmp = Path(tempfile.mkdtemp(prefix="citybrain-bench-alerts-"))  # BENCH_KEEP=1 keeps the logs
    run = uuid.uuid4().hex[:8]
    settings = base.model_copy(update={"data_dir": tmp, "database_schema": f"bench_{run}",
                                       "topic_prefix": f"bench-{run}", "consumer_group": f"bench-{run}"})
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with services(settings, fresh_database=True) as ep, webhook() as hook:
            settings = settings.model_copy(update={"kafka_bootstrap": ep.kafka_bootstrap})
            try:
                figures = measure(settings, args, ep.database_url, hook, tmp, procs)
            finally:
                stop(procs)
                store.drop_schema(ep.database_url, settings.database_schema)
    finally:
        stop(procs)
        if os.environ.get("BENCH_KEEP"):
            print(f"logs kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(" ".join(f"{k}={v:.0f}" if k.endswith("per_s") or k == "samples" else f"{k}={v:.2f}"
                   for k, v in figures.items()))


if __name__ == "__main__":
    main()
