"""Keeps ``criterion_rollups`` equal to the sums of the submitted answers, in every flush.

The team dashboard's criterion averages over a year would otherwise read every
answer (a million rows is a quarter of a second on SQLite); the roll-up holds
the same sums per UTC month, criterion, team, channel and language, so a year
is a few thousand rows.

Why session events and not code in ``reviews.save_review``: every ORM write
of an answer goes through here - the review service, the dispute service (via
``save_review``), tests and scripts that add rows directly - so the roll-up
cannot drift because some caller forgot it. The change is applied in the same
flush, so it commits or rolls back with the answers themselves (savepoints
included).

How it stays exact: before an answer row is updated or deleted its *stored*
state is read back from the database (what the roll-up currently counts);
after the flush the new stored state of every inserted or updated row is read
again. The roll-up gets new minus old, bucket by bucket, as upserts of deltas
(``SET answered = answered + :delta``), which is safe when two transactions
change the same bucket at once: each adds its own delta to whatever the other
committed. Deltas are applied in key order, so two flushes lock buckets in
the same order (no deadlock on PostgreSQL). A bucket left with no answers is
deleted, so the table equals ``rebuild_rollups``' from-scratch aggregate (the
float ``pct_sum`` up to rounding of the additions).

Not seen here: Core/bulk statements on ``review_answers`` (``update()``,
``insert().values()``, raw SQL). Anything that writes answers that way must
call ``rebuild_rollups`` afterwards (the benchmark's bulk loader does).

This module also fills ``channel`` and ``language`` on reviews and answers
inserted without them (copied from the interaction and the review), so the
denormalised filter columns are always set.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, String, bindparam, delete, event, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapper, Session, attributes, object_session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from qa.models import CriterionRollup, Interaction, Review, ReviewAnswer

_PENDING = "qa.rollups.pending"
#: Answer columns whose change moves the answer between buckets or changes its sums.
_TRACKED = ("criterion_id", "team_id", "channel", "language", "interaction_at", "submitted", "pct")
_ANSWERS = ReviewAnswer.__table__
_ROLLUPS = CriterionRollup.__table__
_ROW = [_ANSWERS.c.id, *(_ANSWERS.c[name] for name in _TRACKED)]
_CHUNK = 500

Key = tuple[str, str, int, str, str]


class utc_month(FunctionElement[str]):
    """``YYYY-MM`` of a stored UTC timestamp, in SQL, on SQLite and PostgreSQL."""

    type = String()
    name = "utc_month"
    inherit_cache = True


@compiles(utc_month, "sqlite")
def _utc_month_sqlite(element: utc_month, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite stores the UTC time as text 'YYYY-MM-DD HH:MM:SS.ffffff'.
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 7)"


@compiles(utc_month, "postgresql")
def _utc_month_postgresql(element: utc_month, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC', 'YYYY-MM')"


def month_key(at: datetime) -> str:
    """The UTC month of an aware time, as ``utc_month`` computes it in SQL."""
    at = at.astimezone(UTC)
    return f"{at.year:04d}-{at.month:02d}"


# ---------------------------------------------------------------------------- denormalised copies


@event.listens_for(Review, "before_insert")
def _review_filters(_mapper: Mapper[Any], connection: Connection, target: Review) -> None:
    if target.channel is None or target.language is None:
        row = connection.execute(
            select(Interaction.channel, Interaction.language).where(
                Interaction.id == target.interaction_id
            )
        ).one()
        target.channel = target.channel or row.channel
        target.language = target.language or row.language


@event.listens_for(ReviewAnswer, "before_insert")
def _answer_filters(_mapper: Mapper[Any], connection: Connection, target: ReviewAnswer) -> None:
    if target.channel is None or target.language is None:
        review = target.__dict__.get("review")
        if review is not None and review.channel is not None:
            channel, language = review.channel, review.language
        else:
            channel, language = connection.execute(
                select(Review.channel, Review.language).where(Review.id == target.review_id)
            ).one()
        target.channel = target.channel or channel
        target.language = target.language or language


# ---------------------------------------------------------------------------- roll-up maintenance


def _pending(session: Session | None) -> dict[str, Any] | None:
    if session is None:
        return None
    return session.info.setdefault(_PENDING, {"old": {}, "new": set()})


def _read_row(connection: Connection, answer_id: int) -> Any:
    return connection.execute(select(*_ROW).where(_ANSWERS.c.id == answer_id)).one_or_none()


@event.listens_for(Session, "before_flush")
def _reset(session: Session, *_: Any) -> None:
    # A flush that failed half-way may have left notes behind; its rows were rolled back.
    session.info.pop(_PENDING, None)


@event.listens_for(ReviewAnswer, "before_update")
def _before_update(_mapper: Mapper[Any], connection: Connection, target: ReviewAnswer) -> None:
    if not any(attributes.get_history(target, name).has_changes() for name in _TRACKED):
        return  # nothing the roll-up counts has changed
    pending = _pending(object_session(target))
    if pending is not None and target.id not in pending["old"]:
        pending["old"][target.id] = _read_row(connection, target.id)
        pending["new"].add(target.id)


@event.listens_for(ReviewAnswer, "before_delete")
def _before_delete(_mapper: Mapper[Any], connection: Connection, target: ReviewAnswer) -> None:
    pending = _pending(object_session(target))
    if pending is not None and target.id not in pending["old"]:
        pending["old"][target.id] = _read_row(connection, target.id)


@event.listens_for(ReviewAnswer, "after_insert")
def _after_insert(_mapper: Mapper[Any], _connection: Connection, target: ReviewAnswer) -> None:
    pending = _pending(object_session(target))
    if pending is not None:
        pending["new"].add(target.id)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending or not (pending["old"] or pending["new"]):
        return
    connection = session.connection()
    new_rows = _read_rows(connection, sorted(pending["new"]))
    deltas: dict[Key, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    _add(deltas, (r for r in pending["old"].values() if r is not None), -1)
    _add(deltas, new_rows, +1)
    apply_deltas(connection, deltas)


def _read_rows(connection: Connection, ids: Sequence[int]) -> list[Any]:
    rows: list[Any] = []
    for k in range(0, len(ids), _CHUNK):
        chunk = ids[k : k + _CHUNK]
        rows.extend(connection.execute(select(*_ROW).where(_ANSWERS.c.id.in_(chunk))))
    return rows


def _add(deltas: dict[Key, list[float]], rows: Iterable[Any], sign: int) -> None:
    for row in rows:
        if not row.submitted:
            continue  # drafts never count
        key = (
            month_key(row.interaction_at),
            row.criterion_id,
            row.team_id or 0,
            row.channel,
            row.language,
        )
        d = deltas[key]
        if row.pct is None:
            d[1] += sign
        else:
            d[0] += sign
            d[2] += sign * row.pct


def apply_deltas(connection: Connection, deltas: dict[Key, list[float]]) -> None:
    """Add (answered, na, pct_sum) deltas to their buckets, in key order; drop emptied buckets."""
    params = [
        {
            "utc_month": k[0],
            "criterion_id": k[1],
            "team_key": k[2],
            "channel": k[3],
            "language": k[4],
            "answered": int(d[0]),
            "na": int(d[1]),
            "pct_sum": float(d[2]),
        }
        for k, d in sorted(deltas.items())
        if d[0] or d[1] or d[2]
    ]
    if not params:
        return
    dialect = connection.dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(_ROLLUPS)
    elif dialect == "sqlite":
        stmt = sqlite.insert(_ROLLUPS)
    else:  # pragma: no cover - the project supports these two
        raise RuntimeError(f"roll-ups need an upsert; unsupported database {dialect!r}")
    keys = ["utc_month", "criterion_id", "team_key", "channel", "language"]
    stmt = stmt.on_conflict_do_update(
        index_elements=keys,
        set_={
            "answered": _ROLLUPS.c.answered + stmt.excluded.answered,
            "na": _ROLLUPS.c.na + stmt.excluded.na,
            "pct_sum": _ROLLUPS.c.pct_sum + stmt.excluded.pct_sum,
        },
    )
    connection.execute(stmt, params)
    shrunk = [p for p in params if p["answered"] < 0 or p["na"] < 0]
    if shrunk:
        connection.execute(
            delete(_ROLLUPS).where(
                *(_ROLLUPS.c[k] == bindparam(f"k_{k}") for k in keys),
                _ROLLUPS.c.answered == 0,
                _ROLLUPS.c.na == 0,
            ),
            [{f"k_{k}": p[k] for k in keys} for p in shrunk],
        )


# ---------------------------------------------------------------------------- from scratch


def rollup_select() -> Any:
    """The roll-up's contents computed from the answers (what maintenance must equal)."""
    a = _ANSWERS.c
    month = utc_month(a.interaction_at)
    team_key = func.coalesce(a.team_id, 0)
    return (
        select(
            month.label("utc_month"),
            a.criterion_id,
            team_key.label("team_key"),
            a.channel,
            a.language,
            func.count(a.pct).label("answered"),
            (func.count() - func.count(a.pct)).label("na"),
            func.coalesce(func.sum(a.pct), 0.0).label("pct_sum"),
        )
        .where(a.submitted == True)  # noqa: E712
        .group_by(month, a.criterion_id, team_key, a.channel, a.language)
    )


def rebuild_rollups(session: Session) -> int:
    """Recompute ``criterion_rollups`` from the answers; returns the number of buckets.

    For bulk loads that bypass the ORM, and as the reference the maintenance is
    tested against. Runs in the caller's transaction.
    """
    session.flush()
    connection = session.connection()
    connection.execute(delete(_ROLLUPS))
    cols = ["utc_month", "criterion_id", "team_key", "channel", "language", "answered", "na"]
    connection.execute(insert(_ROLLUPS).from_select([*cols, "pct_sum"], rollup_select()))
    return int(connection.scalar(select(func.count()).select_from(_ROLLUPS)) or 0)
