"""Jawda's Streamlit entry point: page config, login, routing. Nothing else lives here."""

from __future__ import annotations

import streamlit as st

from qa.ui.i18n import is_rtl, t
from qa.ui.registry import pages_for
from qa.ui.safe import md
from qa.ui.session import current_viewer, login, logout

st.set_page_config(page_title="Jawda QA", page_icon=":material/verified:", layout="wide")

viewer = current_viewer()
if viewer is None:
    st.title(t("login.title"), anchor=False)
    if st.session_state.pop("expired", False):
        st.info(t("login.expired"))
    with st.form("login"):
        username = st.text_input(t("login.username"))
        password = st.text_input(t("login.password"), type="password")
        submitted = st.form_submit_button(t("login.submit"))
    if submitted:
        if login(username, password) is None:
            st.error(t("login.failed"))
        else:
            st.rerun()
    st.stop()

assert viewer is not None
if is_rtl(viewer.locale):
    st.html(
        "<style>.stMain, section[data-testid='stSidebar'] {direction: rtl; text-align: right;}</style>"
    )
groups: dict[str, list[st.Page]] = {}
for spec in pages_for(viewer.role):
    groups.setdefault(viewer.t(spec.group), []).append(
        st.Page(spec.path, title=viewer.t(spec.title), icon=spec.icon, url_path=spec.url_path)
    )
with st.sidebar:
    st.caption(f"{md(viewer.display_name)} · {viewer.t('role.' + viewer.role)}")
    if st.button(viewer.t("logout")):
        logout()
        st.rerun()
st.navigation(groups).run()
