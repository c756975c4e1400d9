"""QA lead and admin pages in AppTest: allowed roles see data, others only the refusal.

Each page script is run directly with a signed-in viewer in session state,
which is what a hand-typed URL does; navigation hiding is not relied upon.
"""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from streamlit.testing.v1 import AppTest

from qa import db
from qa.config import Settings, set_settings
from qa.models import (
    Interaction,
    Review,
    RubricVersion,
    SamplingRule,
    User,
    utcnow,
)
from qa.services import rubrics as rubric_service
from qa.ui.cache import clear_dashboard_cache
from rubrics import builtin_rubric_path
from tests import factories as f

PAGES = Path(__file__).resolve().parents[2] / "qa" / "ui" / "pages"
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
DENIED = "You do not have access to this page."


def user_id(engine: Engine, username: str) -> int:
    with db.session_scope(engine) as s:
        uid = s.scalar(select(User.id).where(User.username == username))
    assert uid is not None
    return uid


def count(engine: Engine, model: type) -> int:
    with db.session_scope(engine) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def page(engine: Engine, file: str, username: str, **state: object) -> AppTest:
    at = AppTest.from_file(str(PAGES / file), default_timeout=30)
    at.session_state["viewer_id"] = user_id(engine, username)
    at.session_state["login_at"] = utcnow()
    for key, value in state.items():
        at.session_state[key.replace("__", ".")] = value
    at.run()
    assert not at.exception, at.exception
    return at


def alerts(at: AppTest) -> str:
    return " | ".join(e.value for e in [*at.error, *at.success, *at.info, *at.warning])


# ---------------------------------------------------------------------------- access


REFUSALS = [
    ("lead_dashboard.py", "reviewer"),
    ("lead_dashboard.py", "agent"),
    ("lead_rubrics.py", "trainer"),
    ("lead_import.py", "reviewer"),
    ("lead_sampling.py", "agent"),
    ("admin_users.py", "qa_lead"),
]


def test_refused_roles_see_only_the_refusal(eng: Engine) -> None:
    _reviews(eng)
    clear_dashboard_cache()
    for file, role in REFUSALS:
        at = page(eng, file, role)
        assert [e.value for e in at.error] == [DENIED], (file, role)
        assert not at.dataframe and not at.metric and not at.title and not at.text_area
        assert not at.file_uploader and "Noura" not in str(at.main)


# ---------------------------------------------------------------------------- dashboard


def _reviews(engine: Engine) -> None:
    """Three submitted reviews in October 2026 (scores 90, 60, 0 auto-fail) and one draft."""
    with db.session_scope(engine) as s:
        version = rubric_service.latest_version(s)
        reviewer = s.scalar(select(User).where(User.username == "reviewer"))
        team = f.team(s, "Riyadh <b>*Team*</b>")
        agent = f.agent(s, team_=team, name="Noura")
        for day, score, fail, status in [
            (3, 90.0, False, "submitted"),
            (4, 60.0, False, "submitted"),
            (5, 0.0, True, "submitted"),
            (6, 100.0, False, "draft"),
        ]:
            at = datetime(2026, 10, day, 9, tzinfo=UTC)
            inter = f.interaction(s, agent_=agent, started_at=at)
            s.add(
                Review(
                    interaction_id=inter.id,
                    reviewer_id=reviewer.id,
                    rubric_version_id=version.id,
                    agent_id=agent.id,
                    team_id=team.id,
                    interaction_at=at,
                    status=status,
                    score=score,
                    section_scores={},
                    auto_fail=fail,
                    revision=1,
                )
            )


def test_dashboard_shows_figures_to_leads_and_trainers(eng: Engine) -> None:
    clear_dashboard_cache()
    state = {"dash__first": "2026-10", "dash__last": "2026-10"}
    assert page(eng, "lead_dashboard.py", "admin", **state).metric[0].value == "0"
    _reviews(eng)
    # Cached until a write clears the cache (the review pages call this after submit).
    assert page(eng, "lead_dashboard.py", "admin", **state).metric[0].value == "0"
    clear_dashboard_cache()
    for role in ("qa_lead", "trainer"):
        _check_dashboard(
            page(eng, "lead_dashboard.py", role, dash__first="2026-10", dash__last="2026-10")
        )


def _check_dashboard(at: AppTest) -> None:
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {
        "Reviews": "3",
        "Agents reviewed": "1",
        "Average score": "50.0",
        "Auto-fail rate": "33.3%",
    }
    assert len(at.get("download_button")) == 3
    teams = at.dataframe[0].value
    assert list(teams.iloc[:, 0]) == ["Riyadh <b>*Team*</b>"]  # shown as typed


# ---------------------------------------------------------------------------- rubrics

BAD_RUBRIC = """\
schema_version: 1
key: broken
name: {en: Broken, ar: معطوب}
sections:
  - id: s1
    weight: 0
    name: {en: S, ar: قسم}
    criteria:
      - id: c1
        type: yes_no
        wieght: 2
        label: {en: L, ar: ل}
        description: {en: D, ar: د}
        guidance: {en: G, ar: إ}
"""


def test_invalid_rubric_shows_coded_problems_and_saves_nothing(eng: Engine) -> None:
    before = count(eng, RubricVersion)
    at = page(eng, "lead_rubrics.py", "qa_lead")
    at.text_area(key="rub.text").input(BAD_RUBRIC)
    at.button(key="rub.save").click()
    at.run()
    assert at.error[0].value.startswith("The rubric has 2 problem(s); nothing was saved.")
    listing = at.code[0].value
    assert "<editor>:6: RUB104 sections[0].weight:" in listing
    assert "<editor>:11: RUB102 sections[0].criteria[0].wieght:" in listing
    assert "did you mean 'weight'?" in listing
    assert count(eng, RubricVersion) == before


def test_valid_rubric_creates_a_version_then_says_unchanged(eng: Engine) -> None:
    text = builtin_rubric_path("contact_center").read_text(encoding="utf-8")
    changed = text.replace("target: 85", "target: 80", 1)
    assert changed != text
    at = page(eng, "lead_rubrics.py", "qa_lead")
    at.text_area(key="rub.text").input(changed)
    at.button(key="rub.save").click()
    at.run()
    assert "Saved contact\\_center as version 2." in alerts(at)
    assert count(eng, RubricVersion) == 2
    at.button(key="rub.save").click()
    at.run()
    assert "Unchanged: this content is already stored as contact\\_center version 2." in alerts(at)
    assert count(eng, RubricVersion) == 2
    # The preview shows the form of the chosen version with labels and weights.
    assert any("Greeted the customer" in m.value for m in at.markdown)


def test_rubric_preview_in_arabic(eng: Engine) -> None:
    with db.session_scope(eng) as s:
        f.user(s, role="qa_lead", username="lead_ar", locale="ar")
    at = page(eng, "lead_rubrics.py", "lead_ar")
    assert at.title[0].value == "نماذج التقييم"
    assert any("رحّب بالعميل" in m.value for m in at.markdown)


# ---------------------------------------------------------------------------- import


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="imp.file").set_value((name, data, "application/octet-stream"))
    at.button[0].click()
    return at.run()


def test_import_refuses_bad_or_big_files_and_accepts_a_good_one(eng: Engine, app_db: str) -> None:
    good = (EXAMPLES / "interactions.jsonl").read_bytes()
    bad = good + b'{"external_id": "X-1", "channel": "fax"}\nnot json\n'
    at = _upload(page(eng, "lead_import.py", "qa_lead"), "calls.jsonl", bad)
    assert at.error[0].value.startswith("The file was refused with")
    problems = at.dataframe[0].value
    assert {"IMP"} == {code[:3] for code in problems["Code"]}
    assert "3" in list(problems["Line"]) and "4" in list(problems["Line"])
    assert count(eng, Interaction) == 0

    at = _upload(page(eng, "lead_import.py", "admin"), "calls.jsonl", good)
    assert not at.error
    assert at.success[0].value.startswith("Imported 2 interaction(s)")
    assert count(eng, Interaction) == 2
    # analysed at import, as `qa import` does: reviewers open them for the flags
    assert at.info[0].value == "Auto-QA analysed 2 interaction(s)."
    with db.session_scope(eng) as session:
        stamps = session.scalars(select(Interaction.analysis_version)).all()
    assert len(stamps) == 2 and all(stamps)

    set_settings(Settings(database_url=app_db, max_upload_mb=0))
    at = _upload(page(eng, "lead_import.py", "qa_lead"), "more.jsonl", b"{}\n")
    assert "the limit is 0 MB. Nothing was imported." in at.error[0].value
    assert count(eng, Interaction) == 2


# ---------------------------------------------------------------------------- users


def test_admin_creates_a_user_and_changes_a_role(eng: Engine) -> None:
    at = page(eng, "admin_users.py", "admin")
    at.text_input(key="usr.new.username").input("new_reviewer")
    at.text_input(key="usr.new.display").input("New **Reviewer**")
    at.text_input(key="usr.new.password").input("s3cret-pass-word")
    next(b for b in at.button if b.label == "Create").click()
    at.run()
    assert "User new\\_reviewer created." in alerts(at)
    shown = alerts(at) + str([d.value for d in at.dataframe]) + str([m.value for m in at.markdown])
    assert "s3cret-pass-word" not in shown
    with db.session_scope(eng) as s:
        created = s.scalar(select(User).where(User.username == "new_reviewer"))
        assert created is not None and created.role == "reviewer"
        assert created.display_name == "New **Reviewer**"
        target = created.id
    at.selectbox(key="usr.who").set_value(target)
    at.run()
    assert at.selectbox(key=f"usr.change.role.{target}").value == "reviewer"
    at.selectbox(key=f"usr.change.role.{target}").set_value("trainer")
    next(b for b in at.button if b.label == "Change role").click()
    at.run()
    assert "Role changed." in alerts(at)
    with db.session_scope(eng) as s:
        assert s.get(User, target).role == "trainer"


# ---------------------------------------------------------------------------- sampling


def test_lead_creates_a_rule_and_fills_queues(eng: Engine) -> None:
    with db.session_scope(eng) as s:
        agent = f.agent(s)
        for day in (2, 3, 4):
            f.interaction(s, agent_=agent, started_at=datetime(2026, 10, day, 10, tzinfo=UTC))
    at = page(eng, "lead_sampling.py", "qa_lead")
    at.text_input[0].input("Monthly three")
    next(n for n in at.number_input if n.label.startswith("Interactions per agent")).set_value(2)
    next(b for b in at.button if b.label == "Save rule").click()
    at.run()
    assert "Rule saved." in alerts(at)
    with db.session_scope(eng) as s:
        rule = s.scalar(select(SamplingRule))
        assert rule is not None and rule.per_agent_per_month == 2
    month_box = next(sb for sb in at.selectbox if sb.label == "Month")
    month_box.set_value("2026-10")
    reviewers = next(m for m in at.multiselect if m.label == "Reviewers")
    reviewers.set_value([user_id(eng, "reviewer")])
    next(b for b in at.button if b.label == "Fill queues").click()
    at.run()
    assert "2 interaction(s) assigned for Oct 2026." in alerts(at)


# ---------------------------------------------------------------------------- labels


@pytest.mark.parametrize(
    "file",
    [
        "lead_dashboard.py",
        "lead_rubrics.py",
        "lead_import.py",
        "lead_sampling.py",
        "admin_users.py",
    ],
)
def test_every_label_has_english_and_arabic(file: str) -> None:
    tree = ast.parse((PAGES / file).read_text(encoding="utf-8"))
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "register"
    ]
    labels = ast.literal_eval(calls[0].args[0])
    assert labels
    for key, texts in labels.items():
        assert texts.get("en", "").strip() and texts.get("ar", "").strip(), key
