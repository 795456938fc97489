"""The asset registry: load it from YAML or CSV, import it into the database, write it back.

Loading reports every problem of a file at once (file, entry, field, reason) so an
operator fixes a spreadsheet in one pass instead of one error per attempt. Importing
is one transaction: a registry lands whole or not at all. The problems are said in the
current language (``use_language``); file names, field names and ids stay as written.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, get_args

import psycopg
import yaml
from psycopg import sql
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ValidationError

from citybrain.kernel import validation
from citybrain.kernel.errors import RegistryError, StoreError
from citybrain.kernel.i18n import N_, Catalogue
from schemas.registry import (
    Asset,
    Department,
    District,
    Key,
    Population,
    PortalAccounts,
    Registry,
    ServiceItem,
)

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

YAML_SUFFIXES = (".yaml", ".yml")
# section → (model, the fields that identify an entry). Population figures are one per
# district, basis and date; account figures one per date.
SECTIONS: dict[str, tuple[type[BaseModel], tuple[str, ...]]] = {
    "departments": (Department, ("department_id",)),
    "districts": (District, ("district_id",)),
    "assets": (Asset, ("asset_id",)),
    "service_items": (ServiceItem, ("service_id",)),
    "population": (Population, ("district_id", "basis", "as_of")),
    "portal_accounts": (PortalAccounts, ("as_of",)),
}
# section → the fields referring to a department or district defined in the same file.
REFERENCES: dict[str, tuple[str, ...]] = {
    "assets": ("department_id", "district_id", "parent_id"),
    "service_items": ("department_id",),
    "population": ("district_id",),
}
CSV_LIST_FIELDS = ("shared_with", "tags")
CSV_REQUIRED = tuple(n for n, f in Asset.model_fields.items() if f.is_required())


def _fail(path: Path, errors: list[str]) -> RegistryError:
    return RegistryError(_("{path}: {count} error(s) in the registry").format(path=path, count=len(errors))
                         + "\n" + "\n".join(errors))


def _identity(raw: object, fields: Sequence[str]) -> str | None:
    """The entry's identity as written ("dist-01/resident/2025-12-31"), None if incomplete."""
    if not isinstance(raw, Mapping):
        return None
    parts: list[str] = []
    for value in (raw.get(f) for f in fields):
        # YAML reads an unquoted 2025-12-31 as a date: it identifies the entry as written.
        if isinstance(value, date):
            parts.append(value.isoformat())
        elif isinstance(value, str):
            parts.append(value)
        else:
            return None
    return "/".join(parts)


def _label(where: str, raw: object, id_fields: Sequence[str]) -> str:
    ident = _identity(raw, id_fields)
    if ident is None:
        return where
    return _("{where} ({field} {id})").format(where=where, field="/".join(id_fields), id=ident)


def _validate(
    model: type[BaseModel], raw: object, where: str, errors: list[str]
) -> BaseModel | None:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            # Model-level checks (retired before registered, ...) have no field to name.
            said = validation.message(err)
            errors.append(_("{where}: {field}: {problem}").format(where=where, field=field, problem=said)
                          if field else _("{where}: {problem}").format(where=where, problem=said))
        return None


def _ref(raw: object, field: str) -> str | None:
    # Only string ids take part in cross-checks; anything else is already a field error.
    value = raw.get(field) if isinstance(raw, Mapping) else None
    return value if isinstance(value, str) else None


def _ids(raws: Iterable[object], id_field: str) -> set[str]:
    # Ids from the raw entries, so an entry that failed validation elsewhere does not
    # also make every asset referring to it look dangling.
    return {i for i in (_ref(r, id_field) for r in raws) if i is not None}


# libyaml's parser and emitter where PyYAML has them: a city's registry (thousands of
# assets) loads 2-3 times and dumps 3 times faster than with the pure-Python ones; the
# documents are the same (the constructor and representer are PyYAML's either way).
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _load_yaml(path: Path, text: str, errors: list[str]) -> dict[str, list[object]]:
    try:
        doc = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError:
        # Parsed again to say what is wrong: the pure-Python parser quotes the offending
        # line with a caret under the place.
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise _fail(path, [_("{path}: not valid YAML: {error}").format(path=path, error=exc)]) from exc
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise _fail(path, [_("{path}: the top level must be a mapping of {sections}").format(
            path=path, sections=", ".join(SECTIONS))])
    for key in doc:
        if key not in SECTIONS:
            errors.append(_("{path}: {key}: unknown top-level key (expected {sections})").format(
                path=path, key=key, sections=", ".join(SECTIONS)))
    sections: dict[str, list[object]] = {}
    for name in SECTIONS:
        value = doc.get(name)
        if value is not None and not isinstance(value, list):
            errors.append(_("{path}: {section}: must be a list").format(path=path, section=name))
            value = None
        sections[name] = list(value or [])
    return sections


def _load_csv(path: Path, text: str, errors: list[str]) -> tuple[list[object], list[str]]:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return [], []
    header = [h.strip() for h in rows[0]]
    unknown = [h for h in header if h not in Asset.model_fields]
    missing = [f for f in CSV_REQUIRED if f not in header]
    twice = sorted({h for h in header if header.count(h) > 1})
    if unknown or missing or twice:
        # A wrong header would make every row fail the same way: say it once.
        detail = [_("unknown column(s) {columns}").format(columns=unknown)] if unknown else []
        detail += [_("missing column(s) {columns}").format(columns=missing)] if missing else []
        detail += [_("repeated column(s) {columns}").format(columns=twice)] if twice else []
        raise _fail(path, [_("{path} row 1: header: {problems}").format(
            path=path, problems="; ".join(detail))])
    raws: list[object] = []
    labels: list[str] = []
    # Numbered as a spreadsheet shows them: the header is row 1, blank rows still count.
    for number, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        raw: dict[str, object] = {}
        for name, cell in zip(header, cells, strict=False):
            cell = cell.strip()
            if not cell:
                continue  # an empty cell means the field is absent
            if name in CSV_LIST_FIELDS:
                raw[name] = [p.strip() for p in cell.split(";") if p.strip()]
            else:
                raw[name] = cell
        label = _label(_("row {number}").format(number=number), raw, ("asset_id",))
        if len(cells) > len(header):
            errors.append(_("{path} {row}: {cells} cells but {columns} columns").format(
                path=path, row=label, cells=len(cells), columns=len(header)))
        raws.append(raw)
        labels.append(label)
    return raws, labels


def load_registry(path: Path) -> Registry:
    """Read and validate a registry file; raise RegistryError listing every problem."""
    suffix = path.suffix.lower()
    if suffix not in (*YAML_SUFFIXES, ".csv"):
        raise RegistryError(_("{path}: unknown registry format; use .yaml, .yml or .csv").format(path=path))
    try:
        # utf-8-sig: spreadsheets save CSV with a byte-order mark the header must not keep.
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(_("{path}: cannot read the registry file: {error}").format(path=path, error=exc)
                            ) from exc
    errors: list[str] = []
    labelled: dict[str, list[tuple[str, object]]] = {}
    if suffix == ".csv":
        raws, labels = _load_csv(path, text, errors)
        pairs = list(zip(labels, raws, strict=True))
        labelled = {name: [] for name in SECTIONS}
        labelled["assets"] = pairs
    else:
        for name, entries in _load_yaml(path, text, errors).items():
            id_fields = SECTIONS[name][1]
            labelled[name] = [
                (_label(f"{name}[{i}]", r, id_fields), r) for i, r in enumerate(entries)
            ]
    # References are checked only against what this file defines: a file without
    # departments (a CSV, say) refers to ones already in the database, and a CSV's
    # parents are left to the import step, which also sees the database.
    refs: list[tuple[str, str, set[str]]] = [
        (field, _(what), _ids((r for _r, r in labelled[section]), field))
        for section, field, what in (("departments", "department_id", N_("department")),
                                     ("districts", "district_id", N_("district")))
        if labelled[section]
    ]
    if suffix != ".csv":
        asset_ids = _ids((r for _r, r in labelled["assets"]), "asset_id")
        refs.append(("parent_id", _("parent asset"), asset_ids))
    parsed: dict[str, list[Any]] = {}
    # One pass per entry, so its errors come together and in file order.
    for name, (model, id_fields) in SECTIONS.items():
        parsed[name] = []
        first: dict[str, str] = {}
        for label, raw in labelled[name]:
            where = f"{path} {label}"
            item = _validate(model, raw, where, errors)
            if item is not None:
                parsed[name].append(item)
            ident = _identity(raw, id_fields)
            if ident is not None and ident in first:
                errors.append(_("{where}: {field}: duplicate of {first}").format(
                    where=where, field="/".join(id_fields), first=first[ident]))
            elif ident is not None:
                first[ident] = label
            for field, what, known in refs:
                if field not in REFERENCES.get(name, ()):
                    continue
                value = _ref(raw, field)
                if value is not None and value not in known:
                    errors.append(_("{where}: {field}: unknown {what} {value} in this file").format(
                        where=where, field=field, what=what, value=repr(value)))
    if errors:
        raise _fail(path, errors)
    # The entries are validated already; model_validate only assembles them.
    return Registry.model_validate(parsed)


@dataclass(frozen=True)
class ImportReport:
    departments: int
    districts: int
    assets: int
    inserted_assets: int
    updated_assets: int
    service_items: int = 0
    population: int = 0
    portal_accounts: int = 0


def _upsert(table: str, key: str | tuple[str, ...], columns: Sequence[str]) -> sql.Composed:
    keys = (key,) if isinstance(key, str) else key
    return sql.SQL(
        "INSERT INTO {table} ({cols}) VALUES ({vals}) ON CONFLICT ({key}) DO UPDATE SET {sets}"
    ).format(
        table=sql.Identifier(table),
        cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
        vals=sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        key=sql.SQL(", ").join(map(sql.Identifier, keys)),
        sets=sql.SQL(", ").join(
            [sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c))
             for c in columns if c not in keys]
            + [sql.SQL("updated_at = now()")]
        ),
    )


DEPARTMENT_COLUMNS = ("department_id", "name", "name_zh", "first_responsible", "contacts")
DISTRICT_COLUMNS = ("district_id", "name", "name_zh")
ASSET_COLUMNS = (
    "asset_id", "name", "name_zh", "kind", "key", "department_id", "district_id", "parent_id",
    "expected_interval_s", "latitude", "longitude", "shared_with", "tags",
    "registered_at", "retired_at",
)
SERVICE_ITEM_COLUMNS = (
    "service_id", "name", "name_zh", "kind", "department_id", "online_capable", "portal_since",
    "registered_at", "retired_at",
)
POPULATION_COLUMNS = ("district_id", "basis", "as_of", "people", "source")
PORTAL_ACCOUNT_COLUMNS = ("as_of", "registered_users", "verified_users", "source")


def _existing(conn: psycopg.Connection[Any], table: str, column: str, ids: set[str]) -> set[str]:
    query = sql.SQL("SELECT {c} FROM {t} WHERE {c} = ANY(%s)").format(
        c=sql.Identifier(column), t=sql.Identifier(table)
    )
    return {row[0] for row in conn.execute(query, (sorted(ids),))}


def _check_references(conn: psycopg.Connection[Any], registry: Registry) -> set[str]:
    """Raise RegistryError for dangling references; return the asset ids already stored."""
    assets = registry.assets
    departments = {d.department_id for d in registry.departments} | _existing(
        conn, "departments", "department_id",
        {a.department_id for a in assets} | {s.department_id for s in registry.service_items},
    )
    districts = {d.district_id for d in registry.districts} | _existing(
        conn, "districts", "district_id",
        {a.district_id for a in assets if a.district_id}
        | {p.district_id for p in registry.population},
    )
    ids = {a.asset_id for a in assets}
    parents = {a.parent_id for a in assets if a.parent_id}
    stored = _existing(conn, "assets", "asset_id", ids | parents)
    errors: list[str] = []
    for a in assets:
        for field, value, known in (
            ("department_id", a.department_id, departments),
            ("district_id", a.district_id, districts),
            ("parent_id", a.parent_id, ids | stored),
        ):
            if value is not None and value not in known:
                errors.append(_("asset {asset}: {field}: {value} is neither in the registry"
                                " nor in the database").format(
                    asset=a.asset_id, field=field, value=repr(value)))
    if len(ids) != len(assets):
        errors.append(_("the registry lists some asset_id more than once"))
    errors += _catalogue_problems(registry, departments, districts)
    if errors:
        raise RegistryError(_("cannot import the registry:") + "\n" + "\n".join(errors))
    return stored & ids


def _catalogue_problems(registry: Registry, departments: set[str],
                        districts: set[str]) -> list[str]:
    """Dangling departments and districts, and repeated entries, of the service catalogue,
    the population figures and the account figures."""
    errors: list[str] = []
    for s in registry.service_items:
        if s.department_id not in departments:
            errors.append(_("service item {item}: department_id: {value} is neither in the"
                            " registry nor in the database").format(
                item=s.service_id, value=repr(s.department_id)))
    for p in registry.population:
        if p.district_id not in districts:
            errors.append(_("population {district} {basis} {as_of}: district_id: {value} is"
                            " neither in the registry nor in the database").format(
                district=p.district_id, basis=p.basis, as_of=p.as_of.isoformat(),
                value=repr(p.district_id)))
    for section, keys in (
        ("service_items", [s.service_id for s in registry.service_items]),
        ("population", [(p.district_id, p.basis, p.as_of) for p in registry.population]),
        ("portal_accounts", [a.as_of for a in registry.portal_accounts]),
    ):
        if len(set(keys)) != len(keys):
            errors.append(_("the registry lists some entry of {section} more than once").format(
                section=section))
    return errors


def import_registry(conn: psycopg.Connection[Any], registry: Registry) -> ImportReport:
    """Upsert the registry in one transaction; nothing is written if anything is wrong."""
    dump: dict[str, Any] = {"mode": "json", "exclude_none": True}
    try:
        with conn.transaction():
            stored = _check_references(conn, registry)
            with conn.cursor() as cur:
                if registry.departments:
                    cur.executemany(
                        _upsert("departments", "department_id", DEPARTMENT_COLUMNS),
                        [
                            (d.department_id, d.name, d.name_zh,
                             Jsonb(d.first_responsible.model_dump(**dump)),
                             Jsonb([c.model_dump(**dump) for c in d.contacts]))
                            for d in registry.departments
                        ],
                    )
                if registry.districts:
                    cur.executemany(
                        _upsert("districts", "district_id", DISTRICT_COLUMNS),
                        [(d.district_id, d.name, d.name_zh) for d in registry.districts],
                    )
                if registry.assets:
                    cur.executemany(
                        _upsert("assets", "asset_id", ASSET_COLUMNS),
                        [
                            (a.asset_id, a.name, a.name_zh, a.kind, a.five_key, a.department_id,
                             a.district_id, a.parent_id, a.expected_interval_s, a.latitude,
                             a.longitude, list(a.shared_with), list(a.tags), a.registered_at,
                             a.retired_at)
                            for a in registry.assets
                        ],
                    )
                _import_catalogue(cur, registry)
    except psycopg.Error as exc:
        raise StoreError(
            _("cannot import the registry: {error}; check that the database is reachable"
              " and migrated (schema on the search_path)").format(error=exc)
        ) from exc
    return ImportReport(
        departments=len(registry.departments),
        districts=len(registry.districts),
        assets=len(registry.assets),
        inserted_assets=len(registry.assets) - len(stored),
        updated_assets=len(stored),
        service_items=len(registry.service_items),
        population=len(registry.population),
        portal_accounts=len(registry.portal_accounts),
    )


def _import_catalogue(cur: psycopg.Cursor[Any], registry: Registry) -> None:
    """Upsert the service catalogue, population and account figures (after departments
    and districts, which they refer to). A figure already stored for the same date is
    replaced: a corrected bulletin supersedes the first one."""
    if registry.service_items:
        cur.executemany(
            _upsert("service_items", "service_id", SERVICE_ITEM_COLUMNS),
            [(s.service_id, s.name, s.name_zh, s.kind, s.department_id, s.online_capable,
              s.portal_since, s.registered_at, s.retired_at) for s in registry.service_items],
        )
    if registry.population:
        cur.executemany(
            _upsert("population", ("district_id", "basis", "as_of"), POPULATION_COLUMNS),
            [(p.district_id, p.basis, p.as_of, p.people, p.source) for p in registry.population],
        )
    if registry.portal_accounts:
        cur.executemany(
            _upsert("portal_accounts", "as_of", PORTAL_ACCOUNT_COLUMNS),
            [(a.as_of, a.registered_users, a.verified_users, a.source)
             for a in registry.portal_accounts],
        )


def _plain(value: object) -> object:
    # safe_dump knows neither tuples nor (by our rule) naive-looking timestamps: datetimes
    # go out as ISO 8601 strings with their offset, exactly as a person would type them.
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def registry_to_yaml(registry: Registry) -> str:
    """The YAML text that load_registry reads back as an equal Registry."""
    doc = _plain(registry.model_dump(exclude_defaults=True))
    return yaml.dump(doc, Dumper=_DUMPER, sort_keys=False, allow_unicode=True)


def write_registry(registry: Registry, path: Path) -> None:
    """Write the registry as YAML, atomically, so a concurrent import never sees half a file."""
    if path.suffix.lower() not in YAML_SUFFIXES:
        raise RegistryError(_("{path}: registries are written as YAML; use .yaml or .yml").format(path=path))
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(registry_to_yaml(registry), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise RegistryError(_("{path}: cannot write the registry: {error}").format(
            path=path, error=exc)) from exc


def registered_counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """Assets registered and not retired, per five-key (every key present, zeros too)."""
    counts = dict.fromkeys(get_args(Key), 0)
    try:
        rows = conn.execute(
            "SELECT key, count(*) FROM assets"
            " WHERE retired_at IS NULL OR retired_at > now() GROUP BY key"
        ).fetchall()
    except psycopg.Error as exc:
        raise StoreError(_("cannot count registered assets: {error}; is the schema migrated?").format(
            error=exc)) from exc
    counts.update({str(k): int(n) for k, n in rows})
    return counts
