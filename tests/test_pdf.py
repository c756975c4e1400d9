"""Scorecard snapshot round trip and PDF rendering (English, Arabic, hostile text).

Reading Arabic back out of a PDF. The PDF holds what was *drawn*: shaped
presentation forms (U+FE70.., U+FB50..) in visual (left-to-right drawing) order.
pypdf's default extraction applies its own naive right-to-left heuristic
(reversing runs of RTL characters inside each drawn string), which scrambles
mixed lines, so Arabic checks use ``extraction_mode="layout"``, which returns
the drawn strings in drawing order. Then:

* an independent oracle: a hand-written expected *visual* string (after NFKC)
  pins down what the reader sees: Arabic words letter-reversed because they are
  read from the right, numbers and Latin names left to right;
* logical order is recovered per cell (layout mode separates table cells with
  runs of spaces): run the bidi algorithm over the visual text again with a
  right-to-left base (for a line of one RTL paragraph this is its own inverse:
  RTL runs are reversed back, embedded LTR runs such as "2026-10" or "Ahmed"
  stay, mirrored brackets flip back), and only *then* NFKC-normalise, which maps
  presentation forms to base letters. NFKC first would expand the lam-alef
  ligature into two letters in visual order, which the reversal would then swap.
  Cells without any RTL letter were drawn left to right and are left alone.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from dataclasses import replace
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path

import arabic_reshaper
import pytest
from bidi.algorithm import get_display  # the implementation that mirrors brackets (L4)
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pypdf import PdfReader

from scorecards import rtl
from scorecards.pdf import FONT, register_fonts, render_scorecard
from scorecards.snapshot import (
    AgentInfo,
    BehaviourRow,
    CoachingItem,
    CriterionRow,
    Evidence,
    Kpis,
    Period,
    ReviewerComment,
    RubricRef,
    Scorecard,
    SectionRow,
    SnapshotError,
    TimingRow,
    TrendPoint,
)

MIXED = "نسبة 85% في شهر 2026-10 مع Ahmed"
# What a reader sees, left to right, after NFKC: Arabic words spelled backwards
# (they are read from the right), "Ahmed" and every number intact. In Arabic
# context UBA puts the % sign of "85%" on the left ("%85") and shows the
# date's parts right to left ("10-2026" read from the right is 2026, 10).
MIXED_VISUAL = "Ahmed عم 10-2026 رهش يف %85 ةبسن"


# --------------------------------------------------------------------------
# snapshots built by hand


def english_card(**changes: object) -> Scorecard:
    card = Scorecard(
        agent=AgentInfo(id=17, external_id="AG-0017", name="Sarah Connor", locale="en"),
        team_name="Billing Support",
        period=Period(2026, 10),
        timezone="Asia/Riyadh",
        generated_at=datetime(2026, 11, 1, 3, 0, tzinfo=UTC),
        rubric=RubricRef(key="cs-core", version=3, name="Customer Service Core"),
        kpis=Kpis(
            overall_pct=82.4,
            team_pct=79.1,
            target_pct=85.0,
            reviews=14,
            auto_fail_count=1,
            based_on_auto_qa_only=False,
        ),
        sections=(
            SectionRow("prof", "Professionalism", "الاحترافية", 91.0, 86.5, 85.0, 42),
            SectionRow("emp", "Empathy", "التعاطف", 71.3, 77.0, 85.0, 28),
            SectionRow("acc", "Accuracy", "الدقة", 84.2, 80.2, 85.0, 28),
            SectionRow("time", "Timeliness", "سرعة الاستجابة", 88.0, 81.0, 85.0, 14),
        ),
        criteria=(
            CriterionRow(
                "greet", "prof", "Greets the customer", "تحية العميل", 96.0, 92.0, 90.0, 14
            ),
            CriterionRow(
                "intro", "prof", "Introduces self", "التعريف بالنفس", 88.5, 84.0, 90.0, 14
            ),
            CriterionRow("tone", "prof", "Courteous tone", "نبرة مهذبة", 89.0, 83.0, 85.0, 14),
            CriterionRow(
                "ack",
                "emp",
                "Acknowledges feelings",
                "الاعتراف بمشاعر العميل",
                64.0,
                75.0,
                85.0,
                14,
            ),
            CriterionRow(
                "apol",
                "emp",
                "Apologises when appropriate",
                "الاعتذار عند الحاجة",
                78.6,
                79.0,
                85.0,
                14,
            ),
            CriterionRow(
                "info",
                "acc",
                "Gives correct information",
                "تقديم معلومات صحيحة",
                85.7,
                81.0,
                90.0,
                14,
            ),
            CriterionRow(
                "verify", "acc", "Verifies identity", "التحقق من الهوية", 82.7, 79.4, 90.0, 14
            ),
            CriterionRow("first", "time", "Responds promptly", "الرد السريع", 88.0, 81.0, 85.0, 14),
            CriterionRow(
                "close",
                "prof",
                "Closes the call properly",
                "إنهاء المكالمة بشكل لائق",
                None,
                88.0,
                85.0,
                0,
            ),
        ),
        trend=(
            TrendPoint("2026-05", 74.0, 77.0),
            TrendPoint("2026-06", 77.5, 78.2),
            TrendPoint("2026-07", None, 78.0),
            TrendPoint("2026-08", 80.1, 78.6),
            TrendPoint("2026-09", 79.0, 79.0),
            TrendPoint("2026-10", 82.4, 79.1),
        ),
        behaviours=(
            BehaviourRow(
                "greeting",
                "Greeting",
                "التحية",
                "use",
                14,
                1.0,
                "Good morning, thank you for calling Jawda Telecom.",
                None,
            ),
            BehaviourRow(
                "empathy",
                "Empathy",
                "التعاطف",
                "use",
                6,
                0.43,
                "I understand how frustrating that must be.",
                "Use it earlier, right after the customer describes the problem.",
            ),
            BehaviourRow(
                "gratitude",
                "Gratitude",
                "الشكر",
                "use",
                11,
                0.79,
                "Thanks for your patience while I checked.",
                None,
            ),
            BehaviourRow(
                "blame",
                "Blaming",
                "إلقاء اللوم",
                "avoid",
                3,
                0.21,
                "That's the billing team's fault, not mine.",
                "Let me find out what happened and fix it for you.",
            ),
            BehaviourRow(
                "uncertainty",
                "Uncertain language",
                "لغة مترددة",
                "avoid",
                5,
                0.36,
                "I guess it might work, maybe.",
                "Here is what will happen next: ...",
            ),
        ),
        timing=(
            TimingRow("first_response_s", 7.5, 10.0),
            TimingRow("longest_silence_s", 41.0, 30.0),
            TimingRow("hold_max_s", 95.0, 120.0),
            TimingRow("talk_ratio", 1.35, None),
        ),
        coaching=(
            CoachingItem(
                priority="high",
                criterion_label="Acknowledges feelings",
                reason="Empathy was missing after the customer expressed frustration in "
                "4 of 14 calls.",
                evidence=(
                    Evidence(
                        "CALL-88121",
                        "Customer: this is the third time I call! "
                        "Agent: what is your account number?",
                    ),
                    Evidence("CALL-88190", "Customer: I am really upset. Agent: ok."),
                ),
                practice="Practise acknowledging the feeling before asking for details: "
                "'I can hear this has been frustrating; let me sort it out.'",
            ),
            CoachingItem(
                priority="medium",
                criterion_label="Introduces self",
                reason="Self-introduction skipped on transferred calls.",
                evidence=(Evidence("CALL-88302", "Agent: yes, how can I help?"),),
                practice="Always give your name, even on a warm transfer.",
            ),
            CoachingItem(
                priority="low",
                criterion_label="Closes the call properly",
                reason="Closing is good; keep summarising next steps.",
                evidence=(),
                practice="Keep the summary-and-thanks closing routine.",
            ),
        ),
        comments=(
            ReviewerComment(
                "Omar Haddad",
                date(2026, 10, 7),
                "CALL-88121",
                "Acknowledges feelings",
                "Solid resolution but the customer needed reassurance first.",
            ),
            ReviewerComment(
                "Lina Saleh",
                date(2026, 10, 19),
                "CALL-88302",
                None,
                "Great product knowledge; remember to introduce yourself.",
            ),
        ),
    )
    return replace(card, **changes) if changes else card


def arabic_card(**changes: object) -> Scorecard:
    base = english_card()
    card = replace(
        base,
        agent=AgentInfo(id=23, external_id="AG-0023", name="أحمد المنصور", locale="ar"),
        team_name="فريق الفواتير",
        rubric=RubricRef(key="cs-core", version=3, name="أساسيات خدمة العملاء"),
        behaviours=(
            BehaviourRow(
                "greeting",
                "Greeting",
                "التحية",
                "use",
                14,
                1.0,
                "صباح الخير، شكراً لاتصالك بشركة جودة للاتصالات",
                None,
            ),
            BehaviourRow(
                "empathy",
                "Empathy",
                "التعاطف",
                "use",
                6,
                0.43,
                "أتفهم تماماً انزعاجك من تكرار المشكلة",
                "استخدمها مبكراً بعد أن يشرح العميل المشكلة",
            ),
            BehaviourRow(
                "blame",
                "Blaming",
                "إلقاء اللوم",
                "avoid",
                3,
                0.21,
                "هذا خطأ قسم الفواتير وليس خطئي",
                "دعني أتحقق مما حدث وأصلحه لك الآن",
            ),
        ),
        coaching=(
            CoachingItem(
                priority="high",
                criterion_label="الاعتراف بمشاعر العميل",
                reason=MIXED,
                evidence=(
                    Evidence("CALL-9001", "العميل: هذه ثالث مرة أتصل! الموظف: ما رقم حسابك؟"),
                ),
                practice="تدرّب على عبارة (أتفهم شعورك) قبل طلب التفاصيل.",
            ),
        ),
        comments=(
            ReviewerComment(
                "سلمى العتيبي",
                date(2026, 10, 12),
                "CALL-9001",
                "الاعتراف بمشاعر العميل",
                "حل ممتاز للمشكلة لكن العميل احتاج إلى طمأنة أولاً.",
            ),
            ReviewerComment(
                "John Smith",
                date(2026, 10, 20),
                "CHAT-77",
                None,
                "Good tone overall; verify identity before changes.",
            ),
        ),
    )
    return replace(card, **changes) if changes else card


def auto_qa_card() -> Scorecard:
    base = english_card()
    return replace(
        base,
        agent=AgentInfo(id=31, external_id="AG-0031", name="Nadia Youssef", locale="en"),
        kpis=Kpis(
            overall_pct=76.0,
            team_pct=79.1,
            target_pct=85.0,
            reviews=0,
            auto_fail_count=0,
            based_on_auto_qa_only=True,
        ),
        comments=(),
    )


HOSTILE_NAME = "Eve <script>alert(1)</script> & Co"
HOSTILE_COMMENT = "Price < 5 & > 3 <b>bold?</b> &amp; <para>x</para> <font size=40>big</font>"
HOSTILE_EXCERPT = "Open the file invoice\u202egpj.exe now"


def hostile_card() -> Scorecard:
    base = english_card()
    return replace(
        base,
        agent=AgentInfo(id=66, external_id="AG-<66>", name=HOSTILE_NAME, locale="en"),
        comments=(
            ReviewerComment(
                "Mallory & <i>Trent</i>", date(2026, 10, 3), "CALL-&1", None, HOSTILE_COMMENT
            ),
        ),
        coaching=(
            CoachingItem(
                "high",
                "Accuracy <img src=x>",
                "Reason with \x00 null and \x1b esc",
                (Evidence("CALL-X", HOSTILE_EXCERPT),),
                "Practice \u2067inside\u2069",
            ),
        ),
    )


# --------------------------------------------------------------------------
# helpers


def pdf_text(data: bytes) -> list[str]:
    """Per page text (pypdf default mode; fine for left-to-right text)."""
    reader = PdfReader(io.BytesIO(data))
    return [page.extract_text() for page in reader.pages]


def flat(text: str) -> str:
    """Whitespace collapsed, so text wrapped inside a table cell reads as one."""
    return " ".join(text.split())


def visual_pages(data: bytes) -> list[str]:
    """Per page text in drawing order, presentation forms mapped back (NFKC)."""
    reader = PdfReader(io.BytesIO(data))
    return [nfkc(page.extract_text(extraction_mode="layout")) for page in reader.pages]


def logical_cells(data: bytes) -> list[str]:
    """Every drawn cell/line of the PDF in logical order (see module docstring)."""
    reader = PdfReader(io.BytesIO(data))
    cells: list[str] = []
    for page in reader.pages:
        for line in page.extract_text(extraction_mode="layout").splitlines():
            for chunk in re.split(r"\s{2,}", line.strip()):
                if rtl.has_rtl(chunk):
                    chunk = get_display(chunk, base_dir="R")
                cells.append(nfkc(chunk))
    return cells


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


@pytest.fixture(scope="module")
def english_pdf() -> bytes:
    return render_scorecard(english_card())


@pytest.fixture(scope="module")
def arabic_pdf() -> bytes:
    return render_scorecard(arabic_card())


# --------------------------------------------------------------------------
# snapshot


def test_snapshot_round_trips_through_json() -> None:
    for card in (english_card(), arabic_card(), auto_qa_card(), hostile_card()):
        data = json.loads(json.dumps(card.to_dict(), ensure_ascii=False))
        assert Scorecard.from_dict(data) == card
        assert data["period"]["label"] == card.period.label


def test_snapshot_is_frozen() -> None:
    card = english_card()
    with pytest.raises(AttributeError):
        card.team_name = "x"  # type: ignore[misc]
    assert isinstance(card.criteria, tuple)


@pytest.mark.parametrize(
    ("mutate", "code", "path"),
    [
        (lambda d: d["kpis"].pop("target_pct"), "snapshot.missing_field", "kpis.target_pct"),
        (
            lambda d: d["criteria"][2].update(agent_pct=120),
            "snapshot.bad_value",
            "criteria[2].agent_pct",
        ),
        (lambda d: d["criteria"][0].update(count="3"), "snapshot.bad_type", "criteria[0].count"),
        (lambda d: d["agent"].update(locale="fr"), "snapshot.bad_value", "agent.locale"),
        (
            lambda d: d.update(generated_at="2026-11-01T03:00:00"),
            "snapshot.bad_value",
            "generated_at",
        ),
        (lambda d: d.update(timezone="Mars/Base"), "snapshot.bad_value", "timezone"),
        (
            lambda d: d["behaviours"][3].update(polarity="use"),
            "snapshot.bad_value",
            "behaviours[3].polarity",
        ),
        (lambda d: d["timing"][0].update(metric="speed"), "snapshot.bad_value", "timing[0].metric"),
        (lambda d: d["trend"][1].update(period="2026/06"), "snapshot.bad_value", "trend[1].period"),
        (
            lambda d: d["kpis"].update(based_on_auto_qa_only=True),
            "snapshot.bad_value",
            "kpis.based_on_auto_qa_only",
        ),
        (lambda d: d.update(schema_version=99), "snapshot.unsupported_version", "schema_version"),
        (
            lambda d: d["coaching"][0].update(prio="high"),
            "snapshot.unknown_field",
            "coaching[0].prio",
        ),
        (
            lambda d: d["kpis"].update(overall_pct=float("nan")),
            "snapshot.bad_value",
            "kpis.overall_pct",
        ),
        (lambda d: d["period"].update(label="2026-09"), "snapshot.bad_value", "period.label"),
    ],
)
def test_snapshot_errors_name_the_field(mutate, code: str, path: str) -> None:  # type: ignore[no-untyped-def]
    data = english_card().to_dict()
    mutate(data)
    with pytest.raises(SnapshotError) as err:
        Scorecard.from_dict(data)
    assert err.value.code == code
    assert err.value.path == path
    assert path in str(err.value)


# --------------------------------------------------------------------------
# rtl helpers


def test_mixed_line_visual_order() -> None:
    register_fonts()
    laid = rtl.layout(MIXED, 1000, FONT, 10)
    assert laid.direction == "R"
    assert len(laid.lines) == 1
    assert nfkc(laid.lines[0]) == MIXED_VISUAL


def test_wrap_happens_before_reordering() -> None:
    """The first *logical* words must be on the first line (top), drawn at the right."""
    register_fonts()
    text = "واحد اثنان خمسة ستة سبعة ثمانية تسعة عشرة"
    laid = rtl.layout(text, 70, FONT, 10)
    assert len(laid.lines) >= 3
    first = nfkc(get_display(laid.lines[0], base_dir="R"))
    last = nfkc(get_display(laid.lines[-1], base_dir="R"))
    assert first.startswith("واحد")
    assert last.endswith("عشرة")
    # the first word is drawn (letters reversed) at the right end of the first line
    assert nfkc(laid.lines[0]).endswith("واحد"[::-1])


def test_brackets_are_mirrored_in_rtl_runs() -> None:
    register_fonts()
    laid = rtl.layout("قال (ممتاز) اليوم", 1000, FONT, 10)
    assert nfkc(laid.lines[0]) == "مويلا (زاتمم) لاق"


def test_bidi_controls_are_stripped() -> None:
    assert rtl.sanitize("a\u202eb\u2066c\u2069d\u202ce\x00f\r\ng") == "abcdef\ng"
    # the override cannot reverse the Latin text any more
    register_fonts()
    laid = rtl.layout(HOSTILE_EXCERPT, 1000, FONT, 10)
    assert laid.lines == ("Open the file invoicegpj.exe now",)


def test_arabic_digits_and_latin_keep_their_order() -> None:
    register_fonts()
    line = rtl.single_line("الرقم 12345 والرمز ABC-99", 1000, FONT, 10)
    assert "12345" in line and "ABC-99" in line


@settings(max_examples=60, deadline=None)
@given(
    words=st.lists(
        st.sampled_from(
            [
                "مرحبا",
                "بكم",
                "في",
                "Jawda",
                "85%",
                "2026-10",
                "الخدمة",
                "(نعم)",
                "supercalifragilisticexpialidocious",
                "لا",
                "،",
                "ok.",
            ]
        ),
        min_size=1,
        max_size=30,
    ),
    width=st.floats(min_value=30, max_value=400),
)
def test_wrap_keeps_every_word_and_fits(words: list[str], width: float) -> None:
    register_fonts()
    from reportlab.pdfbase.pdfmetrics import stringWidth

    text = " ".join(words)
    shaped = rtl.shape(text)
    lines = rtl.wrap_logical(shaped, width, FONT, 9)
    assert "".join(lines).replace(" ", "") == shaped.replace(" ", "")
    for line in lines:
        assert stringWidth(line, FONT, 9) <= width + 1e-6 or len(line) == 1


@lru_cache(maxsize=1)
def _reference_reshaper() -> arabic_reshaper.ArabicReshaper:
    return arabic_reshaper.ArabicReshaper(configuration=rtl.RESHAPER_CONFIG)


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        # Arabic letters (with lam/alef variants for the ligatures), harakat,
        # tatweel, ZWNJ, spaces, Latin and digits. ZWJ is left out: after a
        # ZWJ the library's ligature pass indexes the wrong letters.
        alphabet=st.sampled_from(
            sorted({c for c in rtl._FORMS if c != "\u200d"} | set("لاأإآ ًٌَُِّْ\u0640\u200cab1%("))
        ),
        min_size=1,
        max_size=20,
    )
)
def test_fast_shaper_matches_arabic_reshaper(text: str) -> None:
    reference = _reference_reshaper()
    assert rtl.shape.__wrapped__(text) == (
        reference.reshape(text) if rtl.has_arabic(text) else text
    )


# --------------------------------------------------------------------------
# English PDF


def test_english_pdf_contains_the_facts(english_pdf: bytes) -> None:
    pages = pdf_text(english_pdf)
    assert 2 <= len(pages) <= 3
    text = flat("\n".join(pages))
    for expected in [
        "Sarah Connor",
        "AG-0017",
        "Billing Support",
        "October 2026",
        "2026-10",
        "Customer Service Core (v3)",
        "82.4%",  # overall
        "79.1%",  # team average
        "85.0%",  # target
        "Reviews",
        "14",
        "Auto-fails: 1",
        "2.6 pts below target",
        "Greets the customer",
        "Acknowledges feelings",
        "Apologises when appropriate",
        "6-month trend",
        "I understand how frustrating that must be.",
        "Let me find out what happened and fix it for you.",
        "Practise acknowledging the feeling before asking for details",
        "CALL-88121",
        "Great product knowledge; remember to introduce yourself.",
        "Generated 2026-11-01 06:00 (Asia/Riyadh)",
        "Over threshold",
    ]:
        assert expected in text, expected
    assert "based on auto-QA only" not in text.lower()
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page


def test_output_is_deterministic(english_pdf: bytes) -> None:
    assert render_scorecard(english_card()) == english_pdf
    assert render_scorecard(english_card(), invariant=False) != english_pdf


def test_output_is_identical_in_another_process(english_pdf: bytes, tmp_path: Path) -> None:
    """Nothing depends on hash seeds, object ids or the wall clock."""
    snapshot = tmp_path / "card.json"
    snapshot.write_text(json.dumps(english_card().to_dict()), encoding="utf-8")
    out = tmp_path / "card.pdf"
    code = (
        "import json,sys; from scorecards.snapshot import Scorecard;"
        "from scorecards.pdf import render_scorecard;"
        "d=json.load(open(sys.argv[1],encoding='utf-8'));"
        "open(sys.argv[2],'wb').write(render_scorecard(Scorecard.from_dict(d)))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run(
        [sys.executable, "-c", code, str(snapshot), str(out)],
        check=True,
        env=env,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert out.read_bytes() == english_pdf


def test_auto_qa_only_notice() -> None:
    pages = pdf_text(render_scorecard(auto_qa_card()))
    text = "\n".join(pages)
    assert "Based on auto-QA only" in text
    assert "Auto-QA only" in text
    assert "Nadia Youssef" in text
    assert "No reviewer comments this month." in text


def test_hostile_text_is_shown_as_text() -> None:
    data = render_scorecard(hostile_card())
    text = "\n".join(pdf_text(data))
    flat_text = flat(text)
    assert HOSTILE_NAME in flat_text
    assert "Price < 5 & > 3 <b>bold?</b> &amp; <para>x</para> <font size=40>big</font>" in flat_text
    assert "Mallory & <i>Trent</i>" in flat_text
    assert "Accuracy <img src=x>" in flat_text
    # the RLO is gone, so the text reads as typed (no "exe.jpg" trick)
    assert "invoicegpj.exe" in flat_text
    assert "\u202e" not in text and "\u2067" not in text
    assert "Reason with null and esc" in flat_text
    assert "Practice inside" in flat_text


# --------------------------------------------------------------------------
# Arabic PDF


def test_arabic_pdf_reads_right_to_left(arabic_pdf: bytes) -> None:
    pages = visual_pages(arabic_pdf)
    assert 2 <= len(pages) <= 3
    visual = "\n".join(pages)
    cells = logical_cells(arabic_pdf)
    logical = "\n".join(cells)
    # what the reader sees (independent oracle)
    assert MIXED_VISUAL in visual
    # logical order recovered from the drawn lines
    for expected in [
        "أحمد المنصور",
        "بطاقة الأداء الشهرية للموظف",
        "أكتوبر 2026",
        "الدرجة الإجمالية",
        "متوسط الفريق",
        "أقل من الهدف بمقدار 2.6 نقطة",
        "الدرجات حسب المعيار",
        "الاعتراف بمشاعر العميل",
        "تحية العميل",
        "الاتجاه خلال 6 أشهر",
        "خطة التدريب",
        MIXED,
        "تدرب على عبارة (أتفهم شعورك) قبل طلب",
        "حل ممتاز للمشكلة لكن العميل احتاج إلى طمأنة أولا.",
        "هذا خطأ قسم الفواتير وليس خطئي",
        "CALL-9001: العميل: هذه ثالث مرة أتصل! الموظف: ما رقم حسابك؟",
        "نموذج التقييم: أساسيات خدمة العملاء (الإصدار 3)",
    ]:
        assert expected in logical, expected
    # KPI numbers are whole cells
    for number in ("82.4%", "79.1%", "85.0%", "14"):
        assert number in cells, number
    # an English comment inside the Arabic report stays left to right
    assert "Good tone overall; verify identity before changes." in visual
    # ids, dates and periods we print are kept left to right inside Arabic labels
    assert "AG-0023 :فظوملا مقر" in visual
    assert "2026-11-01 06:00 (Asia/Riyadh) رادصلإا خيرات" in visual
    assert "2026-10 :ةرتفلا" in visual
    for number, page in enumerate(pages, start=1):
        assert f"{len(pages)} نم {number} ةحفص" in page
        assert f"صفحة {number} من {len(pages)}" in cells


def test_arabic_uses_presentation_forms(arabic_pdf: bytes) -> None:
    """Letters are joined: the drawn text is in contextual forms, not base letters."""
    text = "\n".join(pdf_text(arabic_pdf))
    forms = sum(1 for ch in text if "\ufe70" <= ch <= "\ufeff" or "\ufb50" <= ch <= "\ufdff")
    base_letters = sum(1 for ch in text if "\u0621" <= ch <= "\u064a")
    assert forms > 500
    assert base_letters < forms / 20


def test_one_font_family_embedded(arabic_pdf: bytes, english_pdf: bytes) -> None:
    for data in (arabic_pdf, english_pdf):
        reader = PdfReader(io.BytesIO(data))
        fonts: set[str] = set()
        for page in reader.pages:
            for font in page["/Resources"]["/Font"].values():
                fonts.add(str(font.get_object()["/BaseFont"]))
        families = {name.split("+")[-1] for name in fonts}
        assert families <= {"Amiri-Regular", "Amiri-Bold"}, fonts


# --------------------------------------------------------------------------
# raster check


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
@pytest.mark.parametrize("which", ["english", "arabic"])
def test_first_page_renders_to_png(
    which: str, tmp_path: Path, english_pdf: bytes, arabic_pdf: bytes
) -> None:
    data = english_pdf if which == "english" else arabic_pdf
    pdf = tmp_path / f"{which}.pdf"
    pdf.write_bytes(data)
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            str(pdf),
            str(tmp_path / which),
        ],
        check=True,
    )
    image = Image.open(tmp_path / f"{which}.png").convert("L")
    width, height = image.size
    assert abs(width - 496) <= 1 and abs(height - 702) <= 1  # A4 at 60 dpi
    dark = sum(image.histogram()[:200])
    assert dark > 0.04 * width * height
    # both halves carry ink (text starts on the right for Arabic, the left for
    # English; charts and tables span both)
    left = image.crop((0, 0, width // 2, height))
    right = image.crop((width // 2, 0, width, height))
    assert sum(left.histogram()[:200]) > 0.02 * width * height / 2
    assert sum(right.histogram()[:200]) > 0.02 * width * height / 2


# --------------------------------------------------------------------------
# long scorecards and internals


def test_long_scorecard_flows_over_pages() -> None:
    """Rows that do not fit move on with the header repeated; nothing is lost."""
    base = english_card()
    many_criteria = tuple(
        replace(
            base.criteria[i % len(base.criteria)],
            criterion_id=f"c{i}",
            label_en=f"Criterion number {i}",
        )
        for i in range(30)
    )
    comments = tuple(
        ReviewerComment(
            "Omar Haddad",
            date(2026, 10, 1 + i % 28),
            f"CALL-{i:05d}",
            None,
            f"Comment {i}: " + "the customer asked twice about the refund. " * 6,
        )
        for i in range(45)
    )
    coaching = (
        replace(
            base.coaching[0],
            evidence=tuple(Evidence(f"CALL-E{i}", f"excerpt {i}") for i in range(10)),
        ),
    )
    card = replace(base, criteria=many_criteria, comments=comments, coaching=coaching)
    pages = pdf_text(render_scorecard(card))
    assert len(pages) >= 4
    text = flat("\n".join(pages))
    assert "Criterion number 0" in text and "Criterion number 29" in text
    assert "Comment 0:" in text and "Comment 44:" in text
    assert "CALL-E2: excerpt 2" in text and "CALL-E3" not in text
    assert "(+7 more in the snapshot)" in text
    with_comments = [p for p in pages if "Comment " in p]
    assert len(with_comments) >= 2
    assert all("Reviewer" in p for p in with_comments)  # header row repeated
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page


def test_render_leaves_reportlab_shape_checking_as_it_was() -> None:
    from reportlab import rl_config

    before = rl_config.shapeChecking
    render_scorecard(english_card())
    assert rl_config.shapeChecking == before


def test_chart_painter_refuses_shapes_it_cannot_draw() -> None:
    from reportlab.graphics.shapes import Drawing, Ellipse
    from reportlab.pdfgen.canvas import Canvas

    from scorecards.pdf import _Chart

    drawing = Drawing(100, 100)
    drawing.add(Ellipse(50, 50, 20, 10))
    chart = _Chart(drawing)
    chart.canv = Canvas(io.BytesIO())
    with pytest.raises(TypeError, match="Ellipse"):
        chart.draw()
