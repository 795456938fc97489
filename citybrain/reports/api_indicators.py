"""``GET /api/v1/indicators`` (the catalogue) and ``GET /api/v1/indicators/{id}`` (one figure).

A figure is data as much as a report is: each read is an audit entry (``indicator.read``),
committed before the figure is sent. The catalogue (definitions only) is not audited.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status

from citybrain.indicators.catalogue import load_catalogue
from citybrain.indicators.engine import WorkHours, compute
from citybrain.indicators.model import DIMENSIONS, Indicator
from citybrain.kernel import audit
from citybrain.kernel.errors import CitybrainError
from citybrain.kernel.http.access import Caller, scoped_department
from citybrain.kernel.http.deps import Conn, commit, settings
from citybrain.kernel.http.errors import unavailable
from citybrain.kernel.i18n import Catalogue
from citybrain.kernel.settings import Settings
from citybrain.reports.query import WindowQuery, window_from_query
from citybrain.reports.writers import indicator_dict

router = APIRouter(tags=["indicators"])
MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current
Reader = Caller


def _definition(ind: Indicator) -> dict[str, Any]:
    return {
        "id": ind.id, "key": ind.key, "name_en": ind.name_en, "name_zh": ind.name_zh,
        "unit": ind.unit, "direction": ind.direction, "target": ind.target,
        "formula": ind.formula, "formula_zh": ind.formula_zh, "version": ind.version,
        "sql_file": ind.sql_file,
        "availability": ind.availability, "breakdowns": list(ind.breakdowns), "weight": ind.weight,
    }


@router.get("/indicators", summary="The indicator catalogue")
def catalogue(who: Reader) -> list[dict[str, Any]]:
    return [_definition(i) for i in load_catalogue()]


@router.get("/indicators/{indicator_id}", summary="One indicator over a window")
def indicator(
    indicator_id: str,
    who: Reader,
    conn: Conn,
    window: Annotated[WindowQuery, Depends()],
    cfg: Annotated[Settings, Depends(settings)],
    group_by: Annotated[str | None, Query(
        description="comma-separated breakdowns to return (default: all the indicator has), "
                    "e.g. department,day")] = None,
) -> dict[str, Any]:
    found = {i.id: i for i in load_catalogue()}
    ind = found.get(indicator_id)
    if ind is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            _("no indicator {indicator}; GET /api/v1/indicators lists them").format(
                                indicator=repr(indicator_id)))
    wanted = _dimensions(group_by, ind)
    win = window_from_query(window, cfg)
    department = scoped_department(who, window.department)
    try:
        # The request is the boundary where the clock is read: the figures cover the window
        # up to now (README, "As of").
        result = compute(conn, ind, win, department=department, work_hours=WorkHours.of(cfg),
                         now=datetime.now(UTC))
    except CitybrainError as exc:
        raise unavailable(exc, cfg) from exc
    body = indicator_dict(result)
    body["breakdowns"] = [b for b in body["breakdowns"] if b["dimension"] in wanted]
    body["window"] = {"from": win.start.isoformat(), "to": win.end.isoformat(), "timezone": win.tz.key}
    if result.as_of is not None:
        body["as_of"] = {"at": result.as_of.at.isoformat(),
                         "feeds": {feed: at.isoformat() for feed, at in result.as_of.feeds}}
    body["department"] = department
    audit.record(conn, who.actor, "indicator.read", ind.id, {
        "from": win.start.isoformat(), "to": win.end.isoformat(), "timezone": win.tz.key,
        "department": department, "group_by": sorted(wanted)})
    commit(conn, _("the read of {indicator}").format(indicator=ind.id))
    return body


def _dimensions(group_by: str | None, ind: Indicator) -> set[str]:
    if group_by is None or not group_by.strip():
        return set(ind.breakdowns)
    asked = {g.strip() for g in group_by.split(",") if g.strip()}
    unknown = sorted(asked - set(DIMENSIONS))
    if unknown:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            _("unknown group_by {unknown}; one of {dimensions}").format(
                                unknown=", ".join(unknown), dimensions=", ".join(DIMENSIONS)))
    missing = sorted(asked - set(ind.breakdowns))
    if missing:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            _("{indicator} has no breakdown by {missing}; it has: {breakdowns}").format(
                                indicator=ind.id, missing=", ".join(missing),
                                breakdowns=", ".join(ind.breakdowns) or _("none")))
    return asked
