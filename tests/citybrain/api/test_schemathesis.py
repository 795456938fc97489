"""The whole HTTP API against its own OpenAPI document, with schemathesis.

The real app is served on a loopback port over the test database holding a small city
(two departments, incidents in several states, two maintenance windows), and
schemathesis' command line runs its phases (coverage, fuzzing, and stateful sequences
over the links it infers from the document; the document has no explicit examples) with
every check (``--checks all``) on every operation: no 5xx; status codes, content types,
headers and bodies as documented; invalid input refused; schema-valid input not refused
other than as documented (``schemathesis.toml``). It runs twice: with an admin token and
with an on-call token limited to the water department.

The suite runs a bounded, deterministic number of examples per operation; a long run is
the same test with more:

    CITYBRAIN_SCHEMATHESIS_EXAMPLES=500 CITYBRAIN_SCHEMATHESIS_SCOPED_EXAMPLES=500 \
        pytest tests/citybrain/api/test_schemathesis.py -s
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydantic import SecretStr

from alerts.incidents import store as incidents
from alerts.maintenance import windows as maintenance
from alerts.model import Severity
from citybrain.api.app import create_app
from citybrain.kernel.audit import Actor
from citybrain.kernel.http import tokens
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.settings import Settings
from tests.alerts.incidents.conftest import alert
from tests.served import served as serve_app

# One worker: hypothesis parses lambda sources with ast, which on CPython 3.11 can fail
# from two threads at once ("AST constructor recursion depth mismatch").
EXAMPLES = int(os.environ.get("CITYBRAIN_SCHEMATHESIS_EXAMPLES", "8"))
# The department-scoped token reaches the same handlers behind one more refusal (403 outside
# its department), so the suite gives it fewer examples; a long run sets both.
SCOPED_EXAMPLES = int(os.environ.get("CITYBRAIN_SCHEMATHESIS_SCOPED_EXAMPLES", "3"))
CONFIG = Path(__file__).with_name("schemathesis.toml")
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")


def _opened_id(change: incidents.Change) -> int:
    assert change.incident_id is not None  # a firing alert opens an incident
    return change.incident_id


def _seed(db: psycopg.Connection[Any], settings: Settings) -> None:
    """Incidents of both departments (triggered, acknowledged, resolved, closed) and a window
    of each (one on the department, one on an asset)."""
    now = datetime.now(UTC)
    actor = Actor(id="test", role=Role.admin.value, department=None)
    opened = [_opened_id(incidents.apply(db, alert(asset, rule=rule, severity=severity,
                                                   at=now - timedelta(hours=2)),
                                         now=now - timedelta(hours=2), settings=settings))
              for asset, rule, severity in (("w-1", "device-offline", Severity.II),
                                            ("w-1", "probe-failed", Severity.III),
                                            ("w-1", "cloud-utilisation", Severity.IV),
                                            ("r-1", "device-offline", Severity.I),
                                            ("r-1", "probe-failed", Severity.III))]
    incidents.ack(db, opened[1], actor, now=now - timedelta(hours=1))
    incidents.resolve(db, opened[2], actor, "pump restarted", now=now - timedelta(minutes=30))
    incidents.resolve(db, opened[4], actor, "probe fixed", now=now - timedelta(minutes=30))
    incidents.close(db, opened[4], actor, now=now - timedelta(minutes=10))
    start, end = now + timedelta(days=1), now + timedelta(days=1, hours=2)
    for scope, target in (("department", "water"), ("asset", "r-1")):
        spec = maintenance.make_spec(
            kind="maintenance", scope=scope, target=target, starts_at=start.isoformat(),
            ends_at=end.isoformat(), timezone=settings.timezone, reason="pipe works")
        maintenance.create(db, spec, actor, now=now, horizon_days=settings.maintenance_horizon_days)


@pytest.fixture
def served(city: psycopg.Connection[Any], database_url: str, schema: str, tmp_path: Path) -> Iterator[str]:
    """The API's base URL: the real app on a loopback port over the seeded test database."""
    settings = Settings(database_url=database_url, database_schema=schema, data_dir=tmp_path,
                        ack_link_secret=SecretStr("s" * 32), public_url="https://citybrain.test")
    _seed(city, settings)
    with serve_app(create_app(settings, database_url), start_within=30) as url:
        yield url


@pytest.fixture(scope="module")
def hypothesis_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Hypothesis' storage folder, shared by the runs: it caches the Unicode tables it
    builds on first use (a few seconds of CPU each time); no examples are kept there,
    since a deterministic run uses no example database."""
    return tmp_path_factory.mktemp("hypothesis")


def _figures(report: Path) -> str:
    """The run's figures from schemathesis' JSON report, for the log."""
    if not report.exists():
        return "no report"
    got = json.loads(report.read_text())
    return (f"operations {got['operations']['tested']}/{got['operations']['selected']} tested, "
            f"{got['test_cases']['generated']} test cases, {len(got['failures'])} failures, "
            f"{len(got['errors'])} errors, phases "
            + ", ".join(f"{name} {phase['status']}" for name, phase in got["phases"].items())
            + f", {got['running_time']:.0f} s")


@pytest.mark.parametrize(("role", "department"), [(Role.admin, None), (Role.oncall, "water")],
                         ids=["admin", "oncall-water"])
def test_every_operation_conforms_to_the_document(served: str, city: psycopg.Connection[Any],
                                                  tmp_path: Path, hypothesis_home: Path, role: Role,
                                                  department: str | None) -> None:
    _, clear = tokens.create(city, role, department=department, name="schemathesis", created_by="test")
    report = tmp_path / "schemathesis.json"
    examples = EXAMPLES if department is None else SCOPED_EXAMPLES
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG),
        "run", f"{served}/openapi.json", "--checks", "all", "--max-examples", str(examples), "--workers", "1",
        "--header", f"Authorization: Bearer {clear}",
        "--report", "json", "--report-json-path", str(report), "--no-color",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS),
           "HYPOTHESIS_STORAGE_DIRECTORY": str(hypothesis_home)}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=3600,
                          check=False)
    print(f"schemathesis, {role.value} token, {examples} examples per operation: {_figures(report)}")
    assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-5000:]
