"""Coaching and scorecard pages in AppTest: each role sees what it may, acts through the real
services, and user text (evidence excerpts, names) stays text."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, select
from streamlit.runtime.memory_media_file_storage import _calculate_file_id
from streamlit.testing.v1 import AppTest

from qa import db
from qa.models import AuditEvent, CoachingFlag, CoachingSession, Scorecard, User
from qa.ui.i18n import all_labels
from qa.ui.registry import pages_for
from scorecards import coaching_sessions as service
from tests.coaching_data import build
from tests.ui.seed import html_of, text_of
from tests.ui.test_lead_pages import DENIED, page


@pytest.fixture
def ids(eng: Engine) -> dict[str, int]:
    """The coaching world in the app database; the ``agent`` account is Sam."""
    with db.session_scope(eng) as s:
        users = {u.username: u for u in s.scalars(select(User))}
        w = build(s, users)
        out = {f"flag.{k}": v.id for k, v in w.flags.items()}
        out |= {f"card.{k}": v.id for k, v in w.scorecards.items()}
        out |= {f"agent.{k}": v.id for k, v in w.agents.items()}
        out |= {f"team.{k}": v.id for k, v in w.teams.items()}
    return out


def flag_statuses(engine: Engine) -> dict[int, str]:
    with db.session_scope(engine) as s:
        return {f.id: f.status for f in s.scalars(select(CoachingFlag))}


def button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


def test_navigation_and_labels() -> None:
    urls = {
        role: {p.url_path for p in pages_for(role)} for role in ("agent", "reviewer", "trainer")
    }
    assert {"my-coaching", "my-scorecards"} <= urls["agent"]
    assert not urls["agent"] & {"coaching-flags", "coaching-sessions", "scorecards"}
    assert not urls["reviewer"] & {
        "my-coaching", "my-scorecards", "coaching-flags", "coaching-sessions",
        "coaching-history", "scorecards",
    }  # fmt: skip
    assert {"coaching-flags", "coaching-sessions", "coaching-history", "scorecards"} <= urls[
        "trainer"
    ]
    for role in ("admin", "qa_lead", "trainer", "agent", "reviewer"):
        files = [p.file for p in pages_for(role)]
        assert len(files) == len(set(files)), role  # one entry per page file for a role


def test_refused_roles_see_only_the_refusal(eng: Engine, ids: dict[str, int]) -> None:
    for file, username in [
        ("coaching_flags.py", "reviewer"),
        ("coaching_flags.py", "agent"),
        ("coaching_sessions.py", "agent"),
        ("coaching_history.py", "reviewer"),
        ("my_coaching.py", "trainer"),
        ("my_scorecards.py", "reviewer"),
    ]:
        at = page(eng, file, username)
        assert [e.value for e in at.error] == [DENIED], (file, username)
        assert not at.dataframe and not at.title and not at.get("download_button")
        assert "Sam Agent" not in str(at.main), file
    prefixes = ("coach.", "cflags.", "csess.", "chist.", "mycoach.", "mysc.", "nav.coaching",
                "nav.my_coaching", "nav.my_scorecards", "nav.scorecards", "nav.group.coaching")  # fmt: skip
    ours = {k: v for k, v in all_labels().items() if k.startswith(prefixes)}
    assert len(ours) > 80
    for key, texts in ours.items():
        assert texts.get("en") and texts.get("ar"), key
        assert any("\u0600" <= ch <= "\u06ff" for ch in texts["ar"]), key


def test_trainer_queue_filters_plans_a_session_and_dismisses(
    eng: Engine, ids: dict[str, int]
) -> None:
    at = page(eng, "coaching_flags.py", "trainer")
    assert len(at.dataframe[0].value) == 5  # every open flag
    at = page(
        eng,
        "coaching_flags.py",
        "trainer",
        cflags__period="2026-10",
        cflags__team=ids["team.north"],
        cflags__criterion="greeting",
    )
    table = at.dataframe[0].value
    assert sorted(table["Id"]) == sorted([ids["flag.sam_greeting"], ids["flag.bea_greeting"]])
    assert set(table["Priority"]) == {"High"}
    assert "CALL-1: hello what do you want" in set(table["Evidence"])

    # Everything open again; choose Sam's two October flags and Omar's hostile one.
    at = page(eng, "coaching_flags.py", "trainer")
    sam = [ids["flag.sam_greeting"], ids["flag.sam_negative"]]
    at.multiselect(key="cflags.selected.0").set_value([*sam, ids["flag.omar_hostile"]]).run()
    html = html_of(at)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img" not in html
    assert "CHAT-&lt;b&gt;9&lt;/b&gt;" in html and "[U+202E]" in html
    assert "Say what you can do" in text_of(at)
    # Three flags of two agents: refused, nothing changes.
    at.text_area(key="cflags.notes").set_value("Role-play the opening")
    button(at, "Create session").click().run()
    assert "several agents" in at.error[0].value
    assert set(flag_statuses(eng).values()) == {"open"}

    at.multiselect(key="cflags.selected.0").set_value(sam)
    at.date_input(key="cflags.due").set_value(date(2026, 11, 20))
    button(at, "Create session").click().run()
    assert not at.exception
    with db.session_scope(eng) as s:
        created = s.scalars(select(CoachingSession)).one()
        assert (created.agent_id, created.due_date, created.notes) == (
            ids["agent.sam"],
            date(2026, 11, 20),
            "Role-play the opening",
        )
        trainer_id = s.scalar(select(User.id).where(User.username == "trainer"))
        assert created.trainer_id == trainer_id
    assert at.success[0].value.startswith(f"Session {created.id} planned")
    statuses = flag_statuses(eng)
    assert [statuses[i] for i in sam] == ["in_session", "in_session"]
    assert sorted(at.dataframe[0].value["Id"]) == sorted(
        ids[f"flag.{k}"] for k in ("sam_sept", "bea_greeting", "omar_hostile")
    )  # the queue shows what is still open

    at.multiselect(key="cflags.selected.1").set_value([ids["flag.bea_greeting"]])
    button(at, "Dismiss selected").click().run()
    assert at.success[0].value == "1 recommendation(s) dismissed."
    assert flag_statuses(eng)[ids["flag.bea_greeting"]] == "dismissed"
    with db.session_scope(eng) as s:
        actions = [
            (e.entity_type, e.action, e.actor)
            for e in s.scalars(
                select(AuditEvent)
                .where(AuditEvent.entity_type.in_(["coaching_flag", "coaching_session"]))
                .order_by(AuditEvent.id)
            )
        ]
    assert actions == [
        ("coaching_flag", "set_status", "trainer"),
        ("coaching_flag", "set_status", "trainer"),
        ("coaching_session", "create", "trainer"),
        ("coaching_flag", "set_status", "trainer"),
    ]


def test_sessions_page_edits_completes_and_refuses_stale_saves(
    eng: Engine, ids: dict[str, int]
) -> None:
    with db.session_scope(eng) as s:
        trainer = s.scalars(select(User).where(User.username == "trainer")).one()
        planned = service.create_session(
            s, trainer, [ids["flag.sam_greeting"]], notes="first", due_date=date(2026, 11, 3)
        ).id
    at = page(eng, "coaching_sessions.py", "qa_lead")
    assert at.dataframe[0].value["Id"].tolist() == [planned]
    assert at.text_area(key=f"csess.f.notes.{planned}").value == "first"
    assert "Greeting\\: 40% against a target of 90% · In a session" in text_of(at)

    # Someone else saves in between: this page's save is refused, nothing overwritten.
    with db.session_scope(eng) as s:
        other = s.scalars(select(User).where(User.username == "admin")).one()
        service.update_session(s, other, planned, notes="changed elsewhere")
    at.text_area(key=f"csess.f.notes.{planned}").set_value("mine")
    button(at, "Save").click().run()
    assert "changed by someone else" in at.error[0].value
    with db.session_scope(eng) as s:
        assert s.get_one(CoachingSession, planned).notes == "changed elsewhere"

    # After the refusal the page holds the latest version; saving again works.
    at.text_area(key=f"csess.f.notes.{planned}").set_value("Went through two calls")
    at.selectbox(key=f"csess.f.status.{planned}").set_value("done")
    at.text_area(key=f"csess.f.follow_up.{planned}").set_value("Check greetings next month")
    at.date_input(key=f"csess.f.follow_up_date.{planned}").set_value(date(2026, 12, 15))
    button(at, "Save").click().run()
    assert not at.exception
    assert at.success[0].value == f"Session {planned} saved."
    with db.session_scope(eng) as s:
        done = s.get_one(CoachingSession, planned)
        assert (done.status, done.notes, done.follow_up, done.follow_up_date) == (
            "done",
            "Went through two calls",
            "Check greetings next month",
            date(2026, 12, 15),
        )
    assert flag_statuses(eng)[ids["flag.sam_greeting"]] == "resolved"
    assert at.info[0].value.startswith("No sessions match")  # only planned ones by default


def test_history_page_for_a_picked_agent(eng: Engine, ids: dict[str, int]) -> None:
    with db.session_scope(eng) as s:
        trainer = s.scalars(select(User).where(User.username == "trainer")).one()
        sid = service.create_session(s, trainer, [ids["flag.sam_greeting"]], notes="plan").id
    at = page(eng, "coaching_history.py", "admin", chist__agent=ids["agent.sam"])
    flags, sessions = (d.value for d in at.dataframe)
    assert len(flags) == 3
    row = flags[flags["Id"] == ids["flag.sam_greeting"]].iloc[0]
    assert (row["Status"], row["Sessions"]) == ("In a session", f"#{sid}")
    assert sessions["Id"].tolist() == [sid] and sessions["Notes"].tolist() == ["plan"]
    assert "Sam Agent \\(AG\\-SAM\\) · team: North" in at.subheader[0].value


def test_agent_reads_and_acknowledges_own_coaching(eng: Engine, ids: dict[str, int]) -> None:
    at = page(eng, "my_coaching.py", "agent")
    page_text = text_of(at)
    assert "**Greeting\\: 40% against a target of 90%**" in page_text
    assert "Say what you can do, not what you cannot\\." in page_text
    assert "&lt;img" not in html_of(at)  # Omar's hostile flag is not Sam's
    keys = {b.key for b in at.button}
    assert keys == {f"cack-{ids['flag.sam_greeting']}", f"cack-{ids['flag.sam_negative']}",
                    f"cack-{ids['flag.sam_sept']}"}  # fmt: skip
    at.button(key=f"cack-{ids['flag.sam_greeting']}").click().run()
    assert not at.exception
    assert any(s.value.startswith("You confirmed reading this on") for s in at.success)
    with db.session_scope(eng) as s:
        acked = s.get_one(CoachingFlag, ids["flag.sam_greeting"])
        assert acked.acknowledged_at is not None
        other = s.get_one(CoachingFlag, ids["flag.bea_greeting"])
        assert other.acknowledged_at is None
        user = s.scalars(select(User).where(User.username == "arabic")).one()
        user.role, user.agent_id = "agent", ids["agent.omar"]
    # An Arabic-speaking agent reads Arabic text; the hostile excerpt stays text.
    at = page(eng, "my_coaching.py", "arabic")
    assert at.title[0].value == "تدريبي"
    assert "رحّب بكل عميل وعرّف بنفسك" in text_of(at)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html_of(at)
    assert "<img" not in html_of(at)


def test_scorecard_downloads_own_only_and_for_coaches_by_agent(
    eng: Engine, ids: dict[str, int]
) -> None:
    with db.session_scope(eng) as s:
        pdfs = {
            k: s.get_one(Scorecard, ids[f"card.{k}"]).pdf for k in ("sam_09", "sam_10", "bea_10")
        }

    def file_id(key: str, period: str) -> str:
        return _calculate_file_id(pdfs[key], "application/pdf", f"scorecard-{period}.pdf")

    at = page(eng, "my_scorecards.py", "agent")
    buttons = {b.key: b.proto for b in at.get("download_button")}
    assert set(buttons) == {f"scdl-{ids['card.sam_10']}", f"scdl-{ids['card.sam_09']}"}
    assert buttons[f"scdl-{ids['card.sam_10']}"].url.endswith(file_id("sam_10", "2026-10") + ".pdf")
    assert buttons[f"scdl-{ids['card.sam_09']}"].url.endswith(file_id("sam_09", "2026-09") + ".pdf")
    assert "Auto-QA only" in text_of(at) and "64.5%" in text_of(at)
    assert not at.selectbox  # no agent picker for agents

    at = page(eng, "my_scorecards.py", "trainer", mysc__agent=ids["agent.bea"])
    assert at.title[0].value == "Scorecards"
    buttons = {b.key: b.proto for b in at.get("download_button")}
    assert list(buttons) == [f"scdl-{ids['card.bea_10']}"]
    assert buttons[f"scdl-{ids['card.bea_10']}"].url.endswith(file_id("bea_10", "2026-10") + ".pdf")
