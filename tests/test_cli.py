from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from qa import db
from qa.cli import cli
from qa.config import set_settings
from qa.models import (
    Agent,
    AnalysisFlag,
    CoachingFlag,
    Interaction,
    Review,
    ReviewAssignment,
    Scorecard,
    User,
)


@pytest.fixture
def run(fresh_url: str) -> Iterator:  # type: ignore[type-arg]
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        set_settings(None)
        return runner.invoke(cli, list(args), input=input, env={"QA_DATABASE_URL": fresh_url})

    yield invoke
    set_settings(None)


def test_help_lists_every_command(run) -> None:  # type: ignore[no-untyped-def]
    out = run("--help").output
    for command in ("init", "db", "import", "rubric", "user", "demo", "serve"):
        assert f"  {command}" in out


def test_commands_refuse_uninitialised_database(run) -> None:  # type: ignore[no-untyped-def]
    result = run("import", "docs/examples/interactions.jsonl")
    assert result.exit_code != 0 and "qa init" in result.output


def test_init_import_and_users(run, fresh_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("init", "--admin-password", "s3cret-pass")
    assert result.exit_code == 0, result.output
    assert "created admin 'admin'" in result.output
    again = run("init", "--admin-password", "s3cret-pass")
    assert again.exit_code == 0 and "already exists" in again.output

    result = run("import", "docs/examples/interactions.jsonl", "docs/examples/interactions.csv")
    assert result.exit_code == 0, result.output
    assert "imported 2 interaction(s)" in result.output
    assert "imported 1 interaction(s)" in result.output
    result = run("import", "docs/examples/interactions.jsonl")
    assert "duplicate (already imported): EX-1001" in result.output

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"external_id": "Z", "channel": "fax"}\n', encoding="utf-8")
    result = run("import", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:1: IMP026 channel:" in result.output

    cp = tmp_path / "arabic.csv"
    text = Path("docs/examples/interactions.csv").read_text(encoding="utf-8")
    cp.write_bytes(text.replace("EX-2001", "EX-3001").replace("Emma", "سارة").encode("cp1256"))
    assert run("import", "--encoding", "cp1256", str(cp)).exit_code == 0
    strict = tmp_path / "strict.jsonl"
    line = json.loads(Path("docs/examples/interactions.jsonl").read_text().splitlines()[0])
    line["external_id"], line["agent"]["id"] = "NEW-1", "AG-NEW"
    strict.write_text(json.dumps(line) + "\n", encoding="utf-8")
    result = run("import", "--strict", str(strict))
    assert result.exit_code == 1 and "IMP040" in result.output

    result = run(
        "user", "add", "rita", "--role", "reviewer", "--locale", "ar", "--password", "pw-123456"
    )
    assert result.exit_code == 0, result.output
    result = run(
        "user", "add", "emma", "--role", "agent", "--agent", "AG-7", "--password", "pw-123456"
    )
    assert result.exit_code == 0, result.output
    assert run("user", "set-role", "rita", "qa_lead").exit_code == 0
    result = run("user", "set-password", "rita", input="another-pass\nanother-pass\n")
    assert result.exit_code == 0, result.output
    listing = run("user", "list").output
    assert "rita\tqa_lead\tar" in listing and "argon2" not in listing
    assert run("user", "set-role", "nobody", "agent").exit_code == 1

    engine = db.make_engine(fresh_url)
    with db.session_factory(engine)() as s:
        assert s.scalar(select(func.count()).select_from(Interaction)) == 4
        emma = s.scalar(select(User).where(User.username == "emma"))
        assert emma is not None and emma.agent is not None and emma.agent.external_id == "AG-7"
        assert s.scalar(select(Agent.name).where(Agent.external_id == "AG-2")) == "سارة العتيبي"
    engine.dispose()


def test_rubric_check(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ok = run("rubric", "check", "rubrics/builtin/contact_center.yaml")
    assert ok.exit_code == 0 and "OK" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("key: x\nname: {en: X}\nsections: nope\n", encoding="utf-8")
    result = run("rubric", "check", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:" in result.output and "RUB" in result.output


def test_rubric_import_creates_versions(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("init", "--admin-password", "s3cret-pass")
    changed = tmp_path / "cc.yaml"
    shutil.copy("rubrics/builtin/contact_center.yaml", changed)
    assert "unchanged" in run("rubric", "import", str(changed)).output
    changed.write_text(changed.read_text(encoding="utf-8").replace("target: 85", "target: 90", 1))
    assert "created version 2" in run("rubric", "import", str(changed)).output
    assert "contact_center\tv2" in run("rubric", "list").output


def test_demo_seeds_a_believable_centre(run, fresh_url: str) -> None:  # type: ignore[no-untyped-def]
    result = run("demo", "--no-serve", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert "24 agents" in result.output and "demo-password" in result.output
    for role in ("admin", "qa_lead", "reviewer", "trainer", "agent"):
        assert f" {role} " in result.output
    engine = db.make_engine(fresh_url)
    with db.session_factory(engine)() as s:
        total = s.scalar(select(func.count()).select_from(Interaction)) or 0
        arabic = s.scalar(select(func.count()).where(Interaction.language == "ar")) or 0
        assert total >= 600 and 0.25 < arabic / total < 0.45
        ar_agents = s.scalars(
            select(Agent).join(Interaction).where(Interaction.language == "ar").distinct()
        ).all()
        assert ar_agents and all(
            a.locale == "ar" and a.user and a.user.locale == "ar" for a in ar_agents
        )
        reviews = s.scalars(select(Review).where(Review.status == "submitted")).all()
        assert len(reviews) > 200
        scores = [r.score for r in reviews if r.score is not None]
        assert min(scores) < 60 < max(scores)  # good and bad behaviour both present
        assert len({r.reviewer_id for r in reviews}) == 3
        # A running centre: auto-QA flags, queues, coaching flags, last month's scorecards.
        assert s.scalar(select(func.count()).select_from(AnalysisFlag))
        assert s.scalar(select(func.count()).select_from(ReviewAssignment))
        assert s.scalar(select(func.count()).select_from(CoachingFlag))
        cards = s.scalars(select(Scorecard)).all()
        assert len(cards) == 24 and all(c.pdf and c.pdf.startswith(b"%PDF") for c in cards)
    engine.dispose()
    assert "already present" in run("demo", "--no-serve").output
    assert run("demo", "--no-serve", "--reset", "--seed", "3").exit_code == 0


def test_readme_lists_every_command() -> None:
    import re

    readme = Path("README.md").read_text(encoding="utf-8")
    table = readme.split("## Command line", 1)[1].split("\n\n", 2)[1]
    documented = set(re.findall(r"^\| `qa ([a-z-]+)", table, flags=re.M))
    assert documented == set(cli.commands)
