"""Fixtures of the incident tests: a small registry, settings on a frozen clock, the pager.

The registry: department ``water`` (with a Chinese name, as its pump-1) has an on-call
contact with an e-mail, one reachable by IM only, a lead and a first responsible person;
``roads`` has nobody with an e-mail
(every step there reaches nobody); ``ops-centre`` holds the duty supervisor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest

from alerts.incidents.escalation import NotifierThread
from alerts.model import Alert, Severity
from alerts.notifiers.delivery import RetryPolicy
from alerts.notifiers.email import EmailNotifier, SmtpConfig
from alerts.notifiers.registry import NotifierRegistry
from alerts.notifiers.webhook import WebhookNotifier
from citybrain.kernel import store
from citybrain.kernel.settings import Settings
from schemas.assets import import_registry
from schemas.registry import Registry
from tests.alerts.incidents.loopback import Mail, smtp_server

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)   # 09:00 in Asia/Shanghai, a Monday

REGISTRY = Registry.model_validate({
    "departments": [
        {"department_id": "water", "name": "Water Authority", "name_zh": "市水务局",
         "first_responsible": {"name": "Chen Jie", "role": "first_responsible",
                               "email": "chen@water.example"},
         "contacts": [
             {"name": "Li Na", "role": "oncall", "email": "lina@water.example"},
             {"name": "Sun Hao", "role": "oncall", "im": "wecom:sunhao"},
             {"name": "Zhao Min", "role": "lead", "email": "zhao@water.example"},
         ]},
        {"department_id": "roads", "name": "Roads Bureau",
         "first_responsible": {"name": "Qian Wei", "role": "first_responsible", "phone": "+86-1"},
         "contacts": [{"name": "Zhou Lan", "role": "oncall", "im": "wecom:zhoulan"}]},
        {"department_id": "ops-centre", "name": "City Operations Centre",
         "first_responsible": {"name": "He Ping", "role": "first_responsible"},
         "contacts": [{"name": "Wang Fang", "role": "duty_supervisor", "email": "wang@ops.example"}]},
    ],
    "districts": [{"district_id": "xihu", "name": "Xihu"}],
    "assets": [
        {"asset_id": "pump-1", "name": "Pump 1", "name_zh": "1号水泵", "kind": "iot_device",
         "department_id": "water", "district_id": "xihu",
         "expected_interval_s": 60, "registered_at": "2025-01-01T00:00:00+08:00"},
        {"asset_id": "pump-2", "kind": "iot_device", "department_id": "water", "district_id": "xihu",
         "expected_interval_s": 60, "registered_at": "2025-01-01T00:00:00+08:00"},
        {"asset_id": "cam-9", "kind": "camera", "department_id": "roads",
         "expected_interval_s": 60, "registered_at": "2025-01-01T00:00:00+08:00"},
    ],
})


@pytest.fixture
def city(db: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    import_registry(db, REGISTRY)
    return db


@pytest.fixture
def inc_settings(database_url: str, schema: str) -> Settings:
    return Settings(database_url=database_url, database_schema=schema,
                    operations_centre_department="ops-centre", public_url="https://citybrain.test")


ConnFactory = Callable[[], AbstractContextManager[psycopg.Connection[Any]]]


@pytest.fixture
def connect(database_url: str, schema: str) -> ConnFactory:
    return lambda: store.connect(database_url, schema)


def alert(asset: str = "pump-1", *, rule: str = "device-offline", severity: Severity = Severity.III,
          firing: bool = True, department: str | None = None, affected: tuple[str, ...] = (),
          at: datetime = T0, fingerprint: str | None = None) -> Alert:
    return Alert(rule_id=rule, fingerprint=fingerprint or f"{rule}:{asset}", title=f"{asset} offline",
                 severity=severity, event_at=at, firing=firing, asset_id=asset, department_id=department,
                 affected=affected)


class Pager:
    """Escalation's real delivery path (alerts.notifiers over one private loop) to loopback
    receivers: e-mail to an SMTP server, webhooks to an HTTP server."""

    def __init__(self, smtp_port: int, mails: list[Mail]) -> None:
        self.mails = mails
        tz = ZoneInfo("Asia/Shanghai")
        config = SmtpConfig(host="127.0.0.1", port=smtp_port, sender="citybrain@ops.example", timeout=5)

        def registry() -> NotifierRegistry:
            client = httpx.AsyncClient(timeout=5, trust_env=False)
            return NotifierRegistry([WebhookNotifier(client, tz), EmailNotifier(config, tz, lambda: T0)],
                                    client=client)
        self.notify = NotifierThread(registry, retry=RetryPolicy(attempts=1))

    def recipients(self) -> list[tuple[str, ...]]:
        return [m.to for m in self.mails]


@pytest.fixture
def pager() -> Iterator[Pager]:
    with smtp_server() as (port, mails):
        p = Pager(port, mails)
        try:
            yield p
        finally:
            p.notify.close()
