"""Agent pages in AppTest: own scores with team average, own reviews, acknowledgement, isolation."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from qa import db
from qa.models import AuditEvent, ReviewAcknowledgement
from qa.ui.i18n import fmt_month
from tests.ui.seed import World, app_as, build, html_of, text_of


@pytest.fixture
def world(app_db: str, fresh_engine: Engine) -> World:
    return build(fresh_engine, app_db)


def test_my_reviews_shows_own_review_only_and_acknowledges(
    world: World, fresh_engine: Engine
) -> None:
    # A hand-made query parameter naming another agent's review changes nothing.
    at = app_as(world.users["agent"], "my_reviews", review=str(world.other_review))
    assert not at.exception
    page = text_of(at) + html_of(at)
    assert "&lt;i&gt;coach&lt;/i&gt;" in html_of(at)  # the comment, escaped
    assert world.other_comment.split(":")[0] not in page
    assert len(at.expander) == 1 and at.expander[0].label.endswith(" · new")
    answers = at.dataframe[0].value
    assert answers.iloc[0].tolist()[:3] == ["Greeted the customer", "No", "0%"]
    assert "not been analysed" in text_of(at)

    at.button(key=f"ack-{world.mine_review}").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("You acknowledged this review on")
    assert not [b for b in at.button if b.key == f"ack-{world.mine_review}"]
    with db.session_scope(fresh_engine) as s:
        acks = s.scalars(select(ReviewAcknowledgement)).all()
        assert [(a.review_id, a.user_id) for a in acks] == [
            (world.mine_review, world.users["agent"])
        ]
        assert s.scalar(select(AuditEvent).where(AuditEvent.action == "acknowledge"))


def test_my_scores_trend_and_criteria_with_team_average(world: World) -> None:
    at = app_as(world.users["agent"], "my_scores")
    assert not at.exception
    monthly = at.dataframe[0].value
    assert list(monthly.columns) == ["Month", "My average", "Reviews", "Team average"]
    when = world.reviewed_at
    month = monthly[monthly["Month"] == fmt_month(when.year, when.month)].iloc[0]
    assert month["Reviews"] == "1"
    # Agent A's review missed the greeting; the team average includes agent B's review too.
    assert month["My average"] == month["Team average"]  # both reviews answered alike
    assert month["My average"] != "—"
    criteria = at.dataframe[1].value
    greeting = criteria[criteria["Criterion"] == "Greeted the customer"].iloc[0]
    assert (greeting["My average"], greeting["Team average"]) == ("0.0%", "0.0%")


def test_arabic_agent_labels_and_other_roles_refused(world: World, fresh_engine: Engine) -> None:
    with db.session_scope(fresh_engine) as s:
        from qa.models import User

        agent = s.get(User, world.users["agent_b"])
        assert agent is not None
        agent.locale = "ar"
    at = app_as(world.users["agent_b"], "my_scores")
    assert not at.exception
    assert at.title[0].value == "درجاتي"
    when = world.reviewed_at
    assert fmt_month(when.year, when.month, "ar") in at.dataframe[0].value.iloc[:, 0].tolist()
    # A reviewer has no agent pages in the navigation.
    at = app_as(world.users["reviewer"])
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("qa/ui/pages/my_reviews.py")
