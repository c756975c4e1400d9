"""Disputes: an agent contests one criterion of a submitted review; a QA lead decides.

Rules (each enforced here, whatever the page does):

* only the agent the review is about may dispute it, only once it is submitted, and only
  within ``dispute_window_days`` of its submission; one dispute per criterion per review
  (also a database constraint), and a reason is required;
* only QA leads and admins resolve, never the disputing agent or an account linked to the
  review's agent, and never a dispute that is no longer open;
* "adjust" changes the review through ``reviews.save_review`` - a new revision with the old
  state kept in ``review_revisions`` and the optimistic lock checked - so a lead acting on
  a stale screen gets ``Conflict`` and nothing is written;
* the disputing agent, the review's reviewer and leads can read a dispute; every change is
  audited and the agent is notified (in the app, and by email when SMTP is configured).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Select, and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from qa.config import Settings
from qa.models import (
    Dispute,
    DisputeStatus,
    Review,
    ReviewAnswer,
    ReviewStatus,
    Role,
    User,
    utcnow,
)
from qa.services import audit
from qa.services.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from qa.services.notify import notify
from qa.services.reviews import current_answers, save_review
from qa.services.rubrics import rubric_of
from rubrics import Answer

RESOLVER_ROLES = frozenset({Role.qa_lead.value, Role.admin.value})
REASON_MAX = 4000
Outcome = Literal["uphold", "adjust"]


def _snapshot(d: Dispute) -> dict[str, Any]:
    return {
        "review": d.review_id,
        "criterion": d.criterion_id,
        "status": d.status,
        "reason": d.reason,
        "resolver": d.resolver_id,
        "resolution_comment": d.resolution_comment,
        "adjusted_revision": d.adjusted_revision,
    }


def window_end(review: Review, window_days: int) -> datetime | None:
    """When the review stops being disputable (None for a review never submitted)."""
    if review.submitted_at is None:
        return None
    return review.submitted_at + timedelta(days=window_days)


def disputable_reviews(
    session: Session, agent_user: User, *, window_days: int, now: datetime | None = None
) -> list[Review]:
    """The agent's own submitted reviews that are still inside the dispute window."""
    if agent_user.role != Role.agent.value or agent_user.agent_id is None:
        return []
    now = now or utcnow()
    return list(
        session.scalars(
            select(Review)
            .where(
                Review.agent_id == agent_user.agent_id,
                Review.status == ReviewStatus.submitted.value,
                Review.submitted_at >= now - timedelta(days=window_days),
            )
            .order_by(Review.submitted_at.desc())
        )
    )


def open_dispute(
    session: Session,
    agent_user: User,
    review_id: int,
    criterion_id: str,
    reason: str,
    *,
    settings: Settings,
    now: datetime | None = None,
) -> Dispute:
    if agent_user.role != Role.agent.value or agent_user.agent_id is None:
        raise PermissionDenied("only agents may dispute their reviews")
    review = session.get(Review, review_id)
    # Same message for "missing" and "not yours": no probing of other agents' reviews.
    if (
        review is None
        or review.agent_id != agent_user.agent_id
        or review.status != ReviewStatus.submitted.value
    ):
        raise NotFound(f"review {review_id} not found")
    now = now or utcnow()
    end = window_end(review, settings.dispute_window_days)
    assert end is not None
    if now > end:
        raise Conflict(
            f"review {review_id} can no longer be disputed: the {settings.dispute_window_days}-day "
            f"window ended on {end:%Y-%m-%d %H:%M} UTC"
        )
    rubric = rubric_of(review.rubric_version)
    try:
        rubric.criterion(criterion_id)
    except KeyError:
        raise InvalidInput(
            f"criterion: rubric {rubric.key!r} has no criterion {criterion_id!r}"
        ) from None
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("reason: say why you disagree (required)")
    if len(reason) > REASON_MAX:
        raise InvalidInput(f"reason: longer than {REASON_MAX} characters")
    existing = session.scalar(
        select(Dispute).where(Dispute.review_id == review.id, Dispute.criterion_id == criterion_id)
    )
    if existing is not None:
        raise Conflict(
            f"criterion {criterion_id!r} of review {review_id} is already disputed "
            f"(dispute {existing.id}, {existing.status})"
        )
    dispute = Dispute(
        review_id=review.id,
        criterion_id=criterion_id,
        agent_user_id=agent_user.id,
        reason=reason,
        status=DisputeStatus.open.value,
        review_revision=review.revision,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(dispute)
            session.flush()
    except IntegrityError as exc:  # a second tab raced us past the check above
        raise Conflict(
            f"criterion {criterion_id!r} of review {review_id} is already disputed"
        ) from exc
    audit.record(session, agent_user, "create", "dispute", dispute.id, after=_snapshot(dispute))
    reviewer = session.get(User, review.reviewer_id)
    if reviewer is not None:
        label = rubric.criterion(criterion_id).label
        notify(
            session,
            reviewer,
            "dispute_opened",
            text_en=f"Review {review.id}: the agent disputes “{label.en}”.",
            text_ar=f"المراجعة {review.id}: اعترض الموظف على «{label.ar}».",
            link={"page": "disputes_reviewer", "dispute_id": dispute.id},
            settings=settings,
            subject_en="a review of yours is disputed",
            subject_ar="اعتراض على إحدى مراجعاتك",
        )
    return dispute


def withdraw_dispute(session: Session, agent_user: User, dispute_id: int) -> Dispute:
    dispute = session.get(Dispute, dispute_id)
    if dispute is None or dispute.agent_user_id != agent_user.id:
        raise NotFound(f"dispute {dispute_id} not found")
    if dispute.status != DisputeStatus.open.value:
        raise Conflict(f"dispute {dispute_id} is already {dispute.status}")
    before = _snapshot(dispute)
    dispute.status = DisputeStatus.withdrawn.value
    dispute.resolved_at = utcnow()
    _flush(session, dispute_id)
    audit.record(
        session,
        agent_user,
        "withdraw",
        "dispute",
        dispute.id,
        before=before,
        after=_snapshot(dispute),
    )
    return dispute


def _flush(session: Session, dispute_id: int) -> None:
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(
            f"dispute {dispute_id} was changed by someone else while you saved; reload"
        ) from exc


def resolve_dispute(
    session: Session,
    actor: User,
    dispute_id: int,
    *,
    outcome: Outcome,
    comment: str,
    changes: Mapping[str, Answer] | None = None,
    expected_lock_version: int | None = None,
    expected_dispute_version: int | None = None,
    settings: Settings,
) -> Dispute:
    """Uphold the review as it is, or adjust it with ``changes`` (criterion -> new answer).

    ``expected_lock_version`` is the review's ``lock_version`` the lead saw; if the review
    changed since, ``Conflict`` is raised before anything is written.
    """
    if actor.role not in RESOLVER_ROLES:
        raise PermissionDenied(f"{actor.role} users may not resolve disputes")
    dispute = session.get(Dispute, dispute_id)
    if dispute is None:
        raise NotFound(f"dispute {dispute_id} not found")
    review = dispute.review
    if actor.id == dispute.agent_user_id or (
        actor.agent_id is not None and actor.agent_id == review.agent_id
    ):
        raise PermissionDenied("you cannot resolve a dispute about your own review")
    # What the lead's screen showed (defaults: what this session loaded), then the rows as
    # committed now, locked until this transaction ends: a concurrent edit is either seen
    # here as a clear Conflict or waits for us - never a half-applied decision.
    seen_dispute = (
        dispute.lock_version if expected_dispute_version is None else expected_dispute_version
    )
    seen_review = review.lock_version if expected_lock_version is None else expected_lock_version
    session.refresh(dispute, with_for_update=True)
    session.refresh(review, with_for_update=True)
    if dispute.status != DisputeStatus.open.value:
        raise Conflict(f"dispute {dispute_id} is already {dispute.status}")
    if dispute.lock_version != seen_dispute:
        raise Conflict(f"dispute {dispute_id} was changed by someone else; reload")
    if review.lock_version != seen_review:
        raise Conflict(
            f"review {review.id} was changed by someone else since you opened it "
            f"(version {seen_review} -> {review.lock_version}); reload before deciding"
        )
    comment = (comment or "").strip()
    if not comment:
        raise InvalidInput("comment: explain the decision to the agent (required)")
    if len(comment) > REASON_MAX:
        raise InvalidInput(f"comment: longer than {REASON_MAX} characters")
    if outcome not in ("uphold", "adjust"):
        raise InvalidInput(f"outcome: expected 'uphold' or 'adjust', got {outcome!r}")
    before = _snapshot(dispute)
    if outcome == "adjust":
        if not changes:
            raise InvalidInput("changes: an adjustment must change at least one answer")
        answers = current_answers(review)
        unknown = [c for c in changes if c not in answers]
        if unknown:
            raise InvalidInput(f"changes: review {review.id} has no answer for {unknown}")
        changed = {
            cid: a
            for cid, a in changes.items()
            if (answers[cid].value, answers[cid].na) != (a.value, a.na)
            or (a.comment is not None and a.comment != answers[cid].comment)
        }
        if not changed:
            raise InvalidInput(
                "changes: the new answers are the same as the current ones; uphold instead"
            )
        answers.update(changed)
        save_review(
            session,
            review,
            answers,
            actor,
            expected_lock_version=seen_review,
            change_reason=f"dispute {dispute.id}: {comment}",
        )
        dispute.status = DisputeStatus.adjusted.value
        dispute.adjusted_revision = review.revision
    else:
        dispute.status = DisputeStatus.upheld.value
    dispute.resolver_id = actor.id
    dispute.resolution_comment = comment
    dispute.resolved_at = utcnow()
    _flush(session, dispute_id)
    audit.record(
        session, actor, "resolve", "dispute", dispute.id, before=before, after=_snapshot(dispute)
    )
    label = rubric_of(review.rubric_version).criterion(dispute.criterion_id).label
    if dispute.status == DisputeStatus.upheld.value:
        text_en = f"Your dispute on “{label.en}” (review {review.id}) was not upheld: {comment}"
        text_ar = f"لم يُقبل اعتراضك على «{label.ar}» (المراجعة {review.id}): {comment}"
    else:
        text_en = (
            f"Your dispute on “{label.en}” (review {review.id}) led to an adjusted review: "
            f"{comment}"
        )
        text_ar = (
            f"أدى اعتراضك على «{label.ar}» (المراجعة {review.id}) إلى تعديل التقييم: {comment}"
        )
    agent_user = session.get(User, dispute.agent_user_id)
    if agent_user is not None:
        notify(
            session,
            agent_user,
            "dispute_resolved",
            text_en=text_en,
            text_ar=text_ar,
            link={"page": "disputes_mine", "dispute_id": dispute.id, "review_id": review.id},
            settings=settings,
            subject_en="your dispute was decided",
            subject_ar="تم البت في اعتراضك",
        )
    return dispute


def visible_disputes(user: User) -> Select[tuple[Dispute]]:
    """Who reads which disputes: the agent their own, a reviewer those on their reviews,
    leads and admins all. Everyone else nothing."""
    query = select(Dispute).order_by(Dispute.created_at.desc(), Dispute.id.desc())
    if user.role in RESOLVER_ROLES:
        return query
    if user.role == Role.agent.value:
        return query.where(Dispute.agent_user_id == user.id)
    if user.role == Role.reviewer.value:
        return query.join(Review, Review.id == Dispute.review_id).where(
            Review.reviewer_id == user.id
        )
    return query.where(False)


def list_disputes(session: Session, user: User, *, status: str | None = None) -> list[Dispute]:
    query = visible_disputes(user)
    if status is not None:
        query = query.where(Dispute.status == status)
    return list(session.scalars(query))


def get_dispute(session: Session, dispute_id: int, user: User) -> Dispute:
    dispute = session.scalar(visible_disputes(user).where(Dispute.id == dispute_id))
    if dispute is None:
        raise NotFound(f"dispute {dispute_id} not found")
    return dispute


# ------------------------------------------------------------------------------------ rates


@dataclass(frozen=True)
class RateRow:
    """Disputes against a reviewer or a criterion, relative to what could be disputed."""

    key: str  # reviewer username or criterion id
    label: str
    base: int  # submitted reviews (reviewer) or submitted answers (criterion)
    disputes: int
    upheld: int
    adjusted: int
    open: int

    @property
    def rate(self) -> float | None:
        """Disputes per 100 reviews (reviewer) or per 100 answers (criterion)."""
        return 100.0 * self.disputes / self.base if self.base else None

    @property
    def adjusted_share(self) -> float | None:
        """Of the decided disputes, the percentage that led to an adjustment."""
        decided = self.upheld + self.adjusted
        return 100.0 * self.adjusted / decided if decided else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "base": self.base,
            "disputes": self.disputes,
            "upheld": self.upheld,
            "adjusted": self.adjusted,
            "open": self.open,
            "rate": self.rate,
            "adjusted_share": self.adjusted_share,
        }


@dataclass(frozen=True)
class DisputeRates:
    per_reviewer: tuple[RateRow, ...]
    per_criterion: tuple[RateRow, ...]


def _counts(rows: Any) -> dict[Any, dict[str, int]]:
    out: dict[Any, dict[str, int]] = {}
    for key, status, n in rows:
        out.setdefault(key, {})[status] = int(n)
    return out


def dispute_rates(
    session: Session,
    actor: User,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> DisputeRates:
    """Dispute counts and rates per reviewer and per criterion (withdrawn disputes are not
    counted: the agent took them back). ``since``/``until`` filter by review submission."""
    if actor.role not in RESOLVER_ROLES:
        raise PermissionDenied(f"{actor.role} users may not see dispute rates")
    conditions = [Review.status == ReviewStatus.submitted.value]
    if since is not None:
        conditions.append(Review.submitted_at >= since)
    if until is not None:
        conditions.append(Review.submitted_at < until)
    where = and_(*conditions)
    counted = Dispute.status != DisputeStatus.withdrawn.value

    reviews_per_reviewer = dict(
        session.execute(
            select(Review.reviewer_id, func.count()).where(where).group_by(Review.reviewer_id)
        ).all()
    )
    by_reviewer = _counts(
        session.execute(
            select(Review.reviewer_id, Dispute.status, func.count())
            .join(Review, Review.id == Dispute.review_id)
            .where(where, counted)
            .group_by(Review.reviewer_id, Dispute.status)
        )
    )
    users = {
        u.id: u
        for u in session.scalars(select(User).where(User.id.in_(list(reviews_per_reviewer))))
    }
    per_reviewer = [
        RateRow(
            key=users[rid].username,
            label=users[rid].display_name,
            base=int(n),
            disputes=sum(by_reviewer.get(rid, {}).values()),
            upheld=by_reviewer.get(rid, {}).get(DisputeStatus.upheld.value, 0),
            adjusted=by_reviewer.get(rid, {}).get(DisputeStatus.adjusted.value, 0),
            open=by_reviewer.get(rid, {}).get(DisputeStatus.open.value, 0),
        )
        for rid, n in reviews_per_reviewer.items()
    ]

    answers_per_criterion = dict(
        session.execute(
            select(ReviewAnswer.criterion_id, func.count())
            .join(Review, Review.id == ReviewAnswer.review_id)
            .where(where)
            .group_by(ReviewAnswer.criterion_id)
        ).all()
    )
    by_criterion = _counts(
        session.execute(
            select(Dispute.criterion_id, Dispute.status, func.count())
            .join(Review, Review.id == Dispute.review_id)
            .where(where, counted)
            .group_by(Dispute.criterion_id, Dispute.status)
        )
    )
    per_criterion = [
        RateRow(
            key=cid,
            label=cid,
            base=int(n),
            disputes=sum(by_criterion.get(cid, {}).values()),
            upheld=by_criterion.get(cid, {}).get(DisputeStatus.upheld.value, 0),
            adjusted=by_criterion.get(cid, {}).get(DisputeStatus.adjusted.value, 0),
            open=by_criterion.get(cid, {}).get(DisputeStatus.open.value, 0),
        )
        for cid, n in answers_per_criterion.items()
    ]

    def order(r: RateRow) -> tuple[float, str]:
        return (-(r.rate or 0.0), r.key)

    return DisputeRates(
        per_reviewer=tuple(sorted(per_reviewer, key=order)),
        per_criterion=tuple(sorted(per_criterion, key=order)),
    )
