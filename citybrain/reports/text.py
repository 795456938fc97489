"""The report's text lines shared by the CSV and XLSX exports and the terminal: the
provenance as (name, value) pairs, a key's score in words, and the whole-city label.

Kept apart from ``citybrain.reports.writers`` (which dispatches to the XLSX export) so that
``citybrain.reports.workbook`` can use them without an import cycle.
"""

from __future__ import annotations

from citybrain.reports.document import REPORT_FORMAT, ReportDocument
from citybrain.reports.rows import number_text
from citybrain.reports.scorecard import KeyScore

WHOLE_CITY = "(whole city)"


def provenance_lines(doc: ReportDocument) -> list[tuple[str, str]]:
    """(name, value) pairs shared by the CSV comment block and the XLSX provenance sheet."""
    p, c = doc.provenance, doc.provenance.completeness
    share = number_text(c.share_with_data)
    worst = ("" if c.worst_unknown_share is None
             else f"{number_text(c.worst_unknown_share)} ({c.worst_unknown_indicator})")
    return [
        ("format", REPORT_FORMAT),
        ("window_from", p.window_from_local),
        ("window_to", f"{p.window_to_local} (exclusive)"),
        ("window_from_utc", p.window_from_utc),
        ("window_to_utc", f"{p.window_to_utc} (exclusive)"),
        ("as_of", p.as_of_utc),
        ("as_of_local", p.as_of_local),
        ("as_of_feeds", ", ".join(f"{feed} {at}" for feed, at in p.as_of_feeds)),
        ("timezone", p.timezone),
        ("department", p.department or WHOLE_CITY),
        ("generated_at", p.generated_at_utc),
        ("generated_at_local", p.generated_at_local),
        ("generated_by", p.generated_by),
        ("software_version", p.software_version),
        ("weights", p.weights_source),
        ("indicators_with_data",
         f"{c.with_data} of {c.indicators}" + (f" ({share})" if share else "")),
        ("indicators_without_data", ", ".join(c.without_data)),
        ("worst_unknown_share", worst),
        ("retroactive_maintenance", str(len(p.retroactive_maintenance)) + (
            f" (windows {', '.join(map(str, p.retroactive_maintenance))})"
            if p.retroactive_maintenance else "")),
        ("late_evidence", ", ".join(f"{feed} {n}" for feed, n in p.late_evidence) or "0"),
        ("row_format", p.row_format),
        ("data_rows", str(p.data_rows)),
        ("data_sha256", p.data_sha256),
    ]


def score_text(ks: KeyScore) -> str:
    head = "no score" if ks.score is None else f"{ks.score:.2f} ({ks.band})"
    parts = [head, f"scored: {', '.join(s.id for s in ks.scored) or '-'}"]
    if ks.no_data:
        parts.append(f"no data: {', '.join(ks.no_data)}")
    if ks.no_target:
        parts.append(f"no target: {', '.join(ks.no_target)}")
    if ks.zero_weight:
        parts.append(f"weight 0: {', '.join(ks.zero_weight)}")
    return "; ".join(parts)
