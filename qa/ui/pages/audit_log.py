"""Admins: the append-only audit trail, filtered, with before/after as JSON and exports."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import streamlit as st

from qa.models import User
from qa.services import audit_log
from qa.services.errors import ServiceError
from qa.ui.i18n import fmt_date, register
from qa.ui.session import db_session, require, settings
from qa.ui.trust_common import show_error

register(
    {
        "audit.title": {"en": "Audit log", "ar": "سجل التدقيق"},
        "audit.intro": {
            "en": "Every change to reviews, answers, rubrics, users, disputes and calibration "
            "sessions. Entries can never be edited or deleted.",
            "ar": "كل تغيير على المراجعات والإجابات ونماذج التقييم والمستخدمين والاعتراضات وجلسات "
            "المعايرة. لا يمكن تعديل أي قيد أو حذفه.",
        },
        "audit.entity": {"en": "Entity type", "ar": "نوع الكيان"},
        "audit.actor": {"en": "Actor", "ar": "المنفّذ"},
        "audit.any": {"en": "Any", "ar": "الكل"},
        "audit.dates": {"en": "Date range", "ar": "النطاق الزمني"},
        "audit.limit": {"en": "Rows at most", "ar": "الحد الأقصى للصفوف"},
        "audit.count": {"en": "{n} entries", "ar": "{n} قيد"},
        "audit.col.at": {"en": "When", "ar": "الوقت"},
        "audit.col.actor": {"en": "Actor", "ar": "المنفّذ"},
        "audit.col.action": {"en": "Action", "ar": "الإجراء"},
        "audit.col.entity": {"en": "Entity", "ar": "الكيان"},
        "audit.col.id": {"en": "Entity id", "ar": "رقم الكيان"},
        "audit.col.before": {"en": "Before (JSON)", "ar": "قبل (JSON)"},
        "audit.col.after": {"en": "After (JSON)", "ar": "بعد (JSON)"},
        "audit.csv": {"en": "Export CSV", "ar": "تصدير CSV"},
        "audit.json": {"en": "Export JSON", "ar": "تصدير JSON"},
    }
)

viewer = require(frozenset({"admin"}))
tz = settings().tz
st.title(viewer.t("audit.title"), anchor=False)
st.caption(viewer.t("audit.intro"))

with db_session() as session:
    me = session.get_one(User, viewer.id)
    types = audit_log.entity_types(session, me)
    actors = audit_log.actors(session, me)
    c1, c2, c3, c4 = st.columns(4)
    entity = c1.selectbox(
        viewer.t("audit.entity"), [None, *types], format_func=lambda v: v or viewer.t("audit.any")
    )
    actor = c2.selectbox(
        viewer.t("audit.actor"), [None, *actors], format_func=lambda v: v or viewer.t("audit.any")
    )
    today = datetime.now(tz).date()
    dates = c3.date_input(viewer.t("audit.dates"), value=(today - timedelta(days=30), today))
    limit = c4.number_input(
        viewer.t("audit.limit"), min_value=10, max_value=audit_log.MAX_ROWS, value=500, step=100
    )
    since = until = None
    if isinstance(dates, tuple | list) and len(dates) == 2:
        since = datetime.combine(dates[0], time.min, tz)
        until = datetime.combine(dates[1] + timedelta(days=1), time.min, tz)
    try:
        events = audit_log.search(
            session,
            me,
            audit_log.AuditFilter(entity_type=entity, actor=actor, since=since, until=until),
            limit=int(limit),
        )
    except ServiceError as exc:
        show_error(exc)
        st.stop()
    st.caption(viewer.t("audit.count", n=len(events)))
    st.dataframe(
        [
            {
                viewer.t("audit.col.at"): fmt_date(e.at, viewer.locale, tz),
                viewer.t("audit.col.actor"): e.actor,
                viewer.t("audit.col.action"): e.action,
                viewer.t("audit.col.entity"): e.entity_type,
                viewer.t("audit.col.id"): e.entity_id or "",
                viewer.t("audit.col.before"): audit_log.json_text(e.before),
                viewer.t("audit.col.after"): audit_log.json_text(e.after),
            }
            for e in events
        ],
        hide_index=True,
    )
    csv_text = audit_log.to_csv(events)
    json_text = audit_log.to_json(events)
left, right = st.columns(2)
left.download_button(viewer.t("audit.csv"), csv_text, file_name="audit-log.csv", mime="text/csv")
right.download_button(
    viewer.t("audit.json"), json_text, file_name="audit-log.json", mime="application/json"
)
