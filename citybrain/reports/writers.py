"""JSON and CSV exports, the format dispatch, and the scorecard for a terminal.

Same document → same bytes: keys are written in a fixed order (the order built here),
numbers are the canonical 6-decimal values (``citybrain.reports.rows``), lists are in
the document's canonical order, and the only times in the output are ``generated_at``,
which the caller passes in, and the as-of times derived from it and the data. JSON is
UTF-8, indented by 2 spaces, ending with a newline.

CSV layout: ``# name: value`` lines with the provenance, the scorecard and the names
(indicators in the report's language, departments and districts as the registry names
them), the evaluation table (``evaluation.<row>``: each figure marked measured or assessed)
and the assessed figures with their evidence (``assessed.<item>.<scope>.<period>``), then
the data table whose bytes ``data_sha256`` hashes (so ``grep -v '^#'
report.csv | sha256sum`` checks it). The table keeps its ids in every language: names in
it would make the hash depend on the reader.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

import orjson
from rich.table import Table

from citybrain.indicators.model import Figure, IndicatorResult
from citybrain.kernel.i18n import DEFAULT_LANGUAGE, N_, Catalogue
from citybrain.reports.document import REPORT_FORMAT, ReportDocument, ReportError
from citybrain.reports.evaluation import assessed_dict, evaluation_dicts, evaluation_lines, provenance_texts
from citybrain.reports.presentation import Presentation, band_label, indicator_name, key_label, window_text
from citybrain.reports.rows import rounded, sorted_breakdowns, table_bytes
from citybrain.reports.scorecard import KeyScore
from citybrain.reports.text import WHOLE_CITY, provenance_lines, score_text

if TYPE_CHECKING:
    from citybrain.reports.pdf import ReportFont

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

Format = Literal["json", "csv", "xlsx", "pdf"]
FORMATS: tuple[Format, ...] = ("json", "csv", "xlsx", "pdf")


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
        "formula_zh": ind.formula_zh,
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
            # Assessed figures are not in the data rows: each is listed with its evidence.
            "assessed": [assessed_dict(v) for v in doc.assessed],
        },
        "scorecard": [_key_score(ks) for ks in doc.scorecard.keys],
        "indicators": [indicator_dict(r, weights) for r in doc.results],
        "evaluation": evaluation_dicts(doc),
    }


def render_json(doc: ReportDocument) -> bytes:
    return orjson.dumps(as_dict(doc), option=orjson.OPT_INDENT_2) + b"\n"


def name_lines(doc: ReportDocument, view: Presentation) -> list[tuple[str, str]]:
    """The CSV's legend: each indicator's name in the report's language
    (``name.<indicator id>``), then the registry's names of the departments and districts
    its breakdowns list (``department.<id>``, ``district.<id>``; only those with a name).
    The data table keeps its ids, so its bytes and data_sha256 are the same in every
    language."""
    lines = [(f"name.{r.indicator.id}", indicator_name(r.indicator, view.language)) for r in doc.results]
    members: set[tuple[str, str]] = set()
    for r in doc.results:
        for b in r.breakdowns:
            if b.dimension in ("department", "district"):
                members.add((b.dimension, b.member))
            elif b.dimension in ("department_day", "district_day"):
                members.add((b.dimension.removesuffix("_day"), b.member[:-11]))
    for dimension, ident in sorted(members):
        name = view.member(dimension, ident)
        if name != ident:
            lines.append((f"{dimension}.{ident}", name))
    return lines


def render_csv(doc: ReportDocument, view: Presentation | None = None) -> bytes:
    """Comment lines (provenance, scores, names) then the data table (see the module docstring)."""
    shown = view or Presentation(DEFAULT_LANGUAGE)
    head = [f"# {name}: {value}" for name, value in provenance_lines(doc, shown)]
    head += [f"# score.{ks.key}: {score_text(ks, shown.language)}" for ks in doc.scorecard.keys]
    head += [f"# {name}: {value}" for name, value in name_lines(doc, shown)]
    head += [f"# {name}: {value}" for name, value in evaluation_lines(doc, shown.language,
                                                                      dict(shown.departments))]
    head += [f"# {name}: {value}" for name, value in provenance_texts(doc, shown.language)]
    head.append("# the data table below is what data_sha256 hashes")
    text = "\n".join(line.replace("\n", " ") for line in head) + "\n"
    return text.encode("utf-8") + table_bytes(doc.rows)


def render(doc: ReportDocument, fmt: Format, *, view: Presentation | None = None,
           font: ReportFont | None = None) -> bytes:
    """``doc`` in ``fmt``. The XLSX, CSV and PDF are in ``view``'s language with its names
    (default: zh-CN, departments by id; the JSON is the same in every language); the PDF
    is set in ``font`` (default: ``find_font(None)``, the first known TrueType CJK font;
    callers with settings pass ``find_font(settings.report_font)``)."""
    shown = view or Presentation(DEFAULT_LANGUAGE)
    renderers: dict[str, Callable[[ReportDocument, Presentation], bytes]] = {
        "json": lambda d, _: render_json(d), "csv": render_csv}
    if fmt == "pdf":
        from citybrain.reports.pdf import find_font, render_pdf

        return render_pdf(doc, shown, font or find_font(None))
    if fmt == "xlsx":
        from citybrain.reports.workbook import render_xlsx

        return render_xlsx(doc, shown)
    if fmt not in renderers:
        raise ReportError(_("unknown report format {format}; use one of {formats}").format(
            format=repr(fmt), formats=", ".join(FORMATS)))
    return renderers[fmt](doc, shown)


def write_report(doc: ReportDocument, fmt: Format, target: str | os.PathLike[str] | BinaryIO, *,
                 view: Presentation | None = None, font: ReportFont | None = None) -> int:
    """Write the report in ``fmt`` to a path (atomically: a temporary file renamed into
    place, so a failed export leaves no half file) or to a binary stream. Returns bytes written."""
    data = render(doc, fmt, view=view, font=font)
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
        raise ReportError(_("cannot write the report to {path}: {error}; check the directory exists "
                            "and is writable").format(path=path, error=exc)) from exc
    return len(data)


# The terminal scorecard's columns in a reader's language.
SCORECARD_COLUMNS = (N_("Key"), N_("Score"), N_("Stage"), N_("Indicators scored"),
                     N_("Indicators without data"), N_("Without target"))


def render_scorecard(doc: ReportDocument, view: Presentation | None = None) -> Table:
    """The scorecard as a rich table (``citybrain report`` and the demo print it): in
    ``view``'s language with the keys' and stages' names; without one, in ids."""
    p = doc.provenance
    if view is None:
        title = (f"Scorecard {p.window_from_local} – {p.window_to_local} ({p.timezone}), "
                 f"{p.department or WHOLE_CITY}")
        caption = (f"data SHA-256 {p.data_sha256[:16]}…; bands: <55 preparation, <70 start-up, "
                   "<85 growth, ≥85 mature")
        headers: tuple[str, ...] = ("key", "score", "band", "scored", "no data", "no target")
    else:
        t, lang = view.t, view.language
        title = t.gettext("Scorecard {window}, {scope}").format(window=window_text(doc.window, lang),
                                                                scope=view.department(doc.department))
        caption = t.gettext("data SHA-256 {digest}…; stages: <55 {preparation}, <70 {startup}, <85 {growth}, "
                            "≥85 {mature}").format(
            digest=p.data_sha256[:16], preparation=band_label("preparation", lang),
            startup=band_label("start-up", lang), growth=band_label("growth", lang),
            mature=band_label("mature", lang))
        headers = tuple(t.gettext(h) for h in SCORECARD_COLUMNS)
    table = Table(title=title, caption=caption)
    for n, head in enumerate(headers):
        table.add_column(head, justify="left" if n in (0, 2, 4) else "right")
    for ks in doc.scorecard.keys:
        key = ks.key if view is None else key_label(ks.key, view.language)
        band = (ks.band or "–") if view is None else band_label(ks.band, view.language)
        table.add_row(key, "–" if ks.score is None else f"{ks.score:.2f}", band,
                      str(len(ks.scored)), ", ".join(ks.no_data) or "–", str(len(ks.no_target)))
    return table

