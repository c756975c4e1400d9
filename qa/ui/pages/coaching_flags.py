"""Coaching flags queue (trainers, QA leads, admins): filter, read the evidence, plan a
session from selected flags or dismiss them.

Everything shown comes from ``scorecards.coaching_sessions`` for the signed-in
user, which checks the role again; excerpts are escaped (they are the agent's
and customers' own words).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import streamlit as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from qa.models import CoachingStatus, Team, User
from qa.services.errors import ServiceError
from qa.ui.coaching_common import (
    criterion_labels,
    flag_title,
    flag_topic,
    fmt_period,
    show_error,
    show_flag_details,
    topic_label,
    yes_no,
)
from qa.ui.i18n import register
from qa.ui.registry import COACHES
from qa.ui.render import escape_markdown, neutralise_bidi
from qa.ui.session import db_session, require, settings
from scorecards import coaching_sessions as service

register(
    {
        "cflags.title": {"en": "Coaching recommendations", "ar": "توصيات التدريب"},
        "cflags.intro": {
            "en": "Recommendations made by the coaching rules from each month's figures. "
            "Select some of one agent to plan a session, or dismiss those that do not apply.",
            "ar": "توصيات تصدرها قواعد التدريب من أرقام كل شهر. اختر توصيات لموظف واحد "
            "لتخطيط جلسة، أو استبعد ما لا ينطبق منها.",
        },
        "cflags.period": {"en": "Month", "ar": "الشهر"},
        "cflags.team": {"en": "Team", "ar": "الفريق"},
        "cflags.criterion": {"en": "Criterion", "ar": "البند"},
        "cflags.priority": {"en": "Priority", "ar": "الأولوية"},
        "cflags.status": {"en": "Status", "ar": "الحالة"},
        "cflags.none": {
            "en": "No recommendations match these filters.",
            "ar": "لا توجد توصيات تطابق هذه المرشحات.",
        },
        "cflags.count": {"en": "{count} recommendation(s)", "ar": "عدد التوصيات: {count}"},
        "cflags.evidence_col": {"en": "Evidence", "ar": "الشواهد"},
        "cflags.select": {
            "en": "Recommendations to act on",
            "ar": "التوصيات المراد اتخاذ إجراء بشأنها",
        },
        "cflags.plan": {"en": "Plan a coaching session", "ar": "تخطيط جلسة تدريب"},
        "cflags.due": {"en": "Due date", "ar": "موعد الجلسة"},
        "cflags.trainer": {"en": "Trainer", "ar": "المدرّب"},
        "cflags.notes": {"en": "Notes for the session", "ar": "ملاحظات للجلسة"},
        "cflags.create": {"en": "Create session", "ar": "إنشاء الجلسة"},
        "cflags.dismiss": {"en": "Dismiss selected", "ar": "استبعاد المحدد"},
        "cflags.created": {
            "en": "Session {id} planned; its recommendations are now in a session.",
            "ar": "خُطّطت الجلسة {id}؛ أصبحت توصياتها ضمن جلسة.",
        },
        "cflags.dismissed": {
            "en": "{count} recommendation(s) dismissed.",
            "ar": "استُبعدت {count} توصية.",
        },
        "cflags.pick_first": {
            "en": "Select at least one recommendation above.",
            "ar": "اختر توصية واحدة على الأقل أعلاه.",
        },
    }
)

viewer = require(COACHES)
loc = viewer.locale
t = viewer.t
st.title(t("cflags.title"), anchor=False)
st.caption(t("cflags.intro"))
if msg := st.session_state.pop("cflags.msg", None):
    st.success(msg)

PRIORITIES = ("high", "medium", "low")
STATUSES = tuple(s.value for s in CoachingStatus)


def act(action: Callable[[Session, User], str]) -> None:
    """Run one change in its own transaction, then rerun so the lists show the result."""
    try:
        with db_session() as session:
            message = action(session, session.get_one(User, viewer.id))
    except ServiceError as exc:
        show_error(exc, t)
        return
    st.session_state["cflags.msg"] = message
    st.session_state["cflags.nonce"] = st.session_state.get("cflags.nonce", 0) + 1
    st.rerun()


with db_session() as session:
    me = session.get_one(User, viewer.id)
    labels = criterion_labels(session, loc)
    teams = {team.id: team.name for team in session.scalars(select(Team).order_by(Team.name))}
    periods = service.flag_periods(session, me)
    criteria = service.flag_criteria(session, me)
    coaches = {u.id: u.display_name for u in service.coaches(session, me)}

    cols = st.columns(5)
    period = cols[0].selectbox(
        t("cflags.period"),
        ["", *periods],
        format_func=lambda p: fmt_period(p, loc) if p else t("coach.all"),
        key="cflags.period",
    )
    team_id = cols[1].selectbox(
        t("cflags.team"),
        [0, *teams],
        format_func=lambda i: neutralise_bidi(teams[i]) if i else t("coach.all"),
        key="cflags.team",
    )
    criterion = cols[2].selectbox(
        t("cflags.criterion"),
        ["", *criteria],
        format_func=lambda c: topic_label(c, labels, loc) if c else t("coach.all"),
        key="cflags.criterion",
    )
    priorities = cols[3].multiselect(
        t("cflags.priority"),
        PRIORITIES,
        format_func=lambda p: t(f"coach.priority.{p}"),
        key="cflags.priority",
    )
    statuses = cols[4].multiselect(
        t("cflags.status"),
        STATUSES,
        default=[CoachingStatus.open.value],
        format_func=lambda s: t(f"coach.flag.{s}"),
        key="cflags.status",
    )
    flags = service.queue_flags(
        session,
        me,
        service.FlagQuery(
            period=period or None,
            team_id=team_id or None,
            criterion_id=criterion or None,
            priorities=tuple(priorities) or None,
            statuses=tuple(statuses) or None,
        ),
    )
    if not flags:
        st.info(t("cflags.none"))
        st.stop()
    st.caption(t("cflags.count", count=len(flags)))
    # Dataframe cells are never interpreted as markup, so user text goes in as it is
    # (bidi controls neutralised so they cannot reorder the row).
    st.dataframe(
        [
            {
                t("coach.col.id"): f.id,
                t("coach.col.agent"): neutralise_bidi(f"{f.agent.name} ({f.agent.external_id})"),
                t("coach.col.period"): fmt_period(f.period, loc),
                t("coach.col.priority"): t(f"coach.priority.{f.priority}"),
                t("coach.col.criterion"): flag_topic(f, labels, loc),
                t("coach.col.title"): flag_title(f, loc),
                t("coach.col.status"): t(f"coach.flag.{f.status}"),
                t("coach.col.acknowledged"): yes_no(f.acknowledged_at is not None, t),
                t("cflags.evidence_col"): neutralise_bidi(
                    " | ".join(
                        f"{e.get('interaction_external_id', '')}: {e.get('excerpt', '')}"
                        for e in f.evidence or []
                    )
                ),
            }
            for f in flags
        ],
        hide_index=True,
        width="stretch",
    )
    by_id = {f.id: f for f in flags}
    selected: list[int] = st.multiselect(
        t("cflags.select"),
        list(by_id),
        format_func=lambda i: neutralise_bidi(
            f"#{i} · {by_id[i].agent.name} · {flag_title(by_id[i], loc)}"
        ),
        key=f"cflags.selected.{st.session_state.get('cflags.nonce', 0)}",
    )
    for flag_id in selected:
        flag = by_id[flag_id]
        with st.container(border=True):
            st.markdown(
                f"**{escape_markdown(flag_title(flag, loc))}** — "
                f"{escape_markdown(flag.agent.name)} · {fmt_period(flag.period, loc)} · "
                f"{t(f'coach.priority.{flag.priority}')}"
            )
            show_flag_details(flag, loc, t)

with st.form("cflags.plan_form"):
    st.subheader(t("cflags.plan"), anchor=False)
    due = st.date_input(
        t("cflags.due"),
        value=datetime.now(settings().tz).date() + timedelta(days=7),
        key="cflags.due",
    )
    trainer_id = st.selectbox(
        t("cflags.trainer"),
        list(coaches),
        index=list(coaches).index(viewer.id) if viewer.id in coaches else 0,
        format_func=lambda i: neutralise_bidi(coaches[i]),
        key="cflags.trainer",
    )
    notes = st.text_area(t("cflags.notes"), max_chars=service.TEXT_MAX, key="cflags.notes")
    create = st.form_submit_button(t("cflags.create"), type="primary")
dismiss = st.button(t("cflags.dismiss"), key="cflags.dismiss")

if (create or dismiss) and not selected:
    st.warning(t("cflags.pick_first"))
elif create:
    act(
        lambda s, actor: t(
            "cflags.created",
            id=service.create_session(
                s, actor, selected, due_date=due, notes=notes or "", trainer_id=trainer_id
            ).id,
        )
    )
elif dismiss:
    act(
        lambda s, actor: t("cflags.dismissed", count=len(service.dismiss_flags(s, actor, selected)))
    )
