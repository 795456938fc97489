"""A small registry in the database for the maintenance and alerter tests."""

from __future__ import annotations

from typing import Any

import psycopg

from schemas.assets import import_registry
from schemas.registry import Registry

REGISTRY = Registry.model_validate({
    "departments": [
        {"department_id": "water", "name": "Water Authority",
         "first_responsible": {"name": "Chen Jie", "role": "first_responsible"},
         "contacts": [{"name": "Li Na", "role": "oncall", "email": "lina@water.example"}]},
        {"department_id": "roads", "name": "Roads Bureau",
         "first_responsible": {"name": "Qian Wei", "role": "first_responsible"}},
    ],
    "districts": [{"district_id": "east", "name": "East"}, {"district_id": "west", "name": "West"}],
    "assets": [
        {"asset_id": "pump-1", "kind": "iot_device", "department_id": "water", "district_id": "east",
         "expected_interval_s": 60, "registered_at": "2025-01-01T00:00:00+08:00", "tags": ["riverside"]},
        {"asset_id": "pump-2", "kind": "iot_device", "department_id": "water", "district_id": "west",
         "expected_interval_s": 60, "registered_at": "2025-01-01T00:00:00+08:00"},
        {"asset_id": "cam-9", "kind": "camera", "department_id": "roads", "district_id": "west",
         "expected_interval_s": 60, "registered_at": "2025-01-01T00:00:00+08:00"},
        {"asset_id": "portal-1", "kind": "portal", "department_id": "roads",
         "expected_interval_s": 60, "registered_at": "2025-01-01T00:00:00+08:00"},
    ],
})


def load(conn: psycopg.Connection[Any]) -> None:
    import_registry(conn, REGISTRY)
