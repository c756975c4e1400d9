"""AppTest for the calibration, dispute, notification and audit pages, per role.

Pages are run directly (as ``st.navigation`` would) with a signed-in viewer in the session
state; login itself is covered by test_login.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import yaml
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from qa import db
from qa.models import (
    CalibrationAnswer,
    Dispute,
    Interaction,
    Notification,
    Review,
    User,
    utcnow,
)
from qa.services import calibration as cal_service
from qa.services import rubrics as rubric_service
from qa.services.reviews import save_review, start_review
from qa.services.users import get_user
from qa.ui.i18n import all_labels, t
from qa.ui.registry import PAGES_DIR
from rubrics import Answer
from tests import factories
from tests.test_trust_calibration import EXPERT, R1, R2, SMALL_RUBRIC, answers
from tests.test_trust_disputes import all_answers


@dataclass
class Ids:
    open_session: int
    closed_session: int
    review: int
    agent_user: str


@pytest.fixture
def world(app_db: str) -> Iterator[tuple[Engine, Ids]]:
    engine = db.make_engine(app_db)
    with db.session_scope(engine) as s:
        version, _ = rubric_service.save_rubric(s, yaml.safe_dump(SMALL_RUBRIC, allow_unicode=True))
        lead = get_user(s, "qa_lead")
        reviewer = get_user(s, "reviewer")
        arabic = get_user(s, "arabic")
        other = factories.user(s, role="reviewer", username="reviewer2")
        expert = factories.user(s, role="qa_lead", username="expert")

        def new_session(name: str) -> int:
            cal = cal_service.create_session(
                s, lead, name=name, rubric_version=version,
                interaction_ids=[factories.interaction(s).id for _ in range(3)],
                reviewer_ids=[reviewer.id, other.id, arabic.id], expert_id=expert.id,
            )  # fmt: skip
            return cal.id

        open_id = new_session("Open <b>session</b>")
        closed_id = new_session("Closed session")
        closed = s.get_one(cal_service.CalibrationSession, closed_id)
        for user, rows in ((reviewer, R1), (other, R2), (arabic, R2), (expert, EXPERT)):
            for item, row in zip(closed.items, rows, strict=True):
                cal_service.submit_answers(s, closed, item.id, user, answers(*row))
        cal_service.close_session(s, closed, lead)

        builtin = rubric_service.latest_version(s)
        agent = factories.agent(s)
        agent_user = factories.user(s, role="agent", agent_=agent, username="agent_linked")
        review = start_review(
            s, factories.interaction(s, agent_=agent).id, reviewer, rubric_version=builtin
        )
        save_review(s, review, all_answers(builtin), reviewer, submit=True)
        ids = Ids(open_id, closed_id, review.id, agent_user.username)
    yield engine, ids
    engine.dispose()


def run_page(engine: Engine, file: str, username: str) -> AppTest:
    with db.session_scope(engine) as s:
        user_id = get_user(s, username).id
    at = AppTest.from_file(str(PAGES_DIR / file), default_timeout=30)
    at.session_state["viewer_id"] = user_id
    at.session_state["login_at"] = utcnow()
    at.run()
    assert not at.exception, at.exception
    return at


DENIED = {
    "calibration_manage.py": "reviewer",
    "calibration_score.py": "agent",
    "calibration_report.py": "agent",
    "calibration_trend.py": "agent",
    "disputes_mine.py": "qa_lead",
    "disputes_queue.py": "reviewer",
    "disputes_reviewer.py": "agent",
    "audit_log.py": "qa_lead",
}


def test_pages_refuse_other_roles(world: tuple[Engine, Ids]) -> None:
    engine, _ = world
    for file, username in DENIED.items():
        at = run_page(engine, file, username)
        assert [e.value for e in at.error] == [t("denied")], file
        assert not at.dataframe, file
    # Every page registered its labels before refusing; each has English and Arabic.
    prefixes = ("calm.", "cals.", "calr.", "calt.", "dism.", "disq.", "disr.", "notif.", "audit.",
                "trust.", "nav.calibration", "nav.disputes", "nav.notifications", "nav.audit")  # fmt: skip
    ours = {k: v for k, v in all_labels().items() if k.startswith(prefixes)}
    assert len(ours) > 100
    for key, texts in ours.items():
        assert texts.get("en") and texts.get("ar"), key
        assert any("\u0600" <= ch <= "\u06ff" for ch in texts["ar"]), key


def test_lead_sees_progress_not_answers_and_closes(world: tuple[Engine, Ids]) -> None:
    engine, ids = world
    at = run_page(engine, "calibration_manage.py", "qa_lead")
    table = at.dataframe[0].value
    assert set(table["Id"]) == {ids.open_session, ids.closed_session}
    assert "Open <b>session</b>" in set(table["Name"])  # shown as text, never as HTML
    progress = table.loc[table["Id"] == ids.closed_session, "Answered (per participant)"].item()
    assert "reviewer: 3/3" in progress
    # The report page lists only closed sessions: the open one stays blind.
    report = run_page(engine, "calibration_report.py", "qa_lead")
    assert report.selectbox[0].options == [f"#{ids.closed_session} Closed session"]
    # Create a session through the form; errors are shown, not raised.
    at.text_input[0].input("From the UI")
    at.button[0].click()  # the form's submit button: nothing picked yet
    at.run()
    assert any("pick 2-20" in e.value.replace("\\", "") for e in at.error)
    with db.session_scope(engine) as s:
        two = list(s.scalars(select(Interaction.id).limit(2)))
        pair = [get_user(s, "reviewer").id, get_user(s, "reviewer2").id]
    at.multiselect[0].set_value(two)
    at.multiselect[1].set_value(pair)
    at.button[0].click()
    at.run()
    assert any("opened" in x.value for x in at.success), [e.value for e in at.error]
    with db.session_scope(engine) as s:
        made = s.scalar(
            select(cal_service.CalibrationSession).where(
                cal_service.CalibrationSession.name == "From the UI"
            )
        )
        assert made is not None and len(made.items) == 2 and len(made.participants) == 2
    # Close the open session.
    close_form = next(b for b in at.button if b.label == "Close session")
    at.selectbox[-1].set_value(ids.open_session)
    at.checkbox[0].check()
    close_form.click()
    at.run()
    assert not at.exception
    assert any(f"Session {ids.open_session} closed" in s.value for s in at.success)
    with db.session_scope(engine) as s:
        assert s.get_one(cal_service.CalibrationSession, ids.open_session).status == "closed"


def test_reviewer_scores_blind_with_validation(world: tuple[Engine, Ids]) -> None:
    engine, ids = world
    at = run_page(engine, "calibration_score.py", "reviewer")
    assert at.selectbox[0].options == [f"#{ids.open_session} Open <b>session</b>"]
    # criteria: q (yes/no), s (scale 1-5), p (points, N/A allowed) -> 2 selectboxes + number input
    submit = at.button[0]
    submit.click()
    at.run()
    assert at.error[0].value == "Some answers need attention:"
    assert any("ANS004" in x.value for x in at.text)
    at.selectbox(
        key=f"cals_{ids.open_session}_{_first_item(engine, ids.open_session)}_q"
    ).set_value(1.0)
    at.selectbox(
        key=f"cals_{ids.open_session}_{_first_item(engine, ids.open_session)}_s"
    ).set_value(4.0)
    at.number_input[0].set_value(7.5)
    at.text_input[0].input("friendly <script>alert(1)</script>")
    at.button[0].click()
    at.run()
    assert not at.exception
    assert at.success and "Saved" in at.success[0].value
    with db.session_scope(engine) as s:
        rows = s.scalars(
            select(CalibrationAnswer).where(CalibrationAnswer.session_id == ids.open_session)
        ).all()
        assert {(r.criterion_id, r.value) for r in rows} == {("q", 1.0), ("s", 4.0), ("p", 7.5)}
        assert {r.comment for r in rows} >= {"friendly <script>alert(1)</script>"}


def _first_item(engine: Engine, session_id: int) -> int:
    with db.session_scope(engine) as s:
        return s.get_one(cal_service.CalibrationSession, session_id).items[0].id


def test_report_and_trend_in_both_languages(world: tuple[Engine, Ids]) -> None:
    engine, _ = world
    at = run_page(engine, "calibration_report.py", "qa_lead")
    assert at.metric[0].label == "Overall agreement (alpha)"
    reviewers = at.dataframe[0].value
    assert len(reviewers) == 3
    assert "Reviewer" in reviewers.columns
    criteria = at.dataframe[-1].value
    assert set(criteria["Reading"]) <= {"reliable", "tentative", "unreliable", "not computable"}
    assert len(at.get("arrow_vega_lite_chart")) == 1 or at.get("vega_lite_chart")
    arabic = run_page(engine, "calibration_report.py", "arabic")  # a participant, closed session
    assert arabic.metric[0].label == "الاتفاق الإجمالي (ألفا)"
    trend = run_page(engine, "calibration_trend.py", "reviewer")
    table = trend.dataframe[0].value
    assert list(table.iloc[:, 0]) == ["reviewer"]  # a reviewer sees only their own line
    lead_trend = run_page(engine, "calibration_trend.py", "trainer")
    assert len(lead_trend.dataframe[0].value) == 3


def test_dispute_flow_agent_lead_reviewer(world: tuple[Engine, Ids]) -> None:
    engine, ids = world
    agent = run_page(engine, "disputes_mine.py", ids.agent_user)
    agent.selectbox[1].set_value("greeting")
    agent.text_area[0].input("I greeted the customer at 00:02.")
    agent.button[0].click()
    agent.run()
    assert not agent.exception and agent.success
    with db.session_scope(engine) as s:
        dispute = s.scalar(select(Dispute).where(Dispute.review_id == ids.review))
        assert dispute is not None and dispute.status == "open"
        dispute_id = dispute.id
    assert agent.dataframe[0].value.iloc[0]["Status"] == "Open"

    reviewer = run_page(engine, "disputes_reviewer.py", "reviewer")
    assert (
        reviewer.dataframe[0].value.iloc[0]["Agent's reason"] == "I greeted the customer at 00:02."
    )
    assert run_page(engine, "disputes_reviewer.py", "reviewer2").info  # not their review

    lead = run_page(engine, "disputes_queue.py", "qa_lead")
    # Someone edits the review after the lead opened it: the decision is a clear conflict.
    with db.session_scope(engine) as s:
        review = s.get_one(Review, ids.review)
        save_review(
            s, review, {**all_answers(review.rubric_version), "closing": Answer(2.0)},
            get_user(s, "reviewer"),
        )  # fmt: skip
    lead.radio[0].set_value("adjust")
    lead.selectbox(key=f"disq_new_{dispute_id}").set_value(0.0)
    lead.text_area[0].input("Agreed.")
    lead.button[0].click()
    lead.run()
    assert lead.warning and lead.warning[0].value == t("trust.error.conflict")
    # After reloading (the page now holds the latest version) the adjustment goes through.
    lead.radio[0].set_value("adjust")
    lead.selectbox(key=f"disq_new_{dispute_id}").set_value(0.0)
    lead.text_area[0].input("No greeting in the first turn; score corrected.")
    lead.button[0].click()
    lead.run()
    assert not lead.exception and lead.success, [e.value for e in lead.error]
    with db.session_scope(engine) as s:
        d = s.get_one(Dispute, dispute_id)
        assert d.status == "adjusted"
        review = s.get_one(Review, ids.review)
        assert review.revision == 3  # reviewer's edit, then the lead's adjustment
        values = {a.criterion_id: a.value for a in review.answers}
        assert values["greeting"] == 0.0 and values["closing"] == 2.0
    rates = lead.dataframe[-1].value
    assert "greeting" in set(rates["Criterion"])

    notes = run_page(engine, "notifications.py", ids.agent_user)
    assert any("score corrected" in x.value for x in notes.text)
    notes.button[0].click()
    notes.run()
    with db.session_scope(engine) as s:
        user = get_user(s, ids.agent_user)
        assert not s.scalars(
            select(Notification).where(
                Notification.user_id == user.id, Notification.read_at.is_(None)
            )
        ).all()


def test_audit_log_page(world: tuple[Engine, Ids]) -> None:
    engine, ids = world
    at = run_page(engine, "audit_log.py", "admin")
    table = at.dataframe[0].value
    assert {"calibration_session", "review", "user"} <= set(table["Entity"])
    assert len(at.get("download_button")) == 2
    at.selectbox[0].set_value("calibration_session")
    at.run()
    filtered = at.dataframe[0].value
    assert set(filtered["Entity"]) == {"calibration_session"}
    assert any('"status": "closed"' in v for v in filtered["After (JSON)"])
    with db.session_scope(engine) as s:
        # Blindness also holds in the audit log: no answer values for open sessions.
        assert not any("value" in (v or "") for v in filtered["After (JSON)"])
        assert s.get_one(User, get_user(s, "admin").id).role == "admin"
    del ids
