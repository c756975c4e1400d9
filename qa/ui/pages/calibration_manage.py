"""QA leads: open a calibration session, follow progress (counts only), close it."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import select

from qa.models import Interaction, User
from qa.services import calibration as cal_service
from qa.services.errors import ServiceError
from qa.services.rubrics import list_versions
from qa.ui.i18n import fmt_date, register
from qa.ui.registry import LEADS
from qa.ui.session import db_session, require, settings
from qa.ui.trust_common import show_error, status_label

register(
    {
        "calm.title": {"en": "Calibration sessions", "ar": "جلسات المعايرة"},
        "calm.new": {"en": "New session", "ar": "جلسة جديدة"},
        "calm.name": {"en": "Name", "ar": "الاسم"},
        "calm.rubric": {"en": "Rubric version", "ar": "نسخة نموذج التقييم"},
        "calm.tolerance": {
            "en": "Tolerance (percentage points)",
            "ar": "هامش التفاوت (نقاط مئوية)",
        },
        "calm.interactions": {
            "en": "Interactions (3-10 recommended)",
            "ar": "التفاعلات (يُنصح بـ ٣ إلى ١٠)",
        },
        "calm.reviewers": {"en": "Reviewers (blind)", "ar": "المراجعون (دون اطلاع متبادل)"},
        "calm.expert": {"en": "Expert benchmark (optional)", "ar": "مرجع الخبير (اختياري)"},
        "calm.no_expert": {
            "en": "No expert: compare with the median",
            "ar": "بدون خبير: المقارنة بالوسيط",
        },
        "calm.create": {"en": "Open session", "ar": "فتح الجلسة"},
        "calm.created": {"en": "Session {id} opened.", "ar": "فُتحت الجلسة {id}."},
        "calm.list": {"en": "Sessions", "ar": "الجلسات"},
        "calm.col.id": {"en": "Id", "ar": "الرقم"},
        "calm.col.name": {"en": "Name", "ar": "الاسم"},
        "calm.col.status": {"en": "Status", "ar": "الحالة"},
        "calm.col.created": {"en": "Opened", "ar": "تاريخ الفتح"},
        "calm.col.closed": {"en": "Closed", "ar": "تاريخ الإغلاق"},
        "calm.col.items": {"en": "Interactions", "ar": "التفاعلات"},
        "calm.col.progress": {
            "en": "Answered (per participant)",
            "ar": "ما تمت الإجابة عنه (لكل مشارك)",
        },
        "calm.blind_note": {
            "en": "Answers stay hidden from everyone, you included, until the session is closed.",
            "ar": "تبقى الإجابات مخفية عن الجميع، وأنت منهم، حتى إغلاق الجلسة.",
        },
        "calm.close_pick": {"en": "Session to close", "ar": "الجلسة المراد إغلاقها"},
        "calm.close_confirm": {
            "en": "I understand answers can no longer change after closing",
            "ar": "أدرك أن الإجابات لا يمكن تغييرها بعد الإغلاق",
        },
        "calm.close": {"en": "Close session", "ar": "إغلاق الجلسة"},
        "calm.closed": {
            "en": "Session {id} closed; its report is on the Calibration reports page.",
            "ar": "أُغلقت الجلسة {id}؛ تقريرها في صفحة تقارير المعايرة.",
        },
    }
)

viewer = require(LEADS)
tz = settings().tz
st.title(viewer.t("calm.title"), anchor=False)
st.caption(viewer.t("calm.blind_note"))

with db_session() as session:
    actor = session.get_one(User, viewer.id)
    versions = list_versions(session)
    recent = list(
        session.scalars(select(Interaction).order_by(Interaction.started_at.desc()).limit(300))
    )
    candidates = cal_service.candidate_participants(session)

    with st.expander(viewer.t("calm.new"), expanded=False), st.form("calm_new"):
        name = st.text_input(viewer.t("calm.name"), max_chars=cal_service.NAME_MAX)
        version_id = st.selectbox(
            viewer.t("calm.rubric"),
            [v.id for v in reversed(versions)],
            format_func=lambda vid: next(
                f"{v.rubric.key} v{v.version}" for v in versions if v.id == vid
            ),
        )
        tolerance = st.number_input(
            viewer.t("calm.tolerance"), min_value=0.0, max_value=100.0, value=5.0, step=1.0
        )
        labels = {
            i.id: f"{i.external_id} · {i.channel} · {i.language} · {fmt_date(i.started_at, viewer.locale, tz)}"
            for i in recent
        }
        interaction_ids = st.multiselect(
            viewer.t("calm.interactions"), list(labels), format_func=labels.__getitem__
        )
        people = {u.id: f"{u.display_name} ({u.username}, {u.role})" for u in candidates}
        reviewer_ids = st.multiselect(
            viewer.t("calm.reviewers"), list(people), format_func=people.__getitem__
        )
        expert_id = st.selectbox(
            viewer.t("calm.expert"),
            [None, *people],
            format_func=lambda uid: viewer.t("calm.no_expert") if uid is None else people[uid],
        )
        if st.form_submit_button(viewer.t("calm.create")):
            version = next((v for v in versions if v.id == version_id), None)
            try:
                with session.begin_nested():
                    cal = cal_service.create_session(
                        session,
                        actor,
                        name=name,
                        interaction_ids=interaction_ids,
                        reviewer_ids=reviewer_ids,
                        expert_id=expert_id,
                        rubric_version=version,
                        tolerance=float(tolerance),
                    )
                st.success(viewer.t("calm.created", id=cal.id))
            except ServiceError as exc:
                show_error(exc)

    st.subheader(viewer.t("calm.list"), anchor=False)
    sessions = cal_service.sessions_for(session, actor)
    names = {u.id: u.username for u in candidates}
    rows = []
    for cal in sessions:
        counts = cal_service.progress(session, cal, actor)
        rows.append(
            {
                viewer.t("calm.col.id"): cal.id,
                viewer.t("calm.col.name"): cal.name,
                viewer.t("calm.col.status"): status_label(cal.status, viewer.t),
                viewer.t("calm.col.created"): fmt_date(cal.created_at, viewer.locale, tz),
                viewer.t("calm.col.closed"): fmt_date(cal.closed_at, viewer.locale, tz),
                viewer.t("calm.col.items"): len(cal.items),
                viewer.t("calm.col.progress"): ", ".join(
                    f"{names.get(uid, uid)}: {n}/{len(cal.items)}" for uid, n in counts.items()
                ),
            }
        )
    if rows:
        st.dataframe(rows, hide_index=True)
    else:
        st.info(viewer.t("trust.none"))

    open_sessions = [c for c in sessions if c.status == "open"]
    if open_sessions:
        with st.form("calm_close"):
            by_id = {c.id: c for c in open_sessions}
            chosen = st.selectbox(
                viewer.t("calm.close_pick"),
                list(by_id),
                format_func=lambda cid: f"#{cid} {by_id[cid].name}",
            )
            confirmed = st.checkbox(viewer.t("calm.close_confirm"))
            if st.form_submit_button(viewer.t("calm.close")) and confirmed:
                try:
                    with session.begin_nested():
                        cal_service.close_session(session, by_id[chosen], actor)
                    st.success(viewer.t("calm.closed", id=chosen))
                except ServiceError as exc:
                    show_error(exc)
