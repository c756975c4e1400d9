"""Alembic migrations, plus the filter that keeps foreign tables out of comparisons.

APScheduler's ``SQLAlchemyJobStore`` creates its own table in our database (the
scheduler runs on the same URL). It is not ours, so Alembic must neither try to
drop it on autogenerate nor report it as a difference.
"""

from __future__ import annotations

from typing import Any

SCHEDULER_JOBS_TABLE = "apscheduler_jobs"
FOREIGN_TABLES = frozenset({SCHEDULER_JOBS_TABLE})


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic ``include_object`` hook: skip tables (and their indexes) we do not own."""
    if type_ == "table" and name in FOREIGN_TABLES:
        return False
    table = getattr(obj, "table", None)
    return not (
        type_ in {"index", "column", "unique_constraint"}
        and getattr(table, "name", None) in FOREIGN_TABLES
    )
