"""Reviews: drafts, submission, edits with history, optimistic locking, permissions.

Scores are always recomputed by the pure ``rubrics.score`` from the stored
answers and the review's own rubric version, so a later rubric change can never
alter an existing review's score.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from qa.models import (
    Interaction,
    Review,
    ReviewAnswer,
    ReviewRevision,
    ReviewStatus,
    Role,
    RubricVersion,
    User,
    utcnow,
)
from qa.services import audit
from qa.services.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from qa.services.queue import complete_assignment
from qa.services.rubrics import latest_version, rubric_of
from rubrics import Answer, AnswerErrors, ScoreResult, score

REVIEWING_ROLES = frozenset({Role.reviewer.value, Role.qa_lead.value, Role.admin.value})
READ_ALL_ROLES = frozenset({Role.qa_lead.value, Role.admin.value, Role.trainer.value})


def require_role(user: User, roles: frozenset[str] | set[str], what: str) -> None:
    if user.role not in roles:
        raise PermissionDenied(f"{user.role} users may not {what}")


def visible_reviews(user: User) -> Select[tuple[Review]]:
    """The reviews ``user`` may read: the single source of truth for read permissions.

    Agents see only their own submitted reviews; reviewers the ones they wrote
    plus submitted ones; leads, trainers and admins everything.
    """
    query = select(Review)
    if user.role in READ_ALL_ROLES:
        return query
    if user.role == Role.reviewer.value:
        return query.where(
            (Review.reviewer_id == user.id) | (Review.status == ReviewStatus.submitted.value)
        )
    if user.agent_id is None:
        return query.where(False)
    return query.where(
        Review.agent_id == user.agent_id, Review.status == ReviewStatus.submitted.value
    )


def get_review(session: Session, review_id: int, user: User) -> Review:
    review = session.scalar(visible_reviews(user).where(Review.id == review_id))
    if review is None:
        # Same message whether it does not exist or is not visible: no probing.
        raise NotFound(f"review {review_id} not found")
    return review


def start_review(
    session: Session,
    interaction_id: int,
    reviewer: User,
    *,
    rubric_version: RubricVersion | None = None,
) -> Review:
    require_role(reviewer, REVIEWING_ROLES, "review interactions")
    interaction = session.get(Interaction, interaction_id)
    if interaction is None:
        raise NotFound(f"interaction {interaction_id} not found")
    if reviewer.agent_id is not None and reviewer.agent_id == interaction.agent_id:
        raise PermissionDenied("you cannot review your own interactions")
    existing = session.scalar(
        select(Review).where(
            Review.interaction_id == interaction_id, Review.reviewer_id == reviewer.id
        )
    )
    if existing is not None:
        return existing
    version = rubric_version or latest_version(session)
    review = Review(
        interaction_id=interaction.id,
        reviewer_id=reviewer.id,
        rubric_version_id=version.id,
        agent_id=interaction.agent_id,
        team_id=interaction.agent.team_id,
        interaction_at=interaction.started_at,
        channel=interaction.channel,
        language=interaction.language,
        status=ReviewStatus.draft.value,
        section_scores={},
        auto_fail=False,
        revision=1,
    )
    session.add(review)
    session.flush()
    audit.record(
        session, reviewer, "create", "review", review.id, after={"interaction": interaction.id}
    )
    return review


def _check_can_edit(review: Review, actor: User) -> None:
    if actor.role in (Role.qa_lead.value, Role.admin.value):
        return
    if actor.role == Role.reviewer.value and review.reviewer_id == actor.id:
        return
    raise PermissionDenied("only the review's reviewer or a QA lead may change it")


def _snapshot(review: Review) -> dict[str, Any]:
    return {
        "status": review.status,
        "score": review.score,
        "auto_fail": review.auto_fail,
        "auto_fail_reason": review.auto_fail_reason,
        "comment": review.comment,
        "revision": review.revision,
        "answers": {
            a.criterion_id: {"value": a.value, "na": a.na, "comment": a.comment}
            for a in review.answers
        },
    }


def current_answers(review: Review) -> dict[str, Answer]:
    return {
        a.criterion_id: Answer(value=a.value, na=a.na, comment=a.comment) for a in review.answers
    }


def preview_score(review: Review, answers: Mapping[str, Answer]) -> ScoreResult:
    """Live score for a form that is being filled in (missing answers allowed)."""
    return score(rubric_of(review.rubric_version), answers, partial=True)


def save_review(
    session: Session,
    review: Review,
    answers: Mapping[str, Answer],
    actor: User,
    *,
    expected_lock_version: int | None = None,
    comment: str | None = None,
    submit: bool = False,
    change_reason: str | None = None,
) -> ScoreResult:
    """Store answers (replacing the previous set), rescore, optionally submit.

    ``expected_lock_version`` is the ``lock_version`` the editor loaded; if the
    review changed since, the save is refused with ``Conflict`` and nothing is
    written, so a second editor never silently overwrites the first.
    Editing an already submitted review snapshots the previous state into
    ``review_revisions`` first. The dashboard's ``criterion_rollups`` follow in
    the same flush (``qa.rollups``): old contribution out, new one in.
    """
    _check_can_edit(review, actor)
    if expected_lock_version is not None and review.lock_version != expected_lock_version:
        raise Conflict(
            f"review {review.id} was changed by someone else since you opened it "
            f"(version {expected_lock_version} -> {review.lock_version}); reload to see their changes"
        )
    rubric = rubric_of(review.rubric_version)
    final = submit or review.status == ReviewStatus.submitted.value
    try:
        result = score(rubric, answers, partial=not final)
    except AnswerErrors as exc:
        raise InvalidInput("; ".join(str(p) for p in exc.problems)) from exc
    before = _snapshot(review)
    if review.status == ReviewStatus.submitted.value:
        session.add(
            ReviewRevision(
                review_id=review.id,
                revision=review.revision,
                snapshot=before,
                changed_by_id=actor.id,
            )
        )
        review.revision += 1
    by_id = {a.criterion_id: a for a in review.answers}
    section_of = {c.id: s.id for s, c in rubric.all_criteria()}
    for criterion_id, answer in answers.items():
        cr = result.criteria[criterion_id]
        row = by_id.pop(criterion_id, None)
        if row is None:
            row = ReviewAnswer(criterion_id=criterion_id)
            review.answers.append(row)
        row.section_id = section_of[criterion_id]
        row.value = None if answer.na else answer.value
        row.na = answer.na
        row.comment = answer.comment
        row.earned = cr.earned
        row.possible = cr.possible
        row.pct = cr.pct
        row.agent_id = review.agent_id
        row.team_id = review.team_id
        row.interaction_at = review.interaction_at
        row.channel = review.channel
        row.language = review.language
        row.submitted = final
    for stale in by_id.values():
        review.answers.remove(stale)
    review.score = result.overall
    review.section_scores = {
        sid: {"score": s.score, "failed_criterion": s.failed_criterion}
        for sid, s in result.sections.items()
    }
    review.auto_fail = result.auto_fail
    review.auto_fail_reason = result.auto_fail_reason
    if comment is not None:
        review.comment = comment
    if submit and review.status != ReviewStatus.submitted.value:
        review.status = ReviewStatus.submitted.value
        review.submitted_at = utcnow()
        complete_assignment(session, review.interaction_id, actor)
    review_id = review.id  # read before flushing: a failed flush expires the object
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(
            f"review {review_id} was changed by someone else while you saved; reload and retry"
        ) from exc
    except IntegrityError as exc:
        # Two editors of a submitted review both snapshot revision N: the loser hits
        # the (review, revision) key before the version check can fire.
        if "review_revisions" not in str(exc.orig):
            raise
        raise Conflict(
            f"review {review_id} was changed by someone else while you saved; reload and retry"
        ) from exc
    action = "submit" if submit else ("edit_submitted" if final else "save_draft")
    after = _snapshot(review)
    if change_reason:
        after["reason"] = change_reason
    audit.record(session, actor, action, "review", review.id, before=before, after=after)
    return result


def revisions(session: Session, review: Review) -> list[ReviewRevision]:
    return list(
        session.scalars(
            select(ReviewRevision)
            .where(ReviewRevision.review_id == review.id)
            .order_by(ReviewRevision.revision)
        )
    )
