"""The criterion roll-up: exact under any sequence of saves, and the dashboard figures it serves.

The reference for the roll-up is ``rollup_select()`` (the from-scratch
aggregate over the answers); the reference for the dashboard is a plain Python
loop over every stored row with the organisation's months computed by
``zoneinfo``, so the edge windows are checked against an independent answer.
"""

from __future__ import annotations

import random
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
    CriterionRollup,
    Interaction,
    Review,
    ReviewAnswer,
    User,
    UTCDateTime,
)
from qa.rollups import rebuild_rollups, rollup_select
from qa.services import dashboard as dash
from qa.services import rubrics as rubric_service
from qa.services.periods import month_bounds
from qa.services.reviews import save_review, start_review
from rubrics import Answer
from rubrics.schema import Rubric
from tests import factories as f

Key = tuple[str, str, int, str, str]


def stored(session: Session) -> dict[Key, tuple[int, int, float]]:
    session.flush()
    return {
        (row.utc_month, row.criterion_id, row.team_key, row.channel, row.language): (
            int(row.answered),
            int(row.na),
            float(row.pct_sum),
        )
        for row in session.execute(select(CriterionRollup.__table__))
    }


def from_scratch(session: Session) -> dict[Key, tuple[int, int, float]]:
    session.flush()
    return {
        (row.utc_month, row.criterion_id, int(row.team_key), row.channel, row.language): (
            int(row.answered),
            int(row.na),
            float(row.pct_sum),
        )
        for row in session.execute(rollup_select())
    }


def assert_exact(session: Session) -> None:
    have, want = stored(session), from_scratch(session)
    assert have.keys() == want.keys()
    for key, (answered, na, pct_sum) in want.items():
        assert have[key][:2] == (answered, na), key
        assert have[key][2] == pytest.approx(pct_sum, abs=1e-6), key


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
    maintained = stored(session)
    assert maintained and sum(n + na for n, na, _ in maintained.values()) == 3 * len(
        list(rubric.all_criteria())
    )
    session.execute(CriterionRollup.__table__.delete())
    assert stored(session) == {}
    assert rebuild_rollups(session) == len(maintained)
    rebuilt = stored(session)
    assert rebuilt.keys() == maintained.keys()
    for key, value in rebuilt.items():
        assert value[:2] == maintained[key][:2]
        assert value[2] == pytest.approx(maintained[key][2])


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


@pytest.mark.parametrize("zone", ZONES)
def test_criterion_averages_match_a_row_by_row_reference(edge_world: Session, zone: str) -> None:
    session, tz = edge_world, ZoneInfo(zone)
    rows = _reference_rows(session)
    for flt in _filters(session):
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


@pytest.mark.parametrize("zone", ZONES)
def test_review_figures_match_a_row_by_row_reference(edge_world: Session, zone: str) -> None:
    session, tz = edge_world, ZoneInfo(zone)
    # One reference row per submitted review (the answer rows repeat it per criterion).
    reviews = {
        (r.interaction_at, r.team_id, r.channel, r.language, r.score, r.auto_fail): r
        for r in _reference_rows(session)
        if r.status == "submitted"
    }
    assert len(reviews) > 50
    for flt in _filters(session):
        chosen = [r for r in reviews.values() if _matches(r, flt, tz)]
        trend = dash.monthly_trend(session, Lead(), flt, tz)
        for m in trend:
            start, end = month_bounds(m.year, m.month_no, tz)
            inside = [r for r in chosen if start <= r.interaction_at < end]
            assert m.reviews == len(inside), (zone, flt, m.month)
            if inside:
                assert m.avg_score == pytest.approx(sum(r.score for r in inside) / len(inside))
                fails = sum(1 for r in inside if r.auto_fail)
                assert m.auto_fail_rate == pytest.approx(100.0 * fails / len(inside))
            else:
                assert m.avg_score is None and m.auto_fail_rate is None
        assert dash.summary(session, Lead(), flt, tz).reviews == len(chosen)
        assert sum(m.reviews for m in trend) == len(chosen)


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
