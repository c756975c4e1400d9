"""Render a :class:`~scorecards.snapshot.Scorecard` to an A4 PDF (ReportLab platypus).

Layout (usually 2-3 pages): banner with agent, team, period and rubric; an
auto-QA-only notice when nobody reviewed the agent this month; KPI tiles
coloured against the target; section table; per-criterion bar chart; 6-month
trend chart; behaviours used/avoided; timing; coaching plan; reviewer comments;
"Page X of Y" and the generation time on every page.

All text, ours and the user's, is drawn by :class:`TextBlock`, which lays text
out with :mod:`scorecards.rtl` (shape, wrap, reorder each line) and draws plain
strings. It never parses markup, so transcript text such as ``<script>`` or
``&amp;`` is shown literally without an escaping step that could be forgotten,
and it is much cheaper than ``Paragraph``'s markup parser. For an Arabic agent
(locale ``ar``) the whole report is mirrored: text is right-aligned, table
columns and KPI tiles run right to left, charts grow from the right.

Output is deterministic with ``invariant=True`` (ReportLab invariant mode: fixed
creation date and document id), so one snapshot always gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from reportlab import rl_config
from reportlab.graphics.shapes import Circle, Drawing, Group, Line, PolyLine, Rect, String
from reportlab.graphics.shapes import Path as ShapePath
from reportlab.lib import colors
from reportlab.lib.colors import Color
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    KeepTogether,
    PageTemplate,
    Spacer,
)

from scorecards import rtl
from scorecards.rtl import Direction
from scorecards.snapshot import (
    BehaviourRow,
    CoachingItem,
    CriterionRow,
    ReviewerComment,
    Scorecard,
    SectionRow,
    TimingRow,
    TrendPoint,
)

__all__ = ["FONT", "FONT_BOLD", "LABELS", "TextBlock", "register_fonts", "render_scorecard"]

FONT = "JawdaAmiri"
FONT_BOLD = "JawdaAmiri-Bold"
FONT_DIR = Path(__file__).with_name("fonts")

PAGE_W, PAGE_H = A4
MARGIN_X = 15 * mm
MARGIN_TOP = 14 * mm
MARGIN_BOTTOM = 16 * mm

# How much of an excerpt or comment a scorecard shows; the snapshot keeps all.
# Bounds also keep every table row shorter than a page (a row cannot split).
EXCERPT_CHARS = 220
COMMENT_CHARS = 900
USER_TEXT_CHARS = 600
EVIDENCE_PER_ITEM = 3
CHART_ROWS = 24  # criteria per bar chart drawing; more continue in a second one

INK = colors.HexColor("#1F2933")
MUTED = colors.HexColor("#5F6B7A")
RULE = colors.HexColor("#D5DBE3")
BRAND = colors.HexColor("#0E5A6B")
BRAND_LIGHT = colors.HexColor("#E3F0F3")
GOOD = colors.HexColor("#2E7D32")
GOOD_LIGHT = colors.HexColor("#E6F4E7")
WARN = colors.HexColor("#A15C00")
WARN_LIGHT = colors.HexColor("#FFF3DC")
BAD = colors.HexColor("#B3261E")
BAD_LIGHT = colors.HexColor("#FBE7E6")
TEAM = colors.HexColor("#8D99A8")
ZEBRA = colors.HexColor("#F6F8FA")
WHITE = colors.white

# Points below target still shown amber rather than red.
NEAR_TARGET = 5.0

Align = Literal["start", "end", "center"]


# --------------------------------------------------------------------------
# fonts


def register_fonts() -> None:
    """Register the bundled Amiri faces once per process (idempotent).

    One family for Arabic and Latin keeps a single embedded font; ReportLab
    subsets it, so a scorecard carries only the glyphs it uses.
    """
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    pdfmetrics.registerFont(TTFont(FONT, str(FONT_DIR / "Amiri-Regular.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(FONT_DIR / "Amiri-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD)


# --------------------------------------------------------------------------
# labels of the report itself


LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Monthly agent scorecard",
        "agent_id": "Agent ID",
        "team": "Team",
        "no_team": "No team",
        "period": "Period",
        "rubric": "Rubric",
        "rubric_version": "{name} (v{version})",
        "kpi_overall": "Overall score",
        "kpi_team": "Team average",
        "kpi_target": "Target",
        "kpi_reviews": "Reviews",
        "on_target": "On target",
        "below_target": "{points} pts below target",
        "auto_fails": "Auto-fails: {count}",
        "auto_qa_only": "Auto-QA only",
        "notice_auto_qa": (
            "Based on auto-QA only: no interaction of this agent was reviewed by a person "
            "this month. Every figure below comes from automated QA findings and is "
            "indicative until a reviewer confirms it."
        ),
        "sections": "Scores by section",
        "criteria": "Scores by criterion",
        "col_section": "Section",
        "col_criterion": "Criterion",
        "col_agent": "Agent",
        "col_team": "Team",
        "col_target": "Target",
        "col_count": "Scored",
        "legend_agent": "Agent",
        "legend_team": "Team average",
        "legend_target": "Target",
        "trend": "6-month trend",
        "behaviours": "Behaviours used and avoided",
        "col_behaviour": "Behaviour",
        "col_type": "Type",
        "type_use": "Good practice",
        "type_avoid": "To avoid",
        "col_times": "Count",
        "col_rate": "Per interaction",
        "col_example": "Example",
        "col_suggestion": "Suggested alternative",
        "timing": "Timing",
        "col_metric": "Metric",
        "col_average": "Average",
        "col_threshold": "Threshold",
        "col_status": "Status",
        "within": "Within threshold",
        "over": "Over threshold",
        "coaching": "Coaching plan",
        "col_priority": "Priority",
        "col_why": "Why, with evidence",
        "col_practice": "Suggested practice",
        "priority_high": "High",
        "priority_medium": "Medium",
        "priority_low": "Low",
        "comments": "Reviewer comments",
        "col_date": "Date",
        "col_reviewer": "Reviewer",
        "col_interaction": "Interaction",
        "col_comment": "Comment",
        "general": "General",
        "more_evidence": "(+{count} more in the snapshot)",
        "none_behaviours": "No behaviours were detected this month.",
        "none_timing": "No timing measurements this month.",
        "none_coaching": "No coaching items this month.",
        "none_comments": "No reviewer comments this month.",
        "none_criteria": "No criterion scores this month.",
        "page": "Page {page} of {pages}",
        "generated": "Generated {timestamp}",
        "seconds": "{value} s",
    },
    "ar": {
        "title": "بطاقة الأداء الشهرية للموظف",
        "agent_id": "رقم الموظف",
        "team": "الفريق",
        "no_team": "بدون فريق",
        "period": "الفترة",
        "rubric": "نموذج التقييم",
        "rubric_version": "{name} (الإصدار {version})",
        "kpi_overall": "الدرجة الإجمالية",
        "kpi_team": "متوسط الفريق",
        "kpi_target": "الهدف",
        "kpi_reviews": "عدد المراجعات",
        "on_target": "ضمن الهدف",
        "below_target": "أقل من الهدف بمقدار {points} نقطة",
        "auto_fails": "إخفاق تلقائي: {count}",
        "auto_qa_only": "تقييم آلي فقط",
        "notice_auto_qa": (
            "مبنية على التقييم الآلي فقط: لم يراجع أي مقيم تفاعلات هذا الموظف خلال هذا "
            "الشهر. جميع الأرقام أدناه مستخرجة من نتائج التقييم الآلي، وهي استرشادية "
            "إلى أن يؤكدها مقيم."
        ),
        "sections": "الدرجات حسب القسم",
        "criteria": "الدرجات حسب المعيار",
        "col_section": "القسم",
        "col_criterion": "المعيار",
        "col_agent": "الموظف",
        "col_team": "الفريق",
        "col_target": "الهدف",
        "col_count": "عدد التقييمات",
        "legend_agent": "الموظف",
        "legend_team": "متوسط الفريق",
        "legend_target": "الهدف",
        "trend": "الاتجاه خلال 6 أشهر",
        "behaviours": "السلوكيات المستخدمة والمطلوب تجنبها",
        "col_behaviour": "السلوك",
        "col_type": "النوع",
        "type_use": "ممارسة جيدة",
        "type_avoid": "يجب تجنبه",
        "col_times": "العدد",
        "col_rate": "لكل تفاعل",
        "col_example": "مثال",
        "col_suggestion": "البديل المقترح",
        "timing": "التوقيت",
        "col_metric": "المقياس",
        "col_average": "المتوسط",
        "col_threshold": "الحد",
        "col_status": "الحالة",
        "within": "ضمن الحد",
        "over": "تجاوز الحد",
        "coaching": "خطة التدريب",
        "col_priority": "الأولوية",
        "col_why": "السبب والشواهد",
        "col_practice": "التمرين المقترح",
        "priority_high": "عالية",
        "priority_medium": "متوسطة",
        "priority_low": "منخفضة",
        "comments": "ملاحظات المقيمين",
        "col_date": "التاريخ",
        "col_reviewer": "المقيم",
        "col_interaction": "التفاعل",
        "col_comment": "الملاحظة",
        "general": "عام",
        "more_evidence": "(+{count} أخرى في السجل)",
        "none_behaviours": "لم تُرصد أي سلوكيات هذا الشهر.",
        "none_timing": "لا توجد قياسات توقيت هذا الشهر.",
        "none_coaching": "لا توجد توصيات تدريب هذا الشهر.",
        "none_comments": "لا توجد ملاحظات من المقيمين هذا الشهر.",
        "none_criteria": "لا توجد درجات للمعايير هذا الشهر.",
        "page": "صفحة {page} من {pages}",
        "generated": "تاريخ الإصدار {timestamp}",
        "seconds": "{value} ث",
    },
}

MONTHS = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "ar": (
        "يناير",
        "فبراير",
        "مارس",
        "أبريل",
        "مايو",
        "يونيو",
        "يوليو",
        "أغسطس",
        "سبتمبر",
        "أكتوبر",
        "نوفمبر",
        "ديسمبر",
    ),
}

METRIC_LABELS: dict[str, tuple[str, str]] = {
    "first_response_s": ("First response", "زمن الرد الأول"),
    "response_latency_mean_s": ("Response latency (mean)", "زمن الاستجابة (المتوسط)"),
    "response_latency_p90_s": ("Response latency (90th pct.)", "زمن الاستجابة (المئين 90)"),
    "response_latency_max_s": ("Response latency (max)", "زمن الاستجابة (الأقصى)"),
    "longest_silence_s": ("Longest silence", "أطول صمت"),
    "hold_count": ("Holds per interaction", "مرات الانتظار لكل تفاعل"),
    "hold_total_s": ("Hold time (total)", "مدة الانتظار (الإجمالية)"),
    "hold_max_s": ("Longest hold", "أطول انتظار"),
    "talk_ratio": ("Talk ratio (agent / customer)", "نسبة الحديث (الموظف / العميل)"),
    "overtalk_s": ("Overtalk", "الحديث المتداخل"),
    "handle_time_s": ("Handle time", "مدة المعالجة"),
    "reply_time_mean_s": ("Reply time (mean)", "زمن الرد (المتوسط)"),
    "reply_time_max_s": ("Reply time (max)", "زمن الرد (الأقصى)"),
    "unanswered_wait_s": ("Left unanswered", "انتظار دون رد"),
}

_LRM = "\u200e"


def _ltr(text: str) -> str:
    """Keep a date, period or id reading left to right inside Arabic text.

    In an Arabic sentence the bidi algorithm shows "2026-10" as "10-2026"
    (correct to the letter of UBA, ambiguous to a reader of a date). A strong
    left-to-right mark on each side makes the digits and hyphens one LTR run;
    the marks themselves are dropped before drawing.
    """
    return f"{_LRM}{text}{_LRM}"


# --------------------------------------------------------------------------
# text


@dataclass(frozen=True, slots=True)
class TextStyle:
    font: str = FONT
    size: float = 8.6
    leading: float = 13.0
    color: Color = INK
    align: Align = "start"

    def but(self, **changes: Any) -> TextStyle:
        values = {name: getattr(self, name) for name in self.__slots__}
        values.update(changes)
        return TextStyle(**values)


BODY = TextStyle()
SMALL = TextStyle(size=7.6, leading=11.4, color=MUTED)
CELL = TextStyle(size=8.2, leading=12.2)
CELL_HEAD = TextStyle(font=FONT_BOLD, size=8.2, leading=12.2, color=BRAND)
HEADING = TextStyle(font=FONT_BOLD, size=12.5, leading=19, color=BRAND)


_RULE_SPACE = 6.0  # below a heading's text, clear of Arabic descenders


class TextBlock(Flowable):
    """Wrapped, shaped, bidi-ordered plain text (no markup is interpreted).

    ``base`` forces the paragraph direction (labels of the report use the
    report's direction); ``None`` detects it from the text like
    ``dir="auto"``, with ``default`` (the report direction) for text without
    letters. ``start``/``end`` alignment follows the *report* direction
    (``default``), so a table column stays aligned on one side even when an
    English comment sits in an Arabic report.
    """

    def __init__(
        self,
        text: str,
        style: TextStyle = BODY,
        *,
        default: Direction = "L",
        base: Direction | None = None,
        rule: bool = False,
        _lines: tuple[tuple[str, ...], Direction] | None = None,
    ) -> None:
        super().__init__()
        self.text = text
        self.style = style
        self.default: Direction = default
        self.base: Direction | None = base
        self.rule = rule
        self._layout_width: float | None = None
        self._lines: tuple[str, ...] = ()
        self._widths: tuple[float, ...] = ()
        self._direction: Direction = base or default
        if _lines is not None:
            self._lines, self._direction = _lines
            self._widths = tuple(rtl.text_width(x, style.font, style.size) for x in self._lines)
            self._fixed = True
        else:
            self._fixed = False

    def _layout(self, avail_width: float) -> None:
        if self._fixed or self._layout_width == avail_width:
            return
        laid = rtl.layout(
            self.text,
            avail_width,
            self.style.font,
            self.style.size,
            default=self.default,
            base=self.base,
        )
        self._lines, self._direction, self._widths = laid.lines, laid.direction, laid.widths
        self._layout_width = avail_width

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        self._layout(availWidth)
        self.width = availWidth
        self.height = max(1, len(self._lines)) * self.style.leading + (
            _RULE_SPACE if self.rule else 0
        )
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        """Long comments may break across pages, between lines."""
        self._layout(availWidth)
        fit = int(availHeight // self.style.leading)
        if fit < 2 or fit >= len(self._lines) or len(self._lines) < 4:
            return []
        fit = min(fit, len(self._lines) - 2)  # no single orphan/widow line
        head, tail = self._lines[:fit], self._lines[fit:]
        return [
            TextBlock(self.text, self.style, default=self.default, _lines=(head, self._direction)),
            TextBlock(self.text, self.style, default=self.default, _lines=(tail, self._direction)),
        ]

    def _x_anchor(self) -> Literal["left", "right", "center"]:
        align = self.style.align
        if align == "center":
            return "center"
        ltr = self.default == "L"
        return "left" if (align == "start") == ltr else "right"

    def draw(self) -> None:
        self.draw_at(self.canv, 0.0, 0.0)

    def draw_at(self, canv: Canvas, x: float, y: float) -> None:
        """Draw with the block's bottom-left at (x, y), without the
        save/translate/restore that ``drawOn`` costs; one text object for all
        lines."""
        style = self.style
        anchor = self._x_anchor()
        top = y + self.height - (_RULE_SPACE if self.rule else 0)
        canv.setFillColor(style.color)
        text = canv.beginText()
        text.setFont(style.font, style.size)
        for i, (line, line_width) in enumerate(zip(self._lines, self._widths, strict=True)):
            if not line:
                continue
            # Baseline 30% up the line box: room for Arabic descents below and
            # for hamza/ascenders above in Amiri's tall design.
            baseline = top - (i + 1) * style.leading + 0.3 * style.leading
            if anchor == "left":
                left = x
            elif anchor == "right":
                left = x + self.width - line_width
            else:
                left = x + (self.width - line_width) / 2
            text.setTextOrigin(left, baseline)
            text.textOut(line)
        canv.drawText(text)
        if self.rule:
            canv.setStrokeColor(RULE)
            canv.setLineWidth(0.8)
            canv.line(x, y + 1.5, x + self.width, y + 1.5)


class _Grid(Flowable):
    """A light table: fixed column widths, top-aligned text cells, row rules,
    header repeated when it splits across pages, columns mirrored for RTL.

    ReportLab's ``Table`` does much more (spans, styles per cell, nested
    layouts) and costs accordingly; a scorecard needs none of that, and the
    tables are most of a 3-page scorecard's drawing time.
    """

    PAD_X = 4.0
    PAD_Y = 2.5

    def __init__(
        self,
        rows: list[list[Any]],
        widths: Sequence[float],
        *,
        rtl_: bool,
        header: bool = True,
        backgrounds: Sequence[tuple[Any, ...]] = (),
    ) -> None:
        super().__init__()
        self.rows = [[c if isinstance(c, list) else [c] for c in r] for r in rows]
        self.widths = list(widths)
        self.rtl = rtl_
        self.header = header
        self.backgrounds = list(backgrounds)
        self._heights: list[float] = []
        self._wrapped_width: float | None = None

    def _measure(self) -> None:
        if self._heights:
            return
        heights = []
        for row in self.rows:
            tallest = 0.0
            for cell, w in zip(row, self.widths, strict=True):
                inner = w - 2 * self.PAD_X
                tallest = max(tallest, sum(f.wrap(inner, 1e6)[1] for f in cell))
            heights.append(tallest + 2 * self.PAD_Y)
        self._heights = heights

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        self._measure()
        self.width = sum(self.widths)
        self.height = sum(self._heights)
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        self._measure()
        head = 1 if self.header else 0
        used = sum(self._heights[:head])
        fit = head
        while fit < len(self.rows) and used + self._heights[fit] <= availHeight:
            used += self._heights[fit]
            fit += 1
        if fit <= head or fit >= len(self.rows):
            return []
        first_rows, rest_rows = self.rows[:fit], self.rows[:head] + self.rows[fit:]
        shift = fit - head

        def part(rows: list[list[Any]], offset: int, lo: int, hi: int) -> _Grid:
            bgs = []
            for name, (c0, r0), (c1, r1), color in self._normalised_backgrounds():
                if head and r0 == 0 and r1 == 0:
                    bgs.append((name, (c0, 0), (c1, 0), color))
                    continue
                r0, r1 = max(r0, lo), min(r1, hi)
                if r0 <= r1:
                    bgs.append((name, (c0, r0 - offset), (c1, r1 - offset), color))
            return _Grid(rows, self.widths, rtl_=self.rtl, header=self.header, backgrounds=bgs)

        return [
            part(first_rows, 0, head, fit - 1),
            part(rest_rows, shift, fit, len(self.rows) - 1),
        ]

    def _normalised_backgrounds(self) -> list[tuple[Any, ...]]:
        ncols, nrows = len(self.widths), len(self.rows)
        out = []
        for name, (c0, r0), (c1, r1), color in self.backgrounds:
            out.append((name, (c0 % ncols, r0 % nrows), (c1 % ncols, r1 % nrows), color))
        return out

    def _col_x(self) -> list[float]:
        """Left edge of each logical column (column 0 on the right for RTL)."""
        xs, x = [], 0.0
        for w in self.widths:
            xs.append(x)
            x += w
        if self.rtl:
            xs = [self.width - x0 - w for x0, w in zip(xs, self.widths, strict=True)]
        return xs

    def draw(self) -> None:
        canv = self.canv
        self._measure()
        xs = self._col_x()
        tops = []
        y = self.height
        for h in self._heights:
            tops.append(y)
            y -= h
        if self.header:
            canv.setFillColor(BRAND_LIGHT)
            canv.rect(0, tops[0] - self._heights[0], self.width, self._heights[0], 0, 1)
        for _, (c0, r0), (c1, r1), color in self._normalised_backgrounds():
            canv.setFillColor(color)
            for c in range(c0, c1 + 1):
                for r in range(r0, r1 + 1):
                    canv.rect(
                        xs[c], tops[r] - self._heights[r], self.widths[c], self._heights[r], 0, 1
                    )
        for r, row in enumerate(self.rows):
            for c, cell in enumerate(row):
                y = tops[r] - self.PAD_Y
                for flowable in cell:
                    y -= flowable.height
                    flowable.draw_at(canv, xs[c] + self.PAD_X, y)
        canv.setStrokeColor(RULE)
        canv.setLineWidth(0.4)
        for r in range(len(self.rows)):
            bottom = tops[r] - self._heights[r]
            canv.line(0, bottom, self.width, bottom)
        if self.header:
            canv.setStrokeColor(BRAND)
            canv.setLineWidth(0.9)
            bottom = tops[0] - self._heights[0]
            canv.line(0, bottom, self.width, bottom)


# --------------------------------------------------------------------------
# formatting


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def _status_color(value: float | None, target: float | None) -> tuple[Color, Color]:
    """(strong, light) colour of a score against its target."""
    if value is None or target is None:
        return MUTED, ZEBRA
    if value >= target:
        return GOOD, GOOD_LIGHT
    if value >= target - NEAR_TARGET:
        return WARN, WARN_LIGHT
    return BAD, BAD_LIGHT


def _number(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


class _Ctx:
    """Per-render settings: language, direction and label lookup."""

    def __init__(self, card: Scorecard) -> None:
        self.card = card
        self.locale = card.locale
        self.rtl = self.locale == "ar"
        self.dir: Direction = "R" if self.rtl else "L"
        self.labels = LABELS[self.locale]

    def t(self, key: str, **values: Any) -> str:
        text = self.labels[key]
        return text.format(**values) if values else text

    def label(self, en: str, ar: str) -> str:
        """Bilingual data label in the report language, else the other one."""
        first, second = (ar, en) if self.rtl else (en, ar)
        return first if first.strip() else second

    def num(self, text: str) -> str:
        return _ltr(text) if self.rtl else text

    def month_name(self, label: str) -> str:
        year, month = label.split("-")
        return f"{MONTHS[self.locale][int(month) - 1]} {year}"

    def label_text(self, text: str, style: TextStyle = BODY, **kw: Any) -> TextBlock:
        """Text written by us: paragraph direction is the report's."""
        return TextBlock(text, style, default=self.dir, base=self.dir, **kw)

    def user_text(
        self, text: str, style: TextStyle = BODY, *, limit: int = USER_TEXT_CHARS, **kw: Any
    ) -> TextBlock:
        """Text from data: direction detected from the text itself, length bounded."""
        return TextBlock(rtl.truncate(text, limit), style, default=self.dir, **kw)

    def heading(self, text: str) -> list[Flowable]:
        """A section heading that never ends a page: it needs room for itself
        and the first rows below it, else it starts the next page. (Keeping it
        *together* with a long table would push the whole table over and leave
        a half-empty page.)"""
        return [CondPageBreak(HEADING.leading + 70), self.label_text(text, HEADING, rule=True)]

    def table(
        self,
        rows: list[list[Any]],
        widths: Sequence[float],
        backgrounds: Sequence[tuple[Any, ...]] = (),
        *,
        header: bool = True,
    ) -> _Grid:
        """A table in reading order; mirrored (columns right to left) for RTL.

        ``backgrounds``: ("BACKGROUND", (col, row), (col, row), colour) in
        logical columns, as in a ReportLab TableStyle.
        """
        return _Grid(rows, widths, rtl_=self.rtl, header=header, backgrounds=backgrounds)


# --------------------------------------------------------------------------
# page furniture


@dataclass(frozen=True, slots=True)
class _Chrome:
    """What every page carries: footer texts and the running header."""

    rtl: bool
    page_label: Callable[[int, int], str]
    generated: str
    running_header: str


def _page_label(ctx: _Ctx, page: int, pages: int) -> str:
    return ctx.t("page", page=page, pages=pages)


class _ScorecardCanvas(Canvas):
    """Defers page output until the page count is known ("Page X of Y").

    Pages are kept as saved canvas states; ``save`` replays them with the
    footer drawn. Single build pass, no second layout of the story.
    """

    def __init__(self, *args: Any, chrome: _Chrome, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._chrome = chrome
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self._draw_chrome(total)
            super().showPage()
        super().save()

    def _draw_chrome(self, total: int) -> None:
        chrome = self._chrome
        page = self._pageNumber
        left, right = MARGIN_X, PAGE_W - MARGIN_X
        y = MARGIN_BOTTOM - 8 * mm
        size = 7.5
        self.saveState()
        self.setStrokeColor(RULE)
        self.setLineWidth(0.6)
        self.line(left, y + 11, right, y + 11)
        self.setFont(FONT, size)
        self.setFillColor(MUTED)
        width = (right - left) / 2 - 6
        base: Direction = "R" if chrome.rtl else "L"
        generated = rtl.single_line(chrome.generated, width, FONT, size, base=base)
        page_text = rtl.single_line(chrome.page_label(page, total), width, FONT, size, base=base)
        start_x, end_x = (right, left) if chrome.rtl else (left, right)
        draw_start = self.drawRightString if chrome.rtl else self.drawString
        draw_end = self.drawString if chrome.rtl else self.drawRightString
        draw_start(start_x, y, generated)
        draw_end(end_x, y, page_text)
        if page > 1:
            header = rtl.single_line(chrome.running_header, right - left, FONT, size, base=base)
            top = PAGE_H - MARGIN_TOP + 9
            draw_start(start_x, top, header)
            self.line(left, top - 4, right, top - 4)
        self.restoreState()


# --------------------------------------------------------------------------
# flowables drawn by hand (banner, tiles)


class _Banner(Flowable):
    """Title band: report title and agent name at the start, period at the end."""

    def __init__(self, ctx: _Ctx) -> None:
        super().__init__()
        self.ctx = ctx
        self.height = 54

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        self.width = availWidth
        return availWidth, self.height

    def draw(self) -> None:
        ctx, canv, w, h = self.ctx, self.canv, self.width, self.height
        card = ctx.card
        canv.setFillColor(BRAND)
        canv.roundRect(0, 0, w, h, 5, stroke=0, fill=1)
        canv.setFillColor(WHITE)
        pad = 12
        half = w * 0.62
        period = ctx.month_name(card.period.label)
        items = [
            # (text, font, size, baseline y, side, max width)
            (ctx.t("title"), FONT, 9, h - 18, "start", half),
            (card.agent.name, FONT_BOLD, 17, 13, "start", half),
            (period, FONT_BOLD, 14, h - 22, "end", w - half - 2 * pad),
            (ctx.num(card.period.label), FONT, 9, 13, "end", w - half - 2 * pad),
        ]
        for text, font, size, y, side, max_w in items:
            line = rtl.single_line(text, max_w, font, size, default=ctx.dir)
            canv.setFont(font, size)
            at_left = (side == "start") != ctx.rtl
            if at_left:
                canv.drawString(pad, y, line)
            else:
                canv.drawRightString(w - pad, y, line)


@dataclass(frozen=True, slots=True)
class _Tile:
    label: str
    value: str
    note: str
    strong: Color
    light: Color


class _KpiTiles(Flowable):
    """Four KPI tiles in a row (mirrored for RTL)."""

    def __init__(self, ctx: _Ctx, tiles: Sequence[_Tile]) -> None:
        super().__init__()
        self.ctx = ctx
        self.tiles = list(tiles)
        self.height = 60

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        self.width = availWidth
        return availWidth, self.height

    def draw(self) -> None:
        ctx, canv = self.ctx, self.canv
        gap = 8
        n = len(self.tiles)
        tw = (self.width - gap * (n - 1)) / n
        h = self.height
        for i, tile in enumerate(self.tiles):
            slot = n - 1 - i if ctx.rtl else i
            x = slot * (tw + gap)
            canv.setFillColor(tile.light)
            canv.roundRect(x, 0, tw, h, 4, stroke=0, fill=1)
            canv.setFillColor(tile.strong)
            bar_x = x + tw - 3.5 if ctx.rtl else x
            canv.rect(bar_x, 0, 3.5, h, stroke=0, fill=1)
            inner = tw - 16
            rows = [
                (tile.label, FONT, 8, h - 15, MUTED),
                (tile.value, FONT_BOLD, 19, 20, tile.strong),
                (tile.note, FONT, 7.4, 6, MUTED),
            ]
            for text, font, size, y, color in rows:
                if not text:
                    continue
                line = rtl.single_line(text, inner, font, size, base=ctx.dir)
                canv.setFont(font, size)
                canv.setFillColor(color)
                if ctx.rtl:
                    canv.drawRightString(x + tw - 10, y, line)
                else:
                    canv.drawString(x + 10, y, line)


class _Notice(Flowable):
    """A boxed warning (the auto-QA-only notice): amber, bold, full width."""

    PAD_X, PAD_Y = 9.0, 5.0

    def __init__(self, block: TextBlock) -> None:
        super().__init__()
        self.block = block

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        _, h = self.block.wrap(availWidth - 2 * self.PAD_X, availHeight)
        self.width, self.height = availWidth, h + 2 * self.PAD_Y
        return self.width, self.height

    def draw(self) -> None:
        canv = self.canv
        canv.setFillColor(WARN_LIGHT)
        canv.setStrokeColor(WARN)
        canv.setLineWidth(1)
        canv.rect(0, 0, self.width, self.height, 1, 1)
        self.block.draw_at(canv, self.PAD_X, self.PAD_Y)


def _notice(ctx: _Ctx, text: str) -> _Notice:
    return _Notice(ctx.label_text(text, BODY.but(font=FONT_BOLD, color=WARN)))


# --------------------------------------------------------------------------
# charts (reportlab.graphics), mirrored for RTL


class _Mirror:
    """Maps left-to-right chart coordinates to the report's direction."""

    def __init__(self, width: float, rtl_: bool) -> None:
        self.width = width
        self.rtl = rtl_

    def x(self, x: float) -> float:
        return self.width - x if self.rtl else x

    def rect(self, x: float, w: float) -> float:
        """Left edge of a rectangle given its LTR left edge and width."""
        return self.width - x - w if self.rtl else x

    def anchor(self, anchor: str) -> str:
        if not self.rtl or anchor == "middle":
            return anchor
        return "end" if anchor == "start" else "start"


def _string(
    mirror: _Mirror,
    x: float,
    y: float,
    text: str,
    *,
    size: float,
    anchor: str = "start",
    color: Color = INK,
    font: str = FONT,
    max_width: float = 400,
    base: Direction | None = None,
    default: Direction = "L",
) -> String:
    line = rtl.single_line(text, max_width, font, size, base=base, default=default)
    return String(
        mirror.x(x),
        y,
        line,
        fontName=font,
        fontSize=size,
        fillColor=color,
        textAnchor=mirror.anchor(anchor),
    )


def _legend(
    group: Group, mirror: _Mirror, y: float, items: Sequence[tuple[str, str, Color]], ctx: _Ctx
) -> None:
    """Legend swatches: ("bar"|"line"|"dash"|"tick", label, colour)."""
    x = 0.0
    for kind, label, color in items:
        if kind == "bar":
            group.add(Rect(mirror.rect(x, 14), y, 14, 6, fillColor=color, strokeColor=None))
        elif kind == "tick":
            group.add(
                Line(
                    mirror.x(x + 7),
                    y - 2,
                    mirror.x(x + 7),
                    y + 8,
                    strokeColor=color,
                    strokeWidth=1.6,
                )
            )
        else:
            line = Line(
                mirror.x(x), y + 3, mirror.x(x + 14), y + 3, strokeColor=color, strokeWidth=1.6
            )
            if kind == "dash":
                line.strokeDashArray = [3, 2]
            group.add(line)
        text = rtl.single_line(label, 120, FONT, 7.6, base=ctx.dir)
        group.add(
            String(
                mirror.x(x + 18),
                y,
                text,
                fontName=FONT,
                fontSize=7.6,
                fillColor=MUTED,
                textAnchor=mirror.anchor("start"),
            )
        )
        x += 18 + pdfmetrics.stringWidth(text, FONT, 7.6) + 14


@contextmanager
def _trusted_shapes() -> Iterator[None]:
    """Skip ReportLab's per-attribute validation of graphics shapes.

    Every ``setattr`` on a shape is checked against its attribute map when
    ``rl_config.shapeChecking`` is on; the charts here are built from
    validated snapshot numbers, and the checks were ~8% of a render.
    """
    previous = rl_config.shapeChecking
    rl_config.shapeChecking = 0
    try:
        yield
    finally:
        rl_config.shapeChecking = previous


class _Chart(Flowable):
    """Places a chart ``Drawing`` and paints it straight onto the canvas.

    The charts are ordinary ``reportlab.graphics`` drawings (so they can also
    be rendered to SVG/PNG elsewhere), but ``renderPDF`` keeps a full graphics
    state stack per node and was ~15% of a render for ~80 simple nodes. The
    charts use only untransformed groups, strings, paths, lines, polylines and
    circles, which map one to one onto canvas calls; anything else is an error
    rather than a silently wrong picture.
    """

    def __init__(self, drawing: Drawing) -> None:
        super().__init__()
        self.drawing = drawing
        self.width, self.height = drawing.width, drawing.height

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        for node in self.drawing.contents:
            _paint(self.canv, node)


def _paint(canv: Canvas, node: Any) -> None:
    if isinstance(node, Group):
        if tuple(node.transform) != (1, 0, 0, 1, 0, 0):
            raise TypeError("chart groups must not be transformed")
        for child in node.contents:
            _paint(canv, child)
        return
    if isinstance(node, String):
        canv.setFont(node.fontName, node.fontSize)
        canv.setFillColor(node.fillColor)
        anchor = node.textAnchor
        if anchor == "start":
            canv.drawString(node.x, node.y, node.text)
        elif anchor == "end":
            canv.drawRightString(node.x, node.y, node.text)
        elif anchor == "middle":
            canv.drawCentredString(node.x, node.y, node.text)
        else:
            raise TypeError(f"unsupported text anchor {anchor!r}")
        return
    fill = getattr(node, "fillColor", None)
    stroke = node.strokeColor
    if stroke is not None:
        canv.setStrokeColor(stroke)
        canv.setLineWidth(node.strokeWidth)
        canv.setDash(node.strokeDashArray or [])
    if fill is not None:
        canv.setFillColor(fill)
    do_stroke, do_fill = int(stroke is not None), int(fill is not None)
    if isinstance(node, Line):
        canv.line(node.x1, node.y1, node.x2, node.y2)
    elif isinstance(node, Circle):
        canv.circle(node.cx, node.cy, node.r, stroke=do_stroke, fill=do_fill)
    elif isinstance(node, PolyLine | ShapePath):
        path = canv.beginPath()
        if isinstance(node, PolyLine):
            pts = node.points
            path.moveTo(pts[0], pts[1])
            for i in range(2, len(pts), 2):
                path.lineTo(pts[i], pts[i + 1])
            do_fill = 0
        else:
            pts, k = node.points, 0
            for op in node.operators:
                if op == _MOVE_TO:
                    path.moveTo(pts[k], pts[k + 1])
                    k += 2
                elif op == _LINE_TO:
                    path.lineTo(pts[k], pts[k + 1])
                    k += 2
                elif op == _CLOSE_PATH:
                    path.close()
                else:
                    raise TypeError("chart paths use moveTo/lineTo/closePath only")
        canv.drawPath(path, stroke=do_stroke, fill=do_fill)
    elif isinstance(node, Rect):
        canv.rect(node.x, node.y, node.width, node.height, stroke=do_stroke, fill=do_fill)
    else:
        raise TypeError(f"unsupported chart node {type(node).__name__}")
    if stroke is not None and node.strokeDashArray:
        canv.setDash([])


_MOVE_TO, _LINE_TO, _CURVE_TO, _CLOSE_PATH = range(4)


def _drawing(width: float, height: float) -> Drawing:
    # Without this the renderer selects Helvetica first, embedding a second font.
    return Drawing(width, height, initialFontName=FONT, initialFontSize=8)


def _bars(rects: Sequence[tuple[float, float, float, float]], color: Color) -> ShapePath:
    """Many filled rectangles of one colour as one graphics node (fewer nodes,
    less renderer overhead than a Rect each)."""
    path = ShapePath(fillColor=color, strokeColor=None)
    for x, y, w, h in rects:
        path.moveTo(x, y)
        path.lineTo(x + w, y)
        path.lineTo(x + w, y + h)
        path.lineTo(x, y + h)
        path.closePath()
    return path


def _segments(
    segments: Sequence[tuple[float, float, float, float]], color: Color, width: float
) -> ShapePath:
    """Many straight strokes of one style as one graphics node."""
    path = ShapePath(fillColor=None, strokeColor=color, strokeWidth=width)
    for x1, y1, x2, y2 in segments:
        path.moveTo(x1, y1)
        path.lineTo(x2, y2)
    return path


def _criteria_chart(ctx: _Ctx, rows: Sequence[CriterionRow], width: float) -> Drawing:
    """Horizontal bars: agent (coloured by target), team (grey), target tick."""
    row_h = 17.0
    top_pad, bottom_pad = 18.0, 16.0
    height = top_pad + bottom_pad + row_h * len(rows)
    drawing = _drawing(width, height)
    mirror = _Mirror(width, ctx.rtl)
    group = Group()
    label_w = width * 0.34
    value_w = 38.0
    x0 = label_w + 6
    bar_w = width - x0 - value_w - 4

    def bx(pct: float) -> float:
        return x0 + bar_w * max(0.0, min(pct, 100.0)) / 100.0

    plot_top = height - top_pad
    grid = []
    for tick in (0, 25, 50, 75, 100):
        x = mirror.x(bx(tick))
        grid.append((x, bottom_pad - 2, x, plot_top))
        group.add(
            _string(
                mirror,
                bx(tick),
                bottom_pad - 11,
                f"{tick}%",
                size=6.8,
                anchor="middle",
                color=MUTED,
                base=ctx.dir,
            )
        )
    group.add(_segments(grid, RULE, 0.5))
    agent_bars: dict[Color, list[tuple[float, float, float, float]]] = {}
    team_bars: list[tuple[float, float, float, float]] = []
    ticks: list[tuple[float, float, float, float]] = []
    for i, row in enumerate(rows):
        y = plot_top - (i + 1) * row_h
        label = ctx.label(row.label_en, row.label_ar)
        group.add(
            _string(
                mirror,
                label_w,
                y + 5.2,
                label,
                size=7.8,
                anchor="end",
                max_width=label_w - 2,
                default=ctx.dir,
            )
        )
        strong, _ = _status_color(row.agent_pct, row.target_pct)
        if row.agent_pct is not None:
            w = bx(row.agent_pct) - x0
            agent_bars.setdefault(strong, []).append((mirror.rect(x0, w), y + 6, w, 7))
        if row.team_pct is not None:
            w = bx(row.team_pct) - x0
            team_bars.append((mirror.rect(x0, w), y + 3, w, 2.6))
        if row.target_pct is not None:
            tx = mirror.x(bx(row.target_pct))
            ticks.append((tx, y + 1.5, tx, y + 15.5))
        group.add(
            _string(
                mirror,
                width,
                y + 5.2,
                _pct(row.agent_pct),
                size=7.8,
                anchor="end",
                color=strong,
                font=FONT_BOLD,
                base=ctx.dir,
            )
        )
    for color, rects in agent_bars.items():
        group.add(_bars(rects, color))
    group.add(_bars(team_bars, TEAM))
    group.add(_segments(ticks, INK, 1.5))
    _legend(
        group,
        mirror,
        height - 10,
        [
            ("bar", ctx.t("legend_agent"), GOOD),
            ("bar", ctx.t("legend_team"), TEAM),
            ("tick", ctx.t("legend_target"), INK),
        ],
        ctx,
    )
    drawing.add(group)
    return drawing


def _trend_chart(ctx: _Ctx, points: Sequence[TrendPoint], target: float, width: float) -> Drawing:
    """Agent and team lines over the months, target as a dashed line.

    ``None`` months leave a gap. In RTL reports time runs right to left.
    """
    height = 150.0
    drawing = _drawing(width, height)
    mirror = _Mirror(width, ctx.rtl)
    group = Group()
    left, right, bottom, top = 34.0, width - 12, 22.0, height - 22
    values = [v for p in points for v in (p.agent_pct, p.team_pct) if v is not None]
    lo = min([*values, target])
    lo = max(0.0, (int(lo) // 10) * 10 - 10)
    hi = 100.0

    def yv(v: float) -> float:
        return bottom + (top - bottom) * (v - lo) / (hi - lo)

    n = max(1, len(points))
    step = (right - left) / n

    def xi(i: int) -> float:
        return left + step * (i + 0.5)

    span = int(hi - lo)
    ticks = range(int(lo), int(hi) + 1, 10 if span <= 50 else 20)
    group.add(
        _segments([(mirror.x(left), yv(t), mirror.x(right), yv(t)) for t in ticks], RULE, 0.5)
    )
    for tick in ticks:
        y = yv(tick)
        group.add(
            _string(
                mirror,
                left - 4,
                y - 2.5,
                f"{tick}%",
                size=6.8,
                anchor="end",
                color=MUTED,
                base=ctx.dir,
            )
        )
    for i, point in enumerate(points):
        group.add(
            _string(
                mirror,
                xi(i),
                bottom - 12,
                ctx.month_name(point.period),
                size=7.2,
                anchor="middle",
                color=MUTED,
                max_width=step - 2,
                base=ctx.dir,
            )
        )
    ty = yv(target)
    target_line = Line(mirror.x(left), ty, mirror.x(right), ty, strokeColor=BAD, strokeWidth=1)
    target_line.strokeDashArray = [4, 3]
    group.add(target_line)

    patches: list[tuple[float, float, float, float]] = []
    value_labels: list[String] = []

    def value_label(i: int, v: float, other: float | None, color: Color) -> None:
        """Agent value, above the point unless the team line is above it;
        on a white patch so gridlines and the target line do not cross it."""
        text = _pct(v)
        size = 6.8
        w = pdfmetrics.stringWidth(text, FONT_BOLD, size)
        y = yv(v) + 5 if other is None or v >= other else yv(v) - 11
        cx = mirror.x(xi(i))
        patches.append((cx - w / 2 - 1.5, y - 1.5, w + 3, size + 1.5))
        value_labels.append(
            String(
                cx, y, text, fontName=FONT_BOLD, fontSize=size, fillColor=color, textAnchor="middle"
            )
        )

    def series(values: list[float | None], color: Color, dashed: bool, labels: bool) -> None:
        segment: list[float] = []
        segments: list[list[float]] = []
        for i, v in enumerate(values):
            if v is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            segment += [mirror.x(xi(i)), yv(v)]
        if segment:
            segments.append(segment)
        for seg in segments:
            if len(seg) >= 4:
                line = PolyLine(seg, strokeColor=color, strokeWidth=1.8 if not dashed else 1.3)
                if dashed:
                    line.strokeDashArray = [3, 2]
                group.add(line)
        for i, v in enumerate(values):
            if v is None:
                continue
            group.add(
                Circle(
                    mirror.x(xi(i)),
                    yv(v),
                    2.4 if not dashed else 1.8,
                    fillColor=color,
                    strokeColor=WHITE,
                    strokeWidth=0.6,
                )
            )
            if labels:
                value_label(i, v, others[i], color)

    others: list[float | None] = [p.team_pct for p in points]
    series([p.team_pct for p in points], TEAM, True, False)
    series([p.agent_pct for p in points], BRAND, False, True)
    group.add(_bars(patches, WHITE))
    for label in value_labels:
        group.add(label)
    _legend(
        group,
        mirror,
        height - 11,
        [
            ("line", ctx.t("legend_agent"), BRAND),
            ("dash", ctx.t("legend_team"), TEAM),
            ("dash", f"{ctx.t('legend_target')} {_pct(target)}", BAD),
        ],
        ctx,
    )
    drawing.add(group)
    return drawing


# --------------------------------------------------------------------------
# sections of the report


def _header(ctx: _Ctx) -> list[Flowable]:
    card = ctx.card
    team = card.team_name if card.team_name else ctx.t("no_team")
    rubric = ctx.t("rubric_version", name=card.rubric.name, version=card.rubric.version)
    parts = [
        f"{ctx.t('team')}: {team}",
        f"{ctx.t('agent_id')}: {ctx.num(card.agent.external_id)}",
        f"{ctx.t('period')}: {ctx.num(card.period.label)}",
        f"{ctx.t('rubric')}: {rubric}",
    ]
    meta = "   ·   ".join(parts)
    return [_Banner(ctx), Spacer(1, 5), ctx.label_text(meta, SMALL.but(color=INK)), Spacer(1, 6)]


def _kpis(ctx: _Ctx) -> list[Flowable]:
    k = ctx.card.kpis
    strong, light = _status_color(k.overall_pct, k.target_pct)
    if k.overall_pct is None:
        overall_note = ""
    elif k.overall_pct >= k.target_pct:
        overall_note = ctx.t("on_target")
    else:
        overall_note = ctx.t("below_target", points=_number(k.target_pct - k.overall_pct))
    team_strong, team_light = _status_color(k.team_pct, k.target_pct)
    reviews_note = (
        ctx.t("auto_qa_only")
        if k.based_on_auto_qa_only
        else ctx.t("auto_fails", count=k.auto_fail_count)
    )
    tiles = [
        _Tile(ctx.t("kpi_overall"), _pct(k.overall_pct), overall_note, strong, light),
        _Tile(ctx.t("kpi_team"), _pct(k.team_pct), "", team_strong, team_light),
        _Tile(ctx.t("kpi_target"), _pct(k.target_pct), "", BRAND, BRAND_LIGHT),
        _Tile(
            ctx.t("kpi_reviews"),
            str(k.reviews),
            reviews_note,
            WARN if k.based_on_auto_qa_only else BRAND,
            WARN_LIGHT if k.based_on_auto_qa_only else BRAND_LIGHT,
        ),
    ]
    out: list[Flowable] = []
    if k.based_on_auto_qa_only:
        out += [_notice(ctx, ctx.t("notice_auto_qa")), Spacer(1, 7)]
    out += [_KpiTiles(ctx, tiles), Spacer(1, 8)]
    return out


def _score_cells(
    ctx: _Ctx, agent: float | None, team: float | None, target: float | None
) -> list[TextBlock]:
    strong, _ = _status_color(agent, target)
    num = CELL.but(align="center")
    return [
        ctx.label_text(_pct(agent), num.but(font=FONT_BOLD, color=strong)),
        ctx.label_text(_pct(team), num),
        ctx.label_text(_pct(target), num),
    ]


def _sections(ctx: _Ctx, rows: Sequence[SectionRow], width: float) -> list[Flowable]:
    if not rows:
        return []
    head = CELL_HEAD.but(align="center")
    table_rows: list[list[Any]] = [
        [
            ctx.label_text(ctx.t("col_section"), CELL_HEAD),
            ctx.label_text(ctx.t("col_agent"), head),
            ctx.label_text(ctx.t("col_team"), head),
            ctx.label_text(ctx.t("col_target"), head),
            ctx.label_text(ctx.t("col_count"), head),
        ]
    ]
    for row in rows:
        table_rows.append(
            [
                ctx.user_text(ctx.label(row.label_en, row.label_ar), CELL, base=ctx.dir),
                *_score_cells(ctx, row.agent_pct, row.team_pct, row.target_pct),
                ctx.label_text(str(row.count), CELL.but(align="center")),
            ]
        )
    widths = [width * f for f in (0.44, 0.14, 0.14, 0.14, 0.14)]
    zebra = [("BACKGROUND", (0, r), (-1, r), ZEBRA) for r in range(2, len(table_rows), 2)]
    return [
        *ctx.heading(ctx.t("sections")),
        ctx.table(table_rows, widths, zebra),
        Spacer(1, 8),
    ]


def _criteria(ctx: _Ctx, rows: Sequence[CriterionRow], width: float) -> list[Flowable]:
    heading = ctx.heading(ctx.t("criteria"))
    if not rows:
        return [*heading, ctx.label_text(ctx.t("none_criteria"), SMALL), Spacer(1, 8)]
    with _trusted_shapes():
        charts = [
            _Chart(_criteria_chart(ctx, rows[start : start + CHART_ROWS], width))
            for start in range(0, len(rows), CHART_ROWS)
        ]
    return [KeepTogether([*heading, charts[0]]), *charts[1:], Spacer(1, 8)]


def _trend(ctx: _Ctx, points: Sequence[TrendPoint], width: float) -> list[Flowable]:
    if not points:
        return []
    with _trusted_shapes():
        chart = _trend_chart(ctx, points, ctx.card.kpis.target_pct, width)
    return [KeepTogether([*ctx.heading(ctx.t("trend")), _Chart(chart)]), Spacer(1, 8)]


def _behaviours(ctx: _Ctx, rows: Sequence[BehaviourRow], width: float) -> list[Flowable]:
    heading = ctx.heading(ctx.t("behaviours"))
    if not rows:
        return [*heading, ctx.label_text(ctx.t("none_behaviours"), SMALL), Spacer(1, 8)]
    ordered = sorted(rows, key=lambda r: (r.polarity != "use", -r.count, r.behaviour_id))
    head = CELL_HEAD.but(align="center")
    table_rows: list[list[Any]] = [
        [
            ctx.label_text(ctx.t("col_behaviour"), CELL_HEAD),
            ctx.label_text(ctx.t("col_type"), CELL_HEAD),
            ctx.label_text(ctx.t("col_times"), head),
            ctx.label_text(ctx.t("col_rate"), head),
            ctx.label_text(ctx.t("col_example"), CELL_HEAD),
            ctx.label_text(ctx.t("col_suggestion"), CELL_HEAD),
        ]
    ]
    commands: list[tuple[Any, ...]] = []
    excerpt = CELL.but(color=MUTED)
    for i, row in enumerate(ordered, start=1):
        good = row.polarity == "use"
        table_rows.append(
            [
                ctx.user_text(
                    ctx.label(row.label_en, row.label_ar), CELL.but(font=FONT_BOLD), base=ctx.dir
                ),
                ctx.label_text(
                    ctx.t("type_use" if good else "type_avoid"),
                    CELL.but(color=GOOD if good else BAD),
                ),
                ctx.label_text(str(row.count), CELL.but(align="center")),
                ctx.label_text(f"{row.rate:.2f}", CELL.but(align="center")),
                ctx.user_text(row.example or "—", excerpt, limit=EXCERPT_CHARS),
                ctx.user_text(row.suggestion or "—", CELL, limit=EXCERPT_CHARS),
            ]
        )
        commands.append(("BACKGROUND", (1, i), (1, i), GOOD_LIGHT if good else BAD_LIGHT))
    widths = [width * f for f in (0.15, 0.11, 0.07, 0.11, 0.30, 0.26)]
    return [*heading, ctx.table(table_rows, widths, commands), Spacer(1, 8)]


def _timing(ctx: _Ctx, rows: Sequence[TimingRow], width: float) -> list[Flowable]:
    if not rows:
        return []
    head = CELL_HEAD.but(align="center")
    table_rows: list[list[Any]] = [
        [
            ctx.label_text(ctx.t("col_metric"), CELL_HEAD),
            ctx.label_text(ctx.t("col_average"), head),
            ctx.label_text(ctx.t("col_threshold"), head),
            ctx.label_text(ctx.t("col_status"), head),
        ]
    ]
    commands: list[tuple[Any, ...]] = []

    def fmt(metric: str, value: float | None) -> str:
        if value is None:
            return "—"
        if metric.endswith("_s"):
            return ctx.t("seconds", value=_number(value))
        return f"{value:.2f}"

    for i, row in enumerate(rows, start=1):
        en, ar = METRIC_LABELS[row.metric]
        if row.value is None or row.threshold is None:
            status, color = "—", MUTED
        elif row.value <= row.threshold:
            status, color = ctx.t("within"), GOOD
        else:
            status, color = ctx.t("over"), BAD
            commands.append(("BACKGROUND", (3, i), (3, i), BAD_LIGHT))
        num = CELL.but(align="center")
        table_rows.append(
            [
                ctx.label_text(ar if ctx.rtl else en, CELL),
                ctx.label_text(fmt(row.metric, row.value), num.but(font=FONT_BOLD)),
                ctx.label_text(fmt(row.metric, row.threshold), num),
                ctx.label_text(status, num.but(color=color)),
            ]
        )
    widths = [width * f for f in (0.43, 0.19, 0.19, 0.19)]
    return [
        *ctx.heading(ctx.t("timing")),
        ctx.table(table_rows, widths, commands),
        Spacer(1, 8),
    ]


_PRIORITY_COLORS = {
    "high": (BAD, BAD_LIGHT),
    "medium": (WARN, WARN_LIGHT),
    "low": (GOOD, GOOD_LIGHT),
}


def _coaching(ctx: _Ctx, items: Sequence[CoachingItem], width: float) -> list[Flowable]:
    heading = ctx.heading(ctx.t("coaching"))
    if not items:
        return [*heading, ctx.label_text(ctx.t("none_coaching"), SMALL), Spacer(1, 8)]
    order = {"high": 0, "medium": 1, "low": 2}
    ordered = sorted(items, key=lambda item: order[item.priority])
    table_rows: list[list[Any]] = [
        [
            ctx.label_text(ctx.t("col_priority"), CELL_HEAD),
            ctx.label_text(ctx.t("col_criterion"), CELL_HEAD),
            ctx.label_text(ctx.t("col_why"), CELL_HEAD),
            ctx.label_text(ctx.t("col_practice"), CELL_HEAD),
        ]
    ]
    commands: list[tuple[Any, ...]] = []
    evidence_style = SMALL
    for i, item in enumerate(ordered, start=1):
        strong, light = _PRIORITY_COLORS[item.priority]
        why: list[Flowable] = [ctx.user_text(item.reason, CELL)]
        for ev in item.evidence[:EVIDENCE_PER_ITEM]:
            excerpt = rtl.truncate(ev.excerpt, EXCERPT_CHARS)
            direction = rtl.detect_direction(rtl.sanitize(excerpt), ctx.dir)
            why.append(
                TextBlock(
                    f"{ev.interaction_external_id}: {excerpt}",
                    evidence_style,
                    default=ctx.dir,
                    base=direction,
                )
            )
        hidden = len(item.evidence) - EVIDENCE_PER_ITEM
        if hidden > 0:
            why.append(ctx.label_text(ctx.t("more_evidence", count=hidden), evidence_style))
        table_rows.append(
            [
                ctx.label_text(
                    ctx.t(f"priority_{item.priority}"), CELL.but(font=FONT_BOLD, color=strong)
                ),
                ctx.user_text(item.criterion_label, CELL.but(font=FONT_BOLD)),
                why,
                ctx.user_text(item.practice, CELL),
            ]
        )
        commands.append(("BACKGROUND", (0, i), (0, i), light))
    widths = [width * f for f in (0.10, 0.18, 0.44, 0.28)]
    return [*heading, ctx.table(table_rows, widths, commands), Spacer(1, 8)]


def _comments(ctx: _Ctx, comments: Sequence[ReviewerComment], width: float) -> list[Flowable]:
    heading = ctx.heading(ctx.t("comments"))
    if not comments:
        return [*heading, ctx.label_text(ctx.t("none_comments"), SMALL)]
    table_rows: list[list[Any]] = [
        [
            ctx.label_text(ctx.t("col_date"), CELL_HEAD),
            ctx.label_text(ctx.t("col_reviewer"), CELL_HEAD),
            ctx.label_text(ctx.t("col_interaction"), CELL_HEAD),
            ctx.label_text(ctx.t("col_criterion"), CELL_HEAD),
            ctx.label_text(ctx.t("col_comment"), CELL_HEAD),
        ]
    ]
    for c in sorted(comments, key=lambda c: (c.date, c.interaction_external_id)):
        table_rows.append(
            [
                ctx.label_text(ctx.num(c.date.isoformat()), CELL),
                ctx.user_text(c.reviewer_name, CELL),
                ctx.user_text(c.interaction_external_id, CELL),
                ctx.user_text(c.criterion_label or ctx.t("general"), CELL),
                ctx.user_text(c.text, CELL, limit=COMMENT_CHARS),
            ]
        )
    widths = [width * f for f in (0.12, 0.15, 0.15, 0.17, 0.41)]
    zebra = [("BACKGROUND", (0, r), (-1, r), ZEBRA) for r in range(2, len(table_rows), 2)]
    return [*heading, ctx.table(table_rows, widths, zebra)]


def _story(ctx: _Ctx, width: float) -> list[Flowable]:
    card = ctx.card
    story: list[Flowable] = []
    story += _header(ctx)
    story += _kpis(ctx)
    story += _sections(ctx, card.sections, width)
    story += _criteria(ctx, card.criteria, width)
    story += _trend(ctx, card.trend, width)
    story += _behaviours(ctx, card.behaviours, width)
    story += _timing(ctx, card.timing, width)
    story += _coaching(ctx, card.coaching, width)
    story += _comments(ctx, card.comments, width)
    return story


def _generated(ctx: _Ctx) -> str:
    card = ctx.card
    local = card.generated_at.astimezone(ZoneInfo(card.timezone))
    stamp = f"{local:%Y-%m-%d %H:%M} ({card.timezone})"
    return ctx.t("generated", timestamp=ctx.num(stamp))


def render_scorecard(snapshot: Scorecard, *, invariant: bool = True) -> bytes:
    """The scorecard PDF for ``snapshot``.

    With ``invariant`` (the default) the same snapshot gives byte-identical
    output, so a stored scorecard can be re-rendered and compared or hashed.
    """
    register_fonts()
    ctx = _Ctx(snapshot)
    buffer = io.BytesIO()
    card = snapshot
    title = f"{ctx.t('title')} — {card.agent.name} — {card.period.label}"
    doc = BaseDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM,
        title=title,
        author="Jawda",
        subject=f"{card.agent.external_id} {card.period.label}",
        creator="Jawda scorecards",
        invariant=1 if invariant else 0,
        lang=snapshot.locale,
        # The canvas otherwise declares Helvetica on every page, a second
        # (unused) font family in the PDF.
        initialFontName=FONT,
        initialFontSize=BODY.size,
        initialLeading=BODY.leading,
    )
    frame = Frame(
        doc.leftMargin,
        doc.bottomMargin,
        doc.width,
        doc.height,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
        id="body",
    )
    doc.addPageTemplates([PageTemplate(id="scorecard", frames=[frame])])
    running = "   ·   ".join([ctx.t("title"), card.agent.name, ctx.num(card.period.label)])
    chrome = _Chrome(
        rtl=ctx.rtl,
        page_label=partial(_page_label, ctx),
        generated=_generated(ctx),
        running_header=running,
    )
    doc.build(_story(ctx, doc.width), canvasmaker=partial(_ScorecardCanvas, chrome=chrome))
    return buffer.getvalue()
