"""Reviewers: the disputes agents raised on their reviews, and how they were decided."""

from __future__ import annotations

import streamlit as st

from qa.models import User
from qa.services import disputes as dispute_service
from qa.services.rubrics import rubric_of
from qa.ui.i18n import fmt_date, register
from qa.ui.session import db_session, require, settings
from qa.ui.trust_common import status_label

register(
    {
        "disr.title": {"en": "Disputes on my reviews", "ar": "الاعتراضات على مراجعاتي"},
        "disr.intro": {
            "en": "A QA lead decides each dispute; an adjustment creates a new revision of your "
            "review and keeps the previous one in its history.",
            "ar": "يبت مشرف الجودة في كل اعتراض؛ وينشئ التعديل نسخة جديدة من مراجعتك مع الاحتفاظ "
            "بالنسخة السابقة في سجلها.",
        },
        "disr.col.id": {"en": "Id", "ar": "الرقم"},
        "disr.col.review": {"en": "Review", "ar": "المراجعة"},
        "disr.col.criterion": {"en": "Criterion", "ar": "المعيار"},
        "disr.col.status": {"en": "Status", "ar": "الحالة"},
        "disr.col.reason": {"en": "Agent's reason", "ar": "سبب اعتراض الموظف"},
        "disr.col.decision": {"en": "Decision comment", "ar": "ملاحظة القرار"},
        "disr.col.opened": {"en": "Opened", "ar": "تاريخ التقديم"},
        "disr.col.resolved": {"en": "Decided", "ar": "تاريخ البت"},
    }
)

viewer = require(frozenset({"reviewer"}))
tz = settings().tz
st.title(viewer.t("disr.title"), anchor=False)
st.caption(viewer.t("disr.intro"))

with db_session() as session:
    me = session.get_one(User, viewer.id)
    rows = []
    for d in dispute_service.list_disputes(session, me):
        criterion = rubric_of(d.review.rubric_version).criterion(d.criterion_id)
        rows.append(
            {
                viewer.t("disr.col.id"): d.id,
                viewer.t("disr.col.review"): d.review_id,
                viewer.t("disr.col.criterion"): criterion.label.get(viewer.locale),
                viewer.t("disr.col.status"): status_label(d.status, viewer.t),
                viewer.t("disr.col.reason"): d.reason,
                viewer.t("disr.col.decision"): d.resolution_comment or "",
                viewer.t("disr.col.opened"): fmt_date(d.created_at, viewer.locale, tz),
                viewer.t("disr.col.resolved"): fmt_date(d.resolved_at, viewer.locale, tz),
            }
        )
if rows:
    st.dataframe(rows, hide_index=True)
else:
    st.info(viewer.t("trust.none"))
