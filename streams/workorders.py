"""Placeholder while this session builds it: the fact step is not built yet."""

from __future__ import annotations

from typing import Any

import psycopg

from citybrain.kernel.settings import Settings
from streams.facts import FactDeriver


def deriver(settings: Settings) -> FactDeriver:
    async def derive(cur: psycopg.AsyncCursor[Any], stage: str) -> None:
        return None

    return derive
