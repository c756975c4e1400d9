"""My coaching (agents): my recommendations in my language with their evidence, an
acknowledge button, and my coaching sessions (read only).

Query parameters are ignored: what is shown comes only from
``coaching_sessions.my_coaching`` for the signed-in user.
"""

from __future__ import annotations

import streamlit as st

from qa.models import CoachingStatus, User
from qa.services.errors import PermissionDenied, ServiceError
from qa.ui.coaching_common import (
    criterion_labels,
    flag_title,
    flag_topic,
    fmt_day,
    fmt_period,
    show_error,
    show_flag_details,
    topic_label,
)
from qa.ui.i18n import fmt_date, register
from qa.ui.registry import AGENTS
from qa.ui.render import escape_markdown, neutralise_bidi
from qa.ui.session import db_session, require, settings
from scorecards.coaching import acknowledge
from scorecards.coaching_sessions import my_coaching

register(
    {
        "mycoach.title": {"en": "My coaching", "ar": "تدريبي"},
        "mycoach.intro": {
            "en": "Recommendations from your monthly results and what to practise. "
            "Let your trainer know you have read each one.",
            "ar": "توصيات من نتائجك الشهرية وما يمكنك التدرّب عليه. "
            "أخبر مدرّبك بأنك اطّلعت على كل توصية.",
        },
        "mycoach.current": {"en": "Current recommendations", "ar": "التوصيات الحالية"},
        "mycoach.none": {
            "en": "No open recommendations. Well done!",
            "ar": "لا توجد توصيات مفتوحة. أحسنت!",
        },
        "mycoach.meta": {
            "en": "{period} · priority {priority} · {topic} · {status}",
            "ar": "{period} · الأولوية {priority} · {topic} · {status}",
        },
        "mycoach.ack": {"en": "I have read this", "ar": "اطّلعت على هذه التوصية"},
        "mycoach.acked": {
            "en": "You confirmed reading this on {date}.",
            "ar": "أكّدت اطّلاعك على هذه التوصية في {date}.",
        },
        "mycoach.past": {"en": "Earlier recommendations", "ar": "توصيات سابقة"},
        "mycoach.sessions": {"en": "My coaching sessions", "ar": "جلسات تدريبي"},
        "mycoach.no_sessions": {
            "en": "No coaching sessions planned.",
            "ar": "لا توجد جلسات تدريب مخطط لها.",
        },
    }
)

viewer = require(AGENTS)
loc = viewer.locale
t = viewer.t
tz = settings().tz
st.title(t("mycoach.title"), anchor=False)
st.caption(t("mycoach.intro"))

ACTIVE = (CoachingStatus.open.value, CoachingStatus.in_session.value)

with db_session() as session:
    me = session.get_one(User, viewer.id)
    try:
        history = my_coaching(session, me)
    except PermissionDenied:
        st.info(t("coach.none_agent"))
        st.stop()
    labels = criterion_labels(session, loc)
    current = [f for f in history.flags if f.status in ACTIVE]
    past = [f for f in history.flags if f.status not in ACTIVE]

    st.subheader(t("mycoach.current"), anchor=False)
    if not current:
        st.info(t("mycoach.none"))
    for flag in current:
        with st.container(border=True):
            st.markdown(f"**{escape_markdown(flag_title(flag, loc))}**")
            st.caption(
                t(
                    "mycoach.meta",
                    period=fmt_period(flag.period, loc),
                    priority=t(f"coach.priority.{flag.priority}"),
                    topic=escape_markdown(flag_topic(flag, labels, loc)),
                    status=t(f"coach.flag.{flag.status}"),
                )
            )
            show_flag_details(flag, loc, t)
            if flag.acknowledged_at is not None:
                st.success(t("mycoach.acked", date=fmt_date(flag.acknowledged_at, loc, tz)))
            elif st.button(t("mycoach.ack"), key=f"cack-{flag.id}"):
                try:
                    with db_session() as write:
                        acknowledge(write, flag.id, write.get_one(User, viewer.id))
                except ServiceError as exc:
                    show_error(exc, t)
                else:
                    st.rerun()

    if past:
        st.subheader(t("mycoach.past"), anchor=False)
        st.dataframe(
            [
                {
                    t("coach.col.period"): fmt_period(f.period, loc),
                    t("coach.col.criterion"): flag_topic(f, labels, loc),
                    t("coach.col.title"): flag_title(f, loc),
                    t("coach.col.status"): t(f"coach.flag.{f.status}"),
                }
                for f in past
            ],
            hide_index=True,
            width="stretch",
        )

    st.subheader(t("mycoach.sessions"), anchor=False)
    if not history.sessions:
        st.caption(t("mycoach.no_sessions"))
    else:
        sep = "، " if loc == "ar" else ", "
        st.dataframe(
            [
                {
                    t("coach.col.due"): fmt_day(cs.due_date, loc),
                    t("coach.col.status"): t(f"coach.session.{cs.status}"),
                    t("coach.col.trainer"): neutralise_bidi(
                        cs.trainer.display_name if cs.trainer else "—"
                    ),
                    t("coach.col.focus"): sep.join(
                        topic_label(c, labels, loc) for c in cs.focus_criteria or []
                    ),
                    t("coach.col.notes"): neutralise_bidi(cs.notes),
                    t("coach.col.follow_up"): neutralise_bidi(cs.follow_up or ""),
                    t("coach.col.follow_up_date"): fmt_day(cs.follow_up_date, loc),
                }
                for cs in history.sessions
            ],
            hide_index=True,
            width="stretch",
        )
