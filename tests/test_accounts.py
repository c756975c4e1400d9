"""Admin account and team changes: permission checks, guard rails and the audit trail."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from qa.models import AuditEvent
from qa.services import accounts
from qa.services.errors import InvalidInput, PermissionDenied
from qa.services.users import authenticate
from tests import factories as f


def _events(session: Session, entity: str, entity_id: int) -> list[str]:
    return list(
        session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.entity_type == entity, AuditEvent.entity_id == str(entity_id))
            .order_by(AuditEvent.id)
        )
    )


def test_admin_creates_changes_resets_and_disables(session: Session) -> None:
    admin = f.user(session, role="admin")
    user = accounts.create_account(
        session, admin, "  newbie ", role="reviewer", password="long-enough-1", locale="ar"
    )
    assert (user.username, user.role, user.locale) == ("newbie", "reviewer", "ar")
    accounts.change_role(session, admin, user.id, "qa_lead")
    accounts.reset_password(session, admin, user.id, "another-pass-2")
    assert authenticate(session, "newbie", "another-pass-2") is not None
    accounts.set_active(session, admin, user.id, False)
    assert authenticate(session, "newbie", "another-pass-2") is None
    assert _events(session, "user", user.id) == ["create", "set_role", "set_password", "disable"]
    audit_text = str([(e.before, e.after) for e in session.scalars(select(AuditEvent))])
    assert "another-pass-2" not in audit_text and "long-enough-1" not in audit_text


@pytest.mark.parametrize("role", ["qa_lead", "reviewer", "trainer", "agent"])
def test_only_admins(session: Session, role: str) -> None:
    actor = f.user(session, role=role)
    with pytest.raises(PermissionDenied):
        accounts.create_account(session, actor, "x", role="reviewer", password="long-enough-1")
    with pytest.raises(PermissionDenied):
        accounts.create_team(session, actor, "T")
    with pytest.raises(PermissionDenied):
        accounts.change_role(session, actor, actor.id, "admin")


def test_admin_cannot_lock_themselves_out(session: Session) -> None:
    admin = f.user(session, role="admin")
    with pytest.raises(InvalidInput, match="own role"):
        accounts.change_role(session, admin, admin.id, "reviewer")
    with pytest.raises(InvalidInput, match="own account"):
        accounts.set_active(session, admin, admin.id, False)


def test_agent_accounts_need_an_agent_once(session: Session) -> None:
    admin = f.user(session, role="admin")
    agent = f.agent(session)
    with pytest.raises(InvalidInput, match="linked"):
        accounts.create_account(session, admin, "a1", role="agent", password="long-enough-1")
    user = accounts.create_account(
        session, admin, "a1", role="agent", password="long-enough-1", agent_id=agent.id
    )
    assert user.agent_id == agent.id
    with pytest.raises(InvalidInput, match="already has an account"):
        accounts.create_account(
            session, admin, "a2", role="agent", password="long-enough-1", agent_id=agent.id
        )


def test_teams_and_moving_agents(session: Session) -> None:
    admin = f.user(session, role="admin")
    red = accounts.create_team(session, admin, " Red ")
    assert red.name == "Red"
    with pytest.raises(InvalidInput, match="already exists"):
        accounts.create_team(session, admin, "Red")
    agent = f.agent(session)
    login = accounts.create_account(
        session, admin, "ag", role="agent", password="long-enough-1", agent_id=agent.id
    )
    accounts.move_agent(session, admin, agent.id, red.id)
    assert agent.team_id == red.id and login.team_id == red.id
    assert _events(session, "agent", agent.id) == ["move"]
    assert _events(session, "team", red.id) == ["create"]
