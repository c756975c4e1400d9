from __future__ import annotations

import re
from pathlib import Path

import pytest

from qa.config import ConfigError, Settings, env_names


def test_defaults_use_embedded_sqlite_in_data_dir(tmp_path: Path) -> None:
    s = Settings.from_env({"QA_DATA_DIR": str(tmp_path)})
    assert s.effective_database_url == f"sqlite:///{tmp_path}/qa.sqlite3"
    assert s.effective_outbox_dir == tmp_path / "outbox"
    assert s.timezone == "UTC"


def test_env_values_are_typed() -> None:
    s = Settings.from_env(
        {
            "QA_DATABASE_URL": "postgresql+psycopg://u@h/db",
            "QA_SMTP_PORT": "2525",
            "QA_TIMEZONE": "Asia/Riyadh",
            "QA_LEXICON_DIR": "~/lex",
        }
    )
    assert s.effective_database_url == "postgresql+psycopg://u@h/db"
    assert s.smtp_port == 2525
    assert s.tz.key == "Asia/Riyadh"
    assert s.lexicon_dir is not None and "~" not in str(s.lexicon_dir)


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"QA_SMTP_PORT": "abc"}, "QA_SMTP_PORT"),
        ({"QA_TIMEZONE": "Mars/Olympus"}, "QA_TIMEZONE"),
        ({"QA_SMTP_TLS": "maybe"}, "QA_SMTP_TLS"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(env)


def test_password_not_in_repr() -> None:
    assert "hunter2" not in repr(Settings.from_env({"QA_SMTP_PASSWORD": "hunter2"}))


def test_readme_documents_every_setting() -> None:
    readme = Path("README.md").read_text(encoding="utf-8")
    table = readme.split("<!-- settings-table -->", 1)[1].split("\n\n", 1)[0]
    documented = set(re.findall(r"^\| `(QA_[A-Z_]+)`", table, flags=re.M))
    assert documented == set(env_names())


def test_only_config_reads_the_environment() -> None:
    offenders = []
    for path in [
        *Path("qa").rglob("*.py"),
        *Path("rubrics").rglob("*.py"),
        *Path("scorecards").rglob("*.py"),
    ]:
        if path.as_posix() in ("qa/config.py",) or path.parts[:2] == ("qa", "ui"):
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"os\.environ\b|os\.getenv\(", text):
            offenders.append(str(path))
    # The CLI passes the database URL on to the app process it starts; nothing else may read env.
    assert offenders == ["qa/cli.py"] or offenders == []


def test_streamlit_only_imported_by_ui() -> None:
    offenders = []
    for path in Path(".").rglob("*.py"):
        parts = path.parts
        if parts[0] in (".venv", "venv", "tests", "benchmarks", "build") or parts[:2] == (
            "qa",
            "ui",
        ):
            continue
        if path.name == "streamlit_app.py":
            continue
        if re.search(
            r"^\s*(import streamlit|from streamlit)", path.read_text(encoding="utf-8"), re.M
        ):
            offenders.append(str(path))
    assert offenders == []
