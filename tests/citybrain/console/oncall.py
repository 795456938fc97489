"""Fixtures of the on-call pages' tests: the incident tests' registry and water incident
(``tests.alerts.incidents``), a link secret, a real SMTP server on loopback for the codes,
and the whole app on a frozen clock, spoken to over HTTPS as the console's cookie needs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from alerts.incidents import store as incidents
from alerts.model import Severity
from citybrain.api.app import create_app
from citybrain.kernel.settings import Settings
from tests.alerts.incidents.conftest import T0, alert, city, connect, inc_settings, pager
from tests.alerts.incidents.loopback import Mail, smtp_server
from tests.alerts.incidents.test_ack_link import (
    Clock,
    clock,
    link_settings,
    water_incident,
)
from tests.citybrain.console.support import code_for

__all__ = ["BASE", "Box", "Clock", "app_client", "audited", "box", "city", "client", "clock", "connect",
           "console_settings", "inc_settings", "link_settings", "pager", "roads_incident", "sessions",
           "water_incident"]

BASE = "https://testserver"


class Box:
    def __init__(self, port: int, mails: list[Mail]) -> None:
        self.port, self.messages = port, mails

    def code_for(self, address: str) -> str:
        return code_for(self.messages, address)


@pytest.fixture
def box() -> Iterator[Box]:
    with smtp_server() as (port, mails):
        yield Box(port, mails)


@pytest.fixture
def console_settings(link_settings: Settings, box: Box, tmp_path: Path) -> Settings:
    return link_settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": box.port,
                                            "data_dir": tmp_path})


def app_client(database_url: str, settings: Settings, clock: Clock,
               **headers: str) -> TestClient:
    return TestClient(create_app(settings, database_url, clock=clock), base_url=BASE, headers=headers)


@pytest.fixture
def client(database_url: str, console_settings: Settings, city: psycopg.Connection[Any],
           clock: Clock) -> Iterator[TestClient]:
    with app_client(database_url, console_settings, clock) as c:
        yield c


def sessions(db: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return db.execute("SELECT actor_id, person, role, department_id, incident_id, signed_in_with, expires_at"
                      " FROM console_sessions ORDER BY created_at").fetchall()


def audited(db: psycopg.Connection[Any], action: str) -> list[tuple[Any, ...]]:
    return db.execute("SELECT actor, subject, details FROM audit_log WHERE action = %s ORDER BY id",
                      (action,)).fetchall()


def roads_incident(db: psycopg.Connection[Any], settings: Settings) -> int:
    iid = incidents.apply(db, alert("cam-9", rule="camera-offline", severity=Severity.II),
                          now=T0, settings=settings).incident_id
    assert iid is not None
    return iid
