"""Agents: dispute a criterion of one of their own submitted reviews, follow the outcome."""

from __future__ import annotations

import streamlit as st

from qa.models import User
from qa.services import disputes as dispute_service
from qa.services.errors import ServiceError
from qa.services.rubrics import rubric_of
from qa.ui.i18n import fmt_date, fmt_percent, register
from qa.ui.session import db_session, require, settings
from qa.ui.trust_common import show_error, status_label, value_label

register(
    {
        "dism.title": {"en": "My disputes", "ar": "اعتراضاتي"},
        "dism.window": {
            "en": "You can dispute a criterion of a review within {days} days of its submission.",
            "ar": "يمكنك الاعتراض على معيار في مراجعة خلال {days} يومًا من تقديمها.",
        },
        "dism.new": {"en": "Open a dispute", "ar": "تقديم اعتراض"},
        "dism.no_reviews": {
            "en": "None of your reviews can be disputed right now.",
            "ar": "لا توجد حاليًا مراجعة يمكنك الاعتراض عليها.",
        },
        "dism.review": {"en": "Review", "ar": "المراجعة"},
        "dism.review_label": {
            "en": "Review {id} · {date} · score {score} · dispute until {until}",
            "ar": "المراجعة {id} · {date} · النتيجة {score} · الاعتراض حتى {until}",
        },
        "dism.criterion": {"en": "Criterion", "ar": "المعيار"},
        "dism.reason": {"en": "Why do you disagree? (required)", "ar": "لماذا تعترض؟ (مطلوب)"},
        "dism.submit": {"en": "Send dispute", "ar": "إرسال الاعتراض"},
        "dism.sent": {
            "en": "Dispute sent. A QA lead will decide and you will be notified.",
            "ar": "أُرسل الاعتراض. سيبت فيه مشرف الجودة وستصلك رسالة بالنتيجة.",
        },
        "dism.list": {"en": "My disputes", "ar": "اعتراضاتي"},
        "dism.col.id": {"en": "Id", "ar": "الرقم"},
        "dism.col.review": {"en": "Review", "ar": "المراجعة"},
        "dism.col.criterion": {"en": "Criterion", "ar": "المعيار"},
        "dism.col.answer": {"en": "Answer disputed", "ar": "الإجابة المعترض عليها"},
        "dism.col.status": {"en": "Status", "ar": "الحالة"},
        "dism.col.reason": {"en": "My reason", "ar": "سبب اعتراضي"},
        "dism.col.decision": {"en": "Decision", "ar": "القرار"},
        "dism.col.opened": {"en": "Opened", "ar": "تاريخ التقديم"},
        "dism.col.resolved": {"en": "Decided", "ar": "تاريخ البت"},
        "dism.withdraw_pick": {"en": "Withdraw an open dispute", "ar": "سحب اعتراض مفتوح"},
        "dism.withdraw": {"en": "Withdraw", "ar": "سحب"},
        "dism.withdrawn": {"en": "Dispute withdrawn.", "ar": "سُحب الاعتراض."},
    }
)

viewer = require(frozenset({"agent"}))
cfg = settings()
tz = cfg.tz
st.title(viewer.t("dism.title"), anchor=False)
st.caption(viewer.t("dism.window", days=cfg.dispute_window_days))

with db_session() as session:
    me = session.get_one(User, viewer.id)
    reviews = dispute_service.disputable_reviews(session, me, window_days=cfg.dispute_window_days)
    st.subheader(viewer.t("dism.new"), anchor=False)
    if not reviews:
        st.info(viewer.t("dism.no_reviews"))
    else:
        by_id = {r.id: r for r in reviews}
        review_id = st.selectbox(
            viewer.t("dism.review"),
            list(by_id),
            format_func=lambda rid: viewer.t(
                "dism.review_label",
                id=rid,
                date=fmt_date(by_id[rid].interaction_at, viewer.locale, tz),
                score=fmt_percent(by_id[rid].score, viewer.locale),
                until=fmt_date(
                    dispute_service.window_end(by_id[rid], cfg.dispute_window_days),
                    viewer.locale,
                    tz,
                ),
            ),
        )
        review = by_id[review_id]
        rubric = rubric_of(review.rubric_version)
        answers = {a.criterion_id: a for a in review.answers}
        already = {
            d.criterion_id
            for d in dispute_service.list_disputes(session, me)
            if d.review_id == review.id
        }
        choices = [c for _, c in rubric.all_criteria() if c.id not in already]
        with st.form("dism_new", clear_on_submit=True):
            criterion_id = st.selectbox(
                viewer.t("dism.criterion"),
                [c.id for c in choices],
                format_func=lambda cid: (
                    f"{rubric.criterion(cid).label.get(viewer.locale)} — "
                    + value_label(
                        rubric.criterion(cid),
                        answers[cid].value if cid in answers else None,
                        answers[cid].na if cid in answers else False,
                        viewer.t,
                    )
                ),
            )
            reason = st.text_area(viewer.t("dism.reason"), max_chars=dispute_service.REASON_MAX)
            if st.form_submit_button(viewer.t("dism.submit")):
                try:
                    with session.begin_nested():
                        dispute_service.open_dispute(
                            session, me, review.id, criterion_id or "", reason, settings=cfg
                        )
                    st.success(viewer.t("dism.sent"))
                except ServiceError as exc:
                    show_error(exc)

    open_ones = [d.id for d in dispute_service.list_disputes(session, me, status="open")]
    if open_ones:
        with st.form("dism_withdraw"):
            chosen = st.selectbox(viewer.t("dism.withdraw_pick"), open_ones)
            if st.form_submit_button(viewer.t("dism.withdraw")):
                try:
                    with session.begin_nested():
                        dispute_service.withdraw_dispute(session, me, int(chosen))
                    st.success(viewer.t("dism.withdrawn"))
                except ServiceError as exc:
                    show_error(exc)

    st.subheader(viewer.t("dism.list"), anchor=False)
    disputes = dispute_service.list_disputes(session, me)
    rows = []
    for d in disputes:
        criterion = rubric_of(d.review.rubric_version).criterion(d.criterion_id)
        rows.append(
            {
                viewer.t("dism.col.id"): d.id,
                viewer.t("dism.col.review"): d.review_id,
                viewer.t("dism.col.criterion"): criterion.label.get(viewer.locale),
                viewer.t("dism.col.status"): status_label(d.status, viewer.t),
                viewer.t("dism.col.reason"): d.reason,
                viewer.t("dism.col.decision"): d.resolution_comment or "",
                viewer.t("dism.col.opened"): fmt_date(d.created_at, viewer.locale, tz),
                viewer.t("dism.col.resolved"): fmt_date(d.resolved_at, viewer.locale, tz),
            }
        )
    if rows:
        st.dataframe(rows, hide_index=True)
    else:
        st.info(viewer.t("trust.none"))
