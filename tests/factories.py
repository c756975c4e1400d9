"""Model factories: small functions with sensible defaults and unique values."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from qa.models import Agent, Interaction, Team, Turn, User

_seq = itertools.count(1)


def nxt() -> int:
    return next(_seq)


def team(session: Session, name: str | None = None) -> Team:
    obj = Team(name=name or f"Team {nxt()}")
    session.add(obj)
    session.flush()
    return obj


def agent(session: Session, *, team_: Team | None = None, locale: str = "en", **kw: Any) -> Agent:
    n = nxt()
    obj = Agent(
        external_id=kw.pop("external_id", f"A{n:05d}"),
        name=kw.pop("name", f"Agent {n}"),
        team_id=team_.id if team_ else None,
        locale=locale,
        is_active=True,
        **kw,
    )
    session.add(obj)
    session.flush()
    return obj


def user(
    session: Session, *, role: str = "reviewer", agent_: Agent | None = None, **kw: Any
) -> User:
    n = nxt()
    obj = User(
        username=kw.pop("username", f"user{n}"),
        display_name=kw.pop("display_name", f"User {n}"),
        role=role,
        locale=kw.pop("locale", "en"),
        agent_id=agent_.id if agent_ else None,
        team_id=agent_.team_id if agent_ else None,
        failed_logins=0,
        is_active=True,
        **kw,
    )
    session.add(obj)
    session.flush()
    return obj


def interaction(
    session: Session,
    *,
    agent_: Agent | None = None,
    turns: list[tuple[str, str, float | None, float | None]] | None = None,
    started_at: datetime | None = None,
    channel: str = "call",
    language: str = "en",
    **kw: Any,
) -> Interaction:
    agent_ = agent_ or agent(session)
    turns = turns or [
        ("agent", "Good morning, my name is Sam. How can I help?", 0.0, 3.0),
        ("customer", "My bill is wrong.", 3.5, 5.0),
        ("agent", "I understand, let me fix that for you. Thank you for calling!", 5.5, 9.0),
    ]
    obj = Interaction(
        source=kw.pop("source", "test"),
        external_id=kw.pop("external_id", f"I{nxt():06d}"),
        channel=channel,
        language=language,
        started_at=started_at or datetime(2026, 10, 15, 9, 0, tzinfo=UTC),
        agent_id=agent_.id,
        meta=kw.pop("meta", {}),
        turn_count=len(turns),
        **kw,
    )
    session.add(obj)
    session.flush()
    for seq, (speaker, text, start, end) in enumerate(turns):
        session.add(
            Turn(
                interaction_id=obj.id, seq=seq, speaker=speaker, text=text, start_s=start, end_s=end
            )
        )
    session.flush()
    return obj
