"""Participants: score the session's interactions blind, one interaction at a time."""

from __future__ import annotations

import streamlit as st

from qa.models import User
from qa.services import calibration as cal_service
from qa.services.errors import ServiceError
from qa.services.rubrics import rubric_of
from qa.ui.i18n import register
from qa.ui.registry import REVIEWERS
from qa.ui.session import db_session, require
from qa.ui.trust_common import answer_input, md_escape, show_error
from rubrics import Answer

register(
    {
        "cals.title": {"en": "My calibration sessions", "ar": "جلسات المعايرة الخاصة بي"},
        "cals.none": {
            "en": "You have no open calibration session.",
            "ar": "ليست لديك جلسة معايرة مفتوحة.",
        },
        "cals.blind": {
            "en": "Score as you would in a real review. Nobody sees your answers, and you do not "
            "see theirs, until the QA lead closes the session.",
            "ar": "قيّم كما تفعل في مراجعة حقيقية. لا يرى أحد إجاباتك ولا ترى إجاباتهم حتى يغلق "
            "مشرف الجودة الجلسة.",
        },
        "cals.session": {"en": "Session", "ar": "الجلسة"},
        "cals.item": {"en": "Interaction", "ar": "التفاعل"},
        "cals.progress": {
            "en": "You have answered {done} of {total} interactions.",
            "ar": "أجبت عن {done} من {total} تفاعلات.",
        },
        "cals.done_mark": {"en": "answered", "ar": "تمت الإجابة"},
        "cals.transcript": {"en": "Transcript", "ar": "نص المحادثة"},
        "cals.comment": {"en": "Comment (optional)", "ar": "ملاحظة (اختيارية)"},
        "cals.save": {"en": "Save my answers", "ar": "حفظ إجاباتي"},
        "cals.saved": {
            "en": "Saved. Overall for this interaction: {score}",
            "ar": "تم الحفظ. النتيجة الإجمالية لهذا التفاعل: {score}",
        },
        "cals.invalid": {
            "en": "Some answers need attention:",
            "ar": "بعض الإجابات تحتاج إلى مراجعة:",
        },
        "cals.expert": {
            "en": "You are the expert: your answers are the benchmark.",
            "ar": "أنت الخبير: إجاباتك هي المرجع.",
        },
    }
)

viewer = require(REVIEWERS)
st.title(viewer.t("cals.title"), anchor=False)
st.caption(viewer.t("cals.blind"))

with db_session() as session:
    me = session.get_one(User, viewer.id)
    mine = [
        c
        for c in cal_service.sessions_for(session, me, status="open")
        if any(p.user_id == me.id for p in c.participants)
    ]
    if not mine:
        st.info(viewer.t("cals.none"))
        st.stop()
    by_id = {c.id: c for c in mine}
    cal = by_id[
        st.selectbox(
            viewer.t("cals.session"),
            list(by_id),
            format_func=lambda cid: f"#{cid} {by_id[cid].name}",
        )
    ]
    if any(p.user_id == me.id and p.is_expert for p in cal.participants):
        st.info(viewer.t("cals.expert"))
    rubric = rubric_of(cal.rubric_version)
    labels = cal_service.item_labels(cal)
    answered = {item.id for item in cal.items if cal_service.my_answers(session, cal, item, me)}
    st.progress(
        len(answered) / len(cal.items),
        text=viewer.t("cals.progress", done=len(answered), total=len(cal.items)),
    )
    items = {i.id: i for i in cal.items}
    item = items[
        st.selectbox(
            viewer.t("cals.item"),
            list(items),
            format_func=lambda iid: (
                f"{labels[iid]}" + (f" ✓ {viewer.t('cals.done_mark')}" if iid in answered else "")
            ),
        )
    ]
    with st.expander(viewer.t("cals.transcript"), expanded=True):
        for turn in item.interaction.turns:
            st.text(f"[{turn.speaker}] {turn.text}")

    current = cal_service.my_answers(session, cal, item, me)
    with st.form(f"cals_{cal.id}_{item.id}"):
        entered: dict[str, Answer] = {}
        for section in rubric.sections:
            st.markdown(f"**{md_escape(section.name.get(viewer.locale))}**")
            for criterion in section.criteria:
                key = f"cals_{cal.id}_{item.id}_{criterion.id}"
                answer = answer_input(
                    criterion, key, viewer.locale, viewer.t, current.get(criterion.id)
                )
                previous = current.get(criterion.id)
                comment = st.text_input(
                    viewer.t("cals.comment"),
                    value=(previous.comment or "") if previous else "",
                    key=f"{key}_comment",
                    max_chars=cal_service.COMMENT_MAX,
                )
                entered[criterion.id] = Answer(
                    value=answer.value, na=answer.na, comment=comment.strip() or None
                )
        submitted = st.form_submit_button(viewer.t("cals.save"))
    if submitted:
        # Unanswered criteria are left out so the service reports them as missing (ANS004).
        given = {cid: a for cid, a in entered.items() if a.na or a.value is not None}
        try:
            with session.begin_nested():
                result = cal_service.submit_answers(session, cal, item.id, me, given)
            st.success(viewer.t("cals.saved", score=f"{result.overall:.1f}%"))
        except cal_service.CalibrationAnswersInvalid as exc:
            st.error(viewer.t("cals.invalid"))
            for problem in exc.problems:
                try:
                    name = rubric.criterion(problem.criterion_id).label.get(viewer.locale)
                except KeyError:
                    name = problem.criterion_id
                st.text(f"• {name}: {problem.code} {problem.message}")
        except ServiceError as exc:
            show_error(exc)
