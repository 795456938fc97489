"""Message catalogues: every text a person reads comes from here, zh-CN first, en too.

Standard gettext catalogues maintained with Babel (``make i18n``; see
``citybrain/kernel/catalogues.py``). The source strings (msgids) are English; each
package that speaks to people keeps its own catalogue beside its code::

    alerts/locale/zh_CN/LC_MESSAGES/messages.po   (and .mo, and en/)

so a domain's texts change with the domain, and two domains never edit one file. A
module declares its catalogue once and asks it for a translator per language::

    MESSAGES = Catalogue.of_package(__name__)        # the package's locale/ folder
    t = MESSAGES.translator(settings.language)
    t.gettext("Incident #{number} opened").format(number=42)

Placeholders are ``str.format`` fields, named, so a translation may reorder them; the
catalogue check fails when a translation's fields differ from its msgid's. Labels
defined at module level are marked with ``N_`` (extracted, translated where used).
Ids, JSON keys, API field names and metric names are never translated.

Where no language is at hand (an error raised deep in a domain function, shown by the CLI
or the API), the process's current language is used: ``use_language`` sets it (the CLI
when a command starts, from Settings.language; the API per request, from its
``Accept-Language``, else Settings.language: ``citybrain.kernel.http.language``), and a module binds
``_ = MESSAGES.current`` to write ``_("No incident {number}").format(number=n)``. Stored
evidence (audit details, timeline notes, dead-letter reasons) is written once and never
re-translated, so it stays in the language it was written in.
"""

from __future__ import annotations

import gettext as stdlib_gettext
import importlib.util
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final, Literal, cast, get_args

Language = Literal["zh-CN", "en"]
LANGUAGES: Final[tuple[Language, ...]] = cast(tuple[Language, ...], get_args(Language))
DEFAULT_LANGUAGE: Final[Language] = "zh-CN"
DOMAIN: Final = "messages"

# gettext's locale folder names (POSIX form) for the languages' BCP 47 tags.
LOCALE_DIRS: Final[Mapping[Language, str]] = {"zh-CN": "zh_CN", "en": "en"}


_current: ContextVar[Language] = ContextVar("citybrain_language", default=DEFAULT_LANGUAGE)


def current_language() -> Language:
    return _current.get()


@contextmanager
def use_language(language: Language | str) -> Iterator[Language]:
    """The current language within the block (a CLI command, an API request)."""
    token = _current.set(language_of(language))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def set_language(language: Language | str) -> None:
    """The current language from now on in this context (a CLI process, once it has settings)."""
    _current.set(language_of(language))


def N_(message: str) -> str:
    """Marks a module-level text for extraction; it is translated where it is used."""
    return message


def language_of(value: str | None) -> Language:
    """A language tag as the settings, the CLI's --language and the API's ?lang= give it.

    Accepts the tags' usual spellings (zh-CN, zh_CN, zh, en, en-US…); anything else is a
    ValueError naming the languages there are.
    """
    if value is None or value == "":
        return DEFAULT_LANGUAGE
    tag = value.strip().replace("_", "-").lower()
    if tag in ("zh", "zh-cn", "zh-hans", "zh-hans-cn"):
        return "zh-CN"
    if tag == "en" or tag.startswith("en-"):
        return "en"
    raise ValueError(f"unknown language {value!r}: use one of {', '.join(LANGUAGES)}")


@dataclass(frozen=True)
class Translator:
    """One catalogue in one language: gettext and ngettext, nothing else."""

    language: Language
    translations: stdlib_gettext.NullTranslations

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)


@dataclass(frozen=True)
class Catalogue:
    """A package's message catalogue (``<package>/locale/<ll_CC>/LC_MESSAGES/messages.mo``)."""

    package: str
    locale_dir: Path

    @classmethod
    def of_package(cls, module_name: str) -> Catalogue:
        """The catalogue of the nearest package above ``module_name`` that has a locale/ folder."""
        name = module_name
        while name:
            spec = importlib.util.find_spec(name)
            if spec is not None and spec.submodule_search_locations:
                for location in spec.submodule_search_locations:
                    candidate = Path(location) / "locale"
                    if candidate.is_dir():
                        return cls(package=name, locale_dir=candidate)
            name = name.rpartition(".")[0]
        raise LookupError(f"no locale/ folder in any package above {module_name}")

    def translator(self, language: Language | str) -> Translator:
        return _translator(self.locale_dir, language_of(language))

    def gettext(self, language: Language | str, message: str) -> str:
        return self.translator(language).gettext(message)

    def current(self, message: str) -> str:
        """``message`` in the current language (``use_language``); bind it as ``_``."""
        return _translator(self.locale_dir, _current.get()).gettext(message)


@cache
def _translator(locale_dir: Path, language: Language) -> Translator:
    # A missing compiled catalogue is a packaging fault (the .mo files are committed and
    # shipped as package data), so it fails loudly instead of falling back to English.
    translations = stdlib_gettext.translation(
        DOMAIN, localedir=str(locale_dir), languages=[LOCALE_DIRS[language]])
    return Translator(language=language, translations=translations)
