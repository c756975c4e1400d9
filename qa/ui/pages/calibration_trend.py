"""Reviewer alignment over closed calibration sessions, and where each disagrees most."""

from __future__ import annotations

import altair as alt
import streamlit as st

from qa.models import User
from qa.services import calibration as cal_service
from qa.services.errors import ServiceError
from qa.services.rubrics import rubric_of
from qa.ui.i18n import fmt_number, fmt_percent, register
from qa.ui.registry import CALIBRATION_READERS
from qa.ui.session import db_session, require, settings
from qa.ui.trust_common import show_error

register(
    {
        "calt.title": {"en": "Alignment over time", "ar": "التوافق عبر الزمن"},
        "calt.intro": {
            "en": "Weighted alignment with the reference in each closed session (100% = scored "
            "exactly like the benchmark).",
            "ar": "التوافق الموزون مع المرجع في كل جلسة مغلقة (١٠٠٪ = تقييم مطابق للمرجع تمامًا).",
        },
        "calt.none": {
            "en": "No closed calibration session yet.",
            "ar": "لا توجد جلسة معايرة مغلقة بعد.",
        },
        "calt.col.reviewer": {"en": "Reviewer", "ar": "المراجع"},
        "calt.col.date": {"en": "Session date", "ar": "تاريخ الجلسة"},
        "calt.col.alignment": {"en": "Alignment", "ar": "التوافق"},
        "calt.col.first": {"en": "First", "ar": "الأول"},
        "calt.col.latest": {"en": "Latest", "ar": "الأحدث"},
        "calt.col.change": {"en": "Change (points)", "ar": "التغير (نقاط)"},
        "calt.col.weakest": {
            "en": "Criteria with most disagreement",
            "ar": "المعايير الأكثر اختلافًا",
        },
    }
)

viewer = require(CALIBRATION_READERS)
st.title(viewer.t("calt.title"), anchor=False)
st.caption(viewer.t("calt.intro"))

with db_session() as session:
    me = session.get_one(User, viewer.id)
    try:
        trend = cal_service.alignment_over_time(session, me, tz=settings().tz)
    except ServiceError as exc:
        show_error(exc)
        st.stop()
    # Criterion labels from the sessions' rubrics, in the viewer's language.
    labels: dict[str, str] = {}
    for cal in cal_service.sessions_for(session, me, status="closed"):
        for _, criterion in rubric_of(cal.rubric_version).all_criteria():
            labels.setdefault(criterion.id, criterion.label.get(viewer.locale))

if not any(t.points for t in trend.reviewers):
    st.info(viewer.t("calt.none"))
    st.stop()

points = [
    {"reviewer": t.reviewer, "date": when.isoformat(), "alignment": value}
    for t in trend.reviewers
    for when, value in t.points
]
chart = (
    alt.Chart(alt.Data(values=points))
    .mark_line(point=True)
    .encode(
        x=alt.X("date:T", title=viewer.t("calt.col.date")),
        y=alt.Y("alignment:Q", title=viewer.t("calt.col.alignment"), scale=alt.Scale(zero=False)),
        color=alt.Color("reviewer:N", title=viewer.t("calt.col.reviewer")),
        tooltip=["reviewer:N", "date:T", alt.Tooltip("alignment:Q", format=".1f")],
    )
)
st.altair_chart(chart)
st.dataframe(
    [
        {
            viewer.t("calt.col.reviewer"): t.reviewer,
            viewer.t("calt.col.first"): fmt_percent(t.first, viewer.locale),
            viewer.t("calt.col.latest"): fmt_percent(t.latest, viewer.locale),
            viewer.t("calt.col.change"): fmt_number(t.change, viewer.locale),
            viewer.t("calt.col.weakest"): ", ".join(
                f"{labels.get(c.criterion_id, c.criterion_id)} "
                f"({fmt_percent(c.mean_alignment, viewer.locale)})"
                for c in t.weakest_criteria
            ),
        }
        for t in trend.reviewers
        if t.points
    ],
    hide_index=True,
)
