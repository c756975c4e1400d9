"""Calibration sessions: blind re-scoring of the same interactions by several reviewers.

Blindness is enforced here, not in the pages: while a session is open, every read path
(``answers_visible_to``, ``progress``, ``build_report``) returns only the caller's own
answers, whoever the caller is - a QA lead or an admin included - so a reviewer's score can
never be anchored on someone else's. The audit trail records *that* a participant
answered (with a digest of the answers) but not the values, because admins can read the
audit log while the session is still open.

Answers are validated by the same rule as production reviews (``rubrics.score`` with
``partial=False``): a participant's answers for an item must be a complete, valid review.
The report turns the stored answers into the figures of ``qa.calibration.stats``; overall
percentages and the effective criterion weights also come from ``rubrics.score``, so
calibration and production scoring can never disagree on what an answer is worth.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from qa.calibration.stats import (
    AlignmentTrend,
    CalibrationError,
    SessionReport,
    TrendSession,
    alignment_trend,
    criterion_report,
    session_report,
)
from qa.models import (
    CalibrationAnswer,
    CalibrationItem,
    CalibrationParticipant,
    CalibrationSession,
    CalibrationStatus,
    Interaction,
    Role,
    RubricVersion,
    User,
    utcnow,
)
from qa.services import audit
from qa.services.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from qa.services.rubrics import latest_version, rubric_of
from rubrics import Answer, AnswerError, AnswerErrors, Rubric, ScoreResult, score

LEAD_ROLES = frozenset({Role.qa_lead.value, Role.admin.value})
PARTICIPANT_ROLES = frozenset({Role.reviewer.value, Role.qa_lead.value, Role.admin.value})
#: Roles that may read every closed session's report (participants may read their own).
REPORT_ROLES = frozenset({Role.qa_lead.value, Role.admin.value, Role.trainer.value})

MIN_ITEMS, MAX_ITEMS = 2, 20  # 3-10 is typical; outside 2-20 a session is a mistake
MIN_REVIEWERS = 2  # non-expert participants: spread and alpha need two
NAME_MAX = 200
COMMENT_MAX = 4000

AlphaReading = Literal["reliable", "tentative", "unreliable"]


class CalibrationAnswersInvalid(InvalidInput):
    """A participant's answers for one item are not a valid complete review.

    ``problems`` keeps every ``rubrics.AnswerError`` so a form can mark each field.
    """

    def __init__(self, problems: list[AnswerError]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def _require(user: User, roles: frozenset[str], what: str) -> None:
    if user.role not in roles:
        raise PermissionDenied(f"{user.role} users may not {what}")


# ---------------------------------------------------------------------------------- create


def create_session(
    session: Session,
    actor: User,
    *,
    name: str,
    interaction_ids: Sequence[int],
    reviewer_ids: Sequence[int],
    expert_id: int | None = None,
    rubric_version: RubricVersion | None = None,
    tolerance: float = 5.0,
) -> CalibrationSession:
    """Open a session (QA leads and admins). ``reviewer_ids`` are the blind scorers;
    ``expert_id`` (optional, not in ``reviewer_ids``) answers too and is the benchmark."""
    _require(actor, LEAD_ROLES, "create calibration sessions")
    name = (name or "").strip()
    if not name:
        raise InvalidInput("calibration session name: must not be empty")
    if len(name) > NAME_MAX:
        raise InvalidInput(f"calibration session name: longer than {NAME_MAX} characters")
    if (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, int | float)
        or not math.isfinite(tolerance)
        or not 0 <= tolerance <= 100
    ):
        raise InvalidInput(f"tolerance: must be 0-100 percentage points, got {tolerance!r}")
    ids = list(interaction_ids)
    if len(set(ids)) != len(ids):
        raise InvalidInput("interactions: the same interaction is listed twice")
    if not MIN_ITEMS <= len(ids) <= MAX_ITEMS:
        raise InvalidInput(
            f"interactions: pick {MIN_ITEMS}-{MAX_ITEMS} interactions (3-10 is typical), "
            f"got {len(ids)}"
        )
    interactions = {
        i.id: i for i in session.scalars(select(Interaction).where(Interaction.id.in_(ids)))
    }
    missing = [i for i in ids if i not in interactions]
    if missing:
        raise InvalidInput(f"interactions: {missing} not found")
    reviewers = list(reviewer_ids)
    if len(set(reviewers)) != len(reviewers):
        raise InvalidInput("reviewers: the same reviewer is listed twice")
    if expert_id is not None and expert_id in reviewers:
        raise InvalidInput("expert: the expert is the benchmark and cannot also be a reviewer")
    if len(reviewers) < MIN_REVIEWERS:
        raise InvalidInput(
            f"reviewers: pick at least {MIN_REVIEWERS} reviewers besides the expert, "
            f"got {len(reviewers)}"
        )
    everyone = [*reviewers, *([expert_id] if expert_id is not None else [])]
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(everyone)))}
    for user_id in everyone:
        user = users.get(user_id)
        if user is None:
            raise InvalidInput(f"reviewers: user {user_id} not found")
        if not user.is_active or user.role not in PARTICIPANT_ROLES:
            raise InvalidInput(
                f"reviewers: {user.username} ({user.role}) cannot take part; "
                "participants must be active reviewers, QA leads or admins"
            )
        for interaction in interactions.values():
            if user.agent_id is not None and user.agent_id == interaction.agent_id:
                raise InvalidInput(
                    f"reviewers: {user.username} is the agent of interaction "
                    f"{interaction.external_id} and cannot score it"
                )
    version = rubric_version or latest_version(session)
    cal = CalibrationSession(
        name=name,
        rubric_version_id=version.id,
        created_by_id=actor.id,
        status=CalibrationStatus.open.value,
        tolerance=float(tolerance),
    )
    session.add(cal)
    session.flush()
    for position, interaction_id in enumerate(ids):
        session.add(
            CalibrationItem(session_id=cal.id, interaction_id=interaction_id, position=position)
        )
    for user_id in reviewers:
        session.add(CalibrationParticipant(session_id=cal.id, user_id=user_id, is_expert=False))
    if expert_id is not None:
        session.add(CalibrationParticipant(session_id=cal.id, user_id=expert_id, is_expert=True))
    session.flush()
    session.refresh(cal)
    audit.record(
        session,
        actor,
        "create",
        "calibration_session",
        cal.id,
        after={
            "name": name,
            "rubric_version": version.id,
            "tolerance": float(tolerance),
            "interactions": ids,
            "reviewers": reviewers,
            "expert": expert_id,
        },
    )
    return cal


# ------------------------------------------------------------------------------------ read


def _participant(cal: CalibrationSession, user: User) -> CalibrationParticipant | None:
    for participant in cal.participants:
        if participant.user_id == user.id:
            return participant
    return None


def can_read_session(cal: CalibrationSession, user: User) -> bool:
    return (
        user.role in LEAD_ROLES
        or _participant(cal, user) is not None
        or (user.role in REPORT_ROLES and cal.status == CalibrationStatus.closed.value)
    )


def sessions_for(
    session: Session, user: User, *, status: str | None = None
) -> list[CalibrationSession]:
    """Sessions ``user`` may see, newest first: leads and admins all, trainers the closed
    ones, everybody else the ones they take part in."""
    query = select(CalibrationSession)
    if user.role == Role.trainer.value:
        query = query.where(
            (CalibrationSession.status == CalibrationStatus.closed.value)
            | CalibrationSession.id.in_(
                select(CalibrationParticipant.session_id).where(
                    CalibrationParticipant.user_id == user.id
                )
            )
        )
    elif user.role not in LEAD_ROLES:
        query = query.where(
            CalibrationSession.id.in_(
                select(CalibrationParticipant.session_id).where(
                    CalibrationParticipant.user_id == user.id
                )
            )
        )
    if status is not None:
        query = query.where(CalibrationSession.status == status)
    return list(
        session.scalars(
            query.order_by(CalibrationSession.created_at.desc(), CalibrationSession.id.desc())
        )
    )


def get_session(session: Session, session_id: int, user: User) -> CalibrationSession:
    cal = session.get(CalibrationSession, session_id)
    if cal is None or not can_read_session(cal, user):
        raise NotFound(f"calibration session {session_id} not found")
    return cal


def visible_answers(cal: CalibrationSession, user: User) -> Select[tuple[CalibrationAnswer]]:
    """The single source of truth for who reads which calibration answers.

    Open session: only the caller's own answers, whatever their role. Closed session:
    everything, for anyone allowed to read the session.
    """
    query = select(CalibrationAnswer).where(CalibrationAnswer.session_id == cal.id)
    if cal.status != CalibrationStatus.closed.value or not can_read_session(cal, user):
        query = query.where(CalibrationAnswer.reviewer_id == user.id)
    return query.order_by(
        CalibrationAnswer.item_id, CalibrationAnswer.reviewer_id, CalibrationAnswer.id
    )


def answers_visible_to(
    session: Session, cal: CalibrationSession, user: User
) -> list[CalibrationAnswer]:
    return list(session.scalars(visible_answers(cal, user)))


def my_answers(
    session: Session, cal: CalibrationSession, item: CalibrationItem, user: User
) -> dict[str, Answer]:
    """The caller's own stored answers for one item (to pre-fill their form)."""
    rows = session.scalars(
        select(CalibrationAnswer).where(
            CalibrationAnswer.session_id == cal.id,
            CalibrationAnswer.item_id == item.id,
            CalibrationAnswer.reviewer_id == user.id,
        )
    )
    return {r.criterion_id: Answer(value=r.value, na=r.na, comment=r.comment) for r in rows}


def progress(session: Session, cal: CalibrationSession, user: User) -> dict[int, int]:
    """user id -> number of items answered. Counts reveal nothing about the answers, so
    leads see everyone's (to know when to close); others see only their own."""
    query = (
        select(CalibrationAnswer.reviewer_id, func.count(func.distinct(CalibrationAnswer.item_id)))
        .where(CalibrationAnswer.session_id == cal.id)
        .group_by(CalibrationAnswer.reviewer_id)
    )
    if user.role not in LEAD_ROLES:
        query = query.where(CalibrationAnswer.reviewer_id == user.id)
    counts = {int(r): int(n) for r, n in session.execute(query)}
    if user.role in LEAD_ROLES:
        return {p.user_id: counts.get(p.user_id, 0) for p in cal.participants}
    return {user.id: counts.get(user.id, 0)}


# ------------------------------------------------------------------------------------ write


def _digest(answers: Mapping[str, Answer]) -> str:
    canonical = json.dumps(
        {k: [a.value, a.na, a.comment] for k, a in sorted(answers.items())},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def submit_answers(
    session: Session,
    cal: CalibrationSession,
    item_id: int,
    reviewer: User,
    answers: Mapping[str, Answer],
) -> ScoreResult:
    """Store a participant's blind answers for one item (replacing earlier ones).

    Raises ``CalibrationAnswersInvalid`` with every problem when the answers are not a
    complete valid review on the session's rubric; ``Conflict`` once the session is closed.
    """
    participant = _participant(cal, reviewer)
    if participant is None:
        raise PermissionDenied("only the session's participants may answer")
    if cal.status != CalibrationStatus.open.value:
        raise Conflict(f"calibration session {cal.id} is closed; answers can no longer change")
    item = next((i for i in cal.items if i.id == item_id), None)
    if item is None:
        raise NotFound(f"item {item_id} is not part of calibration session {cal.id}")
    for criterion_id, answer in answers.items():
        if answer.comment is not None and len(answer.comment) > COMMENT_MAX:
            raise InvalidInput(f"{criterion_id}: comment longer than {COMMENT_MAX} characters")
    try:
        result = score(rubric_of(cal.rubric_version), answers, partial=False)
    except AnswerErrors as exc:
        raise CalibrationAnswersInvalid(exc.problems) from exc
    session.execute(
        delete(CalibrationAnswer).where(
            CalibrationAnswer.session_id == cal.id,
            CalibrationAnswer.item_id == item.id,
            CalibrationAnswer.reviewer_id == reviewer.id,
        )
    )
    now = utcnow()
    for criterion_id, answer in answers.items():
        session.add(
            CalibrationAnswer(
                session_id=cal.id,
                item_id=item.id,
                reviewer_id=reviewer.id,
                criterion_id=criterion_id,
                value=None if answer.na else answer.value,
                na=answer.na,
                comment=(answer.comment or None),
                answered_at=now,
            )
        )
    session.flush()
    # Values stay out of the audit trail while the session is blind; the digest lets an
    # auditor check later that the stored answers are the ones that were submitted.
    audit.record(
        session,
        reviewer,
        "answer",
        "calibration_session",
        cal.id,
        after={"item": item.id, "criteria": len(answers), "sha256": _digest(answers)},
    )
    return result


def close_session(session: Session, cal: CalibrationSession, actor: User) -> CalibrationSession:
    _require(actor, LEAD_ROLES, "close calibration sessions")
    if cal.status == CalibrationStatus.closed.value:
        raise Conflict(f"calibration session {cal.id} is already closed")
    answered = progress(session, cal, actor)
    cal.status = CalibrationStatus.closed.value
    cal.closed_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "close",
        "calibration_session",
        cal.id,
        before={"status": CalibrationStatus.open.value},
        after={"status": cal.status, "items_answered": {str(k): v for k, v in answered.items()}},
    )
    return cal


# ----------------------------------------------------------------------------------- report


def interpret_alpha(alpha: float | None) -> AlphaReading | None:
    """Krippendorff's own guide: >= 0.8 reliable, 0.667-0.8 tentative, below unreliable."""
    if alpha is None:
        return None
    if alpha >= 0.8:
        return "reliable"
    if alpha >= 0.667:
        return "tentative"
    return "unreliable"


def effective_weights(rubric: Rubric) -> dict[str, float]:
    """Each criterion's share of the overall score when everything is answered, taken from
    ``rubrics.score`` contributions so there is one definition of the weighting."""
    full = {c.id: Answer(value=c.max_value) for _, c in rubric.all_criteria()}
    result = score(rubric, full)
    return {cid: float(r.contribution or 0.0) for cid, r in result.criteria.items()}


@dataclass(frozen=True)
class CalibrationReport:
    """A closed session's report: who and what, plus the ``SessionReport`` figures."""

    session_id: int
    name: str
    rubric_key: str
    rubric_version: int
    tolerance: float
    closed_at: datetime | None
    reviewers: dict[str, str]  # username -> display name (non-expert participants)
    expert: str | None  # username
    interactions: dict[str, int]  # label -> interaction id
    criterion_labels: dict[str, dict[str, str]]  # criterion id -> {"en": .., "ar": ..}
    criterion_types: dict[str, str]
    stats: SessionReport

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "name": self.name,
            "rubric": {"key": self.rubric_key, "version": self.rubric_version},
            "tolerance": self.tolerance,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "reviewers": dict(self.reviewers),
            "expert": self.expert,
            "interactions": dict(self.interactions),
            "alpha_interpretation": {
                "overall": interpret_alpha(self.stats.overall_alpha),
                **{c.criterion_id: interpret_alpha(c.alpha) for c in self.stats.criteria},
            },
            "report": self.stats.to_dict(),
        }

    def to_csv(self) -> str:
        return self.stats.to_csv()


def _interaction_labels(items: Sequence[CalibrationItem]) -> dict[int, str]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item.interaction.external_id] = counts.get(item.interaction.external_id, 0) + 1
    return {
        item.id: (
            item.interaction.external_id
            if counts[item.interaction.external_id] == 1
            else f"{item.interaction.source}/{item.interaction.external_id}"
        )
        for item in items
    }


def build_report(session: Session, cal: CalibrationSession, user: User) -> CalibrationReport:
    """The session report; refused while the session is open (that is the blindness)."""
    if not can_read_session(cal, user):
        raise NotFound(f"calibration session {cal.id} not found")
    _require_closed(cal)
    return _compute_report(cal, answers_visible_to(session, cal, user))


def operator_report(session: Session, session_id: int) -> CalibrationReport:
    """The report for the command line, which runs with database access and no login;
    blindness still holds: an open session has no report."""
    cal = session.get(CalibrationSession, session_id)
    if cal is None:
        raise NotFound(f"calibration session {session_id} not found")
    _require_closed(cal)
    rows = session.scalars(select(CalibrationAnswer).where(CalibrationAnswer.session_id == cal.id))
    return _compute_report(cal, list(rows))


def _require_closed(cal: CalibrationSession) -> None:
    if cal.status != CalibrationStatus.closed.value:
        raise Conflict(
            f"calibration session {cal.id} is still open; its report is available once a "
            "QA lead closes it"
        )


def _compute_report(
    cal: CalibrationSession, rows: Sequence[CalibrationAnswer]
) -> CalibrationReport:
    rubric = rubric_of(cal.rubric_version)
    weights = effective_weights(rubric)
    labels = _interaction_labels(cal.items)
    keys = [labels[i.id] for i in cal.items]
    expert = next((p for p in cal.participants if p.is_expert), None)
    reviewers = [p for p in cal.participants if not p.is_expert]

    # (user id, item id) -> criterion -> Answer
    grouped: dict[tuple[int, int], dict[str, Answer]] = {}
    for row in rows:
        grouped.setdefault((row.reviewer_id, row.item_id), {})[row.criterion_id] = Answer(
            value=row.value, na=row.na, comment=row.comment
        )

    def raw(user_id: int, criterion_id: str) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for item in cal.items:
            answer = grouped.get((user_id, item.id), {}).get(criterion_id)
            out[labels[item.id]] = None if answer is None or answer.na else answer.value
        return out

    def overall(user_id: int) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for item in cal.items:
            answers = grouped.get((user_id, item.id))
            out[labels[item.id]] = score(rubric, answers).overall if answers else None
        return out

    name_of = {p.user_id: p.user.username for p in cal.participants}
    try:
        criteria = [
            criterion_report(
                criterion.id,
                {name_of[p.user_id]: raw(p.user_id, criterion.id) for p in reviewers},
                criterion_type=criterion.type,
                weight=weights[criterion.id],
                benchmark=raw(expert.user_id, criterion.id) if expert else None,
                value_range=(criterion.min_value, criterion.max_value),
                tolerance=cal.tolerance,
                interactions=keys,
            )
            for _, criterion in rubric.all_criteria()
        ]
        stats = session_report(
            criteria,
            {name_of[p.user_id]: overall(p.user_id) for p in reviewers},
            benchmark_overall=overall(expert.user_id) if expert else None,
            tolerance=cal.tolerance,
            session_id=str(cal.id),
            interactions=keys,
        )
    except CalibrationError as exc:  # stored answers were validated; this is a bug
        raise InvalidInput(f"calibration session {cal.id}: {exc}") from exc
    return CalibrationReport(
        session_id=cal.id,
        name=cal.name,
        rubric_key=rubric.key,
        rubric_version=cal.rubric_version.version,
        tolerance=cal.tolerance,
        closed_at=cal.closed_at,
        reviewers={p.user.username: p.user.display_name for p in reviewers},
        expert=expert.user.username if expert else None,
        interactions={labels[i.id]: i.interaction_id for i in cal.items},
        criterion_labels={
            c.id: {"en": c.label.en, "ar": c.label.ar} for _, c in rubric.all_criteria()
        },
        criterion_types={c.id: c.type for _, c in rubric.all_criteria()},
        stats=stats,
    )


# ------------------------------------------------------------------------------------ trend


def alignment_over_time(
    session: Session,
    user: User,
    *,
    tz: ZoneInfo | None = None,
    rubric_key: str | None = None,
    weakest_count: int = 3,
) -> AlignmentTrend:
    """Each reviewer's weighted alignment across closed sessions, oldest first, and the
    criteria they disagree on most. Leads, admins and trainers see every reviewer; anyone
    else sees only themselves (other reviewers' numbers are theirs to discuss)."""
    sessions = sorted(
        (
            s
            for s in sessions_for(session, user, status=CalibrationStatus.closed.value)
            if rubric_key is None or s.rubric_version.rubric.key == rubric_key
        ),
        key=lambda s: (s.closed_at or s.created_at, s.id),
    )
    points: list[TrendSession] = []
    for cal in sessions:
        report = build_report(session, cal, user).stats
        when_at = cal.closed_at or cal.created_at
        when: date = (when_at.astimezone(tz) if tz else when_at).date()
        point = report.trend_session(when)
        if user.role not in REPORT_ROLES:
            point = TrendSession(
                when=point.when,
                alignment={k: v for k, v in point.alignment.items() if k == user.username},
                criterion_alignment={
                    k: v for k, v in point.criterion_alignment.items() if k == user.username
                },
            )
        points.append(point)
    return alignment_trend(points, weakest_count=weakest_count)


def candidate_participants(session: Session) -> list[User]:
    """Active users who may take part in a session (for the lead's form)."""
    return list(
        session.scalars(
            select(User)
            .where(User.is_active.is_(True), User.role.in_(sorted(PARTICIPANT_ROLES)))
            .order_by(User.display_name)
        )
    )


def item_labels(cal: CalibrationSession) -> dict[int, str]:
    return _interaction_labels(cal.items)
