"""Monthly aggregation on hand-built data with known numbers (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from qa.models import Agent, RubricVersion, User
from scorecards.aggregate import (
    AgentMonth,
    MonthAggregate,
    aggregate_month,
    build_snapshot,
    excerpt_around,
    pick_timing,
)
from scorecards.snapshot import Scorecard
from tests import factories
from tests import scorecard_data as data

RIYADH = ZoneInfo("Asia/Riyadh")  # UTC+3, no DST


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@dataclass
class World:
    version: RubricVersion
    a: Agent
    b: Agent
    c: Agent
    d: Agent
    reviewer: User


ALL_MAX = {"greeting": 1, "courtesy": 5, "correct_information": 5, "no_rude": 1}


def build_world(session: Session) -> World:
    version = data.install_mini(session)
    t1, t2 = factories.team(session), factories.team(session)
    a = factories.agent(session, team_=t1, name="Sara Haddad")
    b = factories.agent(session, team_=t1, locale="ar", name="خالد الحربي")
    c = factories.agent(session, team_=t2, name="Omar Auto")
    d = factories.agent(session, team_=t1, name="Gone Agent")
    d.is_active = False
    reviewer = factories.user(session, role="reviewer", display_name="Rana Reviewer")
    # A, October (Riyadh): 87.5 and 62.5 -> 75; the second is 1 Oct 00:30 local.
    data.review(
        session,
        version,
        a,
        reviewer,
        utc(2026, 10, 10, 9),
        {"greeting": 1, "courtesy": 5, "correct_information": 3, "no_rude": 1},
        comment="Great opening",
        answer_comments={"correct_information": "Quoted the wrong fee"},
    )
    data.review(
        session,
        version,
        a,
        reviewer,
        utc(2026, 9, 30, 21, 30),
        {"greeting": 0, "courtesy": 3, "correct_information": 5, "no_rude": 1},
    )
    # 1 Nov 01:30 in Riyadh: November, not October, although still October in UTC.
    data.review(session, version, a, reviewer, utc(2026, 10, 31, 22, 30), ALL_MAX)
    # August: 100; September: nothing (a gap in the trend).
    data.review(session, version, a, reviewer, utc(2026, 8, 15, 9), ALL_MAX)
    # B, October: a critical failure (auto-fail -> overall 0).
    data.review(
        session,
        version,
        b,
        reviewer,
        utc(2026, 10, 20, 9),
        {"greeting": 1, "courtesy": 5, "correct_information": 5, "no_rude": 0},
    )
    # C: never reviewed; four analysed calls in October, one in September (local).
    rude_turns = [
        ("agent", "I can't do that, but you could try again tomorrow.", 0.0, 3.0),
        ("customer", "This is ridiculous!", 3.5, 5.0),
    ]
    i1 = data.analysed(
        session,
        c,
        utc(2026, 10, 5, 9),
        metrics={"first_response_s": 12, "hold_max_s": 200},
        turns=rude_turns,
    )
    i2 = data.analysed(session, c, utc(2026, 10, 6, 9), metrics={"first_response_s": 20})
    i3 = data.analysed(session, c, utc(2026, 10, 7, 9), metrics={"first_response_s": None})
    i4 = data.analysed(session, c, utc(2026, 10, 8, 9), metrics={"first_response_s": 4})
    i5 = data.analysed(session, c, utc(2026, 9, 30, 20), metrics={"first_response_s": 99})
    data.flag(
        session, i1, "negative_language", "avoid", start=0, end=15, suggestion="What I can do is"
    )
    data.flag(session, i1, "negative_language", "avoid", start=17, end=20)
    data.flag(session, i1, "customer_frustration", "cue", turn=1)
    data.flag(session, i2, "negative_language", "avoid", start=0, end=10)
    data.flag(session, i3, "greeting", "use", start=0, end=12)
    data.flag(session, i5, "negative_language", "avoid")
    data.finding(session, i1, "missing_greeting", "No greeting in the first agent turn")
    data.finding(session, i2, "missing_greeting", "No greeting in the first agent turn")
    data.suggestion(session, i3, version, "greeting", 1)
    data.suggestion(session, i1, version, "greeting", 0)
    data.suggestion(session, i1, version, "courtesy", 4)
    data.suggestion(session, i2, version, "courtesy", 2)
    data.suggestion(session, i4, version, "correct_information", 5)
    _ = i4
    return World(version, a, b, c, d, reviewer)


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


@pytest.fixture
def october(session: Session, world: World) -> MonthAggregate:
    return aggregate_month(session, 2026, 10, RIYADH, rubric_key=data.RUBRIC_KEY)


def crit(agent: AgentMonth, cid: str):  # type: ignore[no-untyped-def]
    return next(c for c in agent.criteria if c.criterion_id == cid)


def section(agent: AgentMonth, sid: str):  # type: ignore[no-untyped-def]
    return next(s for s in agent.sections if s.section_id == sid)


def test_only_active_agents(october: MonthAggregate, world: World) -> None:
    assert set(october.agents) == {world.a.id, world.b.id, world.c.id}
    assert october.period.label == "2026-10" and october.timezone == "Asia/Riyadh"
    assert october.rubric_ref.key == "mini"


def test_overall_uses_org_time_zone_month(october: MonthAggregate, world: World) -> None:
    a = october.agents[world.a.id]
    # 87.5 (10 Oct) and 62.5 (1 Oct 00:30 local); the 1 Nov 01:30 local review is out.
    assert a.reviews == 2
    assert a.overall_pct == pytest.approx(75.0)
    assert a.auto_fail_count == 0 and not a.auto_qa_only
    b = october.agents[world.b.id]
    assert b.reviews == 1 and b.overall_pct == 0.0 and b.auto_fail_count == 1


def test_team_average_beside_agent(october: MonthAggregate, world: World) -> None:
    a = october.agents[world.a.id]
    assert a.team_pct == pytest.approx(50.0)  # (87.5 + 62.5 + 0) / 3 reviews of team 1
    assert crit(a, "greeting").team_pct == pytest.approx(66.67)  # (100 + 0 + 100) / 3
    assert section(a, "prof").team_pct == pytest.approx(75.0)  # (100 + 25 + 100) / 3
    assert section(a, "acc").team_pct == pytest.approx(75.0)  # (75 + 100 + 50) / 3
    assert october.agents[world.c.id].team_pct is None  # team 2: nobody reviewed


def test_criteria_and_sections_with_targets(october: MonthAggregate, world: World) -> None:
    a = october.agents[world.a.id]
    assert [c.criterion_id for c in a.criteria] == [
        "greeting",
        "courtesy",
        "correct_information",
        "no_rude",
    ]
    g = crit(a, "greeting")
    assert (g.agent_pct, g.count, g.target_pct, g.section_id) == (50.0, 2, 90.0, "prof")
    assert crit(a, "courtesy").agent_pct == pytest.approx(75.0)  # 5 -> 100, 3 -> 50
    assert crit(a, "courtesy").target_pct == 80.0  # the rubric target
    assert crit(a, "correct_information").agent_pct == pytest.approx(75.0)
    assert crit(a, "no_rude").agent_pct == 100.0
    assert g.label_en == "Greeted the customer" and g.label_ar == "رحّب بالعميل"
    assert section(a, "prof").agent_pct == pytest.approx(62.5)  # (100 + 25) / 2
    assert section(a, "acc").agent_pct == pytest.approx(87.5)  # (75 + 100) / 2
    assert section(a, "prof").count == 2 and section(a, "prof").target_pct == 80.0
    # Lowest answers are the coaching evidence, with the reviewer's note.
    low = crit(a, "correct_information").low
    assert [e.text for e in low] == ["50%: Quoted the wrong fee"]
    assert crit(a, "greeting").low[0].text == "0%"


def test_trend_has_gaps_for_missing_months(october: MonthAggregate, world: World) -> None:
    a = october.agents[world.a.id]
    assert [p.period for p in a.trend] == [
        "2026-05",
        "2026-06",
        "2026-07",
        "2026-08",
        "2026-09",
        "2026-10",
    ]
    assert [p.agent_pct for p in a.trend] == [None, None, None, 100.0, None, 75.0]
    assert [p.team_pct for p in a.trend] == [None, None, None, 100.0, None, 50.0]
    assert crit(a, "greeting").history == {"2026-08": 100.0, "2026-10": 50.0}


def test_auto_qa_only_agent(october: MonthAggregate, world: World) -> None:
    c = october.agents[world.c.id]
    assert c.auto_qa_only and c.reviews == 0 and c.analysed == 4
    # Criteria from auto-QA's suggested answers: greeting 1 and 0 -> 50%,
    # courtesy 4 and 2 -> value 3 on 1..5 -> 50%, correct_information 5 -> 100%.
    assert crit(c, "greeting").agent_pct == 50.0 and crit(c, "greeting").source == "auto_qa"
    assert crit(c, "courtesy").agent_pct == 50.0
    assert crit(c, "correct_information").agent_pct == 100.0
    assert crit(c, "no_rude").agent_pct is None and crit(c, "no_rude").count == 0
    assert section(c, "prof").agent_pct == 50.0 and section(c, "acc").agent_pct == 100.0
    # Nominal shares 1/4 each over the three scored criteria.
    assert c.overall_pct == pytest.approx(66.67)


def test_behaviours_findings_and_timing(october: MonthAggregate, world: World) -> None:
    c = october.agents[world.c.id]
    by = {b.behaviour: b for b in c.behaviours}
    assert set(by) == {"negative_language", "greeting"}  # customer cues are not behaviours
    neg = by["negative_language"]
    assert (neg.polarity, neg.count, neg.rate) == ("avoid", 3, 0.75)  # 3 flags / 4 analysed
    assert neg.suggestion == "What I can do is"
    # The agent's own words, taken from the turn, newest first.
    assert neg.examples[0].text == "Good morning, my name is Sam. How can I help?"
    assert "I can't do that, but you could try again tomorrow." in {e.text for e in neg.examples}
    assert by["greeting"].rate == 0.25 and by["greeting"].polarity == "use"
    [missing] = c.findings
    assert (missing.finding, missing.count, missing.rate) == ("missing_greeting", 2, 0.5)
    assert missing.examples[0].text == "No greeting in the first agent turn"
    timing = {t.metric: t for t in c.timing}
    assert timing["first_response_s"].value == pytest.approx(12.0)  # (12 + 20 + 4) / 3
    assert timing["first_response_s"].count == 3 and timing["first_response_s"].threshold == 10
    assert timing["hold_max_s"].value == 200 and timing["hold_max_s"].count == 1
    assert october.agents[world.a.id].behaviours == []


def test_reviewer_comments(october: MonthAggregate, world: World) -> None:
    a = october.agents[world.a.id]
    texts = {(c.text, c.criterion_label) for c in a.comments}
    assert texts == {("Great opening", None), ("Quoted the wrong fee", "Correct information")}
    assert all(c.reviewer_name == "Rana Reviewer" for c in a.comments)


def test_snapshot_is_valid_and_round_trips(october: MonthAggregate, world: World) -> None:
    generated = datetime(2026, 11, 1, 6, tzinfo=RIYADH)
    for agent in october.agents.values():
        snap = build_snapshot(october, agent, generated_at=generated)
        assert Scorecard.from_dict(snap.to_dict()) == snap
    c = build_snapshot(october, october.agents[world.c.id], generated_at=generated)
    assert c.kpis.based_on_auto_qa_only and c.kpis.reviews == 0 and c.kpis.target_pct == 80.0
    assert [t.metric for t in c.timing] == ["first_response_s", "hold_max_s"]
    b = build_snapshot(october, october.agents[world.b.id], generated_at=generated)
    assert b.agent.locale == "ar" and b.kpis.auto_fail_count == 1 and b.team_name is not None


def test_query_count_does_not_grow_with_agents(session: Session, world: World) -> None:
    def count_queries() -> int:
        seen: list[str] = []

        def listener(*args: object) -> None:
            seen.append(str(args[2]))

        conn = session.connection()
        event.listen(conn, "before_cursor_execute", listener)
        try:
            aggregate_month(session, 2026, 10, RIYADH, rubric_key=data.RUBRIC_KEY)
        finally:
            event.remove(conn, "before_cursor_execute", listener)
        return len(seen)

    before = count_queries()
    team = factories.team(session)
    for _ in range(10):
        agent = factories.agent(session, team_=team)
        data.review(session, world.version, agent, world.reviewer, utc(2026, 10, 3, 9), ALL_MAX)
        inter = data.analysed(session, agent, utc(2026, 10, 4, 9), metrics={"first_response_s": 3})
        data.flag(session, inter, "greeting", "use", start=0, end=12)
    after = count_queries()
    assert after == before
    assert before <= 20


def test_agent_filter_keeps_team_averages(session: Session, world: World) -> None:
    only_a = aggregate_month(
        session, 2026, 10, RIYADH, agent_ids=[world.a.id], rubric_key=data.RUBRIC_KEY
    )
    assert set(only_a.agents) == {world.a.id}
    assert only_a.agents[world.a.id].team_pct == pytest.approx(50.0)


def test_excerpt_around_cuts_at_words() -> None:
    text = ("word " * 60) + "I cannot help you with that " + ("tail " * 60)
    start = text.index("I cannot")
    end = start + len("I cannot help you")
    out = excerpt_around(text, start, end, width=60)
    assert "I cannot help you" in out
    assert out.startswith("…") and out.endswith("…")
    assert len(out) <= 62
    assert all(
        part in {"word", "tail", "I", "cannot", "help", "you", "with", "that"}
        for part in out.strip("…").split()
    )
    assert excerpt_around("short text", 0, 5) == "short text"
    # Offsets that no longer fit the turn fall back to its beginning.
    assert excerpt_around(text, 10_000, 10_010, width=30).startswith("word")


def test_pick_timing_prefers_main_channel() -> None:
    from scorecards.aggregate import TimingStat

    stats = [
        TimingStat("call", "first_response_s", 8.0, 5, 10.0),
        TimingStat("chat", "first_response_s", 70.0, 20, 60.0),
        TimingStat("chat", "reply_time_mean_s", 30.0, 20, 60.0),
    ]
    picked = pick_timing(stats)
    assert [(t.channel, t.metric) for t in picked] == [
        ("chat", "first_response_s"),
        ("chat", "reply_time_mean_s"),
    ]
