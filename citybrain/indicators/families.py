"""The template families of the indicator SQL and the parameters each takes.

Every indicator's SQL file is rendered from one family template in ``templates/``
(``render.py``, ``citybrain indicators render``) with the parameters its catalogue entry
gives under ``params``. The families are the computations the indicators share: the five
availabilities are one family differing in asset kinds and up states, the two p95s one
differing in the probes' target kind, and so on; a family of one is an indicator whose
computation nobody else shares (its template still draws on the shared fragments).

This module only says what parameters a family takes, so the catalogue loader refuses a
wrong one, naming the entry and the field, before anything is rendered; it imports no
template engine.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from citybrain.indicators.model import Dimension
from schemas.registry import LIVENESS_FEED

# The liveness states in which an asset's state is known; everything else in scope
# ('unknown', or no interval at all) is unknown time. The daily availability facts keep one
# column per known state (availability_daily.<state>_us and <state>_m_us, migration 012),
# and every availability figure reads up and known time as sums over these states, so the
# facts and the live accounting are written from this one list (templates/_availability).
KNOWN_STATES: tuple[str, ...] = ("online", "degraded", "offline")
State = Literal["online", "degraded", "offline"]

# Breakdowns an availability figure can be grouped by, per row of state_intervals' asset.
AVAILABILITY_GROUPS: tuple[Dimension, ...] = ("department", "district", "kind", "asset")
# Per department (district) and day: only the family's variant with daily facts has them.
DAY_SERIES: tuple[Dimension, ...] = ("department_day", "district_day")


class Params(BaseModel):
    """What every family takes: the indicator's own lines at the top of its SQL header
    (what it counts, in words; the family template adds the parameters, the columns and
    how it is computed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    about: str = Field(min_length=10)

    def problems(self, breakdowns: tuple[Dimension, ...]) -> list[str]:
        """What is wrong with these parameters together with the entry's breakdowns."""
        return []


class Availability(Params):
    """Up seconds / known seconds of assets of ``kinds`` from their state intervals."""

    kinds: tuple[str, ...] = Field(min_length=1)
    up: tuple[State, ...] = Field(min_length=1)  # the states that count as up
    # Whole local days read from availability_daily (migration 012): only for breakdowns
    # the facts hold (kind × department × district), so never with an 'asset' breakdown.
    daily_facts: bool = False

    @property
    def feed(self) -> str:
        """The liveness feed whose watermark bounds these assets' time (the as-of rule)."""
        return str(LIVENESS_FEED[self.kinds[0]])

    def problems(self, breakdowns: tuple[Dimension, ...]) -> list[str]:
        found: list[str] = []
        unknown = [k for k in self.kinds if k not in LIVENESS_FEED]
        if unknown:
            found.append(f"params.kinds: {unknown} are not asset kinds ({sorted(LIVENESS_FEED)})")
            return found
        feeds = {LIVENESS_FEED[k] for k in self.kinds}
        if None in feeds or len(feeds) != 1:
            found.append("params.kinds: the kinds must share one liveness feed (as of: its watermark "
                         f"bounds them), got {sorted(str(f) for f in feeds)}")
        if len(set(self.kinds)) != len(self.kinds) or len(set(self.up)) != len(self.up):
            found.append("params: kinds and up must not list a value twice")
        if self.daily_facts and "asset" in breakdowns:
            found.append("params.daily_facts: the daily facts have no per-asset figures; "
                         "an 'asset' breakdown needs daily_facts: false")
        other = [d for d in breakdowns if d not in (*AVAILABILITY_GROUPS, "day", *DAY_SERIES)]
        if other:
            found.append(f"breakdowns: an availability has no {other} breakdown "
                         f"(it has {list(AVAILABILITY_GROUPS)}, day and {list(DAY_SERIES)})")
        series = [d for d in DAY_SERIES if d in breakdowns]
        if series and not self.daily_facts:
            found.append(f"breakdowns: {series} are computed only with daily_facts: true")
        if series and (series != list(DAY_SERIES) or not {"department", "district"} <= set(breakdowns)):
            found.append(f"breakdowns: {list(DAY_SERIES)} come together, with department and district")
        return found


class CameraConnectivity(Params):
    """Cameras up for some time of their scope: per registered camera (access) or per
    connected camera shared with another department (sharing)."""

    rate: Literal["access", "sharing"]


class DatasetActivity(Params):
    """Catalogued datasets with a data event of one action in their scope."""

    action: Literal["shared", "opened"]
    numerator: str = Field(min_length=5)  # what the numerator counts, in the header's words


class ProbeLatencyP95(Params):
    """The 95th percentile of the successful probes' latency to one kind of target."""

    target_kind: Literal["link", "portal"]


class IncidentRate(Params):
    """Incidents acknowledged within 30 minutes / incidents that can be judged."""

    off_hours: bool = False  # only incidents opened off-hours, compared with on-hours


class IncidentMean(Params):
    """Mean minutes from opening to acknowledgement or resolution."""

    until: Literal["acknowledged", "resolved"]


class SecurityEvents(Params):
    """Security events counted by level, department and day (and category)."""

    category: str | None = None  # one category only; None: every category, listed

    def problems(self, breakdowns: tuple[Dimension, ...]) -> list[str]:
        if self.category is not None and "category" in breakdowns:
            return ["breakdowns: 'category' is one member only when params.category is set"]
        return []


class RegisteredCount(Params):
    """Assets of one kind in the register."""

    kind: str

    def problems(self, breakdowns: tuple[Dimension, ...]) -> list[str]:
        if self.kind not in LIVENESS_FEED:
            return [f"params.kind: {self.kind!r} is not an asset kind ({sorted(LIVENESS_FEED)})"]
        return []


def _only(breakdowns: tuple[Dimension, ...], allowed: tuple[Dimension, ...], what: str) -> list[str]:
    other = [d for d in breakdowns if d not in allowed]
    return [f"breakdowns: {what} has no {other} breakdown (it has {list(allowed)})"] if other else []


class RatingCount(Params):
    """好差评 ratings rated in W (rating_facts), by level, channel, department and day."""

    def problems(self, breakdowns: tuple[Dimension, ...]) -> list[str]:
        return _only(breakdowns, ("level", "channel", "department", "day"), "a rating count")


class RatingGoodRate(Params):
    """Good ratings (levels 3–5) / ratings rated in W."""

    def problems(self, breakdowns: tuple[Dimension, ...]) -> list[str]:
        return _only(breakdowns, ("department", "channel", "day"), "a good-rating rate")


class RatingDeadline(Params):
    """Bad ratings judged in W against a deadline: their rectification or return visit."""

    stage: Literal["rectification", "return_visit"]

    def problems(self, breakdowns: tuple[Dimension, ...]) -> list[str]:
        return _only(breakdowns, ("department", "day"), "a bad-rating deadline rate")


class Hotline(Params):
    """12345 work orders (work_orders, work_order_limits): response or completion limits
    met / judged, satisfied return visits / visits, or reopened / completed orders."""

    measure: Literal["response", "completion", "satisfaction", "reopen"]

    def problems(self, breakdowns: tuple[Dimension, ...]) -> list[str]:
        return _only(breakdowns, ("department", "category", "day"), "a 12345 work-order rate")


class ActiveUsers(Params):
    """Distinct portal users per local day or month, averaged over the periods of W."""

    period: Literal["day", "month"]

    def problems(self, breakdowns: tuple[Dimension, ...]) -> list[str]:
        allowed: Dimension = "day" if self.period == "day" else "month"
        other = [d for d in breakdowns if d != allowed]
        return [f"breakdowns: a per-{self.period} count has only the {allowed!r} breakdown"] if other else []


class ServiceItems(Params):
    """The catalogue's items in W the portal covers: a count, a share or the kinds."""

    measure: Literal["covered", "share", "kinds"]

    def problems(self, breakdowns: tuple[Dimension, ...]) -> list[str]:
        other = [d for d in breakdowns if d not in ("department", "kind", "day")]
        if other:
            return [f"breakdowns: the service catalogue has no {other} breakdown"]
        if self.measure == "kinds" and "kind" in breakdowns:
            return ["breakdowns: the kinds have no 'kind' breakdown"]
        return []


# Family name (the catalogue's `template`) → the parameters it takes. The template is
# templates/<name>.sql.j2.
FAMILIES: dict[str, type[Params]] = {
    "availability": Availability,
    "camera_connectivity": CameraConnectivity,
    "dataset_activity": DatasetActivity,
    "dataset_freshness": Params,
    "dataset_quality": Params,
    "probe_latency_p95": ProbeLatencyP95,
    "packet_loss": Params,
    "cloud_utilisation": Params,
    "cloud_fulfilment": Params,
    "incident_rate": IncidentRate,
    "incident_mean": IncidentMean,
    "security_events": SecurityEvents,
    "registered_count": RegisteredCount,
    "active_users": ActiveUsers,
    "user_coverage": Params,
    "service_items": ServiceItems,
    "online_transactions": Params,
    "rating_count": RatingCount,
    "rating_good_rate": RatingGoodRate,
    "rating_deadline": RatingDeadline,
    "hotline": Hotline,
}
