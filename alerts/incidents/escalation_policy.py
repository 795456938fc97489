"""Escalation policies: the per-department ladder, where it comes from, admin edits.

A policy is a list of steps (``after_minutes`` since opening, the roles to ``notify``,
whether the step records the response breach) and the department's group channels.
Policies come from, in order: the department's policy an admin stored through the API
(table ``escalation_policies``, every edit audited), ``alerts/policies/<department_id>.yaml``,
then ``alerts/policies/default.yaml`` (or ``CITYBRAIN_ESCALATION_POLICY_DIR`` instead of
the packaged folder). ``policy_for`` picks one when an incident opens, and its snapshot
is frozen onto the incident.

A department's policy that does not validate (say ``after_minutes: 1e300``, which no
clock can add) is refused wherever it is read: the API answers 422, ``problems`` lists it
when the alerter starts, and an incident of that department opens with the default
ladder instead, its timeline saying why — one bad policy never leaves an incident
without pages. A refusal says why in the current language (``use_language``: the API's
request; the alerter reads policies in English, for its log and the timeline); the
field-level messages of pydantic's own checks stay as pydantic writes them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

import psycopg
import yaml
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from alerts.incidents import disclosure
from citybrain.kernel import audit
from citybrain.kernel.errors import CitybrainError
from citybrain.kernel.i18n import Catalogue
from citybrain.kernel.settings import Settings

MESSAGES = Catalogue.of_package(__name__)          # alerts/locale
_ = MESSAGES.current

Connection = psycopg.Connection[Any]
Target = Literal["oncall", "lead", "first_responsible", "duty_supervisor", "group"]
Channel = Literal["webhook", "wecom", "dingtalk", "feishu", "email"]
# A month: past every resolution deadline, so a larger value is a typo, and one a clock
# cannot add (datetime overflows) would fail the incident's escalation at run time.
MAX_AFTER_MINUTES = 30 * 24 * 60
# A ladder longer than this, or more group channels, is a generated or pasted mistake
# (the default has 4 steps); each step is evaluated every escalation tick, each channel
# paged per step, so both stay small.
MAX_STEPS = 20
MAX_GROUPS = 50


class PolicyError(CitybrainError):
    """An escalation policy that cannot be used (malformed YAML, bad steps)."""


class GroupChannel(BaseModel):
    """A department group's robot or webhook (WeCom, DingTalk, Feishu, any JSON webhook)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=200)
    channel: Channel
    address: str = Field(min_length=3, max_length=2000)


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    after_minutes: float = Field(ge=0, description="minutes after opening (or reopening)")
    notify: tuple[Target, ...] = Field(min_length=1, max_length=len(get_args(Target)))
    record_breach: bool = Field(default=False, description="record the response breach at this step")

    @field_validator("after_minutes")
    @classmethod
    def _bounded(cls, value: float) -> float:
        if not math.isfinite(value) or value > MAX_AFTER_MINUTES:
            raise ValueError(_("after_minutes must be a number of minutes from 0 to {most} (30 days), "
                               "got {value}").format(most=MAX_AFTER_MINUTES, value=f"{value:g}"))
        return value


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=200)
    steps: tuple[Step, ...] = Field(min_length=1, max_length=MAX_STEPS)
    groups: tuple[GroupChannel, ...] = Field(default=(), max_length=MAX_GROUPS)

    @model_validator(mode="after")
    def _ordered(self) -> Policy:
        times = [s.after_minutes for s in self.steps]
        if any(b <= a for a, b in itertools.pairwise(times)):
            raise ValueError(_("steps must be in strictly increasing after_minutes order, got {times}")
                             .format(times=times))
        return self


@dataclass(frozen=True)
class FrozenPolicy:
    policy: Policy
    source: str          # "database", "<dept>.yaml" or "default.yaml"
    refused: str | None = None   # the department's own policy, refused: why (the default stands in)

    def snapshot(self) -> dict[str, Any]:
        """What is stored on the incident: the policy and where it came from."""
        return {"source": self.source, **self.policy.model_dump(mode="json")}


def _validate(data: object, invalid: Callable[[str], str]) -> Policy:
    """The policy, or a PolicyError saying ``invalid(problems)``: where the policy came
    from, in a sentence of the current language."""
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'policy'}: {e['msg']}"
                             for e in exc.errors())
        raise PolicyError(invalid(problems)) from exc


def _invalid_request(problems: str) -> str:
    return _("escalation policy (request) is invalid: {problems}").format(problems=problems)


def _invalid_file(name: str) -> Callable[[str], str]:
    return lambda problems: _("escalation policy {name} is invalid: {problems}").format(
        name=name, problems=problems)


def parse_policy(data: object) -> Policy:
    """A policy sent to the API."""
    return _validate(data, _invalid_request)


def with_stored_addresses(conn: Connection, department_id: str, policy: Policy,
                          settings: Settings) -> Policy:
    """``policy`` with each redacted group address (as the API shows it) replaced by the
    full one the department's current policy holds: a webhook credential is entered once
    and an admin edits the policy it read without ever seeing it."""
    if not any(disclosure.is_redacted(g.address) for g in policy.groups):
        return policy
    try:
        current = policy_for(conn, department_id, settings).policy.groups
    except PolicyError:
        current = ()
    addresses, problems = disclosure.keep_stored_addresses(
        ((g.channel, g.address) for g in policy.groups), ((g.channel, g.address) for g in current))
    if problems:
        raise PolicyError(_invalid_request("; ".join(problems)))
    groups = tuple(g.model_copy(update={"address": a}) for g, a in zip(policy.groups, addresses, strict=True))
    return policy.model_copy(update={"groups": groups})


def _policy_file(settings: Settings, name: str) -> str | None:
    if settings.escalation_policy_dir is not None:
        path = Path(settings.escalation_policy_dir) / name
        return path.read_text(encoding="utf-8") if path.is_file() else None
    entry = resources.files("alerts") / "policies" / name
    return entry.read_text(encoding="utf-8") if entry.is_file() else None


def _from_yaml(text: str, name: str) -> Policy:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(_("escalation policy {name} is not valid YAML: {error}").format(
            name=name, error=exc)) from exc
    return _validate(data, _invalid_file(name))


def _own_policy(conn: Connection, department_id: str, settings: Settings) -> FrozenPolicy | None:
    row = conn.execute("SELECT policy FROM escalation_policies WHERE department_id = %s",
                       (department_id,)).fetchone()
    if row is not None:
        return FrozenPolicy(_validate(row[0], lambda problems: _(
            "escalation policy of {department} (database) is invalid: {problems}").format(
                department=department_id, problems=problems)), "database")
    # Department ids are registry identifiers ([A-Za-z0-9._:/-]); a path separator
    # would read outside the folder, so such ids only get the default.
    if "/" not in department_id and not department_id.startswith("."):
        name = f"{department_id}.yaml"
        text = _policy_file(settings, name)
        if text is not None:
            return FrozenPolicy(_from_yaml(text, name), name)
    return None


def policy_for(conn: Connection, department_id: str | None, settings: Settings) -> FrozenPolicy:
    """The policy an incident of this department opens with: its own, or the default
    (also when its own is refused: ``refused`` says why)."""
    refused = None
    if department_id is not None:
        try:
            own = _own_policy(conn, department_id, settings)
        except PolicyError as exc:
            refused = str(exc)
        else:
            if own is not None:
                return own
    default = _default_policy(settings)
    return replace(default, refused=refused) if refused else default


def problems(conn: Connection, settings: Settings) -> list[str]:
    """Every stored or packaged policy that would be refused, one message each."""
    found = []
    for (department_id,) in conn.execute("SELECT department_id FROM departments ORDER BY 1").fetchall():
        try:
            _own_policy(conn, department_id, settings)
        except PolicyError as exc:
            found.append(str(exc))
    try:
        _default_policy(settings)
    except PolicyError as exc:
        found.append(str(exc))
    return found


def _default_policy(settings: Settings) -> FrozenPolicy:
    text = _policy_file(settings, "default.yaml")
    if text is None:
        raise PolicyError(_("no default escalation policy (default.yaml) in {folder}; restore it").format(
            folder=settings.escalation_policy_dir or "alerts/policies"))
    return FrozenPolicy(_from_yaml(text, "default.yaml"), "default.yaml")


def replace_policy(conn: Connection, department_id: str, policy: Policy, actor: audit.Actor, *,
                   now: datetime) -> None:
    """Store a department's policy (admin, through the API) with its audit entry."""
    with conn.transaction():
        known = conn.execute("SELECT 1 FROM departments WHERE department_id = %s",
                             (department_id,)).fetchone()
        if known is None:
            raise PolicyError(_("unknown department {department}; import the registry first").format(
                department=repr(department_id)))
        conn.execute(
            "INSERT INTO escalation_policies (department_id, policy, updated_at, updated_by)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (department_id) DO UPDATE SET"
            " policy = EXCLUDED.policy, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by",
            (department_id, Jsonb(policy.model_dump(mode="json")), now, actor.id),
        )
        # The audit entry keeps what changed, not the robots' credentials.
        audit.record(conn, actor, "escalation_policy.replace", department_id,
                     disclosure.policy_shown(policy.model_dump(mode="json"), contacts=True), at=now)


def remove_policy(conn: Connection, department_id: str, actor: audit.Actor, *, now: datetime) -> bool:
    """Drop a stored policy: the department falls back to its YAML file or the default."""
    with conn.transaction():
        cur = conn.execute("DELETE FROM escalation_policies WHERE department_id = %s", (department_id,))
        if cur.rowcount:
            audit.record(conn, actor, "escalation_policy.remove", department_id, at=now)
    return bool(cur.rowcount)
