from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from qa import db
from qa.models import AuditEvent, AuditImmutableError, Base, Interaction
from tests import factories


def test_migrations_match_models(fresh_url: str) -> None:
    engine = db.make_engine(fresh_url)
    assert db.current_revision(engine) is None
    db.upgrade(engine)
    assert db.current_revision(engine) == db.head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []
    db.upgrade(engine)  # idempotent
    engine.dispose()


def test_times_round_trip_in_utc(session: Session) -> None:
    riyadh = timezone(timedelta(hours=3))
    inter = factories.interaction(session, started_at=datetime(2026, 10, 1, 2, 0, tzinfo=riyadh))
    session.expire_all()
    loaded = session.get(Interaction, inter.id)
    assert loaded is not None
    assert loaded.started_at == datetime(2026, 9, 30, 23, 0, tzinfo=UTC)
    assert loaded.started_at.tzinfo is not None


def test_naive_datetimes_are_refused(session: Session) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        factories.interaction(session, started_at=datetime(2026, 10, 1, 2, 0))


def test_source_external_id_unique(session: Session) -> None:
    factories.interaction(session, external_id="X", source="s")
    with pytest.raises(IntegrityError):
        factories.interaction(session, external_id="X", source="s")


def test_check_constraints(session: Session) -> None:
    with pytest.raises(IntegrityError):
        factories.interaction(session, channel="fax")


def test_foreign_keys_enforced(session: Session) -> None:
    with pytest.raises(IntegrityError):
        session.add(
            Interaction(
                source="s",
                external_id="Y",
                channel="call",
                language="en",
                started_at=datetime(2026, 1, 1, tzinfo=UTC),
                agent_id=999_999,
                meta={},
                turn_count=0,
            )
        )
        session.flush()


def test_audit_events_are_append_only(session: Session) -> None:
    event = AuditEvent(actor="x", action="create", entity_type="thing", entity_id="1")
    session.add(event)
    session.commit()
    event.action = "changed"
    with pytest.raises(AuditImmutableError):
        session.flush()
    session.rollback()
    stored = session.get(AuditEvent, event.id)
    assert stored is not None and stored.action == "create"
    session.delete(stored)
    with pytest.raises(AuditImmutableError):
        session.flush()


def test_sqlite_pragmas(engine: Engine, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite only")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
