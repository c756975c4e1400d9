"""Keeps ``criterion_rollups`` and ``review_rollups`` equal to what they sum, in every flush.

The team dashboard's figures over a year would otherwise read every answer (a
million rows is a quarter of a second on SQLite) and every review; the
roll-ups hold the same sums per UTC month and filter key (criterion or agent,
team, channel, language), so a year is a few thousand rows.

Why session events and not code in ``reviews.save_review``: every ORM write
of a review or an answer goes through here - the review service, the dispute
service (via ``save_review``), tests and scripts that add rows directly - so a
roll-up cannot drift because some caller forgot it. The change is applied in
the same flush, so it commits or rolls back with the rows themselves
(savepoints included).

How they stay exact: before a row is updated or deleted its *stored* state is
read back from the database (what the roll-up currently counts); after the
flush the new stored state of every inserted or updated row is read again.
The roll-up gets new minus old, bucket by bucket, as upserts of deltas
(``SET answered = answered + :delta``), which is safe when two transactions
change the same bucket at once: each adds its own delta to whatever the other
committed. Deltas are applied in one fixed order (criterion buckets, then
review buckets, each sorted by key), so concurrent flushes lock buckets in the
same order (no deadlock on PostgreSQL). Minimum and maximum scores are not
additive: a review bucket that lost a review gets them recomputed from its
reviews (one agent-month: an index range of a few dozen rows) after its row
is locked by the upsert, so the recomputation sees every committed change.
A bucket left empty is deleted, so each table equals ``rebuild_rollups``'
from-scratch aggregate (the float sums up to rounding of the additions).

Not seen here: Core/bulk statements on ``reviews`` or ``review_answers``
(``update()``, ``insert().values()``, raw SQL). Anything that writes them that
way must call ``rebuild_rollups`` afterwards (the benchmark's loader does).

This module also fills ``channel`` and ``language`` on reviews and answers
inserted without them (copied from the interaction and the review), so the
denormalised filter columns are always set.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    Table,
    and_,
    bindparam,
    case,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapper, Session, attributes, object_session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from qa.models import (
    CriterionRollup,
    Interaction,
    Review,
    ReviewAnswer,
    ReviewRollup,
    ReviewStatus,
    UTCDateTime,
)

_PENDING = "qa.rollups.pending"
_CHUNK = 500
#: Score histogram: ten bands of ten points; 100 falls in the last one.
BANDS = 10
BAND_WIDTH = 10


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


def month_range(key: str) -> tuple[datetime, datetime]:
    """[start, end) of a ``YYYY-MM`` UTC month."""
    year, month = int(key[:4]), int(key[5:7])
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return datetime(year, month, 1, tzinfo=UTC), end


def band_of(score: float) -> int:
    """The score band of a score, exactly as ``score_band`` computes it in SQL."""
    for k in range(BANDS - 1, 0, -1):
        if score >= k * BAND_WIDTH:
            return k
    return 0


def score_band(score: Any) -> ColumnElement[int]:
    """SQL: the band (0-9) of a score column; callers exclude NULL scores."""
    return case(*[(score >= k * BAND_WIDTH, k) for k in range(BANDS - 1, 0, -1)], else_=0)


def _true(column: Any) -> ColumnElement[int]:
    return case((column == True, 1), else_=0)  # noqa: E712  (portable boolean test)


# ---------------------------------------------------------------------------- what is summed


@dataclass(frozen=True)
class _Spec:
    """One roll-up: its source rows, bucket key, additive sums, and emptiness test."""

    name: str
    source: Table
    target: Table
    tracked: tuple[str, ...]  # source columns the roll-up depends on
    keys: tuple[str, ...]  # target key columns
    sums: tuple[str, ...]  # target additive columns
    counts: Callable[[Any], bool]  # does a source row count at all?
    key_of: Callable[[Any], tuple[Any, ...]]
    sums_of: Callable[[Any], tuple[float, ...]]
    empty: tuple[str, ...]  # the bucket is empty when these are all zero
    extremes: bool = False  # score_min/score_max to maintain


def _answer_sums(row: Any) -> tuple[float, ...]:
    return (0, 1, 0.0) if row.pct is None else (1, 0, row.pct)


def _review_sums(row: Any) -> tuple[float, ...]:
    bands = [0] * BANDS
    if row.score is not None:
        bands[band_of(row.score)] = 1
    return (
        1,
        int(row.score is not None),
        row.score or 0.0,
        int(bool(row.auto_fail)),
        *bands,
    )


BAND_COLUMNS = tuple(f"band_{k}" for k in range(BANDS))

ANSWERS = _Spec(
    name="criterion",
    source=ReviewAnswer.__table__,
    target=CriterionRollup.__table__,
    tracked=(
        "criterion_id",
        "team_id",
        "channel",
        "language",
        "interaction_at",
        "submitted",
        "pct",
    ),
    keys=("utc_month", "criterion_id", "team_key", "channel", "language"),
    sums=("answered", "na", "pct_sum"),
    counts=lambda row: bool(row.submitted),
    key_of=lambda row: (
        month_key(row.interaction_at),
        row.criterion_id,
        row.team_id or 0,
        row.channel,
        row.language,
    ),
    sums_of=_answer_sums,
    empty=("answered", "na"),
)
REVIEWS = _Spec(
    name="review",
    source=Review.__table__,
    target=ReviewRollup.__table__,
    tracked=(
        "agent_id",
        "team_id",
        "channel",
        "language",
        "interaction_at",
        "status",
        "score",
        "auto_fail",
    ),
    keys=("utc_month", "agent_id", "team_key", "channel", "language"),
    sums=("reviews", "scored", "score_sum", "fails", *BAND_COLUMNS),
    counts=lambda row: row.status == ReviewStatus.submitted.value,
    key_of=lambda row: (
        month_key(row.interaction_at),
        row.agent_id,
        row.team_id or 0,
        row.channel,
        row.language,
    ),
    sums_of=_review_sums,
    empty=("reviews",),
    extremes=True,
)
SPECS = (ANSWERS, REVIEWS)  # also the order buckets are locked in
_SPEC_OF = {ReviewAnswer: ANSWERS, Review: REVIEWS}


def _columns(spec: _Spec) -> list[Any]:
    return [spec.source.c.id, *(spec.source.c[name] for name in spec.tracked)]


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


# ---------------------------------------------------------------------------- maintenance


def _pending(target: Any) -> dict[str, Any] | None:
    """Per-session notes for this flush: {spec name: {"old": {id: row}, "new": {ids}}}."""
    session = object_session(target)
    if session is None:
        return None
    notes = session.info.setdefault(_PENDING, {})
    return notes.setdefault(_SPEC_OF[type(target)].name, {"old": {}, "new": set()})


def _read_old(connection: Connection, target: Any) -> None:
    spec = _SPEC_OF[type(target)]
    notes = _pending(target)
    if notes is not None and target.id not in notes["old"]:
        notes["old"][target.id] = connection.execute(
            select(*_columns(spec)).where(spec.source.c.id == target.id)
        ).one_or_none()


@event.listens_for(Session, "before_flush")
def _reset(session: Session, *_: Any) -> None:
    # A flush that failed half-way may have left notes behind; its rows were rolled back.
    session.info.pop(_PENDING, None)


@event.listens_for(ReviewAnswer, "before_update")
@event.listens_for(Review, "before_update")
def _before_update(_mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    spec = _SPEC_OF[type(target)]
    if not any(attributes.get_history(target, name).has_changes() for name in spec.tracked):
        return  # nothing the roll-up counts has changed
    _read_old(connection, target)
    notes = _pending(target)
    if notes is not None:
        notes["new"].add(target.id)


@event.listens_for(ReviewAnswer, "before_delete")
@event.listens_for(Review, "before_delete")
def _before_delete(_mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    _read_old(connection, target)


@event.listens_for(ReviewAnswer, "after_insert")
@event.listens_for(Review, "after_insert")
def _after_insert(_mapper: Mapper[Any], _connection: Connection, target: Any) -> None:
    notes = _pending(target)
    if notes is not None:
        notes["new"].add(target.id)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    notes = session.info.pop(_PENDING, None)
    if not notes:
        return
    connection = session.connection()
    for spec in SPECS:
        pending = notes.get(spec.name)
        if not pending or not (pending["old"] or pending["new"]):
            continue
        old = [row for row in pending["old"].values() if row is not None]
        new = _read_rows(connection, spec, sorted(pending["new"]))
        apply_changes(connection, spec, old, new)


def _read_rows(connection: Connection, spec: _Spec, ids: Sequence[int]) -> list[Any]:
    rows: list[Any] = []
    for k in range(0, len(ids), _CHUNK):
        chunk = ids[k : k + _CHUNK]
        rows.extend(connection.execute(select(*_columns(spec)).where(spec.source.c.id.in_(chunk))))
    return rows


def apply_changes(
    connection: Connection, spec: _Spec, old: Iterable[Any], new: Iterable[Any]
) -> None:
    """Move the roll-up from counting ``old`` rows to counting ``new`` ones."""
    deltas: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0] * len(spec.sums))
    low: dict[tuple[Any, ...], float] = {}
    high: dict[tuple[Any, ...], float] = {}
    shrunk: set[tuple[Any, ...]] = set()
    for row in old:
        if spec.counts(row):
            key = spec.key_of(row)
            shrunk.add(key)
            for i, v in enumerate(spec.sums_of(row)):
                deltas[key][i] -= v
    for row in new:
        if spec.counts(row):
            key = spec.key_of(row)
            for i, v in enumerate(spec.sums_of(row)):
                deltas[key][i] += v
            if spec.extremes and row.score is not None:
                low[key] = min(low.get(key, row.score), row.score)
                high[key] = max(high.get(key, row.score), row.score)
    params = []
    for key in sorted(deltas):
        d = deltas[key]
        if not any(d) and key not in shrunk:
            continue
        p = dict(zip(spec.keys, key, strict=True))
        p.update(zip(spec.sums, d, strict=True))
        if spec.extremes:
            p["score_min"], p["score_max"] = low.get(key), high.get(key)
        params.append(p)
    if not params:
        return
    connection.execute(_upsert(connection, spec), params)
    if shrunk:
        gone = [dict(zip(spec.keys, key, strict=True)) for key in sorted(shrunk)]
        if spec.extremes:
            _recompute_extremes(connection, spec, gone)
        t = spec.target
        connection.execute(
            delete(t).where(
                *(t.c[k] == bindparam(f"k_{k}") for k in spec.keys),
                *(t.c[c] == 0 for c in spec.empty),
            ),
            [{f"k_{k}": p[k] for k in spec.keys} for p in gone],
        )


def _upsert(connection: Connection, spec: _Spec) -> Any:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(spec.target)
    elif dialect == "sqlite":
        stmt = sqlite.insert(spec.target)
    else:  # pragma: no cover - the project supports these two
        raise RuntimeError(f"roll-ups need an upsert; unsupported database {dialect!r}")
    t, new = spec.target, stmt.excluded
    changes: dict[str, Any] = {c: t.c[c] + new[c] for c in spec.sums}
    if spec.extremes:
        # NULL-safe least/greatest (SQLite's min(a, b) is NULL when either is).
        changes["score_min"] = case(
            (new.score_min.is_(None), t.c.score_min),
            (t.c.score_min.is_(None) | (new.score_min < t.c.score_min), new.score_min),
            else_=t.c.score_min,
        )
        changes["score_max"] = case(
            (new.score_max.is_(None), t.c.score_max),
            (t.c.score_max.is_(None) | (new.score_max > t.c.score_max), new.score_max),
            else_=t.c.score_max,
        )
    return stmt.on_conflict_do_update(index_elements=list(spec.keys), set_=changes)


def _recompute_extremes(connection: Connection, spec: _Spec, keys: list[dict[str, Any]]) -> None:
    """Lowest and highest score of each review bucket, from its reviews."""
    r, t = spec.source.c, spec.target
    bucket = and_(
        r.status == ReviewStatus.submitted.value,
        r.agent_id == bindparam("k_agent_id"),
        r.interaction_at >= bindparam("k_from", type_=UTCDateTime()),
        r.interaction_at < bindparam("k_to", type_=UTCDateTime()),
        func.coalesce(r.team_id, 0) == bindparam("k_team_key"),
        r.channel == bindparam("k_channel"),
        r.language == bindparam("k_language"),
    )
    stmt = (
        update(t)
        .where(*(t.c[k] == bindparam(f"k_{k}") for k in spec.keys))
        .values(
            score_min=select(func.min(r.score)).where(bucket).scalar_subquery(),
            score_max=select(func.max(r.score)).where(bucket).scalar_subquery(),
        )
    )
    params = []
    for key in keys:
        start, end = month_range(key["utc_month"])
        params.append({**{f"k_{k}": v for k, v in key.items()}, "k_from": start, "k_to": end})
    connection.execute(stmt, params)


# ---------------------------------------------------------------------------- from scratch


def rollup_select() -> Any:
    """``criterion_rollups``' contents computed from the answers (what maintenance must equal)."""
    a = ReviewAnswer.__table__.c
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


def review_rollup_select() -> Any:
    """``review_rollups``' contents computed from the reviews (what maintenance must equal)."""
    r = Review.__table__.c
    month = utc_month(r.interaction_at)
    team_key = func.coalesce(r.team_id, 0)
    band = score_band(r.score)
    return (
        select(
            month.label("utc_month"),
            r.agent_id,
            team_key.label("team_key"),
            r.channel,
            r.language,
            func.count().label("reviews"),
            func.count(r.score).label("scored"),
            func.coalesce(func.sum(r.score), 0.0).label("score_sum"),
            func.sum(_true(r.auto_fail)).label("fails"),
            func.min(r.score).label("score_min"),
            func.max(r.score).label("score_max"),
            *(
                func.sum(case((r.score.is_not(None) & (band == k), 1), else_=0)).label(f"band_{k}")
                for k in range(BANDS)
            ),
        )
        .where(r.status == ReviewStatus.submitted.value)
        .group_by(month, r.agent_id, team_key, r.channel, r.language)
    )


def rebuild_rollups(session: Session) -> dict[str, int]:
    """Recompute both roll-ups from their rows; returns the number of buckets of each.

    For bulk loads that bypass the ORM, and as the reference the maintenance is
    tested against. Runs in the caller's transaction.
    """
    session.flush()
    connection = session.connection()
    out = {}
    for spec, query in ((ANSWERS, rollup_select()), (REVIEWS, review_rollup_select())):
        connection.execute(delete(spec.target))
        names = [c.name for c in query.selected_columns]
        connection.execute(insert(spec.target).from_select(names, query))
        out[spec.target.name] = int(
            connection.scalar(select(func.count()).select_from(spec.target)) or 0
        )
    return out
