"""Issuing a month: PDFs stored once per agent, resumable after a crash, immutable afterwards."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from pypdf import PdfReader
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

import scorecards.issue as issue_module
from qa.cli import cli
from qa.config import set_settings
from qa.models import Agent, CoachingFlag, Scorecard
from scorecards.aggregate import aggregate_month
from scorecards.issue import issue_month, pdf_path, render_snapshot_dict
from scorecards.pdf import render_scorecard
from scorecards.snapshot import Scorecard as Snapshot
from tests import factories
from tests import scorecard_data as data
from tests.test_scorecards_aggregate import RIYADH, World, build_world

NOW = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
def world(fresh_engine: Engine) -> World:
    with Session(fresh_engine, expire_on_commit=False) as session:
        w = build_world(session)
        session.commit()
    return w


def issue(engine: Engine, **kw: Any) -> issue_module.IssueReport:
    kw.setdefault("now", NOW)
    kw.setdefault("rubric_key", data.RUBRIC_KEY)
    return issue_month(engine, 2026, 10, RIYADH, **kw)


def cards(engine: Engine) -> dict[int, Scorecard]:
    with Session(engine) as session:
        return {c.agent_id: c for c in session.scalars(select(Scorecard))}


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text(extraction_mode="layout") for page in reader.pages)


def test_issue_stores_pdf_snapshot_and_files(
    fresh_engine: Engine, world: World, tmp_path: Path
) -> None:
    report = issue(fresh_engine, out_dir=tmp_path)
    exts = {world.a.external_id, world.b.external_id, world.c.external_id}
    assert set(report.issued) == exts and not report.skipped_existing and not report.failed
    assert world.d.external_id not in report.issued  # inactive
    stored = cards(fresh_engine)
    assert set(stored) == {world.a.id, world.b.id, world.c.id}
    a = stored[world.a.id]
    assert a.period == "2026-10" and a.pdf and a.pdf_sha256 == hashlib.sha256(a.pdf).hexdigest()
    assert a.rubric_version_id == world.version.id and not a.auto_qa_only
    assert stored[world.c.id].auto_qa_only
    text = pdf_text(a.pdf)
    assert "Sara Haddad" in text and "75.0%" in text  # the agent and the overall KPI
    snap = Snapshot.from_dict(a.snapshot)
    assert snap.kpis.overall_pct == 75.0 and snap.kpis.team_pct == 50.0
    assert snap.generated_at == NOW
    # The files written match the stored PDFs.
    on_disk = pdf_path(tmp_path, "2026-10", world.a.external_id)
    assert on_disk == tmp_path / "2026-10" / f"{world.a.external_id}.pdf"
    assert on_disk.read_bytes() == a.pdf
    # Coaching flags were refreshed and printed on the scorecard (default rules).
    c = Snapshot.from_dict(stored[world.c.id].snapshot)
    assert c.kpis.based_on_auto_qa_only
    assert any("Courteous" in item.criterion_label for item in c.coaching)
    assert "Auto-QA only" in pdf_text(stored[world.c.id].pdf)
    assert "Auto-QA only" not in text
    with Session(fresh_engine) as session:
        assert session.scalar(select(func.count()).select_from(CoachingFlag))


def test_rerun_issues_nothing(fresh_engine: Engine, world: World) -> None:
    first = issue(fresh_engine)
    before = {aid: c.pdf_sha256 for aid, c in cards(fresh_engine).items()}
    again = issue(fresh_engine, now=datetime(2026, 11, 2, tzinfo=UTC))
    assert again.issued == [] and sorted(again.skipped_existing) == sorted(first.issued)
    assert {aid: c.pdf_sha256 for aid, c in cards(fresh_engine).items()} == before


def test_crash_half_way_resumes_with_the_rest(
    fresh_engine: Engine, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}

    def dies_on_second(snapshot: dict[str, Any]) -> tuple[bytes | None, str | None]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed half-way")
        return render_snapshot_dict(snapshot)

    monkeypatch.setattr(issue_module, "_render", dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        issue(fresh_engine)
    survivors = cards(fresh_engine)
    assert set(survivors) == {world.a.id}  # committed before the crash
    monkeypatch.setattr(issue_module, "_render", render_snapshot_dict)
    report = issue(fresh_engine)
    assert sorted(report.issued) == sorted([world.b.external_id, world.c.external_id])
    assert report.skipped_existing == [world.a.external_id]
    after = cards(fresh_engine)
    assert set(after) == {world.a.id, world.b.id, world.c.id}
    assert after[world.a.id].pdf_sha256 == survivors[world.a.id].pdf_sha256


def test_race_with_another_process_skips(
    fresh_engine: Engine, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def other_process_wins_b(snapshot: dict[str, Any]) -> tuple[bytes | None, str | None]:
        if snapshot["agent"]["id"] == world.b.id:
            with Session(fresh_engine) as other:
                other.add(
                    Scorecard(
                        agent_id=world.b.id,
                        period="2026-10",
                        snapshot=snapshot,
                        pdf=b"theirs",
                        pdf_sha256="theirs",
                    )
                )
                other.commit()
        return render_snapshot_dict(snapshot)

    monkeypatch.setattr(issue_module, "_render", other_process_wins_b)
    report = issue(fresh_engine)
    assert report.skipped_existing == [world.b.external_id] and not report.failed
    assert sorted(report.issued) == sorted([world.a.external_id, world.c.external_id])
    assert cards(fresh_engine)[world.b.id].pdf == b"theirs"


def test_render_failure_is_reported_and_retried_later(
    fresh_engine: Engine, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_for_c(snapshot: dict[str, Any]) -> tuple[bytes | None, str | None]:
        if snapshot["agent"]["id"] == world.c.id:
            return None, "RuntimeError: font missing"
        return render_snapshot_dict(snapshot)

    monkeypatch.setattr(issue_module, "_render", broken_for_c)
    report = issue(fresh_engine)
    assert report.failed == [(world.c.external_id, "RuntimeError: font missing")]
    assert world.c.id not in cards(fresh_engine)
    monkeypatch.setattr(issue_module, "_render", render_snapshot_dict)
    assert issue(fresh_engine).issued == [world.c.external_id]


def test_issued_snapshot_survives_rubric_change(fresh_engine: Engine, world: World) -> None:
    issue(fresh_engine)
    before = cards(fresh_engine)[world.a.id]
    with Session(fresh_engine) as session:
        data.install_mini(session, greeting_label="Opened warmly", target=70)
        session.commit()
        # The change is real: a fresh aggregation sees the new label and target.
        fresh = aggregate_month(session, 2026, 10, RIYADH, rubric_key=data.RUBRIC_KEY)
        assert fresh.rubric_ref.version == 2
        assert fresh.agents[world.a.id].criteria[0].label_en == "Opened warmly"
    assert issue(fresh_engine).issued == []
    after = cards(fresh_engine)[world.a.id]
    assert after.snapshot == before.snapshot and after.pdf == before.pdf
    snap = Snapshot.from_dict(after.snapshot)
    assert snap.criteria[0].label_en == "Greeted the customer"
    assert snap.kpis.target_pct == 80.0 and snap.rubric.version == 1
    # The stored snapshot still renders to exactly the stored PDF.
    assert render_scorecard(snap) == after.pdf


def test_process_pool_and_agent_filter(fresh_engine: Engine, world: World) -> None:
    report = issue(fresh_engine, agent_ids=[world.a.id, world.b.id], processes=2)
    assert sorted(report.issued) == sorted([world.a.external_id, world.b.external_id])
    stored = cards(fresh_engine)
    assert set(stored) == {world.a.id, world.b.id}
    for card in stored.values():  # same bytes as rendering in this process
        assert render_scorecard(Snapshot.from_dict(card.snapshot)) == card.pdf
    assert "خالد الحربي" in Snapshot.from_dict(stored[world.b.id].snapshot).agent.name


# ---------------------------------------------------------------------------- CLI


@pytest.fixture
def run(fresh_url: str) -> Iterator[Any]:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        set_settings(None)
        return runner.invoke(
            cli, list(args), env={"QA_DATABASE_URL": fresh_url, "QA_TIMEZONE": "Asia/Riyadh"}
        )

    yield invoke
    set_settings(None)


def test_cli_generate(run: Any, fresh_url: str, tmp_path: Path) -> None:
    assert run("init", "--admin-password", "s3cret-pass").exit_code == 0
    from qa import db

    engine = db.make_engine(fresh_url)
    with Session(engine) as session:
        agent = factories.agent(session, external_id="AG/7", name="Lina Saleh")
        session.commit()
        agent_id = agent.id
    engine.dispose()

    bad = run("scorecards", "generate", "--month", "2026-13")
    assert bad.exit_code == 1 and "--month: expected a month as YYYY-MM" in bad.output
    unknown = run("scorecards", "generate", "--month", "2026-10", "--agent", "nobody")
    assert unknown.exit_code == 1 and "no agent with id 'nobody'" in unknown.output

    out = tmp_path / "out"
    ok = run("scorecards", "generate", "--month", "2026-10", "--agent", "AG/7", "--out", str(out))
    assert ok.exit_code == 0, ok.output
    assert "2026-10: issued 1, already issued 0, failed 0" in ok.output
    pdf = (out / "2026-10" / "AG_7.pdf").read_bytes()
    assert "Lina Saleh" in pdf_text(pdf)
    again = run("scorecards", "generate", "--month", "2026-10")
    assert again.exit_code == 0 and "issued 0, already issued 1" in again.output
    engine = db.make_engine(fresh_url)
    with Session(engine) as session:
        card = session.scalar(select(Scorecard).where(Scorecard.agent_id == agent_id))
        assert card is not None and card.auto_qa_only and card.pdf == pdf
        assert session.scalar(select(func.count()).select_from(Agent)) == 1
    engine.dispose()
