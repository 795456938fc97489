"""What every dashboard builder shares: datasources, query targets, panel placement.

A ``Board`` wraps the foundation SDK's dashboard builder and remembers each SQL query
with the columns its panel reads, so the tests can run exactly the SQL that goes into
the JSON (expanded the way Grafana expands it) and check the panel gets its columns.

Every board is built once per language (``citybrain.kernel.i18n.LANGUAGES``), and the two
copies live side by side in one Grafana: the Chinese board is the operations centre's
wall and keeps the plain uid (``citybrain-overview``, in the folder ``citybrain``, Grafana's
home dashboard in compose); the English copy gets the uid suffix ``-en`` and its own
folder (``citybrain-en``). Each board's "Citybrain" menu lists the boards of its own
language only (the dashboards carry the language as a tag).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, Self, cast

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model

from citybrain.kernel.i18n import N_, Language, Translator
from citybrain.kernel.settings import Settings
from dashboards.texts import translator

# Fixed uids: the provisioning files and `citybrain dashboards push` create the
# datasources under these, so the dashboards find them on any Grafana.
POSTGRES_UID = "citybrain-postgres"
POSTGRES_TYPE = "grafana-postgresql-datasource"
PROMETHEUS_UID = "citybrain-prometheus"
PROMETHEUS_TYPE = "prometheus"
FOLDER_UID = "citybrain"
# The folder's title per language: the English catalogue says "Citybrain (English)", so
# the two folders read apart in Grafana's list.
FOLDER_TITLE = N_("Citybrain dashboards")
# The Chinese wall keeps the plain uids; the other languages' copies a suffix.
PRIMARY_LANGUAGE: Language = "zh-CN"

POSTGRES = model.DataSourceRef(type_val=POSTGRES_TYPE, uid=POSTGRES_UID)
PROMETHEUS = model.DataSourceRef(type_val=PROMETHEUS_TYPE, uid=PROMETHEUS_UID)


def uid_in(base: str, language: Language) -> str:
    """The uid of a dashboard (or the folder) in a language: ``citybrain-overview``,
    ``citybrain-overview-en``."""
    return base if language == PRIMARY_LANGUAGE else f"{base}-{language.lower()}"


def folder_uid(language: Language) -> str:
    return uid_in(FOLDER_UID, language)


def folder_title(language: Language) -> str:
    return translator(language).gettext(FOLDER_TITLE)


@dataclass(frozen=True)
class SqlQuery:
    """A PostgreSQL target and the columns its panel reads (in order)."""

    sql: str
    columns: tuple[str, ...]
    format: Literal["table", "time_series"] = "table"
    ref_id: str = "A"


@dataclass(frozen=True)
class PromQuery:
    """A Prometheus target. ``table``: one row per series with its labels as columns (a
    table panel's format), instead of one frame per series."""

    expr: str
    legend: str = ""
    ref_id: str = "A"
    instant: bool = False
    table: bool = False


class _SqlTarget(cogvariants.Dataquery):
    # The SDK has no PostgreSQL query model; this is the JSON Grafana 11.6 saves for a
    # code-mode query of its PostgreSQL datasource.
    def __init__(self, query: SqlQuery) -> None:
        self.query = query

    def to_json(self) -> dict[str, object]:
        return {
            "refId": self.query.ref_id,
            "datasource": {"type": POSTGRES_TYPE, "uid": POSTGRES_UID},
            "editorMode": "code",
            "format": self.query.format,
            "rawQuery": True,
            "rawSql": self.query.sql,
        }


class _SqlTargetBuilder(cogbuilder.Builder[cogvariants.Dataquery]):
    def __init__(self, query: SqlQuery) -> None:
        self._target = _SqlTarget(query)

    def build(self) -> cogvariants.Dataquery:
        return self._target


class _PromTarget(cogvariants.Dataquery):
    def __init__(self, query: PromQuery) -> None:
        self.query = query

    def to_json(self) -> dict[str, object]:
        target: dict[str, object] = {
            "refId": self.query.ref_id,
            "datasource": {"type": PROMETHEUS_TYPE, "uid": PROMETHEUS_UID},
            "editorMode": "code",
            "expr": self.query.expr,
            "legendFormat": self.query.legend or "__auto",
            "range": not self.query.instant,
            "instant": self.query.instant,
        }
        if self.query.table:
            target["format"] = "table"
        return target


class _PromTargetBuilder(cogbuilder.Builder[cogvariants.Dataquery]):
    def __init__(self, query: PromQuery) -> None:
        self._target = _PromTarget(query)

    def build(self) -> cogvariants.Dataquery:
        return self._target


class PanelBuilder(Protocol):
    """What every panel builder of the SDK offers (stat, table, timeseries, geomap, ...)."""

    def id(self, id_val: int) -> Self: ...
    def title(self, title: str) -> Self: ...
    def datasource(self, datasource: model.DataSourceRef) -> Self: ...
    def with_target(self, target: cogbuilder.Builder[cogvariants.Dataquery]) -> Self: ...
    def build(self) -> model.Panel: ...


@dataclass(frozen=True)
class PanelSql:
    panel_id: int
    panel_title: str
    query: SqlQuery


@dataclass
class Board:
    """A dashboard in one language. ``base_uid`` is the language-neutral uid (the module's
    ``UID``); ``title`` the board's own name, already translated (the product name is
    prefixed here)."""

    base_uid: str
    title: str
    settings: Settings
    language: Language
    description: str
    tags: tuple[str, ...] = ()
    time_from: str = "now-24h"
    sql_panels: list[PanelSql] = field(default_factory=list)
    prom_panels: list[tuple[int, PromQuery]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.uid = uid_in(self.base_uid, self.language)
        self.t: Translator = translator(self.language)
        full_title = self.t.gettext("Citybrain · {board}").format(board=self.title)
        self.dashboard = (
            dash.Dashboard(full_title).uid(self.uid).description(self.description)
            .tags(["citybrain", self.language, *self.tags])
            # Per-day figures are cut at local midnight in the report's zone; the
            # dashboard shows times in the same zone so a day's bar sits on its day.
            .timezone(self.settings.timezone)
            .time(self.time_from, "now").refresh("1m").editable()
            .tooltip(model.DashboardCursorSync.CROSSHAIR)
            # A menu of the other Citybrain dashboards in the same language (Grafana lists
            # the dashboards with all the tags), keeping the range and the variables.
            .link(dash.DashboardLink(self.t.gettext("Citybrain"))
                  .type(model.DashboardLinkType.DASHBOARDS).tags(["citybrain", self.language])
                  .as_dropdown(True).include_vars(True).keep_time(True))
        )
        self._next_id = 1

    def variable(self, *variables: cogbuilder.Builder[model.VariableModel]) -> Board:
        for variable in variables:
            self.dashboard.with_variable(variable)
        return self

    def link(self, link: dash.DashboardLink) -> Board:
        self.dashboard.link(link)
        return self

    def row(self, title: str) -> Board:
        self.dashboard.with_row(dash.Row(title).id(self._take_id()))
        return self

    def panel(self, panel: PanelBuilder, *queries: SqlQuery | PromQuery) -> Board:
        panel_id = self._take_id()
        panel.id(panel_id)
        title = panel.build().title or ""
        if not queries:
            raise ValueError(f"panel {title!r} has no query")
        if all(isinstance(q, SqlQuery) for q in queries):
            panel.datasource(POSTGRES)
        elif all(isinstance(q, PromQuery) for q in queries):
            panel.datasource(PROMETHEUS)
        else:
            raise ValueError(f"panel {title!r} mixes SQL and Prometheus queries")
        for q in queries:
            if isinstance(q, SqlQuery):
                panel.with_target(_SqlTargetBuilder(q))
                self.sql_panels.append(PanelSql(panel_id, title, q))
            else:
                panel.with_target(_PromTargetBuilder(q))
                self.prom_panels.append((panel_id, q))
        self.dashboard.with_panel(cast(cogbuilder.Builder[model.Panel], panel))
        return self

    def _take_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(json.dumps(self.dashboard.build(), cls=JSONEncoder))
        return document


def render(document: dict[str, Any]) -> str:
    """The committed form: sorted keys, two-space indent, final newline (stable diffs)."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
