"""Scorecard delivery against a real SMTP server on loopback (aiosmtpd), and the outbox."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from qa.config import Settings
from qa.db import session_scope
from qa.models import AuditEvent, DeliveryStatus, ScorecardDelivery
from scorecards.delivery import (
    BACKOFF_MINUTES,
    backoff_delay,
    resolve_unconfirmed,
    retry_due,
    send_month,
)
from tests.delivery_support import AgentSpec, Handler, free_port, issue, smtp_server

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
ARABIC_NAME = "أحمد <b>&amp; العتيبي</b>"
AGENTS = [
    AgentSpec("AG001", "Sarah Connor", "sarah@example.com", "en"),
    AgentSpec("AG002", ARABIC_NAME, "ahmed@example.com", "ar"),
    AgentSpec("AG003", "Omar", None, "en", user_email="omar.user@example.com"),
]


def smtp_settings(tmp_path: Path, port: int, **kw: object) -> Settings:
    return Settings(
        data_dir=tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_tls="none",
        smtp_from="Jawda QA <qa@jawda.example>",
        **kw,  # type: ignore[arg-type]
    )


def rows(engine: Engine) -> list[ScorecardDelivery]:
    with session_scope(engine) as s:
        return list(
            s.scalars(
                select(ScorecardDelivery).order_by(
                    ScorecardDelivery.scorecard_id, ScorecardDelivery.round
                )
            )
        )


def parts(msg: EmailMessage) -> tuple[str, str, list[EmailMessage]]:
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content(), list(msg.iter_attachments())


def test_backoff_grows_and_is_capped() -> None:
    delays = [backoff_delay(n) for n in range(1, 9)]
    assert delays[:5] == [timedelta(minutes=m) for m in BACKOFF_MINUTES]
    assert delays[5:] == [timedelta(minutes=BACKOFF_MINUTES[-1])] * 3
    assert delays == sorted(delays)


def test_sends_one_mail_per_agent_with_pdf_in_the_agents_language(
    fresh_engine: Engine, tmp_path: Path
) -> None:
    ids = issue(fresh_engine, "2026-10", AGENTS)
    issue(fresh_engine, "2026-09", [AgentSpec("OLD1", "Old", "old@example.com")])
    with smtp_server(Handler()) as (handler, port):
        report = send_month(fresh_engine, smtp_settings(tmp_path, port), 2026, 10, now=NOW)
    assert (report.sent, report.failed, report.retried_later, report.skipped) == (3, 0, 0, 0)
    got = handler.by_recipient()
    assert sorted(got) == ["ahmed@example.com", "omar.user@example.com", "sarah@example.com"]
    assert all(len(v) == 1 for v in got.values())

    en = got["sarah@example.com"][0].message
    plain, html, attachments = parts(en)
    assert en["Subject"] == "Your quality scorecard – October 2026"
    assert en["Content-Language"] == "en"
    assert "Hello Sarah Connor," in plain
    assert "scorecard for October 2026 is attached" in plain
    assert 'dir="ltr"' in html
    [pdf] = attachments
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_filename() == "scorecard-2026-10-AG001.pdf"
    assert pdf.get_content().startswith(b"%PDF-")

    ar = got["ahmed@example.com"][0].message
    plain, html, attachments = parts(ar)
    assert ar["Subject"] == "بطاقة أداء الجودة الخاصة بك – أكتوبر 2026"
    assert ar["Content-Language"] == "ar"
    lines = [line for line in plain.splitlines() if line]
    assert all(line.startswith("\u200f") for line in lines)  # RLM: right-to-left paragraphs
    assert "لشهر أكتوبر 2026" in plain
    assert "\u2068أحمد <b>&amp; العتيبي</b>\u2069" in plain  # name isolated, kept as typed
    assert '<html lang="ar" dir="rtl">' in html and '<body dir="rtl"' in html
    assert "<bdi>أحمد &lt;b&gt;&amp;amp; العتيبي&lt;/b&gt;</bdi>" in html  # escaped
    assert "<b>" not in html
    assert attachments[0].get_filename() == "scorecard-2026-10-AG002.pdf"

    by_card = {r.scorecard_id: r for r in rows(fresh_engine)}
    sent = by_card[ids["AG001"]]
    assert (sent.status, sent.round, sent.attempts, sent.transport) == ("sent", 0, 1, "smtp")
    assert sent.sent_at == NOW and sent.last_error is None
    assert sent.recipient == "sarah@example.com"
    assert (
        en["Message-ID"]
        == sent.message_id
        == f"<scorecard.2026-10.{ids['AG001']}.r0@jawda.example>"
    )
    assert by_card[ids["AG003"]].recipient == "omar.user@example.com"  # via the user account
    assert len(by_card) == 3  # September was not touched
    with session_scope(fresh_engine) as s:
        actions = s.scalars(
            select(AuditEvent.action).where(
                AuditEvent.entity_type == "scorecard_delivery", AuditEvent.entity_id == str(sent.id)
            )
        ).all()
    assert actions == [
        "scorecard.delivery.queued",
        "scorecard.delivery.attempt",
        "scorecard.delivery.sent",
    ]


def test_a_month_is_sent_once_unless_resent(fresh_engine: Engine, tmp_path: Path) -> None:
    issue(fresh_engine, "2026-10", AGENTS[:2])
    with smtp_server(Handler()) as (handler, port):
        settings = smtp_settings(tmp_path, port)
        first = send_month(fresh_engine, settings, 2026, 10, now=NOW)
        again = send_month(fresh_engine, settings, 2026, 10, now=NOW + timedelta(hours=1))
        assert (first.sent, again.sent, again.skipped) == (2, 0, 2)
        assert len(handler.received) == 2
        assert retry_due(fresh_engine, settings, NOW + timedelta(days=1)).sent == 0

        later = NOW + timedelta(days=2)
        resent = send_month(fresh_engine, settings, 2026, 10, resend=True, now=later)
        assert resent.sent == 2
        assert len(handler.received) == 4
    deliveries = rows(fresh_engine)
    assert [(r.round, r.status) for r in deliveries] == [(0, "sent"), (1, "sent")] * 2
    ids = [r.message_id for r in deliveries]
    assert len(set(ids)) == 4 and all(".r1@" in m for m in ids[1::2])


def test_resend_can_be_limited_to_agents(fresh_engine: Engine, tmp_path: Path) -> None:
    issue(fresh_engine, "2026-10", AGENTS[:2])
    with session_scope(fresh_engine) as s:
        from qa.models import Agent

        ag2 = s.scalar(select(Agent.id).where(Agent.external_id == "AG002"))
    with smtp_server(Handler()) as (handler, port):
        settings = smtp_settings(tmp_path, port)
        send_month(fresh_engine, settings, 2026, 10, now=NOW)
        report = send_month(fresh_engine, settings, 2026, 10, resend=True, agent_ids=[ag2], now=NOW)
    assert report.sent == 1
    assert [r.rcpt_tos for r in handler.received] == [
        ["sarah@example.com"],
        ["ahmed@example.com"],
        ["ahmed@example.com"],
    ]


def test_temporary_failure_is_retried_with_backoff(fresh_engine: Engine, tmp_path: Path) -> None:
    issue(fresh_engine, "2026-10", AGENTS)
    with smtp_server(Handler(fail_first=2)) as (handler, port):
        settings = smtp_settings(tmp_path, port)
        first = send_month(fresh_engine, settings, 2026, 10, now=NOW)
        assert (first.sent, first.retried_later, first.failed) == (1, 2, 0)
        waiting = [r for r in rows(fresh_engine) if r.status == "pending"]
        assert len(waiting) == 2
        for r in waiting:
            assert r.attempts == 1
            assert r.next_attempt_at == NOW + timedelta(minutes=BACKOFF_MINUTES[0])
            assert r.last_error is not None and r.last_error.startswith("451")

        early = retry_due(fresh_engine, settings, NOW + timedelta(seconds=30))
        assert (early.sent, early.retried_later) == (0, 2)
        # a repeated monthly run does not jump the queue either
        assert send_month(fresh_engine, settings, 2026, 10, now=NOW).sent == 0

        due = retry_due(fresh_engine, settings, NOW + timedelta(minutes=2))
        assert (due.sent, due.retried_later, due.failed) == (2, 0, 0)
        assert retry_due(fresh_engine, settings, NOW + timedelta(hours=5)).sent == 0
    assert handler.data_commands == 5
    assert {k: len(v) for k, v in handler.by_recipient().items()} == {
        "sarah@example.com": 1,
        "ahmed@example.com": 1,
        "omar.user@example.com": 1,
    }
    final = rows(fresh_engine)
    assert all(r.status == "sent" and r.last_error is None for r in final)
    assert sorted(r.attempts for r in final) == [1, 2, 2]


def test_gives_up_after_max_attempts(fresh_engine: Engine, tmp_path: Path) -> None:
    issue(fresh_engine, "2026-10", AGENTS[:1])
    with smtp_server(Handler(fail_first=100)) as (_handler, port):
        settings = smtp_settings(tmp_path, port, delivery_max_attempts=3)
        t = NOW
        assert send_month(fresh_engine, settings, 2026, 10, now=t).retried_later == 1
        for minutes in BACKOFF_MINUTES[:1]:
            t += timedelta(minutes=minutes)
            assert retry_due(fresh_engine, settings, t).retried_later == 1
        t += timedelta(minutes=BACKOFF_MINUTES[1])
        last = retry_due(fresh_engine, settings, t)
    assert (last.failed, last.retried_later) == (1, 0)
    [row] = rows(fresh_engine)
    assert row.status == "failed" and row.attempts == 3
    assert row.last_error is not None and row.last_error.startswith(
        "gave up after 3 attempt(s): 451"
    )


def test_permanent_failures_are_not_retried(fresh_engine: Engine, tmp_path: Path) -> None:
    issue(
        fresh_engine,
        "2026-10",
        [
            AgentSpec("NOMAIL", "No Mail", None),
            AgentSpec("GONE", "Gone", "gone@example.com"),
            AgentSpec("OK", "Fine", "fine@example.com"),
            AgentSpec("BAD", "Bad", "not an address"),
        ],
    )
    handler = Handler(reject={"gone@example.com": "550 5.1.1 No such user here"})
    with smtp_server(handler) as (_h, port):
        settings = smtp_settings(tmp_path, port)
        report = send_month(fresh_engine, settings, 2026, 10, now=NOW)
        assert (report.sent, report.failed) == (1, 3)
        assert retry_due(fresh_engine, settings, NOW + timedelta(days=1)).sent == 0
    errors = {r.recipient: (r.status, r.last_error, r.attempts) for r in rows(fresh_engine)}
    assert errors[None] == ("failed", "no e-mail address for the agent", 0)
    assert errors["gone@example.com"][0] == "failed"
    assert errors["gone@example.com"][1].startswith("550 5.1.1 No such user")
    assert errors["not an address"][:2] == ("failed", "invalid e-mail address 'not an address'")
    assert any(
        p.startswith("2026-10 NOMAIL ") and "no e-mail address" in p for p in report.problems
    )
    assert [r.rcpt_tos for r in handler.received] == [["fine@example.com"]]


def test_unreachable_server_defers_the_whole_batch(fresh_engine: Engine, tmp_path: Path) -> None:
    issue(fresh_engine, "2026-10", AGENTS)
    port = free_port()  # nothing listens here yet: connection refused
    settings = smtp_settings(tmp_path, port)
    report = send_month(fresh_engine, settings, 2026, 10, now=NOW)
    assert (report.sent, report.retried_later) == (0, 3)
    for r in rows(fresh_engine):
        assert (r.status, r.attempts) == ("pending", 1)
        assert "ConnectionRefused" in (r.last_error or "")
    with smtp_server(Handler(), port=port) as (handler, _port):
        report = retry_due(fresh_engine, settings, NOW + timedelta(minutes=1))
    assert report.sent == 3
    assert len(handler.received) == 3


def test_login_is_used_and_a_refused_login_is_retried(fresh_engine: Engine, tmp_path: Path) -> None:
    issue(fresh_engine, "2026-10", AGENTS[:1])
    with smtp_server(Handler(), credentials=("mailer", "s3cret")) as (handler, port):
        wrong = smtp_settings(tmp_path, port, smtp_user="mailer", smtp_password="nope")
        report = send_month(fresh_engine, wrong, 2026, 10, now=NOW)
        assert report.retried_later == 1 and not handler.received
        assert "535" in (rows(fresh_engine)[0].last_error or "")
        right = smtp_settings(tmp_path, port, smtp_user="mailer", smtp_password="s3cret")
        assert retry_due(fresh_engine, right, NOW + timedelta(minutes=1)).sent == 1
    assert len(handler.received) == 1


def test_outbox_when_smtp_is_not_configured(fresh_engine: Engine, tmp_path: Path) -> None:
    issue(fresh_engine, "2026-10", [*AGENTS[:2], AgentSpec("A/B 7", "Odd Id", "odd@example.com")])
    settings = Settings(data_dir=tmp_path, smtp_from="qa@jawda.example")
    report = send_month(fresh_engine, settings, 2026, 10, now=NOW)
    assert report.sent == 3
    folder = tmp_path / "outbox" / "2026-10"
    names = sorted(p.name for p in folder.iterdir())
    odd = next(n for n in names if n.startswith("scorecard-2026-10-A_B_7-"))
    assert odd.endswith(".eml") or odd.endswith(".pdf")
    assert [n for n in names if not n.startswith("scorecard-2026-10-A_B_7-")] == [
        "scorecard-2026-10-AG001.eml",
        "scorecard-2026-10-AG001.pdf",
        "scorecard-2026-10-AG002.eml",
        "scorecard-2026-10-AG002.pdf",
    ]
    assert not [n for n in names if n.startswith(".")]  # no temp files left behind
    msg = message_from_bytes(
        (folder / "scorecard-2026-10-AG002.eml").read_bytes(), policy=policy.default
    )
    assert isinstance(msg, EmailMessage)
    assert msg["To"].addresses[0].addr_spec == "ahmed@example.com"
    _plain, html, [pdf] = parts(msg)
    assert 'dir="rtl"' in html
    assert pdf.get_content() == (folder / "scorecard-2026-10-AG002.pdf").read_bytes()
    assert all(r.transport == "outbox" and r.status == "sent" for r in rows(fresh_engine))

    assert send_month(fresh_engine, settings, 2026, 10, now=NOW).sent == 0
    send_month(fresh_engine, settings, 2026, 10, resend=True, now=NOW)
    assert (folder / "scorecard-2026-10-AG001.r1.eml").exists()


def test_concurrent_senders_send_each_scorecard_once(fresh_engine: Engine, tmp_path: Path) -> None:
    specs = [AgentSpec(f"C{i:03d}", f"Agent {i}", f"c{i}@example.com") for i in range(12)]
    issue(fresh_engine, "2026-10", specs)
    with smtp_server(Handler()) as (handler, port):
        settings = smtp_settings(tmp_path, port)
        barrier = threading.Barrier(3)
        reports = []

        def run() -> None:
            barrier.wait()
            reports.append(send_month(fresh_engine, settings, 2026, 10, now=NOW))

        threads = [threading.Thread(target=run) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert sum(r.sent for r in reports) == 12
    assert sorted(handler.by_recipient()) == sorted(s.email for s in specs)  # type: ignore[type-var]
    assert len(handler.received) == 12
    assert all(r.status == "sent" and r.attempts == 1 and r.round == 0 for r in rows(fresh_engine))


_CHILD = """
import sys
from pathlib import Path
from qa.config import Settings
from qa.db import make_engine
from scorecards.delivery import send_month
settings = Settings(data_dir=Path(sys.argv[3]), smtp_host="127.0.0.1", smtp_port=int(sys.argv[2]),
                    smtp_tls="none", smtp_from="qa@jawda.example")
send_month(make_engine(sys.argv[1]), settings, 2026, 10)
"""


def test_crash_after_claim_is_reported_not_resent(
    fresh_engine: Engine, fresh_url: str, tmp_path: Path
) -> None:
    """A sender killed while the server holds its message leaves an unconfirmed row:
    the claim was committed before the SMTP conversation, and nothing resends it."""
    issue(fresh_engine, "2026-10", AGENTS[:1])
    arrived, release = threading.Event(), threading.Event()

    async def hold(_envelope: object) -> None:
        arrived.set()
        while not release.is_set():
            await asyncio.sleep(0.02)

    handler = Handler(on_data=hold)
    with smtp_server(handler) as (_h, port):
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, fresh_url, str(port), str(tmp_path)],
            cwd=Path(__file__).resolve().parent.parent,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        )
        try:
            assert arrived.wait(30), "the sender never reached DATA"
            [row] = rows(fresh_engine)
            assert (row.status, row.attempts) == ("sending", 1)  # committed before SMTP
            os.kill(child.pid, signal.SIGKILL)
            child.wait(10)
        finally:
            release.set()
            if child.poll() is None:
                child.kill()
        handler.on_data = None
        settings = smtp_settings(tmp_path, port)
        later = datetime.now(UTC) + timedelta(hours=1)
        again = send_month(fresh_engine, settings, 2026, 10, now=later)
        retried = retry_due(fresh_engine, settings, later + timedelta(days=1))
        assert (again.sent, again.unconfirmed, retried.sent, retried.unconfirmed) == (0, 1, 0, 1)
        assert "unconfirmed" in again.problems[0]
        # the operator checked the mail log: it never arrived
        [row] = rows(fresh_engine)
        assert resolve_unconfirmed(fresh_engine, row.id, delivered=False, now=later)
        assert not resolve_unconfirmed(fresh_engine, row.id, delivered=False, now=later)
        assert retry_due(fresh_engine, settings, later).sent == 1
    [row] = rows(fresh_engine)
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(handler.received) == 1  # the killed attempt's message was held, then dropped


def test_resend_supersedes_an_unconfirmed_round(fresh_engine: Engine, tmp_path: Path) -> None:
    issue(fresh_engine, "2026-10", AGENTS[:1])
    settings = Settings(data_dir=tmp_path)
    send_month(fresh_engine, settings, 2026, 10, now=NOW)
    with fresh_engine.begin() as conn:  # as a crashed claimer would have left it
        conn.execute(text("UPDATE scorecard_deliveries SET status = 'sending'"))
    report = send_month(fresh_engine, settings, 2026, 10, resend=True, now=NOW)
    assert report.sent == 1
    first, second = rows(fresh_engine)
    assert (first.status, first.last_error) == (
        "failed",
        "unconfirmed; superseded by resend round 1",
    )
    assert (second.round, second.status) == (1, DeliveryStatus.sent.value)


def test_bidi_overrides_in_names_are_removed(fresh_engine: Engine, tmp_path: Path) -> None:
    issue(fresh_engine, "2026-10", [AgentSpec("E1", "Eve\u202e\u0007lin", "eve@example.com", "ar")])
    settings = Settings(data_dir=tmp_path)
    send_month(fresh_engine, settings, 2026, 10, now=NOW)
    eml = tmp_path / "outbox" / "2026-10" / "scorecard-2026-10-E1.eml"
    msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert isinstance(msg, EmailMessage)
    plain, html, _ = parts(msg)
    assert "\u202e" not in plain and "\u202e" not in html and "\x07" not in plain
    assert "\u2068Eve lin\u2069" in plain
