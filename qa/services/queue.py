"""Review queues: sampling rules fill reviewers' queues; reviewers work them.

Sampling is deterministic (a hash of the interaction id and the period orders
the candidates), so re-running a fill is idempotent: interactions already
assigned or reviewed are never picked again, and an agent who already has N
assignments for the month gets no more.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from qa.models import (
    Agent,
    AssignmentStatus,
    Interaction,
    Review,
    ReviewAssignment,
    Role,
    SamplingRule,
    User,
)
from qa.services import audit
from qa.services.errors import InvalidInput, NotFound, PermissionDenied
from qa.services.periods import month_bounds

LEAD_ROLES = frozenset({Role.qa_lead.value, Role.admin.value})


@dataclass
class FillReport:
    period: str
    assigned: int
    per_reviewer: dict[int, int]
    short: dict[int, int]  # agent id -> how many fewer than wanted were available


def _require_lead(user: User) -> None:
    if user.role not in LEAD_ROLES:
        raise PermissionDenied("only QA leads and admins manage sampling and queues")


def save_rule(
    session: Session,
    actor: User,
    *,
    name: str,
    per_agent_per_month: int,
    team_id: int | None = None,
    channels: list[str] | None = None,
    languages: list[str] | None = None,
    stratify_by_channel: bool = True,
    rule_id: int | None = None,
) -> SamplingRule:
    _require_lead(actor)
    if per_agent_per_month < 1:
        raise InvalidInput("interactions per agent per month must be at least 1")
    bad = set(channels or []) - {"call", "chat", "email"}
    if bad:
        raise InvalidInput(f"unknown channel(s): {', '.join(sorted(bad))}")
    bad = set(languages or []) - {"en", "ar"}
    if bad:
        raise InvalidInput(f"unknown language(s): {', '.join(sorted(bad))}")
    rule = session.get(SamplingRule, rule_id) if rule_id else SamplingRule()
    if rule is None:
        raise NotFound(f"sampling rule {rule_id} not found")
    before = None if rule_id is None else {"per_agent_per_month": rule.per_agent_per_month}
    rule.name = name.strip() or "rule"
    rule.per_agent_per_month = per_agent_per_month
    rule.team_id = team_id
    rule.channels = sorted(channels or [])
    rule.languages = sorted(languages or [])
    rule.stratify_by_channel = stratify_by_channel
    rule.is_active = True
    if rule_id is None:
        rule.created_by_id = actor.id
        session.add(rule)
    session.flush()
    audit.record(
        session,
        actor,
        "create" if rule_id is None else "update",
        "sampling_rule",
        rule.id,
        before=before,
        after={"name": rule.name, "per_agent_per_month": per_agent_per_month},
    )
    return rule


def _order_key(interaction_id: int, period: str) -> str:
    return hashlib.sha256(f"{period}:{interaction_id}".encode()).hexdigest()


def _allocate(wanted: int, by_channel: dict[str, list[int]]) -> list[int]:
    """Pick ``wanted`` ids, proportional to each channel's volume (largest remainder)."""
    total = sum(len(v) for v in by_channel.values())
    if total <= wanted:
        return [i for ids in by_channel.values() for i in ids]
    quotas = {ch: wanted * len(ids) / total for ch, ids in by_channel.items()}
    take = {ch: int(q) for ch, q in quotas.items()}
    rest = wanted - sum(take.values())
    for ch in sorted(quotas, key=lambda c: (-(quotas[c] - take[c]), c))[:rest]:
        take[ch] += 1
    return [i for ch, ids in sorted(by_channel.items()) for i in ids[: take[ch]]]


def fill_queues(
    session: Session,
    rule: SamplingRule,
    reviewers: list[User],
    *,
    year: int,
    month: int,
    tz: ZoneInfo,
    actor: User,
) -> FillReport:
    """Assign up to N interactions per agent for the month, spread over ``reviewers``."""
    _require_lead(actor)
    reviewers = [r for r in reviewers if r.role in (Role.reviewer.value, Role.qa_lead.value)]
    if not reviewers:
        raise InvalidInput("choose at least one reviewer")
    start, end = month_bounds(year, month, tz)
    period = f"{year:04d}-{month:02d}"
    taken = select(ReviewAssignment.interaction_id)
    reviewed = select(Review.interaction_id)
    query = (
        select(Interaction.id, Interaction.agent_id, Interaction.channel)
        .join(Agent, Agent.id == Interaction.agent_id)
        .where(
            Interaction.started_at >= start,
            Interaction.started_at < end,
            Agent.is_active.is_(True),
            Interaction.id.not_in(taken),
            Interaction.id.not_in(reviewed),
        )
    )
    if rule.team_id is not None:
        query = query.where(Agent.team_id == rule.team_id)
    if rule.channels:
        query = query.where(Interaction.channel.in_(rule.channels))
    if rule.languages:
        query = query.where(Interaction.language.in_(rule.languages))
    candidates: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for iid, agent_id, channel in session.execute(query):
        key = channel if rule.stratify_by_channel else "all"
        candidates[agent_id][key].append(iid)
    already = dict(
        session.execute(
            select(Interaction.agent_id, func.count())
            .join(ReviewAssignment, ReviewAssignment.interaction_id == Interaction.id)
            .where(and_(ReviewAssignment.period == period, ReviewAssignment.rule_id == rule.id))
            .group_by(Interaction.agent_id)
        ).all()
    )
    load = dict(
        session.execute(
            select(ReviewAssignment.reviewer_id, func.count())
            .where(ReviewAssignment.status == AssignmentStatus.open.value)
            .group_by(ReviewAssignment.reviewer_id)
        ).all()
    )
    counts = {r.id: load.get(r.id, 0) for r in reviewers}
    report = FillReport(period, 0, defaultdict(int), {})
    for agent_id in sorted(candidates):
        wanted = rule.per_agent_per_month - already.get(agent_id, 0)
        if wanted <= 0:
            continue
        pools = {
            ch: sorted(ids, key=lambda i: _order_key(i, period))
            for ch, ids in candidates[agent_id].items()
        }
        picked = _allocate(wanted, pools)
        if len(picked) < wanted:
            report.short[agent_id] = wanted - len(picked)
        for iid in picked:
            reviewer_id = min(counts, key=lambda rid: (counts[rid], rid))
            agent_user = next((r for r in reviewers if r.id == reviewer_id), None)
            if agent_user is not None and agent_user.agent_id == agent_id:
                # Never queue an agent's own interaction for them.
                others = {rid: c for rid, c in counts.items() if rid != reviewer_id}
                if not others:
                    continue
                reviewer_id = min(others, key=lambda rid: (others[rid], rid))
            session.add(
                ReviewAssignment(
                    interaction_id=iid,
                    reviewer_id=reviewer_id,
                    rule_id=rule.id,
                    period=period,
                    status=AssignmentStatus.open.value,
                    assigned_by_id=actor.id,
                )
            )
            counts[reviewer_id] += 1
            report.per_reviewer[reviewer_id] += 1
            report.assigned += 1
    session.flush()
    audit.record(
        session,
        actor,
        "fill_queues",
        "sampling_rule",
        rule.id,
        after={"period": period, "assigned": report.assigned},
    )
    report.per_reviewer = dict(report.per_reviewer)
    return report


def assign(
    session: Session,
    interaction_id: int,
    reviewer: User,
    actor: User,
    *,
    tz: ZoneInfo | None = None,
) -> ReviewAssignment:
    """Put one interaction in a reviewer's queue by hand (replaces an open assignment)."""
    _require_lead(actor)
    inter = session.get(Interaction, interaction_id)
    if inter is None:
        raise NotFound(f"interaction {interaction_id} not found")
    if reviewer.agent_id is not None and reviewer.agent_id == inter.agent_id:
        raise InvalidInput("a reviewer cannot be assigned their own interaction")
    existing = session.scalar(
        select(ReviewAssignment).where(ReviewAssignment.interaction_id == interaction_id)
    )
    if existing is None:
        existing = ReviewAssignment(interaction_id=interaction_id)
        session.add(existing)
    existing.reviewer_id = reviewer.id
    existing.status = AssignmentStatus.open.value
    existing.period = period_of(inter.started_at, tz or ZoneInfo("UTC"))
    existing.assigned_by_id = actor.id
    session.flush()
    audit.record(
        session, actor, "assign", "interaction", interaction_id, after={"reviewer": reviewer.id}
    )
    return existing


def my_queue(session: Session, reviewer: User) -> list[ReviewAssignment]:
    """Open assignments of ``reviewer``, oldest interaction first."""
    return list(
        session.scalars(
            select(ReviewAssignment)
            .join(Interaction)
            .where(
                ReviewAssignment.reviewer_id == reviewer.id,
                ReviewAssignment.status == AssignmentStatus.open.value,
            )
            .order_by(Interaction.started_at, Interaction.id)
        )
    )


def complete_assignment(session: Session, interaction_id: int, reviewer: User) -> None:
    """Called when a review is submitted: the interaction leaves the queue."""
    row = session.scalar(
        select(ReviewAssignment).where(
            ReviewAssignment.interaction_id == interaction_id,
            ReviewAssignment.reviewer_id == reviewer.id,
        )
    )
    if row is not None and row.status == AssignmentStatus.open.value:
        row.status = AssignmentStatus.done.value


def period_of(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m")
