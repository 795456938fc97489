"""Running `citybrain` as a real process for the report tests, and reading its JSON."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from citybrain.kernel.settings import Settings
from tests.helpers import worker_env


def citybrain(*args: str, settings: Settings, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "citybrain", *args], env=worker_env(settings, **env),
                          capture_output=True, text=True, timeout=120, check=False)


def indicator(report: dict[str, Any], ident: str) -> dict[str, Any]:
    return next(i for i in report["indicators"] if i["id"] == ident)
