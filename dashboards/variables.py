"""The template variables every dashboard offers: department, district, key.

- ``$department`` is single-valued, with "All" expanding to the custom value ``NULL``
  (never quoted): the indicator SQL's ``%(department)s`` takes a department id or NULL for
  the whole city, so a panel over an indicator file sees exactly what the reports see.
  A chosen department arrives quoted (``'water'``) because the variable has "All".
- ``$district`` and ``$key`` are multi-valued; "All" expands to every option, quoted and
  comma-separated, for ``IN (...)`` filters in the panels that carry their own SQL.
  Assets without a district are the option ``(none)``.

A person picks by name in the board's language (the options' text: registry names, the
keys' labels); the values are the ids the SQL filters on.
"""

from __future__ import annotations

from typing import get_args

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as model

from citybrain.kernel.i18n import Translator
from dashboards import texts
from dashboards.board import POSTGRES
from schemas.names import name_sql
from schemas.registry import Key

KEYS: tuple[Key, ...] = get_args(Key)


def _all_option(t: Translator) -> model.VariableOption:
    return model.VariableOption(text=t.gettext("All"), value="$__all", selected=True)


def _all_options(t: Translator) -> model.VariableOption:
    # A multi-value variable's current selection is a list.
    return model.VariableOption(text=[t.gettext("All")], value=["$__all"], selected=True)


def department_query(t: Translator) -> str:
    name = name_sql("d", t.language).as_string(None)
    return f"SELECT d.department_id AS __value, {name} AS __text FROM departments d ORDER BY 2"


def district_query(t: Translator) -> str:
    name = name_sql("di", t.language).as_string(None)
    no_district = texts.quote_literal(t.gettext("(no district)"))
    return (
        f"SELECT di.district_id AS __value, {name} AS __text FROM districts di\n"
        f"UNION ALL SELECT '(none)', {no_district}\nORDER BY 2"
    )


# Predicates for the panels that carry their own SQL; ``column`` is a qualified column name.
def department_filter(column: str) -> str:
    return f"($department::text IS NULL OR {column} = $department)"


def district_filter(column: str) -> str:
    return f"coalesce({column}, '(none)') IN ($district)"


def key_filter(column: str) -> str:
    return f"{column} IN ($key)"


def department(t: Translator) -> dash.QueryVariable:
    return (
        dash.QueryVariable("department").label(t.gettext("Department")).datasource(POSTGRES)
        .query(department_query(t)).include_all(True).all_value("NULL").multi(False)
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD).current(_all_option(t))
        .description(t.gettext("Scopes every panel; All = the whole city"))
    )


def district(t: Translator) -> dash.QueryVariable:
    return (
        dash.QueryVariable("district").label(t.gettext("District")).datasource(POSTGRES)
        .query(district_query(t)).include_all(True).multi(True)
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD).current(_all_options(t))
        .description(t.gettext("Filters panels over assets and incidents "
                               "(indicator panels are per department)"))
    )


def key(t: Translator) -> dash.CustomVariable:
    # Grafana's custom variable takes "text : value" pairs: the key's name shows, its id
    # goes into the SQL.
    options = ",".join(f"{texts.text(t, texts.KEYS, k)} : {k}" for k in KEYS)
    return (
        dash.CustomVariable("key").label(t.gettext("Key")).values(options)
        .include_all(True).multi(True).current(_all_options(t))
        .description(t.gettext("The five keys"))
    )


def standard(t: Translator) -> list[cogbuilder.Builder[model.VariableModel]]:
    """The variables of every board over the store: department, district, key."""
    return [department(t), district(t), key(t)]
