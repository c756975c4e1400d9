"""Account and team administration for the admin pages: permission-checked and audited.

``qa.services.users`` holds the primitives (hashing, authentication, role
change); this module is the admin-facing surface on top of it, so every change
made from the app checks that the actor is an admin and leaves an audit event.
Admins may not demote or disable themselves: that is how an organisation ends
up with no admin at all.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qa.models import Agent, Role, Team, User
from qa.services import audit, users
from qa.services.errors import InvalidInput, NotFound, PermissionDenied

ADMIN_ROLES = frozenset({Role.admin.value})


def require_admin(actor: User) -> None:
    if actor.role not in ADMIN_ROLES:
        raise PermissionDenied("only admins manage users and teams")


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def _agent(session: Session, agent_id: int) -> Agent:
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFound(f"agent {agent_id} not found")
    return agent


def list_users(session: Session, actor: User) -> list[User]:
    require_admin(actor)
    return list(session.scalars(select(User).order_by(User.username)))


def list_teams(session: Session) -> list[Team]:
    return list(session.scalars(select(Team).order_by(Team.name)))


def list_agents(session: Session) -> list[Agent]:
    return list(session.scalars(select(Agent).order_by(Agent.name, Agent.id)))


def create_account(
    session: Session,
    actor: User,
    username: str,
    *,
    role: str,
    password: str,
    display_name: str | None = None,
    email: str | None = None,
    locale: str = "en",
    agent_id: int | None = None,
) -> User:
    """A new login. Agents must be linked to the agent record whose reviews they may see."""
    require_admin(actor)
    agent = _agent(session, agent_id) if agent_id is not None else None
    if role == Role.agent.value and agent is None:
        raise InvalidInput("an agent account must be linked to an agent")
    if agent is not None and session.scalar(select(func.count()).where(User.agent_id == agent.id)):
        raise InvalidInput(f"agent {agent.external_id!r} already has an account")
    return users.create_user(
        session,
        username,
        role=role,
        password=password,
        display_name=(display_name or "").strip() or None,
        email=(email or "").strip() or None,
        locale=locale,
        agent=agent,
        actor=actor,
    )


def change_role(session: Session, actor: User, user_id: int, role: str) -> User:
    require_admin(actor)
    user = _user(session, user_id)
    if user.id == actor.id and role != user.role:
        raise InvalidInput("you cannot change your own role; ask another admin")
    if role == Role.agent.value and user.agent_id is None:
        raise InvalidInput("link the account to an agent before giving it the agent role")
    users.set_role(session, user, role, actor=actor)
    return user


def reset_password(session: Session, actor: User, user_id: int, password: str) -> User:
    """Set a new password and unlock the account; the password itself is never recorded."""
    require_admin(actor)
    user = _user(session, user_id)
    users.set_password(session, user, password, actor=actor)
    return user


def set_active(session: Session, actor: User, user_id: int, active: bool) -> User:
    require_admin(actor)
    user = _user(session, user_id)
    if user.id == actor.id and not active:
        raise InvalidInput("you cannot disable your own account")
    before = user.is_active
    user.is_active = active
    audit.record(
        session,
        actor,
        "enable" if active else "disable",
        "user",
        user.id,
        before={"is_active": before},
        after={"is_active": active},
    )
    return user


def create_team(session: Session, actor: User, name: str) -> Team:
    require_admin(actor)
    name = name.strip()
    if not name:
        raise InvalidInput("team name must not be empty")
    if len(name) > 120:
        raise InvalidInput("team name must be at most 120 characters")
    if session.scalar(select(func.count()).where(Team.name == name)):
        raise InvalidInput(f"team {name!r} already exists")
    team = Team(name=name)
    session.add(team)
    session.flush()
    audit.record(session, actor, "create", "team", team.id, after={"name": name})
    return team


def move_agent(session: Session, actor: User, agent_id: int, team_id: int | None) -> Agent:
    """Put an agent in another team (or none). Past reviews keep the team they were done in."""
    require_admin(actor)
    agent = _agent(session, agent_id)
    if team_id is not None and session.get(Team, team_id) is None:
        raise NotFound(f"team {team_id} not found")
    before = agent.team_id
    agent.team_id = team_id
    linked = session.scalar(select(User).where(User.agent_id == agent.id))
    if linked is not None:
        linked.team_id = team_id
    audit.record(
        session,
        actor,
        "move",
        "agent",
        agent.id,
        before={"team_id": before},
        after={"team_id": team_id},
    )
    return agent
