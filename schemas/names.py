"""Names, not ids: what a person reads for a department, a district or an asset.

The registry keeps a name and a Chinese name (``name_zh``) for each; a reader of zh-CN
sees the Chinese name where the registry has one, else the name; a reader of en sees the
name. Where no name is registered at all the id is shown, so a row is never blank. The
id stays available beside the name wherever an operator needs it to act.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from citybrain.kernel.i18n import Language


def localized(name: str | None, name_zh: str | None, language: Language, fallback: str) -> str:
    if language == "zh-CN" and name_zh:
        return name_zh
    return name or name_zh or fallback


def name_sql(alias: str, language: Language) -> sql.Composable:
    """The SQL expression of a registry row's display name (``d`` → coalesce(d.name_zh, d.name)).

    NULL where the row has no name at all, or there is no row (an outer join): the caller
    coalesces it with the id it joined on, which is the reference a reader needs then.
    """
    a = sql.Identifier(alias)
    if language == "zh-CN":
        return sql.SQL("coalesce({a}.name_zh, {a}.name)").format(a=a)
    return sql.SQL("coalesce({a}.name, {a}.name_zh)").format(a=a)


@dataclass
class Names:
    """Display names by id, in one language; ``of`` falls back to the id."""

    language: Language
    departments: dict[str, str] = field(default_factory=dict)
    districts: dict[str, str] = field(default_factory=dict)
    assets: dict[str, str] = field(default_factory=dict)

    def department(self, department_id: str | None) -> str | None:
        return None if department_id is None else self.departments.get(department_id, department_id)

    def district(self, district_id: str | None) -> str | None:
        return None if district_id is None else self.districts.get(district_id, district_id)

    def asset(self, asset_id: str | None) -> str | None:
        return None if asset_id is None else self.assets.get(asset_id, asset_id)


def load_names(conn: psycopg.Connection[Any], language: Language,
               asset_ids: Iterable[str] | None = None) -> Names:
    """Every department's and district's name, and the named assets' (all when None)."""
    names = Names(language)
    with conn.cursor() as cur:
        cur.execute("SELECT department_id, name, name_zh FROM departments")
        names.departments = {i: localized(n, z, language, i) for i, n, z in cur.fetchall()}
        cur.execute("SELECT district_id, name, name_zh FROM districts")
        names.districts = {i: localized(n, z, language, i) for i, n, z in cur.fetchall()}
        if asset_ids is None:
            cur.execute("SELECT asset_id, name, name_zh FROM assets")
        else:
            cur.execute("SELECT asset_id, name, name_zh FROM assets WHERE asset_id = ANY(%s)",
                        (sorted(set(asset_ids)),))
        names.assets = {i: localized(n, z, language, i) for i, n, z in cur.fetchall()}
    return names


def names_for(conn: psycopg.Connection[Any], language: Language, *,
              department_ids: Iterable[str] = (), asset_ids: Iterable[str] = ()) -> Names:
    """The names of the given departments and assets only (one notification's, one page's)."""
    names = Names(language)
    with conn.cursor() as cur:
        if departments := sorted(set(department_ids)):
            cur.execute("SELECT department_id, name, name_zh FROM departments WHERE department_id = ANY(%s)",
                        (departments,))
            names.departments = {i: localized(n, z, language, i) for i, n, z in cur.fetchall()}
        if assets := sorted(set(asset_ids)):
            cur.execute("SELECT asset_id, name, name_zh FROM assets WHERE asset_id = ANY(%s)", (assets,))
            names.assets = {i: localized(n, z, language, i) for i, n, z in cur.fetchall()}
    return names
