"""Which pages exist and who may open them. ``streamlit_app.py`` routes from this list.

Pages are Streamlit scripts in ``qa/ui/pages/``. A page is listed for a role
only when the role may use it; every page still checks the role itself (and
the services check permissions again), so a hand-typed URL gets nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from qa.models import Role
from qa.ui.i18n import register

# Navigation labels are needed before any page runs, so they live here.
register(
    {
        "nav.home": {"en": "Home", "ar": "الرئيسية"},
        "nav.group.main": {"en": "Jawda", "ar": "جودة"},
    }
)

PAGES_DIR = Path(__file__).parent / "pages"
ALL = frozenset(r.value for r in Role)
LEADS = frozenset({Role.qa_lead.value, Role.admin.value})
REVIEWERS = frozenset({Role.reviewer.value, Role.qa_lead.value, Role.admin.value})


@dataclass(frozen=True)
class PageSpec:
    url_path: str
    file: str  # file name in qa/ui/pages/
    title: str  # i18n key
    icon: str
    roles: frozenset[str]
    group: str  # i18n key of the navigation group

    @property
    def path(self) -> Path:
        return PAGES_DIR / self.file


PAGES: list[PageSpec] = [
    PageSpec("home", "home.py", "nav.home", ":material/home:", ALL, "nav.group.main"),
]

# ---- QA lead and admin pages (ui-lead) ------------------------------------------------
register(
    {
        "nav.group.lead": {"en": "Quality management", "ar": "إدارة الجودة"},
        "nav.group.admin": {"en": "Administration", "ar": "الإدارة"},
        "nav.lead_dashboard": {"en": "Team dashboard", "ar": "لوحة الفريق"},
        "nav.lead_rubrics": {"en": "Rubrics", "ar": "نماذج التقييم"},
        "nav.lead_import": {"en": "Import interactions", "ar": "استيراد التفاعلات"},
        "nav.lead_sampling": {"en": "Sampling and queues", "ar": "العينات وقوائم المراجعة"},
        "nav.admin_users": {"en": "Users and teams", "ar": "المستخدمون والفرق"},
    }
)
DASHBOARD_READERS = LEADS | {Role.trainer.value}
ADMINS = frozenset({Role.admin.value})
PAGES += [
    PageSpec(
        "team-dashboard",
        "lead_dashboard.py",
        "nav.lead_dashboard",
        ":material/monitoring:",
        DASHBOARD_READERS,
        "nav.group.lead",
    ),
    PageSpec(
        "rubrics", "lead_rubrics.py", "nav.lead_rubrics", ":material/rule:", LEADS, "nav.group.lead"
    ),
    PageSpec(
        "import",
        "lead_import.py",
        "nav.lead_import",
        ":material/upload_file:",
        LEADS,
        "nav.group.lead",
    ),
    PageSpec(
        "sampling",
        "lead_sampling.py",
        "nav.lead_sampling",
        ":material/playlist_add_check:",
        LEADS,
        "nav.group.lead",
    ),
    PageSpec(
        "users",
        "admin_users.py",
        "nav.admin_users",
        ":material/manage_accounts:",
        ADMINS,
        "nav.group.admin",
    ),
]


def pages_for(role: str) -> list[PageSpec]:
    return [p for p in PAGES if role in p.roles]
