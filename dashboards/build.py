"""Build every dashboard and write its JSON to dashboards/json/<uid>.json.

    python -m dashboards.build            # or: citybrain dashboards build

The committed JSON is built with the default settings (time zone Asia/Shanghai, the
default public URL); a deployment in another zone rebuilds with its own
``CITYBRAIN_TIMEZONE`` / ``CITYBRAIN_PUBLIC_URL`` (or pushes, which always builds fresh).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from citybrain.kernel.settings import Settings
from dashboards.board import Board, render
from dashboards.boards import data, incidents, infrastructure, overview, pipeline, security, services
from dashboards.errors import DashboardError

JSON_DIR = Path(__file__).with_name("json")

BUILDERS: tuple[Callable[[Settings], Board], ...] = (
    overview.build,
    infrastructure.build,
    services.build,
    data.build,
    security.build,
    incidents.build,
    pipeline.build,
)


def committed_settings() -> Settings:
    """The settings the committed JSON is built with: the defaults of what boards read."""
    fields = Settings.model_fields
    return Settings(timezone=fields["timezone"].default, public_url=fields["public_url"].default)


def boards(settings: Settings) -> list[Board]:
    built = [build(settings) for build in BUILDERS]
    uids = [b.uid for b in built]
    if len(set(uids)) != len(uids):
        raise DashboardError(f"two dashboards share a uid: {sorted(uids)}")
    return built


def documents(settings: Settings) -> dict[str, str]:
    """File name → JSON text of every dashboard."""
    return {f"{b.uid}.json": render(b.to_json()) for b in boards(settings)}


def write(settings: Settings, directory: Path = JSON_DIR) -> list[Path]:
    """Write every dashboard; remove JSON files of dashboards that no longer exist."""
    texts = documents(settings)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("citybrain-*.json"):
            if stale.name not in texts:
                stale.unlink()
        written = []
        for name, text in texts.items():
            path = directory / name
            path.write_text(text, encoding="utf-8")
            written.append(path)
    except OSError as exc:
        raise DashboardError(f"cannot write dashboards to {directory}: {exc}") from exc
    return written


if __name__ == "__main__":
    for path in write(Settings()):
        print(path)
