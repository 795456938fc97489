"""Maintaining the message catalogues: extract, update, compile, check (``make i18n``).

Babel does the work (extraction from the Python sources, PO reading and writing, MO
compilation); this module only knows where the catalogues are. A catalogue package is
any package of the project with a ``locale/`` folder; its messages are those of its own
modules, not of a nested package that has a catalogue of its own.

``update`` (what ``make i18n`` runs): extracts the msgids, rewrites each language's
``messages.po`` keeping every translation still used (new msgids get an empty zh-CN
translation to fill; the en catalogue starts from the English source text, which may
then be edited there without touching code), drops the unused, and compiles the
``.mo`` files that are loaded at run time. ``check`` lists what a person must fix: a
catalogue out of date with the code, an empty or fuzzy translation, a translation whose
``{placeholders}`` differ from the source's, a compiled file older than its PO.

The files are written without line numbers and with fixed header dates, so running
``make i18n`` twice changes nothing and a diff shows only real changes.
"""

from __future__ import annotations

import argparse
import io
import string
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from citybrain.kernel.i18n import DOMAIN, LANGUAGES, LOCALE_DIRS, Language

ROOT = Path(__file__).resolve().parents[2]
# The top-level packages whose trees may hold catalogue packages.
TOP_PACKAGES = ("citybrain", "alerts", "dashboards", "schemas", "streams")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
# Console pages are Jinja2 templates ({{ _("...") }}), read by Jinja2's own extractor.
METHOD_MAP = [("**.py", "python"), ("**/templates/**.html", "jinja2.ext:babel_extract")]
OPTIONS_MAP = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "false"}}
# Fixed header dates: the files change only when the messages do.
FIXED_DATE = datetime(2026, 1, 1, tzinfo=UTC)
SOURCE_LANGUAGE: Language = "en"
HEADER = ("# Citybrain's messages for people ({language}): translate the msgstr lines, then run\n"
          "# `make i18n` (which also runs after any change to the texts in the code).")


def new_catalog(language: Language | None) -> Catalog:
    return Catalog(locale=LOCALE_DIRS[language] if language else None, domain=DOMAIN,
                   header_comment=HEADER.format(language=language or "template"),
                   project="Citybrain", version="1", copyright_holder="Citybrain contributors",
                   msgid_bugs_address="-", last_translator="Citybrain contributors",
                   language_team=language or "-", creation_date=FIXED_DATE,
                   revision_date=FIXED_DATE, fuzzy=False)


@dataclass(frozen=True)
class CataloguePackage:
    path: Path              # the package folder; its locale/ holds the catalogues
    root: Path              # the project's root, which file names are relative to

    @property
    def name(self) -> str:
        return ".".join(self.path.relative_to(self.root).parts)

    def po_path(self, language: Language) -> Path:
        return self.path / "locale" / LOCALE_DIRS[language] / "LC_MESSAGES" / f"{DOMAIN}.po"

    def mo_path(self, language: Language) -> Path:
        return self.po_path(language).with_suffix(".mo")


def catalogue_packages(root: Path = ROOT) -> list[CataloguePackage]:
    found = []
    for top in TOP_PACKAGES:
        for locale in sorted((root / top).rglob("locale")):
            if locale.is_dir() and (locale.parent / "__init__.py").exists():
                found.append(CataloguePackage(locale.parent, root))
    return found


def extract(package: CataloguePackage, packages: list[CataloguePackage]) -> Catalog:
    """The msgids of the package's own modules (not of nested catalogue packages)."""
    nested = [p.path for p in packages if p.path != package.path and package.path in p.path.parents]

    def own(path: str) -> bool:
        full = package.path / path
        return not any(n in full.parents for n in nested)

    catalog = new_catalog(None)
    for filename, _lineno, message, comments, context in extract_from_dir(
            str(package.path), METHOD_MAP, options_map=OPTIONS_MAP, keywords=KEYWORDS,
            comment_tags=("TRANSLATORS:",), callback=None, strip_comment_tags=True):
        if not own(filename):
            continue
        # No line numbers: the catalogues change only when the texts do.
        location = (str((package.path / filename).relative_to(package.root)), 0)
        catalog.add(message, locations=[location], auto_comments=comments, context=context)
    return catalog


def read(path: Path, language: Language) -> Catalog | None:
    if not path.exists():
        return None
    with path.open("rb") as handle:
        return read_po(handle, locale=LOCALE_DIRS[language], domain=DOMAIN)


def updated(template: Catalog, existing: Catalog | None, language: Language) -> Catalog:
    catalog = new_catalog(language)
    for message in template:
        if not message.id:
            continue
        translation: str | tuple[str, ...] | list[str] | None = _translation_in(existing, message)
        if translation is None and language == SOURCE_LANGUAGE:
            translation = message.id
        if translation is None:
            translation = ("", "") if message.pluralizable else ""
        catalog.add(message.id, string=translation, locations=message.locations,
                    auto_comments=message.auto_comments, context=message.context)
    return catalog


def _translation_in(existing: Catalog | None, message: Message) -> str | tuple[str, ...] | list[str] | None:
    if existing is None:
        return None
    old = existing.get(message.id, context=message.context)
    if old is None or old.fuzzy or not _filled(old.string):
        return None
    return old.string


def _filled(value: object) -> bool:
    if isinstance(value, (tuple, list)):
        return all(bool(v) for v in value)
    return bool(value)


def po_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, include_lineno=False, sort_output=True)
    return buffer.getvalue()


def mo_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


def update(root: Path = ROOT) -> list[Path]:
    """Extract, merge and compile every catalogue; returns the files that changed."""
    changed: list[Path] = []
    packages = catalogue_packages(root)
    for package in packages:
        template = extract(package, packages)
        for language in LANGUAGES:
            catalog = updated(template, read(package.po_path(language), language), language)
            po = po_bytes(catalog)
            # Compiled from the PO as written (and as a translator will edit it), not
            # from the merged catalogue in memory: the check compares the two files.
            mo = mo_bytes(read_po(io.BytesIO(po), locale=LOCALE_DIRS[language], domain=DOMAIN))
            for path, content in ((package.po_path(language), po),
                                  (package.mo_path(language), mo)):
                if not path.exists() or path.read_bytes() != content:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(content)
                    changed.append(path)
    return changed


def problems(root: Path = ROOT) -> Iterator[str]:
    """What ``make i18n`` and a translator must fix; nothing when every catalogue is whole."""
    packages = catalogue_packages(root)
    for package in packages:
        template = extract(package, packages)
        wanted = {(m.id if isinstance(m.id, str) else m.id[0], m.context) for m in template if m.id}
        for language in LANGUAGES:
            po = package.po_path(language)
            catalog = read(po, language)
            where = str(po.relative_to(root))
            if catalog is None:
                yield f"{where}: missing (run make i18n)"
                continue
            have = {(m.id if isinstance(m.id, str) else m.id[0], m.context) for m in catalog if m.id}
            for msgid, _ctx in sorted(wanted - have, key=str):
                yield f"{where}: not in the catalogue (run make i18n): {msgid!r}"
            for msgid, _ctx in sorted(have - wanted, key=str):
                yield f"{where}: no longer used in the code (run make i18n): {msgid!r}"
            for message in catalog:
                if not message.id:
                    continue
                shown = message.id if isinstance(message.id, str) else message.id[0]
                if message.fuzzy:
                    yield f"{where}: fuzzy translation of {shown!r}"
                elif not _filled(message.string):
                    yield f"{where}: untranslated: {shown!r}"
                else:
                    yield from _placeholder_problems(where, message)
            mo = package.mo_path(language)
            if not mo.exists() or mo.read_bytes() != mo_bytes(catalog):
                yield f"{mo.relative_to(root)!s}: not compiled from its .po (run make i18n)"


def fields(text: str) -> set[str]:
    """The ``str.format`` fields of a text ('{number}', '{when:%H:%M}' → number, when)."""
    try:
        return {name for _lit, name, _spec, _conv in string.Formatter().parse(text)
                if name is not None}
    except ValueError:
        return {"<malformed braces>"}


def _placeholder_problems(where: str, message: Message) -> Iterator[str]:
    sources = [message.id] if isinstance(message.id, str) else list(message.id)
    targets = [message.string] if isinstance(message.string, str) else list(message.string or ())
    expected = set().union(*(fields(s) for s in sources))
    for target in targets:
        got = fields(target)
        if got != expected:
            shown = sources[0]
            yield (f"{where}: the translation of {shown!r} has fields {sorted(got)}, "
                   f"the source {sorted(expected)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m citybrain.kernel.catalogues",
                                     description="extract, update, compile and check the message catalogues")
    parser.add_argument("command", choices=("update", "check"))
    args = parser.parse_args(argv)
    if args.command == "update":
        for path in update():
            print(f"wrote {path.relative_to(ROOT)}")
    found = list(problems())
    for problem in found:
        print(problem, file=sys.stderr)
    if found:
        print(f"{len(found)} catalogue problem(s)", file=sys.stderr)
    return 1 if found and args.command == "check" else 0


if __name__ == "__main__":
    sys.exit(main())
