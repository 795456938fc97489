"""The indicator catalogue: ``catalogue.yaml`` next to this module, one SQL file per entry.

Each entry also names the family template its SQL file is rendered from and that
template's parameters (``template``, ``params``; ``families.py``, ``render.py``); at run
time only the committed SQL file is read. Loading validates everything at once and
reports every problem with the entry and field it concerns: unknown or missing fields,
duplicate ids, an id whose prefix does not name its key, an unknown template or wrong
parameters, a missing SQL file, or SQL using placeholders other than the four every
indicator takes (``start``, ``end``, ``tz``, ``department``) — the same text has to run
unchanged under a Grafana panel, where only those four are substituted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from citybrain.indicators.families import FAMILIES, Params
from citybrain.indicators.model import Dimension, Direction, Indicator, Key
from citybrain.kernel.errors import CitybrainError

CATALOGUE_PATH = Path(__file__).with_name("catalogue.yaml")
SQL_DIR = Path(__file__).with_name("sql")
PARAMETERS = frozenset({"start", "end", "tz", "department"})
# The id's prefix names its key, so an id read in an export says where it belongs.
ID_PREFIX: dict[str, Key] = {
    "infra": "infrastructure", "data": "data", "system": "system", "portal": "portal",
    "security": "security", "ops": "ops",
}
Unit = Literal["%", "ms", "count", "minutes"]

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
# Anything psycopg would read as a placeholder or an escape: %(x)s, %s, %b, %t, %%.
_PERCENT = re.compile(r"%(?:\(\w+\))?[sbt%]?")


class CatalogueError(CitybrainError):
    """The indicator catalogue or one of its SQL files is malformed."""


class Entry(BaseModel):
    """One entry of the catalogue as written (``params`` is checked by its family)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z]+\.[a-z0-9_]+$")
    key: Key
    name_en: str = Field(min_length=1)
    name_zh: str = Field(min_length=1)
    unit: Unit
    direction: Direction
    target: float | None
    formula: str = Field(min_length=20)
    formula_zh: str = Field(min_length=8)
    version: int = Field(ge=1)
    sql: str = Field(pattern=r"^[a-z0-9_.]+\.sql$")
    availability: bool = False
    breakdowns: tuple[Dimension, ...] = ()
    weight: float = Field(default=1.0, ge=0)
    heavy: bool = False
    template: str = Field(pattern=r"^[a-z0-9_]+$")
    params: dict[str, Any]


@dataclass(frozen=True)
class Definition:
    """A valid entry with its family's parameters: what its SQL file is rendered from."""

    entry: Entry
    params: Params


def sql_problems(text: str) -> list[str]:
    """What is wrong with an indicator's SQL text as a parameterised, reusable query."""
    problems: list[str] = []
    used = set(_PLACEHOLDER.findall(text))
    unknown = sorted(used - PARAMETERS)
    if unknown:
        problems.append(f"unknown placeholders {unknown}; only {sorted(PARAMETERS)} are allowed")
    for match in _PERCENT.finditer(text):
        if not _PLACEHOLDER.fullmatch(match.group()):
            line = text.count("\n", 0, match.start()) + 1
            problems.append(f"line {line}: stray {match.group()!r} (write modulo as mod(a, b))")
    if not {"start", "end"} <= used:
        problems.append("the query must filter on %(start)s and %(end)s")
    return problems


def _definitions(text: str, source: str) -> tuple[list[Definition], list[str]]:
    """The valid entries of a catalogue document, and the problems of the others."""
    try:
        document: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{source}: not valid YAML: {exc}") from exc
    entries = document.get("indicators") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise CatalogueError(f"{source}: expected a mapping with a non-empty 'indicators' list")
    problems: list[str] = []
    found: list[Definition] = []
    seen: set[str] = set()
    for n, raw in enumerate(entries, 1):
        name = raw.get("id", f"#{n}") if isinstance(raw, dict) else f"#{n}"
        where = f"{source} indicator {name}"
        try:
            entry = Entry.model_validate(raw)
        except ValidationError as exc:
            problems += _errors(where, exc)
            continue
        if entry.id in seen:
            problems.append(f"{where}: id: duplicate id {entry.id!r}")
        seen.add(entry.id)
        prefix = entry.id.split(".", 1)[0]
        if ID_PREFIX.get(prefix) != entry.key:
            problems.append(f"{where}: id: prefix {prefix!r} does not name key {entry.key!r}")
        if len(set(entry.breakdowns)) != len(entry.breakdowns):
            problems.append(f"{where}: breakdowns: listed twice")
        family = FAMILIES.get(entry.template)
        if family is None:
            problems.append(f"{where}: template: no family {entry.template!r} (one of {sorted(FAMILIES)})")
            continue
        try:
            params = family.model_validate(entry.params)
        except ValidationError as exc:
            problems += _errors(where, exc, "params")
            continue
        problems += [f"{where}: {p}" for p in params.problems(entry.breakdowns)]
        if entry.availability != (entry.template == "availability"):
            # (the engine and the exports read adjusted_value and unknown_share by the flag)
            problems.append(f"{where}: availability: true exactly for the template 'availability'")
        found.append(Definition(entry, params))
    return found, problems


def _errors(where: str, exc: ValidationError, prefix: str | None = None) -> list[str]:
    found = []
    for error in exc.errors():
        field = ".".join(str(p) for p in ((prefix,) if prefix else ()) + error["loc"]) or "(entry)"
        found.append(f"{where}: {field}: {error['msg']}")
    return found


def parse_definitions(text: str, source: str) -> tuple[Definition, ...]:
    """Validate a catalogue document without its SQL files (what rendering them needs);
    raise CatalogueError listing every problem."""
    found, problems = _definitions(text, source)
    if problems:
        raise CatalogueError("invalid indicator catalogue:\n  " + "\n  ".join(problems))
    return tuple(found)


def parse_catalogue(text: str, sql_dir: Path, source: str) -> tuple[Indicator, ...]:
    """Validate a catalogue document and read its SQL files; raise CatalogueError listing
    every problem."""
    definitions, problems = _definitions(text, source)
    found: list[Indicator] = []
    for definition in definitions:
        entry = definition.entry
        where = f"{source} indicator {entry.id}"
        path = sql_dir / entry.sql
        if not path.is_file():
            problems.append(f"{where}: sql: file {path} does not exist; `citybrain indicators render` "
                            "writes it from its template")
            continue
        sql_text = path.read_text(encoding="utf-8")
        problems += [f"{where}: sql {entry.sql}: {p}" for p in sql_problems(sql_text)]
        found.append(Indicator(
            id=entry.id, key=entry.key, name_en=entry.name_en, name_zh=entry.name_zh,
            unit=entry.unit, direction=entry.direction, target=entry.target,
            formula=" ".join(entry.formula.split()), version=entry.version, sql_file=entry.sql,
            sql=sql_text, availability=entry.availability, breakdowns=entry.breakdowns,
            weight=entry.weight, heavy=entry.heavy, formula_zh=" ".join(entry.formula_zh.split()),
        ))
    if problems:
        raise CatalogueError("invalid indicator catalogue:\n  " + "\n  ".join(problems))
    return tuple(found)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(f"cannot read the indicator catalogue {path}: {exc}") from exc


def read_definitions(path: Path = CATALOGUE_PATH) -> tuple[Definition, ...]:
    return parse_definitions(_read(path), str(path))


def read_catalogue(path: Path = CATALOGUE_PATH, sql_dir: Path | None = None) -> tuple[Indicator, ...]:
    return parse_catalogue(_read(path), sql_dir or path.parent / "sql", str(path))


@cache
def load_catalogue() -> tuple[Indicator, ...]:
    """The packaged catalogue, validated once per process."""
    return read_catalogue()


def find(indicator_id: str) -> Indicator:
    for indicator in load_catalogue():
        if indicator.id == indicator_id:
            return indicator
    raise CatalogueError(f"no indicator {indicator_id!r}; `citybrain indicators list` shows them")
