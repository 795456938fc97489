"""The transition table, every pair of statuses: legal ones pass, illegal ones raise and say why."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

import alerts
from alerts.incidents.lifecycle import (
    OPEN_STATUSES,
    OPEN_STATUSES_SQL,
    IllegalTransition,
    IncidentStatus,
    check,
)
from citybrain.kernel.errors import CitybrainError
from citybrain.kernel.i18n import use_language

S = IncidentStatus
# Written out by hand (not read from the table under test).
LEGAL = {
    (S.triggered, S.acknowledged),
    (S.triggered, S.resolved),        # auto-resolution, or a person resolving without ack
    (S.acknowledged, S.resolved),
    (S.resolved, S.closed),
    (S.resolved, S.triggered),        # reopen
}
PAIRS = list(itertools.product(S, S))
# How a person reads the statuses (the notifications' labels), in English.
EN = {S.triggered: "awaiting response", S.acknowledged: "acknowledged", S.resolved: "resolved",
      S.closed: "closed"}


@pytest.mark.parametrize(("current", "target"), [p for p in PAIRS if p in LEGAL])
def test_legal_transitions_pass(current: IncidentStatus, target: IncidentStatus) -> None:
    check(current, target, incident_id=1)


@pytest.mark.parametrize(("current", "target"), [p for p in PAIRS if p not in LEGAL])
def test_illegal_transitions_raise_naming_from_to_and_allowed(current: IncidentStatus,
                                                             target: IncidentStatus) -> None:
    with use_language("en"), pytest.raises(IllegalTransition) as caught:
        check(current, target, incident_id=7, action="test")
    message = str(caught.value)
    assert f"incident 7 cannot go from {EN[current]} to {EN[target]} (test)" in message
    allowed = sorted(t for c, t in LEGAL if c == current)
    if allowed:
        assert f"allowed from {EN[current]}: {', '.join(EN[t] for t in allowed)}" in message
    else:
        assert "final" in message
    assert isinstance(caught.value, CitybrainError)


def test_an_illegal_transition_is_said_in_the_current_language() -> None:
    with pytest.raises(IllegalTransition) as chinese:    # zh-CN, the default
        check(S.acknowledged, S.acknowledged, incident_id=7, action="ack")
    assert str(chinese.value) == "事件 7 无法从“已确认”变为“已确认”（确认）；“已确认”状态只能变为：已恢复"
    with use_language("en"), pytest.raises(IllegalTransition) as english:
        check(S.closed, S.triggered, incident_id=7, action="reopen")
    assert str(english.value) == ("incident 7 cannot go from closed to awaiting response (reopen); closed is"
                                  " final; a new occurrence opens a new incident")


def test_eleven_of_sixteen_pairs_are_illegal() -> None:
    assert len([p for p in PAIRS if p not in LEGAL]) == 11


def test_open_statuses_hold_the_fingerprint() -> None:
    assert {s for s in S if s.is_open} == {S.triggered, S.acknowledged}


def test_open_statuses_constant_and_its_sql_literal() -> None:
    assert set(OPEN_STATUSES) == {s for s in S if s.is_open}
    assert OPEN_STATUSES_SQL == "('triggered', 'acknowledged')"


def test_committed_sql_spells_the_open_statuses_as_the_constant() -> None:
    """Plain SQL that cannot import the constant (migrations, whose partial unique index
    is the predicate ``ON CONFLICT`` must match; indicator files read by Grafana) writes
    the literal: any ``status IN (...)`` naming an open status must be exactly it."""
    root = Path(alerts.__file__).resolve().parent.parent
    found = 0
    for path in sorted(root.glob("*/**/*.sql")):
        if ".venv" in path.parts:
            continue
        for literal in re.findall(r"status\s+IN\s+(\([^)]*\))", path.read_text()):
            if "'triggered'" in literal and "'resolved'" not in literal:
                assert literal == OPEN_STATUSES_SQL, path.name
                found += 1
    assert found >= 1  # the partial index of open incidents, at least
