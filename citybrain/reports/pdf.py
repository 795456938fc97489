"""The PDF export (reportlab): a report an evaluator prints, in the reader's language.

Pages, A4: a cover (title, scope, window in local dates and zone, as-of, generated-at,
language, the data's SHA-256); the scorecard (each key's score and band); one table per
key (each indicator's value, value without planned maintenance, target, met or missed,
unknown share); the evaluation table (every row of Table 8 with its measured and assessed
figures, labelled); the definitions (formula in words, version, unit, target, weight, SQL
file); the provenance (how to check the SHA-256, what the figures cover, the sources, the
assessed figures' evidence).
Every page but the cover has a running head and "page N of M".

Figures are the document's, rounded for reading as every export prints them
(``citybrain.reports.presentation``): a figure in the PDF is the JSON export's value
rounded to its unit's places. Breakdowns are not printed; the JSON and XLSX exports
carry them.

Same document, language and font → same bytes: reportlab's invariant mode fixes the
file's id and dates, the dates it does write are the report's ``generated_at``, and the
font is a TrueType CJK font embedded as a subset (``find_font``; CFF-outline fonts such
as Noto CJK cannot be embedded by reportlab), so the file renders the same everywhere.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    KeepTogether,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from citybrain.indicators.evaluation import load_table
from citybrain.indicators.model import IndicatorResult
from citybrain.kernel.i18n import N_, Catalogue, Language, Translator
from citybrain.reports.document import REPORT_FORMAT, ReportDocument, ReportError
from citybrain.reports.evaluation import (
    evaluation_rows,
    figure_text,
    item_name,
    kind_label,
    provenance_texts,
    row_name,
    telemetry_text,
)
from citybrain.reports.presentation import (
    Presentation,
    band_label,
    indicator_formula,
    indicator_name,
    key_label,
    moment_text,
    share_text,
    unit_label,
    value_text,
    window_text,
)
from citybrain.reports.rows import number_text

# TrueType CJK fonts where the usual packages put them, tried in order when
# CITYBRAIN_REPORT_FONT is unset. A .ttc's first face is used.
FONT_CANDIDATES: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),    # Debian/Ubuntu fonts-wqy-microhei
    Path("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc"),    # Fedora/RHEL wqy-microhei-fonts
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),      # Debian/Ubuntu fonts-wqy-zenhei
    Path("/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc"),        # Fedora/RHEL wqy-zenhei-fonts
    Path("/usr/share/fonts/truetype/arphic/uming.ttc"),        # Debian/Ubuntu fonts-arphic-uming
)
# A font must draw these (a Latin-only TrueType font would print boxes for every name).
CJK_PROBE = "城市运营指标报告达标准备起步成长成熟期（）：；、"
# The errors about the font are said in the current language (the CLI's or the request's);
# the methods below bind their own ``_``, the report's language.
MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current
INSTALL_HINT = N_("install fonts-wqy-microhei (apt-get install fonts-wqy-microhei) or set "
                  "CITYBRAIN_REPORT_FONT to a TrueType CJK font file (.ttf, or .ttc whose first face is "
                  "TrueType; CFF-outline fonts such as Noto CJK cannot be embedded)")

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 20 * mm, 24 * mm, 20 * mm
BODY_WIDTH = PAGE_WIDTH - 2 * MARGIN_X

INK = colors.HexColor("#1F2933")
MUTED = colors.HexColor("#5F6B7A")
ACCENT = colors.HexColor("#1D4E89")
RULE = colors.HexColor("#9AA5B1")
HEAD_FILL = colors.HexColor("#E6ECF3")
MET_INK = colors.HexColor("#1E6B34")
MISSED_INK = colors.HexColor("#A1261B")
ASSESSED_INK = colors.HexColor("#8A5300")   # the "assessed" label, as the console shows it

LANGUAGE_NAMES: dict[Language, str] = {"zh-CN": "简体中文（zh-CN）", "en": "English (en)"}
DIRECTIONS = {"higher": N_("higher is better"), "lower": N_("lower is better")}
# The liveness feeds the provenance names (streams.ingest.LIVENESS_FEEDS); another is shown by its id.
FEEDS = {"iot": N_("IoT terminals"), "video": N_("video surveillance"), "probe": N_("probes")}


@dataclass(frozen=True)
class ReportFont:
    """A usable font, registered with reportlab under ``name``."""

    path: Path
    name: str


_fonts: dict[Path, ReportFont] = {}
_fonts_lock = threading.Lock()


def _load_font(path: Path) -> ReportFont:
    """Register the font at ``path`` once per process; ReportError when it cannot be used."""
    path = path.expanduser().resolve()
    with _fonts_lock:
        if path in _fonts:
            return _fonts[path]
        if not path.is_file():
            raise ReportError(_("the PDF font {path} does not exist; {hint}").format(
                path=path, hint=_(INSTALL_HINT)))
        name = "CitybrainCJK-" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
        try:
            font = TTFont(name, str(path), subfontIndex=0)
        except (TTFError, OSError, ValueError, KeyError) as exc:
            raise ReportError(_("the PDF font {path} cannot be embedded ({error}); {hint}").format(
                path=path, error=exc, hint=_(INSTALL_HINT))) from exc
        missing = [c for c in CJK_PROBE if ord(c) not in font.face.charToGlyph]
        if missing:
            raise ReportError(_("the PDF font {path} has no Chinese characters (no {characters}); {hint}"
                                ).format(path=path, characters="".join(missing[:6]), hint=_(INSTALL_HINT)))
        pdfmetrics.registerFont(font)
        _fonts[path] = ReportFont(path, name)
        return _fonts[path]


def find_font(configured: Path | None, candidates: Sequence[Path] = FONT_CANDIDATES) -> ReportFont:
    """The PDF's font: ``configured`` (CITYBRAIN_REPORT_FONT) when set, never another in
    its place; otherwise the first of ``candidates`` that exists. ReportError saying what
    to install or set when there is none."""
    if configured is not None:
        return _load_font(configured)
    for path in candidates:
        if path.is_file():
            return _load_font(path)
    raise ReportError(_("no font for the PDF report: none of {paths} exists; {hint}").format(
        paths=", ".join(map(str, candidates)), hint=_(INSTALL_HINT)))


@dataclass(frozen=True)
class _Styles:
    body: ParagraphStyle
    small: ParagraphStyle
    cell: ParagraphStyle
    cell_right: ParagraphStyle
    cell_head: ParagraphStyle
    cell_head_right: ParagraphStyle
    note: ParagraphStyle
    kicker: ParagraphStyle
    title: ParagraphStyle
    subtitle: ParagraphStyle
    h1: ParagraphStyle
    h2: ParagraphStyle
    hash: ParagraphStyle


def _styles(font: str, language: Language) -> _Styles:
    # "CJK" lets a line break between any two Chinese characters; English breaks at spaces.
    wrap = "CJK" if language == "zh-CN" else None

    def style(name: str, size: float, leading: float, **extra: Any) -> ParagraphStyle:
        return ParagraphStyle(name, fontName=font, fontSize=size, leading=leading, wordWrap=wrap,
                              **{"textColor": INK, **extra})

    cell = style("cell", 8.5, 11.5)
    return _Styles(
        body=style("body", 9.5, 15),
        small=style("small", 7.5, 10, textColor=MUTED),
        cell=cell,
        cell_right=style("cell_right", 8.5, 11.5, alignment=TA_RIGHT),
        cell_head=style("cell_head", 8.5, 11.5, textColor=ACCENT),
        cell_head_right=style("cell_head_right", 8.5, 11.5, textColor=ACCENT, alignment=TA_RIGHT),
        note=style("note", 8, 12, textColor=MUTED, spaceBefore=4),
        kicker=style("kicker", 11, 16, textColor=MUTED, alignment=TA_CENTER),
        title=style("title", 24, 34, textColor=ACCENT, alignment=TA_CENTER, spaceBefore=6, spaceAfter=10),
        subtitle=style("subtitle", 15, 22, alignment=TA_CENTER, spaceAfter=4),
        h1=style("h1", 14, 20, textColor=ACCENT, spaceBefore=4, spaceAfter=8),
        h2=style("h2", 11, 16, textColor=ACCENT, spaceBefore=10, spaceAfter=5),
        # Never broken inside: the SHA-256 is copied from the page to be compared.
        hash=ParagraphStyle("hash", fontName=font, fontSize=8, leading=11.5, textColor=INK),
    )


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


class _Report:
    """The flowables of one report in one language."""

    def __init__(self, doc: ReportDocument, view: Presentation, font: ReportFont) -> None:
        self.doc, self.view, self.language, self.font = doc, view, view.language, font
        self.t: Translator = view.t
        self.s = _styles(font.name, view.language)
        self.names = {r.indicator.id: indicator_name(r.indicator, view.language) for r in doc.results}

    def table(self, rows: list[list[Any]], widths: Sequence[float], *, header: bool = True,
               extra: Iterable[tuple[Any, ...]] = ()) -> Table:
        table = Table(rows, colWidths=list(widths), repeatRows=1 if header else 0, hAlign="LEFT")
        style: list[tuple[Any, ...]] = [
            # Every cell is a Paragraph; the font named here is for the blank ones.
            ("FONTNAME", (0, 0), (-1, -1), self.font.name),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("LINEABOVE", (0, 0), (-1, 0), 0.8, ACCENT),
            ("LINEBELOW", (0, -1), (-1, -1), 0.8, ACCENT),
            ("LINEBELOW", (0, 0), (-1, -2), 0.3, RULE),
            ("TOPPADDING", (0, 0), (-1, -1), 3),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ("LEFTPADDING", (0, 0), (-1, -1), 4),
            ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ]
        if header:
            style.append(("BACKGROUND", (0, 0), (-1, 0), HEAD_FILL))
        style.extend(extra)
        table.setStyle(TableStyle(style))
        return table

    def header(self, texts: Sequence[str], right: Sequence[int] = ()) -> list[Any]:
        """A table's header row; the columns in ``right`` hold figures, aligned right."""
        return [_p(text, self.s.cell_head_right if i in right else self.s.cell_head)
                for i, text in enumerate(texts)]

    def gettext(self, message: str, /, **fields: Any) -> str:
        """``message`` in the report's language, its ``{fields}`` filled in (named gettext so
        that ``make i18n`` extracts the texts)."""
        text = self.t.gettext(message)
        return text.format(**fields) if fields else text

    @property
    def title(self) -> str:
        return self.gettext("Citybrain operation indicator report")

    @property
    def sep(self) -> str:
        """How a list of names is joined in running text."""
        return "、" if self.language == "zh-CN" else ", "

    def zoned(self, iso: str) -> str:
        """A provenance time as a reader writes it, with the report's zone."""
        return self.gettext("{time} ({zone})", time=moment_text(iso), zone=self.doc.provenance.timezone)

    def feed(self, name: str) -> str:
        return self.gettext(FEEDS[name]) if name in FEEDS else name

    # ── cover ──────────────────────────────────────────────────────────────────────
    def cover(self) -> list[Flowable]:
        _, p, s = self.gettext, self.doc.provenance, self.s
        as_of = self.zoned(p.as_of_local)
        if p.as_of_local == p.window_to_local:
            as_of = _("{time}, the window's end", time=as_of)
        facts = [
            (_("Scope"), self.view.department(self.doc.department)),
            (_("Window"), window_text(self.doc.window, self.language)),
            (_("Figures as of"), as_of),
            (_("Generated at"), self.zoned(p.generated_at_local)),
            (_("Generated by"), p.generated_by),
            (_("Language"), LANGUAGE_NAMES[self.language]),
            (_("Software version"), p.software_version),
            (_("Report format"), REPORT_FORMAT),
        ]
        rows: list[list[Any]] = [[_p(k, s.cell_head), _p(v, s.cell)] for k, v in facts]
        rows.append([_p(_("Data SHA-256"), s.cell_head), _p(p.data_sha256, s.hash)])
        out: list[Flowable] = [
            Spacer(1, 38 * mm),
            _p(_("Long-term operation of the smart city · evaluation"), s.kicker),
            _p(self.title, s.title),
            _p(self.view.department(self.doc.department), s.subtitle),
            _p(window_text(self.doc.window, self.language), s.kicker),
            Spacer(1, 22 * mm),
            self.table(rows, (38 * mm, BODY_WIDTH - 38 * mm), header=False),
            Spacer(1, 8 * mm),
            _p(_("Every figure in this report is the same as in the JSON, CSV and XLSX exports of the "
                 "same report, rounded for reading. The SHA-256 above identifies the data; section 5 "
                 "says how to check it."), s.note),
        ]
        out += [_p(w, s.note) for w in self.cut_warnings()]
        return out

    def cut_warnings(self) -> list[str]:
        """What the reader must know when the figures do not cover the whole window."""
        _, p = self.gettext, self.doc.provenance
        start, end, at = map(datetime.fromisoformat, (p.window_from_utc, p.window_to_utc, p.as_of_utc))
        if at <= start:
            return [_("The window starts after the report was generated: every indicator has no data.")]
        if at < end:
            return [_("The window reaches past the time the report was generated: the figures cover it "
                      "up to {time} only.", time=self.zoned(p.as_of_local))]
        return []

    # ── scorecard ──────────────────────────────────────────────────────────────────
    def scorecard(self) -> list[Flowable]:
        _, s, lang = self.gettext, self.s, self.language
        head = [_("Key"), _("Score"), _("Band"), _("Scored indicators"), _("Indicators without data"),
                _("Watched, no target")]
        rows: list[list[Any]] = [self.header(head, right=(1, 3, 5))]
        for ks in self.doc.scorecard.keys:
            rows.append([
                _p(key_label(ks.key, lang), s.cell),
                _p("–" if ks.score is None else f"{ks.score:.2f}", s.cell_right),
                _p(band_label(ks.band, lang), s.cell),
                _p(str(len(ks.scored)), s.cell_right),
                _p(self.sep.join(self.names[i] for i in ks.no_data) or "–", s.cell),
                _p(str(len(ks.no_target)), s.cell_right),
            ])
        weights = self.doc.scorecard.weights_source
        return [
            _p(_("1. Scorecard"), s.h1),
            self.table(rows, (28 * mm, 18 * mm, 18 * mm, 21 * mm, BODY_WIDTH - 113 * mm, 28 * mm)),
            _p(_("A key's score is 100 × the weighted mean of its scored indicators' attainment (value "
                 "against target, at most 1). Indicators without data are left out, never counted as 0 or "
                 "100; counts without a target are watched, not scored."), s.note),
            _p(_("Bands of the national evaluation: [0, 55) {preparation}, [55, 70) {startup}, [70, 85) "
                 "{growth}, [85, 100] {mature}.", preparation=band_label("preparation", lang),
                 startup=band_label("start-up", lang), growth=band_label("growth", lang),
                 mature=band_label("mature", lang)), s.note),
            _p(_("Weights: the catalogue's defaults.") if weights == "catalogue"
               else _("Weights: from {file}.", file=weights), s.note),
            Spacer(1, 4 * mm),
        ]

    # ── one table per key ──────────────────────────────────────────────────────────
    def target_text(self, r: IndicatorResult) -> str:
        ind = r.indicator
        if ind.target is None:
            return self.gettext("none (watched)")
        sign = "≥" if ind.direction == "higher" else "≤"
        return f"{sign} {value_text(ind.target, ind.unit, self.language)}"

    def met_cell(self, r: IndicatorResult) -> Paragraph:
        _ = self.gettext
        if r.figure.value is None:
            return _p(_("no data"), self.s.cell)
        if r.met is None:
            return _p("–", self.s.cell)
        text, ink = (_("met"), MET_INK) if r.met else (_("missed"), MISSED_INK)
        return Paragraph(f'<font color="{ink.hexval()}">{escape(text)}</font>', self.s.cell)

    def key_tables(self) -> list[Flowable]:
        _, s, lang = self.gettext, self.s, self.language
        out: list[Flowable] = [CondPageBreak(60 * mm), _p(_("2. Indicators by key"), s.h1)]
        head = [_("Indicator"), _("Value"), _("Without planned maintenance"), _("Target"), _("Met"),
                _("Unknown share")]
        widths = (BODY_WIDTH - 112 * mm, 22 * mm, 25 * mm, 25 * mm, 17 * mm, 23 * mm)
        for ks in self.doc.scorecard.keys:
            results = [r for r in self.doc.results if r.indicator.key == ks.key]
            label = key_label(ks.key, lang)
            heading = (_("{key}: no score", key=label) if ks.score is None else
                       _("{key}: score {score} ({band})", key=label, score=f"{ks.score:.2f}",
                         band=band_label(ks.band, lang)))
            rows: list[list[Any]] = [self.header(head, right=(1, 2, 3, 5))]
            for r in results:
                ind, fig = r.indicator, r.figure
                timed = ind.availability   # only time-based indicators have these two
                rows.append([
                    _p(self.names[ind.id], s.cell),
                    _p(value_text(fig.value, ind.unit, lang), s.cell_right),
                    _p(value_text(fig.adjusted_value, ind.unit, lang) if timed else "–", s.cell_right),
                    _p(self.target_text(r), s.cell_right),
                    self.met_cell(r),
                    _p((share_text(fig.unknown_share, lang) or "–") if timed else "–", s.cell_right),
                ])
            if not results:
                rows.append([_p(_("No indicator in this key."), s.cell), "", "", "", "", ""])
            # The heading stays with its table (a table longer than a page splits, its header repeated).
            out.append(KeepTogether([_p(heading, s.h2), self.table(rows, widths)]))
        out.append(_p(_("Unknown share: the share of in-scope time whose state was unknown (monitoring "
                        "gaps), left out of the value. Without planned maintenance: the value with planned "
                        "maintenance left out of the in-scope time."), s.note))
        return out

    # ── definitions ────────────────────────────────────────────────────────────────
    def definitions(self) -> list[Flowable]:
        _, s, lang = self.gettext, self.s, self.language
        weights = dict(self.doc.scorecard.weights)
        rows: list[list[Any]] = [self.header((_("Indicator"), _("Formula"), _("Version")), right=(2,))]
        for r in self.doc.results:
            ind = r.indicator
            facts = _("Unit: {unit}; {direction}; target: {target}; weight: {weight}; SQL: {sql}",
                      unit=unit_label(ind.unit, lang), direction=_(DIRECTIONS[ind.direction]),
                      target=self.target_text(r), weight=number_text(weights.get(ind.id, ind.weight)),
                      sql=ind.sql_file)
            rows.append([
                [_p(self.names[ind.id], s.cell), _p(ind.id, s.small)],
                [_p(indicator_formula(ind, lang), s.cell), _p(facts, s.small)],
                _p(str(ind.version), s.cell_right),
            ])
        return [PageBreak(), _p(_("4. Definitions"), s.h1),
                self.table(rows, (44 * mm, BODY_WIDTH - 58 * mm, 14 * mm),
                           extra=[("VALIGN", (0, 1), (-1, -1), "TOP")])]

    # ── provenance ─────────────────────────────────────────────────────────────────
    def provenance(self) -> list[Flowable]:
        _, s, lang = self.gettext, self.s, self.language
        p, c = self.doc.provenance, self.doc.provenance.completeness
        with_data = _("{with_data} of {indicators} indicators have data ({share})", with_data=c.with_data,
                      indicators=c.indicators, share=share_text(c.share_with_data, lang))
        if c.without_data:
            names = self.sep.join(self.names[i] for i in c.without_data)
            with_data += _("; without data: {names}", names=names)
        worst = ("–" if c.worst_unknown_share is None or c.worst_unknown_indicator is None else
                 _("{share} ({name})", share=share_text(c.worst_unknown_share, lang),
                   name=self.names[c.worst_unknown_indicator]))
        feeds = [_("{feed}: up to {time}", feed=self.feed(feed), time=self.zoned(at))
                 for feed, at in p.as_of_feeds]
        late = [_("{feed}: {count} events", feed=self.feed(feed), count=n) for feed, n in p.late_evidence]
        retro = (_("{count} windows (ids {ids})", count=len(p.retroactive_maintenance),
                   ids=", ".join(map(str, p.retroactive_maintenance)))
                 if p.retroactive_maintenance else _("none"))
        facts: list[tuple[str, str | Paragraph]] = [
            (_("Data SHA-256"), _p(p.data_sha256, s.hash)),
            (_("What it covers"), _("{rows} data rows in the format {format}: every indicator's figures and "
                                    "breakdowns", rows=p.data_rows, format=p.row_format)),
            (_("How to check it"), _("Export the same report as CSV and run: grep -v '^#' report.csv | "
                                     "sha256sum; the result must equal the SHA-256 above.")),
            (_("Window (UTC)"), _("{start} to {end} (end exclusive)", start=p.window_from_utc,
                                  end=p.window_to_utc)),
            (_("Figures as of (UTC)"), p.as_of_utc),
            (_("Sources"), _("The platform's database, read by each indicator's SQL file in the version of "
                             "section 3: the monitored assets' state intervals, probes, incidents and "
                             "data-resource records.")),
            (_("Feeds' data up to"), self.sep.join(feeds) or _("as of the report")),
            (_("Data completeness"), with_data),
            (_("Largest unknown share"), worst),
            (_("Retroactive maintenance"), retro),
            (_("Late evidence (stored, not counted)"), self.sep.join(late) or _("none")),
            (_("Weights"), _("the catalogue's defaults") if p.weights_source == "catalogue"
             else p.weights_source),
            (_("Generated by"), p.generated_by),
            (_("Software version"), p.software_version),
            (_("Assessed figures"), self.sep.join(text for _name, text in provenance_texts(self.doc, lang))
             or _("none approved for this window")),
        ]
        rows: list[list[Any]] = [[_p(k, s.cell_head), v if isinstance(v, Paragraph) else _p(v, s.cell)]
                                 for k, v in facts]
        return [Spacer(1, 6 * mm), CondPageBreak(80 * mm), _p(_("5. Provenance"), s.h1),
                self.table(rows, (44 * mm, BODY_WIDTH - 44 * mm), header=False,
                           extra=[("VALIGN", (0, 0), (-1, -1), "TOP")])]

    # ── the evaluation table ───────────────────────────────────────────────────────
    def evaluation(self) -> list[Flowable]:
        """Table 8: every row, its measured and its assessed figures, each labelled."""
        _, s, lang = self.gettext, self.s, self.language
        departments = dict(self.view.departments)
        table = load_table()
        head = [_("Row"), _("Kind"), _("Figure"), _("Value")]
        rows: list[list[Any]] = [self.header(head)]
        measured, assessed = kind_label("measured", lang), kind_label("assessed", lang)
        for er in evaluation_rows(self.doc):
            front = table.front(er.row.front)
            title = [_p(row_name(er.row, lang), s.cell),
                     _p(front.name_zh if lang == "zh-CN" else front.name_en, s.small)]
            lines: list[list[Any]] = []
            for tel in er.telemetry:
                name = tel.indicator_id if tel.result is None else self.names[tel.indicator_id]
                lines.append([_p(measured, s.cell), _p(name, s.cell), _p(telemetry_text(tel, lang), s.cell)])

            def label() -> Paragraph:   # a flowable per cell: a table lays each one out itself
                return Paragraph(f'<font color="{ASSESSED_INK.hexval()}">{escape(assessed)}</font>', s.cell)

            for a in er.assessed:
                if not a.figures:
                    lines.append([label(), _p(item_name(a.item, lang), s.cell),
                                  _p(_("no approved assessment"), s.cell)])
                for v in a.figures:
                    assert v.review is not None
                    who = _("assessed by {assessor}, approved by {reviewer}", assessor=v.assessor_name,
                            reviewer=v.review.reviewer_name)
                    lines.append([label(), _p(item_name(a.item, lang), s.cell),
                                  [_p(figure_text(v, lang, departments), s.cell), _p(who, s.small)]])
            for n, line in enumerate(lines):
                rows.append([title if n == 0 else "", *line])
        widths = (34 * mm, 14 * mm, 58 * mm, BODY_WIDTH - 106 * mm)
        return [CondPageBreak(60 * mm), _p(_("3. Evaluation table"), s.h1),
                _p(_("Every row of the national evaluation table. Measured figures are this report's "
                     "indicators; assessed figures are scores an evaluator entered against the item's "
                     "rubric and a second person approved (the latest approved version counts; section 5 "
                     "lists their evidence). The two kinds are never added up."), s.note),
                Spacer(1, 2 * mm),
                self.table(rows, widths, extra=[("VALIGN", (0, 1), (-1, -1), "TOP")])]

    def flowables(self) -> list[Flowable]:
        return [*self.cover(), NextPageTemplate("body"), PageBreak(), *self.scorecard(), *self.key_tables(),
                *self.evaluation(), *self.definitions(), *self.provenance()]

    # ── running head and page numbers ──────────────────────────────────────────────
    def decorate(self, canvas: Canvas, page: int, pages: int) -> None:
        if page == 1:   # the cover has neither
            return
        _ = self.gettext
        canvas.saveState()
        canvas.setFont(self.font.name, 8)
        canvas.setFillColor(MUTED)
        top = PAGE_HEIGHT - MARGIN_TOP + 8 * mm
        canvas.drawString(MARGIN_X, top, f"{self.title} · {self.view.department(self.doc.department)}")
        canvas.drawRightString(PAGE_WIDTH - MARGIN_X, top, window_text(self.doc.window, self.language))
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.4)
        canvas.line(MARGIN_X, top - 2.5 * mm, PAGE_WIDTH - MARGIN_X, top - 2.5 * mm)
        bottom = MARGIN_BOTTOM - 10 * mm
        digest = self.doc.provenance.data_sha256[:16]
        canvas.drawString(MARGIN_X, bottom, _("Data SHA-256 {digest}…", digest=digest))
        right = PAGE_WIDTH - MARGIN_X
        canvas.drawRightString(right, bottom, _("Page {page} of {pages}", page=page, pages=pages))
        canvas.restoreState()


def _numbered_canvas(decorate: Callable[[Canvas, int, int], None]) -> type[Canvas]:
    """A canvas that holds its pages until the end, so each can say "page N of M"."""

    class NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._held: list[dict[str, Any]] = []

        def showPage(self) -> None:
            # reportlab's own recipe for "page N of M": keep the page's state, start the next
            # one as showPage would, and draw the held pages at save (the stubs omit _startPage).
            self._held.append(dict(self.__dict__))
            self._startPage()  # type: ignore[attr-defined]

        def save(self) -> None:
            total = len(self._held)
            for state in self._held:
                self.__dict__.update(state)
                decorate(self, self.getPageNumber(), total)
                super().showPage()
            super().save()

    return NumberedCanvas


def _pdf_date(generated_at_utc: str) -> Callable[..., str]:
    """The file's creation and modification dates: the report's generated_at, not the clock."""
    moment = datetime.fromisoformat(generated_at_utc).astimezone(UTC)
    text = f"D:{moment:%Y%m%d%H%M%S}+00'00'"
    return lambda *_: text


def render_pdf(doc: ReportDocument, view: Presentation, font: ReportFont) -> bytes:
    """The report as PDF bytes, in ``view``'s language with its names, set in ``font``."""
    report = _Report(doc, view, font)
    buf = io.BytesIO()
    template = BaseDocTemplate(
        buf, pagesize=A4, leftMargin=MARGIN_X, rightMargin=MARGIN_X, topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM, invariant=1,
        title=f"{report.title} · {window_text(doc.window, view.language)}",
        author=doc.provenance.generated_by, subject=view.department(doc.department),
        creator=f"Citybrain {doc.provenance.software_version}", lang=view.language,
        # The canvas's first font is the report's, so no unembedded base-14 font is named.
        initialFontName=font.name,
    )
    frame = Frame(MARGIN_X, MARGIN_BOTTOM, BODY_WIDTH, PAGE_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM, id="body",
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    template.addPageTemplates([PageTemplate("cover", [frame]), PageTemplate("body", [frame])])
    canvas_class = _numbered_canvas(report.decorate)
    date = _pdf_date(doc.provenance.generated_at_utc)

    def maker(*args: Any, **kwargs: Any) -> Canvas:
        canvas = canvas_class(*args, **kwargs)
        canvas.setDateFormatter(date)
        return canvas

    template.build(report.flowables(), canvasmaker=maker)
    return buf.getvalue()
