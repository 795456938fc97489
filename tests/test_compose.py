"""The production compose file: it parses, and names only what the project has."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from citybrain.cli import app
from citybrain.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_compose_references_only_existing_settings_commands_and_files() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"kafka", "timescaledb", "worker", "migrate", "topics", "simulator"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    assert services["timescaledb"]["image"].startswith("timescale/timescaledb:")
    fields = {f"CITYBRAIN_{name.upper()}" for name in Settings.model_fields}
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\b(CITYBRAIN_[A-Z_]+)\s*:", text))
    assert used - {"CITYBRAIN_DB_PASSWORD"} <= fields, used - fields
    commands = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    commands |= {g.name or "" for g in app.registered_groups}
    for name, svc in services.items():
        if "build" in svc:
            assert (ROOT / svc["build"] / "Dockerfile").is_file()
            assert svc["command"][0] in commands, (name, svc["command"])
    # Every service a worker depends on exists.
    for svc in services.values():
        assert set(svc.get("depends_on", {})) <= set(services)
