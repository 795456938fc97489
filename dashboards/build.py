"""Build every dashboard in every language and write its JSON to dashboards/json/<language>/<uid>.json.

    python -m dashboards.build            # or: citybrain dashboards build

Both languages are always built and committed, side by side: ``json/zh-CN/`` holds the
operations centre's Chinese wall (the plain uids, e.g. ``citybrain-overview``, Grafana's
home dashboard), ``json/en/`` the English copy (uids ending ``-en``); compose provisions
each folder into its own Grafana folder, and ``citybrain dashboards push`` sends both
(``--language`` for one). ``CITYBRAIN_LANGUAGE`` does not choose between them: it is the
language of what the platform writes (reports, notifications), while a Grafana serves
everyone who opens it, so both copies are there.

The committed JSON is built with the default settings (time zone Asia/Shanghai, the
default public URL); a deployment in another zone rebuilds with its own
``CITYBRAIN_TIMEZONE`` / ``CITYBRAIN_PUBLIC_URL`` (or pushes, which always builds fresh).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from citybrain.kernel.i18n import LANGUAGES, Catalogue, Language
from citybrain.kernel.settings import Settings
from dashboards.board import Board, render
from dashboards.boards import (
    citizens,
    data,
    incidents,
    infrastructure,
    overview,
    pipeline,
    security,
    services,
)
from dashboards.errors import DashboardError

JSON_DIR = Path(__file__).with_name("json")
MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

BUILDERS: tuple[Callable[[Settings, Language], Board], ...] = (
    overview.build,
    infrastructure.build,
    services.build,
    citizens.build,
    data.build,
    security.build,
    incidents.build,
    pipeline.build,
)


def committed_settings() -> Settings:
    """The settings the committed JSON is built with: the defaults of what boards read."""
    fields = Settings.model_fields
    return Settings(timezone=fields["timezone"].default, public_url=fields["public_url"].default,
                    score_weights_file=None)


def boards(settings: Settings, languages: Sequence[Language] = LANGUAGES) -> list[Board]:
    built = [build(settings, language) for language in languages for build in BUILDERS]
    uids = [b.uid for b in built]
    if len(set(uids)) != len(uids):
        raise DashboardError(f"two dashboards share a uid: {sorted(uids)}")
    return built


def path_of(board: Board) -> str:
    """Where a board's JSON goes, relative to the JSON folder: ``zh-CN/citybrain-overview.json``."""
    return f"{board.language}/{board.uid}.json"


def documents(settings: Settings, languages: Sequence[Language] = LANGUAGES) -> dict[str, str]:
    """Relative path → JSON text of every dashboard."""
    return {path_of(b): render(b.to_json()) for b in boards(settings, languages)}


def write(settings: Settings, directory: Path = JSON_DIR,
          languages: Sequence[Language] = LANGUAGES) -> list[Path]:
    """Write every dashboard of ``languages``; remove JSON files of dashboards that no longer
    exist in those languages' folders (and those of the one-language layout before it,
    ``json/citybrain-*.json``)."""
    texts = documents(settings, languages)
    try:
        for stale in directory.glob("citybrain-*.json"):
            stale.unlink()
        for language in languages:
            folder = directory / language
            folder.mkdir(parents=True, exist_ok=True)
            for stale in folder.glob("citybrain-*.json"):
                if f"{language}/{stale.name}" not in texts:
                    stale.unlink()
        written = []
        for name, text in texts.items():
            path = directory / name
            path.write_text(text, encoding="utf-8")
            written.append(path)
    except OSError as exc:
        raise DashboardError(_("cannot write dashboards to {directory}: {error}").format(
            directory=directory, error=exc)) from exc
    return written


if __name__ == "__main__":
    for path in write(Settings()):
        print(path)
