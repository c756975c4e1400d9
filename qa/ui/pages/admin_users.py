"""Users, teams and roles (admins only). Every change goes through ``qa.services.accounts``,
which checks the actor and writes the audit trail; passwords are typed, never shown.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st
from sqlalchemy.orm import Session

from qa.models import LANGUAGES, Role, User
from qa.services import accounts
from qa.services.errors import ServiceError
from qa.ui.i18n import fmt_date, register
from qa.ui.registry import ADMINS
from qa.ui.safe import md
from qa.ui.session import db_session, require, settings

register(
    {
        "usr.title": {"en": "Users and teams", "ar": "المستخدمون والفرق"},
        "usr.users": {"en": "Users", "ar": "المستخدمون"},
        "usr.create": {"en": "Create a user", "ar": "إنشاء مستخدم"},
        "usr.username": {"en": "Username", "ar": "اسم المستخدم"},
        "usr.display": {"en": "Display name", "ar": "الاسم المعروض"},
        "usr.email": {"en": "Email", "ar": "البريد الإلكتروني"},
        "usr.role": {"en": "Role", "ar": "الدور"},
        "usr.locale": {"en": "Language", "ar": "اللغة"},
        "usr.agent": {"en": "Linked agent", "ar": "الموظف المرتبط"},
        "usr.no_agent": {"en": "(none)", "ar": "(لا يوجد)"},
        "usr.password": {"en": "Password", "ar": "كلمة المرور"},
        "usr.create_btn": {"en": "Create", "ar": "إنشاء"},
        "usr.created": {"en": "User {name} created.", "ar": "أُنشئ المستخدم {name}."},
        "usr.change": {"en": "Change a user", "ar": "تعديل مستخدم"},
        "usr.who": {"en": "User", "ar": "المستخدم"},
        "usr.set_role": {"en": "Change role", "ar": "تغيير الدور"},
        "usr.role_set": {"en": "Role changed.", "ar": "تم تغيير الدور."},
        "usr.new_password": {"en": "New password", "ar": "كلمة المرور الجديدة"},
        "usr.reset": {"en": "Reset password", "ar": "إعادة تعيين كلمة المرور"},
        "usr.reset_done": {
            "en": "Password reset; the account is unlocked.",
            "ar": "أُعيد تعيين كلمة المرور وفُتح الحساب.",
        },
        "usr.disable": {"en": "Disable account", "ar": "تعطيل الحساب"},
        "usr.enable": {"en": "Enable account", "ar": "تفعيل الحساب"},
        "usr.active_set": {"en": "Account updated.", "ar": "تم تحديث الحساب."},
        "usr.teams": {"en": "Teams", "ar": "الفرق"},
        "usr.team_name": {"en": "New team name", "ar": "اسم الفريق الجديد"},
        "usr.team_create": {"en": "Create team", "ar": "إنشاء فريق"},
        "usr.team_created": {"en": "Team {name} created.", "ar": "أُنشئ الفريق {name}."},
        "usr.move": {"en": "Move an agent", "ar": "نقل موظف"},
        "usr.move_agent": {"en": "Agent", "ar": "الموظف"},
        "usr.move_team": {"en": "To team", "ar": "إلى الفريق"},
        "usr.no_team": {"en": "(no team)", "ar": "(بلا فريق)"},
        "usr.move_btn": {"en": "Move", "ar": "نقل"},
        "usr.moved": {"en": "Agent moved.", "ar": "نُقل الموظف."},
        "usr.col.username": {"en": "Username", "ar": "اسم المستخدم"},
        "usr.col.name": {"en": "Name", "ar": "الاسم"},
        "usr.col.role": {"en": "Role", "ar": "الدور"},
        "usr.col.locale": {"en": "Language", "ar": "اللغة"},
        "usr.col.agent": {"en": "Agent", "ar": "الموظف"},
        "usr.col.active": {"en": "Active", "ar": "نشط"},
        "usr.col.last": {"en": "Last sign-in", "ar": "آخر دخول"},
        "usr.col.team": {"en": "Team", "ar": "الفريق"},
        "usr.col.agents": {"en": "Agents", "ar": "الموظفون"},
        "usr.yes": {"en": "yes", "ar": "نعم"},
        "usr.no": {"en": "no", "ar": "لا"},
        "language.en": {"en": "English", "ar": "الإنجليزية"},
        "language.ar": {"en": "Arabic", "ar": "العربية"},
    }
)

viewer = require(ADMINS)
loc = viewer.locale
tz = settings().tz
ROLES = [r.value for r in Role]
st.title(viewer.t("usr.title"), anchor=False)


def attempt(action: Callable[[Session, User], object], success: str) -> bool:
    """Run one change in its own transaction; show the service's message if refused."""
    try:
        with db_session() as session:
            actor = session.get(User, viewer.id)
            assert actor is not None
            action(session, actor)
    except ServiceError as exc:
        st.error(md(exc))
        return False
    # Rerun so every list on the page shows the change; the message survives the rerun.
    st.session_state["usr.flash"] = success
    st.rerun()
    return True  # not reached: st.rerun() ends this run


flash = st.session_state.pop("usr.flash", None)
if flash:
    st.success(flash)


with db_session() as session:
    actor = session.get(User, viewer.id)
    assert actor is not None
    users = [
        {
            "id": u.id,
            "username": u.username,
            "name": u.display_name,
            "role": u.role,
            "locale": u.locale,
            "agent_id": u.agent_id,
            "active": u.is_active,
            "last": u.last_login_at,
        }
        for u in accounts.list_users(session, actor)
    ]
    teams = {t.id: t.name for t in accounts.list_teams(session)}
    agents = {a.id: (a.name, a.external_id, a.team_id) for a in accounts.list_agents(session)}

linked = {u["agent_id"] for u in users if u["agent_id"] is not None}


def agent_label(agent_id: int | None) -> str:
    if agent_id is None:
        return viewer.t("usr.no_agent")
    name, external, _ = agents[agent_id]
    return f"{name} ({external})"


st.subheader(viewer.t("usr.users"), anchor=False)
st.dataframe(
    pd.DataFrame(
        {
            viewer.t("usr.col.username"): [u["username"] for u in users],
            viewer.t("usr.col.name"): [u["name"] for u in users],
            viewer.t("usr.col.role"): [viewer.t(f"role.{u['role']}") for u in users],
            viewer.t("usr.col.locale"): [viewer.t(f"language.{u['locale']}") for u in users],
            viewer.t("usr.col.agent"): [
                agent_label(u["agent_id"]) if u["agent_id"] else "" for u in users
            ],
            viewer.t("usr.col.active"): [
                viewer.t("usr.yes" if u["active"] else "usr.no") for u in users
            ],
            viewer.t("usr.col.last"): [fmt_date(u["last"], loc, tz) for u in users],
        }
    ),
    hide_index=True,
)

with st.expander(viewer.t("usr.create")):
    with st.form("usr.create", clear_on_submit=True):
        c1, c2 = st.columns(2)
        username = c1.text_input(viewer.t("usr.username"), max_chars=120, key="usr.new.username")
        display = c2.text_input(viewer.t("usr.display"), max_chars=200, key="usr.new.display")
        email = c1.text_input(viewer.t("usr.email"), max_chars=320)
        role = c2.selectbox(
            viewer.t("usr.role"), ROLES, index=ROLES.index("reviewer"),
            format_func=lambda r: viewer.t(f"role.{r}"),
        )  # fmt: skip
        locale = c1.selectbox(
            viewer.t("usr.locale"), list(LANGUAGES), format_func=lambda c: viewer.t(f"language.{c}")
        )
        agent_id = c2.selectbox(
            viewer.t("usr.agent"),
            [None, *[a for a in agents if a not in linked]],
            format_func=agent_label,
        )
        password = st.text_input(viewer.t("usr.password"), type="password", key="usr.new.password")
        create = st.form_submit_button(viewer.t("usr.create_btn"), type="primary")
    if create:
        attempt(
            lambda s, a: accounts.create_account(
                s,
                a,
                username,
                role=role,
                password=password,
                display_name=display,
                email=email,
                locale=locale,
                agent_id=agent_id,
            ),
            viewer.t("usr.created", name=md(username.strip())),
        )

by_id = {u["id"]: u for u in users}
with st.expander(viewer.t("usr.change")):
    who = st.selectbox(
        viewer.t("usr.who"),
        list(by_id),
        format_func=lambda i: f"{by_id[i]['username']} ({viewer.t('role.' + by_id[i]['role'])})",
        key="usr.who",
    )
    if who is not None:
        target = by_id[who]
        with st.form("usr.role"):
            new_role = st.selectbox(
                viewer.t("usr.role"),
                ROLES,
                index=ROLES.index(target["role"]),
                format_func=lambda r: viewer.t(f"role.{r}"),
                key=f"usr.change.role.{who}",
            )
            if st.form_submit_button(viewer.t("usr.set_role")):
                attempt(
                    lambda s, a: accounts.change_role(s, a, who, new_role),
                    viewer.t("usr.role_set"),
                )
        with st.form("usr.password", clear_on_submit=True):
            new_password = st.text_input(viewer.t("usr.new_password"), type="password")
            if st.form_submit_button(viewer.t("usr.reset")):
                attempt(
                    lambda s, a: accounts.reset_password(s, a, who, new_password),
                    viewer.t("usr.reset_done"),
                )
        toggle = "usr.disable" if target["active"] else "usr.enable"
        if st.button(viewer.t(toggle), key="usr.toggle"):
            attempt(
                lambda s, a: accounts.set_active(s, a, who, not target["active"]),
                viewer.t("usr.active_set"),
            )

st.subheader(viewer.t("usr.teams"), anchor=False)
members: dict[int | None, int] = {}
for _, _, team_id in agents.values():
    members[team_id] = members.get(team_id, 0) + 1
st.dataframe(
    pd.DataFrame(
        {
            viewer.t("usr.col.team"): list(teams.values()),
            viewer.t("usr.col.agents"): [members.get(t, 0) for t in teams],
        }
    ),
    hide_index=True,
)
c1, c2 = st.columns(2)
with c1, st.form("usr.team", clear_on_submit=True):
    team_name = st.text_input(viewer.t("usr.team_name"), max_chars=120)
    if st.form_submit_button(viewer.t("usr.team_create")):
        attempt(
            lambda s, a: accounts.create_team(s, a, team_name),
            viewer.t("usr.team_created", name=md(team_name.strip())),
        )
with c2, st.form("usr.move"):
    st.caption(viewer.t("usr.move"))
    move_agent = st.selectbox(viewer.t("usr.move_agent"), list(agents), format_func=agent_label)
    move_team = st.selectbox(
        viewer.t("usr.move_team"),
        [None, *teams],
        format_func=lambda t: viewer.t("usr.no_team") if t is None else teams[t],
    )
    if st.form_submit_button(viewer.t("usr.move_btn")) and move_agent is not None:
        attempt(
            lambda s, a: accounts.move_agent(s, a, move_agent, move_team),
            viewer.t("usr.moved"),
        )
