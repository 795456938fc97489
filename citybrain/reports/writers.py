"""JSON and CSV exports, the format dispatch, and the scorecard for a terminal.

Same document → same bytes: keys are written in a fixed order (the order built here),
numbers are the canonical 6-decimal values (``citybrain.reports.rows``), lists are in
the document's canonical order, and the only times in the output are ``generated_at``,
which the caller passes in, and the as-of times derived from it and the data. JSON is
UTF-8, indented by 2 spaces, ending with a newline.

CSV layout: ``# name: value`` lines with the provenance and the scorecard, then the data
table whose bytes ``data_sha256`` hashes (so ``grep -v '^#' report.csv | sha256sum``
checks it).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Literal

import orjson
from rich.table import Table

from citybrain.indicators.model import Figure, IndicatorResult
from citybrain.reports.document import REPORT_FORMAT, ReportDocument, ReportError
from citybrain.reports.rows import rounded, sorted_breakdowns, table_bytes
from citybrain.reports.scorecard import KeyScore
from citybrain.reports.text import WHOLE_CITY, provenance_lines, score_text

Format = Literal["json", "csv", "xlsx"]
FORMATS: tuple[Format, ...] = ("json", "csv", "xlsx")


def _figure(fig: Figure, availability: bool) -> dict[str, Any]:
    return {
        "value": rounded(fig.value),
        "numerator": rounded(fig.numerator),
        "denominator": rounded(fig.denominator),
        # Availability indicators only; null for the others (kept so every entry has one shape).
        "adjusted_value": rounded(fig.adjusted_value) if availability else None,
        "unknown_share": rounded(fig.unknown_share) if availability else None,
    }


def indicator_dict(r: IndicatorResult, weights: Mapping[str, float] | None = None) -> dict[str, Any]:
    """One indicator's entry in the JSON export (also served by the API): definition,
    figure, met and breakdowns. ``weights``: the weights in force (default: the catalogue's)."""
    ind = r.indicator
    return {
        "id": ind.id,
        "key": ind.key,
        "name_en": ind.name_en,
        "name_zh": ind.name_zh,
        "version": ind.version,
        "unit": ind.unit,
        "direction": ind.direction,
        "target": rounded(ind.target),
        "weight": rounded(weights.get(ind.id, ind.weight) if weights is not None else ind.weight),
        "formula": ind.formula,
        "availability": ind.availability,
        **_figure(r.figure, ind.availability),
        "met": r.met,
        "breakdowns": [{"dimension": b.dimension, "member": b.member, **_figure(b.figure, ind.availability)}
                       for b in sorted_breakdowns(r)],
    }


def _key_score(ks: KeyScore) -> dict[str, Any]:
    return {
        "key": ks.key,
        "score": ks.score,
        "band": ks.band,
        "scored": [{"id": s.id, "weight": rounded(s.weight), "attainment": rounded(s.attainment)}
                   for s in ks.scored],
        "no_data": list(ks.no_data),
        "no_target": list(ks.no_target),
        "zero_weight": list(ks.zero_weight),
    }


def as_dict(doc: ReportDocument) -> dict[str, Any]:
    """The JSON export as plain data (also what the API returns)."""
    p, c = doc.provenance, doc.provenance.completeness
    weights = dict(doc.scorecard.weights)
    return {
        "format": REPORT_FORMAT,
        "provenance": {
            "window": {"from": p.window_from_local, "to": p.window_to_local,
                       "from_utc": p.window_from_utc, "to_utc": p.window_to_utc, "to_exclusive": True},
            "as_of": {"at": p.as_of_utc, "at_local": p.as_of_local, "feeds": dict(p.as_of_feeds)},
            "timezone": p.timezone,
            "department": p.department,
            "generated_at": p.generated_at_utc,
            "generated_at_local": p.generated_at_local,
            "generated_by": p.generated_by,
            "software_version": p.software_version,
            "weights": p.weights_source,
            "data_completeness": {
                "indicators": c.indicators,
                "with_data": c.with_data,
                "share_with_data": rounded(c.share_with_data),
                "without_data": list(c.without_data),
                "worst_unknown_share": c.worst_unknown_share,
                "worst_unknown_indicator": c.worst_unknown_indicator,
            },
            "retroactive_maintenance": {"count": len(p.retroactive_maintenance),
                                        "window_ids": list(p.retroactive_maintenance)},
            "late_evidence": dict(p.late_evidence),
            "row_format": p.row_format,
            "data_rows": p.data_rows,
            "data_sha256": p.data_sha256,
        },
        "scorecard": [_key_score(ks) for ks in doc.scorecard.keys],
        "indicators": [indicator_dict(r, weights) for r in doc.results],
    }


def render_json(doc: ReportDocument) -> bytes:
    return orjson.dumps(as_dict(doc), option=orjson.OPT_INDENT_2) + b"\n"


def render_csv(doc: ReportDocument) -> bytes:
    head = [f"# {name}: {value}" for name, value in provenance_lines(doc)]
    head += [f"# score.{ks.key}: {score_text(ks)}" for ks in doc.scorecard.keys]
    head.append("# the data table below is what data_sha256 hashes")
    text = "\n".join(line.replace("\n", " ") for line in head) + "\n"
    return text.encode("utf-8") + table_bytes(doc.rows)


def render(doc: ReportDocument, fmt: Format) -> bytes:
    renderers: dict[str, Callable[[ReportDocument], bytes]] = {"json": render_json, "csv": render_csv}
    if fmt == "xlsx":
        from citybrain.reports.workbook import render_xlsx

        return render_xlsx(doc)
    if fmt not in renderers:
        raise ReportError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")
    return renderers[fmt](doc)


def write_report(doc: ReportDocument, fmt: Format, target: str | os.PathLike[str] | BinaryIO) -> int:
    """Write the report in ``fmt`` to a path (atomically: a temporary file renamed into
    place, so a failed export leaves no half file) or to a binary stream. Returns bytes written."""
    data = render(doc, fmt)
    if not isinstance(target, str | os.PathLike):
        target.write(data)
        return len(data)
    path = Path(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ReportError(f"cannot write the report to {path}: {exc}; check the directory exists "
                          "and is writable") from exc
    return len(data)


def render_scorecard(doc: ReportDocument) -> Table:
    """The scorecard as a rich table (the demo prints it)."""
    p = doc.provenance
    table = Table(title=f"Scorecard {p.window_from_local} – {p.window_to_local} ({p.timezone}), "
                        f"{p.department or WHOLE_CITY}",
                  caption=f"data SHA-256 {p.data_sha256[:16]}…; bands: <55 preparation, <70 start-up, "
                          "<85 growth, ≥85 mature")
    table.add_column("key")
    table.add_column("score", justify="right")
    table.add_column("band")
    table.add_column("scored", justify="right")
    table.add_column("no data")
    table.add_column("no target", justify="right")
    for ks in doc.scorecard.keys:
        table.add_row(ks.key, "–" if ks.score is None else f"{ks.score:.2f}", ks.band or "–",
                      str(len(ks.scored)), ", ".join(ks.no_data) or "–", str(len(ks.no_target)))
    return table

