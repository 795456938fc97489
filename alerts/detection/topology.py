"""The registry as detection needs it: each asset's facts and the parent/child topology.

Loaded from the ``assets`` table into memory (the alerter evaluates thousands of
events a second and must not ask the database about each one) and reloaded when the
registry changes (``registry_version``). It keeps the registry's names in both languages
(name, name_zh) so that detection writes an incident's title with the names a reader of
the platform's language knows (``alerts.detection.wording``), not ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from citybrain.kernel.errors import StoreError
from citybrain.kernel.i18n import Language
from schemas.names import localized


@dataclass(frozen=True)
class AssetInfo:
    asset_id: str
    kind: str
    key: str
    department_id: str
    registered_at: datetime
    name: str | None = None
    district_id: str | None = None
    parent_id: str | None = None
    tags: tuple[str, ...] = ()
    expected_interval_s: int | None = None
    retired_at: datetime | None = None
    name_zh: str | None = None

    def display_name(self, language: Language) -> str:
        """The registry's name in ``language`` (schemas.names.localized), else the id."""
        return localized(self.name, self.name_zh, language, self.asset_id)


class Topology:
    """Assets by id, each parent's children, and the departments' names (name, name_zh)."""

    def __init__(self, assets: Iterable[AssetInfo] = (),
                 departments: Mapping[str, tuple[str | None, str | None]] | None = None) -> None:
        self._assets: dict[str, AssetInfo] = {a.asset_id: a for a in assets}
        self._departments = dict(departments or {})
        children: dict[str, list[str]] = {}
        for a in self._assets.values():
            if a.parent_id is not None and a.retired_at is None:
                children.setdefault(a.parent_id, []).append(a.asset_id)
        self._children = {p: tuple(sorted(c)) for p, c in children.items()}

    def __len__(self) -> int:
        return len(self._assets)

    def __iter__(self) -> Iterator[AssetInfo]:
        return iter(self._assets.values())

    def get(self, asset_id: str | None) -> AssetInfo | None:
        return None if asset_id is None else self._assets.get(asset_id)

    def department_name(self, department_id: str, language: Language) -> str:
        """The department's registry name in ``language``, else its id."""
        name, name_zh = self._departments.get(department_id, (None, None))
        return localized(name, name_zh, language, department_id)

    def children(self, parent_id: str) -> tuple[str, ...]:
        return self._children.get(parent_id, ())

    def ancestors(self, asset_id: str) -> Iterator[str]:
        """Parent, grandparent, ...; stops at an unregistered parent or a cycle (the
        registry does not forbid one: parent_id is not a foreign key)."""
        seen = {asset_id}
        current = self._assets.get(asset_id)
        while current is not None and current.parent_id is not None and current.parent_id not in seen:
            seen.add(current.parent_id)
            yield current.parent_id
            current = self._assets.get(current.parent_id)


_ASSETS = (
    "SELECT asset_id, kind, key, department_id, registered_at, name, district_id, parent_id,"
    " tags, expected_interval_s, retired_at, name_zh FROM assets"
)


def load_topology(conn: psycopg.Connection[Any]) -> Topology:
    try:
        rows = conn.execute(_ASSETS).fetchall()
        departments = conn.execute("SELECT department_id, name, name_zh FROM departments").fetchall()
    except psycopg.Error as exc:
        raise StoreError(f"cannot read the asset registry: {exc}; run `citybrain db migrate`") from exc
    return Topology(
        (AssetInfo(asset_id=r[0], kind=r[1], key=r[2], department_id=r[3], registered_at=r[4],
                   name=r[5], district_id=r[6], parent_id=r[7], tags=tuple(r[8] or ()),
                   expected_interval_s=r[9], retired_at=r[10], name_zh=r[11])
         for r in rows),
        {r[0]: (r[1], r[2]) for r in departments},
    )


def registry_version(conn: psycopg.Connection[Any]) -> tuple[Any, ...]:
    """Changes whenever an import inserts or updates assets or departments (updated_at
    moves): a renamed department is named anew in the titles detection writes next."""
    row = conn.execute("SELECT count(*), max(updated_at), (SELECT max(updated_at) FROM departments)"
                       " FROM assets").fetchone()
    return tuple(row) if row else ()
