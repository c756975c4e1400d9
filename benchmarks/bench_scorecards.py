"""Issuing a month end to end: aggregate + coach + render + store + write, for 1,000 agents.

    python benchmarks/bench_scorecards.py [--agents 1000] [--reviews 20] [--processes 2]

Builds a fresh SQLite database (Alembic migrations, the built-in rubric) with
Core ``executemany``: ``--agents`` agents in 20 teams, half of them Arabic,
``--reviews`` submitted reviews each in October 2026 (Asia/Riyadh) plus two a
month in the three months before (for the trend and the drop rule), every
October interaction analysed with timing metrics, auto-QA flags and some
findings, and reviewer comments. Then it runs, and prints:

* the aggregation alone (``aggregate_month`` for all agents) and its query count;
* ``issue_month`` end to end with a process pool of ``--processes`` for rendering,
  writing every PDF to an outbox directory: total wall seconds, PDFs/s, and the
  time split (aggregate, coaching, snapshots, render, store);
* the baseline, measured in the same run: the renderer alone on the same stored
  snapshots in one process (CPU ms per PDF, pages per PDF), and the ratio
  end-to-end wall / baseline wall.

Goals (issue #5): <= 25 ms CPU per 3-page PDF; <= 20 s wall for 1,000 agents on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from qa import db
from qa.models import (
    Agent,
    AnalysisFinding,
    AnalysisFlag,
    Interaction,
    InteractionAnalysis,
    Review,
    ReviewAnswer,
    Scorecard,
    Team,
    Turn,
    User,
)
from qa.services import rubrics as rubric_service
from rubrics import Answer, score

TZ = ZoneInfo("Asia/Riyadh")
YEAR, MONTH = 2026, 10
GOAL_MS, GOAL_WALL = 25.0, 20.0
_PAGE_RE = re.compile(rb"/Type\s*/Page(?!s)")

FIRST_EN = ["Sarah", "Omar", "Lina", "James", "Priya", "Tom", "Aisha", "Mark", "Yusuf", "Elena"]
LAST_EN = ["Connor", "Haddad", "Saleh", "Brown", "Patel", "Nguyen", "Khan", "Rossi", "Smith"]
FIRST_AR = ["أحمد", "سلمى", "خالد", "نورة", "فيصل", "ريم", "عبدالله", "منى", "ياسر", "هند"]
LAST_AR = ["المنصور", "العتيبي", "الحربي", "القحطاني", "الشمري", "الزهراني", "الدوسري"]

TURNS = {
    "en": [
        "Good morning, thank you for calling, my name is {name}, how can I help you today?",
        "I was charged twice for the same bill and nobody has fixed it yet.",
        "I guess it might work if you restart the router, but that is not my department "
        "so you will have to call billing yourself. Thank you for calling.",
    ],
    "ar": [
        "صباح الخير، شكراً لاتصالك، معك {name}، كيف أقدر أخدمك اليوم؟",
        "انخصم مني مرتين على نفس الفاتورة وما أحد حلها إلى الآن.",
        "يمكن يشتغل إذا أعدت تشغيل الراوتر، ولكن هذا مو من اختصاصي، لازم تتصل بقسم الفواتير "
        "بنفسك. شكراً لاتصالك.",
    ],
}
# (behaviour, polarity, turn, phrase to find in that turn, suggestion)
FLAGS = {
    "en": [
        ("greeting", "use", 0, "Good morning", None),
        ("self_introduction", "use", 0, "my name is", None),
        ("uncertainty", "avoid", 2, "I guess", "Let me check that for you"),
        ("negative_language", "avoid", 2, "but", "All I am saying is"),
        ("dismissive", "avoid", 2, "not my department", "Let me connect you with billing"),
        ("gratitude", "use", 2, "Thank you for calling", None),
    ],
    "ar": [
        ("greeting", "use", 0, "صباح الخير", None),
        ("self_introduction", "use", 0, "معك", None),
        ("uncertainty", "avoid", 2, "يمكن", "خليني أتأكد لك"),
        ("negative_language", "avoid", 2, "ولكن", "كل ما أقوله هو أن"),
        ("dismissive", "avoid", 2, "مو من اختصاصي", "خليني أحولك لقسم الفواتير"),
        ("gratitude", "use", 2, "شكراً لاتصالك", None),
    ],
}
FINDINGS = ["missing_closing", "missing_empathy_after_frustration", "missing_greeting"]
COMMENTS = {
    "en": [
        "Good opening, but the customer had to repeat the account number twice.",
        "Accurate answer; remember to summarise before closing.",
        "Long silence while checking the bill; tell the customer what you are doing.",
    ],
    "ar": [
        "افتتاح جيد، لكن العميل اضطر لتكرار رقم الحساب مرتين.",
        "إجابة دقيقة، تذكّر تلخيص المكالمة قبل الختام.",
        "صمت طويل أثناء مراجعة الفاتورة، أخبر العميل بما تقوم به.",
    ],
}


def month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=TZ).astimezone(UTC)


def build(url: str, agents: int, reviews: int, seed: int = 5) -> dict[str, int]:
    """Fill a fresh database with Core executemany; returns row counts."""
    rnd = random.Random(seed)
    engine = db.make_engine(url)
    db.upgrade(engine)
    with Session(engine) as session:
        version = rubric_service.install_builtin(session)
        session.commit()
        rubric = rubric_service.rubric_of(version)
        version_id = version.id
    crits = list(rubric.all_criteria())
    now = datetime(2026, 11, 1, tzinfo=UTC)
    teams = [{"id": t + 1, "name": f"Team {t + 1}", "created_at": now} for t in range(20)]
    people, users = [], []
    for i in range(1, agents + 1):
        ar = i % 2 == 0
        name = (
            f"{rnd.choice(FIRST_AR)} {rnd.choice(LAST_AR)}"
            if ar
            else f"{rnd.choice(FIRST_EN)} {rnd.choice(LAST_EN)}"
        )
        people.append(
            {
                "id": i,
                "external_id": f"AG-{i:05d}",
                "name": name,
                "team_id": (i % 20) + 1,
                "email": f"ag{i}@example.com",
                "locale": "ar" if ar else "en",
                "is_active": True,
                "created_at": now,
            }
        )
    for r in range(1, 11):
        users.append(
            {
                "id": r,
                "username": f"reviewer{r}",
                "display_name": f"Reviewer {r}",
                "role": "reviewer",
                "locale": "en",
                "failed_logins": 0,
                "is_active": True,
                "created_at": now,
            }
        )
    inters, turns, revs, answers, analyses, flags, findings = [], [], [], [], [], [], []
    months = [(YEAR, MONTH, reviews), (2026, 9, 2), (2026, 8, 2), (2026, 7, 2)]
    iid = rid = aid_ = tid = 0
    for person in people:
        lang = person["locale"]
        skill = rnd.uniform(0.75, 0.98)
        for y, m, n in months:
            start = month_start(y, m)
            span = (month_start(*((y, m + 1) if m < 12 else (y + 1, 1))) - start).total_seconds()
            for _ in range(n):
                iid += 1
                at = start + timedelta(seconds=rnd.uniform(0, span - 1))
                channel = "call" if rnd.random() < 0.7 else "chat"
                texts = [t.format(name=person["name"].split()[0]) for t in TURNS[lang]]
                inters.append(
                    {
                        "id": iid,
                        "source": "bench",
                        "external_id": f"INT-{iid:07d}",
                        "channel": channel,
                        "language": lang,
                        "started_at": at,
                        "duration_seconds": 300.0,
                        "agent_id": person["id"],
                        "metadata": {},
                        "turn_count": 3,
                        "imported_at": now,
                        "analysis_version": "bench",
                    }
                )
                for seq, (speaker, text) in enumerate(
                    zip(("agent", "customer", "agent"), texts, strict=True)
                ):
                    tid += 1
                    turns.append(
                        {
                            "id": tid,
                            "interaction_id": iid,
                            "seq": seq,
                            "speaker": speaker,
                            "text": text,
                            "start_s": seq * 10.0,
                            "end_s": seq * 10.0 + 8,
                        }
                    )
                given = {}
                for _s, c in crits:
                    if c.allow_na and rnd.random() < 0.2:
                        given[c.id] = Answer(value=None, na=True)
                        continue
                    good = rnd.random() < skill
                    if c.type == "yes_no":
                        value = (
                            1.0 if good or (c.critical == "review" and rnd.random() < 0.97) else 0.0
                        )
                    elif c.type == "scale":
                        lo, hi = c.min_value, c.max_value
                        value = float(
                            rnd.randint(int(hi) - 1, int(hi))
                            if good
                            else rnd.randint(int(lo), int(hi) - 1)
                        )
                    else:
                        value = float(c.max_value if good else 0)
                    given[c.id] = Answer(value=value)
                result = score(rubric, given)
                rid += 1
                comment = rnd.choice(COMMENTS[lang]) if rnd.random() < 0.15 else None
                revs.append(
                    {
                        "id": rid,
                        "interaction_id": iid,
                        "reviewer_id": rnd.randint(1, 10),
                        "rubric_version_id": version_id,
                        "agent_id": person["id"],
                        "team_id": person["team_id"],
                        "interaction_at": at,
                        "status": "submitted",
                        "score": result.overall,
                        "section_scores": {
                            sid: {"score": s.score, "failed_criterion": s.failed_criterion}
                            for sid, s in result.sections.items()
                        },
                        "auto_fail": result.auto_fail,
                        "auto_fail_reason": result.auto_fail_reason,
                        "comment": comment,
                        "revision": 1,
                        "created_at": at,
                        "updated_at": at,
                        "submitted_at": at + timedelta(days=1),
                        "lock_version": 1,
                    }
                )
                for cid, cr in result.criteria.items():
                    aid_ += 1
                    ans = given[cid]
                    answers.append(
                        {
                            "id": aid_,
                            "review_id": rid,
                            "criterion_id": cid,
                            "section_id": cr.section_id,
                            "value": None if ans.na else ans.value,
                            "na": ans.na,
                            "comment": None,
                            "earned": cr.earned,
                            "possible": cr.possible,
                            "pct": cr.pct,
                            "agent_id": person["id"],
                            "team_id": person["team_id"],
                            "interaction_at": at,
                            "submitted": True,
                        }
                    )
                if (y, m) != (YEAR, MONTH):
                    continue
                metrics: dict[str, Any] = {
                    "first_response_s": round(rnd.uniform(2, 16 if channel == "call" else 90), 1),
                    "hold_count": rnd.randint(0, 2),
                }
                if channel == "call":
                    metrics |= {
                        "response_latency_max_s": round(rnd.uniform(3, 40), 1),
                        "longest_silence_s": round(rnd.uniform(3, 45), 1),
                        "hold_max_s": round(rnd.uniform(0, 200), 1),
                    }
                else:
                    metrics |= {
                        "reply_time_mean_s": round(rnd.uniform(10, 90), 1),
                        "reply_time_max_s": round(rnd.uniform(30, 200), 1),
                    }
                analyses.append(
                    {
                        "interaction_id": iid,
                        "version": "bench",
                        "lexicon_version": "bench",
                        "metrics": metrics,
                        "analyzed_at": now,
                    }
                )
                for behaviour, polarity, turn, phrase, suggestion in FLAGS[lang]:
                    if rnd.random() > (0.8 if polarity == "use" else 1 - skill):
                        continue
                    start_at = texts[turn].find(phrase)
                    flags.append(
                        {
                            "interaction_id": iid,
                            "turn": turn,
                            "rule": f"{lang}.{behaviour}.bench",
                            "behavior": behaviour,
                            "polarity": polarity,
                            "criterion": None,
                            "severity": "medium",
                            "start": start_at,
                            "end": start_at + len(phrase),
                            "text": phrase,
                            "suggestion": suggestion,
                            "coaching_tip": None,
                            "agent_id": person["id"],
                            "interaction_at": at,
                        }
                    )
                if rnd.random() < 0.3:
                    findings.append(
                        {
                            "interaction_id": iid,
                            "finding": rnd.choice(FINDINGS),
                            "why": "The agent's last turn has no thanks or summary.",
                            "turn": 2,
                            "evidence": [],
                            "agent_id": person["id"],
                            "interaction_at": at,
                        }
                    )
    with engine.begin() as conn:
        for model, rows in (
            (Team, teams),
            (Agent, people),
            (User, users),
            (Interaction, inters),
            (Turn, turns),
            (Review, revs),
            (ReviewAnswer, answers),
            (InteractionAnalysis, analyses),
            (AnalysisFlag, flags),
            (AnalysisFinding, findings),
        ):
            for i in range(0, len(rows), 20_000):
                conn.execute(model.__table__.insert(), rows[i : i + 20_000])
    engine.dispose()
    return {
        "agents": len(people),
        "interactions": len(inters),
        "reviews": len(revs),
        "answers": len(answers),
        "flags": len(flags),
        "findings": len(findings),
    }


def _baseline(snapshots: list[dict[str, Any]]) -> tuple[list[float], float, list[int]]:
    """The renderer alone, one process: CPU ms per PDF, wall seconds, pages per PDF."""
    from scorecards.pdf import render_scorecard
    from scorecards.snapshot import Scorecard as Snapshot

    cpu, pages = [], []
    wall = time.perf_counter()
    for data in snapshots:
        c0 = time.process_time()
        pdf = render_scorecard(Snapshot.from_dict(data))
        cpu.append((time.process_time() - c0) * 1000)
        pages.append(len(_PAGE_RE.findall(pdf)))
    return cpu, time.perf_counter() - wall, pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--reviews", type=int, default=20)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    from scorecards.aggregate import aggregate_month
    from scorecards.issue import issue_month

    work = Path(tempfile.mkdtemp(prefix="bench_scorecards_"))
    url = f"sqlite:///{work / 'bench.sqlite3'}"
    try:
        t0 = time.perf_counter()
        counts = build(url, args.agents, args.reviews)
        print(
            f"data: {counts['agents']} agents, {counts['interactions']:,} interactions, "
            f"{counts['reviews']:,} reviews, {counts['answers']:,} answers, "
            f"{counts['flags']:,} flags, {counts['findings']:,} findings "
            f"(built in {time.perf_counter() - t0:.1f} s)"
        )
        load = os.getloadavg()
        print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f}")
        engine = db.make_engine(url)

        queries: list[str] = []
        with Session(engine) as session:
            conn = session.connection()
            event.listen(conn, "before_cursor_execute", lambda *a: queries.append(a[2]))
            w0, c0 = time.perf_counter(), time.process_time()
            month = aggregate_month(session, YEAR, MONTH, TZ)
            agg_wall, agg_cpu = time.perf_counter() - w0, time.process_time() - c0
        print(
            f"aggregation: {agg_wall:.2f} s wall ({agg_cpu:.2f} s CPU) for "
            f"{len(month.agents)} agents, {len(queries)} SQL queries"
        )

        outbox = work / "outbox"
        kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        w0, c0 = time.perf_counter(), time.process_time()
        report = issue_month(engine, YEAR, MONTH, TZ, out_dir=outbox, processes=args.processes)
        total, parent_cpu = time.perf_counter() - w0, time.process_time() - c0
        kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        workers_cpu = (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
        files = list((outbox / f"{YEAR}-{MONTH:02d}").glob("*.pdf"))
        s = report.seconds
        print(
            f"issue_month end to end ({args.processes} rendering processes): {total:.2f} s wall, "
            f"{len(report.issued)} scorecards, {len(files)} PDFs in the outbox, "
            f"{len(report.failed)} failed"
        )
        print(
            "  split: "
            + ", ".join(f"{k} {v:.2f} s" for k, v in s.items())
            + f"; PDFs/s (render+store phase): {len(report.issued) / (s['render'] + s['store']):.1f}"
            + f"; overall {len(report.issued) / total:.1f} scorecards/s"
        )
        if report.coaching is not None:
            print(f"  coaching flags created: {report.coaching.created}")
        c = report.cpu_seconds
        serial = c["aggregate"] + c["coaching"] + c["snapshots"]
        overlap = c["render+store"]
        bound = serial + max(overlap, (overlap + workers_cpu) / 2, workers_cpu / args.processes)
        print(
            f"  CPU: parent {parent_cpu:.2f} s (aggregate {c['aggregate']:.2f}, coaching "
            f"{c['coaching']:.2f}, snapshots {c['snapshots']:.2f}, store while rendering "
            f"{overlap:.2f}), rendering workers {workers_cpu:.2f} s; "
            f"{1000 * workers_cpu / max(1, len(report.issued)):.1f} ms worker CPU per PDF"
        )
        print(
            f"  CPU-bound wall on {args.processes} otherwise idle cores (serial parent work + "
            f"the rendering phase's CPU spread over the cores): about {bound:.1f} s"
        )

        with Session(engine) as session:
            snapshots = list(session.scalars(select(Scorecard.snapshot).order_by(Scorecard.id)))
        cpu, base_wall, pages = _baseline(snapshots)
        cpu_sorted = sorted(cpu)
        p90 = cpu_sorted[int(0.9 * (len(cpu_sorted) - 1))]
        print(
            f"baseline, renderer alone in 1 process on the same {len(snapshots)} snapshots: "
            f"{base_wall:.2f} s wall, {statistics.mean(cpu):.1f} ms CPU/PDF (p90 {p90:.1f}), "
            f"{statistics.mean(pages):.2f} pages/PDF ({min(pages)}-{max(pages)})"
        )
        three = [c for c, p in zip(cpu, pages, strict=True) if p == 3]
        if three:
            print(f"  3-page PDFs: {len(three)}, {statistics.mean(three):.1f} ms CPU each")
        print(
            f"ratio end-to-end wall / baseline render wall: {total / base_wall:.2f}x "
            f"(aggregation, coaching, storage and files included; rendering on "
            f"{args.processes} processes)"
        )
        ms = statistics.mean(three or cpu)
        print(
            f"goals: CPU per 3-page PDF {ms:.1f} ms <= {GOAL_MS:.0f} ms: "
            f"{'met' if ms <= GOAL_MS else 'NOT met'}; wall {total:.1f} s <= {GOAL_WALL:.0f} s "
            f"for {len(report.issued)} agents: {'met' if total <= GOAL_WALL else 'NOT met'}"
        )
        engine.dispose()
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
