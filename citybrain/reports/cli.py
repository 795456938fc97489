"""``citybrain report``: export the indicator report for a window, with an audit entry.

Registered on the main ``citybrain`` app by ``citybrain/cli.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import psycopg
import typer
from rich.markup import escape

from citybrain.indicators.engine import WorkHours
from citybrain.kernel import audit, store
from citybrain.kernel.audit import Actor
from citybrain.kernel.console import console, err, load_settings
from citybrain.kernel.errors import StoreError
from citybrain.kernel.i18n import LANGUAGES, N_, Catalogue, Language, current_language, language_of
from citybrain.kernel.runtime import services
from citybrain.reports.document import ReportDocument, ReportError, build_report
from citybrain.reports.exports import AUDIT_ACTION, report_details, sha256_hex
from citybrain.reports.presentation import Presentation
from citybrain.reports.scorecard import weights_from_settings
from citybrain.reports.window import report_window, zone
from citybrain.reports.writers import render_scorecard, write_report

if TYPE_CHECKING:
    from citybrain.reports.pdf import ReportFont

# What the command says (its lines, warnings and errors) is in the current language, the
# settings'; the report itself is in --language.
MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current


class ReportFormat(StrEnum):
    xlsx = "xlsx"
    csv = "csv"
    json = "json"
    pdf = "pdf"


def write_audit(conn: psycopg.Connection[Any], actor: Actor, doc: ReportDocument, fmt: str, path: Path,
                size: int) -> None:
    """The export's audit entry: the details the API and the console write, with the SHA-256
    of the file as written (read back from the disk, so it is what the evaluator holds)."""
    details = {**report_details(doc, fmt, path, size), "file_sha256": sha256_hex(path.read_bytes())}
    audit.record(conn, actor, AUDIT_ACTION, path.name, details,
                 at=datetime.fromisoformat(doc.provenance.generated_at_utc))


def as_of_warnings(doc: ReportDocument) -> list[str]:
    """What an evaluator must know when the figures do not cover the whole window: it
    reaches past the report's as-of time, or a liveness feed's state is known only up to
    an earlier time (its watermark). Both come from the provenance (README, "As of")."""
    p = doc.provenance
    start, end, at = (datetime.fromisoformat(t) for t in (p.window_from_utc, p.window_to_utc, p.as_of_utc))
    if at <= start:
        return [_("the window starts after its as-of time {as_of} (the time the report was generated): "
                  "time that has not happened is outside the scope, so every indicator reports no data"
                  ).format(as_of=p.as_of_local)]
    found = []
    if at < end:
        found.append(_("the window reaches past its as-of time {as_of} (the time the report was generated): "
                       "the figures cover {start} – {as_of} only; later time is outside the scope").format(
            as_of=p.as_of_local, start=p.window_from_local))
    for feed, text in p.as_of_feeds:
        known = datetime.fromisoformat(text)
        if known < at:
            found.append(
                _("the {feed} feed's state intervals reach only {watermark} (its watermark): its assets' "
                  "availability reports no data for this window").format(feed=feed, watermark=text)
                if known <= start else
                _("the {feed} feed's state intervals reach only {watermark} (its watermark): its assets' "
                  "availability covers the window up to then; later time is outside the scope").format(
                    feed=feed, watermark=text))
    return found


def _check_department(conn: psycopg.Connection[Any], department: str) -> None:
    if conn.execute("SELECT 1 FROM departments WHERE department_id = %s", (department,)).fetchone():
        return
    known = [r[0] for r in conn.execute("SELECT department_id FROM departments ORDER BY 1 LIMIT 20")]
    if known:
        raise ReportError(_("no department {department} in the registry; known: {known}").format(
            department=repr(department), known=", ".join(known)))
    raise ReportError(_("no department {department} in the registry; import the registry first").format(
        department=repr(department)))


def report(
    from_: Annotated[str, typer.Option("--from", help=N_("start: local date YYYY-MM-DD or ISO date-time"))],
    to: Annotated[str, typer.Option("--to", help=N_("end: a date includes that whole day; a date-time is "
                                                    "exclusive"))],
    fmt: Annotated[ReportFormat, typer.Option("--format", help=N_("xlsx, csv, json or pdf"))],
    output: Annotated[Path, typer.Option("-o", "--output", help=N_("file to write"))],
    tz: Annotated[str | None, typer.Option("--tz", help=N_("IANA zone the days are cut in "
                                                           "(default CITYBRAIN_TIMEZONE)"))] = None,
    department: Annotated[str | None, typer.Option(
        help=N_("one department's scope (default: whole city)"))] = None,
    generated_at: Annotated[str | None, typer.Option(
        "--generated-at", help=N_("stamp the report with this time (ISO 8601 with offset) instead of now; "
                                  "the stamp of an earlier export reproduces its bytes"))] = None,
    language: Annotated[str | None, typer.Option(
        "--language", help=N_("zh-CN or en: the language of the XLSX, CSV and PDF (default "
                              "CITYBRAIN_LANGUAGE); the JSON is the same in every language"))] = None,
) -> None:
    """Export the five-key indicator report (XLSX, CSV, JSON or PDF) with its provenance.

    Dates are local dates in --tz and a --to date includes that whole day.
    Date-times without an offset are local; a --to date-time is exclusive.
    The export is recorded in the audit log (action report.export); the
    command prints the file and the SHA-256 of its data rows.
    Figures cover the window up to its as-of time, the earlier of its end
    and the report's time (now, or --generated-at), and each liveness feed's
    assets up to the feed's watermark; a warning says when that cuts the window.

    Examples:
        citybrain report --from 2026-03-01 --to 2026-03-31 --format xlsx -o march.xlsx
        citybrain report --from 2026-03-01T08:00 --to 2026-03-02T08:00 --tz UTC --format csv -o d.csv
    """
    settings = load_settings()
    lang = report_language(language, settings.language)
    window = report_window(from_, to, zone(tz or settings.timezone))
    # The command line is the boundary where the clock is read; everything below takes it.
    stamp = datetime.now(UTC) if generated_at is None else _stamp(generated_at)
    weights, source = weights_from_settings(settings)
    path = output.resolve()
    # A PDF needs a CJK font: refused before any work when there is none (ReportError).
    font = _pdf_font(settings.report_font) if fmt is ReportFormat.pdf else None
    actor = Actor.cli()
    with services(settings, need_broker=False) as ep, store.connect(ep.database_url,
                                                                    settings.database_schema) as conn:
        try:
            if department is not None:
                _check_department(conn, department)
            doc = build_report(conn, window, department=department, generated_by=actor.id,
                               generated_at=stamp, weights=weights, weights_source=source,
                               workers=settings.report_workers, work_hours=WorkHours.of(settings))
            # The file and its audit row go together: the row is committed only after the
            # file is in place, and a failed insert or commit removes the file again, so no
            # export goes unrecorded.
            view = Presentation.load(conn, lang)
            # The command's own lines name the scope in the language it speaks.
            said = (view if view.language == current_language()
                    else Presentation.load(conn, current_language()))
            size = write_report(doc, fmt.value, path, view=view, font=font)
            try:
                write_audit(conn, actor, doc, fmt.value, path, size)
                conn.commit()
            except BaseException:
                path.unlink(missing_ok=True)
                raise
        except psycopg.Error as exc:
            raise StoreError(_("the report could not be computed or recorded: {error}; "
                               "check that `citybrain db migrate` ran on this schema").format(
                error=exc)) from exc
    console.print(_("report written to {path} ({format}, {size} bytes, {scope})").format(
        path=escape(str(path)), format=fmt.value, size=f"{size:,}", scope=escape(_scope(doc, said))),
        soft_wrap=True)
    console.print(_("data SHA-256 {digest}").format(digest=doc.provenance.data_sha256), soft_wrap=True)
    console.print(render_scorecard(doc, view))
    warning = _("warning:")
    for text in as_of_warnings(doc):
        err.print(f"[yellow]{escape(warning)}[/yellow] {escape(text)}")


def _scope(doc: ReportDocument, view: Presentation) -> str:
    """The report's scope as a person reads it: the department's name with its id, or the whole city."""
    name = view.department(doc.department)
    return name if doc.department is None or name == doc.department else f"{name} [{doc.department}]"


def report_language(tag: str | None, default: Language) -> Language:
    """The report's language: ``tag`` (--language, ?lang=) read by ``language_of``, else
    ``default`` (the settings', or the request's); a tag naming no language is a
    ReportError saying which there are."""
    if tag is None:
        return default
    try:
        return language_of(tag)
    except ValueError as exc:
        raise ReportError(_("unknown language {language}: use one of {languages} (the report's language)"
                            ).format(language=repr(tag), languages=", ".join(LANGUAGES))) from exc


def _pdf_font(configured: Path | None) -> ReportFont:
    from citybrain.reports.pdf import find_font  # reportlab is loaded for PDF exports only

    return find_font(configured)


def _stamp(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ReportError(_("--generated-at {text} is not an ISO 8601 date-time").format(
            text=repr(text))) from exc
    if moment.tzinfo is None:
        raise ReportError(_("--generated-at needs an offset, e.g. 2026-04-01T09:00:00+08:00"))
    return moment
