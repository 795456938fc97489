"""Deliberately bad messages: what real gateways, collectors and retries put on the wire.

Each variant starts from an event that would validate and breaks exactly one thing, so
a test can tell that the platform rejects the message for the right reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from .clock import iso

# Kafka's default message.max.bytes is 1 MiB: just over it, yet under the producer's
# max_request_size, so the broker accepts it and the platform's own size check must act.
OVERSIZED_BYTES = int(1.1 * (1 << 20))


def sample_event(family: str, asset_id: str, epoch: int, event_id: str) -> dict[str, Any]:
    """A small event of ``family`` that validates against its model."""
    event: dict[str, Any] = {"event_id": event_id, "asset_id": asset_id,
                             "occurred_at": iso(epoch)}
    if family == "iot":
        event.update(kind="heartbeat", status="ok", signal_dbm=-81.5)
    elif family == "video":
        event.update(online=True, stream_decodable=True, fps=25.0, recording_ok=True)
    elif family == "cloud":
        event.update(kind="usage", cpu_alloc_cores=16.0, cpu_used_cores=4.5)
    elif family == "security":
        event.update(source="ids", category="other", level="IV", title="Port scan blocked")
    elif family == "probe":
        event.update(target_kind="portal", ok=True, status_code=200, latency_ms=182.0)
    elif family == "data":
        event.update(action="opened")
    else:
        raise ValueError(f"unknown family {family!r}")
    return event


# One field per family set to a value of the wrong type (not one pydantic would coerce).
_WRONG_TYPE: dict[str, tuple[str, object]] = {
    "iot": ("signal_dbm", "weak"), "video": ("fps", "twenty-five"),
    "cloud": ("cpu_used_cores", "four"), "security": ("level", 3),
    "probe": ("ok", "perhaps"), "data": ("records", "many"),
}

# One field per family set to a value of the right type but out of range.
_BAD_VALUE: dict[str, dict[str, object]] = {
    "iot": {"battery_pct": 150.0}, "video": {"fps": 1000.0},
    "cloud": {"cpu_used_cores": -1.0}, "security": {"level": "V"},
    "probe": {"packets_sent": 10, "packets_lost": 12}, "data": {"completeness": 1.7},
}


def _far_future(epoch: int) -> str:
    text = iso(epoch)
    text = f"{int(text[:4]) + 100:04d}{text[4:]}"
    return text.replace("-02-29T", "-02-28T")


def _oversized(event: dict[str, Any]) -> bytes:
    line = "2025 kernel: audit type=1400 apparmor=DENIED operation=open profile=nginx\n"
    event.update(source="siem", category="other", level="IV",
                 title="SIEM forwarded an entire raw log batch")
    event["details"] = {"raw_log": line * (OVERSIZED_BYTES // len(line) + 1)}
    return orjson.dumps(event)


def _bad_envelope(gateway_id: str, children: Sequence[str], epoch: int, tag: str) -> bytes:
    members = list(children[:5]) or [gateway_id]
    events = []
    for n, asset_id in enumerate(members):
        event = sample_event("iot", asset_id, epoch, f"{asset_id}:iot:{tag}:{n}")
        event["kind"] = "telemetry"
        events.append(event)
    # One item only: the rest of the envelope is good and must still be ingested.
    events[len(events) // 2]["battery_pct"] = 150.0
    return orjson.dumps({"source": gateway_id, "events": events})


def malformed_value(variant: str, family: str, asset_id: str, epoch: int, tag: str,
                    children: Sequence[str] = ()) -> bytes:
    """The bytes of a ``variant`` message; ``tag`` makes its event ids unique."""
    event = sample_event(family, asset_id, epoch, f"{asset_id}:{family}:{tag}")
    if variant == "bad_json":
        text = orjson.dumps(event)
        return text[: len(text) // 2]
    if variant == "wrong_type":
        name, value = _WRONG_TYPE[family]
        event[name] = value
    elif variant == "missing_field":
        del event["occurred_at"]
    elif variant == "epoch_1970":
        event["occurred_at"] = "1970-01-01T00:00:00Z"
    elif variant == "far_future":
        event["occurred_at"] = _far_future(epoch)
    elif variant == "oversized":
        return _oversized(event)
    elif variant == "bad_envelope_item":
        return _bad_envelope(asset_id, children, epoch, tag)
    elif variant == "non_utf8":
        # Chinese text from a collector configured for GBK, not UTF-8.
        event["title"] = "数据库弱口令告警"
        return orjson.dumps(event).decode().encode("gbk")
    elif variant == "naive_timestamp":
        # Local (UTC+8) wall time with no offset, as devices with a bad clock setting send.
        event["occurred_at"] = iso(epoch + 8 * 3600)[:-1]
    elif variant == "unknown_field":
        event["firmware_note"] = "vendor extension"
    elif variant == "bad_value":
        event.update(_BAD_VALUE[family])
    elif variant == "not_an_object":
        return orjson.dumps([event])
    elif variant == "empty":
        return b""
    else:
        raise ValueError(f"unknown malformed variant {variant!r}")
    return orjson.dumps(event)
