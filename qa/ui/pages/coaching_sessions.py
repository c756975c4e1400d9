"""Coaching sessions (trainers, QA leads, admins): list, open one, edit notes, due date,
focus, status and follow-up.

Saving passes the ``lock_version`` the page showed, so when two trainers edit
the same session the second save is refused instead of silently overwriting.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from qa.models import CoachingSessionStatus, User
from qa.services.errors import Conflict, ServiceError
from qa.ui.coaching_common import (
    criterion_labels,
    flag_title,
    fmt_day,
    show_error,
    show_flag_details,
    topic_label,
)
from qa.ui.i18n import fmt_date, register
from qa.ui.registry import COACHES
from qa.ui.render import escape_markdown, neutralise_bidi
from qa.ui.session import db_session, require, settings
from scorecards import coaching_sessions as service

register(
    {
        "csess.title": {"en": "Coaching sessions", "ar": "جلسات التدريب"},
        "csess.status": {"en": "Status", "ar": "الحالة"},
        "csess.agent": {"en": "Agent", "ar": "الموظف"},
        "csess.mine": {"en": "Only sessions I run", "ar": "الجلسات التي أديرها فقط"},
        "csess.none": {
            "en": "No sessions match. Plan one from the recommendations page.",
            "ar": "لا توجد جلسات مطابقة. خطّط جلسة من صفحة التوصيات.",
        },
        "csess.open": {"en": "Open a session", "ar": "فتح جلسة"},
        "csess.option": {
            "en": "#{id} · {agent} · {status} · due {due}",
            "ar": "#{id} · {agent} · {status} · الموعد {due}",
        },
        "csess.heading": {"en": "Session {id} with {agent}", "ar": "الجلسة {id} مع {agent}"},
        "csess.meta": {
            "en": "Trainer: {trainer} · created {created} · completed {completed}",
            "ar": "المدرّب: {trainer} · أُنشئت {created} · أُتمّت {completed}",
        },
        "csess.covered": {"en": "Recommendations covered", "ar": "التوصيات المشمولة"},
        "csess.no_flags": {
            "en": "This session was planned without a recommendation.",
            "ar": "خُطّطت هذه الجلسة دون توصية.",
        },
        "csess.edit": {"en": "Edit the session", "ar": "تعديل الجلسة"},
        "csess.final": {
            "en": "This session is {status}; only notes and follow-up can still change.",
            "ar": "هذه الجلسة {status}؛ يمكن تعديل الملاحظات والمتابعة فقط.",
        },
        "csess.notes": {"en": "Notes", "ar": "الملاحظات"},
        "csess.due": {"en": "Due date", "ar": "موعد الجلسة"},
        "csess.focus": {"en": "Focus criteria", "ar": "محاور التركيز"},
        "csess.follow_up": {"en": "Follow-up", "ar": "المتابعة"},
        "csess.follow_up_date": {"en": "Follow-up date", "ar": "تاريخ المتابعة"},
        "csess.save": {"en": "Save", "ar": "حفظ"},
        "csess.saved": {"en": "Session {id} saved.", "ar": "حُفظت الجلسة {id}."},
        "csess.done_hint": {
            "en": "Setting the status to Done resolves the recommendations; Cancelled "
            "returns them to the queue.",
            "ar": "اختيار «تمت» يعالج التوصيات، و«أُلغيت» يعيدها إلى قائمة التوصيات.",
        },
    }
)

viewer = require(COACHES)
loc = viewer.locale
t = viewer.t
tz = settings().tz
st.title(t("csess.title"), anchor=False)
if msg := st.session_state.pop("csess.msg", None):
    st.success(msg)

STATUSES = tuple(s.value for s in CoachingSessionStatus)

with db_session() as session:
    me = session.get_one(User, viewer.id)
    labels = criterion_labels(session, loc)
    agents = {a.id: f"{a.name} ({a.external_id})" for a in service.coachable_agents(session, me)}
    cols = st.columns([2, 2, 1])
    statuses = cols[0].multiselect(
        t("csess.status"),
        STATUSES,
        default=[CoachingSessionStatus.planned.value],
        format_func=lambda s: t(f"coach.session.{s}"),
        key="csess.statuses",
    )
    agent_id = cols[1].selectbox(
        t("csess.agent"),
        [0, *agents],
        format_func=lambda i: neutralise_bidi(agents[i]) if i else t("coach.all"),
        key="csess.agent",
    )
    mine = cols[2].checkbox(t("csess.mine"), key="csess.mine")
    sessions = service.list_sessions(
        session,
        me,
        service.SessionFilters(
            agent_id=agent_id or None,
            trainer_id=viewer.id if mine else None,
            statuses=tuple(statuses) or None,
        ),
    )
    if not sessions:
        st.info(t("csess.none"))
        st.stop()

    def focus_text(ids: list[str]) -> str:
        return ("، " if loc == "ar" else ", ").join(topic_label(i, labels, loc) for i in ids)

    st.dataframe(
        [
            {
                t("coach.col.id"): cs.id,
                t("coach.col.agent"): neutralise_bidi(cs.agent.name),
                t("coach.col.trainer"): neutralise_bidi(
                    cs.trainer.display_name if cs.trainer else "—"
                ),
                t("coach.col.status"): t(f"coach.session.{cs.status}"),
                t("coach.col.due"): fmt_day(cs.due_date, loc),
                t("coach.col.focus"): focus_text(cs.focus_criteria or []),
                t("coach.col.flags"): len(cs.flag_links),
                t("coach.col.follow_up_date"): fmt_day(cs.follow_up_date, loc),
            }
            for cs in sessions
        ],
        hide_index=True,
        width="stretch",
    )
    by_id = {cs.id: cs for cs in sessions}
    chosen = st.selectbox(
        t("csess.open"),
        list(by_id),
        format_func=lambda i: neutralise_bidi(
            t(
                "csess.option",
                id=i,
                agent=by_id[i].agent.name,
                status=t(f"coach.session.{by_id[i].status}"),
                due=fmt_day(by_id[i].due_date, loc),
            )
        ),
        key="csess.chosen",
    )
    cs = by_id[chosen]
    # The version the form was filled from: taken when the form first appears (its
    # widgets have no state yet) and kept across reruns until a save succeeds or is
    # refused, so a save made elsewhere in between is detected.
    version_key = f"csess.version.{cs.id}"
    if version_key not in st.session_state or f"csess.f.notes.{cs.id}" not in st.session_state:
        st.session_state[version_key] = cs.lock_version
    shown_version = st.session_state[version_key]
    st.subheader(t("csess.heading", id=cs.id, agent=escape_markdown(cs.agent.name)), anchor=False)
    st.caption(
        t(
            "csess.meta",
            trainer=escape_markdown(cs.trainer.display_name if cs.trainer else "—"),
            created=fmt_date(cs.created_at, loc, tz),
            completed=fmt_date(cs.completed_at, loc, tz),
        )
    )
    st.markdown(f"**{t('csess.covered')}**")
    covered = service.session_flags(session, me, cs.id)
    if not covered:
        st.caption(t("csess.no_flags"))
    for flag in covered:
        with st.expander(
            escape_markdown(f"{flag_title(flag, loc)} · {t(f'coach.flag.{flag.status}')}")
        ):
            show_flag_details(flag, loc, t)
    final = cs.status != CoachingSessionStatus.planned.value
    focus_options = list(dict.fromkeys([*labels, *(cs.focus_criteria or [])]))
    current = {
        "notes": cs.notes,
        "due_date": cs.due_date,
        "focus": list(cs.focus_criteria or []),
        "status": cs.status,
        "follow_up": cs.follow_up or "",
        "follow_up_date": cs.follow_up_date,
    }

with st.form(f"csess.edit.{cs.id}"):
    st.subheader(t("csess.edit"), anchor=False)
    if final:
        st.info(t("csess.final", status=t(f"coach.session.{cs.status}")))
    else:
        st.caption(t("csess.done_hint"))
    status = st.selectbox(
        t("csess.status"),
        STATUSES,
        index=STATUSES.index(current["status"]),
        format_func=lambda s: t(f"coach.session.{s}"),
        disabled=final,
        key=f"csess.f.status.{cs.id}",
    )
    due: date | None = st.date_input(
        t("csess.due"), value=current["due_date"], disabled=final, key=f"csess.f.due.{cs.id}"
    )
    focus = st.multiselect(
        t("csess.focus"),
        focus_options,
        default=current["focus"],
        format_func=lambda c: topic_label(c, labels, loc),
        disabled=final,
        key=f"csess.f.focus.{cs.id}",
    )
    notes = st.text_area(
        t("csess.notes"),
        value=current["notes"],
        max_chars=service.TEXT_MAX,
        key=f"csess.f.notes.{cs.id}",
    )
    follow_up = st.text_area(
        t("csess.follow_up"),
        value=current["follow_up"],
        max_chars=service.TEXT_MAX,
        key=f"csess.f.follow_up.{cs.id}",
    )
    follow_up_date: date | None = st.date_input(
        t("csess.follow_up_date"),
        value=current["follow_up_date"],
        key=f"csess.f.follow_up_date.{cs.id}",
    )
    save = st.form_submit_button(t("csess.save"), type="primary")

if save:
    changes: dict[str, object] = {
        "notes": notes or "",
        "follow_up": follow_up or None,
        "follow_up_date": follow_up_date,
    }
    if not final:
        changes.update(status=status, due_date=due, focus_criteria=focus)
    try:
        with db_session() as session:
            service.update_session(
                session,
                session.get_one(User, viewer.id),
                cs.id,
                expected_version=int(shown_version),
                **changes,  # type: ignore[arg-type]
            )
    except Conflict as exc:
        st.session_state.pop(version_key, None)  # next run shows the latest version
        show_error(exc, t)
    except ServiceError as exc:
        show_error(exc, t)
    else:
        st.session_state.pop(version_key, None)
        st.session_state["csess.msg"] = t("csess.saved", id=cs.id)
        st.rerun()
