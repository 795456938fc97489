"""The report's data rows in their canonical form, and the SHA-256 that pins them.

One row per indicator result ("total") and one per breakdown member, in this order:
indicators by key (``KEYS`` order) then id; each indicator's total row first, then its
breakdowns by dimension (the catalogue's order for that indicator) then member
(ascending code-point order). Columns are ``COLUMNS``.

Field text (``row_format`` "citybrain-report-rows/1"):

* numbers: rounded to 12 significant digits but never more than 6 decimal places nor
  into the integer digits (``format(x, f".{p}f")`` with ``p = clamp(12 − integer digits,
  0, 6)``, correctly rounded from the binary double), trailing zeros and a trailing point
  removed, ``-0`` written ``0``, never an exponent: ``99.5``, ``100``, ``0.000123``,
  ``98.123457``, ``2591654.3``, ``263571388099``. Twelve digits because a double only
  carries 15–17 and a sum of seconds over a month of assets (~10^11) computed in another
  order differs in the last of them; no figure is meaningful beyond 12;
* no value (no data, no target, not an availability indicator): the empty field;
* ``met``: ``true`` / ``false`` on total rows with a target and data, else empty
  (breakdown rows are not judged against the window's target);
* everything else as is (ids, units, ISO days).

The serialisation hashed is exactly the data table of the CSV export: the header line
then the rows, comma-separated, a field quoted with ``"`` only when it holds a comma,
a quote or a line feed (quotes doubled; Python's ``csv`` QUOTE_MINIMAL with ``\\n`` line
ends), each line ended by ``\\n``, UTF-8 without BOM.
``data_sha256`` is the hex SHA-256 of those bytes, so ``grep -v '^#' report.csv |
sha256sum`` recomputes it from a CSV export. Generation time and author are not in the
rows: the same figures give the same hash.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import math
from collections.abc import Iterable, Sequence

from citybrain.indicators.model import Breakdown, Figure, IndicatorResult

ROW_FORMAT = "citybrain-report-rows/1"
DECIMALS = 6
SIGNIFICANT = 12
COLUMNS: tuple[str, ...] = (
    "indicator_id", "key", "version", "unit", "direction", "target", "dimension", "member",
    "value", "numerator", "denominator", "adjusted_value", "unknown_share", "met",
)
TOTAL = "total"  # the dimension of an indicator's own figure (member empty)


# A report writes every figure twice (the data rows, then JSON or XLSX read back from
# the same text): remembering the recent texts halves the formatting, which was a sixth
# of a 30-day report's time. Bounded, so a long-running API process does not grow.
@functools.lru_cache(maxsize=1 << 16)
def number_text(x: float | None) -> str:
    """A number in the canonical text form (see the module docstring)."""
    if x is None:
        return ""
    if not math.isfinite(x):
        raise ValueError(f"a report figure must be finite, got {x!r}")
    integer_digits = math.floor(math.log10(abs(x))) + 1 if x else 1
    places = max(0, min(DECIMALS, SIGNIFICANT - integer_digits))
    text = format(x, f".{places}f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def rounded(x: float | None) -> float | None:
    """The number as written in JSON and XLSX: the canonical text read back as a float,
    so every export carries the very same value."""
    return None if x is None else float(number_text(x))


def bool_text(b: bool | None) -> str:
    return "" if b is None else ("true" if b else "false")


def sorted_breakdowns(result: IndicatorResult) -> tuple[Breakdown, ...]:
    order = {d: i for i, d in enumerate(result.indicator.breakdowns)}
    return tuple(sorted(result.breakdowns,
                        key=lambda b: (order.get(b.dimension, len(order)), b.dimension, b.member)))


def _row(result: IndicatorResult, dimension: str, member: str, fig: Figure,
         met: bool | None) -> tuple[str, ...]:
    ind = result.indicator
    availability = ind.availability
    return (
        ind.id, ind.key, str(ind.version), ind.unit, ind.direction, number_text(ind.target),
        dimension, member, number_text(fig.value), number_text(fig.numerator),
        number_text(fig.denominator),
        number_text(fig.adjusted_value) if availability else "",
        number_text(fig.unknown_share) if availability else "",
        bool_text(met),
    )


def data_rows(results: Sequence[IndicatorResult]) -> tuple[tuple[str, ...], ...]:
    """The canonical rows of results already in canonical order."""
    rows: list[tuple[str, ...]] = []
    for r in results:
        rows.append(_row(r, TOTAL, "", r.figure, r.met))
        rows.extend(_row(r, b.dimension, b.member, b.figure, None) for b in sorted_breakdowns(r))
    return tuple(rows)


def table_bytes(rows: Iterable[Sequence[str]]) -> bytes:
    """Header plus rows in the CSV dialect described above."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def data_sha256(rows: Iterable[Sequence[str]]) -> str:
    return hashlib.sha256(table_bytes(rows)).hexdigest()
