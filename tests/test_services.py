from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from qa import db
from qa.models import AuditEvent, Review, ReviewRevision, RubricVersion, User, utcnow
from qa.services import rubrics as rubric_service
from qa.services import users
from qa.services.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from qa.services.reviews import get_review, save_review, start_review, visible_reviews
from rubrics import Answer, RubricInvalid, builtin_rubric_path
from tests import factories


def all_answers(version: RubricVersion, good: bool = True) -> dict[str, Answer]:
    rubric = rubric_service.rubric_of(version)
    answers = {}
    for _section, c in rubric.all_criteria():
        value = c.max_value if good else c.min_value
        answers[c.id] = Answer(value=float(value))
    return answers


@pytest.fixture
def builtin(session: Session) -> RubricVersion:
    return rubric_service.install_builtin(session)


def test_builtin_install_is_idempotent(session: Session, builtin: RubricVersion) -> None:
    again = rubric_service.install_builtin(session)
    assert again.id == builtin.id
    assert session.scalar(select(func.count()).select_from(RubricVersion)) == 1


def test_changed_rubric_creates_new_version(session: Session, builtin: RubricVersion) -> None:
    text = builtin_rubric_path().read_text(encoding="utf-8")
    changed = text.replace("target: 85", "target: 80", 1)
    assert changed != text
    version, created = rubric_service.save_rubric(session, changed)
    assert created and version.version == 2 and version.content_hash != builtin.content_hash
    assert rubric_service.latest_version(session).id == version.id
    # Whitespace or comments alone do not make a new version.
    same, created = rubric_service.save_rubric(session, changed + "\n# comment\n")
    assert not created and same.id == version.id


def test_invalid_rubric_is_refused(session: Session) -> None:
    with pytest.raises(RubricInvalid) as exc:
        rubric_service.save_rubric(session, "key: x\nsections: []\n")
    assert exc.value.problems


def test_review_lifecycle(session: Session, builtin: RubricVersion) -> None:
    reviewer = factories.user(session, role="reviewer")
    inter = factories.interaction(session)
    review = start_review(session, inter.id, reviewer)
    assert review.status == "draft" and review.agent_id == inter.agent_id
    answers = all_answers(builtin)
    first = next(iter(answers))
    partial = {first: answers[first]}
    result = save_review(session, review, partial, reviewer)
    assert result.complete is False and review.status == "draft"
    with pytest.raises(InvalidInput):
        save_review(session, review, partial, reviewer, submit=True)
    result = save_review(session, review, answers, reviewer, submit=True, comment="Well done")
    assert review.status == "submitted" and review.submitted_at is not None
    assert review.score == pytest.approx(100.0) and result.overall == pytest.approx(100.0)
    assert {a.criterion_id for a in review.answers} == set(answers)
    assert all(a.submitted and a.pct == pytest.approx(100.0) for a in review.answers if not a.na)
    # Editing a submitted review keeps its history.
    bad = all_answers(builtin, good=False)
    save_review(session, review, bad, reviewer, change_reason="re-listened")
    assert review.revision == 2 and review.score is not None and review.score < 100
    history = list(
        session.scalars(select(ReviewRevision).where(ReviewRevision.review_id == review.id))
    )
    assert len(history) == 1 and history[0].snapshot["score"] == pytest.approx(100.0)
    actions = list(
        session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.entity_type == "review", AuditEvent.entity_id == str(review.id))
            .order_by(AuditEvent.id)
        )
    )
    assert actions == ["create", "save_draft", "submit", "edit_submitted"]


def test_answers_are_validated(session: Session, builtin: RubricVersion) -> None:
    reviewer = factories.user(session, role="reviewer")
    review = start_review(session, factories.interaction(session).id, reviewer)
    with pytest.raises(InvalidInput, match="ANS001"):
        save_review(session, review, {"no_such_criterion": Answer(value=1)}, reviewer)


def test_stale_save_is_refused(session: Session, builtin: RubricVersion) -> None:
    reviewer = factories.user(session, role="reviewer")
    review = start_review(session, factories.interaction(session).id, reviewer)
    answers = all_answers(builtin)
    loaded_version = review.lock_version
    save_review(session, review, answers, reviewer, expected_lock_version=loaded_version)
    with pytest.raises(Conflict, match="changed by someone else"):
        save_review(session, review, answers, reviewer, expected_lock_version=loaded_version)


def _setup_review(engine: Engine) -> tuple[int, int, int, dict, dict]:
    factory = db.session_factory(engine)
    with factory() as s, s.begin():
        version = rubric_service.install_builtin(s)
        reviewer = factories.user(s, role="reviewer")
        lead = factories.user(s, role="qa_lead")
        review = start_review(s, factories.interaction(s).id, reviewer)
        return (
            review.id,
            reviewer.id,
            lead.id,
            all_answers(version),
            all_answers(version, good=False),
        )


def test_two_editors_second_save_refused(fresh_engine: Engine) -> None:
    """As in the app: each editor loads the review, then saves later in a new transaction."""
    review_id, reviewer_id, lead_id, good, bad = _setup_review(fresh_engine)
    factory = db.session_factory(fresh_engine)
    with factory() as s:
        loaded_by_reviewer = s.get_one(Review, review_id).lock_version
    with factory() as s:
        loaded_by_lead = s.get_one(Review, review_id).lock_version
    with factory() as s, s.begin():
        save_review(
            s,
            s.get_one(Review, review_id),
            good,
            s.get_one(User, reviewer_id),
            expected_lock_version=loaded_by_reviewer,
        )
    with factory() as s, s.begin(), pytest.raises(Conflict):
        save_review(
            s,
            s.get_one(Review, review_id),
            bad,
            s.get_one(User, lead_id),
            expected_lock_version=loaded_by_lead,
        )
    with factory() as s:
        assert s.get_one(Review, review_id).score == pytest.approx(100.0)


def test_concurrent_transactions_on_postgresql(fresh_engine: Engine, backend: str) -> None:
    """Both transactions are open at once; the later UPDATE finds the row changed."""
    if backend != "postgresql":
        pytest.skip("SQLite serialises writers; the in-flight race is a PostgreSQL case")
    review_id, reviewer_id, lead_id, good, bad = _setup_review(fresh_engine)
    factory = db.session_factory(fresh_engine)
    a, b = factory(), factory()
    try:
        ra, rb = a.get_one(Review, review_id), b.get_one(Review, review_id)
        save_review(a, ra, good, a.get_one(User, reviewer_id))
        a.commit()
        with pytest.raises(Conflict):
            save_review(b, rb, bad, b.get_one(User, lead_id))
        b.rollback()
    finally:
        a.close()
        b.close()
    with factory() as s:
        assert s.get_one(Review, review_id).score == pytest.approx(100.0)


def test_permissions(session: Session, builtin: RubricVersion) -> None:
    team = factories.team(session)
    agent_a = factories.agent(session, team_=team)
    agent_b = factories.agent(session, team_=team)
    reviewer = factories.user(session, role="reviewer")
    user_a = factories.user(session, role="agent", agent_=agent_a)
    trainer = factories.user(session, role="trainer")
    ia = factories.interaction(session, agent_=agent_a)
    ib = factories.interaction(session, agent_=agent_b)
    ra = start_review(session, ia.id, reviewer)
    rb = start_review(session, ib.id, reviewer)
    answers = all_answers(builtin)
    save_review(session, ra, answers, reviewer, submit=True)
    save_review(session, rb, answers, reviewer, submit=True)
    own = list(session.scalars(visible_reviews(user_a)))
    assert [r.id for r in own] == [ra.id]
    with pytest.raises(NotFound):
        get_review(session, rb.id, user_a)
    assert get_review(session, ra.id, user_a).id == ra.id
    assert {r.id for r in session.scalars(visible_reviews(trainer))} >= {ra.id, rb.id}
    with pytest.raises(PermissionDenied):
        start_review(session, ib.id, user_a)
    with pytest.raises(PermissionDenied):
        save_review(session, ra, answers, trainer)
    other_reviewer = factories.user(session, role="reviewer")
    with pytest.raises(PermissionDenied):
        save_review(session, ra, answers, other_reviewer)
    # An agent who is also a reviewer cannot review their own interaction.
    dual = factories.user(session, role="reviewer", agent_=agent_b)
    with pytest.raises(PermissionDenied):
        start_review(session, ib.id, dual)


def test_authentication_and_lockout(session: Session) -> None:
    user = users.create_user(session, "sam", role="reviewer", password="correct-horse")
    assert user.password_hash and "correct-horse" not in user.password_hash
    assert "argon2" in user.password_hash and "hash" not in repr(user)
    assert users.authenticate(session, "sam", "correct-horse") is user
    assert users.authenticate(session, "nobody", "correct-horse") is None
    now = utcnow()
    for _ in range(users.MAX_FAILED_LOGINS):
        assert users.authenticate(session, "sam", "wrong", now=now) is None
    assert user.locked_until is not None
    assert users.authenticate(session, "sam", "correct-horse", now=now) is None
    later = now + users.LOCKOUT + timedelta(seconds=1)
    assert users.authenticate(session, "sam", "correct-horse", now=later) is user
    with pytest.raises(InvalidInput):
        users.create_user(session, "sam", role="reviewer")
    with pytest.raises(InvalidInput):
        users.create_user(session, "x", role="boss")
    with pytest.raises(InvalidInput):
        users.set_password(session, user, "short", actor=None)
    users.set_role(session, user, "qa_lead", actor=None)
    assert user.role == "qa_lead"


def test_two_editors_of_a_submitted_review_on_postgresql(
    fresh_engine: Engine, backend: str
) -> None:
    """Both hold the submitted review open; the second save is a Conflict, not a crash."""
    if backend != "postgresql":
        pytest.skip("SQLite serialises writers; the in-flight race is a PostgreSQL case")
    review_id, reviewer_id, lead_id, good, bad = _setup_review(fresh_engine)
    factory = db.session_factory(fresh_engine)
    with factory() as s, s.begin():
        save_review(
            s, s.get_one(Review, review_id), good, s.get_one(User, reviewer_id), submit=True
        )
    a, b = factory(), factory()
    try:
        ra, rb = a.get_one(Review, review_id), b.get_one(Review, review_id)
        save_review(a, ra, bad, a.get_one(User, reviewer_id), change_reason="first")
        a.commit()
        with pytest.raises(Conflict):
            save_review(b, rb, good, b.get_one(User, lead_id), change_reason="second")
        b.rollback()
    finally:
        a.close()
        b.close()
    with factory() as s:
        assert s.get_one(Review, review_id).revision == 2
