"""Reviewer-queue and agent-page services: permissions, org-time-zone months, acknowledgements."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qa.models import AuditEvent, Interaction, ReviewAcknowledgement, ReviewAssignment, User
from qa.services import agent_view
from qa.services import rubrics as rubric_service
from qa.services.errors import NotFound, PermissionDenied
from qa.services.reviews import save_review, start_review
from rubrics import Answer
from tests import factories as f

RIYADH = ZoneInfo("Asia/Riyadh")


def all_answers(session: Session, value_of: dict[str, float] | None = None) -> dict[str, Answer]:
    rubric = rubric_service.rubric_of(rubric_service.latest_version(session))
    out = {}
    for _, c in rubric.all_criteria():
        top = c.max_value
        out[c.id] = Answer(value=(value_of or {}).get(c.id, top))
    return out


def reviewed(
    session: Session,
    reviewer: User,
    agent_: object,
    at: datetime,
    *,
    submit: bool = True,
    value_of: dict[str, float] | None = None,
) -> int:
    inter = f.interaction(session, agent_=agent_, started_at=at)  # type: ignore[arg-type]
    review = start_review(session, inter.id, reviewer)
    save_review(session, review, all_answers(session, value_of), reviewer, submit=submit)
    return review.id


@pytest.fixture
def world(session: Session) -> dict:
    rubric_service.install_builtin(session)
    team = f.team(session)
    other_team = f.team(session)
    me = f.agent(session, team_=team)
    mate = f.agent(session, team_=team)
    stranger = f.agent(session, team_=other_team)
    return {
        "me": me,
        "mate": mate,
        "stranger": stranger,
        "me_user": f.user(session, role="agent", agent_=me),
        "mate_user": f.user(session, role="agent", agent_=mate),
        "reviewer": f.user(session, role="reviewer"),
        "reviewer2": f.user(session, role="reviewer"),
        "lead": f.user(session, role="qa_lead"),
        "trainer": f.user(session, role="trainer"),
    }


def test_months_are_bucketed_in_the_org_time_zone_with_team_average(
    session: Session, world: dict
) -> None:
    r = world["reviewer"]
    # 31 Oct 22:30 UTC is 1 Nov 01:30 in Riyadh: a November review.
    reviewed(session, r, world["me"], datetime(2026, 10, 31, 22, 30, tzinfo=UTC))
    reviewed(
        session,
        r,
        world["me"],
        datetime(2026, 10, 10, 9, tzinfo=UTC),
        value_of={"greeting": 0, "self_introduction": 0},
    )
    reviewed(session, r, world["mate"], datetime(2026, 11, 3, tzinfo=UTC), value_of={"closing": 1})
    reviewed(session, r, world["stranger"], datetime(2026, 11, 3, tzinfo=UTC), value_of={})
    reviewed(session, r, world["me"], datetime(2026, 11, 4, tzinfo=UTC), submit=False)

    rows = agent_view.monthly_scores(
        session, world["me_user"], tz=RIYADH, year=2026, month=11, months=3
    )
    assert [row.period for row in rows] == ["2026-09", "2026-10", "2026-11"]
    sep, oct_, nov = rows
    assert (sep.mine, sep.reviews, sep.team) == (None, 0, None)
    assert oct_.reviews == 1 and oct_.mine is not None and oct_.mine < 100
    assert nov.reviews == 1 and nov.mine == pytest.approx(100.0)  # the draft is not counted
    assert nov.team_reviews == 2 and nov.team is not None and nov.team < 100
    in_utc = agent_view.monthly_scores(
        session, world["me_user"], tz=ZoneInfo("UTC"), year=2026, month=11, months=3
    )
    assert [row.reviews for row in in_utc] == [0, 2, 0]


def test_criterion_scores_are_own_with_team_beside(session: Session, world: dict) -> None:
    r = world["reviewer"]
    when = datetime(2026, 11, 5, tzinfo=UTC)
    reviewed(session, r, world["me"], when, value_of={"greeting": 0})
    reviewed(session, r, world["mate"], when)
    rows = {
        c.criterion_id: c
        for c in agent_view.criterion_scores(
            session, world["me_user"], tz=RIYADH, year=2026, month=11, months=1
        )
    }
    assert rows["greeting"].mine == 0 and rows["greeting"].team == pytest.approx(50)
    assert rows["greeting"].answers == 1


def test_agents_see_only_their_own_submitted_reviews(session: Session, world: dict) -> None:
    r = world["reviewer"]
    when = datetime(2026, 11, 5, tzinfo=UTC)
    mine = reviewed(session, r, world["me"], when)
    reviewed(session, r, world["me"], when, submit=False)
    theirs = reviewed(session, r, world["mate"], when)
    assert [x.id for x in agent_view.my_reviews(session, world["me_user"])] == [mine]
    with pytest.raises(NotFound):
        agent_view.acknowledge(session, world["me_user"], theirs)
    with pytest.raises(PermissionDenied):
        agent_view.my_reviews(session, world["reviewer"])
    with pytest.raises(PermissionDenied):
        agent_view.monthly_scores(session, world["lead"], tz=RIYADH, year=2026, month=11)


def test_acknowledge_once_and_audited(session: Session, world: dict) -> None:
    review_id = reviewed(session, world["reviewer"], world["me"], datetime(2026, 11, 5, tzinfo=UTC))
    with pytest.raises(PermissionDenied):
        agent_view.acknowledge(session, world["lead"], review_id)  # a lead can read it, not ack
    first = agent_view.acknowledge(session, world["me_user"], review_id)
    again = agent_view.acknowledge(session, world["me_user"], review_id)
    assert first.id == again.id
    assert session.scalar(select(func.count()).select_from(ReviewAcknowledgement)) == 1
    events = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "acknowledge", AuditEvent.entity_id == str(review_id)
        )
    ).all()
    assert len(events) == 1 and events[0].actor_id == world["me_user"].id
    acks = agent_view.acknowledgements(session, world["me_user"], [review_id])
    assert acks[review_id].acknowledged_at is not None


def test_reviewers_open_only_their_queue_or_own_reviews(session: Session, world: dict) -> None:
    r, r2 = world["reviewer"], world["reviewer2"]
    queued = f.interaction(session, agent_=world["me"])
    loose = f.interaction(session, agent_=world["me"])
    session.add(ReviewAssignment(interaction_id=queued.id, reviewer_id=r.id, period="2026-10"))
    session.flush()
    assert agent_view.reviewable_interaction(session, r, queued.id).id == queued.id
    for who, iid in ((r, loose.id), (r2, queued.id), (r, 10**9)):
        with pytest.raises(NotFound):
            agent_view.reviewable_interaction(session, who, iid)
    assert agent_view.reviewable_interaction(session, world["lead"], loose.id).id == loose.id
    for who in (world["trainer"], world["mate_user"]):
        with pytest.raises(PermissionDenied):
            agent_view.reviewable_interaction(session, who, queued.id)
    with pytest.raises(PermissionDenied):
        agent_view.reviewable_interaction(session, world["me_user"], queued.id)

    items = agent_view.queue_items(session, r)
    assert [(i.interaction_id, i.agent_name, i.draft_review_id) for i in items] == [
        (queued.id, world["me"].name, None)
    ]
    review = start_review(session, queued.id, r)
    assert agent_view.queue_items(session, r)[0].draft_review_id == review.id
    assert agent_view.own_review_of(session, r, queued.id) is not None
    assert agent_view.can_edit(review, r) and not agent_view.can_edit(review, r2)
    assert agent_view.can_edit(review, world["lead"])
    assert not agent_view.can_edit(review, world["trainer"])
    assert session.get(Interaction, queued.id) is not None
