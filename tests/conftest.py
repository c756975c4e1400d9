"""Test fixtures: the same suite runs on SQLite and on PostgreSQL.

``QA_TEST_BACKENDS`` picks the backends (comma-separated: ``sqlite``,
``postgresql``); by default SQLite, plus PostgreSQL when
``QA_TEST_POSTGRES_URL`` is set. Each backend's schema is built once per test
session by the real Alembic migrations (so migrations are tested on both), and
each test runs inside a transaction that is rolled back (savepoints let code
under test commit "its" transactions). Tests that need real commits or several
connections use ``fresh_url``: a private database file or PostgreSQL schema.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from qa import db

POSTGRES_URL = os.environ.get("QA_TEST_POSTGRES_URL", "")


def _backends() -> list[str]:
    raw = os.environ.get("QA_TEST_BACKENDS")
    if raw:
        names = [b.strip() for b in raw.split(",") if b.strip()]
    else:
        names = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])
    for name in names:
        if name not in ("sqlite", "postgresql"):
            raise pytest.UsageError(f"QA_TEST_BACKENDS: unknown backend {name!r}")
    if "postgresql" in names and not POSTGRES_URL:
        raise pytest.UsageError(
            "QA_TEST_BACKENDS includes postgresql but QA_TEST_POSTGRES_URL is not set "
            "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )
    return names


BACKENDS = _backends()


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing() -> None:
    """argon2 at production cost takes ~0.1-0.3 s per hash; tests need many accounts."""
    from argon2 import PasswordHasher

    from qa.services import users

    users.set_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def _pg_url_with_schema(schema: str) -> str:
    url = make_url(POSTGRES_URL)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def _create_pg_schema(schema: str) -> str:
    admin = db.make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return _pg_url_with_schema(schema)


def _drop_pg_schema(schema: str) -> None:
    admin = db.make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("db") / "test.sqlite3"
        url = f"sqlite:///{path}"
        eng = db.make_engine(url)
        db.upgrade(eng)
        yield eng
        eng.dispose()
    else:
        # Unique per process: concurrent test runs (several checkouts, xdist workers)
        # against one PostgreSQL must never share or drop each other's schema.
        schema = f"qa_test_{_worker()}_{os.getpid()}"
        eng = db.make_engine(_create_pg_schema(schema))
        db.upgrade(eng)
        yield eng
        eng.dispose()
        _drop_pg_schema(schema)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose every change is rolled back after the test."""
    connection = engine.connect()
    outer = connection.begin()
    sess = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield sess
    finally:
        sess.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """URL of an empty, un-migrated database private to this test (real commits allowed)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    else:
        schema = f"qa_t_{uuid.uuid4().hex[:12]}"
        url = _create_pg_schema(schema)
        yield url
        _drop_pg_schema(schema)


@pytest.fixture
def fresh_engine(fresh_url: str) -> Iterator[Engine]:
    """A migrated private database for tests that commit or use several connections."""
    eng = db.make_engine(fresh_url)
    db.upgrade(eng)
    yield eng
    eng.dispose()
