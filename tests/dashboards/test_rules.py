"""alerts/prometheus-rules.yml and alerts/prometheus.yml, checked by Prometheus's own promtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "alerts" / "prometheus-rules.yml"
CONFIG = ROOT / "alerts" / "prometheus.yml"
RULE_TESTS = Path(__file__).with_name("prometheus-rules.test.yml")

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not installed (Debian: apt-get install -y prometheus); the rules are unchecked",
)


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


@needs_promtool
def test_rules_pass_promtool_check() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_promtool
def test_rules_fire_when_they_should_and_only_then(tmp_path: Path) -> None:
    # The test file names the rules by the path the compose file mounts them under.
    shutil.copy(RULES, tmp_path / "citybrain-rules.yml")
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    result = promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_named_in_the_brief_exists() -> None:
    rules = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
    assert {"CitybrainIngestionStopped", "CitybrainConsumerLagGrowing", "CitybrainDeadLetterSpike",
            "CitybrainEscalationStuck", "CitybrainNotificationsFailing"} <= rules
    tested = RULE_TESTS.read_text()
    untested = sorted(r for r in rules if f"alertname: {r}" not in tested)
    # Down/absent and staleness rules are plain thresholds; the rest have unit tests.
    assert set(untested) <= {"CitybrainLivenessFeedStalled", "CitybrainLagNotSampled",
                             "CitybrainDatabaseRetries", "CitybrainAlerterDown",
                             "CitybrainMetricsDatabaseUnreadable", "CitybrainApiDown"}, untested


@needs_promtool
def test_scrape_config_passes_promtool_check(tmp_path: Path) -> None:
    config = yaml.safe_load(CONFIG.read_text())
    assert config["rule_files"] == ["/etc/prometheus/citybrain-rules.yml"]
    shutil.copy(RULES, tmp_path / "citybrain-rules.yml")
    config["rule_files"] = [str(tmp_path / "citybrain-rules.yml")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    result = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
