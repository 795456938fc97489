"""The template variables every dashboard offers: department, district, key.

- ``$department`` is single-valued, with "All" expanding to the custom value ``NULL``
  (never quoted): the indicator SQL's ``%(department)s`` takes a department id or NULL for
  the whole city, so a panel over an indicator file sees exactly what the reports see.
  A chosen department arrives quoted (``'water'``) because the variable has "All".
- ``$district`` and ``$key`` are multi-valued; "All" expands to every option, quoted and
  comma-separated, for ``IN (...)`` filters in the panels that carry their own SQL.
  Assets without a district are the option ``(none)``.
"""

from __future__ import annotations

from typing import get_args

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import dashboard as model

from dashboards.board import POSTGRES
from schemas.registry import Key

KEYS: tuple[Key, ...] = get_args(Key)

ALL_OPTION = model.VariableOption(text="All", value="$__all", selected=True)
# A multi-value variable's current selection is a list.
ALL_OPTIONS = model.VariableOption(text=["All"], value=["$__all"], selected=True)

DEPARTMENT_QUERY = "SELECT department_id AS __value, name AS __text FROM departments ORDER BY name"
DISTRICT_QUERY = (
    "SELECT district_id AS __value, name AS __text FROM districts\n"
    "UNION ALL SELECT '(none)', '(no district)'\nORDER BY 2"
)

# Predicates for the panels that carry their own SQL; ``column`` is a qualified column name.
def department_filter(column: str) -> str:
    return f"($department::text IS NULL OR {column} = $department)"


def district_filter(column: str) -> str:
    return f"coalesce({column}, '(none)') IN ($district)"


def key_filter(column: str) -> str:
    return f"{column} IN ($key)"


def department() -> dash.QueryVariable:
    return (
        dash.QueryVariable("department").label("Department").datasource(POSTGRES)
        .query(DEPARTMENT_QUERY).include_all(True).all_value("NULL").multi(False)
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD).current(ALL_OPTION)
        .description("Scopes every panel; All = the whole city")
    )


def district() -> dash.QueryVariable:
    return (
        dash.QueryVariable("district").label("District").datasource(POSTGRES)
        .query(DISTRICT_QUERY).include_all(True).multi(True)
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD).current(ALL_OPTIONS)
        .description("Filters panels over assets and incidents (indicator panels are per department)")
    )


def key() -> dash.CustomVariable:
    return (
        dash.CustomVariable("key").label("Key").values(",".join(KEYS))
        .include_all(True).multi(True).current(ALL_OPTIONS)
        .description("The five keys (五大重点)")
    )


def api_url(public_url: str) -> dash.ConstantVariable:
    """Where links to incidents point (Settings.public_url when the JSON was built)."""
    return dash.ConstantVariable("api_url").value(public_url.rstrip("/"))
