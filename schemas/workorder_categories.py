"""12345 work-order categories and their time limits (``workorder_categories.yaml``).

A work order's ``category`` (``schemas.events.WorkOrderEvent``) names an entry of this
configuration, so it lives with the contract: the fact step (``streams/workorders.py``),
the simulator and the pages read the same file. Each category has up to three limits —
``response``, ``feedback`` (first feedback) and ``completion`` (final reply) — each in
clock time (``minutes`` or ``hours``, around the clock) or in ``working_days`` on the
official calendar (``citybrain.kernel.workdays``). The packaged file holds the defaults;
``CITYBRAIN_WORKORDER_CATEGORIES_FILE`` replaces it as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from citybrain.kernel.errors import CitybrainError
from citybrain.kernel.i18n import Catalogue
from citybrain.kernel.workdays import MAX_DAYS, WorkCalendar

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

DEFAULT_FILE = Path(__file__).with_name("workorder_categories.yaml")

LimitKind = Literal["response", "feedback", "completion"]
LIMIT_KINDS: tuple[LimitKind, ...] = ("response", "feedback", "completion")
CategoryId = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")


class CategoriesFileError(CitybrainError):
    """A work-order categories file that cannot be used."""


class Limit(BaseModel):
    """One time limit: exactly one of minutes, hours (clock time) or working days."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 366)
    hours: int | None = Field(default=None, ge=1, le=24 * 366)
    working_days: int | None = Field(default=None, ge=1, le=MAX_DAYS)

    @model_validator(mode="after")
    def _one_unit(self) -> Limit:
        given = [n for n in ("minutes", "hours", "working_days") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(_("a limit is exactly one of minutes, hours or working_days, not {given}")
                             .format(given=", ".join(given) or "none"))
        return self

    @property
    def clock(self) -> timedelta | None:
        """The limit as clock time; None for a limit in working days."""
        if self.minutes is not None:
            return timedelta(minutes=self.minutes)
        if self.hours is not None:
            return timedelta(hours=self.hours)
        return None

    def due(self, start: datetime, calendar: WorkCalendar, tz: ZoneInfo) -> datetime:
        """When the limit runs out for a clock started at ``start`` (UTC). Raises
        ``CalendarUnknown`` when a working-day count needs a year nobody described."""
        clock = self.clock
        if clock is not None:
            return start + clock
        assert self.working_days is not None
        return calendar.deadline(start, self.working_days, tz)


class Category(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name_zh: str = Field(min_length=1, max_length=100)
    name_en: str = Field(min_length=1, max_length=100)
    response: Limit | None = None
    feedback: Limit | None = None
    completion: Limit | None = None

    def limits(self) -> dict[LimitKind, Limit]:
        """The limits this category has, in the order response, feedback, completion."""
        out: dict[LimitKind, Limit] = {}
        for kind in LIMIT_KINDS:
            limit = getattr(self, kind)
            if limit is not None:
                out[kind] = limit
        return out

    @model_validator(mode="after")
    def _some_limit(self) -> Category:
        if not self.limits():
            raise ValueError(_("a category needs at least one of response, feedback, completion"))
        return self


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    categories: dict[str, Category] = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _ids(self) -> _File:
        class _Id(BaseModel):
            id: str = CategoryId

        for name in self.categories:
            _Id(id=name)
        return self


@dataclass(frozen=True)
class Categories:
    """The categories by id."""

    by_id: dict[str, Category]

    def get(self, category: str | None) -> Category | None:
        return self.by_id.get(category) if category else None


def load(path: Path | None = None) -> Categories:
    """The categories of ``path`` (None: the packaged defaults); a file that cannot be
    used raises ``CategoriesFileError`` naming the file and what is wrong."""
    source = path or DEFAULT_FILE
    try:
        raw: Any = yaml.safe_load(source.read_text(encoding="utf-8"))
        parsed = _File.model_validate(raw if raw is not None else {})
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise CategoriesFileError(_("cannot use the work-order categories file {file}: {error}").format(
            file=source, error=exc)) from exc
    return Categories(dict(parsed.categories))
