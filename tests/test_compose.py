"""The production compose file: it parses, and names only what the project has.

No Docker engine runs here, so the file is checked statically: services, commands,
settings, interpolated variables, mounted files, ports and the Prometheus scrape targets
must all agree with the project.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

import yaml

from citybrain.cli import app
from citybrain.kernel.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, Any] = COMPOSE["services"]
# Long-running services (the one-shot jobs and the optional simulator aside).
LONG_RUNNING = {"kafka", "timescaledb", "worker", "api", "alerter", "prometheus", "grafana"}


def env(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in (SERVICES[service].get("environment") or {}).items()}


def database_url(service: str) -> SplitResult:
    """The service's CITYBRAIN_DATABASE_URL, its interpolated password left out."""
    return urlsplit(re.sub(r"\$\{[^}]*\}", "PASSWORD", env(service)["CITYBRAIN_DATABASE_URL"]))


def test_compose_references_only_existing_settings_commands_and_files() -> None:
    assert {"kafka", "timescaledb", "worker", "migrate", "topics", "simulator"} <= set(SERVICES)
    assert SERVICES["kafka"]["image"].startswith("apache/kafka:")
    assert SERVICES["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    assert SERVICES["timescaledb"]["image"].startswith("timescale/timescaledb:")
    fields = {f"CITYBRAIN_{name.upper()}" for name in Settings.model_fields}
    used = set(re.findall(r"\b(CITYBRAIN_[A-Z_]+)\s*:", COMPOSE_TEXT))
    assert used - {"CITYBRAIN_DB_PASSWORD"} <= fields, used - fields
    commands = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    commands |= {g.name or "" for g in app.registered_groups}
    for name, svc in SERVICES.items():
        if "build" in svc:
            assert (ROOT / svc["build"] / "Dockerfile").is_file()
            assert svc["command"][0] in commands, (name, svc["command"])
    # Every service a worker depends on exists.
    for svc in SERVICES.values():
        assert set(svc.get("depends_on", {})) <= set(SERVICES)


def test_the_operator_views_are_part_of_production() -> None:
    assert {"api", "alerter", "prometheus", "grafana"} <= set(SERVICES)
    assert SERVICES["api"]["command"] == ["api"] and SERVICES["alerter"]["command"] == ["alerter"]
    assert SERVICES["grafana"]["image"].startswith("grafana/grafana:11.6.")
    assert SERVICES["prometheus"]["image"].startswith("prom/prometheus:v2.")
    assert SERVICES["simulator"]["profiles"] == ["simulator"]
    assert SERVICES["worker"]["deploy"]["replicas"] >= 2
    for name in LONG_RUNNING:
        assert "healthcheck" in SERVICES[name], name
        assert SERVICES[name].get("restart") == "unless-stopped", name
    for name, svc in SERVICES.items():
        if "image" in svc:
            image = svc["image"]
            assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image tag"


def test_interpolated_variables_are_documented() -> None:
    """Every ${VAR} compose reads from the environment is a setting or documented in the README."""
    deploy = (ROOT / "README.md").read_text()
    fields = {f"CITYBRAIN_{name.upper()}" for name in Settings.model_fields}
    for var in set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", COMPOSE_TEXT)):
        assert var in fields or f"`{var}`" in deploy, f"${{{var}}} is neither a setting nor in the README"
    # The three secrets are required, not defaulted.
    for secret in ("CITYBRAIN_DB_PASSWORD", "GRAFANA_DB_PASSWORD", "GRAFANA_ADMIN_PASSWORD"):
        assert f"${{{secret}:?" in COMPOSE_TEXT, secret


def test_mounted_files_exist_and_grafana_gets_every_datasource_variable() -> None:
    for name, svc in SERVICES.items():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"
            else:
                assert source in COMPOSE["volumes"], f"{name} uses undeclared volume {source}"
    provisioned = (ROOT / "dashboards/provisioning/datasources/citybrain.yaml").read_text()
    needed = set(re.findall(r"\$\{(\w+)\}", provisioned))
    assert needed and needed <= set(env("grafana")), needed - set(env("grafana"))
    # The grafana-reader job creates the role Grafana logs in as.
    assert env("grafana-reader")["GRAFANA_DB_USER"] == env("grafana")["GRAFANA_DB_USER"]
    assert env("grafana-reader")["CITYBRAIN_DATABASE_SCHEMA"] == \
        SERVICES["migrate"]["environment"]["CITYBRAIN_DATABASE_SCHEMA"]
    mounts = [v.split(":")[1] for v in SERVICES["grafana"]["volumes"]]
    providers = yaml.safe_load((ROOT / "dashboards/provisioning/dashboards/citybrain.yaml").read_text())
    # One provider per dashboard language, each reading its own mounted folder.
    assert all(p["options"]["path"] in mounts for p in providers["providers"])
    home = env("grafana")["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(providers["providers"][0]["options"]["path"] + "/")
    source, target = max((v.split(":")[:2] for v in SERVICES["grafana"]["volumes"]
                          if home.startswith(v.split(":")[1] + "/")), key=lambda st: len(st[1]))
    assert (ROOT / source / home.removeprefix(target + "/")).is_file()


def test_ports_and_scrape_targets_agree() -> None:
    prometheus = yaml.safe_load((ROOT / "alerts" / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in prometheus["scrape_configs"]}
    workers = jobs["citybrain-workers"]["dns_sd_configs"][0]
    assert workers["names"] == ["worker"]
    assert str(workers["port"]) == env("worker")["CITYBRAIN_METRICS_PORT"]
    assert env("worker")["CITYBRAIN_METRICS_HOST"] == "0.0.0.0"
    # The API's published port asks a token for /metrics: Prometheus scrapes its internal
    # metrics port, which is not published.
    assert jobs["citybrain-api"]["static_configs"][0]["targets"] == \
        [f"api:{env('api')['CITYBRAIN_METRICS_PORT']}"]
    assert env("api")["CITYBRAIN_METRICS_PORT"] != env("api")["CITYBRAIN_API_PORT"]
    assert env("api")["CITYBRAIN_METRICS_HOST"] == "0.0.0.0"
    assert jobs["citybrain-alerter"]["static_configs"][0]["targets"] == \
        [f"alerter:{env('alerter')['CITYBRAIN_METRICS_PORT']}"]
    assert env("api")["CITYBRAIN_API_HOST"] == "0.0.0.0"
    published = {name: [p.split(":") for p in svc.get("ports", [])] for name, svc in SERVICES.items()}
    assert ["8600", env("api")["CITYBRAIN_API_PORT"]] in published["api"]
    assert all(p[-1] != env("api")["CITYBRAIN_METRICS_PORT"] for p in published["api"])
    assert ["3000", "3000"] in published["grafana"] and ["9090", "9090"] in published["prometheus"]
    assert not published["worker"] and not published["timescaledb"] and not published["kafka"]
    # Prometheus finds its rules where the compose file mounts them.
    rule_mounts = [v.split(":")[1] for v in SERVICES["prometheus"]["volumes"] if "rules" in v]
    assert prometheus["rule_files"] == rule_mounts
    for check in (SERVICES["worker"], SERVICES["alerter"]):
        port = check["environment"]["CITYBRAIN_METRICS_PORT"]
        assert f":{port}/metrics" in " ".join(check["healthcheck"]["test"])


def test_grafana_reads_as_a_role_granted_after_every_migrate() -> None:
    """The script grants table by table (no default privileges), so it runs once the
    migrations made the tables, on every start, and Grafana waits for it. It is not a
    database init script: that runs on an empty volume, before any table exists."""
    job = SERVICES["grafana-reader"]
    assert job["image"] == SERVICES["timescaledb"]["image"]  # the server's own psql
    done = {"condition": "service_completed_successfully"}
    assert job["depends_on"]["migrate"] == done
    assert SERVICES["grafana"]["depends_on"]["grafana-reader"] == done
    assert job["restart"] == "no"
    [mount] = job["volumes"]
    source, target = mount.split(":")[:2]
    assert source == "./dashboards/provisioning/postgres/10-grafana-reader.sh"
    assert job["command"] == ["sh", target]
    assert not any("docker-entrypoint-initdb.d" in v for v in SERVICES["timescaledb"].get("volumes", []))
    # It runs as the schema's owner, the user the migrations ran as, on the database server.
    owner = database_url("migrate")
    assert (env("grafana-reader")["POSTGRES_USER"], env("grafana-reader")["POSTGRES_DB"]) == \
        (owner.username, owner.path.lstrip("/"))
    assert env("grafana-reader")["PGHOST"] == owner.hostname == "timescaledb"
    assert env("grafana-reader")["PGPASSWORD"] == env("timescaledb")["POSTGRES_PASSWORD"]


def test_the_api_may_set_its_temp_file_limit() -> None:
    """temp_file_limit needs a superuser (or GRANT SET ON PARAMETER, PostgreSQL 15+): the
    API connects as the database image's POSTGRES_USER, the superuser initdb creates, so
    no grant is needed (the API warns at start when a role may not set it)."""
    api = database_url("api")
    assert api.username == env("timescaledb")["POSTGRES_USER"]
    assert api.path.lstrip("/") == env("timescaledb")["POSTGRES_DB"]
    assert Settings.model_fields["api_temp_file_limit_mb"].default > 0
