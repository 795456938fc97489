"""The import contracts of ``pyproject.toml`` (``lint-imports`` in ``make lint``): the tree
keeps them, every module is in a layer, and a wrong-way import or a cycle breaks them.

The broken cases run the linter on a copy of the sources with one import added, so the
real tree is never touched.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

# Packages whose own ``__init__`` only holds other layers' modules (and imports none).
CONTAINERS = {"citybrain", "citybrain.api"}


def _config() -> dict[str, Any]:
    with PYPROJECT.open("rb") as f:
        config: dict[str, Any] = tomllib.load(f)["tool"]["importlinter"]
    return config


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    # The copy comes first on the path, so the linter reads its modules, not the installed ones.
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache", "--no-logo"],
        cwd=root, env=env, capture_output=True, text=True, timeout=60, check=False,
    )


def _copy(tmp_path: Path) -> Path:
    for package in _config()["root_packages"]:
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PYPROJECT, tmp_path / "pyproject.toml")
    return tmp_path


def _layer_modules() -> set[str]:
    contracts = _config()["contracts"]
    layers: list[str] = next(c for c in contracts if c["type"] == "layers")["layers"]
    return {name.strip() for layer in layers for name in layer.split(":")}


def test_the_tree_keeps_its_contracts() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_module_is_in_a_layer() -> None:
    listed = _layer_modules()
    unplaced = []
    for package in _config()["root_packages"]:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            prefixes = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 2)}
            if module not in CONTAINERS and not prefixes & listed:
                unplaced.append(module)
    assert unplaced == [], f"put these modules in a layer of pyproject.toml: {unplaced}"


@pytest.mark.parametrize(("module", "line", "broken"), [
    # The kernel importing a domain.
    ("citybrain/kernel/settings.py", "from alerts import model",
     "citybrain.kernel is not allowed to import alerts"),
    # A domain importing an entry point.
    ("streams/lag.py", "import citybrain.cli", "streams is not allowed to import citybrain.cli"),
    # A cycle inside a domain: the XLSX export back into the format dispatch.
    ("citybrain/reports/workbook.py", "import citybrain.reports.writers",
     "No cycles are allowed in citybrain.reports"),
    # A cycle between a domain's sub-packages: the maintenance calendar back into detection.
    ("alerts/maintenance/calendar.py", "import alerts.detection.topology",
     "No cycles are allowed in alerts.\n"),
])
def test_a_wrong_way_import_breaks_a_contract(tmp_path: Path, module: str, line: str, broken: str) -> None:
    root = _copy(tmp_path)
    with (root / module).open("a") as f:
        f.write(f"\n{line}  # the wrong way\n")
    result = _lint(root)
    assert result.returncode != 0, result.stdout
    assert broken in result.stdout


def _where_things_live() -> tuple[set[str], set[str]]:
    """The folders and files the README's "Where things live" table names."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Where things live", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    named = {m for row in rows for m in re.findall(r"`([\w./]+)`", row.split("|")[2])}
    return {n.rstrip("/") for n in named if n.endswith("/")}, {n for n in named if not n.endswith("/")}


def test_where_things_live_names_every_package_and_only_what_exists() -> None:
    folders, files = _where_things_live()
    missing = sorted(p for p in folders | files if not (ROOT / p).exists())
    assert missing == [], f"the README's 'Where things live' names what is not in the tree: {missing}"
    # Every root package and every package directly below `citybrain` has a row (its
    # sub-packages are described in that row).
    packages = {*_config()["root_packages"]} - {"citybrain"}
    packages |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "citybrain").iterdir()
                 if (p / "__init__.py").exists()}
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "citybrain").glob("*.py")
               if p.name != "__init__.py"}
    unnamed = sorted((packages - folders) | (modules - files))
    assert unnamed == [], f"add these to the README's 'Where things live': {unnamed}"
