"""The console in a real browser: Debian's Chromium driven by Playwright, against the app
served by uvicorn on loopback (the same ASGI app ``citybrain api`` serves) on a clock the
test moves.

Playwright's own browser download cannot reach its host here, so it drives the system's
Chromium (``tests/chromium.py`` finds it; ``tools/system-packages`` installs it). Where no
Chromium can be found the browser tests are skipped with a message saying so.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from citybrain.api.app import create_app
from citybrain.kernel.settings import Settings
from tests.chromium import chromium
from tests.helpers import MovableClock
from tests.served import served

SCREENS = Path(__file__).resolve().parents[3] / "docs" / "screens"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@dataclass
class LiveConsole:
    url: str
    clock: MovableClock
    settings: Settings


@contextmanager
def serve(settings: Settings, database_url: str, clock: MovableClock) -> Iterator[str]:
    """The API and console on a free loopback port, in a thread, until the block ends."""
    with served(create_app(settings, database_url, clock=clock)) as url:
        yield url


# Module scope, not session: Playwright's sync API keeps its event loop running in this
# thread while it is open, and every later asyncio.run() in the thread would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium()
    if path is None:
        pytest.skip("NO BROWSER: Chromium is not installed (tools/system-packages installs Debian's "
                    "chromium); the console's browser tests did not run")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        found = playwright.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield found
        finally:
            found.close()


def page_for(browser: Any, *, phone: bool, language: str = "zh-CN") -> Any:
    """A fresh browser context (its own cookies) with a phone's or a desk's window."""
    context = browser.new_context(viewport=PHONE if phone else DESKTOP, locale=language,
                                  device_scale_factor=2 if phone else 1, is_mobile=phone, has_touch=phone,
                                  accept_downloads=True)
    return context.new_page()


def screenshot(page: Any, name: str) -> Path:
    """docs/screens/console-<name>.png of the whole page."""
    out = SCREENS / f"console-{name}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out), full_page=True)
    return out
