"""``citybrain alerter``: the process that runs detection and escalation (alerts/alerter.py).

Each stage's own commands are in its package (``alerts.detection.cli``: rules;
``alerts.incidents.cli``: incidents; ``alerts.maintenance.cli``: maintenance);
citybrain/cli.py mounts them all.

Example:
    citybrain alerter                          # CITYBRAIN_ALERTER_CLOCK=pipeline for a replay
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from citybrain.kernel.clock import utc_now
from citybrain.kernel.console import load_settings


def alerter() -> None:
    """Run the alerter: rules, noise control, incidents and the escalation loop."""
    from alerts.alerter import Alerter, default_sink
    from alerts.watermark_clock import WatermarkClock, not_before_evidence
    from citybrain.kernel import store
    from citybrain.kernel.dependencies import wait_for_broker, wait_for_database
    from citybrain.kernel.runtime import services
    from dashboards.metrics_server import serve_process_metrics
    from streams.topics import ensure_topics

    settings = load_settings()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alerts").setLevel(logging.INFO)
    with services(settings) as ep:
        wait_for_database(ep.database_url)  # started before the servers: wait for them
        store.migrate(ep.database_url, settings.database_schema, storage=settings.storage)
        wait_for_broker(ep.kafka_bootstrap)
        asyncio.run(ensure_topics(ep.kafka_bootstrap, settings))
        serve_process_metrics(settings)  # /metrics when CITYBRAIN_METRICS_PORT is set

        async def serve() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(sig, stop.set)
            if settings.alerter_clock == "pipeline":
                clock = WatermarkClock(ep.database_url, settings.database_schema, utc_now())
                clock.start()
                # No "now" before the first data: wait for it (or for a stop signal).
                while not await asyncio.to_thread(clock.wait_first, 0.5):
                    if stop.is_set():
                        clock.stop()
                        return
                try:
                    await Alerter(settings, ep.kafka_bootstrap, ep.database_url, clock=clock,
                                  sink=not_before_evidence(default_sink(settings))).run(stop)
                finally:
                    clock.stop()
                return
            await Alerter(settings, ep.kafka_bootstrap, ep.database_url).run(stop)

        asyncio.run(serve())
