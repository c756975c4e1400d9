"""Typed ORM models.

Portable column types only (no PostgreSQL-only types), so the same migrations
run on the embedded SQLite default and on PostgreSQL. Times are timezone-aware
and stored in UTC. Aggregates that the dashboards and scorecards need per agent
per month are served by denormalised keys on ``reviews`` and ``review_answers``
(agent, team, interaction time) with matching composite indexes, so they never
need a join over the whole transcript tables.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes, normalised to UTC on the way in and out.

    SQLite has no timezone support; without this, values read back would be
    naive and comparisons with aware datetimes would fail.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; times must carry an offset")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Role(enum.StrEnum):
    admin = "admin"
    qa_lead = "qa_lead"
    reviewer = "reviewer"
    trainer = "trainer"
    agent = "agent"


class Channel(enum.StrEnum):
    call = "call"
    chat = "chat"
    email = "email"


class Speaker(enum.StrEnum):
    agent = "agent"
    customer = "customer"
    system = "system"


class ReviewStatus(enum.StrEnum):
    draft = "draft"
    submitted = "submitted"


LANGUAGES = ("en", "ar")


def _in(column: str, values: Any) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    agents: Mapped[list[Agent]] = relationship(back_populates="team")


class Agent(Base):
    """A person whose interactions are reviewed; ``external_id`` is the source system's id."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    email: Mapped[str | None] = mapped_column(String(320))
    locale: Mapped[str] = mapped_column(String(2), default="en")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    team: Mapped[Team | None] = relationship(back_populates="agents")
    user: Mapped[User | None] = relationship(back_populates="agent")

    __table_args__ = (CheckConstraint(_in("locale", LANGUAGES), name="locale"),)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(120), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(2), default="en")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
    last_login_at: Mapped[datetime | None] = mapped_column()
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), unique=True
    )
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    agent: Mapped[Agent | None] = relationship(back_populates="user")

    __table_args__ = (
        CheckConstraint(_in("role", Role), name="role"),
        CheckConstraint(_in("locale", LANGUAGES), name="locale"),
    )

    def __repr__(self) -> str:  # never show the hash
        return f"User(id={self.id!r}, username={self.username!r}, role={self.role!r})"


class Interaction(Base):
    __tablename__ = "interactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(100), default="import")
    external_id: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(8))
    language: Mapped[str] = mapped_column(String(2), default="en")
    started_at: Mapped[datetime] = mapped_column()
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="RESTRICT"))
    customer_ref: Mapped[str | None] = mapped_column(String(200))
    recording: Mapped[str | None] = mapped_column(String(2000))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    turn_count: Mapped[int] = mapped_column(Integer, default=0)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    analysis_version: Mapped[str | None] = mapped_column(String(80))

    agent: Mapped[Agent] = relationship()
    turns: Mapped[list[Turn]] = relationship(
        back_populates="interaction", order_by="Turn.seq", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_interactions_source_external_id"),
        CheckConstraint(_in("channel", Channel), name="channel"),
        CheckConstraint(_in("language", LANGUAGES), name="language"),
        Index("ix_interactions_agent_started", "agent_id", "started_at"),
        Index("ix_interactions_started", "started_at"),
        Index("ix_interactions_analysis_version", "analysis_version"),
    )


class Turn(Base):
    """One utterance or message. Turns are most of the rows in the database and are
    written only by the importer, which validates ``speaker``; a CHECK constraint
    here cost a third of SQLite's insert rate, so the check lives in the importer.
    """

    __tablename__ = "turns"

    id: Mapped[int] = mapped_column(primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    start_s: Mapped[float | None] = mapped_column(Float)
    end_s: Mapped[float | None] = mapped_column(Float)

    interaction: Mapped[Interaction] = relationship(back_populates="turns")

    __table_args__ = (UniqueConstraint("interaction_id", "seq", name="uq_turns_interaction_seq"),)


class Rubric(Base):
    """A named rubric; its content lives in immutable ``RubricVersion`` rows."""

    __tablename__ = "rubrics"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    versions: Mapped[list[RubricVersion]] = relationship(
        back_populates="rubric", order_by="RubricVersion.version"
    )


class RubricVersion(Base):
    """One immutable rubric content; the hash makes re-saving identical YAML a no-op."""

    __tablename__ = "rubric_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    rubric_id: Mapped[int] = mapped_column(ForeignKey("rubrics.id", ondelete="RESTRICT"))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    source_yaml: Mapped[str] = mapped_column(Text)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    rubric: Mapped[Rubric] = relationship(back_populates="versions")

    __table_args__ = (
        UniqueConstraint("rubric_id", "version", name="uq_rubric_versions_rubric_version"),
        UniqueConstraint("rubric_id", "content_hash", name="uq_rubric_versions_rubric_hash"),
    )


class Review(Base):
    """A reviewer's grading of one interaction against one rubric version.

    ``agent_id``, ``team_id``, ``interaction_at``, ``channel`` and ``language``
    are copied from the interaction when the review is created so that
    per-agent-per-month aggregates and the dashboard filters read one indexed
    table (``qa.rollups`` fills channel and language when a caller leaves them
    out). ``lock_version`` is SQLAlchemy's version counter: a stale save raises
    instead of silently overwriting.
    """

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    rubric_version_id: Mapped[int] = mapped_column(
        ForeignKey("rubric_versions.id", ondelete="RESTRICT")
    )
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="RESTRICT"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    interaction_at: Mapped[datetime] = mapped_column()
    channel: Mapped[str] = mapped_column(String(8))
    language: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(10), default=ReviewStatus.draft.value)
    score: Mapped[float | None] = mapped_column(Float)
    section_scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    auto_fail: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_fail_reason: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column()
    lock_version: Mapped[int] = mapped_column(Integer, nullable=False)

    interaction: Mapped[Interaction] = relationship()
    reviewer: Mapped[User] = relationship()
    rubric_version: Mapped[RubricVersion] = relationship()
    answers: Mapped[list[ReviewAnswer]] = relationship(
        back_populates="review", cascade="all, delete-orphan", order_by="ReviewAnswer.id"
    )

    __mapper_args__ = {"version_id_col": lock_version}
    __table_args__ = (
        CheckConstraint(_in("status", ReviewStatus), name="status"),
        Index("ix_reviews_agent_period", "agent_id", "status", "interaction_at"),
        Index("ix_reviews_team_period", "team_id", "status", "interaction_at"),
        # The dashboard's figures read only these columns: one covering range scan
        # by period (filters on team, channel and language are tested in the index),
        # and one in agent order so per-agent groups need no sort.
        Index(
            "ix_reviews_dashboard",
            "status",
            "interaction_at",
            "team_id",
            "channel",
            "language",
            "agent_id",
            "score",
            "auto_fail",
        ),
        Index(
            "ix_reviews_dashboard_agent",
            "status",
            "agent_id",
            "interaction_at",
            "team_id",
            "channel",
            "language",
            "score",
            "auto_fail",
        ),
        Index("ix_reviews_interaction", "interaction_id"),
        Index("ix_reviews_reviewer", "reviewer_id", "status"),
    )


class ReviewAnswer(Base):
    """One criterion's answer. ``earned``/``possible`` are the scored points (None when N/A).

    The denormalised ``agent_id``/``team_id``/``interaction_at``/``channel``/
    ``language``/``submitted`` (copies of the review's) keep per-criterion
    aggregates on one table; submitted answers are also summed per UTC month in
    ``criterion_rollups`` (kept exact by ``qa.rollups`` on every flush).
    """

    __tablename__ = "review_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"))
    criterion_id: Mapped[str] = mapped_column(String(100))
    section_id: Mapped[str] = mapped_column(String(100))
    value: Mapped[float | None] = mapped_column(Float)
    na: Mapped[bool] = mapped_column(Boolean, default=False)
    comment: Mapped[str | None] = mapped_column(Text)
    earned: Mapped[float | None] = mapped_column(Float)
    possible: Mapped[float | None] = mapped_column(Float)
    pct: Mapped[float | None] = mapped_column(Float)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="RESTRICT"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    interaction_at: Mapped[datetime] = mapped_column()
    channel: Mapped[str] = mapped_column(String(8))
    language: Mapped[str] = mapped_column(String(2))
    submitted: Mapped[bool] = mapped_column(Boolean, default=False)

    review: Mapped[Review] = relationship(back_populates="answers")

    __table_args__ = (
        UniqueConstraint("review_id", "criterion_id", name="uq_review_answers_review_criterion"),
        # Covers the dashboard's reads of raw answers (the few hours at the edges of
        # a period that the monthly roll-up cannot serve), filters included.
        Index(
            "ix_review_answers_period",
            "submitted",
            "interaction_at",
            "criterion_id",
            "team_id",
            "channel",
            "language",
            "pct",
        ),
        Index(
            "ix_review_answers_agent_period",
            "agent_id",
            "submitted",
            "interaction_at",
            "criterion_id",
            "pct",
        ),
    )


class CriterionRollup(Base):
    """Submitted answers summed per UTC month, criterion, team, channel and language.

    Derived data, maintained by ``qa.rollups`` in the same flush as the answers
    it sums (and rebuilt from scratch by ``qa.rollups.rebuild_rollups``). UTC
    months, not the organisation's: the time zone is a runtime setting, and a
    month in any zone differs from the UTC month by at most its offset, which
    the dashboard reads from the raw answers. ``team_key`` is the team id, or 0
    for answers of agents without a team (a primary key cannot hold NULL).
    """

    __tablename__ = "criterion_rollups"
    # On SQLite the primary key is the table (WITHOUT ROWID): a month range is read
    # in key order with no second lookup per row.
    __table_args__ = {"sqlite_with_rowid": False}

    utc_month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    criterion_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    team_key: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), primary_key=True)
    language: Mapped[str] = mapped_column(String(2), primary_key=True)
    answered: Mapped[int] = mapped_column(Integer)  # answers with a percentage
    na: Mapped[int] = mapped_column(Integer)  # N/A answers (no percentage)
    pct_sum: Mapped[float] = mapped_column(Float)


class ReviewRollup(Base):
    """Submitted reviews summed per UTC month, agent, team, channel and language.

    The review-level twin of ``CriterionRollup`` (same maintenance, same UTC
    months, ``team_key`` 0 for no team). ``band_k`` counts scored reviews in the
    dashboard's score band k (``[10k, 10k+10)``, 100 in band 9); ``score_min``
    and ``score_max`` are the bucket's extremes, recomputed from the reviews
    whenever a review leaves the bucket.
    """

    __tablename__ = "review_rollups"
    # On SQLite the primary key is the table (WITHOUT ROWID): a month range is read
    # in key order with no second lookup per row.
    __table_args__ = {"sqlite_with_rowid": False}

    utc_month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    agent_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_key: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), primary_key=True)
    language: Mapped[str] = mapped_column(String(2), primary_key=True)
    reviews: Mapped[int] = mapped_column(Integer)
    scored: Mapped[int] = mapped_column(Integer)  # reviews with a score
    score_sum: Mapped[float] = mapped_column(Float)
    fails: Mapped[int] = mapped_column(Integer)  # auto-failed reviews
    score_min: Mapped[float | None] = mapped_column(Float)
    score_max: Mapped[float | None] = mapped_column(Float)
    band_0: Mapped[int] = mapped_column(Integer)
    band_1: Mapped[int] = mapped_column(Integer)
    band_2: Mapped[int] = mapped_column(Integer)
    band_3: Mapped[int] = mapped_column(Integer)
    band_4: Mapped[int] = mapped_column(Integer)
    band_5: Mapped[int] = mapped_column(Integer)
    band_6: Mapped[int] = mapped_column(Integer)
    band_7: Mapped[int] = mapped_column(Integer)
    band_8: Mapped[int] = mapped_column(Integer)
    band_9: Mapped[int] = mapped_column(Integer)


class ReviewRevision(Base):
    """A snapshot of a submitted review before it was changed (history is never lost)."""

    __tablename__ = "review_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("review_id", "revision", name="uq_review_revisions_review_revision"),
    )


class AssignmentStatus(enum.StrEnum):
    open = "open"
    done = "done"
    cancelled = "cancelled"


class SamplingRule(Base):
    """How many interactions per agent per month a lead wants reviewed, and which ones."""

    __tablename__ = "sampling_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    per_agent_per_month: Mapped[int] = mapped_column(Integer)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    channels: Mapped[list[Any]] = mapped_column(JSON, default=list)  # empty = all channels
    languages: Mapped[list[Any]] = mapped_column(JSON, default=list)  # empty = all languages
    stratify_by_channel: Mapped[bool] = mapped_column(Boolean, default=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (CheckConstraint("per_agent_per_month > 0", name="positive"),)


class ReviewAssignment(Base):
    """An interaction in a reviewer's queue. One open assignment per interaction."""

    __tablename__ = "review_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    interaction_id: Mapped[int] = mapped_column(
        ForeignKey("interactions.id", ondelete="CASCADE"), unique=True
    )
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("sampling_rules.id", ondelete="SET NULL")
    )
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM in the organisation's time zone
    status: Mapped[str] = mapped_column(String(10), default=AssignmentStatus.open.value)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)

    interaction: Mapped[Interaction] = relationship()

    __table_args__ = (
        CheckConstraint(_in("status", AssignmentStatus), name="status"),
        Index("ix_review_assignments_reviewer_status", "reviewer_id", "status"),
    )


class DeliveryStatus(enum.StrEnum):
    """``sending`` marks a row claimed by a sender that has not confirmed the outcome
    yet; a row left there by a crash is reported, never retried blindly (at most once).
    """

    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"


class Scorecard(Base):
    """An issued monthly scorecard: an immutable snapshot plus its rendered PDF.

    Issuing is idempotent per (agent, period): a batch killed half-way resumes
    with the agents that have no row yet, so nobody gets two.
    """

    __tablename__ = "scorecards"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="RESTRICT"))
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM, organisation time zone
    rubric_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("rubric_versions.id", ondelete="RESTRICT")
    )
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    auto_qa_only: Mapped[bool] = mapped_column(Boolean, default=False)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)

    agent: Mapped[Agent] = relationship()

    __table_args__ = (
        UniqueConstraint("agent_id", "period", name="uq_scorecards_agent_period"),
        Index("ix_scorecards_period", "period"),
    )


class ScorecardDelivery(Base):
    """One sending of a scorecard. ``round`` is 0 for the first send and grows only
    with an explicit resend, so (scorecard, round) unique means never sent twice."""

    __tablename__ = "scorecard_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    scorecard_id: Mapped[int] = mapped_column(ForeignKey("scorecards.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer, default=0)
    transport: Mapped[str] = mapped_column(String(10))  # smtp | outbox
    recipient: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(10), default=DeliveryStatus.pending.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    message_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    scorecard: Mapped[Scorecard] = relationship()

    __table_args__ = (
        UniqueConstraint("scorecard_id", "round", name="uq_scorecard_deliveries_round"),
        CheckConstraint(_in("status", DeliveryStatus), name="status"),
        Index("ix_scorecard_deliveries_status", "status", "next_attempt_at"),
    )


class SchedulerLease(Base):
    """Who runs the scheduler: APScheduler 3 must not share a job store between
    processes, so only the holder of an unexpired lease starts its scheduler."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()


class InteractionAnalysis(Base):
    """Auto-QA of one interaction: timing metrics and the versions it was computed with.

    ``Interaction.analysis_version`` holds the same stamp; an interaction whose
    stamp differs from the current lexicon+rubric stamp is stale and re-analysed.
    """

    __tablename__ = "interaction_analyses"

    id: Mapped[int] = mapped_column(primary_key=True)
    interaction_id: Mapped[int] = mapped_column(
        ForeignKey("interactions.id", ondelete="CASCADE"), unique=True
    )
    version: Mapped[str] = mapped_column(String(120))
    lexicon_version: Mapped[str] = mapped_column(String(80))
    rubric_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("rubric_versions.id", ondelete="SET NULL")
    )
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    analyzed_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnalysisFlag(Base):
    """A phrase flag on one turn; offsets index that turn's original text.

    ``agent_id``/``interaction_at`` are copied so monthly behaviour counts per
    agent read one index.
    """

    __tablename__ = "analysis_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"))
    turn: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(120))
    behavior: Mapped[str] = mapped_column(String(60))
    polarity: Mapped[str] = mapped_column(String(8))
    criterion: Mapped[str | None] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(10))
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    suggestion: Mapped[str | None] = mapped_column(Text)
    coaching_tip: Mapped[str | None] = mapped_column(Text)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    interaction_at: Mapped[datetime] = mapped_column()

    __table_args__ = (
        Index("ix_analysis_flags_interaction", "interaction_id"),
        Index("ix_analysis_flags_agent_period", "agent_id", "interaction_at", "behavior"),
    )


class AnalysisFinding(Base):
    """A whole-interaction finding such as ``missing_greeting``, with its explanation."""

    __tablename__ = "analysis_findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"))
    finding: Mapped[str] = mapped_column(String(60))
    why: Mapped[str] = mapped_column(Text)
    turn: Mapped[int | None] = mapped_column(Integer)
    evidence: Mapped[list[Any]] = mapped_column(JSON, default=list)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    interaction_at: Mapped[datetime] = mapped_column()

    __table_args__ = (
        Index("ix_analysis_findings_interaction", "interaction_id"),
        Index("ix_analysis_findings_agent_period", "agent_id", "interaction_at", "finding"),
    )


class AutoSuggestion(Base):
    """A suggested answer for one criterion, stored apart from human answers (never
    overwriting them), with the evidence that produced it."""

    __tablename__ = "auto_suggestions"

    id: Mapped[int] = mapped_column(primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"))
    rubric_version_id: Mapped[int] = mapped_column(
        ForeignKey("rubric_versions.id", ondelete="CASCADE")
    )
    criterion_id: Mapped[str] = mapped_column(String(100))
    value: Mapped[float | None] = mapped_column(Float)
    na: Mapped[bool] = mapped_column(Boolean, default=False)
    confidence: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)

    __table_args__ = (
        UniqueConstraint(
            "interaction_id",
            "rubric_version_id",
            "criterion_id",
            name="uq_auto_suggestions_interaction_version_criterion",
        ),
        Index("ix_auto_suggestions_criterion", "rubric_version_id", "criterion_id"),
    )


class AuditEvent(Base):
    """Append-only record of who changed what. No code path updates or deletes it."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(200), default="system")
    action: Mapped[str] = mapped_column(String(60))
    entity_type: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str | None] = mapped_column(String(100))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_audit_events_entity", "entity_type", "entity_id"),
        Index("ix_audit_events_at", "at"),
    )


class AuditImmutableError(RuntimeError):
    """Raised when code tries to change or delete an audit event."""


@event.listens_for(AuditEvent, "before_update")
def _audit_no_update(*_: object) -> None:
    raise AuditImmutableError("audit events are append-only")


@event.listens_for(AuditEvent, "before_delete")
def _audit_no_delete(*_: object) -> None:
    raise AuditImmutableError("audit events are append-only")


# ---------------------------------------------------------------------------------------------
# Trust: calibration sessions, disputes, notifications
# ---------------------------------------------------------------------------------------------


class CalibrationStatus(enum.StrEnum):
    open = "open"
    closed = "closed"


class CalibrationSession(Base):
    """Several reviewers score the same interactions blind; nobody sees others' answers
    until a lead closes the session. Kept apart from production reviews so calibration
    never changes an agent's scores."""

    __tablename__ = "calibration_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    rubric_version_id: Mapped[int] = mapped_column(
        ForeignKey("rubric_versions.id", ondelete="RESTRICT")
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(8), default=CalibrationStatus.open.value)
    tolerance: Mapped[float] = mapped_column(Float, default=5.0)  # percentage points
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()

    rubric_version: Mapped[RubricVersion] = relationship()
    items: Mapped[list[CalibrationItem]] = relationship(
        back_populates="calibration", order_by="CalibrationItem.position"
    )
    participants: Mapped[list[CalibrationParticipant]] = relationship(
        back_populates="calibration", order_by="CalibrationParticipant.id"
    )

    __table_args__ = (
        CheckConstraint(_in("status", CalibrationStatus), name="status"),
        CheckConstraint("tolerance >= 0 AND tolerance <= 100", name="tolerance"),
        Index("ix_calibration_sessions_status", "status", "closed_at"),
    )


class CalibrationItem(Base):
    """One interaction scored in a calibration session."""

    __tablename__ = "calibration_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("calibration_sessions.id", ondelete="CASCADE")
    )
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id", ondelete="RESTRICT"))
    position: Mapped[int] = mapped_column(Integer)

    calibration: Mapped[CalibrationSession] = relationship(back_populates="items")
    interaction: Mapped[Interaction] = relationship()

    __table_args__ = (
        UniqueConstraint(
            "session_id", "interaction_id", name="uq_calibration_items_session_interaction"
        ),
    )


class CalibrationParticipant(Base):
    """A reviewer in a session; at most one ``is_expert`` whose answers are the benchmark."""

    __tablename__ = "calibration_participants"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("calibration_sessions.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    is_expert: Mapped[bool] = mapped_column(Boolean, default=False)

    calibration: Mapped[CalibrationSession] = relationship(back_populates="participants")
    user: Mapped[User] = relationship()

    __table_args__ = (
        UniqueConstraint("session_id", "user_id", name="uq_calibration_participants_session_user"),
        Index("ix_calibration_participants_user", "user_id"),
    )


class CalibrationAnswer(Base):
    """One participant's blind answer to one criterion for one session item."""

    __tablename__ = "calibration_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("calibration_sessions.id", ondelete="CASCADE")
    )
    item_id: Mapped[int] = mapped_column(ForeignKey("calibration_items.id", ondelete="CASCADE"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    criterion_id: Mapped[str] = mapped_column(String(100))
    value: Mapped[float | None] = mapped_column(Float)
    na: Mapped[bool] = mapped_column(Boolean, default=False)
    comment: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint(
            "session_id",
            "item_id",
            "reviewer_id",
            "criterion_id",
            name="uq_calibration_answers_session_item_reviewer_criterion",
        ),
        Index("ix_calibration_answers_session_reviewer", "session_id", "reviewer_id"),
    )


class DisputeStatus(enum.StrEnum):
    open = "open"
    upheld = "upheld"
    adjusted = "adjusted"
    withdrawn = "withdrawn"


class Dispute(Base):
    """An agent contesting one criterion of one of their submitted reviews.

    ``lock_version`` makes two leads resolving the same dispute at once a conflict
    instead of a silent double resolution.
    """

    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"))
    criterion_id: Mapped[str] = mapped_column(String(100))
    agent_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default=DisputeStatus.open.value)
    review_revision: Mapped[int] = mapped_column(Integer)  # revision the agent disputed
    resolver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolution_comment: Mapped[str | None] = mapped_column(Text)
    adjusted_revision: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    lock_version: Mapped[int] = mapped_column(Integer, nullable=False)

    review: Mapped[Review] = relationship()
    agent_user: Mapped[User] = relationship(foreign_keys=[agent_user_id])
    resolver: Mapped[User | None] = relationship(foreign_keys=[resolver_id])

    __mapper_args__ = {"version_id_col": lock_version}
    __table_args__ = (
        UniqueConstraint("review_id", "criterion_id", name="uq_disputes_review_criterion"),
        CheckConstraint(_in("status", DisputeStatus), name="status"),
        Index("ix_disputes_status", "status", "created_at"),
        Index("ix_disputes_agent_user", "agent_user_id"),
    )


class Notification(Base):
    """An in-app message for one user, in both languages so it follows their locale."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    text_en: Mapped[str] = mapped_column(Text)
    text_ar: Mapped[str] = mapped_column(Text)
    link: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (Index("ix_notifications_user_read", "user_id", "read_at"),)


class ReviewAcknowledgement(Base):
    """An agent confirming they have read a submitted review (one per review)."""

    __tablename__ = "review_acknowledgements"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(
        ForeignKey("reviews.id", ondelete="CASCADE"), unique=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    acknowledged_at: Mapped[datetime] = mapped_column(default=utcnow)


class CoachingStatus(enum.StrEnum):
    open = "open"
    in_session = "in_session"
    resolved = "resolved"
    dismissed = "dismissed"


class CoachingFlag(Base):
    """A coaching recommendation for one agent and month, written by the coaching rules.

    ``subject`` is what the rule is about (a criterion id, behaviour, finding or
    ``channel:metric``) and completes the natural key, so refreshing a month
    updates rows in place and never duplicates them. Trainers move ``status``;
    the agent records that they have read it in ``acknowledged_at``.
    """

    __tablename__ = "coaching_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM, organisation time zone
    rule_id: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(120))
    priority: Mapped[str] = mapped_column(String(6))
    criterion_id: Mapped[str | None] = mapped_column(String(100))
    title_en: Mapped[str] = mapped_column(Text)
    title_ar: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list[Any]] = mapped_column(JSON, default=list)
    practice_en: Mapped[str] = mapped_column(Text)
    practice_ar: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default=CoachingStatus.open.value)
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    agent: Mapped[Agent] = relationship()

    __table_args__ = (
        UniqueConstraint(
            "agent_id", "period", "rule_id", "subject", name="uq_coaching_flags_agent_period_rule"
        ),
        CheckConstraint(_in("status", CoachingStatus), name="status"),
        CheckConstraint(_in("priority", ("high", "medium", "low")), name="priority"),
        Index("ix_coaching_flags_period_status", "period", "status", "priority"),
    )


class CoachingSessionStatus(enum.StrEnum):
    planned = "planned"
    done = "done"
    cancelled = "cancelled"


class CoachingSession(Base):
    """A one-to-one coaching session a trainer plans for an agent, usually from coaching flags.

    The flags it covers are linked in ``coaching_session_flags`` (a session may
    cover several recommendations; the agent's flags move to ``in_session`` and
    to ``resolved`` when the session is done). ``lock_version`` turns two
    trainers saving the same session at once into a conflict, not a lost edit.
    """

    __tablename__ = "coaching_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    trainer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_from_flag_id: Mapped[int | None] = mapped_column(
        ForeignKey("coaching_flags.id", ondelete="SET NULL")
    )
    focus_criteria: Mapped[list[Any]] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    due_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default=CoachingSessionStatus.planned.value)
    follow_up: Mapped[str | None] = mapped_column(Text)
    follow_up_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column()
    lock_version: Mapped[int] = mapped_column(Integer, nullable=False)

    agent: Mapped[Agent] = relationship()
    trainer: Mapped[User | None] = relationship()
    flag_links: Mapped[list[CoachingSessionFlag]] = relationship(
        back_populates="coaching_session",
        cascade="all, delete-orphan",
        order_by="CoachingSessionFlag.flag_id",
    )

    __mapper_args__ = {"version_id_col": lock_version}
    __table_args__ = (
        CheckConstraint(_in("status", CoachingSessionStatus), name="status"),
        Index("ix_coaching_sessions_agent", "agent_id", "created_at"),
        Index("ix_coaching_sessions_status_due", "status", "due_date"),
    )


class CoachingSessionFlag(Base):
    """A coaching flag covered by a coaching session."""

    __tablename__ = "coaching_session_flags"

    coaching_session_id: Mapped[int] = mapped_column(
        ForeignKey("coaching_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    flag_id: Mapped[int] = mapped_column(
        ForeignKey("coaching_flags.id", ondelete="CASCADE"), primary_key=True
    )

    coaching_session: Mapped[CoachingSession] = relationship(back_populates="flag_links")
    flag: Mapped[CoachingFlag] = relationship()

    __table_args__ = (Index("ix_coaching_session_flags_flag", "flag_id"),)


# Keeps the denormalised filter columns and ``criterion_rollups`` in step with every flush.
from qa import rollups as _rollups  # noqa: E402,F401
