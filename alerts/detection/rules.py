"""Alert rules: the YAML format, its model, and the offline check.

A rule file holds ``rules:``, a list of::

    - id: link-packet-loss                 # unique across all files; [a-z0-9-]
      title: "Packet loss {value:.1f}% on {asset}"       # the incident's title in English
      title_zh: "链路丢包率过高：{asset}（{value:.1f}%）"   # … and in Chinese
      source: probe                        # an event family, or "state" (liveness changes)
      selector: {kinds: [link]}            # kinds / keys / tags (any of) / assets / departments
      condition: {kind: threshold, metric: packet_loss_pct, op: ">", value: 5}
      for: 5m                              # how long the condition must hold (event time)
      severity: III                        # I–IV, or "event" (a security event's own level)
      description: why this matters and what to check first

Condition kinds:

* ``threshold`` — a metric of each reading compared with a value; ``where`` filters the
  readings considered. Fires once the breach has held for ``for``; clears at the first
  reading that does not breach.
* ``consecutive`` — ``count`` consecutive readings that ``match`` (e.g. ``ok: false``).
* ``absence`` — no event matching ``where`` within ``within`` (a duration, or
  ``expected_interval``: the asset's registered cadence), × ``factor``.
* ``state`` — the asset's liveness state (offline, degraded, unknown) from the state-
  change topic; clears when the asset is up again (``unknown`` neither fires nor clears).
* ``event`` — each matching event (``count`` of them within ``within``, per asset and
  ``group_by`` fields); never clears by itself: a person resolves it.

**Titles.** Detection writes each alert's title in the platform's language
(``Settings.language``): ``title_zh`` for zh-CN, ``title`` for en; an incident keeps the
title it opened with, whatever the language later. A rule gives
both or one of them (a site's own rule may be written in one language only; that title is
then used whatever the language); the packaged rules give both. The placeholders are
``{asset}`` (the registry's name in that language, the id where none is registered),
``{asset_id}``, ``{department}`` (its name), ``{value}``, ``{threshold}``, ``{metric}``,
``{state}``, ``{reason}``, ``{level}``, ``{category}``, ``{title}`` (a security event's
own), ``{count}`` and ``{rule}``; states, reasons and categories come in words of the same
language (``alerts.detection.wording``), ids, levels and numbers as they are. When a rule
gives both titles they must name the same placeholders: the two languages say the same
facts.

``outage: true`` marks rules that say "the asset is down": their alerts take part in
storm collapse and inhibition through the registry's topology (alerts/detection/collapse.py).

``citybrain rules check [FILES]`` validates files offline and names file, rule and
field for every problem in them.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)

from alerts.detection.readings import Match, metrics
from alerts.detection.topology import AssetInfo
from alerts.model import Severity
from citybrain.kernel.errors import CitybrainError
from citybrain.kernel.i18n import N_, Catalogue, Language
from citybrain.kernel.settings import FAMILIES
from schemas.events import MODELS
from schemas.registry import AssetKind, Key

# What a rule file's problems say is in the current language (``use_language``: the
# CLI's command); files, rules, fields and values are named as written.
MESSAGES = Catalogue.of_package(__name__)          # alerts/locale
_ = MESSAGES.current

SOURCES: tuple[str, ...] = (*FAMILIES, "state")
# The liveness states (streams.liveness.State) a ``state`` rule may watch, spelled out so
# that a rule file's error names them as written; tests check they are State values.
StateName = Literal["offline", "degraded", "unknown"]
Op = Literal[">", ">=", "<", "<=", "==", "!="]

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(value: object) -> object:
    """``90s``, ``5m``, ``1h30m``, ``2d`` or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError(_("a duration like 30s, 5m, 1h or 1d"))
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(_("must not be negative"))
        return timedelta(seconds=value)
    if isinstance(value, str):
        m = _DURATION.match(value.strip())
        if m is None or not any(m.groups()):
            raise ValueError(_("{value} is not a duration like 30s, 5m, 1h30m or 1d").format(
                value=repr(value)))
        d, h, mi, s = (int(g or 0) for g in m.groups())
        return timedelta(days=d, hours=h, minutes=mi, seconds=s)
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Selector(_Strict):
    kinds: tuple[AssetKind, ...] = ()
    keys: tuple[Key, ...] = ()
    tags: tuple[str, ...] = Field(default=(), description="any of these tags")
    assets: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()

    @property
    def needs_registry(self) -> bool:
        return bool(self.kinds or self.keys or self.tags or self.departments)

    def matches(self, asset_id: str, asset: AssetInfo | None) -> bool:
        if self.assets and asset_id not in self.assets:
            return False
        if not self.needs_registry:
            return True
        if asset is None:  # an unregistered asset has no kind, key, tags or department
            return False
        return ((not self.kinds or asset.kind in self.kinds)
                and (not self.keys or asset.key in self.keys)
                and (not self.tags or any(t in asset.tags for t in self.tags))
                and (not self.departments or asset.department_id in self.departments))


class Threshold(_Strict):
    kind: Literal["threshold"]
    metric: str
    op: Op
    value: float
    where: Match = Field(default_factory=dict)


class Consecutive(_Strict):
    kind: Literal["consecutive"]
    match: Match = Field(min_length=1)
    count: int = Field(ge=2, le=1000)
    where: Match = Field(default_factory=dict)


class Absence(_Strict):
    kind: Literal["absence"]
    within: Duration | Literal["expected_interval"]
    factor: float = Field(default=1.0, gt=0)
    where: Match = Field(default_factory=dict)


class StateIs(_Strict):
    kind: Literal["state"]
    states: tuple[StateName, ...] = Field(min_length=1)


class EventMatch(_Strict):
    kind: Literal["event"]
    where: Match = Field(default_factory=dict)
    count: int = Field(default=1, ge=1, le=100_000)
    within: Duration | None = None
    group_by: tuple[str, ...] = ()


Condition = Annotated[Threshold | Consecutive | Absence | StateIs | EventMatch, Field(discriminator="kind")]
CONDITION_KINDS: tuple[str, ...] = ("threshold", "consecutive", "absence", "state", "event")


class Rule(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    # English and Chinese; at least one (semantic_problems), both in the packaged rules.
    title: str | None = Field(default=None, min_length=1, max_length=300)
    title_zh: str | None = Field(default=None, min_length=1, max_length=300)
    source: Literal["iot", "video", "cloud", "security", "probe", "data", "state"]
    selector: Selector = Selector()
    condition: Condition
    for_: Duration = Field(default=timedelta(0), alias="for")
    severity: Severity | Literal["event"]
    description: str = Field(min_length=1)
    key: Key | None = None
    outage: bool = False

    def title_in(self, language: Language) -> str:
        """The title template in ``language``; a rule written in one language only uses
        its one title in both (a title in the other language beats none)."""
        first, other = (self.title_zh, self.title) if language == "zh-CN" else (self.title, self.title_zh)
        return first or other or self.id

    def severity_for(self, level: str | None) -> Severity:
        if self.severity == "event":
            return Severity(level) if level is not None and level in Severity.__members__ else Severity.IV
        return Severity(self.severity)


# --- titles -----------------------------------------------------------------------------

PLACEHOLDERS = frozenset({"asset", "asset_id", "value", "threshold", "metric", "state", "reason",
                          "level", "category", "title", "count", "rule", "department"})


def render_title(template: str, values: dict[str, Any]) -> str:
    class _Missing(dict[str, Any]):
        def __missing__(self, key: str) -> str:
            return "?"
    try:
        return template.format_map(_Missing(values))
    except (ValueError, TypeError):  # a format spec that does not fit the value (None)
        return template


# --- checks beyond the schema --------------------------------------------------------------

def _where_problems(family: str, where: Match, field: str) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    fields = MODELS[family].model_fields
    for name, wanted in where.items():
        info = fields.get(name)
        if info is None or name in ("schema_version", "event_id"):
            known = ", ".join(sorted(n for n in fields if n not in ("schema_version", "event_id")))
            problems.append((f"{field}.{name}", _("no field {name} in {family} events (fields: {known})")
                             .format(name=repr(name), family=family, known=known)))
            continue
        annotation = info.annotation
        if annotation is None:
            continue
        origin_args = get_args(annotation)
        if origin_args and getattr(annotation, "__origin__", None) is tuple:
            annotation = origin_args[0]  # a tuple field matches any of its items
        adapter: TypeAdapter[Any] = TypeAdapter(annotation)
        for value in wanted if isinstance(wanted, list) else [wanted]:
            try:
                adapter.validate_python(value, strict=True)
            except ValidationError as exc:
                msg = exc.errors()[0]["msg"]
                problems.append((f"{field}.{name}", _("{value} is not a valid {name} ({error})").format(
                    value=repr(value), name=name, error=msg)))
    return problems


def semantic_problems(rule: Rule) -> list[tuple[str, str]]:
    """What the schema cannot see: condition vs source, metric and field names, titles."""
    problems: list[tuple[str, str]] = []
    cond = rule.condition
    if rule.source == "state":
        if not isinstance(cond, StateIs):
            problems.append(("condition.kind", _("source state takes condition kind state, not {kind}")
                             .format(kind=cond.kind)))
    elif isinstance(cond, StateIs):
        problems.append(("source", _("condition kind state needs source: state")))
    if rule.source != "state":
        family = rule.source
        if isinstance(cond, Threshold) and cond.metric not in metrics(family):
            problems.append(("condition.metric", _("unknown metric {metric} for {family} (known: {known})")
                             .format(metric=repr(cond.metric), family=family,
                                     known=", ".join(metrics(family)))))
        if isinstance(cond, Threshold | Consecutive | Absence | EventMatch):
            problems += _where_problems(family, cond.where, "condition.where")
        if isinstance(cond, Consecutive):
            problems += _where_problems(family, cond.match, "condition.match")
        if isinstance(cond, EventMatch):
            fields = MODELS[family].model_fields
            problems += [("condition.group_by", _("no field {name} in {family} events").format(
                name=repr(g), family=family)) for g in cond.group_by if g not in fields]
    if rule.severity == "event" and rule.source != "security":
        problems.append(("severity", _("severity event (the event's own level) is only for source security")))
    if isinstance(cond, EventMatch | Absence) and rule.for_:
        said = (N_("a {kind} condition takes no for; use count and within") if isinstance(cond, EventMatch)
                else N_("a {kind} condition takes no for; use within (and factor)"))
        problems.append(("for", _(said).format(kind=cond.kind)))
    if isinstance(cond, EventMatch) and cond.count > 1 and cond.within is None:
        problems.append(("condition.within", _("count above 1 needs within (e.g. 1h)")))
    if rule.outage and not isinstance(cond, StateIs | Consecutive):
        problems.append(("outage", _("only state and consecutive conditions can say an asset is down")))
    return problems + _title_problems(rule)


TITLES = ("title", "title_zh")


def _title_problems(rule: Rule) -> list[tuple[str, str]]:
    templates = {f: t for f, t in zip(TITLES, (rule.title, rule.title_zh), strict=True) if t is not None}
    if not templates:
        return [("title", _("no title: give title (English), title_zh (Chinese) or both"))]
    problems: list[tuple[str, str]] = []
    named: dict[str, set[str]] = {}
    for field, template in templates.items():
        try:
            names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
        except ValueError as exc:
            problems.append((field, _("bad template: {error}").format(error=exc)))
            continue
        unknown = sorted(n for n in names if n.split(".")[0].split("[")[0] not in PLACEHOLDERS)
        if unknown:
            known = ", ".join(sorted(PLACEHOLDERS))
            problems.append((field, _("unknown placeholders {unknown}; use {known}").format(
                unknown=unknown, known=known)))
            continue
        named[field] = {n.split(".")[0].split("[")[0] for n in names}
    if len(named) == 2 and named["title"] != named["title_zh"]:
        # A reader of either language is told the same facts (an operator switching the
        # platform's language must not lose the reason or the value from the title).
        zh, en = (", ".join(sorted(named[f])) for f in ("title_zh", "title"))
        problems.append(("title_zh", _("names {{{zh}}} but title names {{{en}}}: give both the same "
                                       "placeholders").format(zh=zh, en=en)))
    return problems


def _missing_title(rule: Rule) -> tuple[str, str] | None:
    """The packaged rules speak both of the platform's languages."""
    for field, value, said in (
            ("title", rule.title, N_("missing: the packaged rules give both title (English) and title_zh "
                                     "(Chinese), and this one has no English title")),
            ("title_zh", rule.title_zh, N_("missing: the packaged rules give both title (English) and "
                                           "title_zh (Chinese), and this one has no Chinese title"))):
        if value is None:
            return (field, _(said))
    return None


# --- files ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    file: str
    rule: str | None
    field: str
    message: str

    def __str__(self) -> str:
        if self.rule:
            return _("{file}: rule {rule}: {field}: {message}").format(
                file=self.file, rule=self.rule, field=self.field, message=self.message)
        return _("{file}: {field}: {message}").format(file=self.file, field=self.field, message=self.message)


class RuleError(CitybrainError):
    """Rule files with problems; the message lists every one (file, rule, field)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        shown = "\n  ".join(str(p) for p in self.problems)
        super().__init__(_("{count} problem(s) in the alert rules (check with `citybrain rules check`):")
                         .format(count=len(self.problems)) + f"\n  {shown}")


def packaged_rules_dir() -> Path:
    return Path(str(resources.files("alerts") / "rules"))


def is_packaged(path: Path) -> bool:
    """A file of the packaged rules (which must give both titles), not a site's own."""
    return path.resolve().parent == packaged_rules_dir().resolve()


def rule_files(path: Path | None) -> list[Path]:
    """A folder's ``*.yaml``/``*.yml`` files (sorted), one file, or the packaged rules."""
    root = path if path is not None else packaged_rules_dir()
    if root.is_dir():
        return sorted(p for p in root.iterdir() if p.suffix in (".yaml", ".yml"))
    return [root]


def _loc(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc]
    # A discriminated union puts the tag in the path (condition.threshold.metric): drop it.
    if len(parts) > 1 and parts[0] == "condition" and parts[1] in CONDITION_KINDS:
        del parts[1]
    # A plain union names each alternative (severity.literal['event']): the field is enough.
    parts = [p for p in parts if "[" not in p]
    return ".".join(parts) or "(rule)"


# Fields a rule may leave out: when only these fail the schema, the rule is checked
# again without them, so their problems and the rest's are reported in one run.
_OPTIONAL = frozenset(name for name, f in Rule.model_fields.items() if not f.is_required()) | {"for"}


def _validate(entry: object, label: str, name: str) -> tuple[Rule | None, list[Problem]]:
    try:
        rule = Rule.model_validate(entry)
    except ValidationError as exc:
        merged: dict[str, list[str]] = {}
        for e in exc.errors(include_url=False):
            merged.setdefault(_loc(e["loc"]), []).append(e["msg"])
        problems = [Problem(name, label, f, " or ".join(dict.fromkeys(m))) for f, m in merged.items()]
        failed = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
        if isinstance(entry, dict) and failed and failed <= _OPTIONAL:
            rest, _ = _validate({k: v for k, v in entry.items() if k not in failed}, label, name)
            # The two titles are one question (is there a title, do they agree): when
            # either failed the schema, the other's check would only repeat it.
            hidden = failed | (set(TITLES) if failed & set(TITLES) else set())
            if rest is not None:
                problems += [Problem(name, label, f, m) for f, m in semantic_problems(rest)
                             if f.split(".")[0] not in hidden]
        return None, problems
    return rule, []


def check_text(text: str, name: str, first: dict[str, str] | None = None, *,
               both_titles: bool = False) -> tuple[list[Rule], list[Problem]]:
    """Every valid rule and every problem of one file; ``first`` maps ids already seen
    (in this or earlier files) to where, so an id used twice is a problem too.
    ``both_titles``: every rule must give title and title_zh (the packaged rules)."""
    first = {} if first is None else first
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        error = getattr(exc, "problem", None) or exc
        said = (_("not valid YAML at line {line}, column {column}: {error}").format(
                    line=mark.line + 1, column=mark.column + 1, error=error) if mark is not None
                else _("not valid YAML: {error}").format(error=error))
        return [], [Problem(name, None, "(file)", said)]
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        return [], [Problem(name, None, "rules", _("the file must hold a mapping with a `rules:` list"))]
    unknown = sorted(set(doc) - {"rules"})
    problems = [Problem(name, None, k, _("unknown top-level key (only `rules:`)")) for k in unknown]
    rules: list[Rule] = []
    for index, entry in enumerate(doc["rules"]):
        has_id = isinstance(entry, dict) and isinstance(entry.get("id"), str)
        label = str(entry["id"]) if has_id else f"#{index + 1}"
        duplicate = has_id and label in first
        if duplicate:
            problems.append(Problem(name, label, "id", _("already defined in {where}").format(
                where=first[label])))
        elif has_id:
            first[label] = _("{file} (rule #{number})").format(file=name, number=index + 1)
        rule, bad = _validate(entry, label, name)
        if rule is None:
            problems += bad
            continue
        found = semantic_problems(rule)
        if both_titles and (missing := _missing_title(rule)) is not None:
            found.append(missing)
        problems += [Problem(name, label, f, m) for f, m in found]
        if not found and not duplicate:
            rules.append(rule)
    return rules, problems


def check_files(paths: Iterable[Path]) -> tuple[list[Rule], list[Problem]]:
    """Every rule and every problem of the files, including ids used twice."""
    rules: list[Rule] = []
    problems: list[Problem] = []
    first: dict[str, str] = {}
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            problems.append(Problem(str(path), None, "(file)", _("cannot read: {error}").format(
                error=exc.strerror or exc)))
            continue
        found, bad = check_text(text, str(path), first, both_titles=is_packaged(path))
        rules += found
        problems += bad
    return rules, problems


def load_rules(path: Path | None = None) -> list[Rule]:
    """The rules to evaluate; raises RuleError listing every problem."""
    files = rule_files(path)
    if not files:
        raise RuleError([Problem(str(path), None, "(folder)", _("no *.yaml rule files"))])
    rules, problems = check_files(files)
    if problems:
        raise RuleError(problems)
    return rules
