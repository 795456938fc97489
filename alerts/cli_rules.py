"""``citybrain rules check`` and ``citybrain alerter``; ``register`` adds the detection
commands (rules, maintenance, alerter) to the main CLI.

Examples:
    citybrain rules check                      # the rules the alerter would load
    citybrain rules check my-rules/ extra.yaml -o json
    citybrain alerter                          # the detection worker
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import orjson
import typer

from alerts.cli_maintenance import maintenance_app
from alerts.rules import check_files, rule_files
from citybrain.kernel.console import Output, console, load_settings

rules_app = typer.Typer(help="Alert rules.\n\nExample: citybrain rules check alerts/rules/",
                        no_args_is_help=True)


@rules_app.command("check")
def check(
    files: Annotated[list[Path] | None, typer.Argument(
        help="rule files or folders (default: CITYBRAIN_ALERT_RULES_PATH, else the packaged rules)")] = None,
    output: Annotated[Output, typer.Option("-o", "--output", help="table or json")] = Output.table,
) -> None:
    """Validate rule files offline: every problem, naming file, rule and field; exit 1 on any."""
    if files:
        paths = [p for f in files for p in (rule_files(f) if f.is_dir() else [f])]
    else:
        paths = rule_files(load_settings().alert_rules_path)
    rules, problems = check_files(paths)
    if output is Output.json:
        sys.stdout.write(orjson.dumps({
            "files": [str(p) for p in paths], "rules": [r.id for r in rules],
            "problems": [{"file": p.file, "rule": p.rule, "field": p.field, "message": p.message}
                         for p in problems]}, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        for p in problems:
            console.print(str(p), markup=False, highlight=False)
        verdict = f"{len(problems)} problem(s)" if problems else "OK"
        console.print(f"{len(rules)} valid rule(s) in {len(paths)} file(s): {verdict}", markup=False)
    if problems:
        raise typer.Exit(1)


def alerter() -> None:
    """Run the detection worker: rules, noise control, incidents and the escalation loop."""
    from alerts.alerter import Alerter, default_sink
    from alerts.clock import PipelineClock, not_before_evidence
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
                clock = PipelineClock(ep.database_url, settings.database_schema, datetime.now(UTC))
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


def register(app: typer.Typer) -> None:
    """Add ``rules``, ``maintenance`` and ``alerter`` to the main CLI."""
    app.add_typer(rules_app, name="rules")
    app.add_typer(maintenance_app, name="maintenance")
    app.command("alerter")(alerter)
