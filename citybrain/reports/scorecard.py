"""The composite score per key (0–100) and its band in the national evaluation.

Scoring, per key:

* an indicator **is scored** when it has a target and a value and a weight > 0;
* its **attainment** (0–1) is ``min(1, value / target)`` when higher is better and
  ``min(1, target / value)`` when lower is better; a lower-is-better value ≤ 0 attains 1
  (nothing happened: no leak, no delay), so a count whose target is 0 (data leaks)
  attains 1 at 0 and 0 at any count above it; a higher-is-better target ≤ 0 is attained
  by any value ≥ target; attainment is never below 0 and never above 1 (beating one
  target does not make up for missing another);
* the key's **score** is ``100 × Σ weight·attainment / Σ weight`` over its scored
  indicators, rounded half-even to 2 decimals; the band is taken from the rounded
  score, so a printed 85.00 is always "mature";
* indicators **without data** (value None) are listed and excluded: never counted as 0
  or as 100. Indicators **without a target** (counts to watch) are listed, not scored.
  A key with no scored indicator has score None and no band.

Weights are the catalogue's (``Indicator.weight``, default 1), overridden per indicator
id by the YAML file named in ``CITYBRAIN_SCORE_WEIGHTS_FILE``::

    # indicator id: weight (≥ 0; 0 leaves the indicator out of its key's score)
    infra.camera_intact_rate: 2
    security.data_leak_count: 3

Bands (national evaluation): [0, 55) preparation, [55, 70) start-up, [70, 85) growth,
[85, 100] mature.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from citybrain.indicators.model import KEYS, Direction, Indicator, IndicatorResult, Key
from citybrain.kernel.errors import SettingsError
from citybrain.kernel.i18n import Catalogue
from citybrain.kernel.settings import Settings

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

Band = Literal["preparation", "start-up", "growth", "mature"]
BANDS: tuple[tuple[float, Band], ...] = ((55.0, "preparation"), (70.0, "start-up"), (85.0, "growth"))
SCORE_DECIMALS = 2


def band_for(score: float | None) -> Band | None:
    """The band of a (rounded) score; None for no score."""
    if score is None:
        return None
    for upper, band in BANDS:
        if score < upper:
            return band
    return "mature"


def attainment(value: float, target: float, direction: Direction) -> float:
    """How far a value reaches its target, 0–1 (see the module docstring)."""
    if direction == "higher":
        if target <= 0:
            return 1.0 if value >= target else 0.0
        return min(1.0, max(0.0, value / target))
    if value <= 0:
        return 1.0
    return min(1.0, max(0.0, target / value))


def weight_of(indicator: Indicator, overrides: Mapping[str, float]) -> float:
    if indicator.id in overrides:
        return overrides[indicator.id]
    return indicator.weight


@dataclass(frozen=True)
class ScoredIndicator:
    id: str
    weight: float
    attainment: float


@dataclass(frozen=True)
class KeyScore:
    key: Key
    score: float | None              # 0–100, rounded to 2 decimals; None: nothing scored
    band: Band | None
    scored: tuple[ScoredIndicator, ...]
    no_data: tuple[str, ...]         # target but no value: excluded, never 0 or 100
    no_target: tuple[str, ...]       # counts to watch: listed, not scored
    zero_weight: tuple[str, ...]     # weight 0 in the weights in force: left out


@dataclass(frozen=True)
class Scorecard:
    keys: tuple[KeyScore, ...]
    weights: tuple[tuple[str, float], ...]   # the weight in force per indicator id, sorted
    weights_source: str                      # "catalogue" or the override file's name

    def for_key(self, key: str) -> KeyScore:
        for ks in self.keys:
            if ks.key == key:
                return ks
        raise KeyError(key)


def score_keys(results: Iterable[IndicatorResult], *, weights: Mapping[str, float] | None = None,
               weights_source: str = "catalogue") -> Scorecard:
    """The scorecard of one report: one ``KeyScore`` per key, in ``KEYS`` order."""
    overrides = weights or {}
    by_key: dict[str, list[IndicatorResult]] = {k: [] for k in KEYS}
    for r in results:
        by_key.setdefault(r.indicator.key, []).append(r)
    in_force: dict[str, float] = {}
    scores: list[KeyScore] = []
    for key in KEYS:
        scored: list[ScoredIndicator] = []
        no_data: list[str] = []
        no_target: list[str] = []
        zero: list[str] = []
        for r in sorted(by_key[key], key=lambda r: r.indicator.id):
            ind = r.indicator
            w = weight_of(ind, overrides)
            in_force[ind.id] = w
            if ind.target is None:
                no_target.append(ind.id)
            elif r.figure.value is None:
                no_data.append(ind.id)
            elif w == 0:
                zero.append(ind.id)
            else:
                scored.append(ScoredIndicator(ind.id, w, attainment(r.figure.value, ind.target,
                                                                     ind.direction)))
        total = math.fsum(s.weight for s in scored)
        score = (round(100.0 * math.fsum(s.weight * s.attainment for s in scored) / total, SCORE_DECIMALS)
                 if total > 0 else None)
        scores.append(KeyScore(key, score, band_for(score), tuple(scored), tuple(no_data),
                               tuple(no_target), tuple(zero)))
    return Scorecard(tuple(scores), tuple(sorted(in_force.items())), weights_source)


def load_weights(path: Path) -> dict[str, float]:
    """Read a weights override file (indicator id → weight ≥ 0)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(_("cannot read the score weights file {path}: {error}; "
                              "check CITYBRAIN_SCORE_WEIGHTS_FILE").format(path=path, error=exc)) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(_("{path}: expected a mapping of indicator id to weight, "
                              "e.g. 'infra.camera_intact_rate: 2'").format(path=path))
    weights: dict[str, float] = {}
    for ident, w in data.items():
        if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) or w < 0:
            raise SettingsError(_("{path}: weight of {indicator} must be a number ≥ 0, got {weight}").format(
                path=path, indicator=repr(ident), weight=repr(w)))
        weights[str(ident)] = float(w)
    return weights


def weights_from_settings(settings: Settings) -> tuple[dict[str, float] | None, str]:
    """The weight overrides in force and where they come from, for ``build_report``'s
    ``weights`` / ``weights_source`` (the CLI, the API and the demo all call this)."""
    path = settings.score_weights_file
    return (None, "catalogue") if path is None else (load_weights(path), str(path))


def check_weights(weights: Mapping[str, float], known: Iterable[str], source: str) -> None:
    """A weight for an indicator the catalogue does not have is a typo: say so."""
    unknown = sorted(set(weights) - set(known))
    if unknown:
        raise SettingsError(_("{source}: no indicator {indicators} in the catalogue; "
                              "weights are keyed by indicator id, e.g. infra.camera_intact_rate").format(
            source=source, indicators=", ".join(unknown)))
