"""``citybrain simulate``: a simulated city on Kafka or in a JSON-lines file.

Examples:
    citybrain simulate --days 1
    citybrain simulate --days 1 --to-file city.jsonl --registry-out city.yaml
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from citybrain.kernel import store
from citybrain.kernel.console import console, load_settings
from citybrain.kernel.i18n import N_
from citybrain.kernel.runtime import services


def simulate(
    days: Annotated[float, typer.Option(help=N_("simulated days"))] = 1.0,
    speed: Annotated[float | None, typer.Option(help=N_("simulated seconds per wall second; "
                                                        "omit for as fast as possible"))] = None,
    to_file: Annotated[Path | None, typer.Option("--to-file", help=N_(
        "write JSON lines (topic, key, value) instead of producing"))] = None,
    registry_out: Annotated[Path | None, typer.Option(help=N_("also write the city's registry YAML"))] = None,
    seed: Annotated[int, typer.Option(help=N_("the same seed builds the same city"))] = 7,
    scale: Annotated[float, typer.Option(help=N_("multiply asset counts"))] = 1.0,
    import_registry: Annotated[bool, typer.Option(help=N_("import the city's registry into the "
                                                          "database before producing"))] = True,
) -> None:
    """Simulate a city (registry + all six event families, with failures)."""
    from citybrain.simulator import prepared as simulation

    settings = load_settings()
    start = simulation.window_start(datetime.now(UTC), timedelta(days=days))
    city = simulation.prepare(seed=seed, scale=scale, start=start, days=days)
    if registry_out:
        from schemas.assets import write_registry

        write_registry(city.registry, registry_out)
        console.print(f"registry written to {registry_out}")
    if to_file is not None:
        n = simulation.to_file(city, settings, to_file)
        console.print(f"{n} messages written to {to_file}")
        return
    with services(settings, need_database=import_registry) as ep:
        if import_registry:
            from schemas.assets import import_registry as import_into

            store.migrate(ep.database_url, settings.database_schema, storage=settings.storage)
            with store.connect(ep.database_url, settings.database_schema) as conn:
                report = import_into(conn, city.registry)
            console.print(f"registry imported: {report.assets} assets")
        n = asyncio.run(simulation.produce(city, settings, ep.kafka_bootstrap, speed=speed))
    console.print(f"{n} messages produced")
