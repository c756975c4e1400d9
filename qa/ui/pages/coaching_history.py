"""An agent's coaching history (trainers, QA leads, admins): every recommendation with
its status and the sessions that covered it, and every session with notes and follow-up."""

from __future__ import annotations

import streamlit as st

from qa.models import User
from qa.ui.coaching_common import (
    criterion_labels,
    flag_title,
    flag_topic,
    fmt_day,
    fmt_period,
    topic_label,
    yes_no,
)
from qa.ui.i18n import fmt_date, register
from qa.ui.registry import COACHES
from qa.ui.render import escape_markdown, neutralise_bidi
from qa.ui.session import db_session, require, settings
from scorecards import coaching_sessions as service

register(
    {
        "chist.title": {"en": "Agent coaching history", "ar": "سجل تدريب الموظف"},
        "chist.agent": {"en": "Agent", "ar": "الموظف"},
        "chist.no_agents": {"en": "There are no agents yet.", "ar": "لا يوجد موظفون بعد."},
        "chist.heading": {"en": "{name} · team: {team}", "ar": "{name} · الفريق: {team}"},
        "chist.no_team": {"en": "none", "ar": "لا يوجد"},
        "chist.flags": {"en": "Recommendations", "ar": "التوصيات"},
        "chist.sessions": {"en": "Sessions", "ar": "الجلسات"},
        "chist.no_flags": {"en": "No recommendations yet.", "ar": "لا توجد توصيات بعد."},
        "chist.no_sessions": {"en": "No sessions yet.", "ar": "لا توجد جلسات بعد."},
        "chist.summary": {
            "en": "{open} open · {in_session} in a session · {resolved} resolved · "
            "{sessions} session(s), {done} done",
            "ar": "{open} مفتوحة · {in_session} ضمن جلسة · {resolved} تمت معالجتها · "
            "عدد الجلسات {sessions}، المنجز منها {done}",
        },
    }
)

viewer = require(COACHES)
loc = viewer.locale
t = viewer.t
tz = settings().tz
st.title(t("chist.title"), anchor=False)

with db_session() as session:
    me = session.get_one(User, viewer.id)
    labels = criterion_labels(session, loc)
    agents = {a.id: f"{a.name} ({a.external_id})" for a in service.coachable_agents(session, me)}
    if not agents:
        st.info(t("chist.no_agents"))
        st.stop()
    agent_id = st.selectbox(
        t("chist.agent"),
        list(agents),
        format_func=lambda i: neutralise_bidi(agents[i]),
        key="chist.agent",
    )
    history = service.agent_history(session, me, int(agent_id))
    agent = history.agent
    st.subheader(
        t(
            "chist.heading",
            name=escape_markdown(f"{agent.name} ({agent.external_id})"),
            team=escape_markdown(agent.team.name) if agent.team else t("chist.no_team"),
        ),
        anchor=False,
    )
    statuses = [f.status for f in history.flags]
    st.caption(
        t(
            "chist.summary",
            open=statuses.count("open"),
            in_session=statuses.count("in_session"),
            resolved=statuses.count("resolved"),
            sessions=len(history.sessions),
            done=sum(cs.status == "done" for cs in history.sessions),
        )
    )
    st.markdown(f"**{t('chist.flags')}**")
    if history.flags:
        st.dataframe(
            [
                {
                    t("coach.col.id"): f.id,
                    t("coach.col.period"): fmt_period(f.period, loc),
                    t("coach.col.priority"): t(f"coach.priority.{f.priority}"),
                    t("coach.col.criterion"): flag_topic(f, labels, loc),
                    t("coach.col.title"): flag_title(f, loc),
                    t("coach.col.status"): t(f"coach.flag.{f.status}"),
                    t("coach.col.acknowledged"): yes_no(f.acknowledged_at is not None, t),
                    t("coach.col.sessions"): ", ".join(
                        f"#{i}" for i in history.sessions_of_flag.get(f.id, [])
                    ),
                }
                for f in history.flags
            ],
            hide_index=True,
            width="stretch",
        )
    else:
        st.caption(t("chist.no_flags"))
    st.markdown(f"**{t('chist.sessions')}**")
    if history.sessions:
        sep = "، " if loc == "ar" else ", "
        st.dataframe(
            [
                {
                    t("coach.col.id"): cs.id,
                    t("coach.col.status"): t(f"coach.session.{cs.status}"),
                    t("coach.col.due"): fmt_day(cs.due_date, loc),
                    t("coach.col.trainer"): neutralise_bidi(
                        cs.trainer.display_name if cs.trainer else "—"
                    ),
                    t("coach.col.focus"): sep.join(
                        topic_label(c, labels, loc) for c in cs.focus_criteria or []
                    ),
                    t("coach.col.notes"): neutralise_bidi(cs.notes),
                    t("coach.col.follow_up"): neutralise_bidi(cs.follow_up or ""),
                    t("coach.col.follow_up_date"): fmt_day(cs.follow_up_date, loc),
                    t("coach.col.created"): fmt_date(cs.created_at, loc, tz),
                    t("coach.col.completed"): fmt_date(cs.completed_at, loc, tz),
                }
                for cs in history.sessions
            ],
            hide_index=True,
            width="stretch",
        )
    else:
        st.caption(t("chist.no_sessions"))
