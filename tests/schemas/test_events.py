"""Contract tests: a valid and several invalid samples per family, and the envelope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from schemas.events import MODELS, envelope_model
from schemas.jsonschema_export import documents
from streams.decode import Decoder

T = "2026-11-21T08:00:00+08:00"

VALID: dict[str, dict[str, Any]] = {
    "iot": {"event_id": "e1", "asset_id": "iot-1", "occurred_at": T, "status": "degraded",
            "battery_pct": 12.5, "signal_dbm": -97, "rtt_ms": 40, "packets_sent": 20, "packets_lost": 2},
    "video": {"event_id": "e2", "asset_id": "cam-1", "occurred_at": T, "online": True,
              "stream_decodable": True, "fps": 25, "bitrate_kbps": 2048, "recording_ok": True,
              "faults": ["frozen", "blurred"], "clock_skew_s": 3.5},
    "cloud": {"event_id": "e3", "asset_id": "vm-1", "occurred_at": T, "kind": "request",
              "request_id": "req-1", "resource_type": "vm", "requested_at": T,
              "fulfilled_at": "2026-11-21T09:00:00+08:00", "agreed_lead_hours": 4},
    "security": {"event_id": "e4", "asset_id": "portal-1", "occurred_at": T, "source": "dlp",
                 "category": "data_leak", "level": "I", "title": "ID numbers mailed out",
                 "details": {"records": 1200}},
    "probe": {"event_id": "e5", "asset_id": "portal-1", "occurred_at": T, "target_kind": "portal",
              "ok": False, "status_code": 503, "latency_ms": 10000, "location": "probe-hq"},
    "data": {"event_id": "e6", "asset_id": "ds-1", "occurred_at": T, "action": "shared",
             "target_department": "traffic", "records": 10},
    "usage": {"event_id": "e7", "asset_id": "portal-1", "occurred_at": T, "action": "transaction",
              "user_key": "9f" * 32, "channel": "mini_program", "service_id": "svc-1",
              "department_id": "civil", "transaction_id": "tx-1", "fully_online": True},
    "rating": {"event_id": "e8", "asset_id": "haochaping", "occurred_at": T, "action": "rated",
               "rating_id": "r-1", "transaction_id": "tx-1", "service_id": "svc-1",
               "department_id": "civil", "channel": "hall", "level": 2, "tags": ["slow"]},
    "hotline": {"event_id": "e9", "asset_id": "hotline-12345", "occurred_at": T,
                "order_id": "wo-1", "action": "created", "category": "urgent", "channel": "phone",
                "subject_asset_id": "cam-1", "district_id": "d1"},
}

INVALID: dict[str, list[tuple[dict[str, Any], str]]] = {
    "iot": [({"status": "exploded"}, "status"), ({"packets_lost": 30}, "exceeds"),
            ({"battery_pct": 140}, "battery_pct"), ({"packets_sent": None}, "together")],
    "video": [({"online": "maybe"}, "online"), ({"faults": ["smudged"]}, "faults")],
    "cloud": [({"request_id": None}, "request_id"),
              ({"fulfilled_at": "2026-11-20T00:00:00+08:00"}, "before requested_at"),
              ({"kind": "usage"}, "allocated/used pair")],
    "security": [({"level": "V"}, "level"), ({"category": "ufo"}, "category")],
    "probe": [({"target_kind": "moon"}, "target_kind"), ({"status_code": 1200}, "status_code")],
    "data": [({"action": "quality_check"}, "passed"), ({"target_department": None}, "target_department"),
             ({"completeness": 1.5}, "completeness")],
    # A real-name id or a phone number in clear is refused: only the pseudonymous key fits.
    "usage": [({"user_key": "11010519491231002X"}, "user_key"), ({"user_key": "13800138000"}, "user_key"),
              ({"fully_online": None}, "fully_online"), ({"channel": "fax"}, "channel")],
    "rating": [({"level": 6}, "level"), ({"level": None}, "level"),
               ({"action": "rectified"}, "carries no level")],
    "hotline": [({"category": None}, "category"), ({"action": "completed", "satisfaction": "satisfied"},
                                                    "only a return_visit"),
                ({"action": "merged", "merged_into": "wo-1"}, "itself"),
                ({"action": "dispatched"}, "department_id")],
}


@pytest.mark.parametrize("family", sorted(MODELS))
def test_valid_sample_round_trips(family: str) -> None:
    event = MODELS[family].model_validate(VALID[family])
    assert event.occurred_at == datetime(2026, 11, 21, 0, 0, tzinfo=UTC)
    assert len(event.db_row()) == len(MODELS[family].COLUMNS)
    again = MODELS[family].model_validate_json(event.model_dump_json())
    assert again == event


@pytest.mark.parametrize(("family", "patch", "needle"),
                         [(f, p, n) for f, cases in INVALID.items() for p, n in cases])
def test_invalid_samples_name_the_problem(family: str, patch: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValidationError) as err:
        MODELS[family].model_validate({**VALID[family], **patch})
    assert needle in str(err.value)


@pytest.mark.parametrize("family", sorted(MODELS))
def test_common_fields_are_required_and_checked(family: str) -> None:
    for missing in ("event_id", "asset_id", "occurred_at"):
        body = {k: v for k, v in VALID[family].items() if k != missing}
        with pytest.raises(ValidationError, match=missing):
            MODELS[family].model_validate(body)
    with pytest.raises(ValidationError, match="timezone"):
        MODELS[family].model_validate({**VALID[family], "occurred_at": "2026-11-21T08:00:00"})
    with pytest.raises(ValidationError, match="Extra inputs"):
        MODELS[family].model_validate({**VALID[family], "surprise": 1})
    with pytest.raises(ValidationError, match="asset_id"):
        MODELS[family].model_validate({**VALID[family], "asset_id": "has space"})


@pytest.mark.parametrize("family", sorted(MODELS))
def test_envelope_holds_many_events(family: str) -> None:
    items = [{**VALID[family], "event_id": f"e{i}"} for i in range(3)]
    env = envelope_model(family).model_validate({"source": "gw-1", "events": items})
    assert [e.event_id for e in env.events] == ["e0", "e1", "e2"]  # type: ignore[attr-defined]
    with pytest.raises(ValidationError):
        envelope_model(family).model_validate({"events": []})


def test_decoder_separates_good_items_from_bad_ones() -> None:
    now = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)
    d = Decoder("iot", max_bytes=10_000, max_future_skew=timedelta(minutes=5),
                max_age=timedelta(days=30))
    good = VALID["iot"]
    raw = orjson.dumps({"events": [good, {**good, "event_id": "x", "status": "?"},
                                   {**good, "event_id": "late", "occurred_at": "2020-01-01T00:00:00Z"},
                                   {**good, "event_id": "y"}]})
    out = d.decode(raw, now)
    assert [e.event_id for e in out.events] == ["e1", "y"]
    assert [(r.item_index, r.reason.split(":")[0]) for r in out.rejected] == [
        (1, "events[1].status"), (2, "occurred_at 2020-01-01T00"),
    ]
    assert orjson.loads(out.rejected[0].raw)["event_id"] == "x"
    assert d.decode(b"x" * 10_001, now).rejected[0].reason.startswith("oversized message")
    assert d.decode(b"", now).rejected[0].reason == "empty message"
    future = orjson.dumps({**good, "occurred_at": (now + timedelta(hours=1)).isoformat()})
    assert "in the future" in d.decode(future, now).rejected[0].reason


def test_committed_json_schemas_are_up_to_date() -> None:
    folder = Path(__file__).resolve().parents[2] / "schemas" / "jsonschema"
    expected = documents()
    on_disk = {p.name: p.read_bytes() for p in folder.glob("*.json")}
    assert on_disk == expected, "run: citybrain schemas export schemas/jsonschema"
