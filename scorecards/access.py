"""Who may read which issued scorecard (and its PDF).

An agent reads only their own scorecards: the agent is taken from the user
row, never from a page parameter, so asking for another agent's list is
refused and another agent's scorecard id is "not found". Trainers, QA leads
and admins read any agent's. Reviewers read none (they grade interactions;
an agent's monthly record is not theirs to browse).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from qa.models import Agent, Role, Scorecard, User
from qa.services.errors import NotFound, PermissionDenied
from scorecards.coaching import TRAINER_ROLES

READER_ROLES: Final[frozenset[str]] = TRAINER_ROLES
PDF_MIME: Final[str] = "application/pdf"


def pdf_file_name(period: str) -> str:
    """The download name: the period is YYYY-MM, so nothing needs cleaning."""
    return f"scorecard-{period}.pdf"


@dataclass(frozen=True)
class ScorecardEntry:
    """An issued scorecard as the lists show it; ``pdf`` only when asked for."""

    id: int
    agent_id: int
    agent_name: str
    agent_external_id: str
    period: str
    overall_pct: float | None
    auto_qa_only: bool
    issued_at: datetime
    has_pdf: bool
    pdf: bytes | None = None

    @property
    def file_name(self) -> str:
        return pdf_file_name(self.period)


def _scope(viewer: User) -> int | None:
    """``None``: every agent; else the only agent id the viewer may read."""
    if viewer.role in READER_ROLES:
        return None
    if viewer.role == Role.agent.value:
        if viewer.agent_id is None:
            raise PermissionDenied("this account is not linked to an agent")
        return viewer.agent_id
    raise PermissionDenied(f"{viewer.role} users may not read scorecards")


def _entries(stmt: Select, with_pdf: bool) -> Select:  # type: ignore[type-arg]
    columns = [
        Scorecard.id,
        Scorecard.agent_id,
        Agent.name,
        Agent.external_id,
        Scorecard.period,
        Scorecard.snapshot["kpis"]["overall_pct"].as_float(),
        Scorecard.auto_qa_only,
        Scorecard.issued_at,
        Scorecard.pdf.is_not(None),
    ]
    if with_pdf:
        columns.append(Scorecard.pdf)
    return stmt.with_only_columns(*columns).join(Agent, Agent.id == Scorecard.agent_id)


def list_scorecards(
    session: Session,
    viewer: User,
    agent_id: int | None = None,
    *,
    with_pdf: bool = False,
    limit: int = 240,
) -> list[ScorecardEntry]:
    """Issued scorecards, newest period first.

    An agent gets their own (``agent_id`` may be omitted; naming another agent
    is :class:`PermissionDenied`). Managers get ``agent_id``'s, or everyone's
    when it is omitted. The overall figure is read from the snapshot in SQL, so
    the PDFs are read only with ``with_pdf`` (one query either way).
    """
    scope = _scope(viewer)
    if scope is not None:
        if agent_id is not None and agent_id != scope:
            raise PermissionDenied("agents may only read their own scorecards")
        agent_id = scope
    stmt = _entries(select(Scorecard), with_pdf)
    if agent_id is not None:
        stmt = stmt.where(Scorecard.agent_id == agent_id)
    stmt = stmt.order_by(Scorecard.period.desc(), Agent.name, Scorecard.id).limit(limit)
    return [_entry(row, with_pdf) for row in session.execute(stmt)]


def _entry(row: Sequence[object], with_pdf: bool) -> ScorecardEntry:
    overall = row[5]
    return ScorecardEntry(
        id=int(row[0]),  # type: ignore[call-overload]
        agent_id=int(row[1]),  # type: ignore[call-overload]
        agent_name=str(row[2]),
        agent_external_id=str(row[3]),
        period=str(row[4]),
        overall_pct=None if overall is None else float(overall),  # type: ignore[arg-type]
        auto_qa_only=bool(row[6]),
        issued_at=row[7],  # type: ignore[arg-type]
        has_pdf=bool(row[8]),
        pdf=bytes(row[9]) if with_pdf and row[9] is not None else None,  # type: ignore[arg-type]
    )


def scorecard_pdf(session: Session, viewer: User, scorecard_id: int) -> ScorecardEntry:
    """One scorecard with its PDF bytes. Another agent's is :class:`NotFound` for an
    agent (the same answer as a missing id, so ids cannot be probed)."""
    scope = _scope(viewer)
    stmt = _entries(select(Scorecard), True).where(Scorecard.id == scorecard_id)
    if scope is not None:
        stmt = stmt.where(Scorecard.agent_id == scope)
    row = session.execute(stmt).first()
    if row is None or row[9] is None:
        raise NotFound(f"scorecard {scorecard_id} not found")
    return _entry(row, True)


__all__ = [
    "PDF_MIME",
    "READER_ROLES",
    "ScorecardEntry",
    "list_scorecards",
    "pdf_file_name",
    "scorecard_pdf",
]
