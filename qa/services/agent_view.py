"""Read-side rules for the reviewer's queue and review page and for the agent's own pages.

Every function takes the acting user and decides what that user may see; the
pages never build queries of their own for someone else's data. An agent only
ever gets rows keyed by their own ``agent_id`` (the user row is the source of
truth, never a page parameter), and a team average is the only figure about
colleagues an agent sees.

Monthly figures are bucketed in the organisation's time zone inside SQL: the
UTC bounds of each local month (``periods.month_bounds``) become a ``CASE``
expression, which is portable between SQLite and PostgreSQL and correct across
daylight-saving changes, and the database does the averaging.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qa.models import (
    Agent,
    AssignmentStatus,
    Interaction,
    Review,
    ReviewAcknowledgement,
    ReviewAnswer,
    ReviewAssignment,
    ReviewStatus,
    Role,
    User,
)
from qa.services import audit
from qa.services.errors import NotFound, PermissionDenied
from qa.services.periods import last_months, month_bounds, month_label
from qa.services.reviews import get_review, visible_reviews

LEAD_ROLES = frozenset({Role.qa_lead.value, Role.admin.value})


# ----------------------------------------------------------------------------- reviewer side


@dataclass(frozen=True)
class QueueItem:
    interaction_id: int
    external_id: str
    agent_name: str
    channel: str
    language: str
    started_at: datetime
    duration_seconds: float | None
    period: str
    draft_review_id: int | None


def queue_items(session: Session, reviewer: User) -> list[QueueItem]:
    """The reviewer's open assignments with what the queue table shows, in one query."""
    draft = (
        select(Review.id)
        .where(Review.interaction_id == Interaction.id, Review.reviewer_id == reviewer.id)
        .limit(1)
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            Interaction.id,
            Interaction.external_id,
            Agent.name,
            Interaction.channel,
            Interaction.language,
            Interaction.started_at,
            Interaction.duration_seconds,
            ReviewAssignment.period,
            draft,
        )
        .join(ReviewAssignment, ReviewAssignment.interaction_id == Interaction.id)
        .join(Agent, Agent.id == Interaction.agent_id)
        .where(
            ReviewAssignment.reviewer_id == reviewer.id,
            ReviewAssignment.status == AssignmentStatus.open.value,
        )
        .order_by(Interaction.started_at, Interaction.id)
    ).all()
    return [QueueItem(*row) for row in rows]


def reviewable_interaction(session: Session, user: User, interaction_id: int) -> Interaction:
    """The interaction if ``user`` may grade it: leads any, reviewers their queue or own reviews.

    ``reviews.start_review`` lets any reviewer start any review; the page is
    stricter so that a reviewer cannot open arbitrary transcripts by editing the
    URL. Unknown and forbidden ids give the same ``NotFound`` (no probing).
    """
    interaction = session.get(Interaction, interaction_id)
    missing = NotFound(f"interaction {interaction_id} not found")
    if interaction is None:
        raise missing
    if user.agent_id is not None and user.agent_id == interaction.agent_id:
        raise PermissionDenied("you cannot review your own interactions")
    if user.role in LEAD_ROLES:
        return interaction
    if user.role != Role.reviewer.value:
        raise PermissionDenied(f"{user.role} users may not review interactions")
    assigned = session.scalar(
        select(func.count())
        .select_from(ReviewAssignment)
        .where(
            ReviewAssignment.interaction_id == interaction_id,
            ReviewAssignment.reviewer_id == user.id,
        )
    )
    own = session.scalar(
        select(func.count())
        .select_from(Review)
        .where(Review.interaction_id == interaction_id, Review.reviewer_id == user.id)
    )
    if not assigned and not own:
        raise missing
    return interaction


def own_review_of(session: Session, user: User, interaction_id: int) -> Review | None:
    """``user``'s own review of the interaction, if they started one."""
    return session.scalar(
        select(Review).where(Review.interaction_id == interaction_id, Review.reviewer_id == user.id)
    )


def can_edit(review: Review, user: User) -> bool:
    """Mirrors ``reviews.save_review``'s check so the page can show a read-only form."""
    if user.role in LEAD_ROLES:
        return True
    return user.role == Role.reviewer.value and review.reviewer_id == user.id


# ----------------------------------------------------------------------------- agent side


def _agent_id(user: User) -> int:
    if user.agent_id is None:
        raise PermissionDenied("this account is not linked to an agent, so it has no own scores")
    return user.agent_id


@dataclass(frozen=True)
class MonthScore:
    period: str  # YYYY-MM in the organisation's time zone
    year: int
    month: int
    mine: float | None
    reviews: int
    team: float | None
    team_reviews: int


@dataclass(frozen=True)
class CriterionScore:
    criterion_id: str
    mine: float | None
    answers: int
    team: float | None


def _month_case(column: object, months: list[tuple[int, int]], tz: ZoneInfo) -> object:
    whens = []
    for year, month in months:
        start, end = month_bounds(year, month, tz)
        whens.append((and_(column >= start, column < end), month_label(year, month)))  # type: ignore[operator]
    return case(*whens, else_=None)


def _window(months: list[tuple[int, int]], tz: ZoneInfo) -> tuple[datetime, datetime]:
    return month_bounds(*months[0], tz)[0], month_bounds(*months[-1], tz)[1]


def _team_of(session: Session, agent_id: int) -> int | None:
    return session.scalar(select(Agent.team_id).where(Agent.id == agent_id))


def monthly_scores(
    session: Session, user: User, *, tz: ZoneInfo, year: int, month: int, months: int = 6
) -> list[MonthScore]:
    """The user's own average score per month (oldest first), with their team's beside it."""
    agent_id = _agent_id(user)
    team_id = _team_of(session, agent_id)
    span = last_months(year, month, months)
    start, end = _window(span, tz)
    period = _month_case(Review.interaction_at, span, tz)

    def per_month(*where: object) -> dict[str, tuple[float | None, int]]:
        query: Select = (
            select(period.label("period"), func.avg(Review.score), func.count(Review.id))  # type: ignore[attr-defined]
            .where(
                Review.status == ReviewStatus.submitted.value,
                Review.score.is_not(None),
                Review.interaction_at >= start,
                Review.interaction_at < end,
                *where,
            )
            .group_by("period")
        )
        return {p: (avg, n) for p, avg, n in session.execute(query) if p is not None}

    mine = per_month(Review.agent_id == agent_id)
    team = per_month(Review.team_id == team_id) if team_id is not None else {}
    out = []
    for y, m in span:
        label = month_label(y, m)
        my_avg, my_n = mine.get(label, (None, 0))
        team_avg, team_n = team.get(label, (None, 0))
        out.append(MonthScore(label, y, m, my_avg, my_n, team_avg, team_n))
    return out


def criterion_scores(
    session: Session, user: User, *, tz: ZoneInfo, year: int, month: int, months: int = 6
) -> list[CriterionScore]:
    """Average percentage per criterion over the window, own and team, by criterion id."""
    agent_id = _agent_id(user)
    team_id = _team_of(session, agent_id)
    start, end = _window(last_months(year, month, months), tz)

    def per_criterion(*where: object) -> dict[str, tuple[float | None, int]]:
        query = (
            select(ReviewAnswer.criterion_id, func.avg(ReviewAnswer.pct), func.count())
            .where(
                ReviewAnswer.submitted.is_(True),
                ReviewAnswer.pct.is_not(None),
                ReviewAnswer.interaction_at >= start,
                ReviewAnswer.interaction_at < end,
                *where,
            )
            .group_by(ReviewAnswer.criterion_id)
        )
        return {cid: (avg, n) for cid, avg, n in session.execute(query)}

    mine = per_criterion(ReviewAnswer.agent_id == agent_id)
    team = per_criterion(ReviewAnswer.team_id == team_id) if team_id is not None else {}
    return [
        CriterionScore(cid, avg, n, team.get(cid, (None, 0))[0])
        for cid, (avg, n) in sorted(mine.items())
    ]


def my_reviews(session: Session, user: User, *, limit: int = 100) -> list[Review]:
    """The user's own submitted reviews, newest interaction first."""
    agent_id = _agent_id(user)
    return list(
        session.scalars(
            visible_reviews(user)
            .where(Review.agent_id == agent_id, Review.status == ReviewStatus.submitted.value)
            .order_by(Review.interaction_at.desc(), Review.id.desc())
            .limit(limit)
        )
    )


def acknowledgements(
    session: Session, user: User, review_ids: list[int]
) -> dict[int, ReviewAcknowledgement]:
    """The user's acknowledgements of the given reviews, by review id."""
    if not review_ids:
        return {}
    rows = session.scalars(
        select(ReviewAcknowledgement).where(
            ReviewAcknowledgement.review_id.in_(review_ids),
            ReviewAcknowledgement.user_id == user.id,
        )
    )
    return {row.review_id: row for row in rows}


def acknowledge(session: Session, user: User, review_id: int) -> ReviewAcknowledgement:
    """Record that the reviewed agent has read the review (idempotent, audited once)."""
    review = get_review(session, review_id, user)
    if (
        user.agent_id is None
        or review.agent_id != user.agent_id
        or review.status != ReviewStatus.submitted.value
    ):
        raise PermissionDenied("only the reviewed agent can acknowledge a submitted review")
    existing = session.scalar(
        select(ReviewAcknowledgement).where(ReviewAcknowledgement.review_id == review.id)
    )
    if existing is not None:
        return existing
    ack = ReviewAcknowledgement(review_id=review.id, user_id=user.id)
    try:
        with session.begin_nested():
            session.add(ack)
            session.flush()
    except IntegrityError:
        # Acknowledged at the same moment from another tab: the first one stands.
        again = session.scalar(
            select(ReviewAcknowledgement).where(ReviewAcknowledgement.review_id == review.id)
        )
        if again is None:
            raise
        return again
    audit.record(
        session,
        user,
        "acknowledge",
        "review",
        review.id,
        after={"revision": review.revision, "score": review.score},
    )
    return ack
