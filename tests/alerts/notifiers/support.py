"""Shared pieces of the notifier tests: a sample incident, a frozen clock, fake time, a fixed RNG."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from alerts.model import Notification, Recipient, Severity
from citybrain.kernel.settings import Settings

OPENED_AT = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)       # 18:00 in Shanghai
DUE_AT = OPENED_AT + timedelta(minutes=30)                    # the 30-minute response clock
NOW = datetime(2026, 3, 1, 10, 5, 30, 250_000, tzinfo=UTC)   # the frozen clock
INCIDENT_URL = "https://ops.example.cn/incidents/42"
ACK_URL = "https://ops.example.cn/incidents/42/ack?t=0f3a9c"


def frozen_clock() -> datetime:
    return NOW


def make_notification(**changes: object) -> Notification:
    """Step 1 of incident 42, as escalation builds it: the registry's Chinese names beside the ids."""
    values: dict[str, object] = {
        "incident_id": 42,
        "title": "门户网站不可用 portal-07",
        "severity": Severity.II,
        "status": "triggered",
        "department_id": "dept-07",
        "opened_at": OPENED_AT,
        "text": "探测连续 3 次失败\n最近一次: HTTP 503",
        "incident_url": INCIDENT_URL,
        "ack_url": ACK_URL,
        "step": 1,
        "department_name": "市数据局",
        "assets": (("portal-07", "市政务服务网"),),
        "asset_count": 1,
        "response_due_at": DUE_AT,
        "targets": ("oncall", "lead", "group"),
    }
    values.update(changes)
    return Notification(**values)  # type: ignore[arg-type]


def recipient(channel: str, address: str, name: str = "王伟", role: str = "oncall") -> Recipient:
    return Recipient(name=name, role=role, channel=channel, address=address)


def notify_settings(**changes: object) -> Settings:
    values: dict[str, object] = {"timezone": "Asia/Shanghai", "notify_timeout_seconds": 2.0}
    values.update(changes)
    return Settings(**values)  # type: ignore[arg-type]


@dataclass
class FakeTime:
    """A monotonic clock that only moves when ``sleep`` is awaited: retries without waiting."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class FixedRng:
    value: float = 0.5

    def random(self) -> float:
        return self.value


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
