"""Scoring: hand-computed examples, every ANS error code, and properties over random rubrics."""

from __future__ import annotations

import copy
import json
import math
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rubrics import (
    ANSWER_ERROR_CODES,
    Answer,
    AnswerError,
    AnswerErrors,
    Rubric,
    load_rubric,
    score,
)

PROPERTY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


# ---------------------------------------------------------------- the worked example in docs/scoring.md

WORKED_EXAMPLE = textwrap.dedent(
    """\
    key: worked_example
    name: {en: Worked example, ar: مثال محلول}
    sections:
      - id: conduct
        name: {en: Conduct, ar: السلوك}
        weight: 60
        criteria:
          - id: greeting
            type: yes_no
            label: {en: Greeted the customer, ar: رحّب بالعميل}
            description: {en: Greeting, ar: الترحيب}
            guidance: {en: Yes or no, ar: نعم أو لا}
          - id: courtesy
            type: scale
            weight: 2
            label: {en: Courtesy, ar: اللباقة}
            description: {en: Courtesy, ar: اللباقة}
            guidance: {en: 1 to 5, ar: من ١ إلى ٥}
          - id: apology
            type: yes_no
            allow_na: true
            label: {en: Apologised, ar: اعتذر}
            description: {en: Apology, ar: الاعتذار}
            guidance: {en: "Yes, no or N/A", ar: نعم أو لا أو لا ينطبق}
      - id: handling
        name: {en: Handling, ar: المعالجة}
        weight: 40
        criteria:
          - id: knowledge
            type: points
            max_points: 10
            label: {en: Knowledge, ar: المعرفة}
            description: {en: Knowledge, ar: المعرفة}
            guidance: {en: 0 to 10 points, ar: من ٠ إلى ١٠ نقاط}
          - id: speed
            type: scale
            weight: 3
            label: {en: Speed, ar: السرعة}
            description: {en: Speed, ar: السرعة}
            guidance: {en: 1 to 5, ar: من ١ إلى ٥}
    """
)
WORKED_ANSWERS = {
    "greeting": Answer(1),
    "courtesy": Answer(4),
    "apology": Answer(None, na=True),
    "knowledge": Answer(6),
    "speed": Answer(2),
}


def test_worked_example_from_the_docs() -> None:
    result = score(load_rubric(WORKED_EXAMPLE), WORKED_ANSWERS)
    pcts = {cid: c.pct for cid, c in result.criteria.items()}
    assert pcts == {
        "greeting": 100.0,
        "courtesy": 75.0,
        "apology": None,
        "knowledge": 60.0,
        "speed": 25.0,
    }
    assert close(result.sections["conduct"].score, 250 / 3)  # (1*100 + 2*75) / 3 = 83.33
    assert close(result.sections["handling"].score, 33.75)  # (1*60 + 3*25) / 4
    # Nominal shares 0.15, 0.30, (0.15 N/A), 0.10, 0.30; renormalised over 0.85.
    assert close(result.overall, 60.0)  # (15 + 22.5 + 6 + 7.5) / 0.85
    shares = {cid: c.contribution for cid, c in result.criteria.items()}
    assert close(shares["greeting"], 0.15 / 0.85) and close(shares["courtesy"], 0.30 / 0.85)
    assert close(shares["knowledge"], 0.10 / 0.85) and close(shares["speed"], 0.30 / 0.85)
    assert shares["apology"] is None
    assert (result.criteria["courtesy"].earned, result.criteria["courtesy"].possible) == (1.5, 2.0)
    assert result.criteria["apology"].earned is None and result.criteria["apology"].na
    assert result.complete and result.missing == [] and not result.auto_fail


def test_worked_example_with_a_critical_section_criterion() -> None:
    text = WORKED_EXAMPLE.replace(
        "        weight: 3\n", "        weight: 3\n        critical: section\n        fail_at: 2\n"
    )
    result = score(load_rubric(text), WORKED_ANSWERS)
    handling = result.sections["handling"]
    assert (handling.score, handling.failed_criterion) == (0.0, "speed")
    assert handling.reason == "Critical criterion failed: Speed (speed); section scored 0"
    assert close(result.overall, 37.5 / 0.85)  # (15 + 22.5 + 0 + 0) / 0.85 = 44.12
    assert not result.auto_fail and result.auto_fail_reason is None


def test_worked_example_with_a_critical_review_criterion() -> None:
    text = WORKED_EXAMPLE.replace(
        "        type: yes_no\n        label: {en: Greeted",
        "        type: yes_no\n        critical: review\n        label: {en: Greeted",
    )
    answers = {**WORKED_ANSWERS, "greeting": Answer(0)}
    result = score(load_rubric(text), answers)
    assert result.overall == 0.0 and result.auto_fail
    assert result.auto_fail_reason == "Critical criterion failed: Greeted the customer (greeting)"
    # Section scores stay informative for coaching.
    assert close(result.sections["conduct"].score, 50.0)  # (1*0 + 2*75) / 3
    assert result.criteria["greeting"].critical_failed


# ---------------------------------------------------------------- small hand-made rubrics


def text(label: str) -> dict[str, str]:
    return {"en": label, "ar": "معيار " + label}


def crit(cid: str, kind: str, weight: float = 1.0, **extra: Any) -> dict[str, Any]:
    return {
        "id": cid,
        "type": kind,
        "weight": weight,
        "label": text(f"Criterion {cid}"),
        "description": text("d"),
        "guidance": text("g"),
        **extra,
    }


def rubric_of(*sections: tuple[str, float, list[dict[str, Any]]]) -> Rubric:
    return Rubric.from_definition(
        {
            "key": "t",
            "name": text("t"),
            "sections": [
                {"id": sid, "name": text(sid), "weight": w, "criteria": cs}
                for sid, w, cs in sections
            ],
        }
    )


def test_percent_per_criterion_type() -> None:
    rubric = rubric_of(
        (
            "s",
            1,
            [
                crit("yn", "yes_no"),
                crit("sc", "scale", scale={"min": 0, "max": 10}),
                crit("pt", "points", max_points=8),
            ],
        )
    )
    result = score(rubric, {"yn": Answer(True), "sc": Answer(3), "pt": Answer(2)})
    assert [result.criteria[c].pct for c in ("yn", "sc", "pt")] == [100.0, 30.0, 25.0]
    assert close(result.overall, (100 + 30 + 25) / 3)


def test_nothing_scorable_gives_no_overall() -> None:
    rubric = rubric_of(
        ("a", 1, [crit("x", "yes_no", allow_na=True)]),
        ("b", 2, [crit("y", "scale", allow_na=True)]),
    )
    result = score(rubric, {"x": Answer(None, na=True), "y": Answer(None, na=True)})
    assert result.overall is None and result.complete
    assert result.sections["a"].score is None and result.sections["b"].score is None
    assert result.sections["b"].weight == 2.0
    draft = score(rubric, {}, partial=True)
    assert draft.overall is None and not draft.complete and draft.missing == ["x", "y"]


def test_partial_scores_a_draft_from_what_is_answered() -> None:
    rubric = rubric_of(
        ("a", 1, [crit("x", "yes_no"), crit("y", "yes_no", 3)]), ("b", 1, [crit("z", "yes_no")])
    )
    result = score(rubric, {"y": Answer(1), "z": Answer(0), "x": Answer(None)}, partial=True)
    assert result.missing == ["x"] and not result.complete
    assert result.sections["a"].score == 100.0 and result.sections["b"].score == 0.0
    # Unanswered x drops out like N/A: shares y 0.375, z 0.5 renormalised over 0.875.
    assert close(result.overall, 100 * 0.375 / 0.875)
    assert result.criteria["x"].pct is None and not result.criteria["x"].na


def test_several_critical_review_failures_are_all_named() -> None:
    rubric = rubric_of(
        (
            "a",
            1,
            [
                crit("x", "yes_no", critical="review"),
                crit("y", "scale", critical="review", fail_at=2),
            ],
        ),
    )
    result = score(rubric, {"x": Answer(0), "y": Answer(2)})
    assert result.auto_fail_reason == (
        "Critical criterion failed: Criterion x (x); Criterion y (y)"
    )
    passing = score(rubric, {"x": Answer(1), "y": Answer(3)})
    assert not passing.auto_fail and passing.overall == 75.0


def test_review_critical_failure_counts_even_in_a_partial_review() -> None:
    rubric = rubric_of(("a", 1, [crit("x", "yes_no", critical="review"), crit("y", "yes_no")]))
    result = score(rubric, {"x": Answer(0)}, partial=True)
    assert result.auto_fail and result.overall == 0.0 and result.missing == ["y"]


def test_to_dict_is_json_safe() -> None:
    result = score(load_rubric(WORKED_EXAMPLE), WORKED_ANSWERS)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["overall"] == result.overall
    assert data["sections"]["handling"] == {
        "score": 33.75,
        "weight": 40.0,
        "failed_criterion": None,
        "reason": None,
    }
    assert data["criteria"]["apology"]["na"] is True
    assert set(data) == {
        "overall",
        "sections",
        "criteria",
        "auto_fail",
        "auto_fail_reason",
        "complete",
        "missing",
    }


# ---------------------------------------------------------------- answer errors


ERRORS_RUBRIC = rubric_of(
    (
        "s",
        1,
        [
            crit("yn", "yes_no"),
            crit("sc", "scale"),
            crit("pt", "points", max_points=10),
            crit("na_ok", "yes_no", allow_na=True),
        ],
    )
)
VALID = {"yn": Answer(1), "sc": Answer(3), "pt": Answer(7.5), "na_ok": Answer(None, na=True)}


def errors_of(answers: dict[str, Answer], *, partial: bool = False) -> list[tuple[str, str]]:
    with pytest.raises(AnswerErrors) as caught:
        score(ERRORS_RUBRIC, answers, partial=partial)
    for problem in caught.value.problems:
        assert isinstance(problem, AnswerError)
    return [(p.code, p.criterion_id) for p in caught.value.problems]


def test_valid_answers_score() -> None:
    assert close(score(ERRORS_RUBRIC, VALID).overall, (100 + 50 + 75) / 3)


def test_every_answer_code_is_documented() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "scoring.md").read_text(
        encoding="utf-8"
    )
    for code in ANSWER_ERROR_CODES:
        assert f"| {code} |" in doc, code


def test_ans001_unknown_criterion() -> None:
    assert errors_of({**VALID, "ghost": Answer(1)}) == [("ANS001", "ghost")]


@pytest.mark.parametrize(
    ("criterion", "value"),
    [
        ("yn", 0.5),
        ("yn", 2),
        ("yn", -1),
        ("sc", 2.5),
        ("sc", 0),
        ("sc", 6),
        ("pt", -0.1),
        ("pt", 10.5),
        ("pt", math.nan),
        ("pt", math.inf),
        ("sc", "3"),
    ],
)
def test_ans002_value_out_of_range_or_not_allowed(criterion: str, value: Any) -> None:
    assert errors_of({**VALID, criterion: Answer(value)}) == [("ANS002", criterion)]


def test_ans002_messages_say_what_is_allowed() -> None:
    with pytest.raises(AnswerErrors) as caught:
        score(ERRORS_RUBRIC, {**VALID, "sc": Answer(9), "yn": Answer(0.5)})
    messages = {p.criterion_id: p.message for p in caught.value.problems}
    assert messages["sc"] == "must be a whole number from 1 to 5, got 9"
    assert messages["yn"] == "a yes/no answer must be 1 (yes) or 0 (no), got 0.5"


def test_ans003_na_not_allowed() -> None:
    assert errors_of({**VALID, "sc": Answer(None, na=True)}) == [("ANS003", "sc")]


def test_ans004_missing_answers_unless_partial() -> None:
    answers = {k: v for k, v in VALID.items() if k not in ("yn", "pt")}
    answers["pt"] = Answer(None)  # an empty form field counts as unanswered
    assert errors_of(answers) == [("ANS004", "yn"), ("ANS004", "pt")]
    assert score(ERRORS_RUBRIC, answers, partial=True).missing == ["yn", "pt"]


def test_ans005_value_and_na_together() -> None:
    assert errors_of({**VALID, "na_ok": Answer(1, na=True)}) == [("ANS005", "na_ok")]


def test_all_answer_problems_are_raised_together() -> None:
    answers = {
        "ghost": Answer(1),
        "sc": Answer(None, na=True),
        "pt": Answer(11),
        "na_ok": Answer(0, na=True),
    }
    assert errors_of(answers) == [
        ("ANS001", "ghost"),
        ("ANS004", "yn"),
        ("ANS003", "sc"),
        ("ANS002", "pt"),
        ("ANS005", "na_ok"),
    ]
    with pytest.raises(AnswerErrors, match="5 invalid answers"):
        score(ERRORS_RUBRIC, answers)


# ---------------------------------------------------------------- properties over random rubrics

weights = st.floats(min_value=0.01, max_value=1000, allow_nan=False, allow_infinity=False)


@st.composite
def definitions(draw: st.DrawFn, *, critical: bool = False) -> dict[str, Any]:
    """A random valid rubric definition (1-4 sections of 1-4 criteria of any type)."""
    sections = []
    n = 0
    for s in range(draw(st.integers(1, 4))):
        criteria = []
        for _ in range(draw(st.integers(1, 4))):
            kind = draw(st.sampled_from(["yes_no", "scale", "points"]))
            extra: dict[str, Any] = {"allow_na": draw(st.booleans())}
            if kind == "scale":
                low = draw(st.integers(-3, 3))
                extra["scale"] = {"min": low, "max": low + draw(st.integers(1, 6))}
            if kind == "points":
                extra["max_points"] = draw(st.floats(0.5, 100))
            if critical:
                extra["critical"] = draw(st.sampled_from([None, None, "review", "section"]))
            criteria.append(crit(f"c{n}", kind, draw(weights), **extra))
            n += 1
        sections.append(
            {"id": f"s{s}", "name": text(f"s{s}"), "weight": draw(weights), "criteria": criteria}
        )
    return {"key": "generated", "name": text("generated"), "sections": sections}


def draw_value(draw: st.DrawFn, criterion: Any) -> float:
    if criterion.type == "yes_no":
        return draw(st.sampled_from([0, 1]))
    if criterion.type == "scale":
        return draw(st.integers(criterion.scale.min, criterion.scale.max))
    return draw(st.floats(0, criterion.max_points))


def draw_answers(draw: st.DrawFn, rubric: Rubric, *, na: bool = True) -> dict[str, Answer]:
    answers = {}
    for _, criterion in rubric.all_criteria():
        if na and criterion.allow_na and draw(st.booleans()):
            answers[criterion.id] = Answer(None, na=True)
        else:
            answers[criterion.id] = Answer(draw_value(draw, criterion))
    return answers


def all_criteria(definition: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for s in definition["sections"] for c in s["criteria"]]


@PROPERTY
@given(st.data())
def test_scores_stay_in_range_and_shares_sum_to_one(data: st.DataObject) -> None:
    rubric = Rubric.from_definition(data.draw(definitions(critical=True)))
    result = score(rubric, draw_answers(data.draw, rubric))
    for section in result.sections.values():
        assert section.score is None or 0.0 <= section.score <= 100.0
    shares = [c.contribution for c in result.criteria.values() if c.contribution is not None]
    if result.overall is None:
        assert shares == []
        return
    assert 0.0 <= result.overall <= 100.0
    assert math.isclose(sum(shares), 1.0)
    if not any(c.critical_failed for c in result.criteria.values()):
        weighted = sum(
            c.contribution * c.pct for c in result.criteria.values() if c.pct is not None
        )
        assert math.isclose(result.overall, weighted, rel_tol=1e-9, abs_tol=1e-9)


@PROPERTY
@given(st.data())
def test_marking_a_criterion_na_never_changes_other_contribution_ratios(
    data: st.DataObject,
) -> None:
    definition = data.draw(definitions())
    target_def = data.draw(st.sampled_from(all_criteria(definition)))
    target_def["allow_na"] = True
    rubric = Rubric.from_definition(definition)
    target = rubric.criterion(target_def["id"])
    answers = draw_answers(data.draw, rubric)
    answers[target.id] = Answer(draw_value(data.draw, target))
    before = score(rubric, answers)
    after = score(rubric, {**answers, target.id: Answer(None, na=True)})

    assert after.criteria[target.id].contribution is None
    others = [
        cid for cid, c in before.criteria.items() if c.contribution is not None and cid != target.id
    ]
    assume(len(others) >= 2)
    for a in others:
        for b in others:
            ratio_before = before.criteria[a].contribution / before.criteria[b].contribution
            ratio_after = after.criteria[a].contribution / after.criteria[b].contribution
            assert math.isclose(ratio_after, ratio_before, rel_tol=1e-9), (a, b)
    assert math.isclose(sum(c.contribution or 0 for c in after.criteria.values()), 1.0)


@PROPERTY
@given(st.data())
def test_a_failed_review_critical_criterion_fails_the_review(data: st.DataObject) -> None:
    definition = data.draw(definitions())
    target_def = data.draw(st.sampled_from(all_criteria(definition)))
    target_def["critical"] = "review"
    rubric = Rubric.from_definition(definition)
    target = rubric.criterion(target_def["id"])
    answers = draw_answers(data.draw, rubric)
    answers[target.id] = Answer(target.min_value)
    result = score(rubric, answers)
    assert result.overall == 0.0 and result.auto_fail
    assert result.auto_fail_reason is not None
    assert f"{target.label.en} ({target.id})" in result.auto_fail_reason
    answers[target.id] = Answer(target.max_value)
    assert not score(rubric, answers).auto_fail


@PROPERTY
@given(st.data())
def test_a_failed_section_critical_criterion_zeroes_only_its_section(data: st.DataObject) -> None:
    plain_def = data.draw(definitions())
    critical_def = copy.deepcopy(plain_def)
    target_def = data.draw(st.sampled_from(all_criteria(critical_def)))
    target_def["critical"] = "section"
    plain, critical = Rubric.from_definition(plain_def), Rubric.from_definition(critical_def)
    target = critical.criterion(target_def["id"])
    home = critical.section_of(target.id).id
    answers = draw_answers(data.draw, critical)
    answers[target.id] = Answer(target.min_value)

    expected = score(plain, answers)
    result = score(critical, answers)
    assert not result.auto_fail
    assert result.sections[home].score == 0.0
    assert result.sections[home].failed_criterion == target.id
    assert target.id in (result.sections[home].reason or "")
    scored = {sid: s for sid, s in expected.sections.items() if s.score is not None}
    for sid, section in scored.items():
        if sid != home:
            assert result.sections[sid] == section
    # The failed section's criteria count as 0; everything else keeps its contribution.
    others = sum(
        c.contribution * c.pct
        for c in expected.criteria.values()
        if c.contribution is not None and c.section_id != home
    )
    assert math.isclose(result.overall, others, rel_tol=1e-9, abs_tol=1e-9)
    for cid, c in expected.criteria.items():
        assert close(result.criteria[cid].contribution, c.contribution)


@PROPERTY
@given(st.data(), st.floats(0.001, 1000), st.floats(0.001, 1000))
def test_scaling_all_weights_changes_nothing(
    data: st.DataObject, k_section: float, k_criterion: float
) -> None:
    definition = data.draw(definitions(critical=True))
    scaled = copy.deepcopy(definition)
    for section in scaled["sections"]:
        section["weight"] *= k_section
        for criterion in section["criteria"]:
            criterion["weight"] *= k_criterion
    rubric, scaled_rubric = Rubric.from_definition(definition), Rubric.from_definition(scaled)
    answers = draw_answers(data.draw, rubric)
    a, b = score(rubric, answers), score(scaled_rubric, answers)
    assert close(a.overall, b.overall)
    assert (a.auto_fail, a.auto_fail_reason, a.missing) == (
        b.auto_fail,
        b.auto_fail_reason,
        b.missing,
    )
    for sid in a.sections:
        assert close(a.sections[sid].score, b.sections[sid].score)
        assert a.sections[sid].failed_criterion == b.sections[sid].failed_criterion
    for cid, c in a.criteria.items():
        d = b.criteria[cid]
        assert close(c.pct, d.pct) and close(c.contribution, d.contribution)
        if c.earned is not None:
            # earned/possible are in criterion-weight units by definition.
            assert math.isclose(d.earned, c.earned * k_criterion, rel_tol=1e-9, abs_tol=1e-12)
            assert math.isclose(d.possible, c.possible * k_criterion, rel_tol=1e-9)


@PROPERTY
@given(definitions(critical=True))
def test_all_max_is_100_and_all_min_is_0(definition: dict[str, Any]) -> None:
    rubric = Rubric.from_definition(definition)
    best = score(rubric, {c.id: Answer(c.max_value) for _, c in rubric.all_criteria()})
    worst = score(rubric, {c.id: Answer(c.min_value) for _, c in rubric.all_criteria()})
    assert math.isclose(best.overall, 100.0) and not best.auto_fail
    assert worst.overall == 0.0
    for section in rubric.sections:
        assert math.isclose(best.sections[section.id].score, 100.0)
        assert worst.sections[section.id].score == 0.0


@PROPERTY
@given(st.data())
def test_leaving_answers_out_of_a_draft_is_like_na(data: st.DataObject) -> None:
    definition = data.draw(definitions())
    for criterion in all_criteria(definition):
        criterion["allow_na"] = True
    rubric = Rubric.from_definition(definition)
    answers = draw_answers(data.draw, rubric, na=False)
    left_out = data.draw(st.sets(st.sampled_from(sorted(answers))))
    draft = score(rubric, {k: v for k, v in answers.items() if k not in left_out}, partial=True)
    as_na = score(
        rubric, {k: Answer(None, na=True) if k in left_out else v for k, v in answers.items()}
    )
    assert close(draft.overall, as_na.overall)
    assert draft.sections == as_na.sections
    assert set(draft.missing) == left_out and draft.complete == (not left_out)
    assert [c for _, c in rubric.all_criteria() if c.id in left_out] == [
        rubric.criterion(cid) for cid in draft.missing
    ]
