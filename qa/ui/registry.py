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


# Reviewer and agent pages (issue #4).
register(
    {
        "nav.group.review": {"en": "Reviewing", "ar": "المراجعة"},
        "nav.group.me": {"en": "My performance", "ar": "أدائي"},
        "nav.queue": {"en": "My queue", "ar": "قائمة انتظاري"},
        "nav.review": {"en": "Review", "ar": "المراجعة"},
        "nav.my_scores": {"en": "My scores", "ar": "درجاتي"},
        "nav.my_reviews": {"en": "My reviews", "ar": "مراجعاتي"},
    }
)
AGENTS = frozenset({Role.agent.value})
REVIEW_PAGE = REVIEWERS | {Role.trainer.value}

PAGES: list[PageSpec] = [
    PageSpec("home", "home.py", "nav.home", ":material/home:", ALL, "nav.group.main"),
    PageSpec("queue", "queue.py", "nav.queue", ":material/inbox:", REVIEWERS, "nav.group.review"),
    PageSpec(
        "review",
        "review.py",
        "nav.review",
        ":material/rate_review:",
        REVIEW_PAGE,
        "nav.group.review",
    ),
    PageSpec(
        "my-scores", "my_scores.py", "nav.my_scores", ":material/insights:", AGENTS, "nav.group.me"
    ),
    PageSpec(
        "my-reviews", "my_reviews.py", "nav.my_reviews", ":material/task:", AGENTS, "nav.group.me"
    ),
]


# ---- calibration, disputes, notifications, audit log (trust) ---------------------------
register(
    {
        "nav.group.calibration": {"en": "Calibration", "ar": "المعايرة"},
        "nav.group.disputes": {"en": "Disputes and messages", "ar": "الاعتراضات والرسائل"},
        "nav.group.admin": {"en": "Administration", "ar": "الإدارة"},
        "nav.calibration_manage": {"en": "Calibration sessions", "ar": "جلسات المعايرة"},
        "nav.calibration_score": {
            "en": "My calibration sessions",
            "ar": "جلسات المعايرة الخاصة بي",
        },
        "nav.calibration_report": {"en": "Calibration reports", "ar": "تقارير المعايرة"},
        "nav.calibration_trend": {"en": "Alignment over time", "ar": "التوافق عبر الزمن"},
        "nav.disputes_mine": {"en": "My disputes", "ar": "اعتراضاتي"},
        "nav.disputes_queue": {"en": "Disputes", "ar": "الاعتراضات"},
        "nav.disputes_reviewer": {"en": "Disputes on my reviews", "ar": "الاعتراضات على مراجعاتي"},
        "nav.notifications": {"en": "Notifications", "ar": "الإشعارات"},
        "nav.audit_log": {"en": "Audit log", "ar": "سجل التدقيق"},
    }
)
CALIBRATION_READERS = REVIEWERS | {Role.trainer.value}
PAGES += [
    PageSpec(
        "calibration-sessions",
        "calibration_manage.py",
        "nav.calibration_manage",
        ":material/tune:",
        LEADS,
        "nav.group.calibration",
    ),
    PageSpec(
        "my-calibration",
        "calibration_score.py",
        "nav.calibration_score",
        ":material/visibility_off:",
        REVIEWERS,
        "nav.group.calibration",
    ),
    PageSpec(
        "calibration-reports",
        "calibration_report.py",
        "nav.calibration_report",
        ":material/insights:",
        CALIBRATION_READERS,
        "nav.group.calibration",
    ),
    PageSpec(
        "alignment",
        "calibration_trend.py",
        "nav.calibration_trend",
        ":material/trending_up:",
        CALIBRATION_READERS,
        "nav.group.calibration",
    ),
    PageSpec(
        "my-disputes",
        "disputes_mine.py",
        "nav.disputes_mine",
        ":material/gavel:",
        frozenset({Role.agent.value}),
        "nav.group.disputes",
    ),
    PageSpec(
        "disputes",
        "disputes_queue.py",
        "nav.disputes_queue",
        ":material/gavel:",
        LEADS,
        "nav.group.disputes",
    ),
    PageSpec(
        "review-disputes",
        "disputes_reviewer.py",
        "nav.disputes_reviewer",
        ":material/gavel:",
        frozenset({Role.reviewer.value}),
        "nav.group.disputes",
    ),
    PageSpec(
        "notifications",
        "notifications.py",
        "nav.notifications",
        ":material/notifications:",
        ALL,
        "nav.group.disputes",
    ),
    PageSpec(
        "audit-log",
        "audit_log.py",
        "nav.audit_log",
        ":material/history:",
        frozenset({Role.admin.value}),
        "nav.group.admin",
    ),
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
        "nav.lead_lexicon": {"en": "Lexicon test box", "ar": "تجربة العبارات"},
        "role.admin": {"en": "Admin", "ar": "مدير النظام"},
        "role.qa_lead": {"en": "QA lead", "ar": "قائد الجودة"},
        "role.reviewer": {"en": "Reviewer", "ar": "مراجع"},
        "role.trainer": {"en": "Trainer", "ar": "مدرّب"},
        "role.agent": {"en": "Agent", "ar": "موظف"},
    }
)
DASHBOARD_READERS = LEADS | {Role.trainer.value}
ADMINS = frozenset({Role.admin.value})
LEXICON_TESTERS = LEADS | {Role.trainer.value}
PAGES += [
    PageSpec(
        "lexicon",
        "lead_lexicon.py",
        "nav.lead_lexicon",
        ":material/spellcheck:",
        LEXICON_TESTERS,
        "nav.group.lead",
    ),
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


# ---- coaching sessions and scorecard downloads (coach) ---------------------------------
register(
    {
        "nav.group.coaching": {"en": "Coaching", "ar": "التدريب"},
        "nav.coaching_flags": {"en": "Recommendations", "ar": "التوصيات"},
        "nav.coaching_sessions": {"en": "Coaching sessions", "ar": "جلسات التدريب"},
        "nav.coaching_history": {"en": "Agent coaching history", "ar": "سجل تدريب الموظف"},
        "nav.scorecards": {"en": "Scorecards", "ar": "بطاقات الأداء"},
        "nav.my_coaching": {"en": "My coaching", "ar": "تدريبي"},
        "nav.my_scorecards": {"en": "My scorecards", "ar": "بطاقات أدائي"},
    }
)
COACHES = LEADS | {Role.trainer.value}
PAGES += [
    PageSpec(
        "coaching-flags",
        "coaching_flags.py",
        "nav.coaching_flags",
        ":material/flag:",
        COACHES,
        "nav.group.coaching",
    ),
    PageSpec(
        "coaching-sessions",
        "coaching_sessions.py",
        "nav.coaching_sessions",
        ":material/event:",
        COACHES,
        "nav.group.coaching",
    ),
    PageSpec(
        "coaching-history",
        "coaching_history.py",
        "nav.coaching_history",
        ":material/history_edu:",
        COACHES,
        "nav.group.coaching",
    ),
    # One page file, two entries: agents see their own under "My performance",
    # managers pick an agent under "Coaching". Roles do not overlap.
    PageSpec(
        "scorecards",
        "my_scorecards.py",
        "nav.scorecards",
        ":material/picture_as_pdf:",
        COACHES,
        "nav.group.coaching",
    ),
    PageSpec(
        "my-coaching",
        "my_coaching.py",
        "nav.my_coaching",
        ":material/school:",
        AGENTS,
        "nav.group.me",
    ),
    PageSpec(
        "my-scorecards",
        "my_scorecards.py",
        "nav.my_scorecards",
        ":material/picture_as_pdf:",
        AGENTS,
        "nav.group.me",
    ),
]
