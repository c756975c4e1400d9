"""Scorecard PDF rendering speed: ms of CPU per 3-page PDF, in one process and in 2 workers.

    python benchmarks/bench_pdf.py [-n 200] [--no-accel]

Renders ``n`` varied scorecards (half English, half Arabic, different names,
scores, excerpts and comment counts; about 3 pages each) and, as a baseline
measured in the same run, a bare platypus document per scorecard with the same
number of paragraphs and table cells (built-in Helvetica, plain ``Paragraph``,
no charts, no shaping, no font embedding). Prints CPU ms per PDF
(``time.process_time`` inside the rendering process), PDFs per second of wall
time and the ratio scorecard / baseline. Goal: <= 25 ms CPU per 3-page PDF.

``--no-accel`` hides ReportLab's C accelerator (package ``rl_accel``, the
``reportlab[accel]`` extra) to show what it is worth.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GOAL_MS = 25.0
_PAGE_RE = re.compile(rb"/Type\s*/Page(?!s)")

FIRST_EN = ["Sarah", "Omar", "Lina", "James", "Priya", "Tom", "Aisha", "Mark", "Yusuf", "Elena"]
LAST_EN = ["Connor", "Haddad", "Saleh", "Brown", "Patel", "Nguyen", "Khan", "Rossi", "Smith"]
FIRST_AR = ["أحمد", "سلمى", "خالد", "نورة", "فيصل", "ريم", "عبدالله", "منى", "ياسر", "هند"]
LAST_AR = ["المنصور", "العتيبي", "الحربي", "القحطاني", "الشمري", "الزهراني", "الدوسري"]

CRITERIA = [
    ("greet", "prof", "Greets the customer", "تحية العميل"),
    ("intro", "prof", "Introduces self", "التعريف بالنفس"),
    ("tone", "prof", "Courteous tone", "نبرة مهذبة"),
    ("ack", "emp", "Acknowledges feelings", "الاعتراف بمشاعر العميل"),
    ("apol", "emp", "Apologises when appropriate", "الاعتذار عند الحاجة"),
    ("info", "acc", "Gives correct information", "تقديم معلومات صحيحة"),
    ("verify", "acc", "Verifies identity", "التحقق من الهوية"),
    ("first", "time", "Responds promptly", "الرد السريع"),
    ("hold", "time", "Uses hold properly", "استخدام الانتظار بشكل صحيح"),
    ("close", "prof", "Closes the call properly", "إنهاء المكالمة بشكل لائق"),
    ("own", "acc", "Takes ownership", "تحمل المسؤولية"),
    ("next", "acc", "Explains next steps", "شرح الخطوات التالية"),
]
SECTIONS = [
    ("prof", "Professionalism", "الاحترافية"),
    ("emp", "Empathy", "التعاطف"),
    ("acc", "Accuracy", "الدقة"),
    ("time", "Timeliness", "سرعة الاستجابة"),
]
BEHAVIOURS = [
    ("greeting", "Greeting", "التحية", "use"),
    ("self_introduction", "Self-introduction", "التعريف بالنفس", "use"),
    ("empathy", "Empathy", "التعاطف", "use"),
    ("apology", "Apology", "الاعتذار", "use"),
    ("gratitude", "Gratitude", "الشكر", "use"),
    ("ownership", "Ownership", "تحمل المسؤولية", "use"),
    ("closing", "Closing", "الختام", "use"),
    ("blame", "Blaming", "إلقاء اللوم", "avoid"),
    ("uncertainty", "Uncertain language", "لغة مترددة", "avoid"),
    ("dismissive", "Dismissive", "التجاهل", "avoid"),
    ("negative_language", "Negative language", "لغة سلبية", "avoid"),
]
EXCERPTS_EN = [
    "Good morning, thank you for calling, my name is {name}, how can I help you today?",
    "I completely understand how frustrating it is to be charged twice for the same bill.",
    "That is not my department, you will have to call billing yourself.",
    "I guess it might work if you restart the router, maybe, I am not sure.",
    "Thank you for your patience while I checked your account, I have good news.",
    "Customer: this is the third time I call about this! Agent: account number please.",
]
EXCERPTS_AR = [
    "صباح الخير، شكراً لاتصالك بشركة جودة، معك {name}، كيف أقدر أخدمك اليوم؟",
    "أتفهم تماماً انزعاجك من تكرار الخصم على نفس الفاتورة، خليني أتحقق لك الآن.",
    "هذا مو من اختصاصي، لازم تتصل بقسم الفواتير بنفسك.",
    "يمكن يشتغل إذا أعدت تشغيل الراوتر، مو متأكد والله.",
    "العميل: هذي ثالث مرة أتصل! الموظف: رقم الحساب لو سمحت. نسبة 85% في شهر 2026-10",
    "شكراً لانتظارك، راجعت حسابك (رقم 55120) وعندي لك خبر طيب.",
]
PRACTICE_EN = [
    "Acknowledge the feeling before asking for details: 'I can hear this has been "
    "frustrating; let me sort it out for you now.' Practise it in the next team huddle.",
    "Give your name and offer help in the first ten seconds, also after a transfer.",
    "Replace 'I guess' with a clear next step and a time: 'I will call you back by 3 pm.'",
]
PRACTICE_AR = [
    "اعترف بشعور العميل قبل طلب التفاصيل: (أتفهم انزعاجك، خليني أحلها لك الآن). تدرب عليها "
    "في اجتماع الفريق القادم.",
    "عرّف بنفسك واعرض المساعدة خلال أول عشر ثوانٍ، حتى بعد التحويل.",
    "استبدل (يمكن) بخطوة واضحة ووقت محدد: (بتصل عليك قبل الساعة 3).",
]


def make_card(i: int):  # type: ignore[no-untyped-def]
    """A varied, realistic snapshot; every 2nd one Arabic. About 3 pages."""
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
        TimingRow,
        TrendPoint,
    )

    rnd = random.Random(i)
    arabic = i % 2 == 1
    if arabic:
        name = f"{rnd.choice(FIRST_AR)} {rnd.choice(LAST_AR)}"
        excerpts, practices = EXCERPTS_AR, PRACTICE_AR
    else:
        name = f"{rnd.choice(FIRST_EN)} {rnd.choice(LAST_EN)}"
        excerpts, practices = EXCERPTS_EN, PRACTICE_EN

    def pct(lo: float = 55, hi: float = 99) -> float:
        return round(rnd.uniform(lo, hi), 1)

    def excerpt() -> str:
        return rnd.choice(excerpts).format(name=name) + f" #{rnd.randint(100, 999)}"

    target = rnd.choice([80.0, 85.0, 90.0])
    criteria = tuple(
        CriterionRow(cid, sid, en, ar, pct(), pct(65, 92), target, rnd.randint(5, 20))
        for cid, sid, en, ar in CRITERIA[: rnd.randint(9, 12)]
    )
    behaviours = tuple(
        BehaviourRow(
            bid,
            en,
            ar,
            pol,
            rnd.randint(1, 30),
            round(rnd.uniform(0.05, 1.5), 2),
            excerpt(),
            rnd.choice(practices) if pol == "avoid" or rnd.random() < 0.5 else None,
        )
        for bid, en, ar, pol in rnd.sample(BEHAVIOURS, 8)
    )
    coaching = tuple(
        CoachingItem(
            priority=("high", "medium", "low")[k % 3],
            criterion_label=CRITERIA[k][3 if arabic else 2],
            reason=excerpt(),
            evidence=tuple(
                Evidence(f"CALL-{rnd.randint(10000, 99999)}", excerpt()) for _ in range(2)
            ),
            practice=rnd.choice(practices),
        )
        for k in range(4)
    )
    comments = tuple(
        ReviewerComment(
            f"{rnd.choice(FIRST_AR if arabic else FIRST_EN)} {rnd.choice(LAST_EN)}",
            date(2026, 10, rnd.randint(1, 28)),
            f"CHAT-{rnd.randint(1000, 9999)}",
            rnd.choice([None, CRITERIA[rnd.randrange(len(CRITERIA))][3 if arabic else 2]]),
            excerpt() + " " + rnd.choice(practices),
        )
        for _ in range(rnd.randint(5, 7))
    )
    card = Scorecard(
        agent=AgentInfo(i, f"AG-{i:05d}", name, "ar" if arabic else "en"),
        team_name=rnd.choice(["Billing", "فريق الفواتير", "Tech Support", "الدعم الفني"]),
        period=Period(2026, 10),
        timezone="Asia/Riyadh",
        generated_at=datetime(2026, 11, 1, 3, 0, tzinfo=UTC),
        rubric=RubricRef("cs-core", 3, "Customer Service Core"),
        kpis=Kpis(pct(), pct(70, 90), target, rnd.randint(5, 30), rnd.randint(0, 3), False),
        sections=tuple(
            SectionRow(s, en, ar, pct(), pct(), target, rnd.randint(10, 60))
            for s, en, ar in SECTIONS
        ),
        criteria=criteria,
        trend=tuple(
            TrendPoint(f"2026-{m:02d}", None if rnd.random() < 0.1 else pct(), pct(70, 90))
            for m in range(5, 11)
        ),
        behaviours=behaviours,
        timing=(
            TimingRow("first_response_s", round(rnd.uniform(3, 15), 1), 10.0),
            TimingRow("longest_silence_s", round(rnd.uniform(10, 60), 1), 30.0),
            TimingRow("hold_max_s", round(rnd.uniform(30, 200), 1), 120.0),
            TimingRow("talk_ratio", round(rnd.uniform(0.6, 2.0), 2), None),
        ),
        coaching=coaching,
        comments=comments,
    )
    if i % 10 == 4:  # now and then an agent nobody reviewed
        card = replace(
            card,
            kpis=replace(card.kpis, reviews=0, auto_fail_count=0, based_on_auto_qa_only=True),
            comments=(),
        )
    return card


# --------------------------------------------------------------------------
# baseline: bare platypus, same paragraphs and table cells, nothing else


def render_baseline(card) -> bytes:  # type: ignore[no-untyped-def]
    import io
    from xml.sax.saxutils import escape

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    body = ParagraphStyle("cell", parent=styles["BodyText"], fontSize=8, leading=10)
    head = styles["Heading2"]
    width = A4[0] - 30 * mm

    def p(text: object) -> Paragraph:
        return Paragraph(escape(str(text)), body)

    def table(rows: list[list[object]], fractions: tuple[float, ...]) -> Table:
        cells = [[c if isinstance(c, list) else p(c) for c in r] for r in rows]
        t = Table(cells, colWidths=[width * f for f in fractions], repeatRows=1)
        t.setStyle(
            TableStyle(
                [("GRID", (0, 0), (-1, -1), 0.3, "grey"), ("VALIGN", (0, 0), (-1, -1), "TOP")]
            )
        )
        return t

    lab = (lambda r: r.label_ar) if card.locale == "ar" else (lambda r: r.label_en)
    story: list[object] = [
        Paragraph(escape(card.agent.name), styles["Title"]),
        p(f"{card.team_name} {card.agent.external_id} {card.period.label} {card.rubric.name}"),
        table(
            [
                ["Overall", "Team", "Target", "Reviews"],
                [
                    card.kpis.overall_pct,
                    card.kpis.team_pct,
                    card.kpis.target_pct,
                    card.kpis.reviews,
                ],
            ],
            (0.25, 0.25, 0.25, 0.25),
        ),
        Paragraph("Sections", head),
        table(
            [["Section", "Agent", "Team", "Target", "Count"]]
            + [[lab(s), s.agent_pct, s.team_pct, s.target_pct, s.count] for s in card.sections],
            (0.44, 0.14, 0.14, 0.14, 0.14),
        ),
        Paragraph("Criteria", head),
        table(
            [["Criterion", "Agent", "Team", "Target", "Count"]]
            + [[lab(c), c.agent_pct, c.team_pct, c.target_pct, c.count] for c in card.criteria],
            (0.44, 0.14, 0.14, 0.14, 0.14),
        ),
        Paragraph("Trend", head),
        table(
            [["Period", "Agent", "Team"]]
            + [[t.period, t.agent_pct, t.team_pct] for t in card.trend],
            (0.34, 0.33, 0.33),
        ),
        Paragraph("Behaviours", head),
        table(
            [["Behaviour", "Type", "Count", "Rate", "Example", "Suggestion"]]
            + [
                [lab(b), b.polarity, b.count, b.rate, b.example, b.suggestion]
                for b in card.behaviours
            ],
            (0.15, 0.11, 0.07, 0.11, 0.30, 0.26),
        ),
        Paragraph("Timing", head),
        table(
            [["Metric", "Value", "Threshold", "Status"]]
            + [[t.metric, t.value, t.threshold, ""] for t in card.timing],
            (0.43, 0.19, 0.19, 0.19),
        ),
        Paragraph("Coaching", head),
        table(
            [["Priority", "Criterion", "Why", "Practice"]]
            + [
                [
                    c.priority,
                    c.criterion_label,
                    [
                        p(c.reason),
                        *(p(f"{e.interaction_external_id}: {e.excerpt}") for e in c.evidence),
                    ],
                    c.practice,
                ]
                for c in card.coaching
            ],
            (0.10, 0.18, 0.44, 0.28),
        ),
        Paragraph("Comments", head),
        table(
            [["Date", "Reviewer", "Interaction", "Criterion", "Comment"]]
            + [
                [c.date, c.reviewer_name, c.interaction_external_id, c.criterion_label, c.text]
                for c in card.comments
            ],
            (0.12, 0.15, 0.15, 0.17, 0.41),
        ),
        Spacer(1, 1),
    ]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, invariant=1
    )
    doc.build(story)
    return buffer.getvalue()


# --------------------------------------------------------------------------
# measurement


def _hide_accel() -> None:
    sys.modules["_rl_accel"] = None  # type: ignore[assignment]


def _work(kind: str, indices: list[int]) -> tuple[list[float], list[int], int, float]:
    """Render in this process: per-PDF CPU seconds, page counts, bytes, and the
    wall time of the rendering loop (snapshots are built before the clock)."""
    from scorecards.pdf import render_scorecard

    render = render_scorecard if kind == "scorecard" else render_baseline
    cards = [make_card(i) for i in indices]
    render(cards[0])  # warm-up: font parsing, imports, caches
    cpu: list[float] = []
    pages: list[int] = []
    size = 0
    start = time.perf_counter()
    for card in cards:
        t0 = time.process_time()
        data = render(card)
        cpu.append(time.process_time() - t0)
        pages.append(len(_PAGE_RE.findall(data)))
        size += len(data)
    return cpu, pages, size, time.perf_counter() - start


def _pool_init(no_accel: bool) -> None:
    if no_accel:
        _hide_accel()


def run(kind: str, n: int, workers: int, no_accel: bool) -> dict[str, float]:
    """PDFs/s = n / wall time of the rendering loops (the slowest worker when
    parallel), so pool start-up and snapshot building are not counted."""
    indices = list(range(n))
    if workers == 1:
        cpu, pages, size, wall = _work(kind, indices)
    else:
        chunks = [indices[k::workers] for k in range(workers)]
        with ProcessPoolExecutor(workers, initializer=_pool_init, initargs=(no_accel,)) as ex:
            results = list(ex.map(_work, [kind] * workers, chunks))
        cpu = [c for r in results for c in r[0]]
        pages = [p for r in results for p in r[1]]
        size = sum(r[2] for r in results)
        wall = max(r[3] for r in results)
    return {
        "cpu_ms": 1000 * statistics.fmean(cpu),
        "cpu_ms_p90": 1000 * sorted(cpu)[int(0.9 * (len(cpu) - 1))],
        "pdfs_per_s": n / wall,
        "pages": statistics.fmean(pages),
        "kb": size / n / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="PDFs per measurement")
    parser.add_argument("--no-accel", action="store_true", help="hide the rl_accel C extension")
    args = parser.parse_args()
    if args.no_accel:
        _hide_accel()

    import reportlab
    from reportlab.lib import rl_accel

    accel = sorted(rl_accel._c_funcs)
    print(
        f"reportlab {reportlab.__version__}; C accelerator (_rl_accel) functions in use: "
        f"{len(accel)}/{len(rl_accel.__all__)}"
        + ("" if accel else "  <- pure Python fallbacks (pip install 'reportlab[accel]')")
    )
    print(f"{args.n} scorecards (half English, half Arabic), goal <= {GOAL_MS:.0f} ms CPU/PDF")
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} CPUs, load average {load:.2f} at start (other work skews PDFs/s)\n")
    header = f"{'':34} {'CPU ms/PDF':>10} {'p90':>7} {'PDFs/s':>8} {'pages':>6} {'KB':>6}"
    print(header)
    results: dict[tuple[str, int], dict[str, float]] = {}
    for workers in (1, 2):
        for kind in ("baseline", "scorecard"):
            r = run(kind, args.n, workers, args.no_accel)
            results[(kind, workers)] = r
            label = f"{kind} ({'1 process' if workers == 1 else f'{workers} workers'})"
            print(
                f"{label:34} {r['cpu_ms']:10.1f} {r['cpu_ms_p90']:7.1f} "
                f"{r['pdfs_per_s']:8.1f} {r['pages']:6.2f} {r['kb']:6.0f}"
            )
    print()
    for workers in (1, 2):
        sc, base = results[("scorecard", workers)], results[("baseline", workers)]
        print(
            f"ratio scorecard/baseline CPU per PDF ({workers} proc): "
            f"{sc['cpu_ms'] / base['cpu_ms']:.2f}x"
        )
    single = results[("scorecard", 1)]["cpu_ms"]
    verdict = "meets" if single <= GOAL_MS else "MISSES"
    print(f"scorecard {single:.1f} ms CPU/PDF {verdict} the {GOAL_MS:.0f} ms goal")


if __name__ == "__main__":
    main()
