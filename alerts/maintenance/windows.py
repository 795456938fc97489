"""Maintenance windows and silences: validated, stored with their audit entry, expanded.

* A **maintenance** window is planned work: detection raises no alert for assets in its
  scope while it runs (no incident), and the availability indicators read its periods
  as planned downtime. A **silence** keeps incidents but suppresses their notifications.
  The escalation loop asks before every page whether either covers the incident
  (``alerts.maintenance.muter``): one already open when planned work began does not page
  through it.
* Scope: ``all``, or one ``asset``, ``department``, ``district`` or ``tag``.
* One-off, or recurring with an RFC 5545 RRULE expanded in the window's IANA time zone:
  a daily 02:00–04:00 Europe/Berlin window stays 02:00–04:00 local across DST (its UTC
  instants move, and on the change days it lasts 1 h or 3 h of real time, as the wall
  clock says). A local start that does not exist (the spring-forward hour) is read with
  the offset before the change, i.e. it starts when the clocks jump.
* Expansion into ``maintenance_periods`` (absolute UTC, what SQL reads and what the
  alerter holds alerts by) up to ``until_at`` or, for open-ended windows,
  ``maintenance_horizon_days`` ahead. The alerter calls ``extend_horizon`` at start and
  every hour, so an open-ended window always has a horizon of periods ahead;
  ``citybrain maintenance extend`` does the same.
* **Maintenance and the past** (the README's "Rules an evaluator can check"): a window
  counts from the moment it was recorded (``created_at``, the server's clock): its
  periods are its occurrences cut at ``created_at`` — an occurrence running at creation
  counts from then, earlier ones not at all (``counted_periods``). The declared times stay
  on the window and are shown (``MaintenanceWindow.counts_from`` says where counting starts). The
  exception is a **retroactive** window: an admin approves, with a reason, that its
  declared past counts too — at creation (``retroactive_reason``) or later
  (``approve_retroactive``); the approval is kept on the window and audited
  (``maintenance.retroactive``) in the same transaction, and reports list such windows
  (``retroactive_in``). A window with no time after its creation is refused unless it is
  retroactive. Holding alerts is about the present and reads the same periods: from its
  creation on, a window holds alerts as before.
* Removal is soft (``removed_at``/``removed_by``): the periods that already happened stay
  (they were real planned downtime), future ones are deleted and a running one is cut
  at the moment of removal. Every add and remove writes its audit entry in the same
  transaction.

A refusal names each field at fault (the API's field names) and says what is wrong in
the current language (``use_language``: the CLI's command, the API's request); what is
logged (a window the horizon's extension skips) stays English.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import MAXYEAR, UTC, datetime, timedelta
from math import gcd
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from dateutil.rrule import rrule, rrulestr

from citybrain.kernel import audit
from citybrain.kernel.errors import CitybrainError, StoreError
from citybrain.kernel.i18n import N_, Catalogue, use_language

MESSAGES = Catalogue.of_package(__name__)          # alerts/locale
_ = MESSAGES.current

Connection = psycopg.Connection[Any]
log = logging.getLogger(__name__)
Kind = Literal["maintenance", "silence"]
Scope = Literal["all", "asset", "department", "district", "tag"]
KINDS: tuple[str, ...] = get_args(Kind)
SCOPES: tuple[str, ...] = get_args(Scope)

# A recurrence that yields more periods than this within the horizon is refused: it is
# almost certainly a mistake and would bloat the periods table.
MAX_OCCURRENCES = 20_000
# Bounded expansion: what one expansion may compute (periods before the ones it returns
# included) — about 0.15 s of rule evaluation — and the closest two starts may be (planned
# work that recurs more often than hourly is an outage). FREQ=SECONDLY and MINUTELY are
# refused outright, as is BYEASTER (not RFC 5545). See ``occurrences``.
MAX_COMPUTED = 50_000
MIN_SPACING = timedelta(hours=1)
# Stored text: a reason is a sentence or two, not a document; ids and rules are short.
MAX_REASON_CHARS = 2000
MAX_TARGET_CHARS = 200
MAX_RULE_CHARS = 500
# Times a window may have: no planned work lies outside, and staying far from the
# calendar's ends (years 1 and 9999) keeps a zone's offset or a period's length from
# overflowing.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


class MaintenanceError(CitybrainError):
    """A window that cannot be created or removed as asked; names the fields at fault."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{f}: {m}" for f, m in self.problems))


class WindowNotFound(MaintenanceError):
    """No such window (or it was removed already)."""


@dataclass(frozen=True)
class WindowSpec:
    """A validated window: aware UTC instants, a normalised RRULE (or None)."""

    kind: Kind
    scope: Scope
    target: str | None
    starts_at: datetime
    ends_at: datetime
    timezone: str
    reason: str
    recurrence: str | None = None
    until_at: datetime | None = None


@dataclass(frozen=True)
class MaintenanceWindow:
    """A stored maintenance window or silence (``kind``), with its recurrence and who made it."""

    window_id: int
    kind: str
    scope: str
    target: str | None
    starts_at: datetime
    ends_at: datetime
    recurrence: str | None
    until_at: datetime | None
    timezone: str
    reason: str
    created_by: str
    created_at: datetime
    removed_at: datetime | None
    removed_by: str | None
    retroactive_by: str | None = None    # the admin who approved counting its past, if any
    retroactive_at: datetime | None = None
    retroactive_reason: str | None = None
    next_start: datetime | None = None   # the next (or current) period, if any
    next_end: datetime | None = None

    @property
    def counts_from(self) -> datetime:
        """Where the window's time starts to count: its declared start if it is retroactive
        or was recorded before it began, else the moment it was recorded."""
        return self.starts_at if self.retroactive_by else max(self.starts_at, self.created_at)

    def as_dict(self) -> dict[str, Any]:
        out = {**asdict(self), "counts_from": self.counts_from}
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in out.items()}


# --- validation ------------------------------------------------------------------------

def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise MaintenanceError([("timezone", _("unknown IANA time zone {name} (e.g. Asia/Shanghai, "
                                               "Europe/Berlin)").format(name=repr(name)))]) from exc


def parse_time(value: str | datetime, tz: ZoneInfo) -> datetime:
    """An ISO 8601 instant; without an offset it is wall-clock time in ``tz``. Raises
    ValueError, also for one outside 1970–2199."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value.strip())
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        moment = moment.replace(tzinfo=tz)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:   # year 1 or 9999 moved by the zone's offset
        moment = LATEST if moment.year > 2000 else EARLIEST - timedelta(days=1)
    if not EARLIEST <= moment < LATEST:
        raise ValueError(_("outside {earliest} to {latest}").format(earliest=f"{EARLIEST:%Y-%m-%d}",
                                                                     latest=f"{LATEST:%Y-%m-%d}"))
    return moment


def normalise_rrule(text: str) -> str:
    """One RRULE line without its ``RRULE:`` prefix; DTSTART comes from starts_at and the
    end from until_at, so neither may be written inside the rule."""
    rule = text.strip()
    if rule.upper().startswith("RRULE:"):
        rule = rule[len("RRULE:"):]
    if not rule:
        raise ValueError(_("empty RRULE"))
    if "\n" in rule or ":" in rule:
        raise ValueError(_("give one RRULE (e.g. FREQ=WEEKLY;BYDAY=SU), without DTSTART, RDATE or EXDATE"))
    parts = {p.split("=", 1)[0].upper() for p in rule.split(";") if p}
    if "UNTIL" in parts:
        raise ValueError(_("UNTIL is not accepted inside the RRULE; give the last start as until "
                           "(until_at) instead"))
    if "DTSTART" in parts:
        raise ValueError(_("DTSTART comes from starts_at; remove it from the RRULE"))
    if parts & {"FREQ"} != {"FREQ"}:
        raise ValueError(_("the RRULE needs FREQ (e.g. FREQ=DAILY)"))
    if "BYEASTER" in parts:
        raise ValueError(_("BYEASTER is not RFC 5545; give the dates another way"))
    fields = _rule_parts(rule)
    if fields.get("FREQ") in ("SECONDLY", "MINUTELY"):
        raise ValueError(_("FREQ={freq}: a maintenance window recurs at most hourly (FREQ=HOURLY, "
                           "DAILY, WEEKLY, MONTHLY or YEARLY)").format(freq=fields["FREQ"]))
    for name, most in (("INTERVAL", 1000), ("COUNT", MAX_OCCURRENCES)):
        value = fields.get(name)
        if value is not None and not (value.isdigit() and 1 <= int(value) <= most):
            raise ValueError(_("{name} must be a whole number from 1 to {most}, got {value}").format(
                name=name, most=most, value=repr(value[:20])))
    if fields.get("FREQ") == "HOURLY" and 24 % int(fields.get("INTERVAL", "1")):
        # A divisor of a day keeps the rule's evaluation bounded (see occurrences).
        raise ValueError(_("FREQ=HOURLY takes INTERVAL 1, 2, 3, 4, 6, 8, 12 or 24; use FREQ=DAILY for more"))
    for name, (low, high) in _RANGES.items():   # RFC 5545's ranges; the evaluator trusts them
        for item in filter(None, fields.get(name, "").split(",")):
            number = item.lstrip("+-")
            if name == "BYDAY":
                number = number.rstrip("MOTUWEHFRSA") or "1"
            if not number.isdigit() or not low <= int(number) <= high or (low > 0 and int(number) == 0):
                sign = "±" if name in _SIGNED else ""
                raise ValueError(_("{name} takes {sign}{low}–{high}, got {item}").format(
                    name=name, sign=sign, low=low, high=high, item=repr(item[:20])))
    return rule


_RANGES = {"BYSECOND": (0, 60), "BYMINUTE": (0, 59), "BYHOUR": (0, 23), "BYMONTH": (1, 12),
           "BYMONTHDAY": (1, 31), "BYYEARDAY": (1, 366), "BYWEEKNO": (1, 53), "BYSETPOS": (1, 366),
           "BYDAY": (1, 53)}
_SIGNED = {"BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYSETPOS", "BYDAY"}


def _rule_parts(rule: str) -> dict[str, str]:
    return {k.strip().upper(): v.strip().upper()
            for k, _, v in (p.partition("=") for p in rule.split(";") if p)}


def _parse_rrule(rule: str, local_start: datetime) -> rrule:
    parsed = rrulestr(rule, dtstart=local_start)
    if not isinstance(parsed, rrule):  # a set (several rules) is refused by normalise_rrule
        raise ValueError(_("give exactly one RRULE"))
    return parsed


def make_spec(*, kind: str, scope: str, target: str | None, starts_at: str | datetime,
              ends_at: str | datetime, timezone: str, reason: str, recurrence: str | None = None,
              until: str | datetime | None = None) -> WindowSpec:
    """Validate a request; every problem is reported at once, each naming its field."""
    problems: list[tuple[str, str]] = []

    def one_of(choices: tuple[str, ...], value: str) -> str:
        return _("must be one of {choices}, got {value}").format(choices=", ".join(choices),
                                                                  value=repr(value))

    def at_most(most: int, text: str) -> str:
        return _("at most {most} characters, got {count}").format(most=most, count=len(text))

    if kind not in KINDS:
        problems.append(("kind", one_of(KINDS, kind)))
    if scope not in SCOPES:
        problems.append(("scope", one_of(SCOPES, scope)))
    elif scope == "all" and target:
        problems.append(("target", _("scope all takes no target")))
    elif scope != "all" and not target:
        problems.append(("target", _("scope {scope} needs a target ({scope} id)").format(scope=scope)))
    if not reason or not reason.strip():
        problems.append(("reason", _("say why (it is shown to operators and in the audit log)")))
    elif len(reason) > MAX_REASON_CHARS:
        problems.append(("reason", at_most(MAX_REASON_CHARS, reason)))
    if target is not None and len(target) > MAX_TARGET_CHARS:
        problems.append(("target", at_most(MAX_TARGET_CHARS, target)))
    if recurrence is not None and len(recurrence) > MAX_RULE_CHARS:
        problems.append(("recurrence", at_most(MAX_RULE_CHARS, recurrence)))
        recurrence = None
    try:
        tz = zone(timezone)
    except MaintenanceError as exc:
        problems.extend(exc.problems)
        tz = ZoneInfo("UTC")
    times: dict[str, datetime] = {}
    for name, value in (("starts_at", starts_at), ("ends_at", ends_at), ("until", until)):
        if value is None or (isinstance(value, str) and not value.strip()):
            if name != "until":
                problems.append((name, _("required: an ISO 8601 time, e.g. 2026-03-28T02:00")))
            continue
        if isinstance(value, str) and len(value) > 64:
            problems.append((name, _("not an ISO 8601 time ({count} characters); e.g. 2026-03-28T02:00")
                             .format(count=len(value))))
            continue
        try:
            times[name] = parse_time(value, tz)
        except ValueError as exc:
            problems.append((name, _("not a usable ISO 8601 time ({error}); e.g. 2026-03-28T02:00 or "
                                     "2026-03-28T02:00+01:00").format(error=exc)))
    start, end = times.get("starts_at"), times.get("ends_at")
    if start is not None and end is not None and end <= start:
        problems.append(("ends_at", _("must be after starts_at")))
    rule: str | None = None
    if recurrence:
        try:
            rule = normalise_rrule(recurrence)
            first = (start or datetime(2000, 1, 1, tzinfo=UTC)).astimezone(tz)
            _parse_rrule(rule, first.replace(tzinfo=None))
        except ValueError as exc:
            problems.append(("recurrence", _("invalid RRULE: {error}").format(error=exc)))
    elif "until" in times:
        problems.append(("until", _("only a recurring window (with a recurrence) has an until")))
    if start is not None and "until" in times and times["until"] < start:
        problems.append(("until", _("the last start must not be before starts_at")))
    if problems:
        raise MaintenanceError(problems)
    assert start is not None and end is not None
    return WindowSpec(kind=kind, scope=scope, target=None if scope == "all" else target,  # type: ignore[arg-type]
                      starts_at=start, ends_at=end, timezone=timezone, reason=reason.strip(),
                      recurrence=rule, until_at=times.get("until"))


# --- expansion ---------------------------------------------------------------------------

def occurrences(spec: WindowSpec, *, after: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
    """The window's periods (UTC) that end after ``after`` and start no later than
    ``until`` (and the window's own until_at).

    Bounded whatever the rule: the expansion starts a whole number of the rule's periods
    before ``after`` (not at a start years ago; a rule with COUNT, which counts from its
    start, is the exception), at most ``MAX_COMPUTED`` occurrences are computed, two
    starts closer than ``MIN_SPACING`` are refused at once, and a rule that matches
    nothing (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30) costs at most 400 years of its periods:
    the rule is evaluated a multiple of 400 years later, where the Gregorian calendar
    repeats itself exactly (weekdays, leap years, week numbers), close to the last year
    the evaluator knows, where it stops. A refusal is a ``MaintenanceError`` naming the
    recurrence."""
    if spec.recurrence is None:
        if spec.ends_at > after and spec.starts_at <= until:
            return [(spec.starts_at, spec.ends_at)]
        return []
    tz = ZoneInfo(spec.timezone)

    def local(moment: datetime) -> datetime:
        return moment.astimezone(tz).replace(tzinfo=None)

    declared = local(spec.starts_at)
    # The length on the wall clock: a 02:00–04:00 window is that in local time every day.
    wall = local(spec.ends_at) - declared
    last = until if spec.until_at is None else min(until, spec.until_at)
    parts = _rule_parts(spec.recurrence)
    freq, interval = parts.get("FREQ", ""), int(parts.get("INTERVAL", "1") or "1")
    first = declared
    if "COUNT" not in parts:
        # Any occurrence that ends after ``after`` starts after this (the slack covers DST).
        first = _rebase(declared, freq, interval, local(after) - wall - timedelta(days=2))
    shift = _shift_years(freq, interval, local(last).year)
    out: list[tuple[datetime, datetime]] = []
    previous: datetime | None = None
    previous_end: datetime | None = None
    for computed, shifted in enumerate(_evaluate(spec.recurrence, _years(first, shift)), start=1):
        occurrence = _years(shifted, -shift)
        if computed > MAX_COMPUTED:
            raise MaintenanceError([("recurrence", _(
                "more than {most} occurrences to compute up to {date}; use a coarser FREQ, set until, or "
                "(with COUNT) start closer to now").format(most=MAX_COMPUTED, date=f"{last:%Y-%m-%d}"))])
        if previous is not None and occurrence - previous < MIN_SPACING:
            raise MaintenanceError([("recurrence", _(
                "occurrences {gap} apart (at {first} and {second} local time); a window recurs at most "
                "hourly").format(gap=occurrence - previous, first=previous.isoformat(),
                                 second=occurrence.isoformat()))])
        previous = occurrence
        start = occurrence.replace(tzinfo=tz).astimezone(UTC)
        if start > last:
            break
        end = (occurrence + wall).replace(tzinfo=tz).astimezone(UTC)
        if previous_end is not None and start < previous_end:
            raise MaintenanceError([("recurrence", _(
                "occurrences overlap: each lasts {length} but the next starts at {start} local time").format(
                    length=wall, start=occurrence.isoformat()))])
        previous_end = end
        if end <= start or end <= after:
            continue
        out.append((start, end))
        if len(out) > MAX_OCCURRENCES:
            raise MaintenanceError([("recurrence", _(
                "more than {most} occurrences within the horizon; use a coarser FREQ or set until").format(
                    most=MAX_OCCURRENCES))])
    return out


def _evaluate(rule: str, start: datetime) -> Iterator[datetime]:
    try:
        yield from _parse_rrule(rule, start)
    except (TypeError, ValueError, OverflowError) as exc:   # a rule stored before today's checks
        raise MaintenanceError([("recurrence", _("the rule cannot be evaluated: {error}").format(
            error=exc))]) from exc


_STEPS = {"HOURLY": timedelta(hours=1), "DAILY": timedelta(days=1), "WEEKLY": timedelta(weeks=1)}
_CYCLE_YEARS = 400   # the Gregorian calendar repeats exactly after 400 years (146,097 days)


def _years(moment: datetime, years: int) -> datetime:
    # Only ever moved by multiples of 400 years: 29 February stays a date.
    return moment if years == 0 else moment.replace(year=moment.year + years)


def _rebase(declared: datetime, freq: str, interval: int, target: datetime) -> datetime:
    """The latest start no later than ``target`` that is ``declared`` moved by a whole
    number of the rule's periods (FREQ × INTERVAL) — the rule from there yields the same
    occurrences after ``target`` as from ``declared``: same phase, same time of day,
    weekday, day of the month and month (what RFC 5545 takes from DTSTART)."""
    if target <= declared:
        return declared
    if freq in _STEPS:
        step = _STEPS[freq] * interval
        return declared + step * ((target - declared) // step)
    months_per_period = (12 if freq == "YEARLY" else 1) * interval
    periods = ((target.year - declared.year) * 12 + target.month - declared.month) // months_per_period
    # A day the moved month lacks (31 January → 31 March, 29 February → a leap year): one
    # period further back, and so on.
    for k in range(periods, max(0, periods - 48), -1):
        year, month = divmod(declared.month - 1 + k * months_per_period, 12)
        try:
            moved = declared.replace(year=declared.year + year, month=month + 1)
        except ValueError:
            continue
        if moved <= target:
            return moved
    return declared


# The rule's periods in 400 Gregorian years.
_PERIODS_PER_CYCLE = {"HOURLY": 146_097 * 24, "DAILY": 146_097, "WEEKLY": 20_871, "MONTHLY": 4800,
                      "YEARLY": 400}


def _shift_years(freq: str, interval: int, last_year: int) -> int:
    """How far to move the evaluation so that the evaluator's last year comes soon after
    that of ``last``: a multiple of 400 years that is also a whole number of the rule's
    periods (FREQ × INTERVAL), so weekdays, leap years and the rule's phase all stay."""
    per_cycle = _PERIODS_PER_CYCLE.get(freq, 0)
    if per_cycle == 0:
        return 0
    cycle = _CYCLE_YEARS * (interval // gcd(interval, per_cycle))
    return cycle * max(0, (MAXYEAR - 1 - last_year) // cycle)


def counted_periods(spec: WindowSpec, *, created_at: datetime, retroactive: bool,
                    until: datetime, since: datetime | None = None) -> list[tuple[datetime, datetime]]:
    """The periods that count, i.e. what ``maintenance_periods`` holds (up to ``until``):
    the occurrences cut at the window's creation — one running at ``created_at`` counts
    from then, earlier ones not at all — or, for a window an admin approved as
    retroactive, every occurrence whole from the declared start. Creation, the horizon's
    extension and a later approval all derive the periods from here, so they agree.
    ``since``: only the periods that end after it (the horizon's extension looks back no
    further)."""
    if retroactive:
        return occurrences(spec, after=max(spec.starts_at, since or spec.starts_at), until=until)
    return [(max(s, created_at), e)
            for s, e in occurrences(spec, after=max(created_at, since or created_at), until=until)]


def time_before(periods: Sequence[tuple[datetime, datetime]], moment: datetime) -> timedelta:
    """How much of ``periods`` lies before ``moment``."""
    return sum((min(e, moment) - s for s, e in periods if s < moment), timedelta())


def horizon(now: datetime, days: int) -> datetime:
    return now + timedelta(days=days)


# --- store ---------------------------------------------------------------------------------

_COLUMNS = ("window_id, kind, scope, target, starts_at, ends_at, recurrence, until_at, timezone,"
            " reason, created_by, created_at, removed_at, removed_by,"
            " retroactive_by, retroactive_at, retroactive_reason")


def _check_target(conn: Connection, spec: WindowSpec) -> None:
    queries = {
        "asset": "SELECT 1 FROM assets WHERE asset_id = %s",
        "department": "SELECT 1 FROM departments WHERE department_id = %s",
        "district": "SELECT 1 FROM districts WHERE district_id = %s",
        "tag": "SELECT 1 FROM assets WHERE %s = ANY(tags) LIMIT 1",
    }
    query = queries.get(spec.scope)
    if query is not None and conn.execute(query, (spec.target,)).fetchone() is None:
        raise MaintenanceError([("target", _(_UNKNOWN_TARGET[spec.scope]).format(target=repr(spec.target)))])


_UNKNOWN_TARGET = {
    "asset": N_("unknown asset {target} in the registry"),
    "department": N_("unknown department {target} in the registry"),
    "district": N_("unknown district {target} in the registry"),
    "tag": N_("no asset carries tag {target} in the registry"),
}


def _insert_periods(conn: Connection, window_id: int, periods: Sequence[tuple[datetime, datetime]]) -> int:
    if not periods:
        return 0
    cur = conn.execute(
        "INSERT INTO maintenance_periods (window_id, starts_at, ends_at)"
        " SELECT %s, s, e FROM unnest(%s::timestamptz[], %s::timestamptz[]) AS v(s, e)"
        " ON CONFLICT (window_id, starts_at) DO NOTHING",
        (window_id, [p[0] for p in periods], [p[1] for p in periods]),
    )
    return cur.rowcount


def _approval(kind: str, actor: audit.Actor, reason: str | None) -> str | None:
    """The reason of a retroactive approval, once checked (None: not retroactive)."""
    if reason is None:
        return None
    problems: list[tuple[str, str]] = []
    if actor.role != "admin":
        problems.append(("retroactive_reason", _("only an admin may let a window count time before "
                                                 "its creation")))
    if kind != "maintenance":
        problems.append(("retroactive_reason", _("only a maintenance window can be retroactive: a "
                                                 "silence holds pages, which are about the present")))
    if not reason.strip():
        problems.append(("retroactive_reason", _("say why its past should count (it is audited and "
                                                 "listed in reports)")))
    if problems:
        raise MaintenanceError(problems)
    return reason.strip()


def _retroactive_details(spec: WindowSpec, reason: str, periods: Sequence[tuple[datetime, datetime]],
                         created_at: datetime) -> dict[str, Any]:
    return {"reason": reason, "scope": spec.scope, "target": spec.target,
            "declared_from": spec.starts_at.isoformat(), "created_at": created_at.isoformat(),
            "seconds_before_creation": time_before(periods, created_at).total_seconds()}


def _next_period(periods: Sequence[tuple[datetime, datetime]], now: datetime
                 ) -> tuple[datetime | None, datetime | None]:
    ahead = [p for p in periods if p[1] > now]
    return (ahead[0][0], ahead[0][1]) if ahead else (None, None)


def create(conn: Connection, spec: WindowSpec, actor: audit.Actor, *, now: datetime,
           horizon_days: int, retroactive_reason: str | None = None) -> MaintenanceWindow:
    """Store a window, its periods and the audit entries in one transaction. ``now`` is
    the moment it is recorded (the server's clock): its time counts from then. With
    ``retroactive_reason`` (an admin only, maintenance only) its declared past counts
    too, and the approval is audited as ``maintenance.retroactive``."""
    reason = _approval(spec.kind, actor, retroactive_reason)
    if reason is not None and spec.starts_at >= now:
        raise MaintenanceError([("retroactive_reason", _(
            "the window starts after now ({now}): it has no past to approve").format(now=now.isoformat()))])
    periods = counted_periods(spec, created_at=now, retroactive=reason is not None,
                              until=horizon(now, horizon_days))
    if not periods:
        field = "until" if spec.recurrence else "ends_at"
        raise MaintenanceError([(field, _(
            "the window has no period after now ({now}); maintenance is planned, not recorded afterwards "
            "(an admin may record a past window as retroactive, with a reason)").format(
                now=now.isoformat()))])
    try:
        with conn.transaction():
            _check_target(conn, spec)
            row = conn.execute(
                "INSERT INTO maintenance_windows (kind, scope, target, starts_at, ends_at, recurrence,"
                " until_at, timezone, reason, created_by, created_at, retroactive_by, retroactive_at,"
                " retroactive_reason)"
                f" VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
                (spec.kind, spec.scope, spec.target, spec.starts_at, spec.ends_at, spec.recurrence,
                 spec.until_at, spec.timezone, spec.reason, actor.id, now,
                 actor.id if reason else None, now if reason else None, reason),
            ).fetchone()
            assert row is not None
            _insert_periods(conn, int(row[0]), periods)
            audit.record(conn, actor, f"{spec.kind}.add", str(row[0]), {
                "scope": spec.scope, "target": spec.target, "starts_at": spec.starts_at.isoformat(),
                "ends_at": spec.ends_at.isoformat(), "recurrence": spec.recurrence,
                "until_at": spec.until_at.isoformat() if spec.until_at else None,
                "timezone": spec.timezone, "reason": spec.reason, "periods": len(periods),
                "counts_from": periods[0][0].isoformat(), "retroactive": reason is not None,
            }, at=now)
            if reason is not None:
                audit.record(conn, actor, "maintenance.retroactive", str(row[0]),
                             _retroactive_details(spec, reason, periods, now), at=now)
    except psycopg.Error as exc:
        raise StoreError(_("cannot store the window: {error}; run `citybrain db migrate`").format(
            error=exc)) from exc
    next_start, next_end = _next_period(periods, now)
    return replace(MaintenanceWindow(*row), next_start=next_start, next_end=next_end)


def approve_retroactive(conn: Connection, window_id: int, actor: audit.Actor, reason: str, *,
                        now: datetime) -> MaintenanceWindow:
    """An admin approves, with a reason, that a window's declared time before its creation
    counts: its occurrence running at creation is counted from its declared start, and
    the earlier ones are added (cut at the window's removal, if removed). The approval is
    kept on the window and audited (``maintenance.retroactive``) in the same transaction."""
    try:
        with conn.transaction():
            row = conn.execute(f"SELECT {_COLUMNS} FROM maintenance_windows WHERE window_id = %s FOR UPDATE",
                               (window_id,)).fetchone()
            if row is None:
                raise WindowNotFound([("window_id", _no_window(window_id))])
            window = MaintenanceWindow(*row)
            checked = _approval(window.kind, actor, reason)
            assert checked is not None
            if window.retroactive_by is not None:
                raise MaintenanceError([("window_id", _(
                    "window {number} was approved as retroactive by {who} at {time}Z").format(
                        number=window_id, who=window.retroactive_by,
                        time=f"{window.retroactive_at:%Y-%m-%d %H:%M}"))])
            created, removed = window.created_at, window.removed_at
            if window.starts_at >= created:
                raise MaintenanceError([("window_id", _(
                    "window {number} was recorded before it began: all of it counts already").format(
                        number=window_id))])
            spec = _spec_of(row)
            past = [(s, e if removed is None else min(e, removed))
                    for s, e in counted_periods(spec, created_at=created, retroactive=True, until=created)
                    if s < created]
            for s, e in past:
                if e > created:   # running at creation: stored from created_at, now from its start
                    moved = conn.execute("UPDATE maintenance_periods SET starts_at = %s"
                                         " WHERE window_id = %s AND starts_at = %s", (s, window_id, created))
                    if moved.rowcount:
                        continue
                _insert_periods(conn, window_id, [(s, e)])
            row = conn.execute(
                "UPDATE maintenance_windows SET retroactive_by = %s, retroactive_at = %s,"
                f" retroactive_reason = %s WHERE window_id = %s RETURNING {_COLUMNS}",
                (actor.id, now, checked, window_id)).fetchone()
            assert row is not None
            audit.record(conn, actor, "maintenance.retroactive", str(window_id),
                         {**_retroactive_details(spec, checked, past, created),
                          "approved_at": now.isoformat()}, at=now)
    except psycopg.Error as exc:
        raise StoreError(_("cannot approve the window: {error}; run `citybrain db migrate`").format(
            error=exc)) from exc
    return MaintenanceWindow(*row)


def _no_window(window_id: int) -> str:
    return _("no window {number}; see `citybrain maintenance list`").format(number=window_id)


def retroactive_in(conn: Connection, start: datetime, end: datetime) -> tuple[int, ...]:
    """The maintenance windows approved as retroactive whose counted time before their
    creation overlaps [start, end): the ones a report over that window lists."""
    try:
        rows = conn.execute(
            "SELECT DISTINCT w.window_id FROM maintenance_windows w"
            " JOIN maintenance_periods p ON p.window_id = w.window_id"
            " WHERE w.kind = 'maintenance' AND w.retroactive_by IS NOT NULL"
            "   AND p.starts_at < least(w.created_at, w.removed_at, %(end)s)"
            "   AND least(p.ends_at, w.created_at, w.removed_at) > %(start)s"
            " ORDER BY w.window_id", {"start": start, "end": end}).fetchall()
    except psycopg.Error as exc:
        raise StoreError(_("cannot read maintenance windows: {error}; run `citybrain db migrate`").format(
            error=exc)) from exc
    return tuple(int(r[0]) for r in rows)


def remove(conn: Connection, window_id: int, actor: audit.Actor, *, now: datetime) -> MaintenanceWindow:
    """Soft-remove: past periods stay, future ones go, a running one ends now."""
    try:
        with conn.transaction():
            row = conn.execute(
                "UPDATE maintenance_windows SET removed_at = %s, removed_by = %s"
                f" WHERE window_id = %s AND removed_at IS NULL RETURNING {_COLUMNS}",
                (now, actor.id, window_id),
            ).fetchone()
            if row is None:
                gone = conn.execute("SELECT removed_at FROM maintenance_windows WHERE window_id = %s",
                                    (window_id,)).fetchone()
                why = (_("window {number} was removed at {time}").format(number=window_id,
                                                                          time=gone[0].isoformat())
                       if gone else _no_window(window_id))
                raise WindowNotFound([("window_id", why)])
            conn.execute("DELETE FROM maintenance_periods WHERE window_id = %s AND starts_at >= %s",
                         (window_id, now))
            conn.execute("UPDATE maintenance_periods SET ends_at = %s"
                         " WHERE window_id = %s AND starts_at < %s AND ends_at > %s",
                         (now, window_id, now, now))
            audit.record(conn, actor, f"{row[1]}.remove", str(window_id),
                         {"scope": row[2], "target": row[3], "reason": row[9]}, at=now)
    except psycopg.Error as exc:
        raise StoreError(_("cannot remove the window: {error}").format(error=exc)) from exc
    return MaintenanceWindow(*row)


def listing(conn: Connection, *, now: datetime, include_removed: bool = False,
            kind: str | None = None) -> list[MaintenanceWindow]:
    rows = conn.execute(
        f"SELECT {', '.join('w.' + c.strip() for c in _COLUMNS.split(','))},"
        " (SELECT min(starts_at) FROM maintenance_periods p WHERE p.window_id = w.window_id"
        "   AND p.ends_at > %(now)s),"
        " (SELECT min(ends_at) FROM maintenance_periods p WHERE p.window_id = w.window_id"
        "   AND p.ends_at > %(now)s)"
        " FROM maintenance_windows w"
        " WHERE (%(all)s OR w.removed_at IS NULL) AND (%(kind)s::text IS NULL OR w.kind = %(kind)s)"
        " ORDER BY w.window_id",
        {"now": now, "all": include_removed, "kind": kind},
    ).fetchall()
    return [MaintenanceWindow(*r) for r in rows]


def _spec_of(row: Sequence[Any]) -> WindowSpec:
    return WindowSpec(kind=row[1], scope=row[2], target=row[3], starts_at=row[4], ends_at=row[5],
                      recurrence=row[6], until_at=row[7], timezone=row[8], reason=row[9])


def extend_horizon(conn: Connection, *, now: datetime, horizon_days: int) -> int:
    """Add the periods of live recurring windows up to ``now`` + horizon, including any
    missed within the last horizon (every run stores periods a horizon ahead, so only a
    pause longer than that can leave a gap, and looking further back would make the work
    grow with a window's age); returns how many were added. Idempotent: existing periods
    are kept as they are. A window whose rule cannot be expanded (stored before today's
    checks) is logged and skipped: it does not hold up the others."""
    added = 0
    lookback = now - timedelta(days=horizon_days)
    try:
        with conn.transaction():
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM maintenance_windows WHERE removed_at IS NULL"
                " AND recurrence IS NOT NULL AND (until_at IS NULL OR until_at > %s)", (now,),
            ).fetchall()
            for row in rows:
                # From the window's creation (cut there, as create() did; from its declared
                # start if retroactive), or the lookback if later: occurrences between the
                # last horizon and now (the alerter was down for a while) were planned too
                # and are filled in.
                retroactive = row[14] is not None
                try:
                    with use_language("en"):   # what is refused here is logged
                        periods = counted_periods(_spec_of(row), created_at=row[11], retroactive=retroactive,
                                                  until=horizon(now, horizon_days), since=lookback)
                except MaintenanceError as exc:
                    log.warning("maintenance window %s is not extended: %s", row[0], exc)
                    continue
                added += _insert_periods(conn, int(row[0]), periods)
    except psycopg.Error as exc:
        raise StoreError(_("cannot extend the maintenance periods: {error}").format(error=exc)) from exc
    return added
