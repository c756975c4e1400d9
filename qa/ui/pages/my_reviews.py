"""My reviews (agents): submitted reviews of my interactions, comments, flagged excerpts, acknowledge.

Query parameters are ignored on purpose: what is listed comes only from
``agent_view.my_reviews`` for the signed-in user, so no URL can show another
agent's review.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import streamlit as st

from qa.models import User
from qa.services.agent_view import acknowledge, acknowledgements, my_reviews
from qa.services.autoqa import analysis_for
from qa.services.errors import NotFound, PermissionDenied
from qa.services.rubrics import rubric_of
from qa.ui.i18n import fmt_date, fmt_number, fmt_percent, register
from qa.ui.registry import AGENTS
from qa.ui.render import (
    TRANSCRIPT_CSS,
    bubble_html,
    escape_markdown,
    neutralise_bidi,
    note_html,
)
from qa.ui.session import db_session, require, settings

register(
    {
        "myrev.title": {"en": "My reviews", "ar": "مراجعاتي"},
        "myrev.none": {
            "en": "No submitted reviews of your interactions yet.",
            "ar": "لا توجد مراجعات مُرسلة لتفاعلاتك بعد.",
        },
        "myrev.not_agent": {
            "en": "This account is not linked to an agent, so it has no reviews of its own.",
            "ar": "هذا الحساب غير مرتبط بموظف، لذلك لا توجد له مراجعات خاصة.",
        },
        "myrev.heading": {
            "en": "{date} · {ref} · {score}{flag}",
            "ar": "{date} · {ref} · {score}{flag}",
        },
        "myrev.new": {"en": " · new", "ar": " · جديدة"},
        "myrev.reviewer": {"en": "Reviewed by {name}", "ar": "راجعها {name}"},
        "myrev.comment": {"en": "Reviewer's comment", "ar": "تعليق المراجِع"},
        "myrev.auto_fail": {"en": "Automatic fail: {reason}", "ar": "رسوب تلقائي: {reason}"},
        "myrev.criterion": {"en": "Criterion", "ar": "البند"},
        "myrev.answer": {"en": "Answer", "ar": "الإجابة"},
        "myrev.score": {"en": "Score", "ar": "الدرجة"},
        "myrev.note": {"en": "Comment", "ar": "تعليق"},
        "myrev.yes": {"en": "Yes", "ar": "نعم"},
        "myrev.no": {"en": "No", "ar": "لا"},
        "myrev.na": {"en": "N/A", "ar": "لا ينطبق"},
        "myrev.excerpts": {"en": "Flagged excerpts", "ar": "مقتطفات مُعلَّمة"},
        "myrev.no_flags": {
            "en": "Auto-QA flagged nothing in this interaction.",
            "ar": "لم يُعلِّم الفحص الآلي شيئاً في هذا التفاعل.",
        },
        "myrev.not_analysed": {
            "en": "This interaction has not been analysed automatically yet.",
            "ar": "لم يُحلَّل هذا التفاعل آلياً بعد.",
        },
        "myrev.acknowledge": {"en": "I have read this review", "ar": "اطّلعت على هذه المراجعة"},
        "myrev.acknowledged": {
            "en": "You acknowledged this review on {date}.",
            "ar": "أكّدت اطّلاعك على هذه المراجعة في {date}.",
        },
        "myrev.changed": {
            "en": "The review was changed after you acknowledged it.",
            "ar": "عُدّلت المراجعة بعد تأكيد اطّلاعك عليها.",
        },
        "myrev.ack_failed": {
            "en": "Could not record the acknowledgement: {message}",
            "ar": "تعذّر تسجيل التأكيد: {message}",
        },
    }
)


@dataclass
class Item:
    review_id: int
    ref: str
    at: datetime
    score: float | None
    auto_fail_reason: str | None
    comment: str | None
    reviewer: str
    updated_at: datetime
    rows: list[dict[str, str]]
    excerpts: list[str] | None  # None: not analysed
    acknowledged_at: datetime | None


viewer = require(AGENTS)
loc = viewer.locale
tz = settings().tz
st.title(viewer.t("myrev.title"), anchor=False)


def _answer_text(kind: str, value: float | None, na: bool) -> str:
    if na:
        return viewer.t("myrev.na")
    if value is None:
        return "—"
    if kind == "yes_no":
        return viewer.t("myrev.yes" if value == 1 else "myrev.no")
    return fmt_number(value, loc, 0 if kind == "scale" else 1)


def _load() -> list[Item]:
    with db_session() as session:
        me = session.get(User, viewer.id)
        assert me is not None
        reviews = my_reviews(session, me)
        acks = acknowledgements(session, me, [r.id for r in reviews])
        items = []
        for review in reviews:
            rubric = rubric_of(review.rubric_version)
            by_id = {a.criterion_id: a for a in review.answers}
            rows = []
            failed = [
                c.label.get(loc)
                for _, c in rubric.all_criteria()
                if c.critical == "review"
                and (a := by_id.get(c.id)) is not None
                and a.value is not None
                and not a.na
                and c.fails_critical(a.value)
            ]
            for _, c in rubric.all_criteria():
                a = by_id.get(c.id)
                if a is None:
                    continue
                rows.append(
                    {
                        viewer.t("myrev.criterion"): neutralise_bidi(c.label.get(loc)),
                        viewer.t("myrev.answer"): _answer_text(c.type, a.value, a.na),
                        viewer.t("myrev.score"): fmt_percent(a.pct, loc, 0),
                        viewer.t("myrev.note"): neutralise_bidi(a.comment or ""),
                    }
                )
            analysis = analysis_for(session, review.interaction_id)
            excerpts: list[str] | None = None
            if analysis is not None:
                turns = {t.seq: t for t in review.interaction.turns}
                flagged = sorted({f.turn for f in analysis.flags if f.polarity == "avoid"})
                excerpts = [
                    bubble_html(
                        turns[seq],
                        [f for f in analysis.flags_on(seq) if f.polarity == "avoid"],
                        loc,
                    )
                    for seq in flagged
                    if seq in turns
                ]
            ack = acks.get(review.id)
            items.append(
                Item(
                    review.id,
                    review.interaction.external_id,
                    review.interaction_at,
                    review.score,
                    ("، " if loc == "ar" else "; ").join(failed) if review.auto_fail else None,
                    review.comment,
                    review.reviewer.display_name,
                    review.updated_at,
                    rows,
                    excerpts,
                    ack.acknowledged_at if ack else None,
                )
            )
        return items


try:
    items = _load()
except PermissionDenied:
    st.info(viewer.t("myrev.not_agent"))
    st.stop()
if not items:
    st.info(viewer.t("myrev.none"))
    st.stop()

st.html(TRANSCRIPT_CSS)
for item in items:
    heading = viewer.t(
        "myrev.heading",
        date=fmt_date(item.at, loc, tz),
        ref=escape_markdown(item.ref),
        score=fmt_percent(item.score, loc),
        flag="" if item.acknowledged_at else viewer.t("myrev.new"),
    )
    with st.expander(heading, expanded=item.acknowledged_at is None):
        st.caption(viewer.t("myrev.reviewer", name=escape_markdown(item.reviewer)))
        if item.auto_fail_reason:
            st.error(viewer.t("myrev.auto_fail", reason=escape_markdown(item.auto_fail_reason)))
        if item.comment:
            st.markdown(f"**{viewer.t('myrev.comment')}**")
            st.html(note_html(item.comment))
        st.dataframe(item.rows, hide_index=True, width="stretch")
        st.markdown(f"**{viewer.t('myrev.excerpts')}**")
        if item.excerpts is None:
            st.caption(viewer.t("myrev.not_analysed"))
        elif not item.excerpts:
            st.caption(viewer.t("myrev.no_flags"))
        else:
            st.html('<div class="jq-transcript">' + "".join(item.excerpts) + "</div>")
        if item.acknowledged_at is not None:
            st.success(viewer.t("myrev.acknowledged", date=fmt_date(item.acknowledged_at, loc, tz)))
            if item.updated_at > item.acknowledged_at:
                st.warning(viewer.t("myrev.changed"))
        elif st.button(viewer.t("myrev.acknowledge"), key=f"ack-{item.review_id}"):
            try:
                with db_session() as session:
                    me = session.get(User, viewer.id)
                    assert me is not None
                    acknowledge(session, me, item.review_id)
            except (NotFound, PermissionDenied) as exc:
                st.error(viewer.t("myrev.ack_failed", message=str(exc)))
            else:
                st.rerun()
