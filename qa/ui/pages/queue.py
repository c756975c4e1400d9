"""My queue: the reviewer's open assignments, oldest interaction first, one click to review."""

from __future__ import annotations

import streamlit as st

from qa.models import User
from qa.services.agent_view import queue_items
from qa.ui.i18n import fmt_date, fmt_number, register
from qa.ui.registry import PAGES, REVIEWERS
from qa.ui.render import escape_markdown, fmt_clock
from qa.ui.session import db_session, require, settings

register(
    {
        "queue.title": {"en": "My queue", "ar": "قائمة انتظاري"},
        "queue.count": {
            "en": "{n} interaction(s) waiting for your review",
            "ar": "{n} تفاعل بانتظار مراجعتك",
        },
        "queue.empty": {
            "en": "Your queue is empty. New interactions arrive when a QA lead fills the queues.",
            "ar": "قائمة انتظارك فارغة. تصل تفاعلات جديدة عندما يوزّعها قائد الجودة.",
        },
        "queue.ref": {"en": "Interaction", "ar": "التفاعل"},
        "queue.agent": {"en": "Agent", "ar": "الموظف"},
        "queue.channel": {"en": "Channel", "ar": "القناة"},
        "queue.language": {"en": "Language", "ar": "اللغة"},
        "queue.date": {"en": "Date", "ar": "التاريخ"},
        "queue.duration": {"en": "Duration", "ar": "المدة"},
        "queue.status": {"en": "Status", "ar": "الحالة"},
        "queue.open": {"en": "Review", "ar": "مراجعة"},
        "queue.draft": {"en": "Draft saved", "ar": "مسودة محفوظة"},
        "queue.new": {"en": "New", "ar": "جديد"},
        "queue.more": {
            "en": "Showing the first {shown} of {n}.",
            "ar": "تُعرض أول {shown} من {n}.",
        },
    }
)

SHOWN = 100
WIDTHS = [2, 3, 1.3, 1.3, 2.4, 1.2, 1.5, 1.3]

viewer = require(REVIEWERS)
loc = viewer.locale
st.title(viewer.t("queue.title"), anchor=False)
with db_session() as session:
    me = session.get(User, viewer.id)
    assert me is not None
    items = queue_items(session, me)

if not items:
    st.info(viewer.t("queue.empty"))
    st.stop()
st.caption(viewer.t("queue.count", n=fmt_number(len(items), loc, 0)))
review_page = next(p for p in PAGES if p.url_path == "review")
header = st.columns(WIDTHS)
for col, key in zip(
    header,
    ["ref", "agent", "channel", "language", "date", "duration", "status"],
    strict=False,
):
    col.markdown(f"**{viewer.t(f'queue.{key}')}**")
for item in items[:SHOWN]:
    cols = st.columns(WIDTHS, vertical_alignment="center")
    cols[0].markdown(escape_markdown(item.external_id))
    cols[1].markdown(escape_markdown(item.agent_name))
    cols[2].markdown(viewer.t(f"channel.{item.channel}"))
    cols[3].markdown(viewer.t(f"language.{item.language}"))
    cols[4].markdown(fmt_date(item.started_at, loc, settings().tz))
    cols[5].markdown(fmt_clock(item.duration_seconds, loc))
    cols[6].markdown(viewer.t("queue.draft" if item.draft_review_id else "queue.new"))
    if cols[7].button(viewer.t("queue.open"), key=f"queue-open-{item.interaction_id}"):
        st.switch_page(review_page.path, query_params={"interaction": str(item.interaction_id)})
if len(items) > SHOWN:
    st.caption(
        viewer.t("queue.more", shown=fmt_number(SHOWN, loc, 0), n=fmt_number(len(items), loc, 0))
    )
