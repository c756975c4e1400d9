"""A closed calibration session's report: deviations, tolerance band, alpha per criterion."""

from __future__ import annotations

import json

import altair as alt
import streamlit as st

from qa.models import User
from qa.services import calibration as cal_service
from qa.services.errors import ServiceError
from qa.ui.i18n import fmt_date, fmt_number, fmt_percent, register
from qa.ui.registry import CALIBRATION_READERS
from qa.ui.session import db_session, require, settings
from qa.ui.trust_common import md_escape, show_error

register(
    {
        "calr.title": {"en": "Calibration reports", "ar": "تقارير المعايرة"},
        "calr.none": {
            "en": "No closed calibration session you can see yet.",
            "ar": "لا توجد بعد جلسة معايرة مغلقة متاحة لك.",
        },
        "calr.session": {"en": "Session", "ar": "الجلسة"},
        "calr.meta": {
            "en": "Rubric {rubric} v{version} · closed {closed} · tolerance ±{tol} points · "
            "reference: {ref}",
            "ar": "نموذج {rubric} الإصدار {version} · أُغلقت {closed} · هامش التفاوت ±{tol} نقطة · "
            "المرجع: {ref}",
        },
        "calr.ref.expert": {"en": "the expert ({name})", "ar": "الخبير ({name})"},
        "calr.ref.median": {"en": "the reviewers' median", "ar": "وسيط المراجعين"},
        "calr.overall_alpha": {"en": "Overall agreement (alpha)", "ar": "الاتفاق الإجمالي (ألفا)"},
        "calr.alpha.reliable": {"en": "reliable", "ar": "موثوق"},
        "calr.alpha.tentative": {"en": "tentative", "ar": "مبدئي"},
        "calr.alpha.unreliable": {"en": "unreliable", "ar": "غير موثوق"},
        "calr.alpha.none": {"en": "not computable", "ar": "غير قابل للحساب"},
        "calr.alpha_help": {
            "en": "Krippendorff's alpha: 0.8 or more reliable, 0.667 to 0.8 tentative, lower "
            "unreliable. With few interactions it moves a lot; read it with the deviations.",
            "ar": "ألفا كريبندورف: ٠٫٨ فأكثر موثوق، ومن ٠٫٦٦٧ إلى ٠٫٨ مبدئي، وأقل من ذلك غير "
            "موثوق. مع قلة التفاعلات يتغير كثيرًا؛ فاقرأه مع الانحرافات.",
        },
        "calr.reviewers": {"en": "Reviewers", "ar": "المراجعون"},
        "calr.col.reviewer": {"en": "Reviewer", "ar": "المراجع"},
        "calr.col.alignment": {"en": "Weighted alignment", "ar": "التوافق الموزون"},
        "calr.col.mean_dev": {"en": "Mean deviation (overall)", "ar": "متوسط الانحراف (إجمالي)"},
        "calr.col.outside": {"en": "Outside tolerance", "ar": "خارج هامش التفاوت"},
        "calr.chart": {
            "en": "Deviation of each reviewer's overall score from the reference",
            "ar": "انحراف النتيجة الإجمالية لكل مراجع عن المرجع",
        },
        "calr.chart.deviation": {"en": "Deviation (points)", "ar": "الانحراف (نقاط)"},
        "calr.chart.interaction": {"en": "Interaction", "ar": "التفاعل"},
        "calr.outside": {
            "en": "Who is outside the tolerance band",
            "ar": "من هم خارج هامش التفاوت",
        },
        "calr.outside_none": {
            "en": "Everyone is within the tolerance band.",
            "ar": "الجميع ضمن هامش التفاوت.",
        },
        "calr.col.criterion": {"en": "Criterion", "ar": "المعيار"},
        "calr.col.interactions": {"en": "Interactions", "ar": "التفاعلات"},
        "calr.col.deviations": {"en": "Deviations (points)", "ar": "الانحرافات (نقاط)"},
        "calr.overall": {"en": "Overall score", "ar": "النتيجة الإجمالية"},
        "calr.criteria": {"en": "Per criterion", "ar": "لكل معيار"},
        "calr.col.type": {"en": "Type", "ar": "النوع"},
        "calr.col.alpha": {"en": "Alpha", "ar": "ألفا"},
        "calr.col.reading": {"en": "Reading", "ar": "التفسير"},
        "calr.col.spread": {"en": "Mean spread (points)", "ar": "متوسط المدى (نقاط)"},
        "calr.col.mean_alignment": {"en": "Mean alignment", "ar": "متوسط التوافق"},
        "calr.lowest": {
            "en": "Lowest agreement: {names}",
            "ar": "أدنى اتفاق: {names}",
        },
        "calr.download_csv": {"en": "Download CSV", "ar": "تنزيل CSV"},
        "calr.download_json": {"en": "Download JSON", "ar": "تنزيل JSON"},
    }
)

viewer = require(CALIBRATION_READERS)
tz = settings().tz
st.title(viewer.t("calr.title"), anchor=False)


def reading(alpha: float | None) -> str:
    key = cal_service.interpret_alpha(alpha) or "none"
    return viewer.t(f"calr.alpha.{key}")


with db_session() as session:
    me = session.get_one(User, viewer.id)
    closed = cal_service.sessions_for(session, me, status="closed")
    if not closed:
        st.info(viewer.t("calr.none"))
        st.stop()
    by_id = {c.id: c for c in closed}
    cal = by_id[
        st.selectbox(
            viewer.t("calr.session"),
            list(by_id),
            format_func=lambda cid: f"#{cid} {by_id[cid].name}",
        )
    ]
    try:
        report = cal_service.build_report(session, cal, me)
    except ServiceError as exc:
        show_error(exc)
        st.stop()

stats = report.stats
names = report.reviewers
ref = (
    viewer.t("calr.ref.expert", name=md_escape(report.expert))
    if report.expert
    else viewer.t("calr.ref.median")
)
st.text(report.name)
st.caption(
    viewer.t(
        "calr.meta",
        rubric=report.rubric_key,
        version=report.rubric_version,
        closed=fmt_date(report.closed_at, viewer.locale, tz),
        tol=fmt_number(report.tolerance, viewer.locale, 1),
        ref=ref,
    )
)
st.metric(
    viewer.t("calr.overall_alpha"),
    fmt_number(stats.overall_alpha, viewer.locale, 2),
    reading(stats.overall_alpha),
    delta_color="off",
    help=viewer.t("calr.alpha_help"),
)

st.subheader(viewer.t("calr.reviewers"), anchor=False)
overall_by_reviewer = {s.reviewer: s for s in stats.overall_reviewer_stats}
st.dataframe(
    [
        {
            viewer.t("calr.col.reviewer"): f"{names.get(r, r)} ({r})",
            viewer.t("calr.col.alignment"): fmt_percent(
                stats.weighted_alignment.get(r), viewer.locale
            ),
            viewer.t("calr.col.mean_dev"): fmt_number(
                overall_by_reviewer[r].mean_deviation if r in overall_by_reviewer else None,
                viewer.locale,
            ),
            viewer.t("calr.col.outside"): len(overall_by_reviewer[r].outside_tolerance)
            if r in overall_by_reviewer
            else 0,
        }
        for r in stats.reviewers
    ],
    hide_index=True,
)

st.subheader(viewer.t("calr.chart"), anchor=False)
points = [
    {
        "reviewer": names.get(s.reviewer, s.reviewer),
        "interaction": interaction,
        "deviation": deviation,
        "outside": interaction in s.outside_tolerance,
    }
    for s in stats.overall_reviewer_stats
    for interaction, deviation in s.deviations.items()
]
if points:
    tol = report.tolerance
    band = (
        alt.Chart(alt.Data(values=[{"low": -tol, "high": tol}]))
        .mark_rect(opacity=0.15, color="#2e7d32")
        .encode(y="low:Q", y2="high:Q")
    )
    bars = (
        alt.Chart(alt.Data(values=points))
        .mark_bar()
        .encode(
            x=alt.X("reviewer:N", title=viewer.t("calr.col.reviewer")),
            xOffset="interaction:N",
            y=alt.Y("deviation:Q", title=viewer.t("calr.chart.deviation")),
            color=alt.Color("interaction:N", title=viewer.t("calr.chart.interaction")),
            opacity=alt.condition("datum.outside", alt.value(1.0), alt.value(0.45)),
            tooltip=["reviewer:N", "interaction:N", alt.Tooltip("deviation:Q", format=".1f")],
        )
    )
    st.altair_chart(band + bars)

st.subheader(viewer.t("calr.outside"), anchor=False)
breaches = stats.outside_tolerance
if breaches:
    st.dataframe(
        [
            {
                viewer.t(
                    "calr.col.reviewer"
                ): f"{names.get(b.reviewer, b.reviewer)} ({b.reviewer})",
                viewer.t("calr.col.criterion"): (
                    report.criterion_labels[b.criterion_id][viewer.locale]
                    if b.criterion_id
                    else viewer.t("calr.overall")
                ),
                viewer.t("calr.col.interactions"): ", ".join(b.interactions),
                viewer.t("calr.col.deviations"): ", ".join(
                    fmt_number(d, viewer.locale) for d in b.deviations
                ),
            }
            for b in breaches
        ],
        hide_index=True,
    )
else:
    st.success(viewer.t("calr.outside_none"))

st.subheader(viewer.t("calr.criteria"), anchor=False)
st.dataframe(
    [
        {
            viewer.t("calr.col.criterion"): report.criterion_labels[c.criterion_id][viewer.locale],
            viewer.t("calr.col.type"): f"{c.criterion_type} ({c.level})",
            viewer.t("calr.col.alpha"): fmt_number(c.alpha, viewer.locale, 2),
            viewer.t("calr.col.reading"): reading(c.alpha),
            viewer.t("calr.col.spread"): fmt_number(c.mean_spread, viewer.locale),
            viewer.t("calr.col.mean_alignment"): fmt_percent(c.mean_alignment, viewer.locale),
        }
        for c in stats.criteria
    ],
    hide_index=True,
)
if stats.lowest_agreement:
    st.caption(
        viewer.t(
            "calr.lowest",
            names=", ".join(
                md_escape(report.criterion_labels[a.criterion_id][viewer.locale])
                for a in stats.lowest_agreement
            ),
        )
    )
left, right = st.columns(2)
left.download_button(
    viewer.t("calr.download_csv"),
    report.to_csv(),
    file_name=f"calibration-{report.session_id}.csv",
    mime="text/csv",
)
right.download_button(
    viewer.t("calr.download_json"),
    json.dumps(report.to_dict(), ensure_ascii=False, indent=2),
    file_name=f"calibration-{report.session_id}.json",
    mime="application/json",
)
