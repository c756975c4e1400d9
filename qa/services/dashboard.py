"""Team dashboard figures, aggregated in SQL.

Review figures are GROUP BYs over the denormalised keys on ``reviews`` (agent,
team, channel, language, interaction time, status), read from one covering
index (``ix_reviews_dashboard``: the period range is the seek, the filters and
measures are in the index), so the Python side only ever sees a few hundred
aggregated rows, never the reviews themselves.

Criterion averages would have to read every answer (17 per review: a million
rows for a year); they come from ``criterion_rollups`` instead, sums per *UTC*
month kept exact by ``qa.rollups``. The organisation's month starts at local
midnight, which is the UTC month start shifted by the zone's offset (at most
14 hours), so a period is the roll-up's UTC months plus or minus the raw
answers of two short windows at its edges (``_edges``): exact in any zone,
including DST, half-hour offsets and zones west of UTC.

Months are the organisation's months: the bounds of each month are computed
in Python with ``zoneinfo`` (DST-correct) and compared with the stored UTC
times; the monthly trend is one range aggregate per month (a UNION ALL), which
reads each month's slice of the index once, gives the same answer on SQLite
and PostgreSQL, and needs no database time-zone support (SQLite has none).

Only submitted reviews count: drafts are work in progress and would make the
figures move while a reviewer types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, literal, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from qa.models import (
    Agent,
    CriterionRollup,
    Review,
    ReviewAnswer,
    ReviewStatus,
    Role,
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


def _review_where(f: DashboardFilter, tz: ZoneInfo) -> list[ColumnElement[bool]]:
    start, end = f.bounds(tz)
    return [
        Review.status == ReviewStatus.submitted.value,
        Review.interaction_at >= start,
        Review.interaction_at < end,
        *_filters(f, Review.team_id, Review.channel, Review.language),
    ]


def _filters(
    f: DashboardFilter, team: Any, channel: Any, language: Any
) -> list[ColumnElement[bool]]:
    """The team/channel/language choice on any table carrying those columns."""
    conditions: list[ColumnElement[bool]] = []
    if f.team_ids:
        conditions.append(team.in_(f.team_ids))
    if f.channels:
        conditions.append(channel.in_(f.channels))
    if f.languages:
        conditions.append(language.in_(f.languages))
    return conditions


def _edges(
    f: DashboardFilter, tz: ZoneInfo
) -> tuple[str, str, list[tuple[datetime, datetime, int]]]:
    """The roll-up's UTC months for the period, and the raw windows that correct them.

    Returns ``(first, after_last, windows)``: the UTC months ``first <= m <
    after_last`` (``YYYY-MM``) cover the period but for its edges, and each
    window ``(lo, hi, sign)`` is a stretch of at most the zone's offset whose
    answers must be added (+1: in the period, outside those UTC months) or
    taken away (-1: inside those UTC months, outside the period).
    """
    start, end = f.bounds(tz)
    after_last = add_months(*f.last_month, 1)
    utc_start = datetime(*f.first_month, 1, tzinfo=UTC)
    utc_end = datetime(*after_last, 1, tzinfo=UTC)
    windows: list[tuple[datetime, datetime, int]] = []
    if start < utc_start:
        windows.append((start, utc_start, +1))
    elif start > utc_start:
        windows.append((utc_start, start, -1))
    if end > utc_end:
        windows.append((utc_end, end, +1))
    elif end < utc_end:
        windows.append((end, utc_end, -1))
    return month_label(*f.first_month), month_label(*after_last), windows


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


def by_criterion(
    session: Session, viewer: HasRole, f: DashboardFilter, tz: ZoneInfo
) -> list[CriterionRow]:
    """Average percentage per criterion over answered (not N/A) answers.

    Sums from ``criterion_rollups`` for the UTC months of the period, plus or
    minus the raw answers of the edge windows (``_edges``), in one UNION ALL
    summed per criterion: a year is ~10,000 roll-up rows and a few hours of
    answers read from ``ix_review_answers_period``, whatever the filters.
    Sections come from the rubric, not from here.
    """
    require_reader(viewer)
    f.validate()
    first, after_last, windows = _edges(f, tz)
    r = CriterionRollup
    parts: list[Any] = [
        select(
            r.criterion_id.label("criterion_id"),
            r.answered.label("answered"),
            r.na.label("na"),
            r.pct_sum.label("pct_sum"),
        ).where(
            r.utc_month >= first,
            r.utc_month < after_last,
            *_filters(f, r.team_key, r.channel, r.language),
        )
    ]
    a = ReviewAnswer
    for lo, hi, sign in windows:
        parts.append(
            select(
                a.criterion_id,
                sign * case((a.pct.is_(None), 0), else_=1),
                sign * case((a.pct.is_(None), 1), else_=0),
                sign * func.coalesce(a.pct, 0.0),
            ).where(
                a.submitted == True,  # noqa: E712  (``= 1`` keeps SQLite on the index)
                a.interaction_at >= lo,
                a.interaction_at < hi,
                *_filters(f, a.team_id, a.channel, a.language),
            )
        )
    u = union_all(*parts).subquery()
    answered, na = func.sum(u.c.answered), func.sum(u.c.na)
    rows = session.execute(
        select(u.c.criterion_id, answered, na, func.sum(u.c.pct_sum))
        .group_by(u.c.criterion_id)
        .having(answered + na > 0)
        .order_by(u.c.criterion_id)
    ).all()
    return [
        CriterionRow(
            criterion_id=cid,
            answers=int(n),
            na=int(n_na),
            avg_pct=float(total) / int(n) if n else None,
        )
        for cid, n, n_na, total in rows
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
    """One row per month of the filter (empty months included), in the organisation's zone.

    One range aggregate per month, glued with UNION ALL: each reads its month's
    slice of ``ix_reviews_dashboard`` and needs no sort, where grouping by a
    month ``CASE`` over the whole period sorted every review (2x slower).
    """
    require_reader(viewer)
    f.validate()
    months = f.months()
    filters = _filters(f, Review.team_id, Review.channel, Review.language)
    parts = []
    for k, (y, m) in enumerate(months):
        start, end = month_bounds(y, m, tz)
        parts.append(
            select(
                literal(k).label("k"),
                func.count().label("reviews"),
                func.avg(Review.score).label("avg_score"),
                _fail_rate(Review.auto_fail).label("fail_rate"),
            ).where(
                Review.status == ReviewStatus.submitted.value,
                Review.interaction_at >= start,
                Review.interaction_at < end,
                *filters,
            )
        )
    found = {int(r.k): r for r in session.execute(union_all(*parts)).all()}
    out = []
    for k, (y, m) in enumerate(months):
        r = found.get(k)
        reviews = int(r.reviews) if r else 0
        out.append(
            MonthRow(
                month=month_label(y, m),
                year=y,
                month_no=m,
                reviews=reviews,
                avg_score=_num(r.avg_score) if reviews else None,
                auto_fail_rate=_num(r.fail_rate) if reviews else None,
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
