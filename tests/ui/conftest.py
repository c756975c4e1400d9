"""UI tests run the real app script in AppTest against a migrated private database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from qa import db
from qa.config import Settings, set_settings
from qa.services import rubrics as rubric_service
from qa.services import users

PASSWORD = "test-password"
APP = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")


@pytest.fixture
def app_db(fresh_engine: Engine, fresh_url: str) -> Iterator[str]:
    """A database with the built-in rubric and one account per role; settings point at it."""
    with db.session_scope(fresh_engine) as s:
        rubric_service.install_builtin(s)
        for role in ("admin", "qa_lead", "reviewer", "trainer", "agent"):
            users.create_user(s, role, role=role, password=PASSWORD)
        users.create_user(s, "arabic", role="reviewer", password=PASSWORD, locale="ar")
    set_settings(Settings(database_url=fresh_url))
    yield fresh_url
    set_settings(None)


@pytest.fixture
def eng(app_db: str) -> Iterator[Engine]:
    """An engine on the ``app_db`` database, for arranging data and checking results."""
    engine = db.make_engine(app_db)
    yield engine
    engine.dispose()
