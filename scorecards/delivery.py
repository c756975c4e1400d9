"""Sending issued monthly scorecards to agents: by SMTP, or into an outbox directory.

Delivery policy: **at most once**. Every send is a ``ScorecardDelivery`` row. A
sender first *claims* the row with a conditional UPDATE (``pending -> sending``,
guarded by the attempt count it read) and commits that before it talks to the
mail server; it marks the row ``sent`` right after the server accepted the
message. So two processes can never both send the same row (only one UPDATE
matches), and a crash between claim and confirmation leaves the row in
``sending``: reported as *unconfirmed*, never retried automatically, because the
server may well have delivered it. An administrator settles it with
:func:`resolve_unconfirmed` (after checking the mail log) or sends a new round
with ``resend=True``. The Message-ID is deterministic per (scorecard, round), so a
duplicate that slipped through anyway (e.g. the connection dropped after the
server queued the message but before it said so) is recognisable as one.

A month is never sent twice to the same agent: round 0 is created once per
scorecard (unique (scorecard, round)); only ``resend=True`` creates round + 1.

Failures: transient ones (connection refused, timeouts, 4xx replies) go back to
``pending`` with exponential backoff (:data:`BACKOFF_MINUTES`) until
``Settings.delivery_max_attempts``; permanent ones (5xx replies, no or invalid
address) are ``failed`` with the reason. A connection-level failure (cannot
connect, TLS or login refused) costs every due row of the batch one attempt,
since none of them can be sent and each should age towards giving up.

Every write transaction starts with its write statement: SQLite cannot upgrade
a read snapshot that another writer has overtaken, so read-then-write in one
transaction would fail under concurrency instead of waiting.
"""

from __future__ import annotations

import contextlib
import html
import logging
import os
import re
import smtplib
import ssl
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qa.config import Settings
from qa.db import session_scope
from qa.models import (
    Agent,
    DeliveryStatus,
    Scorecard,
    ScorecardDelivery,
    User,
    utcnow,
)
from qa.services import audit
from qa.services.periods import month_label

__all__ = [
    "BACKOFF_MINUTES",
    "DEFAULT_PORTS",
    "SendReport",
    "attachment_name",
    "backoff_delay",
    "build_message",
    "resolve_unconfirmed",
    "retry_due",
    "send_month",
]

log = logging.getLogger(__name__)

#: Minutes to wait after the 1st, 2nd, ... failed attempt; the last value repeats.
BACKOFF_MINUTES: tuple[int, ...] = (1, 5, 30, 120, 360)
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
SMTP_TIMEOUT_S = 30.0
_ENTITY = "scorecard_delivery"


def backoff_delay(failed_attempts: int) -> timedelta:
    """Wait before the next try after ``failed_attempts`` (>= 1) failures."""
    index = min(max(failed_attempts, 1), len(BACKOFF_MINUTES)) - 1
    return timedelta(minutes=BACKOFF_MINUTES[index])


@dataclass
class SendReport:
    """What one call did. ``skipped``: already sent or failed earlier, or taken by a
    concurrent sender; ``unconfirmed``: rows left in ``sending`` (claimed, outcome
    unknown); ``problems``: one line per failure or unconfirmed row, for people."""

    sent: int = 0
    skipped: int = 0
    failed: int = 0
    retried_later: int = 0
    unconfirmed: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, other: SendReport) -> None:
        self.sent += other.sent
        self.skipped += other.skipped
        self.failed += other.failed
        self.retried_later += other.retried_later
        self.unconfirmed += other.unconfirmed
        self.problems.extend(other.problems)


# --------------------------------------------------------------------------- errors


class _SendFailure(Exception):
    """Raised by transports; ``permanent`` decides between failed and retry later."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason[:2000]
        self.permanent = permanent


class _ConnectionFailure(_SendFailure):
    """The server could not be reached or refused the session: no row can be sent now."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, permanent=False)


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {text}".strip()


# --------------------------------------------------------------------------- message


_BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
FSI, PDI, RLM = "\u2068", "\u2069", "\u200f"


def _clean_name(name: str) -> str:
    """User text for a mail body: no control characters, no bidi overrides (which could
    reorder the surrounding sentence), bounded length."""
    text = _BIDI_CONTROLS.sub("", name)
    text = "".join(" " if unicodedata.category(ch) in {"Cc", "Zl", "Zp"} else ch for ch in text)
    text = " ".join(text.split())
    return text[:120] or "-"


def _safe_id(external_id: str, agent_id: int) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", external_id).strip("._")[:80]
    if not safe:
        return f"agent{agent_id}"
    # Two different ids must not map to one file name.
    return safe if safe == external_id else f"{safe}-{agent_id}"


def attachment_name(period: str, external_id: str, agent_id: int) -> str:
    """``scorecard-2026-10-AG001.pdf``; ids with unsafe characters get the agent id appended."""
    return f"scorecard-{period}-{_safe_id(external_id, agent_id)}.pdf"


def _month_name(period: str, locale: str) -> str:
    from scorecards.pdf import MONTHS  # the PDF's own month names, one source of truth

    year, month = period.split("-")
    return f"{MONTHS[locale][int(month) - 1]} {year}"


_TEXT = {
    "en": {
        "subject": "Your quality scorecard – {month}",
        "hello": "Hello {name},",
        "attached": "Your quality scorecard for {month} is attached to this message (PDF).",
        "discuss": "Please read it and go through the coaching points with your team leader.",
        "auto": "This message was sent automatically; please do not reply to it.",
        "regards": "Kind regards,",
        "team": "The Quality Assurance team",
    },
    "ar": {
        "subject": "بطاقة أداء الجودة الخاصة بك – {month}",
        "hello": "مرحبًا {name}،",
        "attached": "مرفق بهذه الرسالة بطاقة أداء الجودة الخاصة بك لشهر {month} (ملف PDF).",
        "discuss": "نرجو الاطلاع عليها ومناقشة ملاحظات التدريب مع قائد فريقك.",
        "auto": "أُرسلت هذه الرسالة تلقائيًا، يرجى عدم الرد عليها.",
        "regards": "مع أطيب التحيات،",
        "team": "فريق ضمان الجودة",
    },
}


def _bodies(locale: str, name: str, month: str) -> tuple[str, str, str]:
    """Subject, plain text and HTML. Arabic plain text starts every line with RLM so
    clients that pick the direction from the first strong character show it right to
    left even when a line starts with a Latin name; the name itself is isolated
    (FSI..PDI in text, <bdi> in HTML) so it cannot reorder the sentence."""
    t = _TEXT[locale]
    rtl = locale == "ar"
    subject = t["subject"].format(month=month)
    iso_name = f"{FSI}{name}{PDI}" if rtl else name
    paragraphs = [
        t["hello"].format(name=iso_name),
        "",
        t["attached"].format(month=month),
        t["discuss"],
        "",
        t["auto"],
        "",
        t["regards"],
        t["team"],
    ]
    lead = RLM if rtl else ""
    plain = "\n".join(f"{lead}{line}" if line else "" for line in paragraphs) + "\n"
    h = html.escape
    direction = "rtl" if rtl else "ltr"
    align = "right" if rtl else "left"
    html_body = (
        "<!DOCTYPE html>\n"
        f'<html lang="{locale}" dir="{direction}">\n'
        f'<head><meta charset="utf-8"><title>{h(subject)}</title></head>\n'
        f'<body dir="{direction}" style="text-align:{align};'
        'font-family:Tahoma,Arial,sans-serif;font-size:15px">\n'
        f"<p>{h(t['hello']).format(name=f'<bdi>{h(name)}</bdi>')}</p>\n"
        f"<p>{h(t['attached'].format(month=month))}<br>{h(t['discuss'])}</p>\n"
        f'<p style="color:#666">{h(t["auto"])}</p>\n'
        f"<p>{h(t['regards'])}<br>{h(t['team'])}</p>\n"
        "</body>\n</html>\n"
    )
    return subject, plain, html_body


def _domain(address: str) -> str:
    domain = address.rpartition("@")[2].strip().strip(">")
    return re.sub(r"[^A-Za-z0-9.-]", "", domain) or "localhost"


def message_id(settings: Settings, period: str, scorecard_id: int, round_: int) -> str:
    """Deterministic per (scorecard, round): a duplicate is recognisable as one."""
    return f"<scorecard.{period}.{scorecard_id}.r{round_}@{_domain(settings.smtp_from)}>"


def build_message(
    settings: Settings,
    *,
    recipient: str,
    agent_name: str,
    agent_external_id: str,
    agent_id: int,
    locale: str,
    period: str,
    scorecard_id: int,
    round_: int,
    pdf: bytes,
    now: datetime,
) -> EmailMessage:
    """The e-mail for one scorecard; raises ValueError for an unusable recipient address."""
    if locale not in _TEXT:
        locale = "en"
    name = _clean_name(agent_name)
    subject, plain, html_body = _bodies(locale, name, _month_name(period, locale))
    if not re.fullmatch(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+", recipient):
        raise ValueError(f"invalid e-mail address {recipient!r}")
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = settings.smtp_from
    msg["To"] = Address(display_name=name, addr_spec=recipient)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id(settings, period, scorecard_id, round_)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(plain, charset="utf-8")
    msg.add_alternative(html_body, subtype="html", charset="utf-8")
    msg.add_attachment(
        pdf,
        maintype="application",
        subtype="pdf",
        filename=attachment_name(period, agent_external_id, agent_id),
    )
    # Last: set_content() and the multipart conversions move or drop Content-* headers.
    msg["Content-Language"] = locale
    return msg


# --------------------------------------------------------------------------- transports


@dataclass(frozen=True)
class _Item:
    """Everything needed to send one delivery row, read before claiming it."""

    delivery_id: int
    round: int
    attempts: int
    scorecard_id: int
    period: str
    agent_id: int
    external_id: str
    agent_name: str
    locale: str
    recipient: str | None


class _Transport(Protocol):
    name: str

    def send(self, msg: EmailMessage, recipient: str, item: _Item, pdf: bytes) -> None: ...

    def close(self) -> None: ...


class _SmtpTransport:
    """One SMTP session reused for the whole batch (reconnecting after a drop)."""

    name = "smtp"

    def __init__(self, settings: Settings, timeout: float = SMTP_TIMEOUT_S) -> None:
        self.settings = settings
        self.timeout = timeout
        self._conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        port = s.smtp_port or DEFAULT_PORTS[s.smtp_tls]
        conn: smtplib.SMTP | None = None
        try:
            if s.smtp_tls == "ssl":
                conn = smtplib.SMTP_SSL(
                    s.smtp_host, port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                conn = smtplib.SMTP(s.smtp_host, port, timeout=self.timeout)
            conn.ehlo()
            if s.smtp_tls == "starttls":
                conn.starttls(context=ssl.create_default_context())
                conn.ehlo()
            if s.smtp_user:
                conn.login(s.smtp_user, s.smtp_password)
        except smtplib.SMTPResponseException as exc:
            self._drop(conn)
            raise _ConnectionFailure(
                f"SMTP {s.smtp_host}:{port}: {_reply(exc.smtp_code, exc.smtp_error)}"
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:  # refused, timeout, TLS, DNS
            self._drop(conn)
            raise _ConnectionFailure(f"SMTP {s.smtp_host}:{port}: {exc!r}") from exc
        return conn

    @staticmethod
    def _drop(conn: smtplib.SMTP | None) -> None:
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()

    def send(self, msg: EmailMessage, recipient: str, item: _Item, pdf: bytes) -> None:
        if self._conn is None:
            self._conn = self._connect()
        conn = self._conn
        try:
            conn.send_message(msg, from_addr=self.settings.smtp_from, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (550, b"refused"))
            self._reset()
            raise _SendFailure(_reply(code, text), permanent=code >= 500) from exc
        except smtplib.SMTPServerDisconnected as exc:
            self._close()
            raise _SendFailure(f"server disconnected: {exc}", permanent=False) from exc
        except smtplib.SMTPResponseException as exc:  # MAIL FROM / DATA replies
            if exc.smtp_code == 421:  # the server is closing the session
                self._close()
            else:
                self._reset()
            reason = _reply(exc.smtp_code, exc.smtp_error)
            raise _SendFailure(reason, permanent=exc.smtp_code >= 500) from exc
        except (smtplib.SMTPException, OSError) as exc:  # timeouts, resets
            self._close()
            raise _SendFailure(repr(exc), permanent=False) from exc

    def _reset(self) -> None:
        try:
            if self._conn is not None:
                self._conn.rset()
        except (smtplib.SMTPException, OSError):
            self._close()

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                self._drop(conn)

    def close(self) -> None:
        self._close()


def _atomic_write(path: Path, data: bytes) -> None:
    """Readers (or a mail pick-up job) never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class _OutboxTransport:
    """No SMTP configured: write ``<outbox>/<period>/scorecard-<period>-<agent>.eml``
    (``.rN.eml`` for resend round N) and the PDF next to it."""

    name = "outbox"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, msg: EmailMessage, recipient: str, item: _Item, pdf: bytes) -> None:
        folder = self.directory / item.period
        pdf_name = attachment_name(item.period, item.external_id, item.agent_id)
        stem = pdf_name.removesuffix(".pdf")
        eml_name = f"{stem}.eml" if item.round == 0 else f"{stem}.r{item.round}.eml"
        try:
            _atomic_write(folder / pdf_name, pdf)
            _atomic_write(folder / eml_name, msg.as_bytes())
        except OSError as exc:  # disk full, permissions: may be fixed, try again later
            raise _SendFailure(f"outbox {folder}: {exc}", permanent=False) from exc

    def close(self) -> None:
        pass


def _transport(settings: Settings) -> _Transport:
    if settings.smtp_host:
        return _SmtpTransport(settings)
    return _OutboxTransport(settings.effective_outbox_dir)


def transport_name(settings: Settings) -> str:
    return "smtp" if settings.smtp_host else "outbox"


# --------------------------------------------------------------------------- rows


def _audit(session: Session, action: str, delivery_id: int, after: dict[str, Any]) -> None:
    audit.record(session, None, f"scorecard.delivery.{action}", _ENTITY, delivery_id, after=after)


def _create_row(
    engine: Engine,
    scorecard_id: int,
    round_: int,
    transport: str,
    recipient: str | None,
    *,
    supersede: int | None = None,
) -> bool:
    """Insert (scorecard, round); False when a concurrent sender already did."""
    try:
        with session_scope(engine) as s:
            row = ScorecardDelivery(
                scorecard_id=scorecard_id,
                round=round_,
                transport=transport,
                recipient=recipient,
                status=DeliveryStatus.pending.value,
                attempts=0,
            )
            s.add(row)
            s.flush()
            if supersede is not None:
                s.execute(
                    update(ScorecardDelivery)
                    .where(
                        ScorecardDelivery.id == supersede,
                        ScorecardDelivery.status == DeliveryStatus.sending.value,
                    )
                    .values(
                        status=DeliveryStatus.failed.value,
                        last_error=f"unconfirmed; superseded by resend round {round_}",
                    )
                )
            _audit(
                s,
                "queued",
                row.id,
                {"scorecard_id": scorecard_id, "round": round_, "transport": transport},
            )
    except IntegrityError:
        return False
    return True


def _recipient(agent: Agent, user: User | None) -> str | None:
    for candidate in (agent.email, user.email if user is not None else None):
        if candidate and candidate.strip():
            return candidate.strip()
    return None


def _locale(snapshot: Any, agent: Agent) -> str:
    """The language the PDF was issued in, so the body matches the attachment."""
    try:
        loc = snapshot["agent"]["locale"]
    except (KeyError, TypeError):
        loc = None
    return loc if loc in _TEXT else (agent.locale if agent.locale in _TEXT else "en")


def _load_items(engine: Engine, delivery_ids: Sequence[int]) -> dict[int, _Item]:
    with session_scope(engine) as s:
        rows = s.execute(
            select(ScorecardDelivery, Scorecard.period, Scorecard.snapshot, Agent, User)
            .join(Scorecard, Scorecard.id == ScorecardDelivery.scorecard_id)
            .join(Agent, Agent.id == Scorecard.agent_id)
            .outerjoin(User, User.agent_id == Agent.id)
            .where(ScorecardDelivery.id.in_(list(delivery_ids)))
        ).all()
        return {
            d.id: _Item(
                delivery_id=d.id,
                round=d.round,
                attempts=d.attempts,
                scorecard_id=d.scorecard_id,
                period=period,
                agent_id=agent.id,
                external_id=agent.external_id,
                agent_name=agent.name,
                locale=_locale(snapshot, agent),
                recipient=_recipient(agent, user),
            )
            for d, period, snapshot, agent, user in rows
            if d.status == DeliveryStatus.pending.value
        }


def _pdf(engine: Engine, scorecard_id: int) -> bytes:
    with session_scope(engine) as s:
        pdf, snapshot = s.execute(
            select(Scorecard.pdf, Scorecard.snapshot).where(Scorecard.id == scorecard_id)
        ).one()
    if pdf:
        return bytes(pdf)
    # Issued without bytes: the snapshot renders to the same PDF.
    from scorecards.pdf import render_scorecard
    from scorecards.snapshot import Scorecard as Snapshot

    return render_scorecard(Snapshot.from_dict(snapshot))


def _guard(item: _Item, status: str) -> Any:
    return (ScorecardDelivery.id == item.delivery_id, ScorecardDelivery.status == status)


def _claim(engine: Engine, item: _Item, transport: str, mid: str, now: datetime) -> bool:
    with session_scope(engine) as s:
        result = s.execute(
            update(ScorecardDelivery)
            .where(
                *_guard(item, DeliveryStatus.pending.value),
                ScorecardDelivery.attempts == item.attempts,
            )
            .values(
                status=DeliveryStatus.sending.value,
                attempts=ScorecardDelivery.attempts + 1,
                transport=transport,
                recipient=item.recipient,
                message_id=mid,
                next_attempt_at=None,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return False
        _audit(
            s,
            "attempt",
            item.delivery_id,
            {"attempt": item.attempts + 1, "transport": transport, "at": now.isoformat()},
        )
    return True


def _finish(
    engine: Engine,
    item: _Item,
    *,
    from_status: str,
    values: dict[str, Any],
    action: str,
    extra_guard: Iterable[Any] = (),
) -> bool:
    with session_scope(engine) as s:
        result = s.execute(
            update(ScorecardDelivery)
            .where(*_guard(item, from_status), *extra_guard)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return False
        after = {
            k: (v.isoformat() if isinstance(v, datetime) else v)
            for k, v in values.items()
            if not hasattr(v, "__clause_element__") and k != "attempts"
        }
        _audit(s, action, item.delivery_id, after)
    return True


def _failure_values(
    item: _Item, failure: _SendFailure, attempts: int, max_attempts: int, now: datetime
) -> tuple[dict[str, Any], str]:
    if failure.permanent:
        return {"status": DeliveryStatus.failed.value, "last_error": failure.reason}, "failed"
    if attempts >= max_attempts:
        reason = f"gave up after {attempts} attempt(s): {failure.reason}"
        return {"status": DeliveryStatus.failed.value, "last_error": reason[:2000]}, "failed"
    return {
        "status": DeliveryStatus.pending.value,
        "last_error": failure.reason,
        "next_attempt_at": now + backoff_delay(attempts),
    }, "retry"


def _label(item: _Item) -> str:
    return f"{item.period} {item.external_id} (delivery {item.delivery_id}, round {item.round})"


def _process(
    engine: Engine,
    settings: Settings,
    delivery_ids: Sequence[int],
    clock: Callable[[], datetime],
    max_attempts: int,
) -> SendReport:
    report = SendReport()
    items = _load_items(engine, delivery_ids)
    transport = _transport(settings)
    pending = [items[i] for i in delivery_ids if i in items]
    report.skipped += len(delivery_ids) - len(pending)
    try:
        for index, item in enumerate(pending):
            now = clock()
            if item.recipient is None:
                failure = _SendFailure("no e-mail address for the agent", permanent=True)
                _record_failure(engine, item, failure, item.attempts, max_attempts, now, report)
                continue
            try:
                pdf = _pdf(engine, item.scorecard_id)
                mid = message_id(settings, item.period, item.scorecard_id, item.round)
                msg = build_message(
                    settings,
                    recipient=item.recipient,
                    agent_name=item.agent_name,
                    agent_external_id=item.external_id,
                    agent_id=item.agent_id,
                    locale=item.locale,
                    period=item.period,
                    scorecard_id=item.scorecard_id,
                    round_=item.round,
                    pdf=pdf,
                    now=now,
                )
            except ValueError as exc:  # bad address, invalid snapshot
                failure = _SendFailure(str(exc), permanent=True)
                _record_failure(engine, item, failure, item.attempts, max_attempts, now, report)
                continue
            if not _claim(engine, item, transport.name, mid, now):
                report.skipped += 1  # a concurrent sender has it
                continue
            attempts = item.attempts + 1
            try:
                transport.send(msg, item.recipient, item, pdf)
            except _ConnectionFailure as exc:
                _record_failure(
                    engine, item, exc, attempts, max_attempts, now, report, claimed=True
                )
                for rest in pending[index + 1 :]:
                    # Nobody can be sent now; each due row ages towards giving up.
                    _record_failure(engine, rest, exc, rest.attempts + 1, max_attempts, now, report)
                break
            except _SendFailure as exc:
                _record_failure(
                    engine, item, exc, attempts, max_attempts, now, report, claimed=True
                )
                continue
            except Exception as exc:  # a bug, not the server: visible, never looped on
                log.exception("delivery %s: unexpected error", item.delivery_id)
                failure = _SendFailure(f"unexpected error: {exc!r}", permanent=True)
                _record_failure(
                    engine, item, failure, attempts, max_attempts, now, report, claimed=True
                )
                continue
            done = _finish(
                engine,
                item,
                from_status=DeliveryStatus.sending.value,
                values={
                    "status": DeliveryStatus.sent.value,
                    "sent_at": clock(),
                    "last_error": None,
                    "message_id": mid,
                },
                action="sent",
            )
            if done:
                report.sent += 1
            else:  # resolved or superseded by someone else meanwhile
                report.unconfirmed += 1
                report.problems.append(f"{_label(item)}: sent, but the row changed meanwhile")
    finally:
        transport.close()
    return report


def _record_failure(
    engine: Engine,
    item: _Item,
    failure: _SendFailure,
    attempts: int,
    max_attempts: int,
    now: datetime,
    report: SendReport,
    *,
    claimed: bool = False,
) -> None:
    values, action = _failure_values(item, failure, attempts, max_attempts, now)
    if claimed:
        ok = _finish(
            engine, item, from_status=DeliveryStatus.sending.value, values=values, action=action
        )
    else:
        # Unclaimed rows: the attempt guard makes this a claim-and-settle in one step.
        values = {**values, "attempts": attempts} if attempts != item.attempts else values
        ok = _finish(
            engine,
            item,
            from_status=DeliveryStatus.pending.value,
            values=values,
            action=action,
            extra_guard=(ScorecardDelivery.attempts == item.attempts,),
        )
    if not ok:
        report.skipped += 1
        return
    if action == "failed":
        report.failed += 1
        report.problems.append(f"{_label(item)}: failed: {values['last_error']}")
    else:
        report.retried_later += 1
        report.problems.append(
            f"{_label(item)}: will retry at {values['next_attempt_at']:%Y-%m-%d %H:%M} UTC: "
            f"{failure.reason}"
        )


# --------------------------------------------------------------------------- public API


def _clock(now: datetime | None) -> Callable[[], datetime]:
    if now is not None and now.tzinfo is None:
        raise ValueError("now must carry a UTC offset")
    return (lambda: now) if now is not None else utcnow


def _unconfirmed(engine: Engine, where: Any, report: SendReport) -> None:
    with session_scope(engine) as s:
        rows = s.execute(
            select(ScorecardDelivery.id, ScorecardDelivery.round, Scorecard.period, Agent)
            .join(Scorecard, Scorecard.id == ScorecardDelivery.scorecard_id)
            .join(Agent, Agent.id == Scorecard.agent_id)
            .where(ScorecardDelivery.status == DeliveryStatus.sending.value, where)
        ).all()
    for delivery_id, round_, period, agent in rows:
        report.unconfirmed += 1
        report.problems.append(
            f"{period} {agent.external_id} (delivery {delivery_id}, round {round_}): "
            "unconfirmed: claimed by a sender that did not report back; check the mail log, "
            "then resolve it or resend"
        )


def send_month(
    engine: Engine,
    settings: Settings,
    year: int,
    month: int,
    *,
    resend: bool = False,
    now: datetime | None = None,
    agent_ids: Sequence[int] | None = None,
    max_attempts: int | None = None,
) -> SendReport:
    """Send the month's issued scorecards that have not been sent yet.

    With ``resend`` every selected scorecard whose last round is settled (sent or
    failed, or unconfirmed, which the resend supersedes) gets a new round; a round
    still pending is left to its retries. ``agent_ids`` limits the agents.
    """
    clock = _clock(now)
    period = month_label(year, month)
    limit = max_attempts or settings.delivery_max_attempts
    report = SendReport()
    transport = transport_name(settings)
    with session_scope(engine) as s:
        query = (
            select(Scorecard.id, Agent, User)
            .join(Agent, Agent.id == Scorecard.agent_id)
            .outerjoin(User, User.agent_id == Agent.id)
            .where(Scorecard.period == period)
            .order_by(Scorecard.id)
        )
        if agent_ids is not None:
            query = query.where(Scorecard.agent_id.in_(list(agent_ids)))
        cards = [(sid, _recipient(a, u)) for sid, a, u in s.execute(query).all()]
        latest = {
            d.scorecard_id: d
            for d in s.scalars(
                select(ScorecardDelivery)
                .where(ScorecardDelivery.scorecard_id.in_([c for c, _ in cards]))
                .order_by(ScorecardDelivery.scorecard_id, ScorecardDelivery.round)
            )
        }
    for scorecard_id, recipient in cards:
        last = latest.get(scorecard_id)
        if last is None:
            _create_row(engine, scorecard_id, 0, transport, recipient)
        elif resend and last.status != DeliveryStatus.pending.value:
            supersede = last.id if last.status == DeliveryStatus.sending.value else None
            _create_row(
                engine, scorecard_id, last.round + 1, transport, recipient, supersede=supersede
            )
    # Read again: rows created above or by a concurrent sender.
    now0 = clock()
    due: list[int] = []
    with session_scope(engine) as s:
        rounds = s.scalars(
            select(ScorecardDelivery)
            .where(ScorecardDelivery.scorecard_id.in_([c for c, _ in cards]))
            .order_by(ScorecardDelivery.scorecard_id, ScorecardDelivery.round)
        ).all()
    last_by_card: dict[int, ScorecardDelivery] = {}
    for d in rounds:
        last_by_card[d.scorecard_id] = d
    for d in last_by_card.values():
        if d.status == DeliveryStatus.pending.value:
            if d.next_attempt_at is None or d.next_attempt_at <= now0:
                due.append(d.id)
            else:
                report.retried_later += 1
        elif d.status != DeliveryStatus.sending.value:
            report.skipped += 1
    report.add(_process(engine, settings, due, clock, limit))
    _unconfirmed(
        engine,
        ScorecardDelivery.id.in_([d.id for d in last_by_card.values()]),
        report,
    )
    log.info(
        "scorecards %s: sent %d, skipped %d, failed %d, retry later %d, unconfirmed %d",
        period,
        report.sent,
        report.skipped,
        report.failed,
        report.retried_later,
        report.unconfirmed,
    )
    return report


def retry_due(
    engine: Engine,
    settings: Settings,
    now: datetime | None = None,
    *,
    max_attempts: int | None = None,
) -> SendReport:
    """Try every pending delivery that is due (any month): backoff retries and rows a
    killed batch created but never attempted. Unconfirmed rows are reported only."""
    clock = _clock(now)
    with session_scope(engine) as s:
        due = list(
            s.scalars(
                select(ScorecardDelivery.id)
                .where(
                    ScorecardDelivery.status == DeliveryStatus.pending.value,
                    or_(
                        ScorecardDelivery.next_attempt_at.is_(None),
                        ScorecardDelivery.next_attempt_at <= clock(),
                    ),
                )
                .order_by(ScorecardDelivery.id)
            )
        )
        waiting = s.scalar(
            select(func.count(ScorecardDelivery.id)).where(
                ScorecardDelivery.status == DeliveryStatus.pending.value,
                ScorecardDelivery.next_attempt_at > clock(),
            )
        )
    report = _process(engine, settings, due, clock, max_attempts or settings.delivery_max_attempts)
    report.retried_later += waiting or 0
    _unconfirmed(engine, ScorecardDelivery.id.is_not(None), report)
    return report


def resolve_unconfirmed(
    engine: Engine,
    delivery_id: int,
    *,
    delivered: bool,
    actor: User | None = None,
    now: datetime | None = None,
) -> bool:
    """Settle a row left in ``sending``: ``delivered`` (the mail log shows it) marks it
    sent; otherwise it goes back to pending and is retried. False if it was not
    unconfirmed."""
    at = _clock(now)()
    values: dict[str, Any] = (
        {"status": DeliveryStatus.sent.value, "sent_at": at, "last_error": None}
        if delivered
        else {"status": DeliveryStatus.pending.value, "next_attempt_at": at}
    )
    with session_scope(engine) as s:
        result = s.execute(
            update(ScorecardDelivery)
            .where(
                ScorecardDelivery.id == delivery_id,
                ScorecardDelivery.status == DeliveryStatus.sending.value,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return False
        audit.record(
            s,
            actor,
            "scorecard.delivery.resolved",
            _ENTITY,
            delivery_id,
            before={"status": DeliveryStatus.sending.value},
            after={"status": values["status"], "delivered": delivered},
        )
    return True
