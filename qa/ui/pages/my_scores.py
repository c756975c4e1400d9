"""My scores (agents): monthly trend in the organisation's time zone with the team average beside.

Only the signed-in agent's own figures and their team's average are shown;
the services key everything on the user row's ``agent_id``, never on a page
parameter.
"""

from __future__ import annotations

import altair as alt
import streamlit as st

from qa.models import User, utcnow
from qa.services.agent_view import criterion_scores, monthly_scores
from qa.services.errors import PermissionDenied
from qa.services.rubrics import latest_version, rubric_of
from qa.ui.i18n import fmt_month, fmt_number, fmt_percent, register
from qa.ui.registry import AGENTS
from qa.ui.render import neutralise_bidi
from qa.ui.session import db_session, require, settings

register(
    {
        "scores.title": {"en": "My scores", "ar": "درجاتي"},
        "scores.this_month": {"en": "This month ({month})", "ar": "هذا الشهر ({month})"},
        "scores.team": {"en": "Team average", "ar": "متوسط الفريق"},
        "scores.mine": {"en": "My average", "ar": "متوسطي"},
        "scores.reviews": {"en": "Reviews", "ar": "المراجعات"},
        "scores.month": {"en": "Month", "ar": "الشهر"},
        "scores.trend": {"en": "Monthly trend", "ar": "الاتجاه الشهري"},
        "scores.by_criterion": {
            "en": "By criterion (last {n} months)",
            "ar": "حسب البند (آخر {n} أشهر)",
        },
        "scores.criterion": {"en": "Criterion", "ar": "البند"},
        "scores.answers": {"en": "Answers", "ar": "الإجابات"},
        "scores.none": {
            "en": "No submitted reviews of your interactions in the last {n} months yet.",
            "ar": "لا توجد مراجعات مُرسلة لتفاعلاتك في آخر {n} أشهر بعد.",
        },
        "scores.not_agent": {
            "en": "This account is not linked to an agent, so it has no scores of its own.",
            "ar": "هذا الحساب غير مرتبط بموظف، لذلك لا توجد له درجات خاصة.",
        },
        "scores.tz": {"en": "Months in {tz} time.", "ar": "الأشهر بتوقيت {tz}."},
    }
)

MONTHS = 6

viewer = require(AGENTS)
loc = viewer.locale
tz = settings().tz
st.title(viewer.t("scores.title"), anchor=False)
now = utcnow().astimezone(tz)
try:
    with db_session() as session:
        me = session.get(User, viewer.id)
        assert me is not None
        months = monthly_scores(session, me, tz=tz, year=now.year, month=now.month, months=MONTHS)
        criteria = criterion_scores(
            session, me, tz=tz, year=now.year, month=now.month, months=MONTHS
        )
        rubric = rubric_of(latest_version(session))
except PermissionDenied:
    st.info(viewer.t("scores.not_agent"))
    st.stop()

current = months[-1]
a, b, c = st.columns(3)
a.metric(
    viewer.t("scores.this_month", month=fmt_month(current.year, current.month, loc)),
    fmt_percent(current.mine, loc),
    delta=(
        fmt_number(current.mine - current.team, loc, 1)
        if current.mine is not None and current.team is not None
        else None
    ),
    delta_description=viewer.t("scores.team"),
)
b.metric(viewer.t("scores.team"), fmt_percent(current.team, loc))
c.metric(viewer.t("scores.reviews"), fmt_number(current.reviews, loc, 0))
st.caption(viewer.t("scores.tz", tz=tz.key))

if not any(m.reviews for m in months):
    st.info(viewer.t("scores.none", n=fmt_number(MONTHS, loc, 0)))
    st.stop()

st.subheader(viewer.t("scores.trend"), anchor=False)
labels = [fmt_month(m.year, m.month, loc) for m in months]
mine_label, team_label = viewer.t("scores.mine"), viewer.t("scores.team")
points = [
    {"month": label, "series": series, "score": value}
    for label, m in zip(labels, months, strict=True)
    for series, value in ((mine_label, m.mine), (team_label, m.team))
    if value is not None
]
chart = (
    alt.Chart(alt.Data(values=points))
    .mark_line(point=True)
    .encode(
        x=alt.X("month:N", sort=labels, title=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("score:Q", scale=alt.Scale(domain=[0, 100]), title=None),
        color=alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom")),
        tooltip=["month:N", "series:N", alt.Tooltip("score:Q", format=".1f")],
    )
)
st.altair_chart(chart, width="stretch")
st.dataframe(
    [
        {
            viewer.t("scores.month"): label,
            mine_label: fmt_percent(m.mine, loc),
            viewer.t("scores.reviews"): fmt_number(m.reviews, loc, 0),
            team_label: fmt_percent(m.team, loc),
        }
        for label, m in zip(labels, months, strict=True)
    ],
    hide_index=True,
    width="stretch",
)

st.subheader(viewer.t("scores.by_criterion", n=fmt_number(MONTHS, loc, 0)), anchor=False)
order = {c.id: i for i, (_, c) in enumerate(rubric.all_criteria())}


def _label(criterion_id: str) -> str:
    try:
        return rubric.criterion(criterion_id).label.get(loc)
    except KeyError:  # a criterion of an older rubric version
        return criterion_id.replace("_", " ")


st.dataframe(
    [
        {
            viewer.t("scores.criterion"): neutralise_bidi(_label(row.criterion_id)),
            mine_label: fmt_percent(row.mine, loc),
            team_label: fmt_percent(row.team, loc),
            viewer.t("scores.answers"): fmt_number(row.answers, loc, 0),
        }
        for row in sorted(criteria, key=lambda r: order.get(r.criterion_id, len(order)))
    ],
    hide_index=True,
    width="stretch",
)
