"""A small world for the reviewer and agent page tests (real services, real database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from qa import db
from qa.models import ReviewAssignment, User, utcnow
from qa.services import rubrics as rubric_service
from qa.services.reviews import save_review, start_review
from rubrics import Answer
from tests import factories as f
from tests.ui.conftest import APP

HOSTILE = 'Hi <script>alert("x")</script><img src=x onerror=alert(1)> refund \u202e001\u202c'
ARABIC = "هذا مش شغلي، كان لازم تقرأ الشروط."


@dataclass
class World:
    url: str
    users: dict[str, int]
    queued: int  # interaction in the reviewer's queue (agent A, hostile transcript)
    arabic_queued: int  # Arabic interaction in the Arabic reviewer's queue
    other_review: int  # submitted review of agent B
    mine_review: int  # submitted review of agent A
    mine_comment: str
    other_comment: str
    reviewed_at: datetime


def full_answers(session: Session, **values: float) -> dict[str, Answer]:
    rubric = rubric_service.rubric_of(rubric_service.latest_version(session))
    return {c.id: Answer(value=values.get(c.id, c.max_value)) for _, c in rubric.all_criteria()}


def build(engine: Engine, url: str) -> World:
    with db.session_scope(engine) as s:
        users = {u.username: u for u in s.scalars(select(User))}
        team = f.team(s, "Team A")
        agent_a = f.agent(s, team_=team, name="Sam <b>Bold</b>")
        agent_b = f.agent(s, team_=team, name="Bea Other")
        users["agent"].agent_id = agent_a.id
        users["agent"].team_id = team.id
        users["agent_b"] = f.user(s, role="agent", agent_=agent_b, username="agent_b")
        users["reviewer2"] = f.user(s, role="reviewer", username="reviewer2")
        queued = f.interaction(
            s,
            agent_=agent_a,
            turns=[
                ("agent", HOSTILE, 0.0, 3.0),
                ("customer", "My bill is wrong.", 3.5, 5.0),
                ("system", "Call transferred", 5.0, 5.0),
            ],
            started_at=datetime(2026, 10, 15, 9, tzinfo=UTC),
        )
        arabic = f.interaction(
            s,
            agent_=agent_a,
            language="ar",
            turns=[("agent", "السلام عليكم، معك سام.", 0.0, 2.0), ("agent", ARABIC, 4.0, 8.0)],
        )
        s.add(ReviewAssignment(interaction_id=queued.id, reviewer_id=users["reviewer"].id,
                               period="2026-10"))  # fmt: skip
        s.add(ReviewAssignment(interaction_id=arabic.id, reviewer_id=users["arabic"].id,
                               period="2026-10"))  # fmt: skip
        reviews = {}
        reviewed_at = utcnow() - timedelta(hours=1)  # inside the agent pages' recent months
        for name, agent_ in (("mine", agent_a), ("other", agent_b)):
            inter = f.interaction(s, agent_=agent_, started_at=reviewed_at)
            review = start_review(s, inter.id, users["reviewer"])
            save_review(
                s,
                review,
                full_answers(s, greeting=0),
                users["reviewer"],
                submit=True,
                comment=f"{name} comment: <i>coach</i> on greeting",
            )
            reviews[name] = review.id
        return World(
            url=url,
            users={name: u.id for name, u in users.items()},
            queued=queued.id,
            arabic_queued=arabic.id,
            other_review=reviews["other"],
            mine_review=reviews["mine"],
            mine_comment="mine comment: <i>coach</i> on greeting",
            other_comment="other comment: <i>coach</i> on greeting",
            reviewed_at=reviewed_at,
        )


def app_as(user_id: int, page: str | None = None, **params: str) -> AppTest:
    """The app signed in as ``user_id`` (no password round trip), optionally on ``page``."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["viewer_id"] = user_id
    at.session_state["login_at"] = utcnow()
    at.run()
    if page is not None:
        at.switch_page(f"qa/ui/pages/{page}.py")
        at.query_params.update(params)
        at.run()
    return at


def html_of(at: AppTest) -> str:
    return "\n".join(h.proto.body for h in at.get("html"))


def text_of(at: AppTest) -> str:
    """Every text the page shows (markdown, captions, alerts, titles, labels)."""
    parts: list[str] = []
    for kind in ("title", "subheader", "markdown", "caption", "info", "error", "warning",
                 "success", "metric", "expander"):  # fmt: skip
        for el in at.get(kind):
            parts.append(str(getattr(el, "value", "") or getattr(el, "label", "")))
            if kind == "metric":
                parts.append(el.label)
    return "\n".join(parts)
