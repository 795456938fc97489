"""Event contracts: one versioned model per family.

Every event carries ``event_id``, ``asset_id`` and a time-zone-aware ``occurred_at``
(event time). A Kafka message holds one event, or an envelope ``{"events": [...]}`` of
many: gateways and collectors batch, because the per-message cost of the stream
processor dominates otherwise.

``db_row()`` gives the tuple that the sink COPYs; its order is ``COLUMNS`` and must
match the table created by the migrations (a test checks it).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from copy import copy
from enum import IntEnum
from operator import attrgetter
from typing import Any, ClassVar, Literal, get_args, get_origin

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, create_model, model_validator

Identifier = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")


class LivenessLevel(IntEnum):
    """What one event says about its asset: down, up and healthy, or up but unhealthy.

    The values extend the boolean this replaced (DOWN = 0 = False, ONLINE = 1 = True), so
    a payload that still holds a bool reads the same; DEGRADED is truthy, so code that
    only asks "is it up?" counts a degraded asset as up, as the device online rate does.
    """

    DOWN = 0
    ONLINE = 1
    DEGRADED = 2


_BY_BOOL = (LivenessLevel.DOWN, LivenessLevel.ONLINE)  # indexed by a bool: False → DOWN


class EventBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    family: ClassVar[str]
    COLUMNS: ClassVar[tuple[str, ...]]
    # True when every event of the family proves the asset up and healthy (liveness()
    # is ONLINE): the decoder then skips the per-event liveness column altogether.
    ALWAYS_UP: ClassVar[bool] = False

    schema_version: Literal[1] = 1
    event_id: str = Identifier
    asset_id: str = Identifier
    occurred_at: AwareDatetime

    @abstractmethod
    def db_row(self) -> tuple[Any, ...]:
        """The row COPYed into the family's table, in ``COLUMNS`` order."""

    def liveness(self) -> LivenessLevel | None:
        """What this event says about the asset's liveness; None when it says nothing."""
        return None

    @classmethod
    def liveness_many(cls, items: Sequence[Any]) -> list[LivenessLevel | None] | None:
        """``liveness()`` of each item (instances of ``fast_model(family)``), column-wise
        for the decoder's fast path; None when the family is ALWAYS_UP."""
        return None if cls.ALWAYS_UP else [None] * len(items)

    @classmethod
    def check_many(cls, items: Sequence[Any]) -> bool:
        """Whether all items (instances of ``fast_model(family)``) pass this model's own
        model-level checks. The fast model leaves them out; the decoder calls this once
        per message and, on False, falls back to the full model for exact reasons."""
        check = getattr(cls, "_check", None)
        if check is None:
            return True
        try:
            for item in items:
                check(item)  # the validator only reads attributes the fast model has too
        except ValueError:
            return False
        return True


def _packets_consistent(sent: int | None, lost: int | None) -> None:
    if (sent is None) != (lost is None):
        raise ValueError("packets_sent and packets_lost come together")
    if sent is not None and lost is not None and lost > sent:
        raise ValueError("packets_lost exceeds packets_sent")


_sent = attrgetter("packets_sent")
_lost = attrgetter("packets_lost")


def _packets_consistent_many(items: Sequence[Any]) -> bool:
    # Column-wise, C-level loops: this runs for every event of the busiest families.
    sent = list(map(_sent, items))
    lost = list(map(_lost, items))
    if None in sent or None in lost:
        try:
            for s, lo in zip(sent, lost, strict=True):
                _packets_consistent(s, lo)
        except ValueError:
            return False
        return True
    return not any(map(int.__gt__, lost, sent))


class IotEvent(EventBase):
    """Heartbeat or telemetry of an IoT terminal (smart pole, sensor, gateway)."""

    family: ClassVar[str] = "iot"
    ALWAYS_UP: ClassVar[bool] = True
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "occurred_at", "event_id", "asset_id", "kind", "status", "battery_pct",
        "signal_dbm", "rtt_ms", "packets_sent", "packets_lost",
    )

    kind: Literal["heartbeat", "telemetry"] = "heartbeat"
    status: Literal["ok", "degraded", "fault"] = "ok"
    battery_pct: float | None = Field(default=None, ge=0, le=100)
    signal_dbm: float | None = Field(default=None, ge=-200, le=0)
    rtt_ms: float | None = Field(default=None, ge=0, le=600_000)
    packets_sent: int | None = Field(default=None, ge=0)
    packets_lost: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _check(self) -> IotEvent:
        _packets_consistent(self.packets_sent, self.packets_lost)
        return self

    @classmethod
    def check_many(cls, items: Sequence[Any]) -> bool:
        return _packets_consistent_many(items)

    def db_row(self) -> tuple[Any, ...]:
        return (
            self.occurred_at, self.event_id, self.asset_id, self.kind, self.status,
            self.battery_pct, self.signal_dbm, self.rtt_ms, self.packets_sent, self.packets_lost,
        )

    def liveness(self) -> LivenessLevel | None:
        # Any message from the device proves it is reachable; "fault" is a health
        # signal for the alerting rules, not an absence.
        return LivenessLevel.ONLINE


PictureFault = Literal["black", "frozen", "occluded", "blurred", "signal_loss"]


def _camera_level(online: bool, decodable: bool | None, faults: Sequence[str]) -> LivenessLevel:
    # Online but with a picture the operators cannot use: up, yet not healthy (camera
    # intact rate). An unknown decodability (None) is not held against the camera.
    if not online:
        return LivenessLevel.DOWN
    return LivenessLevel.DEGRADED if faults or decodable is False else LivenessLevel.ONLINE


_online = attrgetter("online")
_decodable = attrgetter("stream_decodable")
_faults = attrgetter("faults")
_ok = attrgetter("ok")


class VideoEvent(EventBase):
    """Health report of a video surveillance camera (from the VMS)."""

    family: ClassVar[str] = "video"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "occurred_at", "event_id", "asset_id", "online", "stream_decodable", "fps",
        "bitrate_kbps", "recording_ok", "faults", "clock_skew_s",
    )

    online: bool
    stream_decodable: bool | None = None
    fps: float | None = Field(default=None, ge=0, le=240)
    bitrate_kbps: float | None = Field(default=None, ge=0)
    recording_ok: bool | None = None
    faults: tuple[PictureFault, ...] = ()
    clock_skew_s: float | None = None

    def db_row(self) -> tuple[Any, ...]:
        return (
            self.occurred_at, self.event_id, self.asset_id, self.online,
            self.stream_decodable, self.fps, self.bitrate_kbps, self.recording_ok,
            list(self.faults), self.clock_skew_s,
        )

    def liveness(self) -> LivenessLevel | None:
        return _camera_level(self.online, self.stream_decodable, self.faults)

    @classmethod
    def liveness_many(cls, items: Sequence[Any]) -> list[LivenessLevel | None] | None:
        online = list(map(_online, items))
        decodable = list(map(_decodable, items))
        faults = list(map(_faults, items))
        if all(online) and False not in decodable and not any(faults):
            return [LivenessLevel.ONLINE] * len(items)  # the usual message: C-level checks only
        return list(map(_camera_level, online, decodable, faults))


class CloudEvent(EventBase):
    """Gov-cloud host/tenant resource usage, or a resource request and its fulfilment."""

    family: ClassVar[str] = "cloud"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "occurred_at", "event_id", "asset_id", "kind", "cpu_alloc_cores", "cpu_used_cores",
        "mem_alloc_gb", "mem_used_gb", "storage_alloc_gb", "storage_used_gb",
        "request_id", "resource_type", "requested_at", "fulfilled_at", "agreed_lead_hours",
    )

    kind: Literal["usage", "request"]
    cpu_alloc_cores: float | None = Field(default=None, ge=0)
    cpu_used_cores: float | None = Field(default=None, ge=0)
    mem_alloc_gb: float | None = Field(default=None, ge=0)
    mem_used_gb: float | None = Field(default=None, ge=0)
    storage_alloc_gb: float | None = Field(default=None, ge=0)
    storage_used_gb: float | None = Field(default=None, ge=0)
    request_id: str | None = Field(default=None, min_length=1, max_length=128)
    resource_type: Literal["vm", "cpu", "memory", "storage", "database", "bandwidth"] | None = None
    requested_at: AwareDatetime | None = None
    fulfilled_at: AwareDatetime | None = None
    agreed_lead_hours: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check(self) -> CloudEvent:
        if self.kind == "usage":
            pairs = (
                (self.cpu_alloc_cores, self.cpu_used_cores),
                (self.mem_alloc_gb, self.mem_used_gb),
                (self.storage_alloc_gb, self.storage_used_gb),
            )
            if all(a is None and u is None for a, u in pairs):
                raise ValueError("a usage event needs at least one allocated/used pair")
            for alloc, used in pairs:
                if (alloc is None) != (used is None):
                    raise ValueError("allocated and used come in pairs")
        else:
            missing = [
                n for n in ("request_id", "resource_type", "requested_at", "agreed_lead_hours")
                if getattr(self, n) is None
            ]
            if missing:
                raise ValueError(f"a request event needs {', '.join(missing)}")
            if self.fulfilled_at is not None and self.requested_at is not None and (
                self.fulfilled_at < self.requested_at
            ):
                raise ValueError("fulfilled_at is before requested_at")
        return self

    def db_row(self) -> tuple[Any, ...]:
        return (
            self.occurred_at, self.event_id, self.asset_id, self.kind, self.cpu_alloc_cores,
            self.cpu_used_cores, self.mem_alloc_gb, self.mem_used_gb, self.storage_alloc_gb,
            self.storage_used_gb, self.request_id, self.resource_type, self.requested_at,
            self.fulfilled_at, self.agreed_lead_hours,
        )


class SecurityEvent(EventBase):
    """A security event from IDS/WAF/EDR/SIEM/DLP; ``asset_id`` is the affected asset."""

    family: ClassVar[str] = "security"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "occurred_at", "event_id", "asset_id", "source", "category", "level", "title",
        "details",
    )

    source: Literal["ids", "waf", "edr", "siem", "dlp", "firewall", "other"]
    category: Literal[
        "intrusion", "malware", "ddos", "vulnerability", "policy_violation", "data_leak", "other"
    ]
    level: Literal["I", "II", "III", "IV"]
    title: str = Field(default="", max_length=500)
    details: dict[str, Any] = Field(default_factory=dict)

    def db_row(self) -> tuple[Any, ...]:
        return (
            self.occurred_at, self.event_id, self.asset_id, self.source, self.category,
            self.level, self.title, self.details,
        )


class ProbeEvent(EventBase):
    """A synthetic check of a portal, business system or network link."""

    family: ClassVar[str] = "probe"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "occurred_at", "event_id", "asset_id", "target_kind", "ok", "status_code",
        "latency_ms", "packets_sent", "packets_lost", "location", "error",
    )

    target_kind: Literal["portal", "system", "link"]
    ok: bool
    status_code: int | None = Field(default=None, ge=0, le=999)
    latency_ms: float | None = Field(default=None, ge=0, le=600_000)
    packets_sent: int | None = Field(default=None, ge=0)
    packets_lost: int | None = Field(default=None, ge=0)
    location: str | None = Field(default=None, max_length=128)
    error: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _check(self) -> ProbeEvent:
        _packets_consistent(self.packets_sent, self.packets_lost)
        return self

    @classmethod
    def check_many(cls, items: Sequence[Any]) -> bool:
        return _packets_consistent_many(items)

    def db_row(self) -> tuple[Any, ...]:
        return (
            self.occurred_at, self.event_id, self.asset_id, self.target_kind, self.ok,
            self.status_code, self.latency_ms, self.packets_sent, self.packets_lost,
            self.location, self.error,
        )

    def liveness(self) -> LivenessLevel | None:
        return _BY_BOOL[self.ok]

    @classmethod
    def liveness_many(cls, items: Sequence[Any]) -> list[LivenessLevel | None] | None:
        return list(map(_BY_BOOL.__getitem__, map(_ok, items)))


class DataEvent(EventBase):
    """A dataset event from the exchange platform; ``asset_id`` is the dataset id."""

    family: ClassVar[str] = "data"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "occurred_at", "event_id", "asset_id", "action", "target_department", "records",
        "completeness", "validity", "passed",
    )

    action: Literal["shared", "opened", "updated", "quality_check"]
    target_department: str | None = Field(default=None, max_length=128)
    records: int | None = Field(default=None, ge=0)
    completeness: float | None = Field(default=None, ge=0, le=1)
    validity: float | None = Field(default=None, ge=0, le=1)
    passed: bool | None = None

    @model_validator(mode="after")
    def _check(self) -> DataEvent:
        if self.action == "quality_check" and self.passed is None:
            raise ValueError("a quality_check event needs passed")
        if self.action == "shared" and not self.target_department:
            raise ValueError("a shared event needs target_department")
        return self

    def db_row(self) -> tuple[Any, ...]:
        return (
            self.occurred_at, self.event_id, self.asset_id, self.action,
            self.target_department, self.records, self.completeness, self.validity,
            self.passed,
        )


# ── The portal, 好差评 and 12345 families ───────────────────────────────────────────
# Their asset_id is the registered system that recorded the event (the unified portal or
# service platform, the rating system, the 12345 platform), so the stream stays keyed and
# counted like the telemetry; what the event is about has its own columns.

# A pseudonymous user key: the hex HMAC-SHA256 of the person's real-name id under the
# city's key, computed by the portal before the event leaves it. Nothing else fits this
# pattern, so a real-name id (18 characters ending in a digit or X) or a phone number in
# clear is refused with a reason instead of being stored.
UserKey = Field(pattern=r"^[0-9a-f]{64}$")
Channel = Literal["app", "mini_program", "web", "hall", "kiosk"]
RatingChannel = Literal["app", "mini_program", "web", "hall", "kiosk", "hotline"]
OptionalIdentifier = Field(
    default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"
)


def _require(event: BaseModel, names: Sequence[str], what: str) -> None:
    missing = [n for n in names if getattr(event, n) is None]
    if missing:
        raise ValueError(f"{what} needs {', '.join(missing)}")


class UsageEvent(EventBase):
    """A sign-in or a service transaction on the unified portal, on any channel.

    A transaction is one matter handled for a person (一件事), reported once when it is
    completed; ``fully_online`` says whether it was handled end to end online (全程网办)."""

    family: ClassVar[str] = "usage"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "occurred_at", "event_id", "asset_id", "action", "user_key", "channel",
        "service_id", "department_id", "transaction_id", "fully_online",
    )

    action: Literal["sign_in", "transaction"]
    user_key: str = UserKey
    channel: Channel
    service_id: str | None = OptionalIdentifier
    department_id: str | None = OptionalIdentifier
    transaction_id: str | None = OptionalIdentifier
    fully_online: bool | None = None

    @model_validator(mode="after")
    def _check(self) -> UsageEvent:
        if self.action == "transaction":
            _require(self, ("service_id", "department_id", "transaction_id", "fully_online"),
                     "a transaction event")
        return self

    def db_row(self) -> tuple[Any, ...]:
        return (
            self.occurred_at, self.event_id, self.asset_id, self.action, self.user_key,
            self.channel, self.service_id, self.department_id, self.transaction_id,
            self.fully_online,
        )


class RatingEvent(EventBase):
    """好差评 (GB/T 39735-2020): a rating of a transaction, the rectification of a bad
    one, or the return visit after it. ``rating_id`` ties one rating's events together.

    ``level`` is the five-level scale: 5 非常满意, 4 满意, 3 基本满意, 2 不满意,
    1 非常不满意; 1 and 2 are bad ratings (差评)."""

    family: ClassVar[str] = "rating"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "occurred_at", "event_id", "asset_id", "action", "rating_id", "transaction_id",
        "service_id", "department_id", "channel", "level", "tags", "satisfied",
    )

    action: Literal["rated", "rectified", "return_visit"]
    rating_id: str = Identifier
    transaction_id: str | None = OptionalIdentifier
    service_id: str | None = OptionalIdentifier
    department_id: str | None = OptionalIdentifier
    channel: RatingChannel | None = None
    level: int | None = Field(default=None, ge=1, le=5)
    tags: tuple[str, ...] = Field(default=(), max_length=20)
    satisfied: bool | None = None  # return visit: None when the person was not reached

    @model_validator(mode="after")
    def _check(self) -> RatingEvent:
        if self.action == "rated":
            _require(self, ("service_id", "department_id", "channel", "level"), "a rated event")
        elif self.level is not None:
            raise ValueError(f"a {self.action} event carries no level")
        return self

    def db_row(self) -> tuple[Any, ...]:
        return (
            self.occurred_at, self.event_id, self.asset_id, self.action, self.rating_id,
            self.transaction_id, self.service_id, self.department_id, self.channel,
            self.level, list(self.tags), self.satisfied,
        )


WorkOrderAction = Literal[
    "created", "dispatched", "accepted", "responded", "fed_back", "completed",
    "returned", "reassigned", "reopened", "merged", "return_visit",
]
Satisfaction = Literal["satisfied", "basically_satisfied", "dissatisfied"]


class WorkOrderEvent(EventBase):
    """A step of a 12345 hotline work order (受理、派单、签收、响应、反馈、办结、退单/改派、
    重办、并单、回访). ``order_id`` ties one order's steps together; ``category`` names
    its time limits (the work-order categories configuration)."""

    family: ClassVar[str] = "hotline"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "occurred_at", "event_id", "asset_id", "order_id", "action", "category",
        "department_id", "subject_asset_id", "service_id", "district_id", "channel",
        "satisfaction", "merged_into",
    )

    order_id: str = Identifier
    action: WorkOrderAction
    category: str | None = OptionalIdentifier
    department_id: str | None = OptionalIdentifier
    subject_asset_id: str | None = OptionalIdentifier
    service_id: str | None = OptionalIdentifier
    district_id: str | None = OptionalIdentifier
    channel: Literal["phone", "web", "app", "mini_program", "wechat", "email"] | None = None
    satisfaction: Satisfaction | None = None
    merged_into: str | None = OptionalIdentifier

    @model_validator(mode="after")
    def _check(self) -> WorkOrderEvent:
        if self.action == "created":
            _require(self, ("category", "channel"), "a created event")
        elif self.action in ("dispatched", "reassigned"):
            _require(self, ("department_id",), f"a {self.action} event")
        elif self.action == "return_visit":
            _require(self, ("satisfaction",), "a return_visit event")
        elif self.action == "merged":
            _require(self, ("merged_into",), "a merged event")
            if self.merged_into == self.order_id:
                raise ValueError("an order cannot be merged into itself")
        if self.satisfaction is not None and self.action != "return_visit":
            raise ValueError("only a return_visit event carries satisfaction")
        return self

    def db_row(self) -> tuple[Any, ...]:
        return (
            self.occurred_at, self.event_id, self.asset_id, self.order_id, self.action,
            self.category, self.department_id, self.subject_asset_id, self.service_id,
            self.district_id, self.channel, self.satisfaction, self.merged_into,
        )


MODELS: dict[str, type[EventBase]] = {
    m.family: m for m in (
        IotEvent, VideoEvent, CloudEvent, SecurityEvent, ProbeEvent, DataEvent,
        UsageEvent, RatingEvent, WorkOrderEvent,
    )
}

TABLES: dict[str, str] = {
    "iot": "iot_events",
    "video": "video_events",
    "cloud": "cloud_events",
    "security": "security_events",
    "probe": "probe_events",
    "data": "data_events",
    "usage": "usage_events",
    "rating": "rating_events",
    "hotline": "hotline_events",
}


class EnvelopeHead(BaseModel):
    """The envelope's own fields; ``events`` is added per family by ``envelope_model``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    schema_version: Literal[1] = 1
    source: str | None = Field(default=None, max_length=128)


def envelope_model(family: str) -> type[EnvelopeHead]:
    """The envelope of one family: ``{"source": ..., "events": [...]}``."""
    item = MODELS[family]

    class Envelope(EnvelopeHead):
        events: list[item] = Field(min_length=1, max_length=100_000)  # type: ignore[valid-type]

    Envelope.__name__ = f"{item.__name__}Envelope"
    Envelope.__qualname__ = Envelope.__name__
    return Envelope


# occurred_at as the decoder's fast path accepts it: RFC 3339 with an explicit offset and
# at most microseconds, a strict subset of what AwareDatetime accepts, with the same
# meaning. Anything else (other separators, epoch numbers, ...) takes the full model.
# [0-9], not \d: the pattern engine's \d also matches non-ASCII digits.
RFC3339 = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)


def fast_model(family: str) -> type[BaseModel]:
    """The decoder's fast-path item model: the family's fields and constraints, minus its
    Python-level model validator (see ``check_many``), in ``COLUMNS`` order so that an
    instance's ``__dict__`` values are its row (one C-level call per event instead of
    one attribute read per column). Differences, all in how values are held:

    * occurred_at stays RFC 3339 text: PostgreSQL parses it (the sink stages it as text)
      and the decoder parses it with ``datetime.fromisoformat``, whose UTC datetimes
      share the stdlib's ``timezone.utc``: they compare and subtract ~15x faster than
      pydantic's per-value ``TzInfo``, and ingest compares every event's time often;
    * tuples are lists (what the row holds: a PostgreSQL array);
    * no schema_version: the only version is the default, and an item that names it
      is rejected here (extra field) and so takes the full model.
    """
    model = MODELS[family]
    if set(model.COLUMNS) != set(model.model_fields) - {"schema_version"}:
        raise TypeError(f"{model.__name__}: COLUMNS must name every field but schema_version")
    fields: dict[str, Any] = {}
    for name in model.COLUMNS:
        info = model.model_fields[name]
        annotation = info.annotation
        if name == "occurred_at":
            fields[name] = (str, Field(pattern=RFC3339))
            continue
        if get_origin(annotation) is tuple:
            item, *_ = get_args(annotation)
            annotation = list[item]  # type: ignore[valid-type]
            info = copy(info)
            info.default = []  # a tuple default (immutable) for a list field: copied per use
        fields[name] = (annotation, info)
    fast: type[BaseModel] = create_model(
        f"{model.__name__}Fast", __config__=ConfigDict(extra="forbid", frozen=True), **fields
    )
    return fast


def fast_envelope_model(family: str) -> type[EnvelopeHead]:
    """``envelope_model(family)`` with ``fast_model(family)`` items."""
    item = fast_model(family)

    class FastEnvelope(EnvelopeHead):
        events: list[item] = Field(min_length=1, max_length=100_000)  # type: ignore[valid-type]

    FastEnvelope.__name__ = FastEnvelope.__qualname__ = f"{MODELS[family].__name__}FastEnvelope"
    return FastEnvelope
