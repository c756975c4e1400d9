"""Issued monthly scorecards with a PDF download per month.

Agents see only their own (the service takes the agent from the user row);
trainers, QA leads and admins pick an agent. Reviewers are refused. The PDF
bytes are the stored ones, never re-rendered.
"""

from __future__ import annotations

import streamlit as st

from qa.models import Role, User
from qa.services.errors import PermissionDenied
from qa.ui.coaching_common import fmt_period
from qa.ui.i18n import fmt_date, fmt_percent, register
from qa.ui.registry import AGENTS, COACHES
from qa.ui.render import neutralise_bidi
from qa.ui.session import db_session, require, settings
from scorecards.access import PDF_MIME, list_scorecards
from scorecards.coaching_sessions import coachable_agents

register(
    {
        "mysc.title": {"en": "My scorecards", "ar": "بطاقات أدائي"},
        "mysc.title_lead": {"en": "Scorecards", "ar": "بطاقات الأداء"},
        "mysc.agent": {"en": "Agent", "ar": "الموظف"},
        "mysc.none": {"en": "No scorecards issued yet.", "ar": "لم تصدر بطاقات أداء بعد."},
        "mysc.row": {
            "en": "**{period}** · overall {overall} · issued {issued}",
            "ar": "**{period}** · النتيجة الإجمالية {overall} · صدرت {issued}",
        },
        "mysc.auto": {
            "en": "Auto-QA only: no reviewer scored an interaction this month; the figures "
            "come from automated checks.",
            "ar": "فحص آلي فقط: لم يقيّم أي مراجع تفاعلاً هذا الشهر، والأرقام مصدرها الفحوص الآلية.",
        },
        "mysc.download": {"en": "Download PDF", "ar": "تنزيل PDF"},
        "mysc.no_pdf": {"en": "PDF not available", "ar": "ملف PDF غير متوفر"},
    }
)

viewer = require(AGENTS | COACHES)
loc = viewer.locale
t = viewer.t
tz = settings().tz
is_agent = viewer.role == Role.agent.value
st.title(t("mysc.title" if is_agent else "mysc.title_lead"), anchor=False)

with db_session() as session:
    me = session.get_one(User, viewer.id)
    agent_id: int | None = None
    if not is_agent:
        agents = {a.id: f"{a.name} ({a.external_id})" for a in coachable_agents(session, me)}
        if not agents:
            st.info(t("mysc.none"))
            st.stop()
        agent_id = st.selectbox(
            t("mysc.agent"),
            list(agents),
            format_func=lambda i: neutralise_bidi(agents[i]),
            key="mysc.agent",
        )
    try:
        entries = list_scorecards(session, me, agent_id, with_pdf=True)
    except PermissionDenied:
        st.info(t("coach.none_agent"))
        st.stop()

if not entries:
    st.info(t("mysc.none"))
    st.stop()

for entry in entries:
    with st.container(border=True):
        text_col, button_col = st.columns([4, 1], vertical_alignment="center")
        text_col.markdown(
            t(
                "mysc.row",
                # Generated text (month name, number, date), not user input.
                period=fmt_period(entry.period, loc),
                overall=fmt_percent(entry.overall_pct, loc),
                issued=fmt_date(entry.issued_at, loc, tz),
            )
        )
        if entry.auto_qa_only:
            text_col.caption(t("mysc.auto"))
        if entry.pdf is not None:
            button_col.download_button(
                t("mysc.download"),
                data=entry.pdf,
                file_name=entry.file_name,
                mime=PDF_MIME,
                key=f"scdl-{entry.id}",
                on_click="ignore",
                icon=":material/download:",
            )
        else:
            button_col.caption(t("mysc.no_pdf"))
