"""Sampling rules and review queues: how many interactions per agent per month, and who reviews them.

All logic (deterministic sampling, stratification, idempotent fills, never
queueing an agent's own interaction) lives in ``qa.services.queue``; this page
collects the choices and shows the fill report.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import select

from qa.models import Agent, Role, SamplingRule, Team, User, utcnow
from qa.services import queue
from qa.services.errors import ServiceError
from qa.services.periods import last_months, month_label, parse_month
from qa.ui.i18n import fmt_month, fmt_number, register
from qa.ui.registry import LEADS
from qa.ui.safe import md
from qa.ui.session import db_session, require, settings

register(
    {
        "smp.title": {"en": "Sampling and queues", "ar": "العينات وقوائم المراجعة"},
        "smp.rules": {"en": "Sampling rules", "ar": "قواعد العينات"},
        "smp.no_rules": {"en": "No sampling rule yet.", "ar": "لا توجد قواعد عينات بعد."},
        "smp.edit": {"en": "Create or edit a rule", "ar": "إنشاء قاعدة أو تعديلها"},
        "smp.which": {"en": "Rule", "ar": "القاعدة"},
        "smp.new": {"en": "(new rule)", "ar": "(قاعدة جديدة)"},
        "smp.name": {"en": "Name", "ar": "الاسم"},
        "smp.n": {"en": "Interactions per agent per month", "ar": "عدد التفاعلات لكل موظف شهرياً"},
        "smp.team": {"en": "Team", "ar": "الفريق"},
        "smp.all_teams": {"en": "(all teams)", "ar": "(كل الفرق)"},
        "smp.channels": {"en": "Channels (empty: all)", "ar": "القنوات (فارغ: الكل)"},
        "smp.languages": {"en": "Languages (empty: all)", "ar": "اللغات (فارغ: الكل)"},
        "smp.stratify": {
            "en": "Spread the sample over channels in proportion to volume",
            "ar": "وزّع العينة على القنوات بحسب حجم كل قناة",
        },
        "smp.save": {"en": "Save rule", "ar": "حفظ القاعدة"},
        "smp.saved": {"en": "Rule saved.", "ar": "حُفظت القاعدة."},
        "smp.fill": {"en": "Fill queues for a month", "ar": "ملء قوائم المراجعة لشهر"},
        "smp.month": {"en": "Month", "ar": "الشهر"},
        "smp.reviewers": {"en": "Reviewers", "ar": "المراجعون"},
        "smp.run": {"en": "Fill queues", "ar": "املأ القوائم"},
        "smp.assigned": {
            "en": "{n} interaction(s) assigned for {month}.",
            "ar": "أُسند {n} تفاعل لشهر {month}.",
        },
        "smp.short": {
            "en": "Agents with fewer interactions than the rule asks for",
            "ar": "موظفون لديهم تفاعلات أقل مما تطلبه القاعدة",
        },
        "smp.manual": {"en": "Assign one interaction", "ar": "إسناد تفاعل واحد"},
        "smp.interaction": {"en": "Interaction id", "ar": "رقم التفاعل"},
        "smp.reviewer": {"en": "Reviewer", "ar": "المراجع"},
        "smp.assign": {"en": "Assign", "ar": "إسناد"},
        "smp.assigned_one": {
            "en": "Interaction {id} is in {name}'s queue.",
            "ar": "التفاعل {id} في قائمة {name}.",
        },
        "smp.col.name": {"en": "Rule", "ar": "القاعدة"},
        "smp.col.n": {"en": "Per agent", "ar": "لكل موظف"},
        "smp.col.team": {"en": "Team", "ar": "الفريق"},
        "smp.col.channels": {"en": "Channels", "ar": "القنوات"},
        "smp.col.languages": {"en": "Languages", "ar": "اللغات"},
        "smp.col.stratify": {"en": "Stratified", "ar": "موزعة"},
        "smp.col.reviewer": {"en": "Reviewer", "ar": "المراجع"},
        "smp.col.count": {"en": "Assigned", "ar": "المُسنَد"},
        "smp.col.agent": {"en": "Agent", "ar": "الموظف"},
        "smp.col.missing": {"en": "Missing", "ar": "الناقص"},
        "smp.all": {"en": "all", "ar": "الكل"},
        "smp.yes": {"en": "yes", "ar": "نعم"},
        "smp.no": {"en": "no", "ar": "لا"},
    }
)

viewer = require(LEADS)
loc = viewer.locale
tz = settings().tz
st.title(viewer.t("smp.title"), anchor=False)

with db_session() as session:
    teams = {t.id: t.name for t in session.scalars(select(Team).order_by(Team.name))}
    rules = list(session.scalars(select(SamplingRule).order_by(SamplingRule.name)))
    rule_rows = [
        {
            "id": r.id,
            "name": r.name,
            "n": r.per_agent_per_month,
            "team_id": r.team_id,
            "channels": list(r.channels or []),
            "languages": list(r.languages or []),
            "stratify": r.stratify_by_channel,
        }
        for r in rules
    ]
    reviewers = {
        u.id: u.display_name
        for u in session.scalars(
            select(User)
            .where(
                User.role.in_([Role.reviewer.value, Role.qa_lead.value]),
                User.is_active.is_(True),
            )
            .order_by(User.display_name)
        )
    }


def listing(values: list[str]) -> str:
    return ", ".join(values) if values else viewer.t("smp.all")


flash = st.session_state.pop("smp.flash", None)
if flash:
    st.success(flash)
st.subheader(viewer.t("smp.rules"), anchor=False)
if rule_rows:
    st.dataframe(
        pd.DataFrame(
            {
                viewer.t("smp.col.name"): [r["name"] for r in rule_rows],
                viewer.t("smp.col.n"): [fmt_number(r["n"], loc, 0) for r in rule_rows],
                viewer.t("smp.col.team"): [
                    teams.get(r["team_id"], viewer.t("smp.all_teams")) for r in rule_rows
                ],
                viewer.t("smp.col.channels"): [listing(r["channels"]) for r in rule_rows],
                viewer.t("smp.col.languages"): [listing(r["languages"]) for r in rule_rows],
                viewer.t("smp.col.stratify"): [
                    viewer.t("smp.yes" if r["stratify"] else "smp.no") for r in rule_rows
                ],
            }
        ),
        hide_index=True,
    )
else:
    st.info(viewer.t("smp.no_rules"))

# ---------------------------------------------------------------------------- edit
with st.expander(viewer.t("smp.edit"), expanded=not rule_rows):
    by_id = {r["id"]: r for r in rule_rows}
    chosen = st.selectbox(
        viewer.t("smp.which"),
        [None, *by_id],
        format_func=lambda i: viewer.t("smp.new") if i is None else by_id[i]["name"],
        key="smp.which",
    )
    current = by_id.get(chosen) if chosen is not None else None
    with st.form(f"smp.rule.{chosen}"):
        name = st.text_input(
            viewer.t("smp.name"), value=current["name"] if current else "", max_chars=120
        )
        n = st.number_input(
            viewer.t("smp.n"), min_value=1, max_value=500, value=current["n"] if current else 4
        )
        team_choice = st.selectbox(
            viewer.t("smp.team"),
            [None, *teams],
            index=([None, *teams].index(current["team_id"]) if current else 0),
            format_func=lambda i: viewer.t("smp.all_teams") if i is None else teams[i],
        )
        channels = st.multiselect(
            viewer.t("smp.channels"),
            ["call", "chat", "email"],
            default=current["channels"] if current else [],
        )
        languages = st.multiselect(
            viewer.t("smp.languages"),
            ["en", "ar"],
            default=current["languages"] if current else [],
        )
        stratify = st.checkbox(
            viewer.t("smp.stratify"), value=current["stratify"] if current else True
        )
        save = st.form_submit_button(viewer.t("smp.save"), type="primary")
    if save:
        try:
            with db_session() as session:
                actor = session.get(User, viewer.id)
                assert actor is not None
                queue.save_rule(
                    session,
                    actor,
                    name=name,
                    per_agent_per_month=int(n),
                    team_id=team_choice,
                    channels=channels,
                    languages=languages,
                    stratify_by_channel=stratify,
                    rule_id=chosen,
                )
        except ServiceError as exc:
            st.error(md(exc))
        else:
            st.session_state["smp.flash"] = viewer.t("smp.saved")
            st.rerun()  # the rules table and the fill form must list the saved rule

# ---------------------------------------------------------------------------- fill
st.subheader(viewer.t("smp.fill"), anchor=False)
now_local = utcnow().astimezone(tz)
months = [month_label(y, m) for y, m in last_months(now_local.year, now_local.month, 13)][::-1]
with st.form("smp.fill"):
    rule_id = st.selectbox(
        viewer.t("smp.which"),
        [r["id"] for r in rule_rows],
        format_func=lambda i: next(r["name"] for r in rule_rows if r["id"] == i),
    )
    month = st.selectbox(
        viewer.t("smp.month"), months, format_func=lambda v: fmt_month(*parse_month(v), loc)
    )
    chosen_reviewers = st.multiselect(
        viewer.t("smp.reviewers"), list(reviewers), format_func=lambda i: reviewers[i]
    )
    fill = st.form_submit_button(viewer.t("smp.run"), type="primary")
if fill and rule_id is not None:
    year, month_no = parse_month(month)
    try:
        with db_session() as session:
            actor = session.get(User, viewer.id)
            rule = session.get(SamplingRule, rule_id)
            assert actor is not None and rule is not None
            picked = list(session.scalars(select(User).where(User.id.in_(chosen_reviewers))))
            report = queue.fill_queues(
                session, rule, picked, year=year, month=month_no, tz=tz, actor=actor
            )
            agent_names = dict(
                session.execute(
                    select(Agent.id, Agent.name).where(Agent.id.in_(list(report.short)))
                ).all()
            )
    except ServiceError as exc:
        st.error(md(exc))
    else:
        st.success(
            viewer.t(
                "smp.assigned",
                n=fmt_number(report.assigned, loc, 0),
                month=fmt_month(year, month_no, loc),
            )
        )
        st.dataframe(
            pd.DataFrame(
                {
                    viewer.t("smp.col.reviewer"): [
                        reviewers.get(rid, str(rid)) for rid in report.per_reviewer
                    ],
                    viewer.t("smp.col.count"): [
                        fmt_number(c, loc, 0) for c in report.per_reviewer.values()
                    ],
                }
            ),
            hide_index=True,
        )
        if report.short:
            st.caption(viewer.t("smp.short"))
            st.dataframe(
                pd.DataFrame(
                    {
                        viewer.t("smp.col.agent"): [
                            agent_names.get(a, str(a)) for a in report.short
                        ],
                        viewer.t("smp.col.missing"): [
                            fmt_number(c, loc, 0) for c in report.short.values()
                        ],
                    }
                ),
                hide_index=True,
            )

# ---------------------------------------------------------------------------- manual
st.subheader(viewer.t("smp.manual"), anchor=False)
with st.form("smp.manual"):
    interaction_id = st.number_input(viewer.t("smp.interaction"), min_value=1, step=1, value=None)
    reviewer_id = st.selectbox(
        viewer.t("smp.reviewer"), list(reviewers), format_func=lambda i: reviewers[i]
    )
    assign = st.form_submit_button(viewer.t("smp.assign"))
if assign and interaction_id is not None and reviewer_id is not None:
    try:
        with db_session() as session:
            actor = session.get(User, viewer.id)
            reviewer = session.get(User, reviewer_id)
            assert actor is not None and reviewer is not None
            queue.assign(session, int(interaction_id), reviewer, actor, tz=tz)
    except ServiceError as exc:
        st.error(md(exc))
    else:
        st.success(
            viewer.t("smp.assigned_one", id=int(interaction_id), name=md(reviewers[reviewer_id]))
        )
