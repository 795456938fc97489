"""What a rule can read from an event: metrics to compare and fields to match.

A threshold compares a *metric* of each reading: any numeric field of the family's
event model, or a derived one (packet loss in percent, cloud utilisation in percent,
the number of picture faults). ``where`` / ``match`` compare fields with values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, get_args

from schemas.events import MODELS

Scalar = str | int | float | bool | None
Match = dict[str, Scalar | list[Scalar]]

Getter = Callable[[Any], float | None]


def _ratio_pct(num: str, den: str) -> Getter:
    def get(event: Any) -> float | None:
        n, d = getattr(event, num, None), getattr(event, den, None)
        if n is None or not d:
            return None
        return float(n) / float(d) * 100.0
    return get


def _max_of(*getters: Getter) -> Getter:
    def get(event: Any) -> float | None:
        values = [v for g in getters if (v := g(event)) is not None]
        return max(values) if values else None
    return get


_CPU = _ratio_pct("cpu_used_cores", "cpu_alloc_cores")
_MEM = _ratio_pct("mem_used_gb", "mem_alloc_gb")
_DISK = _ratio_pct("storage_used_gb", "storage_alloc_gb")
DERIVED: dict[str, dict[str, Getter]] = {
    "iot": {"packet_loss_pct": _ratio_pct("packets_lost", "packets_sent")},
    "probe": {"packet_loss_pct": _ratio_pct("packets_lost", "packets_sent")},
    "cloud": {"cpu_utilisation_pct": _CPU, "memory_utilisation_pct": _MEM,
              "storage_utilisation_pct": _DISK, "utilisation_pct": _max_of(_CPU, _MEM, _DISK)},
    "video": {"fault_count": lambda e: float(len(e.faults))},
    "data": {},
    "security": {},
}


def _numeric_fields(family: str) -> list[str]:
    out = []
    for name, info in MODELS[family].model_fields.items():
        args = set(get_args(info.annotation)) or {info.annotation}
        if args & {int, float} and bool not in args:
            out.append(name)
    return out


def metrics(family: str) -> list[str]:
    return sorted({*DERIVED.get(family, {}), *_numeric_fields(family)})


def metric_getter(family: str, name: str) -> Getter:
    derived = DERIVED.get(family, {}).get(name)
    if derived is not None:
        return derived

    def raw(event: Any) -> float | None:
        value = getattr(event, name, None)
        return None if value is None else float(value)
    return raw


def matches(where: Match, event: Any) -> bool:
    """Every field equals its value (or one of a list); a tuple field (video faults)
    matches when it holds any of the values."""
    for field, wanted in where.items():
        value = getattr(event, field, None)
        options = wanted if isinstance(wanted, list) else [wanted]
        if isinstance(value, tuple):
            if not any(v in options for v in value):
                return False
        elif value not in options:
            return False
    return True
