"""Accounts: argon2 password hashes, lockout after repeated failures, role changes (audited).

Passwords and hashes never leave this module in logs or messages.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qa.models import LANGUAGES, Agent, Role, User, utcnow
from qa.services import audit
from qa.services.errors import InvalidInput, NotFound

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()


def set_hasher(hasher: PasswordHasher) -> None:
    """Swap the hashing parameters (tests use cheap ones; production keeps the defaults)."""
    global _hasher, _DUMMY
    _hasher = hasher
    _DUMMY = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def create_user(
    session: Session,
    username: str,
    *,
    role: str,
    password: str | None = None,
    password_hash: str | None = None,
    display_name: str | None = None,
    email: str | None = None,
    locale: str = "en",
    agent: Agent | None = None,
    actor: User | None = None,
) -> User:
    username = username.strip()
    if not username:
        raise InvalidInput("username must not be empty")
    if role not in Role.__members__:
        raise InvalidInput(f"unknown role {role!r}; expected one of {', '.join(Role)}")
    if locale not in LANGUAGES:
        raise InvalidInput(f"unknown locale {locale!r}; expected en or ar")
    if session.scalar(select(func.count()).where(User.username == username)):
        raise InvalidInput(f"user {username!r} already exists")
    user = User(
        username=username,
        display_name=display_name or username,
        email=email,
        role=role,
        locale=locale,
        password_hash=hash_password(password) if password else password_hash,
        agent_id=agent.id if agent is not None else None,
        team_id=agent.team_id if agent is not None else None,
        failed_logins=0,
        is_active=True,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "create",
        "user",
        user.id,
        after={"username": username, "role": role, "locale": locale},
    )
    return user


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def set_password(session: Session, user: User, password: str, *, actor: User | None) -> None:
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    audit.record(session, actor, "set_password", "user", user.id)


def set_role(session: Session, user: User, role: str, *, actor: User | None) -> None:
    if role not in Role.__members__:
        raise InvalidInput(f"unknown role {role!r}; expected one of {', '.join(Role)}")
    before = user.role
    user.role = role
    audit.record(
        session, actor, "set_role", "user", user.id, before={"role": before}, after={"role": role}
    )


def authenticate(
    session: Session, username: str, password: str, *, now: datetime | None = None
) -> User | None:
    """The user if the password is right and the account usable; ``None`` otherwise.

    Failures are counted per account; after ``MAX_FAILED_LOGINS`` the account is
    locked for ``LOCKOUT`` even for the right password, which stops guessing.
    """
    now = now or utcnow()
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None or not user.is_active or not user.password_hash:
        _hasher_dummy_verify()
        return None
    if user.locked_until is not None and user.locked_until > now:
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
            audit.record(session, None, "lockout", "user", user.id)
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    return user


_DUMMY = _hasher.hash("not-a-real-password")


def _hasher_dummy_verify() -> None:
    """Spend the same time for unknown users so usernames cannot be probed by timing."""
    with contextlib.suppress(VerifyMismatchError):
        _hasher.verify(_DUMMY, "wrong-password")
