"""The message catalogues: complete for both languages, and a check that fails when they are not."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from citybrain.kernel import catalogues
from citybrain.kernel.i18n import LANGUAGES, Catalogue, language_of


def test_every_catalogue_is_complete_in_both_languages() -> None:
    found = list(catalogues.problems())
    assert found == [], "run `make i18n` and translate:\n" + "\n".join(found)


def test_there_are_catalogues_and_each_loads_in_both_languages() -> None:
    packages = catalogues.catalogue_packages()
    assert {p.name for p in packages} >= {"alerts", "citybrain.demo", "citybrain.reports", "dashboards"}
    for package in packages:
        catalogue = Catalogue(package.name, package.path / "locale")
        for language in LANGUAGES:
            assert catalogue.translator(language).language == language


@pytest.mark.parametrize(("tag", "language"), [
    ("zh-CN", "zh-CN"), ("zh_CN", "zh-CN"), ("zh", "zh-CN"), ("ZH-cn", "zh-CN"),
    ("en", "en"), ("en-US", "en"), (None, "zh-CN"), ("", "zh-CN")])
def test_language_tags(tag: str | None, language: str) -> None:
    assert language_of(tag) == language


def test_an_unknown_language_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"unknown language 'fr'.*zh-CN, en"):
        language_of("fr")


def _project(tmp_path: Path, source: str) -> Path:
    package = tmp_path / "citybrain" / "thing"
    package.mkdir(parents=True)
    (tmp_path / "citybrain" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "locale").mkdir()
    (package / "words.py").write_text(textwrap.dedent(source))
    return tmp_path


def _translate(root: Path, msgstr: str) -> None:
    po = root / "citybrain/thing/locale/zh_CN/LC_MESSAGES/messages.po"
    po.write_text(po.read_text(encoding="utf-8").replace(
        'msgid "Incident #{number} opened"\nmsgstr ""',
        f'msgid "Incident #{{number}} opened"\nmsgstr "{msgstr}"'), encoding="utf-8")


def test_the_check_names_each_kind_of_problem(tmp_path: Path) -> None:
    root = _project(tmp_path, '''
        def opened(t, n):
            return t.gettext("Incident #{number} opened").format(number=n)
    ''')
    catalogues.update(root)
    # A new msgid gets an empty Chinese translation and the English source text.
    assert list(catalogues.problems(root)) == [
        "citybrain/thing/locale/zh_CN/LC_MESSAGES/messages.po: untranslated: 'Incident #{number} opened'"]

    _translate(root, "事件 #{编号} 已创建")
    catalogues.update(root)
    assert list(catalogues.problems(root)) == [
        "citybrain/thing/locale/zh_CN/LC_MESSAGES/messages.po: the translation of "
        "'Incident #{number} opened' has fields ['编号'], the source ['number']"]

    po = root / "citybrain/thing/locale/zh_CN/LC_MESSAGES/messages.po"
    po.write_text(po.read_text(encoding="utf-8").replace("{编号}", "{number}"), encoding="utf-8")
    assert list(catalogues.problems(root)) == [
        "citybrain/thing/locale/zh_CN/LC_MESSAGES/messages.mo: not compiled from its .po (run make i18n)"]
    catalogues.update(root)
    assert list(catalogues.problems(root)) == []
    assert catalogues.update(root) == []            # a second run changes nothing

    (root / "citybrain/thing/words.py").write_text('X = "not marked"\nY = _("Acknowledged")\n')
    found = list(catalogues.problems(root))
    zh, en = (f"citybrain/thing/locale/{d}/LC_MESSAGES/messages.po" for d in ("zh_CN", "en"))
    assert f"{zh}: not in the catalogue (run make i18n): 'Acknowledged'" in found
    assert f"{en}: no longer used in the code (run make i18n): 'Incident #{{number}} opened'" in found


def test_translations_load_at_run_time(tmp_path: Path) -> None:
    root = _project(tmp_path, '''
        def opened(t, n):
            return t.gettext("Incident #{number} opened").format(number=n)
    ''')
    catalogues.update(root)
    _translate(root, "事件 #{number} 已创建")
    catalogues.update(root)
    catalogue = Catalogue("citybrain.thing", root / "citybrain/thing/locale")
    assert catalogue.gettext("zh-CN", "Incident #{number} opened").format(number=7) == "事件 #7 已创建"
    assert catalogue.gettext("en", "Incident #{number} opened").format(number=7) == "Incident #7 opened"
    # A catalogue that was not compiled is a packaging fault, not silently English.
    shutil.copytree(root / "citybrain/thing/locale", tmp_path / "broken")
    shutil.rmtree(tmp_path / "broken/en")
    with pytest.raises(FileNotFoundError):
        Catalogue("citybrain.thing", tmp_path / "broken").translator("en")


def test_the_current_language_is_per_context(tmp_path: Path) -> None:
    from citybrain.kernel.i18n import current_language, use_language
    root = _project(tmp_path, '''
        def opened(t, n):
            return t.gettext("Incident #{number} opened").format(number=n)
    ''')
    catalogues.update(root)
    _translate(root, "事件 #{number} 已创建")
    catalogues.update(root)
    catalogue = Catalogue("citybrain.thing", root / "citybrain/thing/locale")
    _ = catalogue.current
    assert current_language() == "zh-CN"
    assert _("Incident #{number} opened").format(number=3) == "事件 #3 已创建"
    with use_language("en"):
        assert _("Incident #{number} opened").format(number=3) == "Incident #3 opened"
    assert current_language() == "zh-CN"
