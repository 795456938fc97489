"""``citybrain assets import`` and ``citybrain schemas export``: the registry and the contracts.

Examples:
    citybrain assets import city.yaml
    citybrain schemas export schemas/jsonschema
"""

from __future__ import annotations

from pathlib import Path

import typer

from citybrain.kernel import store
from citybrain.kernel.console import Output, OutputOpt, console, load_settings, print_json
from citybrain.kernel.i18n import N_, Catalogue
from citybrain.kernel.runtime import services

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

assets_app = typer.Typer(help=N_("The asset registry.\n\nExample: citybrain assets import city.yaml"),
                         no_args_is_help=True)
schemas_app = typer.Typer(help=N_("Event contracts.\n\nExample: citybrain schemas export schemas/jsonschema"),
                          no_args_is_help=True)


@assets_app.command("import", help=N_(
    "Import departments, districts and assets from a YAML or CSV file (upsert)."))
def assets_import(file: Path, output: OutputOpt = Output.table) -> None:
    from schemas.assets import import_registry, load_registry

    settings = load_settings()
    registry = load_registry(file)
    with services(settings, need_broker=False) as ep:
        store.migrate(ep.database_url, settings.database_schema, storage=settings.storage)
        with store.connect(ep.database_url, settings.database_schema) as conn:
            report = import_registry(conn, registry)
    if output is Output.json:
        print_json(report.__dict__)
    else:
        console.print(_(
            "imported {departments} departments, {districts} districts, "
            "{assets} assets ({inserted} new, {updated} updated)").format(
            departments=report.departments, districts=report.districts, assets=report.assets,
            inserted=report.inserted_assets, updated=report.updated_assets))
        if report.service_items or report.population or report.portal_accounts:
            console.print(_(
                "imported {items} service items, {population} population figures,"
                " {accounts} portal account figures").format(
                items=report.service_items, population=report.population,
                accounts=report.portal_accounts))


@schemas_app.command("export", help=N_("Write one JSON Schema file per family (single event and envelope)."))
def schemas_export(directory: Path = Path("schemas/jsonschema")) -> None:
    from schemas.jsonschema_export import export

    for path in export(directory):
        console.print(str(path))
