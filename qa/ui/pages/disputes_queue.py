"""QA leads: decide disputes (uphold or adjust the review) and watch dispute rates."""

from __future__ import annotations

import streamlit as st

from qa.models import User
from qa.services import disputes as dispute_service
from qa.services.errors import Conflict, ServiceError
from qa.services.rubrics import rubric_of
from qa.ui.cache import clear_dashboard_cache
from qa.ui.i18n import fmt_date, fmt_percent, register
from qa.ui.registry import LEADS
from qa.ui.session import db_session, require, settings
from qa.ui.trust_common import answer_input, show_error, status_label, value_label

register(
    {
        "disq.title": {"en": "Disputes", "ar": "الاعتراضات"},
        "disq.open": {"en": "Open disputes", "ar": "الاعتراضات المفتوحة"},
        "disq.none_open": {"en": "No open dispute.", "ar": "لا توجد اعتراضات مفتوحة."},
        "disq.pick": {"en": "Dispute to decide", "ar": "الاعتراض المراد البت فيه"},
        "disq.pick_label": {
            "en": "#{id} · review {review} · {criterion} · {date}",
            "ar": "#{id} · المراجعة {review} · {criterion} · {date}",
        },
        "disq.agent": {"en": "Agent", "ar": "الموظف"},
        "disq.reviewer": {"en": "Reviewer", "ar": "المراجع"},
        "disq.current": {"en": "Current answer", "ar": "الإجابة الحالية"},
        "disq.reason": {"en": "Agent's reason", "ar": "سبب اعتراض الموظف"},
        "disq.reviewer_comment": {"en": "Reviewer's comment", "ar": "ملاحظة المراجع"},
        "disq.transcript": {"en": "Transcript", "ar": "نص المحادثة"},
        "disq.outcome": {"en": "Decision", "ar": "القرار"},
        "disq.uphold": {"en": "Uphold the review as it is", "ar": "إبقاء التقييم كما هو"},
        "disq.adjust": {"en": "Adjust the answer", "ar": "تعديل الإجابة"},
        "disq.new_answer": {
            "en": "New answer (when adjusting)",
            "ar": "الإجابة الجديدة (عند التعديل)",
        },
        "disq.comment": {
            "en": "Comment to the agent (required)",
            "ar": "ملاحظة للموظف (مطلوبة)",
        },
        "disq.decide": {"en": "Record decision", "ar": "تسجيل القرار"},
        "disq.done": {
            "en": "Decision recorded; the agent has been notified.",
            "ar": "سُجّل القرار وأُبلغ الموظف.",
        },
        "disq.all": {"en": "All disputes", "ar": "كل الاعتراضات"},
        "disq.col.id": {"en": "Id", "ar": "الرقم"},
        "disq.col.review": {"en": "Review", "ar": "المراجعة"},
        "disq.col.criterion": {"en": "Criterion", "ar": "المعيار"},
        "disq.col.status": {"en": "Status", "ar": "الحالة"},
        "disq.col.agent": {"en": "Agent", "ar": "الموظف"},
        "disq.col.reason": {"en": "Reason", "ar": "السبب"},
        "disq.col.decision": {"en": "Decision comment", "ar": "ملاحظة القرار"},
        "disq.col.opened": {"en": "Opened", "ar": "تاريخ التقديم"},
        "disq.col.resolved": {"en": "Decided", "ar": "تاريخ البت"},
        "disq.rates": {"en": "Dispute rates", "ar": "معدلات الاعتراض"},
        "disq.rates_help": {
            "en": "Withdrawn disputes are not counted. Reviewer rate: disputes per 100 submitted "
            "reviews; criterion rate: disputes per 100 submitted answers.",
            "ar": "لا تُحتسب الاعتراضات المسحوبة. معدل المراجع: اعتراضات لكل ١٠٠ مراجعة مقدمة؛ "
            "معدل المعيار: اعتراضات لكل ١٠٠ إجابة مقدمة.",
        },
        "disq.col.reviewer": {"en": "Reviewer", "ar": "المراجع"},
        "disq.col.base_reviews": {"en": "Submitted reviews", "ar": "المراجعات المقدمة"},
        "disq.col.base_answers": {"en": "Submitted answers", "ar": "الإجابات المقدمة"},
        "disq.col.disputes": {"en": "Disputes", "ar": "الاعتراضات"},
        "disq.col.rate": {"en": "Rate", "ar": "المعدل"},
        "disq.col.adjusted": {"en": "Adjusted", "ar": "عُدّلت"},
        "disq.col.upheld": {"en": "Upheld", "ar": "أُبقيت"},
        "disq.col.adjusted_share": {"en": "Adjusted share", "ar": "نسبة التعديل"},
    }
)

viewer = require(LEADS)
cfg = settings()
tz = cfg.tz
st.title(viewer.t("disq.title"), anchor=False)

with db_session() as session:
    me = session.get_one(User, viewer.id)
    st.subheader(viewer.t("disq.open"), anchor=False)
    open_disputes = dispute_service.list_disputes(session, me, status="open")
    if not open_disputes:
        st.info(viewer.t("disq.none_open"))
    else:
        by_id = {d.id: d for d in open_disputes}

        def label(did: int) -> str:
            d = by_id[did]
            crit = rubric_of(d.review.rubric_version).criterion(d.criterion_id)
            return viewer.t(
                "disq.pick_label",
                id=d.id,
                review=d.review_id,
                criterion=crit.label.get(viewer.locale),
                date=fmt_date(d.created_at, viewer.locale, tz),
            )

        dispute = by_id[st.selectbox(viewer.t("disq.pick"), list(by_id), format_func=label)]
        review = dispute.review
        rubric = rubric_of(review.rubric_version)
        criterion = rubric.criterion(dispute.criterion_id)
        answer = next((a for a in review.answers if a.criterion_id == criterion.id), None)
        # What this lead saw when first opening the dispute: a later save by someone else
        # makes the decision a Conflict instead of silently overwriting their change.
        seen_key = f"disq_seen_{dispute.id}"
        seen = st.session_state.setdefault(seen_key, (review.lock_version, dispute.lock_version))

        left, right = st.columns(2)
        left.caption(viewer.t("disq.agent"))
        left.text(f"{dispute.agent_user.display_name} ({dispute.agent_user.username})")
        right.caption(viewer.t("disq.reviewer"))
        right.text(f"{review.reviewer.display_name} ({review.reviewer.username})")
        st.caption(viewer.t("disq.current"))
        st.text(
            f"{criterion.label.get(viewer.locale)}: "
            + value_label(
                criterion,
                answer.value if answer else None,
                answer.na if answer else False,
                viewer.t,
            )
        )
        if answer is not None and answer.comment:
            st.caption(viewer.t("disq.reviewer_comment"))
            st.text(answer.comment)
        st.caption(viewer.t("disq.reason"))
        st.text(dispute.reason)
        with st.expander(viewer.t("disq.transcript")):
            for turn in review.interaction.turns:
                st.text(f"[{turn.speaker}] {turn.text}")

        with st.form(f"disq_decide_{dispute.id}"):
            outcome = st.radio(
                viewer.t("disq.outcome"),
                ["uphold", "adjust"],
                format_func=lambda o: viewer.t(f"disq.{o}"),
            )
            st.caption(viewer.t("disq.new_answer"))
            new_answer = answer_input(criterion, f"disq_new_{dispute.id}", viewer.locale, viewer.t)
            comment = st.text_area(viewer.t("disq.comment"), max_chars=dispute_service.REASON_MAX)
            decided = st.form_submit_button(viewer.t("disq.decide"))
        if decided:
            try:
                with session.begin_nested():
                    dispute_service.resolve_dispute(
                        session,
                        me,
                        dispute.id,
                        outcome="adjust" if outcome == "adjust" else "uphold",
                        comment=comment,
                        changes={criterion.id: new_answer} if outcome == "adjust" else None,
                        expected_lock_version=seen[0],
                        expected_dispute_version=seen[1],
                        settings=cfg,
                    )
                st.session_state.pop(seen_key, None)
                if outcome == "adjust":
                    clear_dashboard_cache()  # the review's answers and score changed
                st.success(viewer.t("disq.done"))
            except Conflict as exc:
                st.session_state.pop(seen_key, None)
                st.warning(viewer.t("trust.error.conflict"))
                show_error(exc)
            except ServiceError as exc:
                show_error(exc)

    st.subheader(viewer.t("disq.all"), anchor=False)
    rows = []
    for d in dispute_service.list_disputes(session, me):
        crit = rubric_of(d.review.rubric_version).criterion(d.criterion_id)
        rows.append(
            {
                viewer.t("disq.col.id"): d.id,
                viewer.t("disq.col.review"): d.review_id,
                viewer.t("disq.col.criterion"): crit.label.get(viewer.locale),
                viewer.t("disq.col.status"): status_label(d.status, viewer.t),
                viewer.t("disq.col.agent"): d.agent_user.username,
                viewer.t("disq.col.reason"): d.reason,
                viewer.t("disq.col.decision"): d.resolution_comment or "",
                viewer.t("disq.col.opened"): fmt_date(d.created_at, viewer.locale, tz),
                viewer.t("disq.col.resolved"): fmt_date(d.resolved_at, viewer.locale, tz),
            }
        )
    if rows:
        st.dataframe(rows, hide_index=True)
    else:
        st.info(viewer.t("trust.none"))

    st.subheader(viewer.t("disq.rates"), anchor=False)
    st.caption(viewer.t("disq.rates_help"))
    rates = dispute_service.dispute_rates(session, me)


def rate_rows(rows: tuple[dispute_service.RateRow, ...], key_col: str, base_col: str) -> list[dict]:
    return [
        {
            viewer.t(key_col): r.label
            if key_col == "disq.col.criterion"
            else f"{r.label} ({r.key})",
            viewer.t(base_col): r.base,
            viewer.t("disq.col.disputes"): r.disputes,
            viewer.t("disq.col.rate"): fmt_percent(r.rate, viewer.locale),
            viewer.t("disq.col.adjusted"): r.adjusted,
            viewer.t("disq.col.upheld"): r.upheld,
            viewer.t("disq.col.adjusted_share"): fmt_percent(r.adjusted_share, viewer.locale),
        }
        for r in rows
    ]


left, right = st.columns(2)
left.dataframe(
    rate_rows(rates.per_reviewer, "disq.col.reviewer", "disq.col.base_reviews"), hide_index=True
)
right.dataframe(
    rate_rows(rates.per_criterion, "disq.col.criterion", "disq.col.base_answers"), hide_index=True
)
