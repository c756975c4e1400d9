"""The criterion roll-up: exact under any sequence of saves, and the dashboard figures it serves.

The reference for the roll-up is ``rollup_select()`` (the from-scratch
aggregate over the answers); the reference for the dashboard is a plain Python
loop over every stored row with the organisation's months computed by
``zoneinfo``, so the edge windows are checked against an independent answer.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import JSON, Boolean, Engine, column, event, insert, select, table
from sqlalchemy.orm import Session

from qa import db
from qa.models import (
    Agent,
    Interaction,
    Review,
    ReviewAnswer,
    User,
    UTCDateTime,
)
from qa.rollups import ANSWERS, REVIEWS, rebuild_rollups, review_rollup_select, rollup_select
from qa.services import dashboard as dash
from qa.services import rubrics as rubric_service
from qa.services.periods import month_bounds
from qa.services.reviews import save_review, start_review
from rubrics import Answer
from rubrics.schema import Rubric
from tests import factories as f

Key = tuple[Any, ...]
Table = dict[Key, tuple[Any, ...]]


def _table(session: Session, query: Any, spec: Any) -> Table:
    session.flush()
    out: Table = {}
    for row in session.execute(query).mappings():
        key = tuple(row[k] for k in spec.keys)
        values = [c.name for c in spec.target.columns if c.name not in spec.keys]
        out[key] = tuple(row[c] for c in values)
    return out


def stored(session: Session, spec: Any = ANSWERS) -> Table:
    return _table(session, select(spec.target), spec)


def from_scratch(session: Session, spec: Any = ANSWERS) -> Table:
    query = rollup_select() if spec is ANSWERS else review_rollup_select()
    return _table(session, query, spec)


def assert_exact(session: Session) -> None:
    """Both roll-ups equal their from-scratch aggregates (float sums up to rounding)."""
    for spec in (ANSWERS, REVIEWS):
        have, want = stored(session, spec), from_scratch(session, spec)
        assert have.keys() == want.keys(), spec.name
        for key, values in want.items():
            assert have[key] == pytest.approx(values, abs=1e-6), (spec.name, key)


def random_answers(rng: random.Random, rubric: Rubric, *, full: bool) -> dict[str, Answer]:
    criteria = [c for _, c in rubric.all_criteria()]
    if not full:
        criteria = rng.sample(criteria, rng.randint(1, len(criteria)))
    out = {}
    for c in criteria:
        if c.allow_na and rng.random() < 0.25:
            out[c.id] = Answer(value=None, na=True)
            continue
        low, high = c.min_value, c.max_value
        value = rng.choice([low, high, round((low + high) / 2), high / 3 if c.max_points else low])
        out[c.id] = Answer(value=float(value))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_saves_and_edits_keep_the_rollup_exact(session: Session, seed: int) -> None:
    rng = random.Random(seed)
    version = rubric_service.install_builtin(session)
    rubric = rubric_service.rubric_of(version)
    teams = [f.team(session), f.team(session)]
    agents = [
        f.agent(session, team_=teams[0]),
        f.agent(session, team_=teams[1]),
        f.agent(session),  # no team: counted under team_key 0
    ]
    reviewers = [f.user(session, role="reviewer") for _ in range(2)]
    lead = f.user(session, role="qa_lead")
    times = [
        datetime(2026, 9, 15, 8, tzinfo=UTC),
        datetime(2026, 10, 31, 23, 30, tzinfo=UTC),
        datetime(2026, 11, 1, 0, 10, tzinfo=UTC),
        datetime(2026, 12, 31, 22, tzinfo=UTC),
    ]
    interactions = [
        f.interaction(
            session,
            agent_=rng.choice(agents),
            started_at=rng.choice(times),
            channel=rng.choice(["call", "chat", "email"]),
            language=rng.choice(["en", "ar"]),
        )
        for _ in range(8)
    ]
    actions: dict[str, int] = defaultdict(int)
    for _step in range(45):
        inter = rng.choice(interactions)
        reviewer = rng.choice(reviewers)
        review = start_review(session, inter.id, reviewer)
        undo = rng.random() < 0.15
        nested = session.begin_nested() if undo else None
        if review.status == "submitted":
            editor = rng.choice([reviewer, lead])
            save_review(session, review, random_answers(rng, rubric, full=True), editor)
            actions["edit"] += 1
        elif rng.random() < 0.4:
            save_review(session, review, random_answers(rng, rubric, full=False), reviewer)
            actions["draft"] += 1
        else:
            answers = random_answers(rng, rubric, full=True)
            save_review(session, review, answers, reviewer, submit=True)
            actions["submit"] += 1
        if nested is not None:
            nested.rollback()
            actions["rolled_back"] += 1
        if rng.random() < 0.1:
            # Moving an agent changes no stored review: history keeps its team.
            moved = rng.choice(agents)
            moved.team_id = rng.choice([*(t.id for t in teams), None])
        assert_exact(session)
    assert actions["submit"] and actions["edit"] and actions["draft"], actions
    assert any(n for n, _, _ in stored(session).values())


def test_rebuild_equals_maintained_and_repairs_a_damaged_table(session: Session) -> None:
    version = rubric_service.install_builtin(session)
    rubric = rubric_service.rubric_of(version)
    reviewer = f.user(session, role="reviewer")
    rng = random.Random(5)
    for day in (1, 2, 3):
        inter = f.interaction(session, started_at=datetime(2026, 10, day, tzinfo=UTC))
        review = start_review(session, inter.id, reviewer)
        save_review(session, review, random_answers(rng, rubric, full=True), reviewer, submit=True)
    maintained = {spec.name: stored(session, spec) for spec in (ANSWERS, REVIEWS)}
    answers = maintained["criterion"].values()
    assert sum(n + na for n, na, _ in answers) == 3 * len(list(rubric.all_criteria()))
    # Each interaction has its own agent: three review buckets of one review each.
    assert sorted(v[0] for v in maintained["review"].values()) == [1, 1, 1]
    for spec in (ANSWERS, REVIEWS):
        session.execute(spec.target.delete())
        assert stored(session, spec) == {}
    counts = rebuild_rollups(session)
    assert counts == {
        "criterion_rollups": len(maintained["criterion"]),
        "review_rollups": len(maintained["review"]),
    }
    for spec in (ANSWERS, REVIEWS):
        rebuilt = stored(session, spec)
        assert rebuilt.keys() == maintained[spec.name].keys()
        for key, values in rebuilt.items():
            assert values == pytest.approx(maintained[spec.name][key])


def test_drafts_count_only_once_submitted(session: Session) -> None:
    version = rubric_service.install_builtin(session)
    rubric = rubric_service.rubric_of(version)
    reviewer = f.user(session, role="reviewer")
    inter = f.interaction(
        session, started_at=datetime(2026, 10, 5, tzinfo=UTC), channel="chat", language="ar"
    )
    review = start_review(session, inter.id, reviewer)
    assert (review.channel, review.language) == ("chat", "ar")
    answers = {c.id: Answer(value=float(c.max_value)) for _, c in rubric.all_criteria()}
    save_review(session, review, answers, reviewer)
    assert stored(session) == {}
    save_review(session, review, answers, reviewer, submit=True)
    rows = stored(session)
    assert {k[0] for k in rows} == {"2026-10"} and {k[3:] for k in rows} == {("chat", "ar")}
    assert all(a.channel == "chat" and a.language == "ar" for a in review.answers)
    assert sum(n for n, _, _ in rows.values()) == len(answers)
    assert all(total == pytest.approx(100.0 * n) for n, _, total in rows.values())


def test_a_failed_flush_leaves_no_stale_notes(session: Session) -> None:
    """A flush that fails after reading an answer's old state must not replay it later."""
    version = rubric_service.install_builtin(session)
    rubric = rubric_service.rubric_of(version)
    reviewer = f.user(session, role="reviewer")
    inter = f.interaction(session, started_at=datetime(2026, 10, 5, tzinfo=UTC))
    review = start_review(session, inter.id, reviewer)
    answers = {c.id: Answer(value=float(c.max_value)) for _, c in rubric.all_criteria()}
    save_review(session, review, answers, reviewer, submit=True)

    def boom(*_: Any) -> None:
        raise RuntimeError("disk full")

    nested = session.begin_nested()
    event.listen(ReviewAnswer, "after_delete", boom)
    try:
        review.answers.remove(review.answers[0])
        with pytest.raises(RuntimeError, match="disk full"):
            session.flush()
    finally:
        event.remove(ReviewAnswer, "after_delete", boom)
    nested.rollback()
    review.comment = "unrelated change"
    session.flush()
    assert_exact(session)


# ---------------------------------------------------------------------------- dashboard figures

ZONES = [
    "UTC",
    "Asia/Riyadh",  # +3
    "America/New_York",  # -4/-5 with DST
    "Asia/Kolkata",  # +5:30
    "America/St_Johns",  # -3:30/-2:30
    "Pacific/Kiritimati",  # +14
    "Pacific/Pago_Pago",  # -11
]
OFFSETS_H = [0, 0.5, 2.5, 3, 5, 5.5, 10.99, 11, 13.5, 14, 15]


class Lead:
    role = "qa_lead"


@pytest.fixture
def edge_world(session: Session) -> Iterator[Session]:
    """Reviews on both sides of every UTC month boundary from September to January."""
    version = rubric_service.install_builtin(session)
    teams = [f.team(session), f.team(session)]
    agents = [f.agent(session, team_=teams[0]), f.agent(session, team_=teams[1]), f.agent(session)]
    reviewer = f.user(session, role="reviewer")
    rng = random.Random(11)
    boundaries = [datetime(2026, m, 1, tzinfo=UTC) for m in (9, 10, 11, 12)]
    boundaries.append(datetime(2027, 1, 1, tzinfo=UTC))
    n = 0
    for boundary in boundaries:
        for hours in OFFSETS_H:
            for sign in (-1, 1):
                at = boundary + sign * timedelta(hours=hours) - timedelta(seconds=sign < 0)
                agent = agents[n % 3]
                n += 1
                inter = f.interaction(
                    session,
                    agent_=agent,
                    started_at=at,
                    channel=rng.choice(["call", "chat", "email"]),
                    language=rng.choice(["en", "ar"]),
                )
                submitted = rng.random() > 0.1
                review = Review(
                    interaction_id=inter.id,
                    reviewer_id=reviewer.id,
                    rubric_version_id=version.id,
                    agent_id=agent.id,
                    team_id=agent.team_id,
                    interaction_at=at,
                    status="submitted" if submitted else "draft",
                    score=rng.choice([0.0, 37.5, 80.0, 100.0]),
                    section_scores={},
                    auto_fail=rng.random() < 0.2,
                    revision=1,
                )
                session.add(review)
                session.flush()
                for criterion in ("greeting", "empathy_acknowledgement"):
                    pct = rng.choice([None, 0.0, 25.0, 100.0 / 3, 100.0])
                    session.add(
                        ReviewAnswer(
                            review_id=review.id,
                            criterion_id=criterion,
                            section_id="s",
                            value=None if pct is None else 1.0,
                            na=pct is None,
                            pct=pct,
                            agent_id=agent.id,
                            team_id=agent.team_id,
                            interaction_at=at,
                            submitted=submitted,
                        )
                    )
    session.flush()
    yield session


def _reference_rows(session: Session) -> list[Any]:
    return list(
        session.execute(
            select(
                Review.id,
                Review.agent_id,
                ReviewAnswer.criterion_id,
                ReviewAnswer.pct,
                ReviewAnswer.submitted,
                Review.interaction_at,
                Review.team_id,
                Review.score,
                Review.status,
                Review.auto_fail,
                Interaction.channel,
                Interaction.language,
            )
            .join(Review, Review.id == ReviewAnswer.review_id)
            .join(Interaction, Interaction.id == Review.interaction_id)
        )
    )


def _matches(row: Any, flt: dash.DashboardFilter, tz: ZoneInfo) -> bool:
    start, end = flt.bounds(tz)
    return (
        start <= row.interaction_at < end
        and (not flt.team_ids or row.team_id in flt.team_ids)
        and (not flt.channels or row.channel in flt.channels)
        and (not flt.languages or row.language in flt.languages)
    )


def _filters(session: Session) -> list[dash.DashboardFilter]:
    team_ids = tuple(session.scalars(select(Agent.team_id).where(Agent.team_id.is_not(None))))
    return [
        dash.DashboardFilter((2026, 10), (2026, 10)),
        dash.DashboardFilter((2026, 10), (2026, 12)),
        dash.DashboardFilter((2026, 9), (2027, 1), channels=("chat", "email")),
        dash.DashboardFilter((2026, 11), (2026, 12), languages=("ar",), team_ids=team_ids[:1]),
    ]


def test_criterion_averages_match_a_row_by_row_reference(edge_world: Session) -> None:
    session = edge_world
    rows = _reference_rows(session)
    for zone, flt in itertools.product(ZONES, _filters(session)):
        tz = ZoneInfo(zone)
        want: dict[str, list[Any]] = {}
        for r in rows:
            if r.submitted and _matches(r, flt, tz):
                acc = want.setdefault(r.criterion_id, [0, 0, []])
                if r.pct is None:
                    acc[1] += 1
                else:
                    acc[0] += 1
                    acc[2].append(r.pct)
        got = {c.criterion_id: c for c in dash.by_criterion(session, Lead(), flt, tz)}
        assert got.keys() == want.keys(), (zone, flt)
        for cid, (n, na, pcts) in want.items():
            assert (got[cid].answers, got[cid].na) == (n, na), (zone, flt, cid)
            expected = sum(pcts) / n if n else None
            assert got[cid].avg_pct == pytest.approx(expected), (zone, flt, cid)
        assert want, "the reference found answers: the comparison is not vacuous"


def _stats(rows: list[Any]) -> tuple[int, float | None, float | None]:
    scores = [r.score for r in rows if r.score is not None]
    fails = sum(1 for r in rows if r.auto_fail)
    return (
        len(rows),
        sum(scores) / len(scores) if scores else None,
        100.0 * fails / len(rows) if rows else None,
    )


def test_review_figures_match_a_row_by_row_reference(edge_world: Session) -> None:
    session = edge_world
    # One reference row per submitted review (the answer rows repeat it per criterion).
    reviews = {r.id: r for r in _reference_rows(session) if r.status == "submitted"}
    assert len(reviews) > 50
    approx = pytest.approx
    for zone, flt in itertools.product(ZONES, _filters(session)):
        tz = ZoneInfo(zone)
        chosen = [r for r in reviews.values() if _matches(r, flt, tz)]
        assert chosen, "the comparison is not vacuous"

        s = dash.summary(session, Lead(), flt, tz)
        assert (s.reviews, s.avg_score, s.auto_fail_rate) == approx(_stats(chosen))
        assert s.agents == len({r.agent_id for r in chosen})

        trend = dash.monthly_trend(session, Lead(), flt, tz)
        for m in trend:
            start, end = month_bounds(m.year, m.month_no, tz)
            inside = [r for r in chosen if start <= r.interaction_at < end]
            assert (m.reviews, m.avg_score, m.auto_fail_rate) == approx(_stats(inside)), (
                zone,
                flt,
                m.month,
            )
        assert sum(m.reviews for m in trend) == len(chosen)

        teams = {t.team_id: t for t in dash.by_team(session, Lead(), flt, tz)}
        assert teams.keys() == {r.team_id for r in chosen}
        for team_id, t in teams.items():
            mine = [r for r in chosen if r.team_id == team_id]
            assert (t.reviews, t.avg_score, t.auto_fail_rate) == approx(_stats(mine))
            assert t.agents == len({r.agent_id for r in mine})

        agents = {a.agent_id: a for a in dash.by_agent(session, Lead(), flt, tz)}
        assert agents.keys() == {r.agent_id for r in chosen}
        for agent_id, a in agents.items():
            mine = [r for r in chosen if r.agent_id == agent_id]
            assert (a.reviews, a.avg_score, a.auto_fail_rate) == approx(_stats(mine))
            scores = [r.score for r in mine]
            assert (a.min_score, a.max_score) == (min(scores), max(scores)), (zone, flt)

        bands = [b.reviews for b in dash.distribution(session, Lead(), flt, tz)]
        assert bands == [
            sum(1 for r in chosen if min(int(r.score // 10), 9) == k) for k in range(10)
        ]


# ---------------------------------------------------------------------------- migration


def test_migration_backfills_filters_and_rollup(fresh_url: str) -> None:
    """Rows written before 0010 get channel/language from their interaction and are rolled up."""
    engine: Engine = db.make_engine(fresh_url)
    db.upgrade(engine, "0008")
    reviews = table(
        "reviews",
        column("id"),
        column("interaction_id"),
        column("reviewer_id"),
        column("rubric_version_id"),
        column("agent_id"),
        column("team_id"),
        column("interaction_at", UTCDateTime()),
        column("status"),
        column("score"),
        column("section_scores", JSON()),
        column("auto_fail", Boolean()),
        column("revision"),
        column("created_at", UTCDateTime()),
        column("updated_at", UTCDateTime()),
        column("lock_version"),
    )
    answers = table(
        "review_answers",
        column("review_id"),
        column("criterion_id"),
        column("section_id"),
        column("value"),
        column("na", Boolean()),
        column("pct"),
        column("agent_id"),
        column("team_id"),
        column("interaction_at", UTCDateTime()),
        column("submitted", Boolean()),
    )
    at = datetime(2026, 10, 31, 23, tzinfo=UTC)
    with db.session_scope(engine) as s:
        version = rubric_service.install_builtin(s)
        team = f.team(s)
        agent = f.agent(s, team_=team)
        reviewer = s.scalar(select(User).limit(1)) or f.user(s, role="reviewer")
        ids = []
        for k, (channel, language, status) in enumerate(
            [("chat", "ar", "submitted"), ("email", "en", "submitted"), ("call", "en", "draft")]
        ):
            inter = f.interaction(
                s, agent_=agent, started_at=at, channel=channel, language=language
            )
            review_id = 1000 + k
            s.execute(
                insert(reviews).values(
                    id=review_id,
                    interaction_id=inter.id,
                    reviewer_id=reviewer.id,
                    rubric_version_id=version.id,
                    agent_id=agent.id,
                    team_id=team.id,
                    interaction_at=at,
                    status=status,
                    score=50.0,
                    section_scores={},
                    auto_fail=False,
                    revision=1,
                    created_at=at,
                    updated_at=at,
                    lock_version=1,
                )
            )
            for criterion, pct in (("greeting", 100.0), ("empathy_acknowledgement", None)):
                s.execute(
                    insert(answers).values(
                        review_id=review_id,
                        criterion_id=criterion,
                        section_id="s",
                        value=None if pct is None else 1.0,
                        na=pct is None,
                        pct=pct,
                        agent_id=agent.id,
                        team_id=team.id,
                        interaction_at=at,
                        submitted=status == "submitted",
                    )
                )
            ids.append(review_id)
    db.upgrade(engine)
    with db.session_scope(engine) as s:
        got = {r.id: (r.channel, r.language) for r in s.scalars(select(Review))}
        assert got == {1000: ("chat", "ar"), 1001: ("email", "en"), 1002: ("call", "en")}
        stored_answers = list(s.scalars(select(ReviewAnswer)))
        assert len(stored_answers) == 6  # the migration rebuilt no table (no cascade)
        for a in stored_answers:
            assert (a.channel, a.language) == got[a.review_id]
        rows = stored(s)
        assert rows == {
            ("2026-10", "greeting", team.id, "chat", "ar"): (1, 0, 100.0),
            ("2026-10", "empathy_acknowledgement", team.id, "chat", "ar"): (0, 1, 0.0),
            ("2026-10", "greeting", team.id, "email", "en"): (1, 0, 100.0),
            ("2026-10", "empathy_acknowledgement", team.id, "email", "en"): (0, 1, 0.0),
        }
        assert_exact(s)
    engine.dispose()


# ---------------------------------------------------------------------------- concurrency


def test_concurrent_saves_in_one_bucket_stay_exact_on_postgresql(
    fresh_engine: Engine, backend: str
) -> None:
    """Two transactions change the same buckets at once: the second waits, then adds its delta.

    T1 lowers the score of the agent's best review (the bucket's maximum must be
    recomputed) while T2 submits another review of the same agent, month,
    channel and language; T2's roll-up update blocks on T1's bucket rows until
    T1 commits. Both roll-ups must then equal their from-scratch aggregates.
    """
    if backend != "postgresql":
        pytest.skip("SQLite serialises writers; concurrent buckets are a PostgreSQL case")
    factory = db.session_factory(fresh_engine)
    at = datetime(2026, 10, 10, 9, tzinfo=UTC)
    with factory() as s, s.begin():
        version = rubric_service.install_builtin(s)
        rubric = rubric_service.rubric_of(version)
        team = f.team(s)
        agent = f.agent(s, team_=team)
        first, second = (f.user(s, role="reviewer") for _ in range(2))
        best = f.interaction(s, agent_=agent, started_at=at, channel="chat")
        other = f.interaction(s, agent_=agent, started_at=at, channel="chat")
        top = {c.id: Answer(value=float(c.max_value)) for _, c in rubric.all_criteria()}
        low = {c.id: Answer(value=float(c.min_value)) for _, c in rubric.all_criteria()}
        review = start_review(s, best.id, first)
        save_review(s, review, top, first, submit=True)
        ids = (review.id, first.id, second.id, other.id)
    review_id, first_id, second_id, other_id = ids

    t1 = factory()
    t1.begin()
    save_review(t1, t1.get_one(Review, review_id), low, t1.get_one(User, first_id))
    t1.flush()  # T1 now holds the bucket rows

    errors: list[BaseException] = []

    def submit_other() -> None:
        try:
            with factory() as t2, t2.begin():
                reviewer = t2.get_one(User, second_id)
                started = start_review(t2, other_id, reviewer)
                save_review(t2, started, top, reviewer, submit=True)
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=submit_other)
    worker.start()
    worker.join(timeout=1.0)
    assert worker.is_alive(), "T2 should wait for T1's bucket rows"
    t1.commit()
    t1.close()
    worker.join(timeout=30)
    assert not worker.is_alive() and not errors, errors
    with factory() as s:
        assert_exact(s)
        (bucket,) = s.execute(select(REVIEWS.target)).mappings()
        assert (bucket["reviews"], bucket["score_max"]) == (2, pytest.approx(100.0))
        assert bucket["score_min"] < 100.0
