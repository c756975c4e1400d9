"""Reviewer pages in AppTest: queue, review flow, locking, access, escaping, auto-QA display."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from qa import db
from qa.models import AssignmentStatus, Review, ReviewAssignment, ReviewRevision, User, utcnow
from qa.services import autoqa
from qa.services import rubrics as rubric_service
from qa.services.reviews import save_review
from qa.ui.i18n import fmt_percent
from rubrics import Answer, score
from tests.ui.conftest import APP
from tests.ui.seed import ARABIC, HOSTILE, World, app_as, build, full_answers, html_of, text_of


@pytest.fixture
def world(app_db: str, fresh_engine: Engine) -> World:
    return build(fresh_engine, app_db)


def _answer_all(at: AppTest, skip: str | None = None) -> None:
    for radio in at.radio:
        if radio.key and radio.key.endswith(f":{skip}:v"):
            continue
        if radio.key and radio.key.endswith(":v") and not radio.disabled:
            radio.set_value(1 if "Yes" in radio.options else int(radio.options[-1]))


def _radio(at: AppTest, criterion: str):  # type: ignore[no-untyped-def]
    return next(r for r in at.radio if r.key and r.key.endswith(f":{criterion}:v"))


def test_queue_opens_the_review_page_with_escaped_transcript(world: World) -> None:
    at = app_as(world.users["reviewer"], "queue")
    assert not at.exception
    shown = text_of(at)
    assert "Sam \\<b\\>Bold\\</b\\>" in shown  # the agent's name is text, not markup
    at.button(key=f"queue-open-{world.queued}").click().run()
    assert not at.exception
    assert at.query_params == {"interaction": str(world.queued)}
    page = html_of(at)
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "onerror=alert(1)&gt;" in page  # visible as text only
    assert "[U+202E]" in page and "\u202e" not in page
    assert 'class="jq-turn jq-system"' in page and 'dir="auto"' in page
    assert "Not analysed yet" in text_of(at)
    assert HOSTILE.split("<")[0] in page


def test_review_flow_draft_submit_edit_and_conflict(world: World, fresh_engine: Engine) -> None:
    at = app_as(world.users["reviewer"], "review", interaction=str(world.queued))
    assert not at.exception and len(at.radio) == 17
    assert at.metric[0].value == "—"
    _radio(at, "greeting").set_value(1)
    _radio(at, "no_rude_language").set_value(1)
    at.run()
    assert at.metric[0].value == "100.0%"  # live score over what is answered so far
    _radio(at, "no_rude_language").set_value(0)
    at.run()
    assert at.metric[0].value == "0.0%"
    assert "Automatic fail: No rude, dismissive or blaming language" in at.error[0].value

    at.button(key=f"rv:i{world.queued}:b-draft").click().run()
    assert not at.exception
    assert at.success[0].value == "Draft saved."
    with db.session_scope(fresh_engine) as s:
        review = s.scalar(select(Review).where(Review.interaction_id == world.queued))
        assert review is not None and review.status == "draft"
        assert {a.criterion_id for a in review.answers} == {"greeting", "no_rude_language"}

    # Submitting with an unanswered criterion: refused, every missing field marked.
    _radio(at, "no_rude_language").set_value(1)
    _answer_all(at, skip="courtesy")
    at.run()
    at.button(key=f"rv:i{world.queued}:b-submit").click().run()
    assert any("cannot be submitted yet: 1 answer(s)" in e.value for e in at.error)
    assert "Please answer this" in [e.value for e in at.error]
    _radio(at, "courtesy").set_value(4)
    at.run()
    assert "Please answer this" not in [e.value for e in at.error]
    at.button(key=f"rv:i{world.queued}:b-submit").click().run()
    assert not at.exception
    assert at.success[0].value == "Review submitted."
    with db.session_scope(fresh_engine) as s:
        review = s.scalar(select(Review).where(Review.interaction_id == world.queued))
        assert review is not None and review.status == "submitted"
        assignment = s.scalar(
            select(ReviewAssignment).where(ReviewAssignment.interaction_id == world.queued)
        )
        assert assignment is not None and assignment.status == AssignmentStatus.done.value
        review_id, lock = review.id, review.lock_version

    # Editing a submitted review keeps history.
    _radio(at, "courtesy").set_value(3)
    at.text_input(key=f"rv:i{world.queued}:reason").input("typo")
    at.run()
    at.button(key=f"rv:i{world.queued}:b-save").click().run()
    assert at.success[0].value.startswith("Changes saved")
    assert "History (1 earlier versions)" in [e.label for e in at.expander]

    # Someone else saves meanwhile: our save is refused, our answers stay on screen.
    with db.session_scope(fresh_engine) as s:
        lead = s.scalar(select(User).where(User.username == "qa_lead"))
        review = s.get(Review, review_id)
        assert lead is not None and review is not None and review.lock_version > lock
        save_review(s, review, full_answers(s, courtesy=1), lead)
    _radio(at, "courtesy").set_value(5)
    at.run()
    at.button(key=f"rv:i{world.queued}:b-save").click().run()
    assert any("Someone else changed this review" in e.value for e in at.error)
    assert _radio(at, "courtesy").value == 5
    with db.session_scope(fresh_engine) as s:
        answer = {a.criterion_id: a.value for a in s.get(Review, review_id).answers}  # type: ignore[union-attr]
        assert answer["courtesy"] == 1
        assert len(s.scalars(select(ReviewRevision)).all()) == 2
    at.button(key=f"rv:i{world.queued}:b-reload").click().run()
    assert _radio(at, "courtesy").value == 1


def test_access_is_refused_by_page_and_by_parameter(world: World) -> None:
    # A reviewer without the assignment gets nothing, by interaction or unknown review id.
    at = app_as(world.users["reviewer2"], "review", interaction=str(world.queued))
    assert "does not exist or you may not open it" in at.error[0].value
    assert not at.radio and HOSTILE[:8] not in html_of(at)
    # A trainer can read a submitted review but not change it; no buttons to submit.
    at = app_as(world.users["trainer"], "review", review=str(world.other_review))
    assert "Read-only" in at.info[0].value
    assert at.radio and all(r.disabled for r in at.radio)
    assert not [b for b in at.button if b.key and ":b-" in b.key]
    at.query_params.clear()
    at.query_params["interaction"] = str(world.queued)
    at.run()
    assert "does not exist or you may not open it" in at.error[0].value
    # An agent has no review page in the navigation at all ...
    at = app_as(world.users["agent"])
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("qa/ui/pages/review.py")
    # ... and the page refuses them itself if its script is run anyway.
    page = AppTest.from_file(str(Path(APP).parent / "qa/ui/pages/review.py"), default_timeout=60)
    page.session_state["viewer_id"] = world.users["agent"]
    page.session_state["login_at"] = utcnow()
    page.query_params["review"] = str(world.other_review)
    page.run()
    assert page.error[0].value == "You do not have access to this page."
    assert not page.radio and world.other_comment not in text_of(page) + html_of(page)


def test_arabic_reviewer_sees_rtl_arabic_rubric_and_flags(
    world: World, fresh_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = ARABIC.index("مش شغلي")
    analysis = autoqa.InteractionAnalysis(
        interaction_id=world.arabic_queued,
        lexicon_version="test",
        flags=[
            autoqa.Flag(
                turn=1,
                behavior="dismissive",
                polarity="avoid",
                rule="ar.dismissive.1",
                start=start,
                end=start + len("مش شغلي"),
                text="مش شغلي",
                suggestion="خليني أساعدك",
            )
        ],
        findings=[autoqa.Finding("missing_closing", "no closing phrase in the last agent turn")],
        metrics={"first_response_s": 14.2, "talk_ratio": 1.5},
        suggestions={
            "greeting": autoqa.Suggestion(
                "greeting", 1, False, 0.9, [autoqa.Reason("flag", "greeting on turn 0", turn=0)]
            ),
            "no_arguing": autoqa.Suggestion("no_arguing", 0, False, 0.7, []),
        },
    )
    monkeypatch.setattr(
        autoqa, "analysis_for", lambda _s, iid: analysis if iid == world.arabic_queued else None
    )
    at = app_as(world.users["arabic"], "review", interaction=str(world.arabic_queued))
    assert not at.exception
    assert at.title[0].value.startswith("مراجعة")
    assert _radio(at, "greeting").label == "**رحّب بالعميل**"
    assert _radio(at, "greeting").value == 1  # pre-filled from the suggestion
    assert _radio(at, "no_arguing").value == 0
    shown = text_of(at)
    assert "يقترح الفحص الآلي" in shown and "عُبّئت الإجابات مسبقاً" in shown
    assert "لا يوجد ختام" in shown
    page = html_of(at)
    assert (
        '<mark class="jq-flag jq-avoid" title="عدم اكتراث · يُتجنَّب · بدلاً من ذلك: خليني أساعدك">مش شغلي</mark>'
        in page
    )
    assert "٠:٠٤" in page  # turn time with Arabic digits
    table = at.dataframe[0].value
    assert "أول رد (ث)" in table.iloc[:, 0].tolist()
    assert "يتجاوز الحد" in table.iloc[:, 3].tolist()  # 14.2 s > 10 s call threshold
    with db.session_scope(fresh_engine) as s:
        rubric = rubric_service.rubric_of(rubric_service.latest_version(s))
    expected = score(rubric, {"greeting": Answer(1), "no_arguing": Answer(0)}, partial=True)
    assert at.metric[0].value == fmt_percent(expected.overall, "ar")


def test_review_picker_lists_own_reviews(world: World) -> None:
    at = app_as(world.users["reviewer"], "review")
    assert not at.exception
    assert "Open an interaction from your queue" in at.info[0].value
    at.button(key=f"rv-open-{world.mine_review}").click().run()
    assert at.query_params == {"review": str(world.mine_review)}
    assert [b for b in at.button if b.key == f"rv:r{world.mine_review}:b-save"]


def test_every_label_of_these_pages_has_english_and_arabic_with_the_same_fields() -> None:
    import ast
    import string

    root = Path(APP).parent / "qa" / "ui"
    files = [root / "render.py", root / "registry.py"] + [
        root / "pages" / f"{name}.py" for name in ("queue", "review", "my_scores", "my_reviews")
    ]
    seen = 0
    for file in files:
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "register":
                for key, texts in ast.literal_eval(node.args[0]).items():
                    assert set(texts) == {"en", "ar"}, f"{file.name}: {key}"
                    assert all(texts.values()), f"{file.name}: {key} is empty"
                    fields = [
                        {f for _, f, _, _ in string.Formatter().parse(texts[lang]) if f}
                        for lang in ("en", "ar")
                    ]
                    assert fields[0] == fields[1], f"{file.name}: {key} placeholders differ"
                    seen += 1
    assert seen > 150


def test_submit_and_edit_refresh_the_cached_dashboard(world: World) -> None:
    """The dashboard's cached figures are dropped when a review is submitted or edited."""
    from qa.ui.cache import clear_dashboard_cache, dashboard_data
    from qa.ui.session import settings

    clear_dashboard_cache()
    october = (2026, 10)  # the queued interaction took place on 15 October

    def figures() -> tuple[int, float | None]:
        board, _trend = dashboard_data(
            world.url, settings().timezone, "qa_lead", october, october, (), (), ()
        )
        return board.summary.reviews, board.summary.avg_score

    before, _ = figures()
    at = app_as(world.users["reviewer"], "review", interaction=str(world.queued))
    _answer_all(at)
    at.run()
    at.button(key=f"rv:i{world.queued}:b-draft").click().run()
    assert at.success[0].value == "Draft saved."
    assert figures()[0] == before  # drafts never count (and the cache was kept)
    at.button(key=f"rv:i{world.queued}:b-submit").click().run()
    assert at.success[0].value == "Review submitted."
    reviews, average = figures()
    assert reviews == before + 1
    _radio(at, "greeting").set_value(0)
    at.text_input(key=f"rv:i{world.queued}:reason").input("missed the greeting")
    at.run()
    at.button(key=f"rv:i{world.queued}:b-save").click().run()
    assert at.success[0].value.startswith("Changes saved")
    edited_reviews, edited_average = figures()
    assert edited_reviews == reviews
    assert edited_average is not None and average is not None and edited_average < average
