"""``citybrain simulate``: a simulated city on Kafka or in a JSON-lines file.

Examples:
    citybrain simulate --days 1
    citybrain simulate --days 1 --to-file city.jsonl --registry-out city.yaml

What it says is in Settings.language; a bad option is an error naming it (exit 2), not a
traceback from deep in the simulator.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from citybrain.kernel import store
from citybrain.kernel.console import console, err, load_settings
from citybrain.kernel.errors import CitybrainError
from citybrain.kernel.i18n import N_, Catalogue, Translator
from citybrain.kernel.runtime import services

MESSAGES = Catalogue.of_package(__name__)


def _check_options(t: Translator, *, days: float, speed: float | None, scale: float) -> str | None:
    """What is wrong with the options, in the reader's language (None: nothing)."""
    if not days > 0:
        return t.gettext("--days must be more than 0 (simulated days), not {value}").format(value=days)
    if speed is not None and not speed > 0:
        return t.gettext("--speed must be more than 0 (simulated seconds per wall second), not {value}; "
                         "omit it for as fast as possible").format(value=speed)
    if not scale > 0:
        return t.gettext("--scale must be more than 0 (it multiplies the asset counts), not {value}").format(
            value=scale)
    return None


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
    t = MESSAGES.translator(settings.language)
    wrong = _check_options(t, days=days, speed=speed, scale=scale)
    if wrong is not None:
        said = t.gettext("error:")
        err.print(f"[red]{said}[/red] " + escape(wrong))
        raise typer.Exit(2)
    start = simulation.window_start(datetime.now(UTC), timedelta(days=days))
    city = simulation.prepare(seed=seed, scale=scale, start=start, days=days)
    if registry_out:
        from schemas.assets import write_registry

        write_registry(city.registry, registry_out)
        console.print(escape(t.gettext("Registry written to {path}").format(path=registry_out)))
    if to_file is not None:
        try:
            n = simulation.to_file(city, settings, to_file)
        except OSError as exc:
            raise CitybrainError(t.gettext("cannot write the messages to {path}: {error}").format(
                path=to_file, error=exc)) from exc
        console.print(escape(t.gettext("{count} messages written to {path}").format(
            count=f"{n:,}", path=to_file)))
        return
    with services(settings, need_database=import_registry) as ep:
        if import_registry:
            from schemas.assets import import_registry as import_into

            store.migrate(ep.database_url, settings.database_schema, storage=settings.storage)
            with store.connect(ep.database_url, settings.database_schema) as conn:
                report = import_into(conn, city.registry)
            console.print(escape(t.gettext("Registry imported: {assets} assets").format(
                assets=f"{report.assets:,}")))
        n = asyncio.run(simulation.produce(city, settings, ep.kafka_bootstrap, speed=speed))
    console.print(escape(t.gettext("{count} messages produced to Kafka").format(count=f"{n:,}")))
