"""Coaching sessions and scorecard access: lifecycle, flag statuses, permissions, audit."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from qa.models import AuditEvent, CoachingFlag, CoachingSessionFlag
from qa.services.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from scorecards import access
from scorecards import coaching_sessions as cs
from scorecards.coaching import set_status
from tests.coaching_data import CoachWorld, build


@pytest.fixture
def w(session: Session) -> CoachWorld:
    return build(session)


def events(session: Session, entity_type: str | None = None) -> list[AuditEvent]:
    stmt = select(AuditEvent).order_by(AuditEvent.id)
    if entity_type:
        stmt = stmt.where(AuditEvent.entity_type == entity_type)
    return list(session.scalars(stmt))


def status_of(session: Session, *flags: CoachingFlag) -> list[str]:
    for fl in flags:
        session.refresh(fl)
    return [fl.status for fl in flags]


# ---------------------------------------------------------------------------- lifecycle


def test_create_from_flags_moves_them_in_session_and_audits(
    session: Session, w: CoachWorld
) -> None:
    trainer = w.users["trainer"]
    g, n = w.flags["sam_greeting"], w.flags["sam_negative"]
    created = cs.create_session(
        session, trainer, [g.id, n.id], due_date=date(2026, 11, 5), notes="Role-play openings"
    )
    assert created.agent_id == w.agents["sam"].id
    assert created.trainer_id == trainer.id
    assert created.created_from_flag_id == g.id
    assert created.focus_criteria == ["greeting", "courtesy"]
    assert created.status == "planned" and created.completed_at is None
    assert [link.flag_id for link in created.flag_links] == sorted([g.id, n.id])
    assert status_of(session, g, n, w.flags["sam_sept"]) == ["in_session", "in_session", "open"]

    audit = events(session)
    assert [(e.entity_type, e.action) for e in audit] == [
        ("coaching_flag", "set_status"),
        ("coaching_flag", "set_status"),
        ("coaching_session", "create"),
    ]
    assert audit[0].after == {"status": "in_session"} and audit[0].actor == trainer.username
    assert audit[2].after is not None
    assert audit[2].after["flag_ids"] == sorted([g.id, n.id])
    assert audit[2].after["due_date"] == "2026-11-05"
    assert audit[2].entity_id == str(created.id)


def test_create_without_flags_names_the_agent_and_lead_may_assign_a_trainer(
    session: Session, w: CoachWorld
) -> None:
    lead, trainer = w.users["qa_lead"], w.users["trainer"]
    created = cs.create_session(
        session,
        lead,
        agent_id=w.agents["bea"].id,
        focus_criteria=[" empathy ", "empathy", "closing"],
        trainer_id=trainer.id,
    )
    assert created.trainer_id == trainer.id
    assert created.focus_criteria == ["empathy", "closing"]
    assert created.flag_links == [] and created.created_from_flag_id is None
    assert events(session)[-1].actor == lead.username


def test_create_refuses_bad_requests(session: Session, w: CoachWorld) -> None:
    trainer = w.users["trainer"]
    sam_flag, bea_flag = w.flags["sam_greeting"], w.flags["bea_greeting"]
    with pytest.raises(InvalidInput, match="several agents"):
        cs.create_session(session, trainer, [sam_flag.id, bea_flag.id])
    with pytest.raises(NotFound, match="coaching flag 999999"):
        cs.create_session(session, trainer, [sam_flag.id, 999999])
    with pytest.raises(InvalidInput, match="agent_id: required"):
        cs.create_session(session, trainer)
    with pytest.raises(InvalidInput, match="not about agent"):
        cs.create_session(session, trainer, [sam_flag.id], agent_id=w.agents["bea"].id)
    with pytest.raises(InvalidInput, match="trainer_id"):
        cs.create_session(session, trainer, [sam_flag.id], trainer_id=w.users["reviewer"].id)
    with pytest.raises(InvalidInput, match="notes: at most"):
        cs.create_session(session, trainer, [sam_flag.id], notes="x" * (cs.TEXT_MAX + 1))
    with pytest.raises(InvalidInput, match=r"focus_criteria\[1\]"):
        cs.create_session(session, trainer, [sam_flag.id], focus_criteria=["greeting", " "])
    set_status(session, sam_flag.id, "dismissed", trainer)
    with pytest.raises(InvalidInput, match="is dismissed; only open flags"):
        cs.create_session(session, trainer, [sam_flag.id])
    for role in ("reviewer", "agent"):
        with pytest.raises(PermissionDenied):
            cs.create_session(session, w.users[role], [bea_flag.id])
    # Nothing half-done: no session exists and Bea's flag is still open.
    assert session.scalars(select(CoachingSessionFlag)).all() == []
    assert status_of(session, bea_flag) == ["open"]


def test_complete_resolves_flags_and_done_is_final(session: Session, w: CoachWorld) -> None:
    trainer = w.users["trainer"]
    g, n = w.flags["sam_greeting"], w.flags["sam_negative"]
    planned = cs.create_session(session, trainer, [g.id, n.id])
    # A trainer dismisses one covered flag directly: completing must not overrule that.
    set_status(session, n.id, "dismissed", trainer)
    done = cs.complete_session(
        session,
        w.users["admin"],
        planned.id,
        follow_up="Listen to two calls together",
        follow_up_date=date(2026, 12, 1),
    )
    assert done.status == "done" and done.completed_at is not None
    assert done.follow_up == "Listen to two calls together"
    assert status_of(session, g, n) == ["resolved", "dismissed"]
    last = events(session, "coaching_session")[-1]
    assert last.action == "complete" and last.actor == w.users["admin"].username
    assert last.before == {"status": "planned", "follow_up": None, "follow_up_date": None}
    assert last.after == {
        "status": "done",
        "follow_up": "Listen to two calls together",
        "follow_up_date": "2026-12-01",
    }
    with pytest.raises(InvalidInput, match="a done session cannot become cancelled"):
        cs.cancel_session(session, trainer, planned.id)
    # Notes can still be written after the session.
    cs.update_session(session, trainer, planned.id, notes="Went well")
    assert events(session, "coaching_session")[-1].after == {"notes": "Went well"}


def test_cancel_reopens_flags_unless_another_planned_session_covers_them(
    session: Session, w: CoachWorld
) -> None:
    trainer = w.users["trainer"]
    g, n = w.flags["sam_greeting"], w.flags["sam_negative"]
    first = cs.create_session(session, trainer, [g.id, n.id])
    second = cs.create_session(session, trainer, agent_id=w.agents["sam"].id)
    session.add(CoachingSessionFlag(coaching_session_id=second.id, flag_id=n.id))
    session.flush()
    cs.cancel_session(session, trainer, first.id)
    assert status_of(session, g, n) == ["open", "in_session"]
    assert events(session, "coaching_session")[-1].action == "cancel"
    # The reopened flag can be planned again.
    third = cs.create_session(session, trainer, [g.id])
    assert status_of(session, g) == ["in_session"] and third.status == "planned"


def test_update_records_only_changes_and_detects_stale_versions(
    session: Session, w: CoachWorld
) -> None:
    trainer = w.users["trainer"]
    planned = cs.create_session(session, trainer, [w.flags["sam_greeting"].id], notes="a")
    version = planned.lock_version
    cs.update_session(
        session,
        trainer,
        planned.id,
        expected_version=version,
        notes="b",
        due_date=date(2026, 11, 9),
    )
    assert planned.lock_version == version + 1
    last = events(session)[-1]
    assert (last.action, last.before, last.after) == (
        "update",
        {"notes": "a", "due_date": None},
        {"notes": "b", "due_date": "2026-11-09"},
    )
    count = len(events(session))
    cs.update_session(session, trainer, planned.id, notes="b")  # no change, no event
    assert len(events(session)) == count
    with pytest.raises(Conflict):
        cs.update_session(session, trainer, planned.id, expected_version=version, notes="c")
    with pytest.raises(InvalidInput, match="status: unknown"):
        cs.update_session(session, trainer, planned.id, status="finished")
    with pytest.raises(InvalidInput, match="due_date: expected a date"):
        cs.update_session(session, trainer, planned.id, due_date="2026-11-09")  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        cs.update_session(session, trainer, 999999, notes="x")
    for role in ("agent", "reviewer"):
        with pytest.raises(PermissionDenied):
            cs.update_session(session, w.users[role], planned.id, notes="hijack")
    session.refresh(planned)
    assert planned.notes == "b"


# ---------------------------------------------------------------------------- reading


def test_agents_read_only_their_own_and_reviewers_nothing(session: Session, w: CoachWorld) -> None:
    trainer = w.users["trainer"]
    mine = cs.create_session(session, trainer, [w.flags["sam_greeting"].id])
    theirs = cs.create_session(session, trainer, [w.flags["bea_greeting"].id])
    set_status(session, w.flags["sam_sept"].id, "dismissed", trainer)
    sam = w.users["agent"]

    listed = cs.list_sessions(session, sam, cs.SessionFilters(agent_id=w.agents["bea"].id))
    assert listed == []  # a filter cannot widen an agent's view
    assert [s.id for s in cs.list_sessions(session, sam)] == [mine.id]
    assert cs.get_session(session, sam, mine.id).id == mine.id
    with pytest.raises(NotFound):
        cs.get_session(session, sam, theirs.id)
    with pytest.raises(PermissionDenied):
        cs.agent_history(session, sam, w.agents["bea"].id)

    history = cs.my_coaching(session, sam)
    assert history.agent.id == w.agents["sam"].id
    assert {fl.id for fl in history.flags} == {
        w.flags["sam_greeting"].id,
        w.flags["sam_negative"].id,
    }  # the dismissed September flag is not shown to the agent
    assert history.sessions_of_flag == {w.flags["sam_greeting"].id: [mine.id]}
    # Trainers see everything, dismissed included.
    full = cs.agent_history(session, trainer, w.agents["sam"].id)
    assert len(full.flags) == 3 and [s.id for s in full.sessions] == [mine.id]
    assert {s.id for s in cs.list_sessions(session, trainer)} == {mine.id, theirs.id}

    reviewer = w.users["reviewer"]
    for call in (
        lambda: cs.list_sessions(session, reviewer),
        lambda: cs.get_session(session, reviewer, mine.id),
        lambda: cs.agent_history(session, reviewer, w.agents["sam"].id),
        lambda: cs.queue_flags(session, reviewer),
        lambda: cs.queue_flags(session, sam),
        lambda: cs.my_coaching(session, trainer),
        lambda: cs.my_coaching(session, w.users["agent_nolink"]),
        lambda: cs.coachable_agents(session, sam),
    ):
        with pytest.raises(PermissionDenied):
            call()


def test_list_sessions_orders_planned_by_due_date_first(session: Session, w: CoachWorld) -> None:
    trainer = w.users["trainer"]
    sam, bea = w.agents["sam"].id, w.agents["bea"].id
    late = cs.create_session(session, trainer, agent_id=sam, due_date=date(2026, 12, 1))
    undated = cs.create_session(session, trainer, agent_id=sam)
    soon = cs.create_session(session, trainer, agent_id=bea, due_date=date(2026, 11, 2))
    done = cs.create_session(session, trainer, agent_id=bea, due_date=date(2026, 10, 1))
    cs.complete_session(session, trainer, done.id)
    assert [s.id for s in cs.list_sessions(session, trainer)] == [
        soon.id,
        late.id,
        undated.id,
        done.id,
    ]
    only_done = cs.list_sessions(session, trainer, cs.SessionFilters(statuses=("done",)))
    assert [s.id for s in only_done] == [done.id]
    north = cs.list_sessions(session, trainer, cs.SessionFilters(team_id=w.teams["north"].id))
    assert len(north) == 4
    south = cs.list_sessions(session, trainer, cs.SessionFilters(team_id=w.teams["south"].id))
    assert south == []


def test_queue_filters_and_dismiss(session: Session, w: CoachWorld) -> None:
    trainer = w.users["trainer"]

    def ids(**kw: object) -> set[int]:
        return {fl.id for fl in cs.queue_flags(session, trainer, cs.FlagQuery(**kw))}  # type: ignore[arg-type]

    fl = w.flags
    assert ids() == {fl[k].id for k in fl}  # all open by default
    assert ids(period="2026-09") == {fl["sam_sept"].id}
    assert ids(team_id=w.teams["south"].id) == {fl["omar_hostile"].id}
    assert ids(criterion_id="courtesy") == {fl["sam_negative"].id}
    assert ids(priorities=("medium",)) == {fl["sam_negative"].id, fl["omar_hostile"].id}
    queue = cs.queue_flags(session, trainer, cs.FlagQuery(period="2026-10"))
    assert [q.priority for q in queue] == ["high", "high", "medium", "medium"]
    assert cs.flag_periods(session, trainer) == ["2026-10", "2026-09"]
    assert cs.flag_criteria(session, trainer) == ["closing", "courtesy", "greeting"]

    cs.dismiss_flags(session, trainer, [fl["bea_greeting"].id])
    assert status_of(session, fl["bea_greeting"]) == ["dismissed"]
    assert fl["bea_greeting"].id not in ids()
    assert ids(statuses=("dismissed",)) == {fl["bea_greeting"].id}
    assert events(session)[-1].after == {"status": "dismissed"}
    cs.create_session(session, trainer, [fl["sam_greeting"].id])
    with pytest.raises(InvalidInput, match="part of a planned session"):
        cs.dismiss_flags(session, trainer, [fl["sam_greeting"].id])
    with pytest.raises(PermissionDenied):
        cs.dismiss_flags(session, w.users["agent"], [fl["sam_negative"].id])
    with pytest.raises(InvalidInput, match="at least one"):
        cs.dismiss_flags(session, trainer, [])


# ---------------------------------------------------------------------------- scorecards


def test_scorecard_access(session: Session, w: CoachWorld) -> None:
    sam, cards = w.users["agent"], w.scorecards
    own = access.list_scorecards(session, sam, with_pdf=True)
    assert [(e.period, e.overall_pct, e.auto_qa_only) for e in own] == [
        ("2026-10", 64.5, True),
        ("2026-09", 81.25, False),
    ]
    assert own[0].pdf == cards["sam_10"].pdf and own[0].file_name == "scorecard-2026-10.pdf"
    assert access.list_scorecards(session, sam)[0].pdf is None  # bytes only when asked
    with pytest.raises(PermissionDenied):
        access.list_scorecards(session, sam, agent_id=w.agents["bea"].id)
    got = access.scorecard_pdf(session, sam, cards["sam_09"].id)
    assert got.pdf == cards["sam_09"].pdf and got.period == "2026-09"
    with pytest.raises(NotFound):
        access.scorecard_pdf(session, sam, cards["bea_10"].id)
    for name in ("reviewer", "agent_nolink"):
        with pytest.raises(PermissionDenied):
            access.list_scorecards(session, w.users[name])
        with pytest.raises(PermissionDenied):
            access.scorecard_pdf(session, w.users[name], cards["sam_09"].id)
    for role in ("trainer", "qa_lead", "admin"):
        viewer = w.users[role]
        bea = access.list_scorecards(session, viewer, agent_id=w.agents["bea"].id)
        assert [(e.agent_name, e.period) for e in bea] == [("Bea Other", "2026-10")]
        assert access.scorecard_pdf(session, viewer, cards["bea_10"].id).pdf == cards["bea_10"].pdf
        everyone = access.list_scorecards(session, viewer)
        assert [e.agent_external_id for e in everyone] == ["AG-BEA", "AG-SAM", "AG-SAM"]
