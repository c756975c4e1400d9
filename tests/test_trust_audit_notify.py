"""Audit trail immutability at the database level, the audit log reader, and email
notifications through a real SMTP server on loopback."""

from __future__ import annotations

import csv
import io
import json
import socket
from collections.abc import Iterator
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from qa import db
from qa.config import Settings
from qa.models import AuditEvent, AuditImmutableError, User, utcnow
from qa.services import audit, audit_log, notify
from qa.services.errors import InvalidInput, PermissionDenied
from tests import factories


def _event(session: Session) -> AuditEvent:
    actor = factories.user(session, role="admin")
    event = audit.record(session, actor, "create", "thing", 1, after={"name": "=cmd()"})
    session.flush()
    return event


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET action = 'tampered' WHERE id = :id",
        "UPDATE audit_events SET actor_id = NULL WHERE id = :id",
        "DELETE FROM audit_events WHERE id = :id",
    ],
)
def test_raw_sql_cannot_change_audit_events(session: Session, statement: str) -> None:
    event = _event(session)
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text(statement), {"id": event.id})
    still = session.execute(
        text("SELECT action, actor_id FROM audit_events WHERE id = :id"), {"id": event.id}
    ).one()
    assert still.action == "create" and still.actor_id is not None


def test_orm_cannot_change_audit_events(session: Session) -> None:
    event = _event(session)
    event.action = "tampered"
    with pytest.raises(AuditImmutableError), session.begin_nested():
        session.flush()


def test_truncate_is_refused_on_postgresql(session: Session, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    _event(session)
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text("TRUNCATE audit_events"))


def test_audit_log_reader_filters_and_exports(session: Session) -> None:
    admin = factories.user(session, role="admin", username=f"root_{factories.nxt()}")
    other = factories.user(session, role="qa_lead", username=f"lead_{factories.nxt()}")
    audit.record(session, admin, "create", "dispute", 7, after={"reason": "لا أوافق"})
    audit.record(session, other, "resolve", "dispute", 7, before={"status": "open"})
    audit.record(session, other, "create", "review", 9, after={"comment": "=HYPERLINK()"})
    session.flush()
    with pytest.raises(PermissionDenied):
        audit_log.search(session, other, audit_log.AuditFilter())
    found = audit_log.search(session, admin, audit_log.AuditFilter(entity_type="dispute"))
    assert [e.action for e in found if e.entity_id == "7"] == ["resolve", "create"]
    by_actor = audit_log.search(session, admin, audit_log.AuditFilter(actor=other.username))
    assert {e.action for e in by_actor} == {"resolve", "create"}
    assert all(e.actor == other.username for e in by_actor)
    now = utcnow()
    assert (
        audit_log.search(session, admin, audit_log.AuditFilter(since=now + timedelta(hours=1)))
        == []
    )
    assert (
        len(
            audit_log.search(
                session,
                admin,
                audit_log.AuditFilter(actor=other.username, since=now - timedelta(hours=1)),
            )
        )
        == 2
    )
    with pytest.raises(InvalidInput, match="end must be after"):
        audit_log.search(session, admin, audit_log.AuditFilter(since=now, until=now))
    assert "dispute" in audit_log.entity_types(session, admin)
    assert other.username in audit_log.actors(session, admin)

    exported = json.loads(audit_log.to_json(by_actor))
    assert {e["action"] for e in exported} == {"resolve", "create"}
    rows = list(csv.DictReader(io.StringIO(audit_log.to_csv(by_actor))))
    review_row = next(r for r in rows if r["entity_type"] == "review")
    assert json.loads(review_row["after"]) == {"comment": "=HYPERLINK()"}
    arabic = audit_log.to_csv(found)
    assert "لا أوافق" in arabic


# ---------------------------------------------------------------------- email (SMTP on loopback)


class Inbox(Message):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list = []

    def handle_message(self, message) -> None:  # type: ignore[no-untyped-def]
        self.messages.append(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_email_is_sent_after_commit_only(fresh_engine: Engine, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    settings = Settings(
        smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none", smtp_from="qa@jawda.test"
    )
    with db.session_scope(fresh_engine) as s:
        en = factories.user(s, role="agent", email="en@example.org")
        ar = factories.user(s, role="agent", email="ar@example.org", locale="ar")
        silent = factories.user(s, role="agent")  # no address: in-app only
        ids = (en.id, ar.id, silent.id)
    with db.session_scope(fresh_engine) as s:
        for user_id in ids:
            notify.notify(
                s, s.get_one(User, user_id), "dispute_resolved",
                text_en="Your dispute was decided.", text_ar="تم البت في اعتراضك.",
                settings=settings, subject_en="decided", subject_ar="قرار",
            )  # fmt: skip
        assert len(notify.queued_mail(s)) == 2
        assert inbox.messages == []  # nothing leaves before the commit
    assert sorted(m["To"] for m in inbox.messages) == ["ar@example.org", "en@example.org"]
    by_to = {m["To"]: m for m in inbox.messages}
    assert by_to["en@example.org"]["Subject"] == "Jawda QA: decided"
    assert (
        by_to["en@example.org"].get_payload(decode=True).decode().strip()
        == "Your dispute was decided."
    )
    assert (
        by_to["ar@example.org"].get_payload(decode=True).decode("utf-8").strip()
        == "تم البت في اعتراضك."
    )
    assert by_to["en@example.org"]["From"] == "qa@jawda.test"

    # A rolled-back transaction sends nothing and leaves no notification.
    inbox.messages.clear()
    with pytest.raises(RuntimeError), db.session_scope(fresh_engine) as s:
        notify.notify(s, s.get_one(User, ids[0]), "x", text_en="a", text_ar="ب", settings=settings)
        raise RuntimeError("boom")
    with db.session_scope(fresh_engine) as s:
        assert notify.unread_count(s, ids[0]) == 1  # only the first one
    assert inbox.messages == []


def test_mail_server_down_keeps_the_notification(
    fresh_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(smtp_host="127.0.0.1", smtp_port=_free_port(), smtp_tls="none")
    with db.session_scope(fresh_engine) as s:
        user = factories.user(s, role="agent", email="a@example.org")
        notify.notify(s, user, "x", text_en="hello", text_ar="مرحبا", settings=settings)
        user_id = user.id
    assert "notification email to a@example.org failed" in caplog.text
    with db.session_scope(fresh_engine) as s:
        assert [n.text_en for n in notify.unread(s, user_id)] == ["hello"]


def test_no_smtp_no_mail(session: Session) -> None:
    user = factories.user(session, role="agent", email="a@example.org")
    notify.notify(session, user, "x", text_en="a", text_ar="ب", settings=Settings())
    assert notify.queued_mail(session) == []
    assert notify.unread_count(session, user) == 1


def test_mail_queued_in_a_rolled_back_savepoint_is_dropped(session: Session) -> None:
    """A page wraps each action in a savepoint; a failed action must not email."""
    settings = Settings(smtp_host="127.0.0.1", smtp_port=1, smtp_tls="none")
    kept = factories.user(session, role="agent", email="kept@example.org")
    dropped = factories.user(session, role="agent", email="dropped@example.org")
    notify.notify(session, kept, "x", text_en="a", text_ar="ب", settings=settings)
    with pytest.raises(RuntimeError), session.begin_nested():
        notify.notify(session, dropped, "x", text_en="a", text_ar="ب", settings=settings)
        raise RuntimeError("action failed")
    assert [m.to for m in notify.queued_mail(session)] == ["kept@example.org"]
    session.info.pop("qa_notify_outgoing_mail", None)  # never send from this test
