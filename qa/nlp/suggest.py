"""Suggested answers for rubric criteria, with the evidence behind each one.

Input is the rubric in its plain JSON form (``{"timing_thresholds": {...},
"sections": [{"id", "criteria": [{"id", "type", "scale", "max_points",
"evidence"}]}]}``), an :class:`~qa.nlp.types.Analysis`, the timing metrics and
the channel. Only criteria with an ``evidence`` block are considered; for each
one the result is a :class:`Suggestion` or ``None``.

The logic, deliberately simple so reviewers can predict it:

1. Collect the criterion's applicable evidence:
   - **avoid** – flags of any behaviour in ``evidence.avoid`` (agent turns only);
   - **findings** – whole-interaction findings listed in ``evidence.findings``;
   - **metrics** – each ``evidence.metrics`` check whose ``threshold`` key is
     defined for this channel in ``timing_thresholds`` *and* whose metric was
     measured (not ``None``). ``direction: max`` passes when value <= threshold,
     ``min`` when value >= threshold;
   - **use** – flags of any behaviour in ``evidence.use``.
2. Any avoid flag or finding -> the lowest answer (yes_no 0, scale min, points 0).
3. Otherwise any failed metric -> the lowest answer for yes_no and points; for
   ``scale`` it degrades proportionally to the worst overshoot
   ``o = |value - threshold| / threshold`` (capped at 1):
   ``round(max - (max - min) * o)``, but never above ``max - 1`` (a failed
   check is never full marks). 10% over a 30 s limit on a 1-5 scale is 4; 50%
   over is 3; double the limit or worse is 1.
4. Otherwise a use flag or a passed metric -> the highest answer.
5. No applicable evidence -> ``None``: the analyser never guesses.

``na`` is suggested in one measured case only: the criterion allows N/A
(``na_allowed``/``allow_na`` true), every metric check it has is about holds,
no other evidence exists and the call measurably had no hold (``hold_count`` 0).

``confidence`` (0-1) reflects how direct the evidence is: measured metrics 0.95
(fail) / 0.9 (pass), avoid flags 0.9/0.8/0.6 by severity, findings 0.75
(absence of a phrase depends on lexicon coverage), use flags 0.6 + 0.1 per extra
flag (max 0.85); conflicting positive evidence multiplies a negative suggestion's
confidence by 0.75.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from qa.nlp.timing import TimingMetrics
from qa.nlp.types import Analysis, EvidenceSpan, Flag

_SEVERITY_CONFIDENCE = {"high": 0.9, "medium": 0.8, "low": 0.6}


class RubricShapeError(ValueError):
    """The rubric dict lacks something the suggestion logic needs."""

    code = "nlp.rubric_shape"


@dataclass(frozen=True, slots=True)
class FlagEvidence:
    rule: str
    behavior: str
    turn: int
    start: int
    end: int
    text: str
    kind: Literal["flag"] = "flag"

    def to_dict(self) -> dict[str, Any]:
        # spelled out: dataclasses.asdict deep-copies field by field and was a
        # third of the bulk auto-QA time (every suggestion lists its evidence)
        return {
            "rule": self.rule,
            "behavior": self.behavior,
            "turn": self.turn,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "kind": self.kind,
        }


@dataclass(frozen=True, slots=True)
class MetricEvidence:
    name: str
    value: float | int | None
    threshold: float | None
    direction: str | None
    passed: bool
    kind: Literal["metric"] = "metric"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "threshold": self.threshold,
            "direction": self.direction,
            "passed": self.passed,
            "kind": self.kind,
        }


@dataclass(frozen=True, slots=True)
class FindingEvidence:
    id: str
    why: str
    turn: int | None
    spans: tuple[EvidenceSpan, ...] = ()
    kind: Literal["finding"] = "finding"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "why": self.why,
            "turn": self.turn,
            "spans": [s.to_dict() for s in self.spans],
        }


Evidence = FlagEvidence | MetricEvidence | FindingEvidence


@dataclass(frozen=True, slots=True)
class Suggestion:
    criterion_id: str
    value: float | int | None
    na: bool
    confidence: float
    reasons: tuple[Evidence, ...]
    section_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "criterion_id": self.criterion_id,
            "section_id": self.section_id,
            "value": self.value,
            "na": self.na,
            "confidence": self.confidence,
            "reasons": [r.to_dict() for r in self.reasons],
        }


def _flag_ev(f: Flag) -> FlagEvidence:
    return FlagEvidence(f.rule, f.behavior, f.turn, f.start, f.end, f.text)


def rubric_dict(obj: Any) -> Mapping[str, Any]:
    """The rubric's plain JSON form (a mapping as given; a pydantic model dumped)."""
    if isinstance(obj, Mapping):
        return obj
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    raise RubricShapeError(f"rubric must be a mapping, got {type(obj).__name__}")


def _metric_value(metrics: TimingMetrics | Mapping[str, Any] | None, name: str) -> Any:
    if metrics is None:
        return None
    if isinstance(metrics, TimingMetrics):
        return metrics.as_dict().get(name)
    return metrics.get(name)


def _bounds(criterion: Mapping[str, Any]) -> tuple[float, float, str]:
    cid = criterion.get("id", "?")
    kind = criterion.get("type")
    if kind == "yes_no":
        return 0, 1, kind
    if kind == "scale":
        scale = criterion.get("scale") or {}
        lo, hi = scale.get("min", 1), scale.get("max", 5)
        if not (isinstance(lo, int) and isinstance(hi, int) and lo < hi):
            raise RubricShapeError(f"criterion {cid}: scale must have integer min < max")
        return lo, hi, kind
    if kind == "points":
        mp = criterion.get("max_points")
        if not isinstance(mp, int | float) or isinstance(mp, bool) or mp <= 0:
            raise RubricShapeError(f"criterion {cid}: points criteria need a positive max_points")
        return 0, mp, kind
    raise RubricShapeError(f"criterion {cid}: unknown type {kind!r}")


def _overshoot(value: float, threshold: float, direction: str) -> float:
    if threshold == 0:
        return 1.0
    if direction == "min":
        return min(1.0, max(0.0, (threshold - value) / abs(threshold)))
    return min(1.0, max(0.0, (value - threshold) / abs(threshold)))


def suggest_criterion(
    criterion: Mapping[str, Any],
    analysis: Analysis,
    metrics: TimingMetrics | Mapping[str, Any] | None,
    thresholds: Mapping[str, Any],
    section_id: str | None = None,
) -> Suggestion | None:
    """The suggestion for one criterion (``None`` when nothing applies)."""
    evidence = criterion.get("evidence") or {}
    cid = str(criterion.get("id"))
    lo, hi, kind = _bounds(criterion)
    use = set(evidence.get("use") or ())
    avoid = set(evidence.get("avoid") or ())
    wanted_findings = set(evidence.get("findings") or ())

    avoid_flags = [f for f in analysis.flags if f.behavior in avoid and f.polarity == "avoid"]
    use_flags = [f for f in analysis.flags if f.behavior in use and f.polarity == "use"]
    findings = [f for f in analysis.findings if f.id in wanted_findings]

    passed: list[MetricEvidence] = []
    failed: list[tuple[MetricEvidence, float]] = []
    checks: Sequence[Mapping[str, Any]] = evidence.get("metrics") or ()
    for check in checks:
        name = check.get("metric")
        tkey = check.get("threshold", name)
        direction = check.get("direction", "max")
        if tkey not in thresholds:
            continue  # the check does not apply to this channel
        threshold = thresholds[tkey]
        value = _metric_value(metrics, str(name))
        if value is None or not isinstance(threshold, int | float):
            continue
        if isinstance(value, float) and math.isnan(value):
            continue
        ok = value <= threshold if direction != "min" else value >= threshold
        ev = MetricEvidence(str(name), value, float(threshold), direction, ok)
        if ok:
            passed.append(ev)
        else:
            failed.append((ev, _overshoot(float(value), float(threshold), direction)))

    negative: list[Evidence] = [_flag_ev(f) for f in avoid_flags]
    negative += [FindingEvidence(f.id, f.why, f.turn, f.evidence) for f in findings]
    negative += [ev for ev, _ in failed]
    positive: list[Evidence] = [_flag_ev(f) for f in use_flags] + list(passed)

    if not (avoid_flags or findings or failed or use_flags) and _hold_na(
        criterion, checks, metrics
    ):
        reason = MetricEvidence("hold_count", 0, None, None, True)
        return Suggestion(cid, None, True, 0.9, (reason,), section_id)
    if avoid_flags or findings:
        value: float | int = lo
        conf = max(
            [_SEVERITY_CONFIDENCE.get(f.severity, 0.8) for f in avoid_flags]
            + [0.75 for _ in findings]
            + [0.95 for _ in failed]
        )
    elif failed:
        if kind == "scale":
            worst = max(o for _, o in failed)
            value = math.floor(hi - (hi - lo) * worst + 0.5)  # half-up, not bankers
            value = int(max(lo, min(hi - 1, value)))
        else:
            value = lo
        conf = 0.95
    elif positive:
        value = hi
        conf = max([min(0.85, 0.6 + 0.1 * (len(use_flags) - 1))] if use_flags else [0.0])
        if passed:
            conf = max(conf, 0.9)
        return Suggestion(
            cid, _num(value, kind), False, round(conf, 2), tuple(positive), section_id
        )
    else:
        return None
    if positive:
        conf *= 0.75
    return Suggestion(
        cid, _num(value, kind), False, round(conf, 2), tuple(negative + positive), section_id
    )


def _num(value: float, kind: str) -> float | int:
    if kind in ("yes_no", "scale"):
        return int(value)
    return int(value) if float(value).is_integer() else float(value)


def _hold_na(
    criterion: Mapping[str, Any],
    checks: Sequence[Mapping[str, Any]],
    metrics: TimingMetrics | Mapping[str, Any] | None,
) -> bool:
    if not (criterion.get("na_allowed") or criterion.get("allow_na")):
        return False
    if not checks or not all(str(c.get("metric", "")).startswith("hold_") for c in checks):
        return False
    return _metric_value(metrics, "hold_count") == 0


def suggest_scores(
    rubric: Mapping[str, Any] | Any,
    analysis: Analysis,
    metrics: TimingMetrics | Mapping[str, Any] | None,
    channel: str,
) -> dict[str, Suggestion | None]:
    """criterion id -> suggestion (or None) for every criterion with an evidence block."""
    data = rubric_dict(rubric)
    thresholds = (data.get("timing_thresholds") or {}).get(channel) or {}
    out: dict[str, Suggestion | None] = {}
    for section in data.get("sections") or ():
        sid = section.get("id")
        for criterion in section.get("criteria") or ():
            if not criterion.get("evidence"):
                continue
            out[str(criterion.get("id"))] = suggest_criterion(
                criterion, analysis, metrics, thresholds, sid
            )
    return out
