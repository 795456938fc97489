"""The composite score per key: attainment, weights, no-data exclusion and the bands."""

from __future__ import annotations

from pathlib import Path

import pytest

from citybrain.kernel.errors import SettingsError
from citybrain.kernel.i18n import use_language
from citybrain.reports.document import assemble_report
from citybrain.reports.scorecard import attainment, band_for, load_weights, score_keys
from citybrain.reports.writers import indicator_dict
from tests.citybrain.reports.sample import GENERATED_AT, WINDOW, city_results, indicator, result


@pytest.mark.parametrize(("score", "band"), [
    (0.0, "preparation"), (54.99, "preparation"), (55.0, "start-up"), (69.99, "start-up"),
    (70.0, "growth"), (84.99, "growth"), (85.0, "mature"), (100.0, "mature"), (None, None),
])
def test_bands_at_their_boundaries(score: float | None, band: str | None) -> None:
    assert band_for(score) == band


@pytest.mark.parametrize(("value", "score", "band"), [
    (54.99, 54.99, "preparation"), (55.0, 55.0, "start-up"), (69.99, 69.99, "start-up"),
    (70.0, 70.0, "growth"), (84.99, 84.99, "growth"), (85.0, 85.0, "mature"),
    # The band follows the score as printed (2 decimals): 84.996 is shown and banded as 85.
    (84.996, 85.0, "mature"), (84.994, 84.99, "growth"), (120.0, 100.0, "mature"),
])
def test_a_keys_score_and_band_from_one_indicator(value: float, score: float, band: str) -> None:
    card = score_keys([result(indicator("system.availability", "system", target=100.0), value)])
    ks = card.for_key("system")
    assert ks.score == score
    assert ks.band == band


def test_indicators_without_data_are_excluded_not_counted_as_zero_or_hundred() -> None:
    with_data = result(indicator("portal.a", "portal", target=100.0), 90.0)
    without = result(indicator("portal.b", "portal", target=100.0), None)
    ks = score_keys([with_data, without]).for_key("portal")
    assert ks.score == 90.0           # 45 if counted as 0, 95 if counted as 100
    assert ks.no_data == ("portal.b",)
    assert [s.id for s in ks.scored] == ["portal.a"]


def test_a_key_without_scored_indicators_has_no_score() -> None:
    card = score_keys([result(indicator("data.open_rate", "data", target=80.0), None),
                       result(indicator("data.exchanges", "data", target=None, unit="count"), 12.0)])
    ks = card.for_key("data")
    assert (ks.score, ks.band) == (None, None)
    assert ks.no_data == ("data.open_rate",)
    assert ks.no_target == ("data.exchanges",)
    assert card.for_key("infrastructure").score is None  # no indicator at all


@pytest.mark.parametrize(("value", "target", "direction", "expected"), [
    (45.0, 90.0, "higher", 0.5), (99.0, 90.0, "higher", 1.0), (-3.0, 90.0, "higher", 0.0),
    (0.0, 0.0, "higher", 1.0),
    (60.0, 30.0, "lower", 0.5), (10.0, 30.0, "lower", 1.0), (0.0, 30.0, "lower", 1.0),
    (0.0, 0.0, "lower", 1.0), (2.0, 0.0, "lower", 0.0),
])
def test_attainment(value: float, target: float, direction: str, expected: float) -> None:
    assert attainment(value, target, direction) == pytest.approx(expected)  # type: ignore[arg-type]


def test_weighted_mean_with_overrides_and_zero_weight() -> None:
    a = result(indicator("infra.a", target=100.0), 100.0)     # attains 1
    b = result(indicator("infra.b", target=100.0), 40.0)      # attains 0.4
    c = result(indicator("infra.c", target=100.0), 0.0)       # attains 0, weight 0 below
    plain = score_keys([a, b]).for_key("infrastructure")
    assert plain.score == 70.0
    weighted = score_keys([a, b, c], weights={"infra.a": 3.0, "infra.c": 0.0},
                          weights_source="w.yaml").for_key("infrastructure")
    assert weighted.score == 85.0      # (3×1 + 1×0.4) / 4
    assert weighted.zero_weight == ("infra.c",)


def test_scorecard_of_the_sample_city() -> None:
    card = score_keys(city_results())
    infra = card.for_key("infrastructure")
    # online 98.12/95 → 1; cameras 88/90; packet loss 0.5 ≤ 1 → 1
    assert infra.score == round(100 * (1 + 88 / 90 + 1) / 3, 2)
    security = card.for_key("security")
    assert security.score == 100.0 and security.no_target == ("security.data_leak_count",)
    assert card.for_key("portal").score is None
    assert card.for_key("ops").band == "growth"   # 80/95 → 84.21
    assert [ks.key for ks in card.keys] == ["infrastructure", "data", "system", "portal", "security", "ops"]


def test_weights_file(tmp_path: Path) -> None:
    f = tmp_path / "weights.yaml"
    f.write_text("infra.camera_intact_rate: 2\ninfra.packet_loss: 0.5\n")
    assert load_weights(f) == {"infra.camera_intact_rate": 2.0, "infra.packet_loss": 0.5}
    f.write_text("infra.camera_intact_rate: -1\n")
    with use_language("en"), pytest.raises(SettingsError, match="must be a number ≥ 0"):
        load_weights(f)
    with pytest.raises(SettingsError, match="权重必须是 ≥ 0 的数值"):   # zh-CN unless said
        load_weights(f)
    f.write_text("- a\n- b\n")
    with use_language("en"), pytest.raises(SettingsError, match="mapping"):
        load_weights(f)
    with pytest.raises(SettingsError, match="CITYBRAIN_SCORE_WEIGHTS_FILE"):
        load_weights(tmp_path / "missing.yaml")


def test_a_weight_for_an_unknown_indicator_is_refused() -> None:
    with use_language("en"), pytest.raises(SettingsError, match=r"no indicator infra\.camera_intact_rat in"):
        assemble_report(city_results(), WINDOW, department=None, generated_by="t", generated_at=GENERATED_AT,
                        weights={"infra.camera_intact_rat": 2.0}, weights_source="w.yaml")


def test_the_catalogues_weight_counts_unless_overridden() -> None:
    a = result(indicator("infra.a", target=100.0, weight=3.0), 100.0)
    b = result(indicator("infra.b", target=100.0), 40.0)
    assert score_keys([a, b]).for_key("infrastructure").score == 85.0                       # (3 + 0.4) / 4
    assert score_keys([a, b], weights={"infra.a": 1.0}).for_key("infrastructure").score == 70.0
    assert indicator_dict(a)["weight"] == 3.0
    assert indicator_dict(a, {"infra.a": 1.0})["weight"] == 1.0
