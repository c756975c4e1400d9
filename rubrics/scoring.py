"""Turn a reviewer's answers into scores: a pure function of (rubric, answers).

Purity matters: a stored review can be re-scored at any time from its rubric
version and answers and must give the same numbers, and the scorecard, the
review form and the calibration reports all share this one definition.
The formula is documented (with a worked example) in ``docs/scoring.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Final

from rubrics.schema import Criterion, Rubric

#: Stable answer error codes (documented in docs/scoring.md).
ANSWER_ERROR_CODES: Final[dict[str, str]] = {
    "ANS001": "answer for a criterion the rubric does not have",
    "ANS002": "value outside the criterion's range or not an allowed value",
    "ANS003": "N/A is not allowed for this criterion",
    "ANS004": "missing answer (and the review is not partial)",
    "ANS005": "a value was given together with N/A",
}


@dataclass(frozen=True, slots=True)
class Answer:
    """A reviewer's answer to one criterion; ``value=None`` and ``na=False`` means unanswered."""

    value: float | None
    na: bool = False
    comment: str | None = None


class AnswerError(Exception):
    """One invalid answer, with a stable code and the criterion it concerns."""

    def __init__(self, code: str, criterion_id: str, message: str) -> None:
        super().__init__(f"{code} {criterion_id}: {message}")
        self.code = code
        self.criterion_id = criterion_id
        self.message = message


class AnswerErrors(Exception):
    """All invalid answers of one submission, raised together so a form can mark every field."""

    def __init__(self, problems: list[AnswerError]) -> None:
        self.problems = problems
        count = len(problems)
        lines = [f"{count} invalid answer{'s' if count != 1 else ''}", *map(str, problems)]
        super().__init__("\n".join(lines))


@dataclass(frozen=True, slots=True)
class CriterionResult:
    """How one criterion scored.

    ``earned``/``possible`` are in criterion-weight units (``pct/100 * weight`` and
    ``weight``) so per-criterion sums across reviews stay meaningful; they are
    ``None`` when the criterion is N/A or unanswered. ``contribution`` is the
    criterion's share of the overall score (its section's share of the scored
    section weight times its share of the section's scored criterion weight);
    over all scored criteria the shares sum to 1, and ``sum(contribution * pct)``
    is the overall score when no critical criterion failed.
    """

    section_id: str
    value: float | None
    na: bool
    earned: float | None
    possible: float | None
    pct: float | None
    contribution: float | None
    critical_failed: bool = False


@dataclass(frozen=True, slots=True)
class SectionResult:
    """A section's score (``None`` when none of its criteria were scored).

    ``failed_criterion`` names a failed ``critical: section`` criterion, which
    forces ``score`` to 0; ``reason`` says so in words for the review screen.
    """

    score: float | None
    weight: float
    failed_criterion: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """Everything the review form, the database and the scorecards need from one review."""

    overall: float | None
    sections: dict[str, SectionResult]
    criteria: dict[str, CriterionResult]
    auto_fail: bool
    auto_fail_reason: str | None
    complete: bool
    missing: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (e.g. for ``reviews.section_scores`` or an API response)."""
        return asdict(self)


def score(rubric: Rubric, answers: Mapping[str, Answer], *, partial: bool = False) -> ScoreResult:
    """Score one review.

    ``partial=True`` scores a draft: unanswered criteria are listed in ``missing``
    and left out like N/A instead of being errors. Raises ``AnswerErrors`` with
    every invalid answer when any answer is invalid.
    """
    _check(rubric, answers, partial=partial)

    criteria: dict[str, CriterionResult] = {}
    sections: dict[str, SectionResult] = {}
    missing: list[str] = []
    review_failures: list[Criterion] = []
    # Per scored section: (section weight, [(criterion id, weight)]) for shares.
    weight_plan: list[tuple[float, list[tuple[str, float]]]] = []

    for section in rubric.sections:
        weighted_sum = 0.0
        weight_sum = 0.0
        scored: list[tuple[str, float]] = []
        section_failure: Criterion | None = None
        for criterion in section.criteria:
            answer = answers.get(criterion.id)
            if answer is None or (answer.value is None and not answer.na):
                missing.append(criterion.id)
                criteria[criterion.id] = CriterionResult(
                    section.id, None, False, None, None, None, None
                )
                continue
            if answer.na:
                criteria[criterion.id] = CriterionResult(
                    section.id, None, True, None, None, None, None
                )
                continue
            assert answer.value is not None
            value = float(answer.value)
            pct = criterion.percent(value)
            failed = criterion.fails_critical(value)
            if failed and criterion.critical == "review":
                review_failures.append(criterion)
            elif failed and section_failure is None:
                section_failure = criterion
            weighted_sum += criterion.weight * pct
            weight_sum += criterion.weight
            scored.append((criterion.id, criterion.weight))
            criteria[criterion.id] = CriterionResult(
                section_id=section.id,
                value=value,
                na=False,
                earned=pct / 100.0 * criterion.weight,
                possible=criterion.weight,
                pct=pct,
                contribution=None,  # filled in once all section weights are known
                critical_failed=failed,
            )
        if not scored:
            sections[section.id] = SectionResult(None, section.weight)
            continue
        weight_plan.append((section.weight, scored))
        if section_failure is not None:
            sections[section.id] = SectionResult(
                0.0,
                section.weight,
                failed_criterion=section_failure.id,
                reason=f"Critical criterion failed: {_name(section_failure)}; section scored 0",
            )
        else:
            sections[section.id] = SectionResult(_clamp(weighted_sum / weight_sum), section.weight)

    # Each criterion's nominal share of the review: its section's share times its
    # share of the section, counting every criterion (N/A included). N/A and
    # unanswered criteria drop out and the scored ones are renormalised over the
    # whole review, so marking one criterion N/A never changes the ratio between
    # any two others (across sections too).
    total_section_weight = sum(s.weight for s in rubric.sections)
    nominal: dict[str, float] = {}
    for section in rubric.sections:
        section_criteria_weight = sum(c.weight for c in section.criteria)
        for criterion in section.criteria:
            nominal[criterion.id] = (
                section.weight / total_section_weight * criterion.weight / section_criteria_weight
            )
    scored_ids = [cid for _, plan in weight_plan for cid, _ in plan]
    scored_share = sum(nominal[cid] for cid in scored_ids)
    overall: float | None = None
    if scored_ids:
        total = 0.0
        for cid in scored_ids:
            result = criteria[cid]
            contribution = nominal[cid] / scored_share
            criteria[cid] = replace(result, contribution=contribution)
            if sections[result.section_id].failed_criterion is None:
                total += contribution * (result.pct or 0.0)
        overall = _clamp(total)
    auto_fail = bool(review_failures)
    reason = None
    if auto_fail:
        overall = 0.0
        reason = "Critical criterion failed: " + "; ".join(_name(c) for c in review_failures)
    return ScoreResult(
        overall=overall,
        sections=sections,
        criteria=criteria,
        auto_fail=auto_fail,
        auto_fail_reason=reason,
        complete=not missing,
        missing=missing,
    )


def _name(criterion: Criterion) -> str:
    return f"{criterion.label.en} ({criterion.id})"


def _clamp(value: float) -> float:
    # A weighted mean of values in [0, 100] is in [0, 100]; only float rounding
    # (e.g. 100.00000000000001) can step outside, and scorecards must never show it.
    return min(100.0, max(0.0, value))


def _check(rubric: Rubric, answers: Mapping[str, Answer], *, partial: bool) -> None:
    problems: list[AnswerError] = []
    known = {c.id for _, c in rubric.all_criteria()}
    for criterion_id in answers:
        if criterion_id not in known:
            problems.append(
                AnswerError(
                    "ANS001",
                    str(criterion_id),
                    f"rubric '{rubric.key}' has no criterion '{criterion_id}'",
                )
            )
    for _, criterion in rubric.all_criteria():
        answer = answers.get(criterion.id)
        if answer is None or (answer.value is None and not answer.na):
            if not partial:
                problems.append(AnswerError("ANS004", criterion.id, "no answer given"))
            continue
        if answer.na:
            if answer.value is not None:
                problems.append(
                    AnswerError(
                        "ANS005",
                        criterion.id,
                        f"marked N/A but also given the value {answer.value!r}; choose one",
                    )
                )
            elif not criterion.allow_na:
                problems.append(
                    AnswerError("ANS003", criterion.id, "N/A is not allowed for this criterion")
                )
            continue
        message = _value_problem(criterion, answer.value)
        if message is not None:
            problems.append(AnswerError("ANS002", criterion.id, message))
    if problems:
        raise AnswerErrors(problems)


def _value_problem(criterion: Criterion, value: object) -> str | None:
    if not isinstance(value, int | float) or not math.isfinite(value):
        return f"value must be a number, got {value!r}"
    if criterion.type == "yes_no":
        if value not in (0, 1):
            return f"a yes/no answer must be 1 (yes) or 0 (no), got {value!r}"
        return None
    low, high = criterion.min_value, criterion.max_value
    if criterion.type == "scale":
        if value != int(value) or not low <= value <= high:
            return f"must be a whole number from {int(low)} to {int(high)}, got {value!r}"
        return None
    if not low <= value <= high:
        return f"must be between 0 and {high:g} points, got {value!r}"
    return None
