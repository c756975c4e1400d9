"""Append-only audit trail: every service that changes state records who, when, before, after."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from qa.models import AuditEvent, User


def record(
    session: Session,
    actor: User | None,
    action: str,
    entity_type: str,
    entity_id: object,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        actor_id=actor.id if actor is not None else None,
        actor=actor.username if actor is not None else "system",
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        before=before,
        after=after,
    )
    session.add(event)
    return event
