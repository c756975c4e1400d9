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


def pages_for(role: str) -> list[PageSpec]:
    return [p for p in PAGES if role in p.roles]
