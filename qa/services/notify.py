"""In-app notifications, plus a plain email when SMTP is configured.

The notification row is written in the caller's transaction, so it exists exactly when the
change it announces exists. The email is queued on the session and sent only after that
transaction commits: a rolled-back resolution never emails anybody. Email is best effort -
a mail server that is down is logged and never undoes the change or the in-app notice,
which remains the record the user sees.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session, SessionTransaction

from qa.config import Settings
from qa.models import Notification, User, utcnow

log = logging.getLogger(__name__)

_QUEUE_KEY = "qa_notify_outgoing_mail"
SUBJECT_PREFIX = {"en": "Jawda QA: ", "ar": "جودة: "}


@dataclass(frozen=True)
class OutgoingMail:
    """An email waiting for its transaction to commit."""

    to: str
    subject: str
    body: str


def notify(
    session: Session,
    user: User,
    kind: str,
    *,
    text_en: str,
    text_ar: str,
    link: dict[str, Any] | None = None,
    settings: Settings | None = None,
    subject_en: str | None = None,
    subject_ar: str | None = None,
) -> Notification:
    """Record a notification for ``user``; email it (after commit) when SMTP is configured
    and the user has an address. The email uses the user's locale."""
    note = Notification(
        user_id=user.id, kind=kind, text_en=text_en, text_ar=text_ar, link=dict(link or {})
    )
    session.add(note)
    session.flush()
    if settings is not None and settings.smtp_host and user.email:
        arabic = user.locale == "ar"
        subject = (subject_ar if arabic else subject_en) or kind.replace("_", " ")
        mail = OutgoingMail(
            to=user.email,
            subject=SUBJECT_PREFIX["ar" if arabic else "en"] + subject,
            body=text_ar if arabic else text_en,
        )
        # Remember the (possibly nested) transaction: if it rolls back, so does the email.
        txn = session.get_nested_transaction() or session.get_transaction()
        session.info.setdefault(_QUEUE_KEY, []).append((settings, mail, txn))
    return note


def queued_mail(session: Session) -> list[OutgoingMail]:
    """Emails waiting for this session's commit (for tests and diagnostics)."""
    return [mail for _settings, mail, _txn in session.info.get(_QUEUE_KEY, [])]


@event.listens_for(Session, "after_commit")
def _send_after_commit(session: Session) -> None:
    for settings, mail, _txn in session.info.pop(_QUEUE_KEY, []):
        try:
            send_email(settings, mail)
        except (OSError, smtplib.SMTPException) as exc:
            # Never raise from after_commit: the data is committed and the in-app
            # notification stands; the operator sees the failure in the log.
            log.warning("notification email to %s failed: %s", mail.to, exc)


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    queued = session.info.get(_QUEUE_KEY)
    if not queued:
        return
    kept = [entry for entry in queued if not _within(entry[2], previous_transaction)]
    if kept:
        session.info[_QUEUE_KEY] = kept
    else:
        session.info.pop(_QUEUE_KEY, None)


def _within(txn: SessionTransaction | None, rolled_back: SessionTransaction) -> bool:
    while txn is not None:
        if txn is rolled_back:
            return True
        txn = txn.parent
    return False


def send_email(settings: Settings, mail: OutgoingMail, *, timeout: float = 30.0) -> None:
    """Send one plain-text email with the configured SMTP server (stdlib smtplib)."""
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message.set_content(mail.body)
    port = settings.smtp_port or (465 if settings.smtp_tls == "ssl" else 25)
    client: smtplib.SMTP
    if settings.smtp_tls == "ssl":
        client = smtplib.SMTP_SSL(
            settings.smtp_host, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(settings.smtp_host, port, timeout=timeout)
    with client:
        if settings.smtp_tls == "starttls":
            client.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            client.login(settings.smtp_user, settings.smtp_password)
        client.send_message(message)


def unread(session: Session, user: User | int, *, limit: int = 200) -> list[Notification]:
    user_id = user if isinstance(user, int) else user.id
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        )
    )


def unread_count(session: Session, user: User | int) -> int:
    user_id = user if isinstance(user, int) else user.id
    return (
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        or 0
    )


def mark_read(session: Session, user: User | int, ids: Sequence[int] | None = None) -> int:
    """Mark the user's own notifications read (all unread when ``ids`` is None).

    Other users' notifications are never touched, whatever ids are passed.
    """
    user_id = user if isinstance(user, int) else user.id
    statement = (
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    if ids is not None:
        statement = statement.where(Notification.id.in_(list(ids)))
    result = session.execute(statement)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def text_for(note: Notification, locale: str) -> str:
    return note.text_ar if locale == "ar" else note.text_en
