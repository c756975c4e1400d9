"""Team dashboard figures, aggregated in SQL.

Every figure is a GROUP BY over the denormalised, indexed keys on ``reviews``
and ``review_answers`` (agent, team, interaction time, submitted), so the work
is one index range scan per figure and the Python side only ever sees a few
hundred aggregated rows, never the reviews themselves.

Months are the organisation's months: the bounds of each month are computed
in Python with ``zoneinfo`` (DST-correct) and compared with the stored UTC
times, and the monthly trend buckets rows with a ``CASE`` over those bounds.
That is one scan, gives the same answer on SQLite and PostgreSQL, and needs no
database time-zone support (SQLite has none).

Only submitted reviews count: drafts are work in progress and would make the
figures move while a reviewer types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Select, case, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from qa.models import (
    Agent,
    Interaction,
    Review,
    ReviewAnswer,
    ReviewStatus,
    Role,
    RubricVersion,
    Team,
)
from qa.services.errors import InvalidInput, PermissionDenied
from qa.services.periods import add_months, month_bounds, month_label

#: Who may read the dashboard. Trainers read it to plan coaching; they change nothing.
DASHBOARD_ROLES = frozenset({Role.qa_lead.value, Role.admin.value, Role.trainer.value})
#: Score histogram: ten buckets of ten points; 100 falls in the last one.
BUCKET_WIDTH = 10
BUCKETS = 10
MAX_MONTHS = 36


class HasRole(Protocol):
    """Anything carrying a role: a ``User`` row or the UI's ``Viewer`` value."""

    @property
    def role(self) -> str: ...


@dataclass(frozen=True)
class DashboardFilter:
    """What the lead picked. Months are inclusive; empty tuples mean "all"."""

    first_month: tuple[int, int]
    last_month: tuple[int, int]
    channels: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    team_ids: tuple[int, ...] = ()

    def months(self) -> list[tuple[int, int]]:
        (y0, m0), (y1, m1) = self.first_month, self.last_month
        count = (y1 * 12 + m1) - (y0 * 12 + m0) + 1
        return [add_months(y0, m0, k) for k in range(count)]

    def validate(self) -> None:
        count = len(self.months())
        if count < 1:
            raise InvalidInput("the first month must not be after the last month")
        if count > MAX_MONTHS:
            raise InvalidInput(f"choose at most {MAX_MONTHS} months")
        bad = set(self.channels) - {"call", "chat", "email"}
        if bad:
            raise InvalidInput(f"unknown channel(s): {', '.join(sorted(bad))}")
        bad = set(self.languages) - {"en", "ar"}
        if bad:
            raise InvalidInput(f"unknown language(s): {', '.join(sorted(bad))}")

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """[start of first month, start of the month after the last) in ``tz``."""
        start, _ = month_bounds(*self.first_month, tz)
        _, end = month_bounds(*self.last_month, tz)
        return start, end


@dataclass(frozen=True)
class Summary:
    reviews: int
    agents: int
    avg_score: float | None
    auto_fail_rate: float | None  # 0..100


@dataclass(frozen=True)
class TeamRow:
    team_id: int | None
    team: str | None
    reviews: int
    agents: int
    avg_score: float | None
    auto_fail_rate: float | None


@dataclass(frozen=True)
class AgentRow:
    agent_id: int
    external_id: str
    agent: str
    team: str | None
    reviews: int
    avg_score: float | None
    min_score: float | None
    max_score: float | None
    auto_fail_rate: float | None


@dataclass(frozen=True)
class CriterionRow:
    criterion_id: str
    answers: int  # answered (not N/A)
    na: int
    avg_pct: float | None


@dataclass(frozen=True)
class Bucket:
    low: int  # inclusive
    high: int  # exclusive, except the last bucket which includes 100
    reviews: int


@dataclass(frozen=True)
class MonthRow:
    month: str  # YYYY-MM in the organisation's time zone
    year: int
    month_no: int
    reviews: int
    avg_score: float | None
    auto_fail_rate: float | None


@dataclass(frozen=True)
class Dashboard:
    filter: DashboardFilter
    summary: Summary
    teams: list[TeamRow] = field(default_factory=list)
    agents: list[AgentRow] = field(default_factory=list)
    criteria: list[CriterionRow] = field(default_factory=list)
    distribution: list[Bucket] = field(default_factory=list)
    trend: list[MonthRow] = field(default_factory=list)


def require_reader(viewer: HasRole) -> None:
    if viewer.role not in DASHBOARD_ROLES:
        raise PermissionDenied("only QA leads, trainers and admins may read the team dashboard")


# ---------------------------------------------------------------------------- filters


def _fail_rate(column: Any) -> ColumnElement[Any]:
    """Percentage of rows with ``column`` true (portable: no boolean arithmetic)."""
    return 100.0 * func.avg(case((column == True, 1.0), else_=0.0))  # noqa: E712


def _interaction_filter(f: DashboardFilter) -> Select[Any] | None:
    """Ids of interactions matching the channel/language choice, or None when unrestricted."""
    if not f.channels and not f.languages:
        return None
    query = select(Interaction.id)
    if f.channels:
        query = query.where(Interaction.channel.in_(f.channels))
    if f.languages:
        query = query.where(Interaction.language.in_(f.languages))
    return query


def _review_where(f: DashboardFilter, tz: ZoneInfo) -> list[ColumnElement[bool]]:
    start, end = f.bounds(tz)
    conditions: list[ColumnElement[bool]] = [
        Review.status == ReviewStatus.submitted.value,
        Review.interaction_at >= start,
        Review.interaction_at < end,
    ]
    if f.team_ids:
        conditions.append(Review.team_id.in_(f.team_ids))
    interactions = _interaction_filter(f)
    if interactions is not None:
        conditions.append(Review.interaction_id.in_(interactions))
    return conditions


def _answer_where(f: DashboardFilter, tz: ZoneInfo) -> list[ColumnElement[bool]]:
    start, end = f.bounds(tz)
    return [
        ReviewAnswer.submitted == True,  # noqa: E712  (``= 1`` keeps SQLite on the index)
        ReviewAnswer.interaction_at >= start,
        ReviewAnswer.interaction_at < end,
    ]


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


# ---------------------------------------------------------------------------- figures


def summary(session: Session, viewer: HasRole, f: DashboardFilter, tz: ZoneInfo) -> Summary:
    require_reader(viewer)
    f.validate()
    row = session.execute(
        select(
            func.count(),
            func.count(func.distinct(Review.agent_id)),
            func.avg(Review.score),
            _fail_rate(Review.auto_fail),
        ).where(*_review_where(f, tz))
    ).one()
    reviews = int(row[0])
    return Summary(
        reviews=reviews,
        agents=int(row[1]),
        avg_score=_num(row[2]),
        auto_fail_rate=_num(row[3]) if reviews else None,
    )


def by_team(session: Session, viewer: HasRole, f: DashboardFilter, tz: ZoneInfo) -> list[TeamRow]:
    """One row per team (the team the agent was in when the interaction was reviewed)."""
    require_reader(viewer)
    f.validate()
    agg = (
        select(
            Review.team_id.label("team_id"),
            func.count().label("reviews"),
            func.count(func.distinct(Review.agent_id)).label("agents"),
            func.avg(Review.score).label("avg_score"),
            _fail_rate(Review.auto_fail).label("fail_rate"),
        )
        .where(*_review_where(f, tz))
        .group_by(Review.team_id)
        .subquery()
    )
    rows = session.execute(
        select(agg, Team.name)
        .outerjoin(Team, Team.id == agg.c.team_id)
        .order_by(Team.name.is_(None), Team.name)
    ).all()
    return [
        TeamRow(
            team_id=r.team_id,
            team=r.name,
            reviews=int(r.reviews),
            agents=int(r.agents),
            avg_score=_num(r.avg_score),
            auto_fail_rate=_num(r.fail_rate),
        )
        for r in rows
    ]


def by_agent(session: Session, viewer: HasRole, f: DashboardFilter, tz: ZoneInfo) -> list[AgentRow]:
    """One row per reviewed agent, lowest average first (who needs coaching)."""
    require_reader(viewer)
    f.validate()
    agg = (
        select(
            Review.agent_id.label("agent_id"),
            func.count().label("reviews"),
            func.avg(Review.score).label("avg_score"),
            func.min(Review.score).label("min_score"),
            func.max(Review.score).label("max_score"),
            _fail_rate(Review.auto_fail).label("fail_rate"),
        )
        .where(*_review_where(f, tz))
        .group_by(Review.agent_id)
        .subquery()
    )
    rows = session.execute(
        select(agg, Agent.external_id, Agent.name, Team.name.label("team"))
        .join(Agent, Agent.id == agg.c.agent_id)
        .outerjoin(Team, Team.id == Agent.team_id)
        .order_by(agg.c.avg_score, Agent.name, Agent.id)
    ).all()
    return [
        AgentRow(
            agent_id=r.agent_id,
            external_id=r.external_id,
            agent=r.name,
            team=r.team,
            reviews=int(r.reviews),
            avg_score=_num(r.avg_score),
            min_score=_num(r.min_score),
            max_score=_num(r.max_score),
            auto_fail_rate=_num(r.fail_rate),
        )
        for r in rows
    ]


def criterion_ids(session: Session) -> list[str]:
    """Every criterion id of every stored rubric version (answers can only use these)."""
    ids: set[str] = set()
    for definition in session.scalars(select(RubricVersion.definition)):
        for section in definition.get("sections", []):
            ids.update(c["id"] for c in section.get("criteria", []))
    return sorted(ids)


def by_criterion(
    session: Session, viewer: HasRole, f: DashboardFilter, tz: ZoneInfo
) -> list[CriterionRow]:
    """Average percentage per criterion over answered (not N/A) answers.

    Only columns of ``ix_review_answers_criterion_period`` are read, so SQLite
    answers from the index alone (reading ``section_id`` too cost 10x: one
    table lookup per answer). Sections come from the rubric, not from here.
    The explicit list of criterion ids turns one scan of the whole index into
    one range seek per criterion on (submitted, criterion_id, interaction_at),
    so a one-month view reads one month of answers, not every answer.
    """
    require_reader(viewer)
    f.validate()
    ids = criterion_ids(session)
    if not ids:
        return []
    query = select(
        ReviewAnswer.criterion_id,
        func.count(ReviewAnswer.pct),
        func.count() - func.count(ReviewAnswer.pct),
        func.avg(ReviewAnswer.pct),
    )
    if f.team_ids or f.channels or f.languages:
        # Drive from the matching reviews (team, channel and language live on
        # reviews and interactions, not on answers) and fetch their answers by
        # review id; left to itself SQLite walks the criterion index and reads
        # every answer's row to test the filter (measured 5-10 s at 1M answers).
        # DISTINCT (a no-op on ids) stops SQLite flattening the subquery, which is
        # what makes it drive the join from the reviews.
        reviews = select(Review.id).where(*_review_where(f, tz)).distinct().subquery()
        query = (
            query.select_from(reviews)
            .join(ReviewAnswer, ReviewAnswer.review_id == reviews.c.id)
            .where(ReviewAnswer.submitted == True)  # noqa: E712
        )
    else:
        query = query.where(*_answer_where(f, tz), ReviewAnswer.criterion_id.in_(ids))
    rows = session.execute(
        query.group_by(ReviewAnswer.criterion_id).order_by(ReviewAnswer.criterion_id)
    ).all()
    return [
        CriterionRow(criterion_id=r[0], answers=int(r[1]), na=int(r[2]), avg_pct=_num(r[3]))
        for r in rows
    ]


def distribution(
    session: Session, viewer: HasRole, f: DashboardFilter, tz: ZoneInfo
) -> list[Bucket]:
    """Score histogram; every bucket is present (zero counts included) so charts line up."""
    require_reader(viewer)
    f.validate()
    bucket = case(
        *[(Review.score >= k * BUCKET_WIDTH, k) for k in range(BUCKETS - 1, 0, -1)], else_=0
    )
    counts = dict(
        session.execute(
            select(bucket, func.count())
            .where(*_review_where(f, tz), Review.score.is_not(None))
            .group_by(bucket)
        ).all()
    )
    return [
        Bucket(k * BUCKET_WIDTH, (k + 1) * BUCKET_WIDTH, int(counts.get(k, 0)))
        for k in range(BUCKETS)
    ]


def monthly_trend(
    session: Session, viewer: HasRole, f: DashboardFilter, tz: ZoneInfo
) -> list[MonthRow]:
    """One row per month of the filter (empty months included), in the organisation's zone."""
    require_reader(viewer)
    f.validate()
    months = f.months()
    ends = [month_bounds(y, m, tz)[1] for y, m in months]
    index: ColumnElement[Any] = (
        case(
            *[(Review.interaction_at < end, k) for k, end in enumerate(ends[:-1])],
            else_=len(months) - 1,
        )
        if len(months) > 1
        else literal(0)
    )
    found = {
        int(r[0]): r
        for r in session.execute(
            select(
                index,
                func.count(),
                func.avg(Review.score),
                _fail_rate(Review.auto_fail),
            )
            .where(*_review_where(f, tz))
            .group_by(index)
        ).all()
    }
    out = []
    for k, (y, m) in enumerate(months):
        r = found.get(k)
        out.append(
            MonthRow(
                month=month_label(y, m),
                year=y,
                month_no=m,
                reviews=int(r[1]) if r else 0,
                avg_score=_num(r[2]) if r else None,
                auto_fail_rate=_num(r[3]) if r else None,
            )
        )
    return out


def dashboard(
    session: Session, viewer: HasRole, f: DashboardFilter, tz: ZoneInfo, *, trend: bool = True
) -> Dashboard:
    """Every figure of the team dashboard for one filter choice (``trend=False`` skips the trend)."""
    return Dashboard(
        filter=f,
        summary=summary(session, viewer, f, tz),
        teams=by_team(session, viewer, f, tz),
        agents=by_agent(session, viewer, f, tz),
        criteria=by_criterion(session, viewer, f, tz),
        distribution=distribution(session, viewer, f, tz),
        trend=monthly_trend(session, viewer, f, tz) if trend else [],
    )
