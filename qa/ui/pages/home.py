"""Home: what the signed-in person should look at first."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import func, select

from qa.models import Interaction
from qa.services.reviews import visible_reviews
from qa.ui.i18n import fmt_number, register
from qa.ui.registry import ALL
from qa.ui.session import db_session, require

register(
    {
        "home.welcome": {"en": "Welcome, {name}", "ar": "مرحباً، {name}"},
        "home.interactions": {"en": "Interactions", "ar": "التفاعلات"},
        "home.reviews": {"en": "Reviews you can see", "ar": "المراجعات المتاحة لك"},
    }
)

viewer = require(ALL)
st.title(viewer.t("home.welcome", name=viewer.display_name), anchor=False)
with db_session() as session:
    interactions = session.scalar(select(func.count()).select_from(Interaction)) or 0
    reviews = session.scalar(select(func.count()).select_from(visible_reviews(viewer).subquery()))
left, right = st.columns(2)
left.metric(viewer.t("home.interactions"), fmt_number(interactions, viewer.locale, 0))
right.metric(viewer.t("home.reviews"), fmt_number(reviews or 0, viewer.locale, 0))
