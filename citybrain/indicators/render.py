"""The indicator SQL files, rendered from their family templates.

Each catalogue entry names a family template (``templates/<template>.sql.j2``) and its
``params``; ``citybrain indicators render`` writes ``sql/<entry's sql>`` from them. The
committed files are that output: plain SQL with the four placeholders, which reports, the
API and the Grafana panels run as it is (nothing is rendered at query time) and which an
evaluator reads with its header. A test (tests/citybrain/indicators/test_render.py) fails
when a committed file differs from its rendering, so a change goes into a template or the
catalogue, and what a family shares — the availability accounting, the rollups' day
bounds, the incidents' judgement — is written once, in the templates and their fragments
(the ``_*.sql.j2`` files).

The daily availability facts (``citybrain.availability``) take their SQL from the same
fragments (``availability_facts``), so the facts and the figures account for time alike.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

import jinja2

from citybrain.indicators.catalogue import (
    CATALOGUE_PATH,
    SQL_DIR,
    CatalogueError,
    Definition,
    read_definitions,
)
from citybrain.indicators.families import KNOWN_STATES

TEMPLATE_DIR = Path(__file__).with_name("templates")
# The command that writes the files, as the drift test and errors name it.
COMMAND = "citybrain indicators render"
# Width of the header comments the templates wrap (`comment_wrap`), "-- " included.
COMMENT_WIDTH = 90


def sql_literal(value: object) -> str:
    """A SQL string literal (the catalogue's kinds and states are plain words; quoting
    still doubles quotes, so no value can end the literal)."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_list(values: Iterable[object]) -> str:
    return "(" + ", ".join(sql_literal(v) for v in values) + ")"


def qualify(columns: Iterable[str], alias: str) -> str:
    """``a, b`` as ``x.a, x.b``: a group's columns as read from the row ``alias``."""
    return ", ".join(f"{alias}.{c}" for c in columns)


def continue_list(items: Iterable[str], indent: int, per_line: int) -> str:
    """More items of a select list after one already written: on the same line when they
    fit in ``per_line``, else ``per_line`` a line, each line indented ``indent``."""
    listed = list(items)
    if len(listed) <= per_line:
        return "".join(f", {item}" for item in listed)
    lines = [", ".join(listed[n:n + per_line]) for n in range(0, len(listed), per_line)]
    return ",\n" + ",\n".join(" " * indent + line for line in lines)


def comment(text: str) -> str:
    """``text`` as SQL line comments, line by line."""
    return "\n".join(f"-- {line}".rstrip() for line in text.strip("\n").split("\n"))


def comment_wrap(text: str) -> str:
    """A paragraph as SQL line comments, wrapped: for header sentences with generated
    parts (dimension lists), whose length varies per indicator."""
    lines = textwrap.wrap(" ".join(text.split()), COMMENT_WIDTH - 3, break_on_hyphens=False,
                          break_long_words=False)
    return "\n".join(f"-- {line}" for line in lines)


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        # A misspelt parameter is an error, not an empty string in the SQL.
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # SQL, not HTML: values are quoted by sql_literal where they become literals.
        autoescape=False,
    )
    env.filters.update(sql_literal=sql_literal, sql_list=sql_list, qualify=qualify,
                       continue_list=continue_list, comment=comment, comment_wrap=comment_wrap)
    env.globals.update(KNOWN_STATES=KNOWN_STATES)
    return env


def render(definition: Definition) -> str:
    """The SQL file of one catalogue entry."""
    entry = definition.entry
    try:
        text = environment().get_template(f"{entry.template}.sql.j2").render(
            id=entry.id, version=entry.version, breakdowns=entry.breakdowns,
            params=definition.params)
    except jinja2.TemplateError as exc:
        raise CatalogueError(f"rendering {entry.sql} from templates/{entry.template}.sql.j2 failed: "
                             f"{exc}") from exc
    # One newline at the end, whatever the template's last block left.
    return text.rstrip("\n") + "\n"


def render_catalogue(path: Path = CATALOGUE_PATH) -> dict[str, str]:
    """SQL file name → its text, for every entry of the catalogue at ``path``."""
    return {d.entry.sql: render(d) for d in read_definitions(path)}


def stale_files(path: Path = CATALOGUE_PATH, sql_dir: Path = SQL_DIR) -> list[str]:
    """The files of ``sql_dir`` that differ from their rendering, are missing, or that no
    entry renders: what `citybrain indicators render` would write or remove."""
    rendered = render_catalogue(path)
    committed = {p.name: p.read_text(encoding="utf-8") for p in sql_dir.glob("*.sql")}
    return sorted(name for name in rendered.keys() | committed.keys()
                  if rendered.get(name) != committed.get(name))


def write(path: Path = CATALOGUE_PATH, sql_dir: Path = SQL_DIR) -> list[Path]:
    """Write every entry's SQL file that differs from its rendering and remove the files
    no entry renders; returns the paths written or removed."""
    rendered = render_catalogue(path)
    changed: list[Path] = []
    try:
        sql_dir.mkdir(parents=True, exist_ok=True)
        for stale in sorted(sql_dir.glob("*.sql")):
            if stale.name not in rendered:
                stale.unlink()
                changed.append(stale)
        for name, text in sorted(rendered.items()):
            target = sql_dir / name
            if not target.is_file() or target.read_text(encoding="utf-8") != text:
                target.write_text(text, encoding="utf-8")
                changed.append(target)
    except OSError as exc:
        raise CatalogueError(f"cannot write the indicator SQL to {sql_dir}: {exc}") from exc
    return changed


def availability_facts(feeds: Mapping[str, str]) -> str:
    """The INSERT of the daily availability facts (``citybrain.availability.FACTS``) for
    the local days %(days)s, with ``feeds``: asset kind → its liveness feed."""
    try:
        return environment().get_template("availability_facts.sql.j2").render(
            feeds=sorted(feeds.items())).rstrip("\n") + "\n"
    except jinja2.TemplateError as exc:
        raise CatalogueError(f"rendering templates/availability_facts.sql.j2 failed: {exc}") from exc
