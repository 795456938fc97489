"""Install the dashboards on a running Grafana through its HTTP API, idempotently.

Every object has a fixed uid, so a push finds what an earlier push (or the file
provisioning) created and updates it in place: the folder of each language's boards
(``citybrain``, ``citybrain-en``; ``PUT /api/folders/<uid>``),
the datasources (``PUT /api/datasources/uid/<uid>``), the dashboards (``POST
/api/dashboards/db`` with ``overwrite``). Only what does not exist yet is created. A second
push therefore creates nothing.
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

from citybrain.kernel.i18n import Language
from citybrain.kernel.settings import Settings
from dashboards.board import Board, folder_title, folder_uid
from dashboards.errors import DashboardError

DATASOURCES_FILE = Path(__file__).with_name("provisioning") / "datasources" / "citybrain.yaml"

_VAR = re.compile(r"\$\{(\w+)\}|\$(\w+)")
# Provisioning-only keys; the HTTP API does not take them.
_PROVISIONING_ONLY = {"editable", "version", "orgId", "org_id"}


@dataclass
class PushReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


def datasource_variables(settings: Settings) -> dict[str, str]:
    """The values of the ``${GRAFANA_*}`` variables of the provisioning file, from settings."""
    if settings.grafana_database_url is None:
        raise DashboardError(
            "CITYBRAIN_GRAFANA_DATABASE_URL is not set: the PostgreSQL datasource needs the URL "
            "Grafana connects with (e.g. postgresql://grafana_reader:PASSWORD@timescaledb:5432/"
            "citybrain?sslmode=disable); or push with --skip-datasources"
        )
    url = urlsplit(settings.grafana_database_url.get_secret_value())
    if url.scheme not in ("postgresql", "postgres") or not url.hostname or not url.username:
        raise DashboardError("CITYBRAIN_GRAFANA_DATABASE_URL must look like "
                             "postgresql://user:password@host:port/database")
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
        raise DashboardError(f"cannot read the datasource provisioning file {path}: {exc}") from exc

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            def one(m: re.Match[str]) -> str:
                name = m.group(1) or m.group(2)
                if name not in variables:
                    raise DashboardError(f"{path}: ${{{name}}} has no value")
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
        raise DashboardError(f"Grafana refused the push: {exc}; {_hint(exc.status_code)}") from exc
    except OSError as exc:  # the HTTP client's connection errors are OSErrors
        raise DashboardError(f"cannot reach Grafana ({exc}); check --url / CITYBRAIN_GRAFANA_URL") from exc
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
    what = f"folder {uid}"
    if _exists(api.folder.get_folder, uid):
        api.folder.update_folder(uid, title=title, overwrite=True)
        report.updated.append(what)
    else:
        api.folder.create_folder(title, uid=uid)
        report.created.append(what)


def _datasource(api: Any, source: dict[str, Any], report: PushReport) -> None:
    uid = source["uid"]
    what = f"datasource {uid}"
    if _exists(api.datasource.get_datasource_by_uid, uid):
        api.datasource.update_datasource_by_uid(uid, source)
        report.updated.append(what)
    else:
        api.datasource.create_datasource(source)
        report.created.append(what)


def _dashboard(api: Any, board: Board, report: PushReport) -> None:
    what = f"dashboard {board.uid}"
    existed = _exists(api.dashboard.get_dashboard, board.uid)
    api.dashboard.update_dashboard({
        "dashboard": {**board.to_json(), "id": None},  # matched by uid, never by numeric id
        "folderUid": folder_uid(board.language),
        "overwrite": True,
        "message": "citybrain dashboards push",
    })
    (report.updated if existed else report.created).append(what)


def _hint(status: int | None) -> str:
    if status == 401:
        return "the token was not accepted: create a service account token in Grafana"
    if status == 403:
        return "the token's service account needs the Editor role (Admin to manage datasources)"
    if status == 412:
        return "a dashboard with the same name exists in another folder: rename or delete it"
    return "see Grafana's log for details"
