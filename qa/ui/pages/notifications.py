"""Everyone: unread in-app notifications (dispute decisions, disputes on my reviews)."""

from __future__ import annotations

import streamlit as st

from qa.services import notify
from qa.ui.i18n import fmt_date, register
from qa.ui.registry import ALL
from qa.ui.session import db_session, require, settings

register(
    {
        "notif.title": {"en": "Notifications", "ar": "الإشعارات"},
        "notif.count": {"en": "{n} unread", "ar": "{n} غير مقروءة"},
        "notif.none": {"en": "No unread notifications.", "ar": "لا توجد إشعارات غير مقروءة."},
        "notif.mark_all": {"en": "Mark all as read", "ar": "تعليم الكل كمقروء"},
    }
)

viewer = require(ALL)
tz = settings().tz
st.title(viewer.t("notif.title"), anchor=False)

with db_session() as session:
    if st.button(viewer.t("notif.mark_all")):
        notify.mark_read(session, viewer.id)
    notes = notify.unread(session, viewer.id)
    st.caption(viewer.t("notif.count", n=len(notes)))
    if not notes:
        st.info(viewer.t("notif.none"))
    for note in notes:
        with st.container(border=True):
            st.caption(fmt_date(note.created_at, viewer.locale, tz))
            st.text(notify.text_for(note, viewer.locale))
