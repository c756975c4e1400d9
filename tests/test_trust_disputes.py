"""Disputes: who may open and resolve them, the window, adjustments as revisions, rates,
notifications, and concurrent edits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qa import db
from qa.config import Settings
from qa.models import (
    AuditEvent,
    Dispute,
    Notification,
    Review,
    ReviewRevision,
    RubricVersion,
    User,
)
from qa.services import disputes as dispute_service
from qa.services import notify
from qa.services import rubrics as rubric_service
from qa.services.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from qa.services.reviews import save_review, start_review
from rubrics import Answer
from tests import factories

SETTINGS = Settings(dispute_window_days=14)


def all_answers(version: RubricVersion, good: bool = True) -> dict[str, Answer]:
    rubric = rubric_service.rubric_of(version)
    return {
        c.id: Answer(value=float(c.max_value if good else c.min_value))
        for _, c in rubric.all_criteria()
    }


@dataclass
class World:
    version: RubricVersion
    review: Review
    agent_user: User
    other_agent_user: User
    reviewer: User
    other_reviewer: User
    lead: User
    admin: User
    trainer: User


def build(session: Session) -> World:
    version = rubric_service.install_builtin(session)
    agent = factories.agent(session)
    agent_user = factories.user(session, role="agent", agent_=agent, email="agent@example.org")
    other_agent_user = factories.user(session, role="agent", agent_=factories.agent(session))
    reviewer = factories.user(session, role="reviewer")
    review = start_review(session, factories.interaction(session, agent_=agent).id, reviewer)
    save_review(session, review, all_answers(version), reviewer, submit=True)
    return World(
        version=version,
        review=review,
        agent_user=agent_user,
        other_agent_user=other_agent_user,
        reviewer=reviewer,
        other_reviewer=factories.user(session, role="reviewer"),
        lead=factories.user(session, role="qa_lead"),
        admin=factories.user(session, role="admin"),
        trainer=factories.user(session, role="trainer"),
    )


@pytest.fixture
def w(session: Session) -> World:
    return build(session)


def test_agent_opens_a_dispute_on_their_own_submitted_review(session: Session, w: World) -> None:
    d = dispute_service.open_dispute(
        session, w.agent_user, w.review.id, "greeting", "  I did greet.  ", settings=SETTINGS
    )
    assert (d.status, d.reason, d.review_revision) == ("open", "I did greet.", 1)
    note = session.scalar(select(Notification).where(Notification.user_id == w.reviewer.id))
    assert note is not None and note.kind == "dispute_opened" and note.text_ar
    event = session.scalar(
        select(AuditEvent).where(
            AuditEvent.entity_type == "dispute", AuditEvent.entity_id == str(d.id)
        )
    )
    assert event is not None and event.action == "create" and event.actor == w.agent_user.username
    # One dispute per criterion per review...
    with pytest.raises(Conflict, match="already disputed"):
        dispute_service.open_dispute(
            session, w.agent_user, w.review.id, "greeting", "again", settings=SETTINGS
        )
    # ... also in the database, whatever the code path.
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(
            Dispute(
                review_id=w.review.id,
                criterion_id="greeting",
                agent_user_id=w.agent_user.id,
                reason="x",
                status="open",
                review_revision=1,
            )
        )
        session.flush()
    # Another criterion of the same review is fine.
    dispute_service.open_dispute(
        session, w.agent_user, w.review.id, "closing", "ok", settings=SETTINGS
    )


def test_who_may_open_and_what(session: Session, w: World) -> None:
    for user in (w.reviewer, w.lead, w.admin, w.trainer):
        with pytest.raises(PermissionDenied):
            dispute_service.open_dispute(
                session, user, w.review.id, "greeting", "x", settings=SETTINGS
            )
    with pytest.raises(NotFound):  # someone else's review: indistinguishable from missing
        dispute_service.open_dispute(
            session, w.other_agent_user, w.review.id, "greeting", "x", settings=SETTINGS
        )
    with pytest.raises(InvalidInput, match="reason"):
        dispute_service.open_dispute(
            session, w.agent_user, w.review.id, "greeting", " ", settings=SETTINGS
        )
    with pytest.raises(InvalidInput, match="no criterion"):
        dispute_service.open_dispute(
            session, w.agent_user, w.review.id, "nope", "x", settings=SETTINGS
        )
    draft = start_review(
        session, factories.interaction(session, agent_=w.agent_user.agent).id, w.reviewer
    )
    with pytest.raises(NotFound):
        dispute_service.open_dispute(
            session, w.agent_user, draft.id, "greeting", "x", settings=SETTINGS
        )


def test_dispute_window_is_enforced_and_configurable(session: Session, w: World) -> None:
    submitted = w.review.submitted_at
    assert submitted is not None
    late = submitted + timedelta(days=14, minutes=1)
    with pytest.raises(Conflict, match="14-day window"):
        dispute_service.open_dispute(
            session, w.agent_user, w.review.id, "greeting", "x", settings=SETTINGS, now=late
        )
    short = Settings(dispute_window_days=3)
    with pytest.raises(Conflict, match="3-day window"):
        dispute_service.open_dispute(
            session, w.agent_user, w.review.id, "greeting", "x", settings=short,
            now=submitted + timedelta(days=4),
        )  # fmt: skip
    assert (
        dispute_service.disputable_reviews(
            session, w.agent_user, window_days=3, now=submitted + timedelta(days=4)
        )
        == []
    )
    assert dispute_service.disputable_reviews(
        session, w.agent_user, window_days=14, now=submitted + timedelta(days=4)
    ) == [w.review]
    d = dispute_service.open_dispute(
        session, w.agent_user, w.review.id, "greeting", "x", settings=SETTINGS,
        now=submitted + timedelta(days=13, hours=23),
    )  # fmt: skip
    assert d.status == "open"


def test_only_leads_resolve_never_the_agent(session: Session, w: World) -> None:
    d = dispute_service.open_dispute(
        session, w.agent_user, w.review.id, "greeting", "x", settings=SETTINGS
    )
    for user in (w.agent_user, w.reviewer, w.trainer, w.other_agent_user):
        with pytest.raises(PermissionDenied):
            dispute_service.resolve_dispute(
                session, user, d.id, outcome="uphold", comment="no", settings=SETTINGS
            )
    # Not even after being promoted: nobody decides on a dispute about their own review.
    w.agent_user.role = "qa_lead"
    with pytest.raises(PermissionDenied, match="your own review"):
        dispute_service.resolve_dispute(
            session, w.agent_user, d.id, outcome="uphold", comment="fine", settings=SETTINGS
        )
    with pytest.raises(InvalidInput, match="comment"):
        dispute_service.resolve_dispute(
            session, w.lead, d.id, outcome="uphold", comment="", settings=SETTINGS
        )
    assert session.get_one(Dispute, d.id).status == "open"


def test_uphold_notifies_the_agent(session: Session, w: World) -> None:
    d = dispute_service.open_dispute(
        session, w.agent_user, w.review.id, "greeting", "x", settings=SETTINGS
    )
    dispute_service.resolve_dispute(
        session, w.lead, d.id, outcome="uphold", comment="The recording has no greeting.",
        settings=SETTINGS,
    )  # fmt: skip
    assert (d.status, d.resolver_id, d.resolved_at is not None) == ("upheld", w.lead.id, True)
    assert w.review.revision == 1  # unchanged
    notes = notify.unread(session, w.agent_user)
    assert [n.kind for n in notes] == ["dispute_resolved"]
    assert "The recording has no greeting." in notes[0].text_en
    assert notes[0].link["dispute_id"] == d.id
    with pytest.raises(Conflict, match="already upheld"):
        dispute_service.resolve_dispute(
            session, w.lead, d.id, outcome="uphold", comment="again", settings=SETTINGS
        )
    assert notify.mark_read(session, w.other_agent_user, [notes[0].id]) == 0  # not theirs
    assert notify.mark_read(session, w.agent_user) == 1
    assert notify.unread_count(session, w.agent_user) == 0


def test_adjust_creates_a_revision_and_audit_entries(session: Session, w: World) -> None:
    before_score = w.review.score
    d = dispute_service.open_dispute(
        session, w.agent_user, w.review.id, "courtesy", "x", settings=SETTINGS
    )
    loaded = w.review.lock_version
    with pytest.raises(InvalidInput, match="same as the current"):
        dispute_service.resolve_dispute(
            session, w.lead, d.id, outcome="adjust", comment="c",
            changes={"courtesy": Answer(value=5.0)}, settings=SETTINGS,
        )  # fmt: skip
    with pytest.raises(InvalidInput, match="ANS002"):
        dispute_service.resolve_dispute(
            session, w.lead, d.id, outcome="adjust", comment="c",
            changes={"courtesy": Answer(value=9.0)}, settings=SETTINGS,
        )  # fmt: skip
    dispute_service.resolve_dispute(
        session, w.lead, d.id, outcome="adjust", comment="Fair point, mostly courteous.",
        changes={"courtesy": Answer(value=4.0)}, expected_lock_version=loaded, settings=SETTINGS,
    )  # fmt: skip
    assert d.status == "adjusted" and d.adjusted_revision == 2
    assert w.review.revision == 2 and w.review.score is not None and w.review.score < before_score
    assert {a.criterion_id: a.value for a in w.review.answers}["courtesy"] == 4.0
    old = session.scalar(select(ReviewRevision).where(ReviewRevision.review_id == w.review.id))
    assert (
        old is not None
        and old.revision == 1
        and old.snapshot["answers"]["courtesy"]["value"] == 5.0
    )
    review_event = session.scalar(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "review", AuditEvent.entity_id == str(w.review.id))
        .order_by(AuditEvent.id.desc())
    )
    assert review_event is not None and review_event.action == "edit_submitted"
    assert review_event.after is not None
    assert review_event.after["reason"] == f"dispute {d.id}: Fair point, mostly courteous."
    dispute_events = list(
        session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.entity_type == "dispute", AuditEvent.entity_id == str(d.id))
            .order_by(AuditEvent.id)
        )
    )
    assert dispute_events == ["create", "resolve"]
    assert "adjusted" in notify.unread(session, w.agent_user)[0].text_en


def test_adjust_on_a_stale_review_is_a_conflict_and_writes_nothing(
    session: Session, w: World
) -> None:
    d = dispute_service.open_dispute(
        session, w.agent_user, w.review.id, "courtesy", "x", settings=SETTINGS
    )
    seen_by_lead = w.review.lock_version
    # The reviewer edits the review after the lead opened the dispute screen.
    save_review(session, w.review, {**all_answers(w.version), "closing": Answer(2.0)}, w.reviewer)
    with pytest.raises(Conflict, match="changed by someone else"):
        dispute_service.resolve_dispute(
            session, w.lead, d.id, outcome="adjust", comment="c",
            changes={"courtesy": Answer(value=3.0)}, expected_lock_version=seen_by_lead,
            settings=SETTINGS,
        )  # fmt: skip
    with pytest.raises(Conflict, match="changed by someone else"):
        dispute_service.resolve_dispute(
            session, w.lead, d.id, outcome="uphold", comment="c",
            expected_lock_version=seen_by_lead, settings=SETTINGS,
        )  # fmt: skip
    assert d.status == "open"
    assert {a.criterion_id: a.value for a in w.review.answers}["closing"] == 2.0


def test_withdraw(session: Session, w: World) -> None:
    d = dispute_service.open_dispute(
        session, w.agent_user, w.review.id, "greeting", "x", settings=SETTINGS
    )
    with pytest.raises(NotFound):
        dispute_service.withdraw_dispute(session, w.other_agent_user, d.id)
    dispute_service.withdraw_dispute(session, w.agent_user, d.id)
    assert d.status == "withdrawn"
    with pytest.raises(Conflict):
        dispute_service.resolve_dispute(
            session, w.lead, d.id, outcome="uphold", comment="c", settings=SETTINGS
        )


def test_visibility(session: Session, w: World) -> None:
    d = dispute_service.open_dispute(
        session, w.agent_user, w.review.id, "greeting", "x", settings=SETTINGS
    )
    for user in (w.agent_user, w.reviewer, w.lead, w.admin):
        assert dispute_service.list_disputes(session, user) == [d], user.role
        assert dispute_service.get_dispute(session, d.id, user) is d
    for user in (w.other_agent_user, w.other_reviewer, w.trainer):
        assert dispute_service.list_disputes(session, user) == [], user.role
        with pytest.raises(NotFound):
            dispute_service.get_dispute(session, d.id, user)


def test_dispute_rates(session: Session, w: World) -> None:
    # w.reviewer: 2 submitted reviews; the first gets 2 disputes (1 adjusted, 1 withdrawn),
    # the second 1 upheld. w.other_reviewer: 1 submitted review, no dispute.
    second = start_review(
        session, factories.interaction(session, agent_=w.agent_user.agent).id, w.reviewer
    )
    save_review(session, second, all_answers(w.version), w.reviewer, submit=True)
    third = start_review(session, factories.interaction(session).id, w.other_reviewer)
    save_review(session, third, all_answers(w.version), w.other_reviewer, submit=True)
    a = dispute_service.open_dispute(
        session, w.agent_user, w.review.id, "courtesy", "x", settings=SETTINGS
    )
    b = dispute_service.open_dispute(
        session, w.agent_user, w.review.id, "greeting", "x", settings=SETTINGS
    )
    c = dispute_service.open_dispute(
        session, w.agent_user, second.id, "courtesy", "x", settings=SETTINGS
    )
    dispute_service.resolve_dispute(
        session, w.lead, a.id, outcome="adjust", comment="ok",
        changes={"courtesy": Answer(3.0)}, settings=SETTINGS,
    )  # fmt: skip
    dispute_service.withdraw_dispute(session, w.agent_user, b.id)
    dispute_service.resolve_dispute(
        session, w.lead, c.id, outcome="uphold", comment="no", settings=SETTINGS
    )

    with pytest.raises(PermissionDenied):
        dispute_service.dispute_rates(session, w.reviewer)
    rates = dispute_service.dispute_rates(session, w.lead)
    by_reviewer = {r.key: r for r in rates.per_reviewer}
    mine = by_reviewer[w.reviewer.username]
    assert (mine.base, mine.disputes, mine.adjusted, mine.upheld, mine.open) == (2, 2, 1, 1, 0)
    assert mine.rate == pytest.approx(100.0) and mine.adjusted_share == pytest.approx(50.0)
    assert by_reviewer[w.other_reviewer.username].rate == 0.0
    by_criterion = {r.key: r for r in rates.per_criterion}
    assert (by_criterion["courtesy"].base, by_criterion["courtesy"].disputes) == (3, 2)
    assert by_criterion["courtesy"].rate == pytest.approx(200 / 3)
    assert by_criterion["greeting"].disputes == 0  # withdrawn does not count
    assert rates.per_criterion[0].key == "courtesy"  # highest rate first


# ---------------------------------------------------------------------- real transactions


def _setup(engine: Engine) -> tuple[int, int, int, int, int, int]:
    with db.session_scope(engine) as s:
        w = build(s)
        d = dispute_service.open_dispute(
            s, w.agent_user, w.review.id, "courtesy", "x", settings=SETTINGS
        )
        second_lead = factories.user(s, role="qa_lead")
        return w.review.id, d.id, w.reviewer.id, w.lead.id, second_lead.id, w.review.lock_version


def test_lead_adjusting_a_review_just_edited_gets_a_conflict(fresh_engine: Engine) -> None:
    """As in the app: the lead loaded the review, the reviewer saved an edit, the lead decides."""
    review_id, dispute_id, reviewer_id, lead_id, _, seen = _setup(fresh_engine)
    with db.session_scope(fresh_engine) as s:
        version = s.get_one(Review, review_id).rubric_version
        save_review(
            s, s.get_one(Review, review_id),
            {**all_answers(version), "closing": Answer(2.0)}, s.get_one(User, reviewer_id),
        )  # fmt: skip
    with pytest.raises(Conflict), db.session_scope(fresh_engine) as s:
        dispute_service.resolve_dispute(
            s, s.get_one(User, lead_id), dispute_id, outcome="adjust", comment="c",
            changes={"courtesy": Answer(3.0)}, expected_lock_version=seen, settings=SETTINGS,
        )  # fmt: skip
    with db.session_scope(fresh_engine) as s:
        review = s.get_one(Review, review_id)
        answers = {a.criterion_id: a.value for a in review.answers}
        assert answers["closing"] == 2.0 and answers["courtesy"] == 5.0  # the edit survived
        assert s.get_one(Dispute, dispute_id).status == "open"


def test_concurrent_transactions_on_postgresql(fresh_engine: Engine, backend: str) -> None:
    """Both transactions open at once: the reviewer's edit commits first; the lead's
    adjustment then finds the row changed (and two leads cannot both resolve)."""
    if backend != "postgresql":
        pytest.skip("SQLite serialises writers; the in-flight race is a PostgreSQL case")
    review_id, dispute_id, reviewer_id, lead_id, lead2_id, _ = _setup(fresh_engine)
    factory = db.session_factory(fresh_engine)
    a, b = factory(), factory()
    try:
        ra = a.get_one(Review, review_id)
        # The lead's screen has loaded the dispute and its review (strong references: the
        # identity map is weak, and what matters is what the lead saw).
        shown = b.get_one(Dispute, dispute_id)
        shown_review = shown.review
        save_review(
            a,
            ra,
            {**all_answers(ra.rubric_version), "closing": Answer(2.0)},
            a.get_one(User, reviewer_id),
        )
        a.commit()
        with pytest.raises(Conflict):
            dispute_service.resolve_dispute(
                b, b.get_one(User, lead_id), dispute_id, outcome="adjust", comment="c",
                changes={"courtesy": Answer(3.0)}, settings=SETTINGS,
            )  # fmt: skip
        b.rollback()
        assert shown_review.id == review_id
    finally:
        a.close()
        b.close()
    a, b = factory(), factory()
    try:
        shown = b.get_one(Dispute, dispute_id)
        dispute_service.resolve_dispute(
            a, a.get_one(User, lead_id), dispute_id, outcome="uphold", comment="first",
            settings=SETTINGS,
        )  # fmt: skip
        a.commit()
        with pytest.raises(Conflict):
            dispute_service.resolve_dispute(
                b, b.get_one(User, lead2_id), dispute_id, outcome="uphold", comment="second",
                settings=SETTINGS,
            )  # fmt: skip
        b.rollback()
        assert shown.id == dispute_id
    finally:
        a.close()
        b.close()
    with db.session_scope(fresh_engine) as s:
        review = s.get_one(Review, review_id)
        assert {x.criterion_id: x.value for x in review.answers}["closing"] == 2.0
        d = s.get_one(Dispute, dispute_id)
        assert (d.status, d.resolution_comment) == ("upheld", "first")
