"""Team dashboard: how the teams, agents and criteria score, for QA leads, trainers and admins.

Figures come from ``qa.services.dashboard`` (SQL aggregates) through the
cache in ``qa.ui.cache``; this page only arranges them. The period defaults to
the last complete month in the organisation's time zone, with a 12-month trend
ending at the period's last month.
"""

from __future__ import annotations

import io

import pandas as pd
import streamlit as st
from sqlalchemy import select

from qa.models import Team, utcnow
from qa.services import rubrics as rubric_service
from qa.services.errors import ServiceError
from qa.services.periods import last_months, month_label, parse_month, previous_month
from qa.ui.cache import dashboard_data
from qa.ui.i18n import fmt_month, fmt_number, fmt_percent, register
from qa.ui.registry import DASHBOARD_READERS
from qa.ui.safe import md
from qa.ui.session import db_session, require, settings

register(
    {
        "dash.title": {"en": "Team dashboard", "ar": "لوحة أداء الفريق"},
        "dash.first": {"en": "From month", "ar": "من شهر"},
        "dash.last": {"en": "To month", "ar": "إلى شهر"},
        "dash.channels": {"en": "Channels", "ar": "القنوات"},
        "dash.languages": {"en": "Languages", "ar": "اللغات"},
        "dash.teams": {"en": "Teams", "ar": "الفرق"},
        "dash.all": {"en": "Empty means all.", "ar": "اتركه فارغاً لاختيار الكل."},
        "dash.reviews": {"en": "Reviews", "ar": "المراجعات"},
        "dash.agents": {"en": "Agents reviewed", "ar": "الموظفون الذين رُوجعوا"},
        "dash.avg": {"en": "Average score", "ar": "متوسط الدرجة"},
        "dash.fail": {"en": "Auto-fail rate", "ar": "نسبة الرسوب التلقائي"},
        "dash.none": {
            "en": "No submitted reviews match these filters.",
            "ar": "لا توجد مراجعات مُرسلة تطابق هذه المرشحات.",
        },
        "dash.trend": {"en": "Monthly trend (12 months)", "ar": "الاتجاه الشهري (١٢ شهراً)"},
        "dash.distribution": {"en": "Score distribution", "ar": "توزيع الدرجات"},
        "dash.by_team": {"en": "By team", "ar": "حسب الفريق"},
        "dash.by_agent": {"en": "By agent (lowest first)", "ar": "حسب الموظف (الأدنى أولاً)"},
        "dash.by_criterion": {"en": "By criterion", "ar": "حسب المعيار"},
        "dash.col.month": {"en": "Month", "ar": "الشهر"},
        "dash.col.team": {"en": "Team", "ar": "الفريق"},
        "dash.col.agent": {"en": "Agent", "ar": "الموظف"},
        "dash.col.agent_id": {"en": "Agent id", "ar": "رقم الموظف"},
        "dash.col.reviews": {"en": "Reviews", "ar": "المراجعات"},
        "dash.col.agents": {"en": "Agents", "ar": "الموظفون"},
        "dash.col.avg": {"en": "Average", "ar": "المتوسط"},
        "dash.col.min": {"en": "Lowest", "ar": "الأدنى"},
        "dash.col.max": {"en": "Highest", "ar": "الأعلى"},
        "dash.col.fail": {"en": "Auto-fail", "ar": "رسوب تلقائي"},
        "dash.col.criterion": {"en": "Criterion", "ar": "المعيار"},
        "dash.col.section": {"en": "Section", "ar": "القسم"},
        "dash.col.answers": {"en": "Answered", "ar": "الإجابات"},
        "dash.col.na": {"en": "N/A", "ar": "لا ينطبق"},
        "dash.col.bucket": {"en": "Score", "ar": "الدرجة"},
        "dash.no_team": {"en": "(no team)", "ar": "(بلا فريق)"},
        "dash.csv_agents": {"en": "Download agents (CSV)", "ar": "تنزيل الموظفين (CSV)"},
        "dash.csv_criteria": {"en": "Download criteria (CSV)", "ar": "تنزيل المعايير (CSV)"},
        "dash.csv_teams": {"en": "Download teams (CSV)", "ar": "تنزيل الفرق (CSV)"},
        "channel.call": {"en": "Call", "ar": "مكالمة"},
        "channel.chat": {"en": "Chat", "ar": "محادثة"},
        "channel.email": {"en": "Email", "ar": "بريد إلكتروني"},
        "language.en": {"en": "English", "ar": "الإنجليزية"},
        "language.ar": {"en": "Arabic", "ar": "العربية"},
    }
)

viewer = require(DASHBOARD_READERS)
loc = viewer.locale
cfg = settings()
tz = cfg.tz
st.title(viewer.t("dash.title"), anchor=False)

# ---------------------------------------------------------------------------- filters
now_local = utcnow().astimezone(tz)
months = [month_label(y, m) for y, m in last_months(now_local.year, now_local.month, 36)]
months.reverse()  # newest first
default = month_label(*previous_month(utcnow(), tz))
for key in ("dash.first", "dash.last"):
    if st.session_state.get(key) not in months:
        st.session_state[key] = default

with db_session() as session:
    teams = {t.id: t.name for t in session.scalars(select(Team).order_by(Team.name))}
    labels: dict[str, tuple[str, str]] = {}
    for version in rubric_service.list_versions(session):  # oldest first: newest label wins
        rubric = rubric_service.rubric_of(version)
        for section, criterion in rubric.all_criteria():
            labels[criterion.id] = (criterion.label.get(loc), section.name.get(loc))


def month_text(value: str) -> str:
    return fmt_month(*parse_month(value), loc)


cols = st.columns(5)
first = cols[0].selectbox(viewer.t("dash.first"), months, key="dash.first", format_func=month_text)
last = cols[1].selectbox(viewer.t("dash.last"), months, key="dash.last", format_func=month_text)
channels = cols[2].multiselect(
    viewer.t("dash.channels"),
    ["call", "chat", "email"],
    key="dash.channels",
    format_func=lambda c: viewer.t(f"channel.{c}"),
    help=viewer.t("dash.all"),
)
languages = cols[3].multiselect(
    viewer.t("dash.languages"),
    ["en", "ar"],
    key="dash.languages",
    format_func=lambda c: viewer.t(f"language.{c}"),
    help=viewer.t("dash.all"),
)
team_ids = cols[4].multiselect(
    viewer.t("dash.teams"),
    list(teams),
    key="dash.teams",
    format_func=lambda i: teams.get(i, str(i)),
    help=viewer.t("dash.all"),
)
first_ym, last_ym = parse_month(first), parse_month(last)
if first_ym > last_ym:
    first_ym, last_ym = last_ym, first_ym

try:
    board, trend = dashboard_data(
        cfg.effective_database_url,
        cfg.timezone,
        viewer.role,
        first_ym,
        last_ym,
        tuple(sorted(channels)),
        tuple(sorted(languages)),
        tuple(sorted(team_ids)),
    )
except ServiceError as exc:
    st.error(md(exc))
    st.stop()

# ---------------------------------------------------------------------------- figures
s = board.summary
k1, k2, k3, k4 = st.columns(4)
k1.metric(viewer.t("dash.reviews"), fmt_number(s.reviews, loc, 0))
k2.metric(viewer.t("dash.agents"), fmt_number(s.agents, loc, 0))
k3.metric(viewer.t("dash.avg"), fmt_number(s.avg_score, loc))
k4.metric(viewer.t("dash.fail"), fmt_percent(s.auto_fail_rate, loc))

if s.reviews == 0:
    st.info(viewer.t("dash.none"))


def team_name(name: str | None) -> str:
    return name if name is not None else viewer.t("dash.no_team")


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 with a BOM so spreadsheet programs open Arabic names correctly."""
    out = io.StringIO()
    frame.to_csv(out, index=False)
    return out.getvalue().encode("utf-8-sig")


def chart(frame: pd.DataFrame, mark: str, x: str, y: str) -> None:
    """A Vega-Lite chart from a plain spec: Altair's schema validation cost ~0.2 s per chart."""
    st.vega_lite_chart(
        frame,
        {
            "mark": {"type": mark, "tooltip": True, **({"point": True} if mark == "line" else {})},
            "encoding": {
                "x": {"field": x, "type": "ordinal", "sort": None},
                "y": {"field": y, "type": "quantitative"},
            },
        },
        width="stretch",
    )


left, right = st.columns(2)
with left:
    st.subheader(viewer.t("dash.trend"), anchor=False)
    trend_frame = pd.DataFrame(
        {
            viewer.t("dash.col.month"): [
                month_text(month_label(m.year, m.month_no)) for m in trend
            ],
            viewer.t("dash.avg"): [m.avg_score for m in trend],
            viewer.t("dash.reviews"): [m.reviews for m in trend],
        }
    )
    chart(trend_frame, "line", viewer.t("dash.col.month"), viewer.t("dash.avg"))
with right:
    st.subheader(viewer.t("dash.distribution"), anchor=False)
    dist_frame = pd.DataFrame(
        {
            viewer.t("dash.col.bucket"): [f"{b.low}–{b.high}" for b in board.distribution],
            viewer.t("dash.reviews"): [b.reviews for b in board.distribution],
        }
    )
    chart(dist_frame, "bar", viewer.t("dash.col.bucket"), viewer.t("dash.reviews"))

st.subheader(viewer.t("dash.by_team"), anchor=False)
teams_csv = pd.DataFrame(
    [
        {
            "team": team_name(r.team),
            "reviews": r.reviews,
            "agents": r.agents,
            "avg_score": r.avg_score,
            "auto_fail_pct": r.auto_fail_rate,
        }
        for r in board.teams
    ],
    columns=["team", "reviews", "agents", "avg_score", "auto_fail_pct"],
)
st.dataframe(
    pd.DataFrame(
        {
            viewer.t("dash.col.team"): teams_csv["team"],
            viewer.t("dash.col.reviews"): [fmt_number(v, loc, 0) for v in teams_csv["reviews"]],
            viewer.t("dash.col.agents"): [fmt_number(v, loc, 0) for v in teams_csv["agents"]],
            viewer.t("dash.col.avg"): [fmt_number(r.avg_score, loc) for r in board.teams],
            viewer.t("dash.col.fail"): [fmt_percent(r.auto_fail_rate, loc) for r in board.teams],
        }
    ),
    hide_index=True,
)

st.subheader(viewer.t("dash.by_criterion"), anchor=False)
criteria_csv = pd.DataFrame(
    [
        {
            "criterion_id": r.criterion_id,
            "criterion": labels.get(r.criterion_id, (r.criterion_id, ""))[0],
            "section": labels.get(r.criterion_id, ("", ""))[1],
            "answered": r.answers,
            "na": r.na,
            "avg_pct": r.avg_pct,
        }
        for r in board.criteria
    ],
    columns=["criterion_id", "criterion", "section", "answered", "na", "avg_pct"],
)
st.dataframe(
    pd.DataFrame(
        {
            viewer.t("dash.col.section"): criteria_csv["section"],
            viewer.t("dash.col.criterion"): criteria_csv["criterion"],
            viewer.t("dash.col.answers"): [fmt_number(r.answers, loc, 0) for r in board.criteria],
            viewer.t("dash.col.na"): [fmt_number(r.na, loc, 0) for r in board.criteria],
            viewer.t("dash.col.avg"): [fmt_percent(r.avg_pct, loc) for r in board.criteria],
        }
    ),
    hide_index=True,
)

st.subheader(viewer.t("dash.by_agent"), anchor=False)
agents_csv = pd.DataFrame(
    [
        {
            "agent_id": r.external_id,
            "agent": r.agent,
            "team": r.team or "",
            "reviews": r.reviews,
            "avg_score": r.avg_score,
            "min_score": r.min_score,
            "max_score": r.max_score,
            "auto_fail_pct": r.auto_fail_rate,
        }
        for r in board.agents
    ],
    columns=[
        "agent_id",
        "agent",
        "team",
        "reviews",
        "avg_score",
        "min_score",
        "max_score",
        "auto_fail_pct",
    ],
)
st.dataframe(
    pd.DataFrame(
        {
            viewer.t("dash.col.agent_id"): agents_csv["agent_id"],
            viewer.t("dash.col.agent"): agents_csv["agent"],
            viewer.t("dash.col.team"): agents_csv["team"],
            viewer.t("dash.col.reviews"): [fmt_number(r.reviews, loc, 0) for r in board.agents],
            viewer.t("dash.col.avg"): [fmt_number(r.avg_score, loc) for r in board.agents],
            viewer.t("dash.col.min"): [fmt_number(r.min_score, loc) for r in board.agents],
            viewer.t("dash.col.max"): [fmt_number(r.max_score, loc) for r in board.agents],
            viewer.t("dash.col.fail"): [fmt_percent(r.auto_fail_rate, loc) for r in board.agents],
        }
    ),
    hide_index=True,
)

period = f"{month_label(*first_ym)}_{month_label(*last_ym)}"
d1, d2, d3 = st.columns(3)
d1.download_button(
    viewer.t("dash.csv_agents"), csv_bytes(agents_csv), f"agents_{period}.csv", "text/csv"
)
d2.download_button(
    viewer.t("dash.csv_criteria"), csv_bytes(criteria_csv), f"criteria_{period}.csv", "text/csv"
)
d3.download_button(
    viewer.t("dash.csv_teams"), csv_bytes(teams_csv), f"teams_{period}.csv", "text/csv"
)
