"""Login state, the database, and settings for the Streamlit pages.

Only this package talks to Streamlit. Pages get a short-lived SQLAlchemy
session per run (``db_session()``) and the logged-in user's id; the user row is
re-read on every run so a role change or a disabled account takes effect at
once, and sessions expire after ``QA_SESSION_TTL_MINUTES``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from qa import db
from qa.config import Settings, get_settings
from qa.models import User, utcnow
from qa.ui.i18n import register, t

register(
    {
        "login.title": {"en": "Sign in", "ar": "تسجيل الدخول"},
        "login.username": {"en": "Username", "ar": "اسم المستخدم"},
        "login.password": {"en": "Password", "ar": "كلمة المرور"},
        "login.submit": {"en": "Sign in", "ar": "دخول"},
        "login.failed": {
            "en": "Wrong username or password, or the account is locked.",
            "ar": "اسم المستخدم أو كلمة المرور غير صحيحة، أو الحساب مقفل.",
        },
        "login.expired": {
            "en": "Your session expired; please sign in again.",
            "ar": "انتهت الجلسة؛ يرجى تسجيل الدخول من جديد.",
        },
        "logout": {"en": "Sign out", "ar": "تسجيل الخروج"},
        "denied": {
            "en": "You do not have access to this page.",
            "ar": "ليست لديك صلاحية للوصول إلى هذه الصفحة.",
        },
    }
)


@st.cache_resource
def _engine(url: str) -> Engine:
    return db.make_engine(url)


def settings() -> Settings:
    return get_settings()


def engine() -> Engine:
    return _engine(settings().effective_database_url)


@contextmanager
def db_session() -> Iterator[Session]:
    """A session for one page run: commits on success, rolls back on error."""
    with db.session_scope(engine()) as session:
        yield session


@dataclass(frozen=True)
class Viewer:
    """The logged-in user as pages need it (a plain value, safe to keep across runs)."""

    id: int
    username: str
    display_name: str
    role: str
    locale: str
    agent_id: int | None
    team_id: int | None

    def t(self, key: str, **values: object) -> str:
        return t(key, self.locale, **values)


def _viewer_of(user: User) -> Viewer:
    return Viewer(
        user.id,
        user.username,
        user.display_name,
        user.role,
        user.locale,
        user.agent_id,
        user.team_id,
    )


def login(username: str, password: str) -> Viewer | None:
    from qa.services.users import authenticate

    with db_session() as session:
        user = authenticate(session, username, password)
        if user is None:
            return None
        viewer = _viewer_of(user)
    st.session_state["viewer_id"] = viewer.id
    st.session_state["login_at"] = utcnow()
    return viewer


def logout() -> None:
    for key in ("viewer_id", "login_at"):
        st.session_state.pop(key, None)


def current_viewer(now: datetime | None = None) -> Viewer | None:
    """The logged-in user, re-read from the database; None if absent, expired or disabled."""
    viewer_id = st.session_state.get("viewer_id")
    if viewer_id is None:
        return None
    login_at: datetime = st.session_state.get("login_at") or utcnow()
    if (now or utcnow()) - login_at > timedelta(minutes=settings().session_ttl_minutes):
        logout()
        st.session_state["expired"] = True
        return None
    with db_session() as session:
        user = session.get(User, viewer_id)
        if user is None or not user.is_active:
            logout()
            return None
        return _viewer_of(user)


def require(roles: frozenset[str] | set[str]) -> Viewer:
    """Stop the page unless someone allowed is logged in (pages call this first)."""
    viewer = current_viewer()
    if viewer is None:
        st.warning(t("login.expired"))
        st.stop()
    assert viewer is not None
    if viewer.role not in roles:
        st.error(viewer.t("denied"))
        st.stop()
    return viewer
