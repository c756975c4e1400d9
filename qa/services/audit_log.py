"""Reading the audit trail (admins only): filters and CSV/JSON export.

Writing stays in ``qa.services.audit``; this module never changes an event (the ORM and
the database both refuse), it only selects and serialises them.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qa.models import AuditEvent, Role, User
from qa.services.errors import InvalidInput, PermissionDenied

EXPORT_FIELDS = (
    "id",
    "at",
    "actor",
    "actor_id",
    "action",
    "entity_type",
    "entity_id",
    "before",
    "after",
)
MAX_ROWS = 10_000


def _require_admin(user: User) -> None:
    if user.role != Role.admin.value:
        raise PermissionDenied(f"{user.role} users may not read the audit log")


@dataclass(frozen=True)
class AuditFilter:
    entity_type: str | None = None
    actor: str | None = None  # username as recorded (or "system")
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    entity_id: str | None = None


def search(session: Session, user: User, flt: AuditFilter, *, limit: int = 500) -> list[AuditEvent]:
    """Events matching ``flt``, newest first (at most ``limit``, capped at MAX_ROWS)."""
    _require_admin(user)
    if flt.since is not None and flt.until is not None and flt.until <= flt.since:
        raise InvalidInput("date range: the end must be after the start")
    query = select(AuditEvent)
    if flt.entity_type:
        query = query.where(AuditEvent.entity_type == flt.entity_type)
    if flt.actor:
        query = query.where(AuditEvent.actor == flt.actor)
    if flt.entity_id:
        query = query.where(AuditEvent.entity_id == flt.entity_id)
    if flt.since is not None:
        query = query.where(AuditEvent.at >= flt.since)
    if flt.until is not None:
        query = query.where(AuditEvent.at < flt.until)
    limit = max(1, min(limit, MAX_ROWS))
    return list(
        session.scalars(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit))
    )


def entity_types(session: Session, user: User) -> list[str]:
    _require_admin(user)
    return sorted(session.scalars(select(AuditEvent.entity_type).distinct()))


def actors(session: Session, user: User) -> list[str]:
    _require_admin(user)
    return sorted(session.scalars(select(AuditEvent.actor).distinct()))


def event_dict(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "actor_id": event.actor_id,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "before": event.before,
        "after": event.after,
    }


def json_text(value: Any) -> str:
    """Before/after as JSON text for display and CSV cells (non-ASCII kept readable)."""
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def to_json(events: list[AuditEvent]) -> str:
    return json.dumps([event_dict(e) for e in events], ensure_ascii=False, indent=2, default=str)


def to_csv(events: list[AuditEvent]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(EXPORT_FIELDS), lineterminator="\n")
    writer.writeheader()
    for event in events:
        row = event_dict(event)
        row["before"] = json_text(row["before"])
        row["after"] = json_text(row["after"])
        writer.writerow({k: "" if row[k] is None else _safe_cell(row[k]) for k in EXPORT_FIELDS})
    return buffer.getvalue()


def _safe_cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas: audit text is user-controlled (names, comments)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
