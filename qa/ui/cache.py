"""Cached dashboard figures, and the one call that invalidates them.

The dashboard's queries are cached per filter choice (``st.cache_data``) so
moving between pages does not re-aggregate. Anything that changes reviews,
interactions or rubrics from the app must call ``clear_dashboard_cache()``
afterwards: the import and rubric pages do, the review page after a submit or
an edit of a submitted review, and the dispute queue after an adjustment.
Changes made outside the app (CLI imports) show up when the entry expires
(``TTL_SECONDS``).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import streamlit as st

from qa import db
from qa.services import dashboard as dash
from qa.services.periods import add_months
from qa.ui.session import engine

TTL_SECONDS = 300


class _Reader:
    """The role is all the service checks; the page has already checked it too."""

    def __init__(self, role: str) -> None:
        self.role = role


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def dashboard_data(
    database_url: str,
    timezone: str,
    role: str,
    first: tuple[int, int],
    last: tuple[int, int],
    channels: tuple[str, ...],
    languages: tuple[str, ...],
    team_ids: tuple[int, ...],
) -> tuple[dash.Dashboard, list[dash.MonthRow]]:
    """The dashboard for the chosen period, and a 12-month trend ending with its last month.

    ``database_url`` is part of the key so two databases never share entries.
    """
    del database_url  # only a cache key; the engine comes from the settings
    f = dash.DashboardFilter(first, last, channels, languages, team_ids)
    tz = ZoneInfo(timezone)
    reader = _Reader(role)
    with db.session_scope(engine()) as session:
        board = dash.dashboard(session, reader, f, tz, trend=False)
        y, m = last
        trend_filter = dash.DashboardFilter(
            add_months(y, m, -11), last, channels, languages, team_ids
        )
        trend = dash.monthly_trend(session, reader, trend_filter, tz)
    return board, trend


def clear_dashboard_cache() -> None:
    """Forget every cached dashboard figure (call after any write that changes them)."""
    dashboard_data.clear()
