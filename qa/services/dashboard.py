"""Team dashboard figures, aggregated in SQL.

A year of a contact centre is tens of thousands of reviews and a million
criterion answers; reading them per page view is too slow on SQLite. So every
figure comes from the roll-ups (``review_rollups``, ``criterion_rollups``:
sums per *UTC* month and agent or criterion, team, channel and language, kept
exact by ``qa.rollups`` in the same flush as the rows they sum), and the
Python side only ever sees a few hundred aggregated rows.

Months are the organisation's months (``QA_TIMEZONE``, a runtime setting):
the bounds of each month are computed in Python with ``zoneinfo`` and
compared with the stored UTC times. A local month starts at the UTC month
start shifted by the zone's offset (at most 14 hours), so a period is the
roll-up's UTC months plus or minus the raw rows of short windows at its edges
(``_edges``), read from covering indexes: exact in any zone, DST, half-hour
offsets and zones west of UTC included, on SQLite and PostgreSQL alike (no
database time-zone support needed). Sums and counts subtract; lowest and
highest scores do not, so ``by_agent`` adds raw reviews to whole UTC months
instead (at most about a month of them).

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
    ReviewRollup,
    ReviewStatus,
    Role,
    Team,
)
from qa.rollups import BAND_COLUMNS, BAND_WIDTH, BANDS, score_band
from qa.services.errors import InvalidInput, PermissionDenied
from qa.services.periods import add_months, month_bounds, month_label

#: Who may read the dashboard. Trainers read it to plan coaching; they change nothing.
DASHBOARD_ROLES = frozenset({Role.qa_lead.value, Role.admin.value, Role.trainer.value})
#: Score histogram: ten buckets of ten points; 100 falls in the last one.
BUCKET_WIDTH = BAND_WIDTH
BUCKETS = BANDS
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
    raw rows (reviews or answers) must be added (+1: in the period, outside
    those UTC months) or taken away (-1: inside those UTC months, outside the
    period). Two windows at most, so the raw reads stay a few hours long.
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


def _ratio(part: Any, whole: Any, scale: float = 1.0) -> float | None:
    return scale * float(part) / float(whole) if whole else None


def _review_parts(f: DashboardFilter, tz: ZoneInfo) -> Any:
    """Signed per-bucket review sums whose totals are exactly the period's reviews.

    ``review_rollups`` rows of the period's UTC months, plus (sign +1) or minus
    (sign -1) one row per raw review in the edge windows (``_edges``). Columns:
    agent_id, team_key, reviews, scored, score_sum, fails. Any sum over these
    is exact; per-agent counts are exact too, so "agents with a review" is
    "agents whose summed ``reviews`` is above zero".
    """
    first, after_last, windows = _edges(f, tz)
    rr = ReviewRollup
    parts: list[Any] = [
        select(
            rr.agent_id.label("agent_id"),
            rr.team_key.label("team_key"),
            rr.reviews.label("reviews"),
            rr.scored.label("scored"),
            rr.score_sum.label("score_sum"),
            rr.fails.label("fails"),
        ).where(
            rr.utc_month >= first,
            rr.utc_month < after_last,
            *_filters(f, rr.team_key, rr.channel, rr.language),
        )
    ]
    r = Review
    for lo, hi, sign in windows:
        parts.append(
            select(
                r.agent_id,
                func.coalesce(r.team_id, 0),
                literal(sign),
                sign * case((r.score.is_(None), 0), else_=1),
                sign * func.coalesce(r.score, 0.0),
                sign * case((r.auto_fail == True, 1), else_=0),  # noqa: E712
            ).where(*_raw_reviews(f, lo, hi))
        )
    return union_all(*parts).subquery()


def _raw_reviews(f: DashboardFilter, lo: datetime, hi: datetime) -> list[ColumnElement[bool]]:
    """Submitted reviews in [lo, hi) matching the filter (a range of ``ix_reviews_dashboard``)."""
    return [
        Review.status == ReviewStatus.submitted.value,
        Review.interaction_at >= lo,
        Review.interaction_at < hi,
        *_filters(f, Review.team_id, Review.channel, Review.language),
    ]


def _per_agent(u: Any, *group: Any) -> Any:
    """Net sums per agent (and ``group``), keeping agents with at least one review."""
    reviews = func.sum(u.c.reviews)
    return (
        select(
            *group,
            u.c.agent_id,
            reviews.label("reviews"),
            func.sum(u.c.scored).label("scored"),
            func.sum(u.c.score_sum).label("score_sum"),
            func.sum(u.c.fails).label("fails"),
        )
        .group_by(*group, u.c.agent_id)
        .having(reviews > 0)
        .subquery()
    )


def summary(session: Session, viewer: HasRole, f: DashboardFilter, tz: ZoneInfo) -> Summary:
    require_reader(viewer)
    f.validate()
    agents = _per_agent(_review_parts(f, tz))
    n_agents, reviews, scored, score_sum, fails = session.execute(
        select(
            func.count(),
            func.sum(agents.c.reviews),
            func.sum(agents.c.scored),
            func.sum(agents.c.score_sum),
            func.sum(agents.c.fails),
        )
    ).one()
    return Summary(
        reviews=int(reviews or 0),
        agents=int(n_agents),
        avg_score=_ratio(score_sum, scored),
        auto_fail_rate=_ratio(fails, reviews, 100.0),
    )


def by_team(session: Session, viewer: HasRole, f: DashboardFilter, tz: ZoneInfo) -> list[TeamRow]:
    """One row per team (the team the agent was in when the interaction was reviewed)."""
    require_reader(viewer)
    f.validate()
    u = _review_parts(f, tz)
    agents = _per_agent(u, u.c.team_key)
    agg = (
        select(
            agents.c.team_key,
            func.count().label("agents"),
            func.sum(agents.c.reviews).label("reviews"),
            func.sum(agents.c.scored).label("scored"),
            func.sum(agents.c.score_sum).label("score_sum"),
            func.sum(agents.c.fails).label("fails"),
        )
        .group_by(agents.c.team_key)
        .subquery()
    )
    rows = session.execute(
        select(agg, Team.name)
        .outerjoin(Team, Team.id == agg.c.team_key)
        .order_by(Team.name.is_(None), Team.name)
    ).all()
    return [
        TeamRow(
            team_id=r.team_key or None,
            team=r.name,
            reviews=int(r.reviews),
            agents=int(r.agents),
            avg_score=_ratio(r.score_sum, r.scored),
            auto_fail_rate=_ratio(r.fails, r.reviews, 100.0),
        )
        for r in rows
    ]


def _utc_months_within(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """[first, last) UTC month starts such that those whole months lie inside [start, end)."""
    s, e = start.astimezone(UTC), end.astimezone(UTC)
    floor_s = datetime(s.year, s.month, 1, tzinfo=UTC)
    first = floor_s if s == floor_s else datetime(*add_months(s.year, s.month, 1), 1, tzinfo=UTC)
    return first, datetime(e.year, e.month, 1, tzinfo=UTC)


AGENT_COLUMNS = ("agent_id", "reviews", "scored", "score_sum", "fails", "score_min", "score_max")


def by_agent(session: Session, viewer: HasRole, f: DashboardFilter, tz: ZoneInfo) -> list[AgentRow]:
    """One row per reviewed agent, lowest average first (who needs coaching).

    Lowest and highest scores cannot be subtracted, so this figure takes the
    roll-up only for the UTC months wholly inside the period and reads the
    reviews of the rest (at most about a month, from ``ix_reviews_dashboard``).
    """
    require_reader(viewer)
    f.validate()
    start, end = f.bounds(tz)
    inner_from, inner_to = _utc_months_within(start, end)
    r, rr = Review, ReviewRollup

    def raw(lo: datetime, hi: datetime) -> Any:
        return select(
            r.agent_id,
            literal(1),
            case((r.score.is_(None), 0), else_=1),
            func.coalesce(r.score, 0.0),
            case((r.auto_fail == True, 1), else_=0),  # noqa: E712
            r.score,
            r.score,
        ).where(*_raw_reviews(f, lo, hi))

    if inner_from < inner_to:
        parts: list[Any] = [
            select(
                rr.agent_id.label("agent_id"),
                rr.reviews.label("reviews"),
                rr.scored.label("scored"),
                rr.score_sum.label("score_sum"),
                rr.fails.label("fails"),
                rr.score_min.label("score_min"),
                rr.score_max.label("score_max"),
            ).where(
                rr.utc_month >= month_label(inner_from.year, inner_from.month),
                rr.utc_month < month_label(inner_to.year, inner_to.month),
                *_filters(f, rr.team_key, rr.channel, rr.language),
            )
        ]
        parts += [raw(lo, hi) for lo, hi in ((start, inner_from), (inner_to, end)) if lo < hi]
    else:
        first = raw(start, end)
        parts = [
            first.with_only_columns(
                *(
                    c.label(name)
                    for c, name in zip(first.selected_columns, AGENT_COLUMNS, strict=True)
                )
            )
        ]
    u = union_all(*parts).subquery()
    scored = func.sum(u.c.scored)
    avg_score = (func.sum(u.c.score_sum) / func.nullif(scored, 0)).label("avg_score")
    agg = (
        select(
            u.c.agent_id,
            func.sum(u.c.reviews).label("reviews"),
            avg_score,
            func.min(u.c.score_min).label("min_score"),
            func.max(u.c.score_max).label("max_score"),
            func.sum(u.c.fails).label("fails"),
        )
        .group_by(u.c.agent_id)
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
            auto_fail_rate=_ratio(r.fails, r.reviews, 100.0),
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
    first, after_last, windows = _edges(f, tz)
    rr = ReviewRollup
    counts = [
        int(n or 0)
        for n in session.execute(
            select(*(func.sum(getattr(rr, name)) for name in BAND_COLUMNS)).where(
                rr.utc_month >= first,
                rr.utc_month < after_last,
                *_filters(f, rr.team_key, rr.channel, rr.language),
            )
        ).one()
    ]
    if windows:
        band = score_band(Review.score)
        parts = [
            select(literal(sign), band, func.count())
            .where(*_raw_reviews(f, lo, hi), Review.score.is_not(None))
            .group_by(band)
            for lo, hi, sign in windows
        ]
        for sign, k, n in session.execute(union_all(*parts)).all():
            counts[int(k)] += int(sign) * int(n)
    return [Bucket(k * BUCKET_WIDTH, (k + 1) * BUCKET_WIDTH, counts[k]) for k in range(BUCKETS)]


def monthly_trend(
    session: Session, viewer: HasRole, f: DashboardFilter, tz: ZoneInfo
) -> list[MonthRow]:
    """One row per month of the filter (empty months included), in the organisation's zone.

    Organisation month k is roll-up UTC month k, corrected at each month
    boundary j by the reviews between local and UTC midnight: those belong to
    one month but sit in the neighbouring month's roll-up, so they are added to
    one and taken from the other. One statement: the roll-up grouped by UTC
    month, UNION ALL one aggregate per boundary window.
    """
    require_reader(viewer)
    f.validate()
    months = f.months()
    labels = {month_label(y, m): k for k, (y, m) in enumerate(months)}
    after_last = add_months(*months[-1], 1)
    rr, r = ReviewRollup, Review
    parts: list[Any] = [
        select(
            rr.utc_month.label("tag"),
            func.sum(rr.reviews).label("reviews"),
            func.sum(rr.scored).label("scored"),
            func.sum(rr.score_sum).label("score_sum"),
            func.sum(rr.fails).label("fails"),
        )
        .where(
            rr.utc_month >= month_label(*months[0]),
            rr.utc_month < month_label(*after_last),
            *_filters(f, rr.team_key, rr.channel, rr.language),
        )
        .group_by(rr.utc_month)
    ]
    # Boundary j (0..K) opens month j; the window's reviews are in month ``gain``
    # but counted by the roll-up in month ``lose`` (indices outside 0..K-1 ignored).
    moves: dict[str, tuple[int, int]] = {}
    for j, (y, m) in enumerate([*months, after_last]):
        local = datetime(y, m, 1, tzinfo=tz)
        utc = datetime(y, m, 1, tzinfo=UTC)
        if local == utc:
            continue
        lo, hi, gain, lose = (local, utc, j, j - 1) if local < utc else (utc, local, j - 1, j)
        tag = f"w{j}"
        moves[tag] = (gain, lose)
        parts.append(
            select(
                literal(tag),
                func.count(),
                func.count(r.score),
                func.coalesce(func.sum(r.score), 0.0),
                func.sum(case((r.auto_fail == True, 1), else_=0)),  # noqa: E712
            ).where(*_raw_reviews(f, lo, hi))
        )
    totals = [[0, 0, 0.0, 0] for _ in months]
    for tag, *values in session.execute(union_all(*parts)).all():
        if tag in labels:
            targets = [(labels[tag], 1)]
        else:
            gain, lose = moves[tag]
            targets = [(gain, 1), (lose, -1)]
        for k, sign in targets:
            if 0 <= k < len(months):
                for i, v in enumerate(values):
                    totals[k][i] += sign * (v or 0)
    out = []
    for (y, m), (reviews, scored, score_sum, fails) in zip(months, totals, strict=True):
        out.append(
            MonthRow(
                month=month_label(y, m),
                year=y,
                month_no=m,
                reviews=int(reviews),
                avg_score=_ratio(score_sum, scored),
                auto_fail_rate=_ratio(fails, reviews, 100.0),
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
