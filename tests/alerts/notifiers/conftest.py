"""Fixtures of the notifier tests: a loopback robot-service stand-in, one HTTP client, fake time.

None of these tests needs the broker; only the audit-to-timeline test uses the database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from alerts.notifiers.registry import http_client
from tests.alerts.notifiers.receiver import RobotServiceStandIn, running
from tests.alerts.notifiers.support import FakeTime, notify_settings


@pytest.fixture
def stand_in() -> Iterator[RobotServiceStandIn]:
    with running() as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    http = http_client(notify_settings(notify_timeout_seconds=0.5))
    try:
        yield http
    finally:
        await http.aclose()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()
