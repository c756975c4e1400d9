from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from qa.models import ReviewAssignment
from qa.services import queue
from qa.services import rubrics as rubric_service
from qa.services.errors import InvalidInput, PermissionDenied
from qa.services.periods import add_months, month_bounds, parse_month, previous_month
from qa.services.reviews import save_review, start_review
from rubrics import Answer
from tests import factories

RIYADH = ZoneInfo("Asia/Riyadh")


def test_periods() -> None:
    assert parse_month("2026-10") == (2026, 10)
    with pytest.raises(ValueError, match="YYYY-MM"):
        parse_month("2026-13")
    assert add_months(2026, 1, -1) == (2025, 12) and add_months(2026, 12, 1) == (2027, 1)
    start, end = month_bounds(2026, 11, RIYADH)
    assert start.astimezone(UTC) == datetime(2026, 10, 31, 21, 0, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 11, 30, 21, 0, tzinfo=UTC)
    assert previous_month(datetime(2026, 11, 30, 22, 0, tzinfo=UTC), RIYADH) == (2026, 11)


def _centre(session: Session):  # type: ignore[no-untyped-def]
    team = factories.team(session)
    agents = [factories.agent(session, team_=team) for _ in range(2)]
    for agent in agents:
        for day in range(1, 21):
            channel = "call" if day % 4 else "chat"  # 15 calls, 5 chats
            factories.interaction(
                session,
                agent_=agent,
                channel=channel,
                started_at=datetime(2026, 10, day, 10, 0, tzinfo=UTC),
            )
    # Belongs to November in Riyadh although it is 31 October in UTC.
    factories.interaction(
        session, agent_=agents[0], started_at=datetime(2026, 10, 31, 22, 30, tzinfo=UTC)
    )
    lead = factories.user(session, role="qa_lead")
    reviewers = [factories.user(session, role="reviewer") for _ in range(2)]
    return team, agents, lead, reviewers


def test_fill_is_stratified_balanced_and_idempotent(session: Session) -> None:
    team, agents, lead, reviewers = _centre(session)
    rule = queue.save_rule(session, lead, name="monthly", per_agent_per_month=4, team_id=team.id)
    report = queue.fill_queues(session, rule, reviewers, year=2026, month=10, tz=RIYADH, actor=lead)
    assert report.assigned == 8 and report.short == {}
    assert sorted(report.per_reviewer.values()) == [4, 4]
    rows = list(session.scalars(select(ReviewAssignment)))
    per_agent = Counter(r.interaction.agent_id for r in rows)
    assert per_agent == {agents[0].id: 4, agents[1].id: 4}
    for agent in agents:
        channels = Counter(
            r.interaction.channel for r in rows if r.interaction.agent_id == agent.id
        )
        assert channels == {"call": 3, "chat": 1}  # proportional to 15:5
    assert all(r.interaction.started_at < datetime(2026, 10, 31, 21, tzinfo=UTC) for r in rows)
    again = queue.fill_queues(session, rule, reviewers, year=2026, month=10, tz=RIYADH, actor=lead)
    assert again.assigned == 0


def test_reviewed_interactions_are_never_sampled(session: Session) -> None:
    team, agents, lead, reviewers = _centre(session)
    version = rubric_service.install_builtin(session)
    rubric = rubric_service.rubric_of(version)
    rule = queue.save_rule(session, lead, name="all", per_agent_per_month=30, team_id=team.id)
    report = queue.fill_queues(session, rule, reviewers, year=2026, month=10, tz=RIYADH, actor=lead)
    assert report.short == {agents[0].id: 10, agents[1].id: 10}
    mine = queue.my_queue(session, reviewers[0])
    assert len(mine) == 20
    target = mine[0]
    review = start_review(session, target.interaction_id, reviewers[0])
    answers = {c.id: Answer(c.max_value) for _, c in rubric.all_criteria()}
    save_review(session, review, answers, reviewers[0], submit=True)
    assert target.status == "done" and len(queue.my_queue(session, reviewers[0])) == 19


def test_only_leads_fill_queues_and_no_self_review(session: Session) -> None:
    _team, agents, lead, reviewers = _centre(session)
    with pytest.raises(PermissionDenied):
        queue.save_rule(session, reviewers[0], name="x", per_agent_per_month=2)
    with pytest.raises(InvalidInput):
        queue.save_rule(session, lead, name="x", per_agent_per_month=0)
    with pytest.raises(InvalidInput):
        queue.save_rule(session, lead, name="x", per_agent_per_month=2, channels=["fax"])
    dual = factories.user(session, role="reviewer", agent_=agents[0])
    rule = queue.save_rule(session, lead, name="r", per_agent_per_month=3)
    queue.fill_queues(
        session, rule, [dual, reviewers[0]], year=2026, month=10, tz=RIYADH, actor=lead
    )
    own = [a for a in queue.my_queue(session, dual) if a.interaction.agent_id == agents[0].id]
    assert own == []
    inter = factories.interaction(session, agent_=agents[0])
    with pytest.raises(InvalidInput):
        queue.assign(session, inter.id, dual, lead)
    assert queue.assign(session, inter.id, reviewers[1], lead).reviewer_id == reviewers[1].id
