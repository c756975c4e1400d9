"""Dashboard aggregates against hand-built reviews with answers worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from qa.models import Agent, Review, ReviewAnswer, User
from qa.services import dashboard as dash
from qa.services import rubrics as rubric_service
from qa.services.errors import InvalidInput, PermissionDenied
from tests import factories as f

UTC_TZ = ZoneInfo("UTC")
RIYADH = ZoneInfo("Asia/Riyadh")
NEW_YORK = ZoneInfo("America/New_York")


class World:
    """Two teams, three agents, a reviewer, and a helper that writes one graded review."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.version = rubric_service.install_builtin(session)
        self.red = f.team(session, "Red")
        self.blue = f.team(session, "Blue")
        self.ann = f.agent(session, team_=self.red, name="Ann")
        self.bob = f.agent(session, team_=self.red, name="Bob")
        self.cat = f.agent(session, team_=self.blue, name="Cat")
        self.reviewer = f.user(session, role="reviewer")
        self.lead = f.user(session, role="qa_lead")

    def review(
        self,
        agent: Agent,
        at: datetime,
        score: float,
        *,
        auto_fail: bool = False,
        submitted: bool = True,
        channel: str = "call",
        language: str = "en",
        answers: dict[str, float | None] | None = None,
    ) -> Review:
        inter = f.interaction(
            self.session, agent_=agent, started_at=at, channel=channel, language=language
        )
        review = Review(
            interaction_id=inter.id,
            reviewer_id=self.reviewer.id,
            rubric_version_id=self.version.id,
            agent_id=agent.id,
            team_id=agent.team_id,
            interaction_at=at,
            status="submitted" if submitted else "draft",
            score=score,
            section_scores={},
            auto_fail=auto_fail,
            revision=1,
        )
        self.session.add(review)
        self.session.flush()
        for criterion, pct in (answers or {}).items():
            self.session.add(
                ReviewAnswer(
                    review_id=review.id,
                    criterion_id=criterion,
                    section_id="professionalism",
                    value=None if pct is None else 1.0,
                    na=pct is None,
                    earned=None,
                    possible=None,
                    pct=pct,
                    agent_id=agent.id,
                    team_id=agent.team_id,
                    interaction_at=at,
                    submitted=submitted,
                )
            )
        self.session.flush()
        return review


def oct_(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 10, day, hour, tzinfo=UTC)


@pytest.fixture
def world(session: Session) -> World:
    w = World(session)
    # October: Ann 80 and 60 (auto-fail counted as scored 0 below), Bob 90, Cat 50.
    w.review(w.ann, oct_(3), 80, answers={"greeting": 100.0, "empathy_acknowledgement": 50.0})
    w.review(
        w.ann,
        oct_(4),
        0,
        auto_fail=True,
        answers={"greeting": 0.0, "empathy_acknowledgement": None},
    )
    w.review(
        w.bob,
        oct_(5),
        90,
        channel="chat",
        answers={"greeting": 100.0, "empathy_acknowledgement": 100.0},
    )
    w.review(w.cat, oct_(6), 50, language="ar", answers={"greeting": 0.0})
    # A draft never counts, whatever its score.
    w.review(w.cat, oct_(7), 100, submitted=False, answers={"greeting": 100.0})
    # November: Bob 70.
    w.review(w.bob, datetime(2026, 11, 10, tzinfo=UTC), 70, answers={"greeting": 100.0})
    return w


OCT = dash.DashboardFilter((2026, 10), (2026, 10))
OCT_NOV = dash.DashboardFilter((2026, 10), (2026, 11))


def test_summary_counts_submitted_reviews_only(world: World) -> None:
    s = dash.summary(world.session, world.lead, OCT, UTC_TZ)
    assert s.reviews == 4
    assert s.agents == 3
    assert s.avg_score == pytest.approx((80 + 0 + 90 + 50) / 4)
    assert s.auto_fail_rate == pytest.approx(25.0)


def test_empty_period_has_no_averages(world: World) -> None:
    s = dash.summary(world.session, world.lead, dash.DashboardFilter((2025, 1), (2025, 2)), UTC_TZ)
    assert (s.reviews, s.agents, s.avg_score, s.auto_fail_rate) == (0, 0, None, None)


def test_by_team(world: World) -> None:
    rows = {r.team: r for r in dash.by_team(world.session, world.lead, OCT_NOV, UTC_TZ)}
    assert set(rows) == {"Red", "Blue"}
    red = rows["Red"]
    assert (red.reviews, red.agents) == (4, 2)
    assert red.avg_score == pytest.approx((80 + 0 + 90 + 70) / 4)
    assert red.auto_fail_rate == pytest.approx(25.0)
    assert rows["Blue"].avg_score == pytest.approx(50.0)
    assert rows["Blue"].auto_fail_rate == pytest.approx(0.0)


def test_by_agent_lowest_first(world: World) -> None:
    rows = dash.by_agent(world.session, world.lead, OCT_NOV, UTC_TZ)
    assert [r.agent for r in rows] == ["Ann", "Cat", "Bob"]
    ann, cat, bob = rows
    assert (ann.reviews, ann.avg_score, ann.min_score, ann.max_score) == (2, 40.0, 0.0, 80.0)
    assert ann.auto_fail_rate == pytest.approx(50.0)
    assert ann.team == "Red" and cat.team == "Blue"
    assert (bob.reviews, bob.avg_score) == (2, 80.0)


def test_by_criterion_skips_na_and_drafts(world: World) -> None:
    rows = {r.criterion_id: r for r in dash.by_criterion(world.session, world.lead, OCT, UTC_TZ)}
    greeting, empathy = rows["greeting"], rows["empathy_acknowledgement"]
    # greeting in October, submitted: 100, 0, 100, 0 (the draft's 100 is ignored)
    assert (greeting.answers, greeting.na, greeting.avg_pct) == (4, 0, 50.0)
    # empathy: 50, N/A, 100
    assert (empathy.answers, empathy.na) == (2, 1)
    assert empathy.avg_pct == pytest.approx(75.0)


def test_distribution_buckets(world: World) -> None:
    buckets = dash.distribution(world.session, world.lead, OCT_NOV, UTC_TZ)
    assert len(buckets) == 10 and buckets[0].low == 0 and buckets[-1].high == 100
    counts = {b.low: b.reviews for b in buckets if b.reviews}
    # 0 -> [0,10), 50 -> [50,60), 70 -> [70,80), 80 -> [80,90), 90 -> [90,100]
    assert counts == {0: 1, 50: 1, 70: 1, 80: 1, 90: 1}


def test_distribution_puts_100_in_last_bucket(session: Session) -> None:
    w = World(session)
    w.review(w.ann, oct_(3), 100.0)
    w.review(w.ann, oct_(4), 99.99)
    w.review(w.ann, oct_(5), 9.99)
    buckets = dash.distribution(session, w.lead, OCT, UTC_TZ)
    assert buckets[-1].reviews == 2
    assert buckets[0].reviews == 1


def test_filters_channel_language_team(world: World) -> None:
    lead = world.lead
    chat = dash.DashboardFilter((2026, 10), (2026, 11), channels=("chat",))
    assert dash.summary(world.session, lead, chat, UTC_TZ).reviews == 1
    assert [r.agent for r in dash.by_agent(world.session, lead, chat, UTC_TZ)] == ["Bob"]
    crit = {r.criterion_id: r for r in dash.by_criterion(world.session, lead, chat, UTC_TZ)}
    assert crit["greeting"].answers == 1 and crit["empathy_acknowledgement"].avg_pct == 100.0

    arabic = dash.DashboardFilter((2026, 10), (2026, 11), languages=("ar",))
    assert dash.summary(world.session, lead, arabic, UTC_TZ).avg_score == 50.0
    crit = {r.criterion_id: r for r in dash.by_criterion(world.session, lead, arabic, UTC_TZ)}
    assert set(crit) == {"greeting"} and crit["greeting"].avg_pct == 0.0

    blue = dash.DashboardFilter((2026, 10), (2026, 11), team_ids=(world.blue.id,))
    assert dash.summary(world.session, lead, blue, UTC_TZ).reviews == 1
    assert [r.team for r in dash.by_team(world.session, lead, blue, UTC_TZ)] == ["Blue"]
    crit = {r.criterion_id: r for r in dash.by_criterion(world.session, lead, blue, UTC_TZ)}
    assert crit["greeting"].answers == 1


def test_monthly_trend(world: World) -> None:
    trend = dash.monthly_trend(
        world.session, world.lead, dash.DashboardFilter((2026, 9), (2026, 12)), UTC_TZ
    )
    assert [m.month for m in trend] == ["2026-09", "2026-10", "2026-11", "2026-12"]
    assert [m.reviews for m in trend] == [0, 4, 1, 0]
    assert trend[1].avg_score == pytest.approx(55.0)
    assert trend[1].auto_fail_rate == pytest.approx(25.0)
    assert trend[2].avg_score == 70.0
    assert trend[0].avg_score is None and trend[0].auto_fail_rate is None
    (one,) = dash.monthly_trend(world.session, world.lead, OCT, UTC_TZ)
    assert (one.month, one.reviews) == ("2026-10", 4)


def test_month_follows_the_organisation_time_zone(session: Session) -> None:
    w = World(session)
    # 22:30 UTC on 31 October is 01:30 on 1 November in Riyadh (UTC+3).
    w.review(w.ann, datetime(2026, 10, 31, 22, 30, tzinfo=UTC), 40.0)
    # 02:00 UTC on 1 November is still 31 October (22:00, EDT) in New York.
    w.review(w.bob, datetime(2026, 11, 1, 2, 0, tzinfo=UTC), 60.0)
    both = dash.DashboardFilter((2026, 10), (2026, 11))

    def counts(tz: ZoneInfo) -> list[int]:
        return [m.reviews for m in dash.monthly_trend(session, w.lead, both, tz)]

    assert counts(UTC_TZ) == [1, 1]
    assert counts(RIYADH) == [0, 2]
    assert counts(NEW_YORK) == [2, 0]
    november = dash.DashboardFilter((2026, 11), (2026, 11))
    assert dash.summary(session, w.lead, november, RIYADH).avg_score == 50.0
    assert dash.summary(session, w.lead, november, NEW_YORK).reviews == 0


def test_dashboard_bundle_matches_parts(world: World) -> None:
    d = dash.dashboard(world.session, world.lead, OCT_NOV, UTC_TZ)
    assert d.summary.reviews == 5
    assert sum(b.reviews for b in d.distribution) == 5
    assert sum(m.reviews for m in d.trend) == 5
    assert sum(t.reviews for t in d.teams) == 5
    assert sum(a.reviews for a in d.agents) == 5


@pytest.mark.parametrize("role", ["reviewer", "agent"])
def test_reviewers_and_agents_are_refused(world: World, role: str) -> None:
    user = User(username="x", display_name="x", role=role)
    with pytest.raises(PermissionDenied):
        dash.summary(world.session, user, OCT, UTC_TZ)
    with pytest.raises(PermissionDenied):
        dash.dashboard(world.session, user, OCT, UTC_TZ)


@pytest.mark.parametrize("role", ["trainer", "admin"])
def test_trainers_and_admins_may_read(world: World, role: str) -> None:
    user = User(username="x", display_name="x", role=role)
    assert dash.summary(world.session, user, OCT, UTC_TZ).reviews == 4


def test_bad_filters_are_refused(world: World) -> None:
    with pytest.raises(InvalidInput, match="after the last"):
        dash.summary(world.session, world.lead, dash.DashboardFilter((2026, 5), (2026, 4)), UTC_TZ)
    with pytest.raises(InvalidInput, match="channel"):
        dash.summary(
            world.session, world.lead, dash.DashboardFilter((2026, 5), (2026, 5), ("fax",)), UTC_TZ
        )
    with pytest.raises(InvalidInput, match="at most"):
        dash.summary(world.session, world.lead, dash.DashboardFilter((2020, 1), (2026, 1)), UTC_TZ)


def test_moving_an_agent_keeps_history_with_the_old_team(world: World) -> None:
    world.cat.team_id = world.red.id
    world.session.flush()
    teams = {r.team: r.reviews for r in dash.by_team(world.session, world.lead, OCT, UTC_TZ)}
    assert teams == {"Red": 3, "Blue": 1}
    agents = {r.agent: r.team for r in dash.by_agent(world.session, world.lead, OCT, UTC_TZ)}
    assert agents["Cat"] == "Red"  # the agent table shows where the agent is now
