"""Coaching sessions: trainers turn coaching flags into planned one-to-one sessions.

A flag is a recommendation the rules made; a session is what a person decided
to do about it. Creating a session from flags moves them to ``in_session``,
completing it resolves them, cancelling it gives them back to the queue
(``open``), so the flag queue always shows what still needs a decision.

Who may do what is decided here, never by the pages: trainers, QA leads and
admins manage sessions; an agent reads only their own sessions and
recommendations (dismissed ones are not shown to them); reviewers get nothing.
Every change writes an audit event, flag status changes included (through
:func:`scorecards.coaching.set_status`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from sqlalchemy import Select, case, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from qa.models import (
    Agent,
    CoachingFlag,
    CoachingSession,
    CoachingSessionFlag,
    CoachingSessionStatus,
    CoachingStatus,
    Role,
    User,
    utcnow,
)
from qa.services import audit
from qa.services.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from scorecards.coaching import TRAINER_ROLES, set_status

MANAGER_ROLES: Final[frozenset[str]] = TRAINER_ROLES
TEXT_MAX: Final[int] = 10_000
FOCUS_MAX: Final[int] = 20
CRITERION_ID_MAX: Final[int] = 100
STATUSES: Final[tuple[str, ...]] = tuple(s.value for s in CoachingSessionStatus)
FINAL: Final[frozenset[str]] = frozenset(
    {CoachingSessionStatus.done.value, CoachingSessionStatus.cancelled.value}
)


class _Unset:
    """Marks an argument that was not given (``None`` is a real value: "clear it")."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()


# ---------------------------------------------------------------------------- permissions


def _require_manager(actor: User) -> None:
    if actor.role not in MANAGER_ROLES:
        raise PermissionDenied(f"{actor.role} users may not manage coaching sessions")


def _own_agent_or_all(viewer: User) -> int | None:
    """``None`` for managers (everything); the agent's own id for agents; refusal otherwise."""
    if viewer.role in MANAGER_ROLES:
        return None
    if viewer.role == Role.agent.value:
        if viewer.agent_id is None:
            raise PermissionDenied("this account is not linked to an agent")
        return viewer.agent_id
    raise PermissionDenied(f"{viewer.role} users may not view coaching")


# ---------------------------------------------------------------------------- the flag queue


@dataclass(frozen=True)
class FlagQuery:
    """The trainer queue's filters (``None`` = no restriction)."""

    period: str | None = None
    team_id: int | None = None
    agent_id: int | None = None
    criterion_id: str | None = None
    priorities: tuple[str, ...] | None = None
    statuses: tuple[str, ...] | None = (CoachingStatus.open.value,)
    limit: int = 500


def queue_flags(
    session: Session, viewer: User, query: FlagQuery | None = None
) -> list[CoachingFlag]:
    """Coaching flags for the trainer queue, highest priority first, newest period first.

    Unlike :func:`scorecards.coaching.flags_for_trainer` it also filters by
    criterion, and it is for managers only (agents have their own view).
    """
    _require_manager(viewer)
    q = query or FlagQuery()
    stmt = select(CoachingFlag).options(selectinload(CoachingFlag.agent))
    if q.team_id is not None:
        stmt = stmt.join(Agent, Agent.id == CoachingFlag.agent_id).where(Agent.team_id == q.team_id)
    if q.period is not None:
        stmt = stmt.where(CoachingFlag.period == q.period)
    if q.agent_id is not None:
        stmt = stmt.where(CoachingFlag.agent_id == q.agent_id)
    if q.criterion_id is not None:
        stmt = stmt.where(CoachingFlag.criterion_id == q.criterion_id)
    if q.priorities:
        stmt = stmt.where(CoachingFlag.priority.in_(q.priorities))
    if q.statuses:
        stmt = stmt.where(CoachingFlag.status.in_(q.statuses))
    rank = case({"high": 0, "medium": 1, "low": 2}, value=CoachingFlag.priority, else_=3)
    stmt = stmt.order_by(
        CoachingFlag.period.desc(), rank, CoachingFlag.agent_id, CoachingFlag.id
    ).limit(q.limit)
    return list(session.scalars(stmt))


def flag_periods(session: Session, viewer: User) -> list[str]:
    """Periods that have coaching flags, newest first (the queue's period choices)."""
    _require_manager(viewer)
    return list(
        session.scalars(select(CoachingFlag.period).distinct().order_by(CoachingFlag.period.desc()))
    )


def flag_criteria(session: Session, viewer: User) -> list[str]:
    """Criterion ids that coaching flags point at (the queue's criterion choices)."""
    _require_manager(viewer)
    return list(
        session.scalars(
            select(CoachingFlag.criterion_id)
            .where(CoachingFlag.criterion_id.is_not(None))
            .distinct()
            .order_by(CoachingFlag.criterion_id)
        )
    )


def dismiss_flags(session: Session, actor: User, flag_ids: Sequence[int]) -> list[CoachingFlag]:
    """Dismiss open flags (the recommendation does not apply); audited per flag.

    A flag covered by a planned session is refused: the session decides its fate.
    """
    _require_manager(actor)
    flags = _flags(session, flag_ids)
    for flag in flags:
        if flag.status == CoachingStatus.in_session.value:
            raise InvalidInput(
                f"coaching flag {flag.id} is part of a planned session; "
                "complete or cancel the session instead"
            )
    return [set_status(session, f.id, CoachingStatus.dismissed.value, actor) for f in flags]


def _flags(session: Session, flag_ids: Iterable[int]) -> list[CoachingFlag]:
    ids = list(dict.fromkeys(int(i) for i in flag_ids))
    if not ids:
        raise InvalidInput("flag_ids: choose at least one coaching flag")
    found = {f.id: f for f in session.scalars(select(CoachingFlag).where(CoachingFlag.id.in_(ids)))}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"coaching flag {missing[0]} not found")
    return [found[i] for i in ids]


# ---------------------------------------------------------------------------- validation


def _text(value: str | None, name: str, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise InvalidInput(f"{name}: required")
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name}: expected text, got {type(value).__name__}")
    if len(value) > TEXT_MAX:
        raise InvalidInput(f"{name}: at most {TEXT_MAX} characters (got {len(value)})")
    return value


def _date(value: date | None, name: str) -> date | None:
    if value is not None and not isinstance(value, date):
        raise InvalidInput(f"{name}: expected a date, got {type(value).__name__}")
    return value


def _focus(values: Iterable[str] | None) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        raise InvalidInput("focus_criteria: expected a list of criterion ids, got one string")
    out: list[str] = []
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(f"focus_criteria[{i}]: expected a non-empty criterion id")
        value = value.strip()
        if len(value) > CRITERION_ID_MAX:
            raise InvalidInput(f"focus_criteria[{i}]: at most {CRITERION_ID_MAX} characters")
        if value not in out:
            out.append(value)
    if len(out) > FOCUS_MAX:
        raise InvalidInput(f"focus_criteria: at most {FOCUS_MAX} criteria (got {len(out)})")
    return out


def _trainer(session: Session, trainer_id: int | None) -> int | None:
    if trainer_id is None:
        return None
    user = session.get(User, trainer_id)
    if user is None or not user.is_active or user.role not in MANAGER_ROLES:
        raise InvalidInput(
            f"trainer_id: user {trainer_id} is not an active trainer, QA lead or admin"
        )
    return user.id


def _snapshot(cs: CoachingSession) -> dict[str, Any]:
    """The session's editable state as JSON for the audit trail."""
    return {
        "agent_id": cs.agent_id,
        "trainer_id": cs.trainer_id,
        "status": cs.status,
        "focus_criteria": list(cs.focus_criteria or []),
        "notes": cs.notes,
        "due_date": cs.due_date.isoformat() if cs.due_date else None,
        "follow_up": cs.follow_up,
        "follow_up_date": cs.follow_up_date.isoformat() if cs.follow_up_date else None,
        "flag_ids": [link.flag_id for link in cs.flag_links],
    }


def _flush(session: Session, session_id: int) -> None:
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(
            f"coaching session {session_id} was changed by someone else; reload and try again"
        ) from exc


# ---------------------------------------------------------------------------- lifecycle


def create_session(
    session: Session,
    actor: User,
    flag_ids: Sequence[int] = (),
    *,
    agent_id: int | None = None,
    due_date: date | None = None,
    notes: str = "",
    focus_criteria: Sequence[str] | None = None,
    trainer_id: int | None = None,
) -> CoachingSession:
    """Plan a session for one agent, covering ``flag_ids`` (all of that agent, all open).

    Without flags, ``agent_id`` names the agent (a session the rules did not
    ask for). The focus defaults to the flags' criteria (or their subjects when
    a flag has no criterion); the trainer defaults to the actor.
    """
    _require_manager(actor)
    flags = _flags(session, flag_ids) if flag_ids else []
    agents = {f.agent_id for f in flags}
    if len(agents) > 1:
        raise InvalidInput("flag_ids: a session is for one agent; the flags are of several agents")
    if flags and agent_id is not None and agent_id not in agents:
        raise InvalidInput(f"agent_id: the flags are not about agent {agent_id}")
    target = next(iter(agents)) if flags else agent_id
    if target is None:
        raise InvalidInput("agent_id: required when no coaching flag is given")
    if session.get(Agent, target) is None:
        raise NotFound(f"agent {target} not found")
    for flag in flags:
        if flag.status != CoachingStatus.open.value:
            raise InvalidInput(
                f"flag_ids: coaching flag {flag.id} is {flag.status}; only open flags can be "
                "planned into a session"
            )
    focus = _focus(
        focus_criteria
        if focus_criteria is not None
        else [f.criterion_id or f.subject.split(":", 1)[-1] for f in flags]
    )
    cs = CoachingSession(
        agent_id=target,
        trainer_id=_trainer(session, trainer_id) if trainer_id is not None else actor.id,
        created_from_flag_id=flags[0].id if flags else None,
        focus_criteria=focus,
        notes=_text(notes, "notes", required=True) or "",
        due_date=_date(due_date, "due_date"),
        status=CoachingSessionStatus.planned.value,
    )
    cs.flag_links = [CoachingSessionFlag(flag_id=f.id) for f in flags]
    session.add(cs)
    session.flush()
    for flag in flags:
        set_status(session, flag.id, CoachingStatus.in_session.value, actor)
    audit.record(session, actor, "create", "coaching_session", cs.id, after=_snapshot(cs))
    return cs


def update_session(
    session: Session,
    actor: User,
    session_id: int,
    *,
    expected_version: int | None = None,
    status: str | _Unset = UNSET,
    notes: str | _Unset = UNSET,
    due_date: date | _Unset | None = UNSET,
    focus_criteria: Sequence[str] | _Unset = UNSET,
    follow_up: str | _Unset | None = UNSET,
    follow_up_date: date | _Unset | None = UNSET,
    trainer_id: int | _Unset = UNSET,
) -> CoachingSession:
    """Change what was given; a status change completes or cancels the session.

    ``planned`` -> ``done`` resolves the covered flags that are still in session;
    ``planned`` -> ``cancelled`` reopens them (unless another planned session
    covers them). Done and cancelled are final, but their notes and follow-up
    can still be written. ``expected_version`` (the ``lock_version`` the page
    loaded) turns a concurrent edit into :class:`Conflict`.
    """
    _require_manager(actor)
    cs = session.get(CoachingSession, session_id)
    if cs is None:
        raise NotFound(f"coaching session {session_id} not found")
    if expected_version is not None and cs.lock_version != expected_version:
        raise Conflict(
            f"coaching session {session_id} was changed by someone else; reload and try again"
        )
    before = _snapshot(cs)
    changes: dict[str, Any] = {}
    if not isinstance(notes, _Unset):
        changes["notes"] = _text(notes, "notes", required=True)
    if not isinstance(due_date, _Unset):
        changes["due_date"] = _date(due_date, "due_date")
    if not isinstance(focus_criteria, _Unset):
        changes["focus_criteria"] = _focus(focus_criteria)
    if not isinstance(follow_up, _Unset):
        changes["follow_up"] = _text(follow_up, "follow_up") or None
    if not isinstance(follow_up_date, _Unset):
        changes["follow_up_date"] = _date(follow_up_date, "follow_up_date")
    if not isinstance(trainer_id, _Unset):
        changes["trainer_id"] = _trainer(session, trainer_id)
    new_status = cs.status
    if not isinstance(status, _Unset) and status != cs.status:
        if status not in STATUSES:
            raise InvalidInput(f"status: unknown {status!r}; expected one of {', '.join(STATUSES)}")
        if cs.status in FINAL:
            raise InvalidInput(f"status: a {cs.status} session cannot become {status}")
        new_status = status
    for name, value in changes.items():
        setattr(cs, name, value)
    if new_status != cs.status:
        cs.status = new_status
        if new_status == CoachingSessionStatus.done.value:
            cs.completed_at = utcnow()
    after = _snapshot(cs)
    if after == before:
        return cs
    _flush(session, cs.id)
    action = "update"
    if new_status != before["status"]:
        _settle_flags(session, actor, cs)
        action = "complete" if new_status == CoachingSessionStatus.done.value else "cancel"
    changed = [k for k in after if after[k] != before[k]]
    audit.record(
        session,
        actor,
        action,
        "coaching_session",
        cs.id,
        before={k: before[k] for k in changed},
        after={k: after[k] for k in changed},
    )
    return cs


def complete_session(
    session: Session,
    actor: User,
    session_id: int,
    *,
    expected_version: int | None = None,
    follow_up: str | _Unset | None = UNSET,
    follow_up_date: date | _Unset | None = UNSET,
) -> CoachingSession:
    """The session took place: resolve its flags and record the follow-up."""
    return update_session(
        session,
        actor,
        session_id,
        expected_version=expected_version,
        status=CoachingSessionStatus.done.value,
        follow_up=follow_up,
        follow_up_date=follow_up_date,
    )


def cancel_session(
    session: Session, actor: User, session_id: int, *, expected_version: int | None = None
) -> CoachingSession:
    """The session will not take place: its flags go back to the queue."""
    return update_session(
        session,
        actor,
        session_id,
        expected_version=expected_version,
        status=CoachingSessionStatus.cancelled.value,
    )


def _settle_flags(session: Session, actor: User, cs: CoachingSession) -> None:
    flag_ids = [link.flag_id for link in cs.flag_links]
    if not flag_ids:
        return
    if cs.status == CoachingSessionStatus.done.value:
        target = CoachingStatus.resolved.value
        keep: set[int] = set()
    else:
        target = CoachingStatus.open.value
        keep = set(
            session.scalars(
                select(CoachingSessionFlag.flag_id)
                .join(CoachingSession)
                .where(
                    CoachingSessionFlag.flag_id.in_(flag_ids),
                    CoachingSession.id != cs.id,
                    CoachingSession.status == CoachingSessionStatus.planned.value,
                )
            )
        )
    for flag in session.scalars(select(CoachingFlag).where(CoachingFlag.id.in_(flag_ids))):
        # A flag someone dismissed or resolved meanwhile keeps that decision.
        if flag.status == CoachingStatus.in_session.value and flag.id not in keep:
            set_status(session, flag.id, target, actor)


# ---------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class SessionFilters:
    agent_id: int | None = None
    team_id: int | None = None
    trainer_id: int | None = None
    statuses: tuple[str, ...] | None = None
    limit: int = 500


def _sessions_query(agent_scope: int | None) -> Select[tuple[CoachingSession]]:
    stmt = select(CoachingSession).options(
        selectinload(CoachingSession.agent),
        selectinload(CoachingSession.trainer),
        selectinload(CoachingSession.flag_links),
    )
    if agent_scope is not None:
        stmt = stmt.where(CoachingSession.agent_id == agent_scope)
    return stmt


def list_sessions(
    session: Session, viewer: User, filters: SessionFilters | None = None
) -> list[CoachingSession]:
    """Sessions ``viewer`` may see: planned ones first (soonest due first), then the rest
    newest first. An agent gets only their own, whatever the filters say."""
    f = filters or SessionFilters()
    stmt = _sessions_query(_own_agent_or_all(viewer))
    if f.agent_id is not None:
        stmt = stmt.where(CoachingSession.agent_id == f.agent_id)
    if f.team_id is not None:
        stmt = stmt.join(Agent, Agent.id == CoachingSession.agent_id).where(
            Agent.team_id == f.team_id
        )
    if f.trainer_id is not None:
        stmt = stmt.where(CoachingSession.trainer_id == f.trainer_id)
    if f.statuses:
        stmt = stmt.where(CoachingSession.status.in_(f.statuses))
    planned_first = case(
        (CoachingSession.status == CoachingSessionStatus.planned.value, 0), else_=1
    )
    stmt = stmt.order_by(
        planned_first,
        CoachingSession.due_date.is_(None),
        case(
            (
                CoachingSession.status == CoachingSessionStatus.planned.value,
                CoachingSession.due_date,
            ),
            else_=None,
        ),
        CoachingSession.id.desc(),
    ).limit(f.limit)
    return list(session.scalars(stmt))


def get_session(session: Session, viewer: User, session_id: int) -> CoachingSession:
    """One session; another agent's session is :class:`NotFound` (no probing of ids)."""
    scope = _own_agent_or_all(viewer)
    cs = session.scalars(_sessions_query(scope).where(CoachingSession.id == session_id)).first()
    if cs is None:
        raise NotFound(f"coaching session {session_id} not found")
    return cs


def session_flags(session: Session, viewer: User, session_id: int) -> list[CoachingFlag]:
    """The flags a session covers (an agent does not see dismissed ones)."""
    cs = get_session(session, viewer, session_id)
    ids = [link.flag_id for link in cs.flag_links]
    if not ids:
        return []
    stmt = select(CoachingFlag).where(CoachingFlag.id.in_(ids)).order_by(CoachingFlag.id)
    if viewer.role not in MANAGER_ROLES:
        stmt = stmt.where(CoachingFlag.status != CoachingStatus.dismissed.value)
    return list(session.scalars(stmt))


@dataclass
class CoachingHistory:
    """An agent's coaching record: recommendations and sessions, newest first."""

    agent: Agent
    flags: list[CoachingFlag]
    sessions: list[CoachingSession]
    #: flag id -> ids of the sessions that covered it
    sessions_of_flag: dict[int, list[int]] = field(default_factory=dict)


def agent_history(session: Session, viewer: User, agent_id: int) -> CoachingHistory:
    """Everything about one agent's coaching. Managers: any agent; an agent: only
    themselves (dismissed recommendations left out); reviewers: refused."""
    scope = _own_agent_or_all(viewer)
    if scope is not None and scope != agent_id:
        raise PermissionDenied("agents may only see their own coaching")
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFound(f"agent {agent_id} not found")
    rank = case({"high": 0, "medium": 1, "low": 2}, value=CoachingFlag.priority, else_=3)
    flag_stmt = (
        select(CoachingFlag)
        .where(CoachingFlag.agent_id == agent_id)
        .order_by(CoachingFlag.period.desc(), rank, CoachingFlag.id)
    )
    if scope is not None:
        flag_stmt = flag_stmt.where(CoachingFlag.status != CoachingStatus.dismissed.value)
    flags = list(session.scalars(flag_stmt))
    sessions = list(
        session.scalars(
            _sessions_query(agent_id).order_by(
                CoachingSession.created_at.desc(), CoachingSession.id.desc()
            )
        )
    )
    covered: dict[int, list[int]] = defaultdict(list)
    for cs in sessions:
        for link in cs.flag_links:
            covered[link.flag_id].append(cs.id)
    return CoachingHistory(agent, flags, sessions, dict(covered))


def my_coaching(session: Session, agent_user: User) -> CoachingHistory:
    """The signed-in agent's own coaching (the user row decides who that is)."""
    if agent_user.role != Role.agent.value or agent_user.agent_id is None:
        raise PermissionDenied("only an account linked to an agent has coaching of its own")
    return agent_history(session, agent_user, agent_user.agent_id)


def coachable_agents(session: Session, viewer: User) -> list[Agent]:
    """Agents a manager can pick on the history and scorecard pages (active first)."""
    _require_manager(viewer)
    return list(
        session.scalars(select(Agent).order_by(Agent.is_active.desc(), Agent.name, Agent.id))
    )


def coaches(session: Session, viewer: User) -> list[User]:
    """Active users who can run a session (the trainer a lead may assign)."""
    _require_manager(viewer)
    return list(
        session.scalars(
            select(User)
            .where(User.is_active.is_(True), User.role.in_(sorted(MANAGER_ROLES)))
            .order_by(User.display_name, User.id)
        )
    )


__all__ = [
    "MANAGER_ROLES",
    "UNSET",
    "CoachingHistory",
    "FlagQuery",
    "SessionFilters",
    "agent_history",
    "cancel_session",
    "coachable_agents",
    "coaches",
    "complete_session",
    "create_session",
    "dismiss_flags",
    "flag_criteria",
    "flag_periods",
    "get_session",
    "list_sessions",
    "my_coaching",
    "queue_flags",
    "session_flags",
    "update_session",
]
