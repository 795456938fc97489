"""Install the dashboards on a running Grafana through its HTTP API, idempotently.

Every object has a fixed uid, so a push finds what an earlier push (or the file
provisioning) created and updates it in place: the folder of each language's boards
(``citybrain``, ``citybrain-en``; ``PUT /api/folders/<uid>``),
the datasources (``PUT /api/datasources/uid/<uid>``), the dashboards (``POST
/api/dashboards/db`` with ``overwrite``). Only what does not exist yet is created. A second
push therefore creates nothing.

What a push did (``PushReport``: each object's kind, uid and title) and why it failed
(``DashboardError``) are said in the current language (Settings.language in a command).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml
from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from citybrain.kernel.i18n import Catalogue, Language
from citybrain.kernel.settings import Settings
from dashboards.board import Board, folder_title, folder_uid
from dashboards.errors import DashboardError

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

DATASOURCES_FILE = Path(__file__).with_name("provisioning") / "datasources" / "citybrain.yaml"

_VAR = re.compile(r"\$\{(\w+)\}|\$(\w+)")
# Provisioning-only keys; the HTTP API does not take them.
_PROVISIONING_ONLY = {"editable", "version", "orgId", "org_id"}


@dataclass(frozen=True)
class Pushed:
    """One object a push created or updated in Grafana."""

    kind: str   # folder, datasource, dashboard
    uid: str
    title: str

    def describe(self) -> str:
        """``dashboard "Citybrain · City overview" (citybrain-overview-en)``, in the current language."""
        text = {"folder": _('folder "{title}" ({uid})'),
                "datasource": _('datasource "{title}" ({uid})'),
                "dashboard": _('dashboard "{title}" ({uid})')}[self.kind]
        return text.format(title=self.title, uid=self.uid)


@dataclass
class PushReport:
    created: list[Pushed] = field(default_factory=list)
    updated: list[Pushed] = field(default_factory=list)


def datasource_variables(settings: Settings) -> dict[str, str]:
    """The values of the ``${GRAFANA_*}`` variables of the provisioning file, from settings."""
    if settings.grafana_database_url is None:
        raise DashboardError(_(
            "CITYBRAIN_GRAFANA_DATABASE_URL is not set: the PostgreSQL datasource needs the URL "
            "Grafana connects with (e.g. {example}); or push with --skip-datasources").format(
            example="postgresql://grafana_reader:PASSWORD@timescaledb:5432/citybrain?sslmode=disable"))
    url = urlsplit(settings.grafana_database_url.get_secret_value())
    if url.scheme not in ("postgresql", "postgres") or not url.hostname or not url.username:
        raise DashboardError(_("CITYBRAIN_GRAFANA_DATABASE_URL must look like {form}").format(
            form="postgresql://user:password@host:port/database"))
    query = dict(part.split("=", 1) for part in url.query.split("&") if "=" in part)
    return {
        "GRAFANA_DB_HOST": f"{url.hostname}:{url.port or 5432}",
        "GRAFANA_DB_USER": unquote(url.username),
        "GRAFANA_DB_PASSWORD": unquote(url.password or ""),
        "GRAFANA_DB_NAME": url.path.lstrip("/") or "citybrain",
        "GRAFANA_DB_SSLMODE": query.get("sslmode", "disable"),
        "GRAFANA_PROMETHEUS_URL": settings.grafana_prometheus_url,
    }


def datasources(variables: dict[str, str], path: Path = DATASOURCES_FILE) -> list[dict[str, Any]]:
    """The provisioning file's datasources, variables filled in, as HTTP API payloads."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DashboardError(_("cannot read the datasource provisioning file {path}: {error}").format(
            path=path, error=exc)) from exc

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            def one(m: re.Match[str]) -> str:
                name = m.group(1) or m.group(2)
                if name not in variables:
                    raise DashboardError(_("{path}: the variable {variable} has no value").format(
                        path=path, variable=f"${{{name}}}"))
                return variables[name]
            return _VAR.sub(one, value)
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    return [{k: fill(v) for k, v in ds.items() if k not in _PROVISIONING_ONLY}
            for ds in document.get("datasources", [])]


def connect(url: str, token: str, *, timeout: float = 10.0) -> GrafanaApi:
    api: GrafanaApi = GrafanaApi.from_url(url, credential=token, timeout=timeout)
    return api


def push(api: GrafanaApi, boards: list[Board], sources: list[dict[str, Any]]) -> PushReport:
    # grafana-client's element methods carry no annotations: call them through Any.
    client: Any = api
    report = PushReport()
    try:
        for language in dict.fromkeys(board.language for board in boards):
            _folder(client, language, report)
        for source in sources:
            _datasource(client, source, report)
        for board in boards:
            _dashboard(client, board, report)
    except GrafanaException as exc:
        raise DashboardError(_("Grafana refused the push: {error}; {hint}").format(
            error=exc, hint=_hint(exc.status_code))) from exc
    except OSError as exc:  # the HTTP client's connection errors are OSErrors
        raise DashboardError(_("cannot reach Grafana ({error}); check --url / CITYBRAIN_GRAFANA_URL")
                             .format(error=exc)) from exc
    return report


def _exists(call: Any, *args: Any) -> bool:
    try:
        call(*args)
    except GrafanaClientError as exc:
        if exc.status_code == 404:
            return False
        raise
    return True


def _folder(api: Any, language: Language, report: PushReport) -> None:
    uid, title = folder_uid(language), folder_title(language)
    what = Pushed("folder", uid, title)
    if _exists(api.folder.get_folder, uid):
        api.folder.update_folder(uid, title=title, overwrite=True)
        report.updated.append(what)
    else:
        api.folder.create_folder(title, uid=uid)
        report.created.append(what)


def _datasource(api: Any, source: dict[str, Any], report: PushReport) -> None:
    uid = source["uid"]
    what = Pushed("datasource", uid, str(source.get("name", uid)))
    if _exists(api.datasource.get_datasource_by_uid, uid):
        api.datasource.update_datasource_by_uid(uid, source)
        report.updated.append(what)
    else:
        api.datasource.create_datasource(source)
        report.created.append(what)


def _dashboard(api: Any, board: Board, report: PushReport) -> None:
    document = board.to_json()
    what = Pushed("dashboard", board.uid, str(document.get("title", board.uid)))
    existed = _exists(api.dashboard.get_dashboard, board.uid)
    api.dashboard.update_dashboard({
        "dashboard": {**document, "id": None},  # matched by uid, never by numeric id
        "folderUid": folder_uid(board.language),
        "overwrite": True,
        "message": "citybrain dashboards push",
    })
    (report.updated if existed else report.created).append(what)


def _hint(status: int | None) -> str:
    if status == 401:
        return _("the token was not accepted: create a service account token in Grafana")
    if status == 403:
        return _("the token's service account needs the Editor role (Admin to manage datasources)")
    if status == 412:
        return _("a dashboard with the same name exists in another folder: rename or delete it")
    return _("see Grafana's log for details")
