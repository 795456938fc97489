"""``citybrain dashboards build|push`` and ``citybrain status`` (what the store holds now).

Examples:
    citybrain status -o json
    citybrain dashboards build
    citybrain dashboards build --out /tmp/dashboards --language en
    citybrain dashboards push --url https://grafana.example.org --token "$GRAFANA_TOKEN"
    citybrain dashboards push --language zh-CN     # the Chinese wall only

Every board is built in Chinese (the wall: uids citybrain-*, folder citybrain) and in
English (uids citybrain-*-en, folder citybrain-en), side by side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from citybrain.kernel import store
from citybrain.kernel.console import Output, OutputOpt, console, err, load_settings, print_json
from citybrain.kernel.i18n import LANGUAGES, N_, Catalogue, Language, language_of
from citybrain.kernel.runtime import services

MESSAGES = Catalogue.of_package(__name__)

app = typer.Typer(help=N_("""Grafana dashboards as code: build them, push them to Grafana.

Every board is built in Chinese (the wall: uids citybrain-*, folder citybrain) and in
English (uids citybrain-*-en, folder citybrain-en), side by side.

Examples:
    citybrain dashboards build
    citybrain dashboards build --out /tmp/dashboards --language en
    citybrain dashboards push --url https://grafana.example.org --token "$GRAFANA_TOKEN"
    citybrain dashboards push --language zh-CN     # the Chinese wall only"""), no_args_is_help=True)

LanguageOpt = Annotated[str | None, typer.Option(
    "--language", help=N_("only this language's boards: zh-CN or en (default: both)"))]


def _languages(option: str | None) -> tuple[Language, ...]:
    if option is None:
        return LANGUAGES
    try:
        return (language_of(option),)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--language") from exc


@app.command("build", help=N_(
    "Build every dashboard from its builder and write <language>/<uid>.json files."))
def build(
    out: Annotated[Path | None, typer.Option(
        help=N_("folder for the JSON (default: dashboards/json)"))] = None,
    language: LanguageOpt = None,
) -> None:
    from dashboards.build import JSON_DIR, write

    for path in write(load_settings(), out or JSON_DIR, _languages(language)):
        console.print(str(path))


@app.command("push", help=N_("Create or update the Citybrain folder, datasources and dashboards in Grafana."))
def push(
    url: Annotated[str | None, typer.Option(
        help=N_("Grafana's address (default: CITYBRAIN_GRAFANA_URL)"))] = None,
    token: Annotated[str | None, typer.Option(
        help=N_("service account token, Editor or Admin (default: CITYBRAIN_GRAFANA_TOKEN)"))] = None,
    skip_datasources: Annotated[bool, typer.Option(
        help=N_("leave the datasources alone (e.g. they are file-provisioned)"))] = False,
    language: LanguageOpt = None,
) -> None:
    from dashboards import push as pushing
    from dashboards.build import boards

    settings = load_settings()
    url = url or settings.grafana_url
    token = token or (settings.grafana_token.get_secret_value() if settings.grafana_token else None)
    t = MESSAGES.translator(settings.language)
    if not url or not token:
        said = t.gettext("error:")
        err.print(f"[red]{said}[/red] " + escape(t.gettext(
            "give --url and --token (or set CITYBRAIN_GRAFANA_URL and CITYBRAIN_GRAFANA_TOKEN)")))
        raise typer.Exit(2)
    sources = [] if skip_datasources else pushing.datasources(pushing.datasource_variables(settings))
    report = pushing.push(pushing.connect(url, token), boards(settings, _languages(language)), sources)
    for what in report.created:
        console.print(escape(t.gettext("created {what}").format(what=what.describe())))
    for what in report.updated:
        console.print(escape(t.gettext("updated {what}").format(what=what.describe())))
    console.print(escape(t.gettext("{created} created, {updated} updated on {url}").format(
        created=len(report.created), updated=len(report.updated), url=url)))


def status(output: OutputOpt = Output.table) -> None:
    """Stored events per family, dead letters, assets by state and key."""
    from dashboards.status import print_status, read_status

    settings = load_settings()
    with (services(settings, need_broker=False) as ep,
          store.connect(ep.database_url, settings.database_schema) as conn):
        st = read_status(conn)
    if output is Output.json:
        print_json(st.as_dict())
    else:
        print_status(console, st, settings.language)
