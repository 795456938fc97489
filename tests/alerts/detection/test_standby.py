"""One active alerter per schema: a second instance stands by until the first lets go."""

from __future__ import annotations

import threading

import pytest

from alerts.alerter import Alerter
from citybrain.errors import CitybrainError
from citybrain.settings import Settings


def test_a_second_alerter_waits_for_the_lock(database_url: str, schema: str) -> None:
    settings = Settings(database_url=database_url, database_schema=schema)
    first = Alerter(settings, "unused:9092", database_url)
    second = Alerter(settings, "unused:9092", database_url)
    halt = threading.Event()
    lock = first._lead(halt)
    timer = threading.Timer(1.5, halt.set)
    timer.start()
    with pytest.raises(CitybrainError, match="standing by"):
        second._lead(halt)                       # held by the first: it waited until halted
    other = Settings(database_url=database_url, database_schema=f"{schema}_other")
    Alerter(other, "unused:9092", database_url)._lead(threading.Event()).close()  # per schema
    lock.close()                                 # the first one stops (or dies)
    taken = second._lead(threading.Event())      # now the standby takes over at once
    taken.close()
