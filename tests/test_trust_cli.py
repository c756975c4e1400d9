"""`qa calibration report SESSION_ID --format json|csv`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import pytest
import yaml
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from qa import db
from qa.cli import cli
from qa.config import set_settings
from qa.services import calibration as cal_service
from qa.services import rubrics as rubric_service
from tests import factories
from tests.test_trust_calibration import EXPERT, R1, R2, R3, SMALL_RUBRIC, answers


@pytest.fixture
def run(fresh_engine: Engine, fresh_url: str) -> Iterator:  # type: ignore[type-arg]
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        set_settings(None)
        return runner.invoke(cli, list(args), env={"QA_DATABASE_URL": fresh_url})

    yield invoke
    set_settings(None)


def _session(engine: Engine, *, close: bool) -> int:
    with db.session_scope(engine) as s:
        version, _ = rubric_service.save_rubric(s, yaml.safe_dump(SMALL_RUBRIC, allow_unicode=True))
        lead = factories.user(s, role="qa_lead")
        people = [factories.user(s, role="reviewer") for _ in range(3)]
        expert = factories.user(s, role="qa_lead")
        cal = cal_service.create_session(
            s, lead, name="CLI", rubric_version=version,
            interaction_ids=[factories.interaction(s).id for _ in range(3)],
            reviewer_ids=[p.id for p in people], expert_id=expert.id,
        )  # fmt: skip
        for user, rows in zip([*people, expert], (R1, R2, R3, EXPERT), strict=True):
            for item, row in zip(cal.items, rows, strict=True):
                cal_service.submit_answers(s, cal, item.id, user, answers(*row))
        if close:
            cal_service.close_session(s, cal, lead)
        return cal.id


def test_report_json_and_csv(run, fresh_engine: Engine) -> None:  # type: ignore[no-untyped-def]
    session_id = _session(fresh_engine, close=True)
    result = run("calibration", "report", str(session_id), "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["session_id"] == session_id and data["name"] == "CLI"
    alignment = data["report"]["weighted_alignment"]
    # r3 by hand: q 66.67, s 50, p 70 -> 0.25 x 66.67 + 0.25 x 50 + 0.5 x 70 = 64.17
    assert list(alignment.values()) == pytest.approx([100.0, 86.25, 64.1666667])

    result = run("calibration", "report", str(session_id), "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    weighted = [r for r in rows if r["metric"] == "weighted_alignment"]
    assert [float(r["value"]) for r in weighted] == pytest.approx([100.0, 86.25, 64.1666667])
    assert {r["criterion"] for r in rows if r["scope"] == "criterion"} == {"q", "s", "p"}


def test_report_refuses_missing_and_open_sessions(run, fresh_engine: Engine) -> None:  # type: ignore[no-untyped-def]
    open_id = _session(fresh_engine, close=False)
    result = run("calibration", "report", str(open_id))
    assert result.exit_code == 1 and "still open" in result.output
    result = run("calibration", "report", "999999", "--format", "csv")
    assert result.exit_code == 1 and "calibration session 999999 not found" in result.output
