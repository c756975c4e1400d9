"""Monthly figures for every active agent, computed in SQL with a fixed number of queries.

Issuing a month for 1,000 agents must not run 1,000 x N queries, so every
figure is one grouped query over the month (or the 6-month trend window) for
*all* agents at once: about a dozen queries per month whatever the number of
agents (agent ids go in ``IN`` lists of up to 5,000). The denormalised keys on
``reviews``, ``review_answers``, ``analysis_flags`` and ``analysis_findings``
(agent, interaction time) and their composite indexes serve them without
touching transcripts; only the few example excerpts kept are joined to their
interaction and turn. Team figures are sums of the per-agent totals of the
team's current members, so they cost no query of their own.

Months are calendar months in the organisation's time zone (``month_bounds``),
and trend months are bucketed with a portable ``CASE`` over those bounds, so
SQLite and PostgreSQL give the same numbers. Percentages are rounded to two
decimals so the snapshot does not depend on a backend's last floating bits.

The result, :class:`MonthAggregate`, is plain data; the coaching rules read it
and :func:`build_snapshot` turns one agent's part into an immutable
``scorecards.snapshot.Scorecard``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from qa.models import (
    Agent,
    AnalysisFinding,
    AnalysisFlag,
    AutoSuggestion,
    Interaction,
    InteractionAnalysis,
    Review,
    ReviewAnswer,
    ReviewStatus,
    RubricVersion,
    Team,
    Turn,
    User,
)
from qa.services.periods import last_months, month_bounds, month_label
from qa.services.rubrics import BUILTIN_KEY, latest_version, rubric_of
from rubrics import Rubric
from scorecards.labels import behaviour_label
from scorecards.snapshot import (
    AgentInfo,
    BehaviourRow,
    CoachingItem,
    CriterionRow,
    Kpis,
    Period,
    ReviewerComment,
    RubricRef,
    Scorecard,
    SectionRow,
    TimingRow,
    TrendPoint,
)

TREND_MONTHS = 6
EXAMPLES = 3  # excerpts kept per agent and behaviour / finding / criterion
COMMENTS = 5  # latest reviewer comments per agent
EXCERPT_WIDTH = 160  # characters of context around a flagged phrase
POLARITIES = ("use", "avoid")  # customer cues describe the customer, not the agent


@dataclass(frozen=True, slots=True)
class Excerpt:
    """Evidence traceable to one interaction: the agent's words or a reviewer's note."""

    interaction_external_id: str
    text: str
    interaction_at: datetime


@dataclass(slots=True)
class CriterionStat:
    """One criterion for one agent: the month's average and its monthly history.

    ``source`` is ``"review"`` for human answers and ``"auto_qa"`` when the agent
    had no review and the figure averages auto-QA's suggested answers.
    ``history`` maps trend-month labels to the agent's average that month
    (human reviews only); ``low`` are the month's lowest-scored answers.
    """

    criterion_id: str
    section_id: str
    label_en: str
    label_ar: str
    agent_pct: float | None
    team_pct: float | None
    target_pct: float | None
    count: int
    source: str = "review"
    history: dict[str, float] = field(default_factory=dict)
    low: list[Excerpt] = field(default_factory=list)


@dataclass(slots=True)
class SectionStat:
    section_id: str
    label_en: str
    label_ar: str
    agent_pct: float | None
    team_pct: float | None
    target_pct: float | None
    count: int


@dataclass(slots=True)
class BehaviourStat:
    """A behaviour flagged in the agent's interactions; ``rate`` = flags per analysed
    interaction; ``examples`` are the agent's own words, newest first."""

    behaviour: str
    polarity: str
    count: int
    rate: float
    examples: list[Excerpt] = field(default_factory=list)
    suggestion: str | None = None


@dataclass(slots=True)
class FindingStat:
    """A whole-interaction finding (e.g. ``missing_greeting``); ``rate`` = share of
    analysed interactions with it; ``examples`` carry the analyser's explanation."""

    finding: str
    count: int
    rate: float
    examples: list[Excerpt] = field(default_factory=list)


@dataclass(slots=True)
class TimingStat:
    """A timing metric's average over the agent's analysed interactions of one channel."""

    channel: str
    metric: str
    value: float
    count: int
    threshold: float


@dataclass(slots=True)
class AgentMonth:
    """Everything one agent's scorecard and coaching rules need for one month."""

    agent_id: int
    external_id: str
    name: str
    locale: str
    team_id: int | None
    team_name: str | None
    reviews: int = 0
    overall_pct: float | None = None
    team_pct: float | None = None
    auto_fail_count: int = 0
    analysed: int = 0
    criteria: list[CriterionStat] = field(default_factory=list)
    sections: list[SectionStat] = field(default_factory=list)
    trend: list[TrendPoint] = field(default_factory=list)
    behaviours: list[BehaviourStat] = field(default_factory=list)
    findings: list[FindingStat] = field(default_factory=list)
    timing: list[TimingStat] = field(default_factory=list)
    comments: list[ReviewerComment] = field(default_factory=list)

    @property
    def auto_qa_only(self) -> bool:
        """No human review this month: the scorecard rests on auto-QA alone."""
        return self.reviews == 0


@dataclass(slots=True)
class MonthAggregate:
    period: Period
    timezone: str
    rubric_version_id: int
    rubric_ref: RubricRef
    rubric: Rubric
    trend_labels: list[str]
    agents: dict[int, AgentMonth]


def _r(value: Any) -> float | None:
    """Round a SQL average for the snapshot (and clamp float noise into 0..100)."""
    if value is None:
        return None
    return round(min(100.0, max(0.0, float(value))), 2)


def _bucket(column: Any, bounds: Sequence[datetime]) -> ColumnElement[int]:
    """Index of the month ``column`` falls in, given ascending month start bounds."""
    whens = [(column < bound, i) for i, bound in enumerate(bounds[1:-1])]
    return case(*whens, else_=len(bounds) - 2)


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive UTC for values read through a subquery."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def excerpt_around(text: str, start: int, end: int, width: int = EXCERPT_WIDTH) -> str:
    """The flagged phrase with some of its turn around it, cut at word boundaries.

    Offsets index the original turn text; when they do not fit (the transcript
    changed since analysis) the whole turn is cut from the start instead.
    """
    text = " ".join(text.split()) if len(text) <= width else text
    if len(text) <= width:
        return text.strip()
    if not 0 <= start <= end <= len(text):
        start, end = 0, 0
    room = max(0, width - (end - start))
    lo = max(0, start - room // 2)
    hi = min(len(text), lo + max(width, end - start))
    lo = max(0, min(lo, hi - width))
    if lo > 0:
        space = text.find(" ", lo, start) if start > lo else -1
        lo = space + 1 if space != -1 else lo
    if hi < len(text):
        space = text.rfind(" ", end, hi)
        hi = space if space != -1 else hi
    piece = " ".join(text[lo:hi].split())
    return ("…" if lo > 0 else "") + piece + ("…" if hi < len(text) else "")


def aggregate_month(
    session: Session,
    year: int,
    month: int,
    tz: ZoneInfo,
    *,
    agent_ids: Iterable[int] | None = None,
    rubric_version: RubricVersion | None = None,
    rubric_key: str = BUILTIN_KEY,
) -> MonthAggregate:
    """Aggregate the month for every active agent (or the active ones in ``agent_ids``).

    Targets and labels come from ``rubric_version`` (default: the latest version
    of ``rubric_key``); reviews scored on older versions still count, matched by
    criterion and section id.
    """
    period = Period(year, month)
    version = rubric_version or latest_version(session, rubric_key)
    rubric = rubric_of(version)
    months = last_months(year, month, TREND_MONTHS)
    labels = [month_label(y, m) for y, m in months]
    bounds = [month_bounds(y, m, tz)[0] for y, m in months] + [month_bounds(year, month, tz)[1]]
    start, end = bounds[-2], bounds[-1]
    window_start = bounds[0]
    current = len(months) - 1
    only = set(agent_ids) if agent_ids is not None else None

    # ------------------------------------------------------------------ agents
    agents: dict[int, AgentMonth] = {}
    team_of: dict[int, int | None] = {}
    query = (
        select(
            Agent.id,
            Agent.external_id,
            Agent.name,
            Agent.locale,
            Agent.team_id,
            Team.name,
            Agent.is_active,
        )
        .outerjoin(Team, Team.id == Agent.team_id)
        .order_by(Agent.id)
    )
    for aid, ext, name, locale, team_id, team_name, active in session.execute(query):
        team_of[aid] = team_id
        if active and (only is None or aid in only):
            agents[aid] = AgentMonth(aid, ext, name, locale, team_id, team_name)
    result = MonthAggregate(
        period=period,
        timezone=tz.key,
        rubric_version_id=version.id,
        rubric_ref=RubricRef(key=rubric.key, version=version.version, name=rubric.name.en),
        rubric=rubric,
        trend_labels=labels,
        agents=agents,
    )
    if not agents:
        return result
    targets = sorted(agents)
    # Team figures pool every current member of the agents' teams, inactive
    # ones included; their reviews are read with the agents' own.
    teams = {a.team_id for a in agents.values() if a.team_id is not None}
    scope = sorted(aid for aid, tid in team_of.items() if aid in agents or tid in teams)
    members: dict[int, list[int]] = defaultdict(list)
    for aid in scope:
        if team_of[aid] is not None:
            members[team_of[aid]].append(aid)  # type: ignore[index]

    submitted = Review.status == ReviewStatus.submitted.value

    # ------------------------------------------------------------------ overall + trend
    bucket = _bucket(Review.interaction_at, bounds).label("bucket")
    sums: dict[tuple[int, int], tuple[float, int]] = {}

    def reviews_query(ids: list[int]) -> Any:
        return (
            select(
                Review.agent_id,
                bucket,
                func.sum(Review.score),
                func.count(Review.score),
                func.count(Review.id),
                func.sum(case((Review.auto_fail.is_(True), 1), else_=0)),
            )
            .where(
                Review.agent_id.in_(ids),
                submitted,
                Review.interaction_at >= window_start,
                Review.interaction_at < end,
            )
            .group_by(Review.agent_id, bucket)
        )

    for aid, b, total, n_scored, n, fails in _rows(session, reviews_query, scope):
        b = int(b)
        sums[(aid, b)] = (float(total or 0.0), int(n_scored))
        if aid in agents and b == current:
            agents[aid].reviews = int(n)
            agents[aid].auto_fail_count = int(fails or 0)
    team_sums = _team_sums(sums, members)

    for a in agents.values():
        a.trend = [
            TrendPoint(
                labels[i],
                _mean(sums.get((a.agent_id, i))),
                _mean(team_sums.get((a.team_id, i))) if a.team_id is not None else None,
            )
            for i in range(len(months))
        ]
        a.overall_pct = a.trend[current].agent_pct
        a.team_pct = a.trend[current].team_pct

    # ------------------------------------------------------------------ criteria
    abucket = _bucket(ReviewAnswer.interaction_at, bounds).label("bucket")

    def criteria_query(ids: list[int]) -> Any:
        # Filtering on agent_id lets SQLite seek the covering (agent, submitted,
        # time, criterion, pct) index instead of reading every answer.
        return (
            select(
                ReviewAnswer.agent_id,
                ReviewAnswer.criterion_id,
                abucket,
                func.sum(ReviewAnswer.pct),
                func.count(ReviewAnswer.pct),
            )
            .where(
                ReviewAnswer.agent_id.in_(ids),
                ReviewAnswer.submitted.is_(True),
                ReviewAnswer.interaction_at >= window_start,
                ReviewAnswer.interaction_at < end,
                ReviewAnswer.pct.is_not(None),
            )
            .group_by(ReviewAnswer.agent_id, ReviewAnswer.criterion_id, abucket)
        )

    crit_history: dict[int, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    crit_agent: dict[int, dict[str, tuple[float | None, int]]] = defaultdict(dict)
    team_crit: dict[tuple[int, str], list[float]] = defaultdict(lambda: [0.0, 0])
    for aid, cid, b, total, n in _rows(session, criteria_query, scope):
        b = int(b)
        if not n:
            continue
        tid = team_of.get(aid)
        if tid is not None and b == current:
            acc = team_crit[(tid, cid)]
            acc[0] += float(total)
            acc[1] += int(n)
        if aid in agents:
            avg = _mean((float(total), int(n)))
            crit_history[aid][cid][labels[b]] = avg  # type: ignore[assignment]
            if b == current:
                crit_agent[aid][cid] = (avg, int(n))
    crit_team: dict[int, dict[str, float | None]] = defaultdict(dict)
    for (tid, cid), (total, n) in team_crit.items():
        crit_team[tid][cid] = _mean((total, int(n)))

    # Lowest-scored answers per agent and criterion: evidence for coaching. The
    # window runs over review_answers alone; only the kept rows are joined.
    def low_query(ids: list[int]) -> Any:
        rank = (
            func.row_number()
            .over(
                partition_by=(ReviewAnswer.agent_id, ReviewAnswer.criterion_id),
                order_by=(
                    ReviewAnswer.pct.asc(),
                    ReviewAnswer.interaction_at.desc(),
                    ReviewAnswer.id,
                ),
            )
            .label("rank")
        )
        ranked = (
            select(
                ReviewAnswer.agent_id,
                ReviewAnswer.criterion_id,
                ReviewAnswer.pct,
                ReviewAnswer.comment,
                ReviewAnswer.review_id,
                ReviewAnswer.interaction_at,
                rank,
            )
            .where(
                ReviewAnswer.agent_id.in_(ids),
                ReviewAnswer.submitted.is_(True),
                ReviewAnswer.interaction_at >= start,
                ReviewAnswer.interaction_at < end,
                ReviewAnswer.pct < 100,
            )
            .subquery()
        )
        return (
            select(
                ranked.c.agent_id,
                ranked.c.criterion_id,
                ranked.c.pct,
                ranked.c.comment,
                Review.comment,
                Interaction.external_id,
                ranked.c.interaction_at,
            )
            .join(Review, Review.id == ranked.c.review_id)
            .join(Interaction, Interaction.id == Review.interaction_id)
            .where(ranked.c.rank <= EXAMPLES)
            .order_by(ranked.c.rank)
        )

    low: dict[tuple[int, str], list[Excerpt]] = defaultdict(list)
    for aid, cid, pct, acomment, rcomment, ext, at in _rows(session, low_query, targets):
        note = (acomment or "").strip() or (rcomment or "").strip()
        text = f"{pct:.0f}%" + (f": {note}" if note else "")
        low[(aid, cid)].append(Excerpt(ext, text, _aware(at)))

    # Auto-QA suggested answers, only for agents nobody reviewed this month.
    unreviewed = [aid for aid, a in agents.items() if a.reviews == 0]
    auto: dict[int, dict[str, tuple[float, int]]] = defaultdict(dict)

    def auto_query(ids: list[int]) -> Any:
        return (
            select(
                Interaction.agent_id,
                AutoSuggestion.criterion_id,
                func.avg(AutoSuggestion.value),
                func.count(AutoSuggestion.value),
            )
            .join(Interaction, Interaction.id == AutoSuggestion.interaction_id)
            .join(RubricVersion, RubricVersion.id == AutoSuggestion.rubric_version_id)
            .where(
                RubricVersion.rubric_id == version.rubric_id,
                AutoSuggestion.na.is_(False),
                AutoSuggestion.value.is_not(None),
                Interaction.started_at >= start,
                Interaction.started_at < end,
                Interaction.agent_id.in_(ids),
            )
            .group_by(Interaction.agent_id, AutoSuggestion.criterion_id)
        )

    for aid, cid, avg, n in _rows(session, auto_query, unreviewed):
        auto[aid][cid] = (float(avg), int(n))

    # ------------------------------------------------------------------ sections
    section_ids = [sec.id for sec in rubric.sections]
    exprs = [Review.section_scores[(sid, "score")].as_float() for sid in section_ids]

    def sections_query(ids: list[int]) -> Any:
        cols = [c for e in exprs for c in (func.sum(e), func.count(e))]
        return (
            select(Review.agent_id, *cols)
            .where(
                Review.agent_id.in_(ids),
                submitted,
                Review.interaction_at >= start,
                Review.interaction_at < end,
            )
            .group_by(Review.agent_id)
        )

    sec_agent: dict[int, list[float]] = {}
    sec_team: dict[int, list[float]] = {}
    for row in _rows(session, sections_query, scope):
        aid, values = row[0], [float(v or 0) for v in row[1:]]
        if aid in agents:
            sec_agent[aid] = values
        tid = team_of.get(aid)
        if tid is not None:
            acc = sec_team.setdefault(tid, [0.0] * len(values))
            for i, v in enumerate(values):
                acc[i] += v

    for a in agents.values():
        mine_c = crit_agent.get(a.agent_id, {})
        team_c = crit_team.get(a.team_id, {}) if a.team_id is not None else {}
        auto_c = auto.get(a.agent_id, {}) if a.reviews == 0 else {}
        for section, crit in rubric.all_criteria():
            target = crit.target if crit.target is not None else rubric.target
            if a.reviews == 0 and crit.id in auto_c:
                avg_value, n = auto_c[crit.id]
                agent_pct, count, source = _r(crit.percent(avg_value)), n, "auto_qa"
            else:
                agent_pct, count = mine_c.get(crit.id, (None, 0))
                source = "review"
            a.criteria.append(
                CriterionStat(
                    criterion_id=crit.id,
                    section_id=section.id,
                    label_en=crit.label.en,
                    label_ar=crit.label.ar,
                    agent_pct=agent_pct,
                    team_pct=team_c.get(crit.id),
                    target_pct=float(target),
                    count=count,
                    source=source,
                    history=dict(crit_history.get(a.agent_id, {}).get(crit.id, {})),
                    low=low.get((a.agent_id, crit.id), []),
                )
            )
        srow = sec_agent.get(a.agent_id)
        trow = sec_team.get(a.team_id) if a.team_id is not None else None
        for i, section in enumerate(rubric.sections):
            if srow is not None:
                count = int(srow[2 * i + 1])
                agent_pct = _r(srow[2 * i] / count) if count else None
            else:
                agent_pct = _auto_section(a, section.id, rubric)
                count = max((c.count for c in a.criteria if c.section_id == section.id), default=0)
            a.sections.append(
                SectionStat(
                    section_id=section.id,
                    label_en=section.name.en,
                    label_ar=section.name.ar,
                    agent_pct=agent_pct,
                    team_pct=_r(trow[2 * i] / trow[2 * i + 1])
                    if trow is not None and trow[2 * i + 1]
                    else None,
                    target_pct=float(rubric.target),
                    count=count,
                )
            )
        if a.reviews == 0:
            a.overall_pct = _auto_overall(a, rubric)

    # ------------------------------------------------------------------ auto-QA
    def analysed_query(ids: list[int]) -> Any:
        return (
            select(Interaction.agent_id, func.count(InteractionAnalysis.id))
            .join(InteractionAnalysis, InteractionAnalysis.interaction_id == Interaction.id)
            .where(
                Interaction.agent_id.in_(ids),
                Interaction.started_at >= start,
                Interaction.started_at < end,
            )
            .group_by(Interaction.agent_id)
        )

    for aid, n in _rows(session, analysed_query, targets):
        agents[aid].analysed = int(n)

    _behaviours(session, agents, start, end, targets)
    _findings(session, agents, start, end, targets)
    _timing(session, agents, rubric, start, end, targets)
    _comments(session, agents, start, end, tz, rubric, targets)
    return result


#: Agent ids per ``IN`` list: far below SQLite's bound-parameter limit.
CHUNK = 5000


def _rows(session: Session, build: Callable[[list[int]], Any], ids: Sequence[int]) -> Iterator[Any]:
    """Run a per-agent query for ``ids`` in chunks (each agent's rows are in one chunk)."""
    for i in range(0, len(ids), CHUNK):
        yield from session.execute(build(list(ids[i : i + CHUNK])))


def _mean(acc: tuple[float, int] | list[float] | None) -> float | None:
    if acc is None or not acc[1]:
        return None
    return _r(acc[0] / acc[1])


def _team_sums(
    sums: dict[tuple[int, int], tuple[float, int]], members: dict[int, list[int]]
) -> dict[tuple[int, int], tuple[float, int]]:
    """Per (team, bucket) totals from the members' (agent, bucket) totals."""
    team_of = {aid: tid for tid, ids in members.items() for aid in ids}
    out: dict[tuple[int, int], tuple[float, int]] = {}
    for (aid, b), (total, n) in sums.items():
        tid = team_of.get(aid)
        if tid is None:
            continue
        t, c = out.get((tid, b), (0.0, 0))
        out[(tid, b)] = (t + total, c + n)
    return out


def _auto_section(a: AgentMonth, section_id: str, rubric: Rubric) -> float | None:
    """Weighted mean of a section's auto-QA criterion figures (criterion weights)."""
    pairs = [
        (rubric.criterion(c.criterion_id).weight, c.agent_pct)
        for c in a.criteria
        if c.section_id == section_id and c.source == "auto_qa" and c.agent_pct is not None
    ]
    total = sum(w for w, _ in pairs)
    return _r(sum(w * p for w, p in pairs) / total) if total else None


def _auto_overall(a: AgentMonth, rubric: Rubric) -> float | None:
    """Overall auto-QA figure with the scoring rule's nominal shares (docs/scoring.md)."""
    total_w = sum(s.weight for s in rubric.sections)
    num = den = 0.0
    for c in a.criteria:
        if c.source != "auto_qa" or c.agent_pct is None:
            continue
        section = rubric.section(c.section_id)
        share = (section.weight / total_w) * (
            rubric.criterion(c.criterion_id).weight / sum(x.weight for x in section.criteria)
        )
        num += share * c.agent_pct
        den += share
    return _r(num / den) if den else None


def _behaviours(
    session: Session,
    agents: dict[int, AgentMonth],
    start: datetime,
    end: datetime,
    targets: list[int],
) -> None:
    """Counts per agent and behaviour with the newest examples, in one windowed query.

    The window runs over ``analysis_flags`` alone (its agent/time index); only
    the few example rows it keeps are joined to their interaction and turn.
    """

    def build(ids: list[int]) -> Any:
        partition = (AnalysisFlag.agent_id, AnalysisFlag.behavior, AnalysisFlag.polarity)
        ranked = (
            select(
                AnalysisFlag.agent_id,
                AnalysisFlag.behavior,
                AnalysisFlag.polarity,
                func.count().over(partition_by=partition).label("n"),
                func.row_number()
                .over(
                    partition_by=partition,
                    order_by=(AnalysisFlag.interaction_at.desc(), AnalysisFlag.id.desc()),
                )
                .label("rank"),
                AnalysisFlag.interaction_id,
                AnalysisFlag.turn,
                AnalysisFlag.text,
                AnalysisFlag.start,
                AnalysisFlag.end,
                AnalysisFlag.suggestion,
                AnalysisFlag.interaction_at,
            )
            .where(
                AnalysisFlag.interaction_at >= start,
                AnalysisFlag.interaction_at < end,
                AnalysisFlag.polarity.in_(POLARITIES),
                AnalysisFlag.agent_id.in_(ids),
            )
            .subquery()
        )
        inner = (
            select(ranked, Interaction.external_id, Turn.text.label("turn_text"))
            .join(Interaction, Interaction.id == ranked.c.interaction_id)
            .outerjoin(
                Turn,
                and_(Turn.interaction_id == ranked.c.interaction_id, Turn.seq == ranked.c.turn),
            )
            .where(ranked.c.rank <= EXAMPLES)
            .subquery()
        )
        return select(inner).where(inner.c.rank <= EXAMPLES).order_by(inner.c.rank)

    stats: dict[tuple[int, str], BehaviourStat] = {}
    for row in (r._mapping for r in _rows(session, build, targets)):
        a = agents.get(row["agent_id"])
        if a is None:
            continue
        key = (a.agent_id, row["behavior"])
        stat = stats.get(key)
        if stat is None:
            n = int(row["n"])
            stat = BehaviourStat(
                behaviour=row["behavior"],
                polarity=row["polarity"],
                count=n,
                rate=round(n / a.analysed, 4) if a.analysed else 0.0,
            )
            stats[key] = stat
            a.behaviours.append(stat)
        turn = row["turn_text"]
        text = (
            excerpt_around(turn, row["start"], row["end"]) if turn else row["text"].strip()
        ) or row["text"]
        stat.examples.append(Excerpt(row["external_id"], text, _aware(row["interaction_at"])))
        if stat.suggestion is None and row["suggestion"]:
            stat.suggestion = row["suggestion"]
    for a in agents.values():
        a.behaviours.sort(key=lambda s: (s.polarity != "use", -s.count, s.behaviour))


def _findings(
    session: Session,
    agents: dict[int, AgentMonth],
    start: datetime,
    end: datetime,
    targets: list[int],
) -> None:
    def build(ids: list[int]) -> Any:
        partition = (AnalysisFinding.agent_id, AnalysisFinding.finding)
        ranked = (
            select(
                AnalysisFinding.agent_id,
                AnalysisFinding.finding,
                # The analyser emits a finding at most once per interaction.
                func.count().over(partition_by=partition).label("n"),
                func.row_number()
                .over(
                    partition_by=partition,
                    order_by=(AnalysisFinding.interaction_at.desc(), AnalysisFinding.id.desc()),
                )
                .label("rank"),
                AnalysisFinding.interaction_id,
                AnalysisFinding.why,
                AnalysisFinding.interaction_at,
            )
            .where(
                AnalysisFinding.interaction_at >= start,
                AnalysisFinding.interaction_at < end,
                AnalysisFinding.agent_id.in_(ids),
            )
            .subquery()
        )
        inner = (
            select(ranked, Interaction.external_id)
            .join(Interaction, Interaction.id == ranked.c.interaction_id)
            .where(ranked.c.rank <= EXAMPLES)
            .subquery()
        )
        return select(inner).where(inner.c.rank <= EXAMPLES).order_by(inner.c.rank)

    found: dict[tuple[int, str], FindingStat] = {}
    for row in (r._mapping for r in _rows(session, build, targets)):
        a = agents.get(row["agent_id"])
        if a is None:
            continue
        key = (a.agent_id, row["finding"])
        stat = found.get(key)
        if stat is None:
            n = int(row["n"])
            stat = FindingStat(
                finding=row["finding"],
                count=n,
                rate=round(min(1.0, n / a.analysed), 4) if a.analysed else 0.0,
            )
            found[key] = stat
            a.findings.append(stat)
        stat.examples.append(Excerpt(row["external_id"], row["why"], _aware(row["interaction_at"])))
    for a in agents.values():
        a.findings.sort(key=lambda s: (-s.count, s.finding))


def _timing(
    session: Session,
    agents: dict[int, AgentMonth],
    rubric: Rubric,
    start: datetime,
    end: datetime,
    targets: list[int],
) -> None:
    """Averages of every thresholded metric per agent and channel, in one query.

    Metrics are JSON values in ``interaction_analyses.metrics``; SQLAlchemy's JSON
    path accessors compile to ``json_extract`` on SQLite and ``->>`` on
    PostgreSQL, so the averaging stays in SQL. A metric missing for an
    interaction (e.g. no holds) is NULL and left out of its average.
    """
    thresholds = {str(ch): dict(v) for ch, v in rubric.timing_thresholds.items()}
    metrics = sorted({m for v in thresholds.values() for m in v})
    if not metrics:
        return
    exprs = [InteractionAnalysis.metrics[m].as_float() for m in metrics]
    cols = [c for e in exprs for c in (func.avg(e), func.count(e))]

    def build(ids: list[int]) -> Any:
        return (
            select(Interaction.agent_id, Interaction.channel, *cols)
            .join(InteractionAnalysis, InteractionAnalysis.interaction_id == Interaction.id)
            .where(
                Interaction.agent_id.in_(ids),
                Interaction.started_at >= start,
                Interaction.started_at < end,
            )
            .group_by(Interaction.agent_id, Interaction.channel)
            .order_by(Interaction.agent_id, Interaction.channel)
        )

    for row in _rows(session, build, targets):
        a = agents.get(row[0])
        if a is None:
            continue
        channel = row[1]
        limits = thresholds.get(channel, {})
        for i, metric in enumerate(metrics):
            avg, n = row[2 + 2 * i], int(row[3 + 2 * i] or 0)
            if metric in limits and avg is not None and n:
                a.timing.append(
                    TimingStat(channel, metric, round(float(avg), 2), n, float(limits[metric]))
                )


def _comments(
    session: Session,
    agents: dict[int, AgentMonth],
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    rubric: Rubric,
    targets: list[int],
) -> None:
    """The latest review-level and criterion-level comments per agent (two queries).

    The windows run over the comment rows alone; reviewer names and interaction
    ids are joined for the kept ones only.
    """
    found: dict[int, list[tuple[datetime, int, ReviewerComment]]] = defaultdict(list)
    when = func.coalesce(Review.submitted_at, Review.interaction_at)
    labels = {c.id: c.label for _s, c in rubric.all_criteria()}

    def base(ids: list[int]) -> list[Any]:
        return [
            Review.agent_id.in_(ids),
            Review.status == ReviewStatus.submitted.value,
            Review.interaction_at >= start,
            Review.interaction_at < end,
        ]

    def finish(ranked: Any, *extra: Any) -> Any:
        return (
            select(
                ranked,
                User.display_name.label("reviewer"),
                Interaction.external_id,
            )
            .join(User, User.id == ranked.c.reviewer_id)
            .join(Interaction, Interaction.id == ranked.c.interaction_id)
            .where(ranked.c.rank <= COMMENTS)
            .order_by(ranked.c.rank)
        )

    def review_comments(ids: list[int]) -> Any:
        rank = func.row_number().over(
            partition_by=Review.agent_id, order_by=(when.desc(), Review.id.desc())
        )
        ranked = (
            select(
                Review.agent_id,
                Review.id,
                Review.reviewer_id,
                Review.interaction_id,
                Review.comment.label("text"),
                when.label("at"),
                rank.label("rank"),
            )
            .where(*base(ids), Review.comment.is_not(None), Review.comment != "")
            .subquery()
        )
        return finish(ranked)

    def answer_comments(ids: list[int]) -> Any:
        rank = func.row_number().over(
            partition_by=Review.agent_id, order_by=(when.desc(), ReviewAnswer.id.desc())
        )
        ranked = (
            select(
                Review.agent_id,
                ReviewAnswer.id,
                Review.reviewer_id,
                Review.interaction_id,
                ReviewAnswer.criterion_id,
                ReviewAnswer.comment.label("text"),
                when.label("at"),
                rank.label("rank"),
            )
            .join(Review, Review.id == ReviewAnswer.review_id)
            .where(*base(ids), ReviewAnswer.comment.is_not(None), ReviewAnswer.comment != "")
            .subquery()
        )
        return finish(ranked)

    for build, criterion in ((review_comments, False), (answer_comments, True)):
        for row in (r._mapping for r in _rows(session, build, targets)):
            a = agents.get(row["agent_id"])
            text = (row["text"] or "").strip()
            if a is None or not text:
                continue
            at = _aware(row["at"])
            label = None
            if criterion:
                lt = labels.get(row["criterion_id"])
                label = lt.get(a.locale) if lt is not None else row["criterion_id"]
            comment = ReviewerComment(
                reviewer_name=row["reviewer"],
                date=_local_date(at, tz),
                interaction_external_id=row["external_id"],
                criterion_label=label,
                text=text,
            )
            found[a.agent_id].append((at, row["id"], comment))
    for aid, items in found.items():
        items.sort(key=lambda t: (t[0], t[1]), reverse=True)
        agents[aid].comments = [c for _at, _id, c in items[:COMMENTS]]


def _local_date(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


# ---------------------------------------------------------------------------- snapshot


def pick_timing(stats: Sequence[TimingStat]) -> list[TimingStat]:
    """One row per metric for the PDF: the channel with the most measurements.

    Thresholds differ per channel (a call answers in seconds, an email in a
    day), so averaging across channels would mean nothing; an agent working
    several channels is shown the channel that carries most of their work.
    Coaching rules still look at every channel.
    """
    best: dict[str, TimingStat] = {}
    for s in stats:
        cur = best.get(s.metric)
        if cur is None or (s.count, -_CHANNEL_ORDER.get(s.channel, 9)) > (
            cur.count,
            -_CHANNEL_ORDER.get(cur.channel, 9),
        ):
            best[s.metric] = s
    return [best[m] for m in sorted(best)]


_CHANNEL_ORDER = {"call": 0, "chat": 1, "email": 2}


def build_snapshot(
    month: MonthAggregate,
    agent: AgentMonth,
    *,
    generated_at: datetime,
    coaching: Sequence[CoachingItem] = (),
) -> Scorecard:
    """The immutable scorecard of one agent (everything the PDF shows)."""
    rubric = month.rubric
    behaviours = []
    for b in agent.behaviours:
        en, ar = behaviour_label(b.behaviour)
        behaviours.append(
            BehaviourRow(
                behaviour_id=b.behaviour,
                label_en=en,
                label_ar=ar,
                polarity=b.polarity,  # type: ignore[arg-type]
                count=b.count,
                rate=b.rate,
                example=b.examples[0].text if b.examples else None,
                suggestion=b.suggestion,
            )
        )
    return Scorecard(
        agent=AgentInfo(
            id=agent.agent_id,
            external_id=agent.external_id,
            name=agent.name,
            locale="ar" if agent.locale == "ar" else "en",
        ),
        team_name=agent.team_name,
        period=month.period,
        timezone=month.timezone,
        generated_at=generated_at,
        rubric=month.rubric_ref,
        kpis=Kpis(
            overall_pct=agent.overall_pct,
            team_pct=agent.team_pct,
            target_pct=float(rubric.target),
            reviews=agent.reviews,
            auto_fail_count=agent.auto_fail_count,
            based_on_auto_qa_only=agent.auto_qa_only,
        ),
        criteria=tuple(
            CriterionRow(
                criterion_id=c.criterion_id,
                section_id=c.section_id,
                label_en=c.label_en,
                label_ar=c.label_ar,
                agent_pct=c.agent_pct,
                team_pct=c.team_pct,
                target_pct=c.target_pct,
                count=c.count,
            )
            for c in agent.criteria
        ),
        sections=tuple(
            SectionRow(
                section_id=s.section_id,
                label_en=s.label_en,
                label_ar=s.label_ar,
                agent_pct=s.agent_pct,
                team_pct=s.team_pct,
                target_pct=s.target_pct,
                count=s.count,
            )
            for s in agent.sections
        ),
        trend=tuple(agent.trend),
        behaviours=tuple(behaviours),
        timing=tuple(
            TimingRow(metric=t.metric, value=t.value, threshold=t.threshold)
            for t in pick_timing(agent.timing)
        ),
        coaching=tuple(coaching),
        comments=tuple(agent.comments),
    )
