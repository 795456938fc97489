"""Message → validated events, or dead letters with a reason. Never raises on bad input.

A message holds one event, or an envelope ``{"source": ..., "events": [...]}``. When an
envelope is valid except for some items, only those items are dead-lettered (each with
its own bytes and index); the rest are stored. Timestamps far in the future or absurdly
old (relative to processing time, which the caller passes) are contract errors too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from schemas.events import (
    MODELS,
    EnvelopeHead,
    EventBase,
    LivenessLevel,
    envelope_model,
    fast_envelope_model,
    fast_model,
)


@dataclass(frozen=True)
class Rejected:
    reason: str
    raw: bytes
    item_index: int | None = None  # position inside an envelope; None: the whole message


@dataclass
class Decoded:
    events: list[EventBase] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    # Envelope position of each event when some items were dropped; None: 0, 1, 2, ...
    positions: list[int] | None = None
    envelope: bool = False


@dataclass
class Columns:
    """A message's valid events column-wise, as the ingest step needs them, plus what
    was rejected. ``rows`` are ``db_row()`` tuples except that occurred_at (first) is
    RFC 3339 text, parsed by PostgreSQL (see ``fast_model``); ``times`` holds the same
    instants as datetimes. ``levels[i]`` is what event i says about liveness (None:
    nothing); ``levels`` is None when every event says "online" (the family is
    ALWAYS_UP)."""

    rows: list[tuple[Any, ...]]
    times: list[datetime]
    assets: list[str]
    levels: list[LivenessLevel | None] | None
    rejected: list[Rejected]


@dataclass
class Many:
    """Several messages decoded (``Decoder.decode_many``): the rows and times of all their
    valid events in message order, as in ``Columns``, and what was rejected, each with
    the position of its message."""

    rows: list[tuple[Any, ...]]
    times: list[datetime]
    rejected: list[tuple[int, Rejected]]


def describe(error: ValidationError, prefix: str = "") -> str:
    """A short, stable reason: ``field.path: message`` for each problem."""
    parts = []
    for e in error.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in e["loc"]) or "(message)"
        parts.append(f"{prefix}{loc}: {e['msg']}")
    return "; ".join(parts[:5]) + (f"; and {len(parts) - 5} more" if len(parts) > 5 else "")


class Decoder:
    def __init__(
        self,
        family: str,
        *,
        max_bytes: int,
        max_future_skew: timedelta,
        max_age: timedelta,
    ) -> None:
        self.family = family
        self.model = MODELS[family]
        self._one: TypeAdapter[EventBase] = TypeAdapter(self.model)
        self._envelope = envelope_model(family)
        self._fast_one = fast_model(family)
        self._fast_envelope = fast_envelope_model(family)
        self._levels = self.model.liveness_many
        self.max_bytes = max_bytes
        self.max_future_skew = max_future_skew
        self.max_age = max_age

    def decode(self, raw: bytes | None, processed_at: datetime) -> Decoded:
        out = Decoded()
        if not raw:
            out.rejected.append(Rejected("empty message", raw or b""))
            return out
        if len(raw) > self.max_bytes:
            out.rejected.append(
                Rejected(f"oversized message: {len(raw)} bytes > {self.max_bytes}", raw)
            )
            return out
        out.envelope = b'"events"' in raw
        # Fast path: pydantic parses and validates the bytes in one pass. Only when that
        # fails do we pay for a second look that finds out exactly what is wrong.
        try:
            if not out.envelope:
                out.events.append(self._one.validate_json(raw))
            else:
                out.events.extend(self._envelope.model_validate_json(raw).events)  # type: ignore[attr-defined]
        except ValidationError:
            out = self._diagnose(raw)
        if out.events:
            self._check_times(out, processed_at)
        return out

    def decode_columns(self, raw: bytes | None, processed_at: datetime) -> Columns:
        """Like ``decode``, column-wise. Fast path for well-formed messages: no model
        validator and no ``TzInfo`` datetimes per event (see ``fast_model``), times and
        model-level checks over whole columns. Anything it does not accept as is (bad
        input, unusual timestamp forms, out-of-range times) goes through ``decode``, so
        results and reasons are exactly those of the full models."""
        if raw and len(raw) <= self.max_bytes:
            try:
                items: list[Any]
                if b'"events"' in raw:
                    items = self._fast_envelope.model_validate_json(raw).events  # type: ignore[attr-defined]
                else:
                    items = [self._fast_one.model_validate_json(raw)]
                times = list(map(_from_iso, map(_occurred_at, items)))
            except (ValidationError, ValueError):
                pass
            else:
                if self._accepts(items, times, processed_at):
                    # fast_model: an item's __dict__ values are its row, in COLUMNS order.
                    rows = list(map(tuple, map(dict.values, map(_fields, items))))
                    return Columns(rows, times, list(map(_asset_id, items)), self._levels(items), [])
        out = self.decode(raw, processed_at)
        return Columns(
            [(e.occurred_at.isoformat(), *e.db_row()[1:]) for e in out.events],
            [e.occurred_at for e in out.events],
            [e.asset_id for e in out.events],
            None if self.model.ALWAYS_UP else [e.liveness() for e in out.events],
            out.rejected,
        )

    def _accepts(self, items: Sequence[Any], times: Sequence[datetime], processed_at: datetime) -> bool:
        """Whether fast-path items may be stored as they are: every time within the bounds
        and the model's own checks passed (else each takes the full model, for its reason)."""
        return (processed_at - self.max_age <= min(times)
                and max(times) <= processed_at + self.max_future_skew
                and self.model.check_many(items))

    def decode_many(self, raws: Sequence[bytes | None], processed_at: datetime) -> Many:
        """``decode_columns`` of each message, concatenated in message order. Runs of
        single-event messages take the fast path together: one pydantic call per message
        (each message is parsed on its own: joining their bytes into one JSON array would
        let a message's bytes pair up with its neighbour's), then the time bounds, the
        model-level checks and the rows over the whole run, as for an envelope's items.
        Envelopes, and anything the run's fast path does not accept as is, go through
        ``decode_columns``, so rows, times and reasons are exactly its."""
        out = Many([], [], [])
        run: list[Any] = []
        run_at: list[int] = []
        parse = self._fast_one.model_validate_json
        limit = self.max_bytes
        for index, raw in enumerate(raws):
            if raw and len(raw) <= limit and b'"events"' not in raw:
                try:
                    run.append(parse(raw))
                    run_at.append(index)
                    continue
                except ValidationError:
                    pass
            if run:
                self._add_run(out, run, run_at, raws, processed_at)
                run, run_at = [], []
            self._add_one(out, index, raw, processed_at)
        if run:
            self._add_run(out, run, run_at, raws, processed_at)
        return out

    def _add_run(self, out: Many, items: list[Any], at: list[int],
                 raws: Sequence[bytes | None], processed_at: datetime) -> None:
        try:
            times = list(map(_from_iso, map(_occurred_at, items)))
        except ValueError:
            pass
        else:
            if self._accepts(items, times, processed_at):
                out.rows += map(tuple, map(dict.values, map(_fields, items)))
                out.times += times
                return
        for index in at:  # some item is out of range or fails a check: exact reasons
            self._add_one(out, index, raws[index], processed_at)

    def _add_one(self, out: Many, index: int, raw: bytes | None, processed_at: datetime) -> None:
        one = self.decode_columns(raw, processed_at)
        out.rows += one.rows
        out.times += one.times
        out.rejected += [(index, r) for r in one.rejected]

    def _diagnose(self, raw: bytes) -> Decoded:
        out = Decoded()
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            out.rejected.append(Rejected(f"invalid JSON: {exc}", raw))
            return out
        if not isinstance(doc, dict):
            out.rejected.append(Rejected(f"expected a JSON object, got {type(doc).__name__}", raw))
            return out
        if "events" not in doc:
            try:
                out.events.append(self._one.validate_python(doc))
            except ValidationError as exc:
                out.rejected.append(Rejected(describe(exc), raw))
            return out
        items = doc.pop("events")
        out.envelope = True
        try:
            EnvelopeHead.model_validate(doc)
        except ValidationError as exc:
            out.rejected.append(Rejected(describe(exc), raw))
            return out
        if not isinstance(items, list) or not items:
            out.rejected.append(Rejected("events: expected a non-empty list of events", raw))
            return out
        # Some items are bad: validate one by one so only those are dead-lettered.
        out.positions = []
        for index, item in enumerate(items):
            try:
                out.events.append(self._one.validate_python(item))
                out.positions.append(index)
            except ValidationError as exc:
                out.rejected.append(
                    Rejected(describe(exc, f"events[{index}]."), _item_bytes(item), index)
                )
        return out

    def _check_times(self, out: Decoded, processed_at: datetime) -> None:
        latest = processed_at + self.max_future_skew
        earliest = processed_at - self.max_age
        times = list(map(_occurred_at, out.events))  # C-level loop: this runs per event
        if earliest <= min(times) and max(times) <= latest:
            return
        positions = out.positions or list(range(len(out.events)))
        kept: list[EventBase] = []
        kept_positions: list[int] = []
        for position, event in zip(positions, out.events, strict=True):
            if earliest <= event.occurred_at <= latest:
                kept.append(event)
                kept_positions.append(position)
                continue
            when = "in the future" if event.occurred_at > latest else "too old"
            reason = (
                f"occurred_at {event.occurred_at.isoformat()} is {when} "
                f"(processed at {processed_at.isoformat()})"
            )
            item = orjson.dumps(event.model_dump(mode="json", exclude_defaults=True))
            out.rejected.append(Rejected(reason, item, position if out.envelope else None))
        out.events, out.positions = kept, kept_positions


_occurred_at = attrgetter("occurred_at")
_asset_id = attrgetter("asset_id")
_fields = attrgetter("__dict__")
_from_iso = datetime.fromisoformat


def _item_bytes(item: Any) -> bytes:
    try:
        return orjson.dumps(item)
    except TypeError:
        return repr(item).encode()
