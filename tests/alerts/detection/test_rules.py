"""The rule format and `citybrain rules check`: every problem named by file, rule and field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import get_args

import orjson
import pytest
from typer.testing import CliRunner

from alerts.detection.rules import (
    RuleError,
    StateName,
    check_files,
    load_rules,
    packaged_rules_dir,
    rule_files,
)
from citybrain.cli import app
from streams.liveness import State

BROKEN = """\
rules:
  - id: loss
    title: "Loss {value:.1f}% on {asset}"
    source: probe
    condition: {kind: threshold, metric: packet_loss_percent, op: ">", value: 5}
    for: 5 minutes
    severity: III
    description: wrong metric name and a duration in words
  - id: portal-down
    title: "{asset} down {colour}"
    source: probe
    selector: {kinds: [portal, spaceship]}
    condition: {kind: consecutive, match: {ok: "no"}, count: 1}
    severity: V
    description: four problems
  - id: offline
    title: offline
    source: iot
    condition: {kind: state, states: [offline]}
    severity: IV
    description: a state condition on a reading family
  - id: quiet
    title: quiet
    source: security
    condition: {kind: event, where: {levle: I}, count: 3}
    for: 1m
    severity: event
    description: misspelt field, count without within, and a for
  - id: loss
    title: duplicate id
    source: probe
    condition: {kind: consecutive, match: {ok: false}, count: 2}
    severity: IV
    description: ok, but its id is taken
"""


def test_the_packaged_rules_are_valid_and_cover_every_required_kind() -> None:
    rules = {r.id: r for r in load_rules()}
    assert {"link-packet-loss", "portal-unavailable", "cloud-utilisation-high", "dataset-stale",
            "device-offline", "camera-picture-fault", "security-critical"} <= set(rules)
    assert rules["link-packet-loss"].for_ == timedelta(minutes=5)
    assert rules["cloud-utilisation-high"].for_ == timedelta(minutes=15)
    assert {r.condition.kind for r in rules.values()} == {"threshold", "consecutive", "absence", "state",
                                                           "event"}


def test_check_names_file_rule_and_field_for_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    rules, problems = check_files([path])
    found = {(p.rule, p.field) for p in problems}
    assert all(p.file == str(path) for p in problems)
    assert {("loss", "condition.metric"), ("loss", "for"),
            ("portal-down", "selector.kinds.1"), ("portal-down", "condition.count"),
            ("portal-down", "severity"), ("offline", "source"),
            ("quiet", "condition.where.levle"), ("quiet", "condition.within"), ("quiet", "for")} <= found
    assert ("loss", "id") in found                        # the second "loss"
    # portal-down's schema errors hide its semantic ones until they are fixed; the
    # title placeholder and the "no" for a boolean are caught once the schema passes.
    assert [r.id for r in rules] == []
    messages = {(p.rule, p.field): p.message for p in problems}
    assert "packet_loss_pct" in messages[("loss", "condition.metric")]     # the hint lists known metrics
    assert "levle" in messages[("quiet", "condition.where.levle")]


def test_semantic_problems_once_the_schema_passes(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_text(
        "rules:\n"
        "  - {id: p, title: '{asset} {colour}', source: probe, severity: II, description: d,\n"
        "     condition: {kind: consecutive, match: {ok: 'no'}, count: 3}, outage: true}\n"
        "  - {id: s, title: s, source: cloud, severity: event, description: d, outage: true,\n"
        "     condition: {kind: threshold, metric: utilisation_pct, op: '>', value: 90}}\n")
    _, problems = check_files([path])
    assert {(p.rule, p.field) for p in problems} == {
        ("p", "title"), ("p", "condition.match.ok"), ("s", "severity"), ("s", "outage")}


def test_cli_check_exits_1_and_prints_every_problem(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(BROKEN)
    (tmp_path / "bad-yaml.yaml").write_text("rules:\n  - id: x\n   title: [\n")
    result = CliRunner(env={"CITYBRAIN_LANGUAGE": "en"}).invoke(app, ["rules", "check", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{tmp_path / 'broken.yaml'}: rule loss: condition.metric: unknown metric" in result.output
    assert f"{tmp_path / 'bad-yaml.yaml'}: (file): not valid YAML at line 3" in result.output
    chinese = CliRunner().invoke(app, ["rules", "check", str(tmp_path)])   # zh-CN, the default
    assert chinese.exit_code == 1
    assert f"{tmp_path / 'broken.yaml'}：规则 loss：condition.metric：probe 没有指标" in chinese.output
    assert f"{tmp_path / 'bad-yaml.yaml'}：(file)：不是有效的 YAML（第 3 行" in chinese.output
    result = CliRunner().invoke(app, ["rules", "check", str(tmp_path / "broken.yaml"), "-o", "json"])
    doc = orjson.loads(result.stdout)
    assert result.exit_code == 1 and len(doc["problems"]) >= 10


def test_cli_check_passes_the_packaged_rules() -> None:
    result = CliRunner().invoke(app, ["rules", "check", str(packaged_rules_dir())])
    assert result.exit_code == 0, result.output
    assert f"{len(rule_files(None))} 个文件中共" in result.output and "条有效规则：通过" in result.output
    english = CliRunner(env={"CITYBRAIN_LANGUAGE": "en"})
    result = english.invoke(app, ["rules", "check", str(packaged_rules_dir())])
    assert f"valid rule(s) in {len(rule_files(None))} file(s): OK" in result.output


def test_load_rules_raises_with_every_problem(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(BROKEN)
    with pytest.raises(RuleError) as caught:
        load_rules(tmp_path)
    assert len(caught.value.problems) >= 10 and "citybrain rules check" in str(caught.value)


def test_state_rules_name_liveness_states() -> None:
    assert set(get_args(StateName)) <= {s.value for s in State}
    assert State.ONLINE.value not in get_args(StateName)   # being up is what clears them
