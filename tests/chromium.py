"""Debian's headless Chromium for the tests that take screenshots (docs/screens/)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium() -> str | None:
    """The browser's path, or None (tools/system-packages installs it where it can)."""
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def shoot(browser: str, page: Path, out: Path, *, width: int, height: int,
          flags: Sequence[str] = ()) -> None:
    """A PNG of ``page`` in a window of ``width`` × ``height`` CSS pixels, with a profile
    of its own (so two runs side by side do not share one)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="citybrain-chromium-") as profile:
        result = subprocess.run(
            [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             *flags, f"--user-data-dir={profile}", f"--window-size={width},{height}",
             f"--screenshot={out}", page.as_uri()],
            capture_output=True, text=True, timeout=120)
    if result.returncode != 0 or not out.exists():
        raise RuntimeError(f"chromium failed ({result.returncode}): {result.stderr[-2000:]}")
