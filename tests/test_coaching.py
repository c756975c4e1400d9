"""Coaching rules (file validation, every rule type), idempotent flag refresh, permissions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qa.models import AuditEvent, CoachingFlag
from qa.services.errors import InvalidInput, NotFound, PermissionDenied
from scorecards.aggregate import aggregate_month
from scorecards.coaching import (
    DEFAULT_RULES_PATH,
    CoachingRules,
    CoachingRulesError,
    FlagFilters,
    Recommendation,
    acknowledge,
    coaching_items,
    default_rules,
    flags_for_trainer,
    load_rules,
    recommend,
    refresh_coaching_flags,
    set_status,
)
from tests import factories
from tests import scorecard_data as data
from tests.test_scorecards_aggregate import RIYADH, World, build_world

BASE: dict[str, Any] = yaml.safe_load(DEFAULT_RULES_PATH.read_text(encoding="utf-8"))


def rules_with(*rules: dict[str, Any]) -> CoachingRules:
    doc = {**BASE, "rules": list(rules)}
    return load_rules(text=yaml.safe_dump(doc, allow_unicode=True))


TITLE = {"en": "{label}", "ar": "{label}"}
BELOW = {
    "id": "below",
    "type": "criterion_below_target",
    "min_count": 2,
    "priority": {"high": 20, "medium": 10},
    "title": {"en": "{label}: {value}% vs {target}%", "ar": "{label}: {value}% مقابل {target}%"},
}
DROP = {
    "id": "drop",
    "type": "criterion_drop",
    "months": 3,
    "min_drop": 10,
    "priority": {"high": 40, "medium": 20},
    "title": {"en": "{label} fell {drop} since {from_period}", "ar": "{label} انخفض {drop}"},
}
AVOID = {
    "id": "avoid",
    "type": "avoid_behaviour",
    "behaviours": ["negative_language", "uncertainty"],
    "min_rate": 0.2,
    "min_count": 2,
    "priority": {"high": 1.0, "medium": 0.5},
    "title": TITLE,
}
MISSING = {
    "id": "missing",
    "type": "missing_behaviour",
    "findings": ["missing_greeting", "missing_closing"],
    "min_rate": 0.2,
    "min_count": 2,
    "priority": {"high": 0.6, "medium": 0.4},
    "title": {"en": "{label} in {percent}%", "ar": "{label} في {percent}%"},
}
SLOW = {
    "id": "slow",
    "type": "slow_timing",
    "metrics": ["first_response_s", "hold_max_s"],
    "min_count": 3,
    "priority": {"high": 1.0, "medium": 0.5},
    "title": {
        "en": "{label} on {channel}: {value} s / {threshold} s",
        "ar": "{label} في {channel}",
    },
}


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


def fired(session: Session, rules: CoachingRules) -> dict[tuple[int, str, str], Recommendation]:
    month = aggregate_month(session, 2026, 10, RIYADH, rubric_key=data.RUBRIC_KEY)
    return {
        (r.agent_id, r.rule_id, r.subject): r
        for recs in recommend(month, rules).values()
        for r in recs
    }


# ---------------------------------------------------------------------------- rules file


def test_bundled_rules_load() -> None:
    rules = default_rules()
    types = {r.type for r in rules.rules}
    assert types == {
        "criterion_below_target",
        "criterion_drop",
        "avoid_behaviour",
        "missing_behaviour",
        "slow_timing",
    }
    # Practice is grounded in the seed articles, in both languages.
    assert "كل ما أقوله هو أنّ" in rules.practice.behaviours["negative_language"].ar
    assert "بالطبع" in rules.practice.criteria["courtesy"].ar
    assert "someone who knows" in rules.practice.behaviours["uncertainty"].en


def _error(text: str) -> CoachingRulesError:
    with pytest.raises(CoachingRulesError) as exc:
        load_rules(text=text)
    return exc.value


def test_rules_errors_name_code_line_and_field() -> None:
    text = DEFAULT_RULES_PATH.read_text(encoding="utf-8")
    err = _error(text.replace("min_count: 2            # scored", "min_cont: 2  # scored", 1))
    assert err.codes == ["COACH002"]
    assert "line 19, rules[0].min_cont" in str(err) and "Extra inputs" in str(err)

    err = _error(text.replace("behaviours: [rude]", "behaviours: [rude, greting]"))
    assert err.codes == ["COACH004"] and "rules[2].behaviours" in str(err)
    assert "unknown behaviour to avoid 'greting'" in str(err)

    err = _error(text.replace('en: "{label}: {value}% against', 'en: "{labl}: {value}% against'))
    assert err.codes == ["COACH003"] and "rules[0].title.en" in str(err)
    assert "{labl}" in str(err) and "{label}" in str(err)

    err = _error(text.replace("id: slow_timing", "id: rude_language"))
    assert err.codes == ["COACH005"] and "already used by rules[2]" in str(err)

    err = _error(
        text.replace("priority: {high: 20, medium: 10}", "priority: {high: 5, medium: 10}")
    )
    assert err.codes == ["COACH006"] and "line 20, rules[0].priority" in str(err)

    default_ar = next(line for line in text.splitlines() if "ar: راجع هذه التواصلات" in line)
    err = _error(text.replace(default_ar, "    ar: Review these interactions"))
    assert err.codes == ["COACH007"] and "practice.default.ar" in str(err)

    err = _error("version: 1\nrules: [\n")
    assert err.codes == ["COACH001"]

    err = _error(text.replace("type: slow_timing", "type: slow"))
    assert err.codes == ["COACH002"] and "rules[5]" in str(err)


# ---------------------------------------------------------------------------- rule types


def test_criterion_below_target(session: Session, world: World) -> None:
    got = fired(session, rules_with(BELOW))
    a = world.a.id
    greeting = got[(a, "below", "greeting")]
    assert greeting.priority == "high"  # 50% against its own target of 90: 40 points
    assert greeting.title_en == "Greeted the customer: 50% vs 90%"
    assert greeting.title_ar == "رحّب بالعميل: 50% مقابل 90%"
    assert greeting.criterion_id == "greeting"
    assert greeting.evidence[0]["excerpt"] == "0%"
    assert got[(a, "below", "courtesy")].priority == "low"  # 75 vs 80: 5 points
    assert got[(a, "below", "correct_information")].evidence == [
        {
            "interaction_external_id": got[(a, "below", "correct_information")].evidence[0][
                "interaction_external_id"
            ],
            "excerpt": "50%: Quoted the wrong fee",
        }
    ]
    assert (a, "below", "no_rude") not in got  # 100% is above target
    assert not any(k[0] == world.b.id for k in got)  # one review: below min_count 2
    assert not any(k[0] == world.c.id for k in got)  # auto-QA figures never trigger it
    # Both practice languages come from the library for that criterion.
    assert "greeting" in greeting.practice_en.lower() and "بالتحية" in greeting.practice_ar


def test_criterion_drop(session: Session, world: World) -> None:
    got = fired(session, rules_with(DROP))
    drop = got[(world.a.id, "drop", "greeting")]  # August 100 -> October 50
    assert drop.priority == "high" and drop.title_en == "Greeted the customer fell 50 since 2026-08"
    assert got[(world.a.id, "drop", "courtesy")].priority == "medium"  # 100 -> 75
    assert (world.a.id, "drop", "no_rude") not in got  # 100 -> 100
    assert {k[2] for k in fired(session, rules_with({**DROP, "min_drop": 30}))} == {"greeting"}
    # A 2-month window (September, October) has no earlier data to compare with.
    assert fired(session, rules_with({**DROP, "months": 2})) == {}


def test_frequent_avoid_behaviour(session: Session, world: World) -> None:
    got = fired(session, rules_with(AVOID))
    [rec] = got.values()
    assert (rec.agent_id, rec.subject) == (world.c.id, "negative_language")
    assert rec.priority == "medium"  # 0.75 per interaction
    assert rec.criterion_id == "courtesy"  # the criterion listing it under evidence.avoid
    excerpts = [e["excerpt"] for e in rec.evidence]
    assert "I can't do that, but you could try again tomorrow." in excerpts
    assert "What I can do is" in rec.practice_en and "كل ما أقوله هو أنّ" in rec.practice_ar
    assert fired(session, rules_with({**AVOID, "min_rate": 0.8})) == {}


def test_missing_expected_behaviour(session: Session, world: World) -> None:
    got = fired(session, rules_with(MISSING))
    [rec] = got.values()
    assert (rec.agent_id, rec.subject, rec.priority) == (world.c.id, "missing_greeting", "medium")
    assert rec.title_en == "No greeting in 50%" and rec.criterion_id == "greeting"
    assert rec.evidence[0]["excerpt"] == "No greeting in the first agent turn"
    assert fired(session, rules_with({**MISSING, "min_rate": 0.6})) == {}


def test_slow_timing(session: Session, world: World) -> None:
    got = fired(session, rules_with(SLOW))
    [rec] = got.values()  # hold_max_s is over too but measured on one call only
    assert (rec.agent_id, rec.subject, rec.priority) == (world.c.id, "call:first_response_s", "low")
    assert rec.title_en == "First response time on calls: 12 s / 10 s"
    assert rec.title_ar.endswith("في المكالمات")
    assert fired(session, rules_with({**SLOW, "over_by": 0.5})) == {}  # 20% over only
    assert len(fired(session, rules_with({**SLOW, "min_count": 1}))) == 2


def test_refresh_adds_slowest_interactions_as_evidence(session: Session, world: World) -> None:
    refresh_coaching_flags(session, 2026, 10, RIYADH, rules=rules_with(SLOW), rubric_key="mini")
    flag = session.scalar(select(CoachingFlag).where(CoachingFlag.rule_id == "slow"))
    assert flag is not None
    assert [e["excerpt"] for e in flag.evidence] == [
        "First response time: 20 s",
        "First response time: 12 s",
        "First response time: 4 s",
    ]


# ---------------------------------------------------------------------------- persistence


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(CoachingFlag)) or 0


ALL = (BELOW, DROP, AVOID, MISSING, SLOW)


def test_refresh_is_idempotent_and_keeps_closed_flags(session: Session, world: World) -> None:
    rules = rules_with(*ALL)
    first = refresh_coaching_flags(session, 2026, 10, RIYADH, rules=rules, rubric_key="mini")
    n = _count(session)
    assert first.created == n and n >= 7
    again = refresh_coaching_flags(session, 2026, 10, RIYADH, rules=rules, rubric_key="mini")
    assert (again.created, again.updated, again.unchanged) == (0, 0, n)
    assert _count(session) == n

    flags = {(f.agent_id, f.rule_id, f.subject): f for f in session.scalars(select(CoachingFlag))}
    dismissed = flags[(world.a.id, "below", "courtesy")]
    resolved = flags[(world.c.id, "avoid", "negative_language")]
    dismissed.status, resolved.status = "dismissed", "resolved"
    dismissed.title_en = "edited by hand"
    session.flush()
    # A new review moves the figures: open flags follow, closed ones stay as they were.
    data.review(
        session,
        world.version,
        world.a,
        world.reviewer,
        datetime(2026, 10, 12, 9, tzinfo=RIYADH),
        {"greeting": 1, "courtesy": 1, "correct_information": 1, "no_rude": 1},
    )
    third = refresh_coaching_flags(session, 2026, 10, RIYADH, rules=rules, rubric_key="mini")
    assert third.created == 0 and third.kept_closed == 2 and third.updated >= 1
    session.expire_all()
    assert dismissed.status == "dismissed" and dismissed.title_en == "edited by hand"
    assert resolved.status == "resolved"
    greeting = flags[(world.a.id, "below", "greeting")]
    assert greeting.title_en == "Greeted the customer: 66.7% vs 90%"  # (100 + 0 + 100) / 3
    assert _count(session) == n


def test_refresh_removes_open_flags_that_no_longer_fire(session: Session, world: World) -> None:
    rules = rules_with(BELOW)
    refresh_coaching_flags(session, 2026, 10, RIYADH, rules=rules, rubric_key="mini")
    flags = {f.subject: f for f in session.scalars(select(CoachingFlag))}
    acked = flags["correct_information"]
    acked.acknowledged_at = datetime(2026, 11, 2, tzinfo=RIYADH)
    session.flush()
    lenient = rules_with({**BELOW, "min_count": 3})  # A has only 2 answers per criterion
    report = refresh_coaching_flags(session, 2026, 10, RIYADH, rules=lenient, rubric_key="mini")
    remaining = {f.subject for f in session.scalars(select(CoachingFlag))}
    assert remaining == {"correct_information"}  # acknowledged: kept for the record
    assert report.removed == 2


# ---------------------------------------------------------------------------- permissions


@pytest.fixture
def refreshed(session: Session, world: World) -> dict[str, Any]:
    refresh_coaching_flags(session, 2026, 10, RIYADH, rules=rules_with(*ALL), rubric_key="mini")
    return {
        "trainer": factories.user(session, role="trainer"),
        "lead": factories.user(session, role="qa_lead"),
        "agent_a": factories.user(session, role="agent", agent_=world.a),
        "agent_c": factories.user(session, role="agent", agent_=world.c),
        "reviewer": factories.user(session, role="reviewer"),
    }


def test_who_sees_which_flags(session: Session, world: World, refreshed: dict[str, Any]) -> None:
    everything = flags_for_trainer(session, refreshed["trainer"])
    assert {f.agent_id for f in everything} == {world.a.id, world.c.id}
    assert len(flags_for_trainer(session, refreshed["lead"])) == len(everything)
    own = flags_for_trainer(session, refreshed["agent_a"])
    assert own and {f.agent_id for f in own} == {world.a.id}
    # An agent cannot widen the filter to someone else.
    assert flags_for_trainer(session, refreshed["agent_a"], FlagFilters(agent_id=world.c.id)) == []
    with pytest.raises(PermissionDenied):
        flags_for_trainer(session, refreshed["reviewer"])
    high = flags_for_trainer(session, refreshed["trainer"], FlagFilters(priorities=("high",)))
    assert high and all(f.priority == "high" for f in high)
    order = [f.priority for f in everything]
    assert order == sorted(order, key=["high", "medium", "low"].index)
    team = flags_for_trainer(
        session, refreshed["trainer"], FlagFilters(team_id=world.c.team_id, period="2026-10")
    )
    assert team and {f.agent_id for f in team} == {world.c.id}


def test_acknowledge_only_own(session: Session, world: World, refreshed: dict[str, Any]) -> None:
    mine = flags_for_trainer(session, refreshed["agent_a"])[0]
    theirs = flags_for_trainer(session, refreshed["agent_c"])[0]
    with pytest.raises(NotFound):
        acknowledge(session, theirs.id, refreshed["agent_a"])
    with pytest.raises(PermissionDenied):
        acknowledge(session, mine.id, refreshed["trainer"])
    flag = acknowledge(session, mine.id, refreshed["agent_a"])
    first = flag.acknowledged_at
    assert first is not None
    assert acknowledge(session, mine.id, refreshed["agent_a"]).acknowledged_at == first
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "coaching_flag")
    ).all()
    assert [e.action for e in events] == ["acknowledge"]


def test_set_status_for_trainers(session: Session, world: World, refreshed: dict[str, Any]) -> None:
    flag = flags_for_trainer(session, refreshed["trainer"])[0]
    assert set_status(session, flag.id, "in_session", refreshed["trainer"]).status == "in_session"
    with pytest.raises(PermissionDenied):
        set_status(session, flag.id, "resolved", refreshed["agent_a"])
    with pytest.raises(InvalidInput):
        set_status(session, flag.id, "closed", refreshed["lead"])
    with pytest.raises(NotFound):
        set_status(session, 10**9, "resolved", refreshed["lead"])


def test_coaching_items_follow_locale(
    session: Session, world: World, refreshed: dict[str, Any]
) -> None:
    month = aggregate_month(session, 2026, 10, RIYADH, rubric_key=data.RUBRIC_KEY)
    flags = flags_for_trainer(session, refreshed["trainer"], FlagFilters(agent_id=world.c.id))
    en = coaching_items(flags, month.rubric, "en")
    ar = coaching_items(flags, month.rubric, "ar")
    assert len(en) == len(ar) == len(flags)
    neg = next(i for i in en if i.criterion_label == "Courteous language")
    assert neg.evidence and neg.practice.startswith("Turn negative phrasing")
    assert any(i.criterion_label == "لغة مهذبة" for i in ar)
    set_status(session, flags[0].id, "dismissed", refreshed["trainer"])
    assert len(coaching_items(flags, month.rubric, "en")) == len(flags) - 1


def test_plan_keeps_one_item_per_criterion_and_a_limit(
    session: Session, world: World, refreshed: dict[str, Any]
) -> None:
    month = aggregate_month(session, 2026, 10, RIYADH, rubric_key=data.RUBRIC_KEY)
    rules = rules_with(*ALL)
    flags = flags_for_trainer(session, refreshed["trainer"], FlagFilters(agent_id=world.a.id))
    # A has "below target" and "dropped" flags for the same greeting criterion.
    assert {(f.rule_id, f.subject) for f in flags} >= {("below", "greeting"), ("drop", "greeting")}
    items = coaching_items(flags, month.rubric, "en", rules=rules)
    labels = [i.criterion_label for i in items]
    assert labels.count("Greeted the customer") == 1 and len(labels) == len(set(labels))
    assert items[0].reason == "Greeted the customer: 50% vs 90%"  # high, first rule in the file
    assert [i.priority for i in items] == sorted(
        (i.priority for i in items), key=["high", "medium", "low"].index
    )
    assert len(coaching_items(flags, month.rubric, "en", rules=rules, limit=1)) == 1
