"""Stand-ins for ``scorecards.issue`` and ``scorecards.coaching`` while those are built
on another branch (see the task brief): the tests pre-create the issued Scorecard
rows, so "issuing" only records that the scheduler asked for the month. Installed
only when the real module cannot be imported, so after the merge the real code runs.
"""

from __future__ import annotations

import importlib
import sys
import types
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from qa.db import session_scope
from qa.models import AuditEvent
from qa.services import audit
from qa.services.periods import month_label

ISSUE_ACTION = "test.issue_month"
COACHING_ACTION = "test.refresh_coaching_flags"


def _issue_month(
    engine: Engine,
    year: int,
    month: int,
    tz: ZoneInfo,
    *,
    agent_ids: Any = None,
    out_dir: Any = None,
    processes: int = 1,
    now: datetime | None = None,
) -> dict[str, Any]:
    with session_scope(engine) as s:
        audit.record(s, None, ISSUE_ACTION, "scorecard_period", month_label(year, month))
    return {"period": month_label(year, month)}


def _refresh_coaching_flags(session: Session, year: int, month: int, tz: ZoneInfo) -> None:
    audit.record(session, None, COACHING_ACTION, "scorecard_period", month_label(year, month))


def install() -> list[str]:
    """Register the stand-ins for whichever real module is missing; returns their names."""
    installed = []
    for name, attr, fn in (
        ("scorecards.issue", "issue_month", _issue_month),
        ("scorecards.coaching", "refresh_coaching_flags", _refresh_coaching_flags),
    ):
        try:
            importlib.import_module(name)
        except ImportError:
            module = types.ModuleType(name)
            setattr(module, attr, fn)
            sys.modules[name] = module
            installed.append(name)
    return installed


def calls(engine: Engine, action: str = ISSUE_ACTION, period: str | None = None) -> int:
    """How often the stand-in was called (0 when the real module ran instead)."""
    with session_scope(engine) as s:
        query = select(func.count(AuditEvent.id)).where(AuditEvent.action == action)
        if period is not None:
            query = query.where(AuditEvent.entity_id == period)
        return s.scalar(query) or 0
