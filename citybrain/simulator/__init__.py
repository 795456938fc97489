"""A simulated city that produces all six event families, with realistic failures.

``build_city`` makes the asset register, ``plan_scenario`` the injected failures (the
ground truth), ``generate`` the message stream in event-time order, and ``output`` puts
it on Kafka or in a JSON-lines file. Time is always a parameter: nothing reads the clock.
"""

from __future__ import annotations

from .city import CityConfig, build_city
from .feed import generate
from .message import SimMessage
from .scenario import FAILURE_KINDS, InjectedFailure, Scenario, plan_scenario

__all__ = [
    "FAILURE_KINDS",
    "CityConfig",
    "InjectedFailure",
    "Scenario",
    "SimMessage",
    "build_city",
    "generate",
    "plan_scenario",
]
