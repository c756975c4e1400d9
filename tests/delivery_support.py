"""Shared by the delivery and scheduler tests: a real SMTP server on loopback
(aiosmtpd) and issued scorecards built from hand-made snapshots."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from functools import lru_cache
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import Engine

from qa.db import session_scope
from qa.models import Agent, Scorecard, User
from scorecards.pdf import render_scorecard
from scorecards.snapshot import AgentInfo, Kpis, Period, RubricRef
from scorecards.snapshot import Scorecard as Snapshot


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    rcpt_tos: list[str]
    mail_from: str
    content: bytes

    @property
    def message(self) -> EmailMessage:
        msg = message_from_bytes(self.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class Handler:
    """Collects accepted messages; can refuse some recipients (5xx) or answer
    ``451 try later`` to the first ``fail_first`` DATA commands."""

    fail_first: int = 0
    fail_reply: str = "451 4.3.0 Try again later"
    reject: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    data_commands: int = 0
    on_data: Any = None  # optional callable(envelope) run before answering DATA
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.reject:
            return self.reject[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.on_data is not None:
            await self.on_data(envelope)
        with self.lock:
            self.data_commands += 1
            if self.data_commands <= self.fail_first:
                return self.fail_reply
            self.received.append(
                Received(list(envelope.rcpt_tos), envelope.mail_from, bytes(envelope.content))
            )
        return "250 Message accepted for delivery"

    def by_recipient(self) -> dict[str, list[Received]]:
        out: dict[str, list[Received]] = {}
        for r in self.received:
            for rcpt in r.rcpt_tos:
                out.setdefault(rcpt, []).append(r)
        return out


@contextmanager
def smtp_server(
    handler: Handler, *, credentials: tuple[str, str] | None = None, port: int | None = None
) -> Iterator[tuple[Handler, int]]:
    """A real SMTP server on 127.0.0.1 (on a free port unless given)."""
    kwargs: dict[str, Any] = {}
    if credentials is not None:

        def authenticator(
            server: Any, session: Any, envelope: Any, mechanism: str, data: Any
        ) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and (
                    data.login.decode(),
                    data.password.decode(),
                )
                == credentials
            )
            return AuthResult(success=ok, handled=False)

        kwargs = {"authenticator": authenticator, "auth_require_tls": False}
    port = port or free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


# --------------------------------------------------------------------------- scorecards


def snapshot(agent_id: int, external_id: str, name: str, locale: str, period: str) -> Snapshot:
    year, month = (int(x) for x in period.split("-"))
    return Snapshot(
        agent=AgentInfo(id=agent_id, external_id=external_id, name=name, locale=locale),  # type: ignore[arg-type]
        team_name=None,
        period=Period(year, month),
        timezone="Asia/Riyadh",
        generated_at=datetime(year, month, 28, 3, 0, tzinfo=UTC),
        rubric=RubricRef(key="cs-core", version=1, name="Customer Service Core"),
        kpis=Kpis(
            overall_pct=81.5,
            team_pct=79.0,
            target_pct=85.0,
            reviews=4,
            auto_fail_count=0,
            based_on_auto_qa_only=False,
        ),
    )


@lru_cache(maxsize=4)
def pdf_bytes(locale: str) -> bytes:
    """A real rendered scorecard PDF (one per language; delivery does not care whose)."""
    return render_scorecard(snapshot(1, "AG-PDF", "Sample Agent", locale, "2026-10"))


@dataclass(frozen=True)
class AgentSpec:
    external_id: str
    name: str
    email: str | None
    locale: str = "en"
    user_email: str | None = None


def make_agents(engine: Engine, specs: list[AgentSpec]) -> dict[str, int]:
    """Create active agents (and users where given) plus the built-in rubric, as `qa init`
    and an import would; returns external_id -> agent id."""
    from qa.services.rubrics import install_builtin

    out: dict[str, int] = {}
    with session_scope(engine) as s:
        install_builtin(s)
        for spec in specs:
            agent = Agent(
                external_id=spec.external_id,
                name=spec.name,
                email=spec.email,
                locale=spec.locale,
                is_active=True,
            )
            s.add(agent)
            s.flush()
            if spec.user_email is not None:
                s.add(
                    User(
                        username=f"u-{spec.external_id}",
                        display_name=spec.name,
                        email=spec.user_email,
                        role="agent",
                        locale=spec.locale,
                        agent_id=agent.id,
                        failed_logins=0,
                        is_active=True,
                    )
                )
            s.flush()
            out[spec.external_id] = agent.id
    return out


def issue(engine: Engine, period: str, specs: list[AgentSpec]) -> dict[str, int]:
    """Create agents and issued scorecards directly; returns external_id -> scorecard id."""
    agent_ids = make_agents(engine, specs)
    out: dict[str, int] = {}
    with session_scope(engine) as s:
        for spec in specs:
            snap = snapshot(
                agent_ids[spec.external_id], spec.external_id, spec.name, spec.locale, period
            )
            card = Scorecard(
                agent_id=agent_ids[spec.external_id],
                period=period,
                snapshot=snap.to_dict(),
                pdf=pdf_bytes(spec.locale),
                auto_qa_only=False,
            )
            s.add(card)
            s.flush()
            out[spec.external_id] = card.id
    return out
