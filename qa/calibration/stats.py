"""Statistics behind reviewer calibration sessions.

A QA lead has several reviewers score the same few interactions blind on one rubric,
optionally next to an expert's benchmark answers. These functions turn those answers into
agreement figures (Krippendorff's alpha), spreads, deviations from the benchmark (or from
the reviewers' median when there is none), alignment percentages, tolerance breaches and a
trend over sessions. Everything is a pure function of its inputs so the numbers can be
reproduced from an export and checked against the published worked examples.

Conventions used throughout:

* answers are percentages 0-100 after normalisation (raw answers are converted with the
  criterion's range), so deviations and tolerances are in percentage points;
* ``None`` (or a float NaN) is a missing answer - it is skipped, never treated as zero;
* the order of reviewers and interactions is the order first seen in the input, so exports
  are stable without imposing a sort on ids.
"""

from __future__ import annotations

import csv
import io
import math
import numbers
import statistics
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, cast

import numpy as np

Level = Literal["nominal", "ordinal", "interval", "ratio"]
CriterionType = Literal["yes_no", "scale", "points"]
AlphaStatus = Literal["ok", "insufficient_data", "no_variation"]
ReferenceSource = Literal["benchmark", "median"]

LEVELS: tuple[str, ...] = ("nominal", "ordinal", "interval", "ratio")

#: Which level of measurement fits each rubric answer type.
LEVEL_FOR_CRITERION_TYPE: dict[str, Level] = {
    "yes_no": "nominal",
    "scale": "ordinal",
    "points": "interval",
}

#: Columns of the flat export produced by ``to_rows`` on criterion and session reports.
ROW_FIELDS: tuple[str, ...] = ("scope", "criterion", "reviewer", "interaction", "metric", "value")

#: Columns of the flat export produced by ``AlignmentTrend.to_rows``.
TREND_ROW_FIELDS: tuple[str, ...] = ("reviewer", "session_date", "criterion", "metric", "value")

# Deviations are differences of floats derived from raw answers (e.g. 1/3 of a point range);
# without a little slack a deviation of exactly the tolerance could count as a breach.
_TOLERANCE_SLACK = 1e-9
_WEIGHT_SUM_SLACK = 1e-6

Row = dict[str, Any]


class CalibrationError(ValueError):
    """Input that the calibration statistics cannot use.

    ``code`` is stable (callers and the UI key messages on it); the message says what and
    where (criterion, reviewer, interaction, position).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code


# ---------------------------------------------------------------------------------------------
# Krippendorff's alpha
# ---------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """NumPy scalars compare and hash like Python ones, but ``.item()`` keeps exports clean."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _check_level(level: str) -> Level:
    if level not in LEVELS:
        raise CalibrationError(
            "calibration.unknown_level",
            f"level of measurement {level!r} is not one of {', '.join(LEVELS)}",
        )
    return cast(Level, level)


def _units_from_data(data: Any, level: Level) -> list[list[Hashable]]:
    """Transpose coder rows into per-unit value lists, validating as we go."""
    try:
        rows = [list(row) for row in data]
    except TypeError as exc:
        raise CalibrationError(
            "calibration.bad_data",
            "reliability data must be a sequence of coders, each a sequence of values per unit",
        ) from exc
    if not rows:
        return []
    n_units = len(rows[0])
    for coder, row in enumerate(rows):
        if len(row) != n_units:
            raise CalibrationError(
                "calibration.ragged_data",
                f"coder {coder} has {len(row)} values but coder 0 has {n_units}; "
                "every coder needs one slot per unit (None when missing)",
            )
    numeric = level in ("interval", "ratio")
    units: list[list[Hashable]] = [[] for _ in range(n_units)]
    for coder, row in enumerate(rows):
        for unit, raw in enumerate(row):
            value = _plain(raw)
            if _is_missing(value):
                continue
            where = f"coder {coder}, unit {unit}"
            if numeric:
                if isinstance(value, bool) or not isinstance(value, numbers.Real):
                    raise CalibrationError(
                        "calibration.bad_value",
                        f"{where}: {level} data needs numbers, got {value!r}",
                    )
                if not math.isfinite(value):
                    raise CalibrationError(
                        "calibration.bad_value", f"{where}: value {value!r} is not finite"
                    )
                if level == "ratio" and value < 0:
                    raise CalibrationError(
                        "calibration.negative_ratio_value",
                        f"{where}: ratio data has a true zero, negative value {value!r} "
                        "is not allowed",
                    )
            try:
                hash(value)
            except TypeError as exc:
                raise CalibrationError(
                    "calibration.bad_value", f"{where}: value {value!r} is not hashable"
                ) from exc
            units[unit].append(value)
    return units


def _resolve_domain(
    units: list[list[Hashable]], level: Level, value_domain: Iterable[Any] | None
) -> list[Hashable]:
    """The ordered list of values; order only matters for the ordinal metric."""
    observed: dict[Hashable, None] = {}
    for values in units:
        for value in values:
            observed.setdefault(value, None)
    if value_domain is None:
        try:
            return sorted(observed)  # type: ignore[type-var]
        except TypeError as exc:
            if level == "ordinal":
                raise CalibrationError(
                    "calibration.value_domain_required",
                    "ordinal values cannot be sorted; pass value_domain in rank order",
                ) from exc
            return list(observed)
    domain = [_plain(v) for v in value_domain]
    index: dict[Hashable, int] = {}
    for position, value in enumerate(domain):
        if _is_missing(value):
            raise CalibrationError(
                "calibration.bad_value_domain",
                f"value_domain position {position} is missing (None/NaN)",
            )
        if value in index:
            raise CalibrationError(
                "calibration.bad_value_domain",
                f"value_domain lists {value!r} twice (positions {index[value]} and {position})",
            )
        index[value] = position
    outside = [v for v in observed if v not in index]
    if outside:
        raise CalibrationError(
            "calibration.value_out_of_domain",
            f"values {outside!r} are not in value_domain {domain!r}",
        )
    return domain


def _distance_matrix(domain: list[Hashable], level: Level, n_c: np.ndarray) -> np.ndarray:
    """Squared difference functions delta^2(c, k) from Krippendorff (2011), section E/F."""
    size = len(domain)
    if level == "nominal":
        return 1.0 - np.eye(size)
    if level == "ordinal":
        # Cumulative-frequency metric: (sum_{g=c..k} n_g - (n_c + n_k) / 2)^2 over ranks.
        cumulative = np.concatenate(([0.0], np.cumsum(n_c)))
        ranks = np.arange(size)
        low = np.minimum.outer(ranks, ranks)
        high = np.maximum.outer(ranks, ranks)
        between = cumulative[high + 1] - cumulative[low]
        return (between - (n_c[:, None] + n_c[None, :]) / 2.0) ** 2
    values = np.asarray(domain, dtype=float)
    diff = values[:, None] - values[None, :]
    if level == "interval":
        return diff**2
    total = values[:, None] + values[None, :]
    ratio = np.divide(diff, total, out=np.zeros_like(diff), where=total != 0)
    return ratio**2


def alpha_with_status(
    data: Any, level: str, *, value_domain: Iterable[Any] | None = None
) -> tuple[float | None, AlphaStatus]:
    """Alpha plus why it is missing, so reports can tell "everyone agreed" from "too few answers".

    ``"insufficient_data"``: no unit has two or more values (e.g. a single reviewer);
    ``"no_variation"``: every pairable value is identical, so no disagreement is possible and
    alpha is 0/0.
    """
    checked = _check_level(level)
    units = _units_from_data(data, checked)
    domain = _resolve_domain(units, checked, value_domain)
    index = {value: position for position, value in enumerate(domain)}
    size = len(domain)

    # Coincidence matrix o_ck = sum_u (number of c-k pairs in u) / (m_u - 1); units with fewer
    # than two values contribute no pairs and drop out.
    coincidences = np.zeros((size, size))
    for values in units:
        m_u = len(values)
        if m_u < 2:
            continue
        counts = np.zeros(size)
        for value in values:
            counts[index[value]] += 1.0
        coincidences += (np.outer(counts, counts) - np.diag(counts)) / (m_u - 1)
    n_c = coincidences.sum(axis=0)
    n = float(n_c.sum())
    if n < 2:
        return None, "insufficient_data"

    delta = _distance_matrix(domain, checked, n_c)
    expected = float((np.outer(n_c, n_c) * delta).sum())
    if expected == 0.0:
        return None, "no_variation"
    observed = float((coincidences * delta).sum())
    return 1.0 - (n - 1.0) * observed / expected, "ok"


def krippendorff_alpha(
    data: Any, level: str, *, value_domain: Iterable[Any] | None = None
) -> float | None:
    """Krippendorff's alpha for reliability data (coders x units, ``None``/NaN = missing).

    Computed from the coincidence-matrix definition in Krippendorff (2011), "Computing
    Krippendorff's Alpha-Reliability":
    ``alpha = 1 - (n - 1) * sum_ck o_ck * delta_ck / sum_ck n_c * n_k * delta_ck``.

    ``level`` is ``"nominal"``, ``"ordinal"``, ``"interval"`` or ``"ratio"``. ``value_domain``
    lists the admissible values (rank order for ordinal; default: sorted observed values);
    values outside it are an error. Unobserved domain values have zero frequency, so they do
    not change the result at any level.

    Returns ``None`` when alpha is undefined: fewer than two pairable values (no unit coded by
    two or more coders, e.g. a single reviewer), or no disagreement possible because every
    pairable value is the same. The ``krippendorff`` package raises ``ValueError`` in both
    cases when it derives the domain itself, and returns NaN for identical values when given
    a wider domain; one ``None`` is easier for callers to handle than either. Use
    :func:`alpha_with_status` to learn which case applied.
    """
    alpha, _status = alpha_with_status(data, level, value_domain=value_domain)
    return alpha


# ---------------------------------------------------------------------------------------------
# Criterion and session reports
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InteractionStats:
    """How far apart the reviewers were on one interaction (percentage points)."""

    interaction: str
    n_answers: int
    minimum: float | None
    maximum: float | None
    spread: float | None
    stdev: float | None
    median: float | None
    benchmark: float | None
    reference: float | None
    reference_source: ReferenceSource | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "interaction": self.interaction,
            "n_answers": self.n_answers,
            "min": self.minimum,
            "max": self.maximum,
            "spread": self.spread,
            "stdev": self.stdev,
            "median": self.median,
            "benchmark": self.benchmark,
            "reference": self.reference,
            "reference_source": self.reference_source,
        }


@dataclass(frozen=True)
class ReviewerStats:
    """One reviewer against the reference (benchmark, else the reviewers' median)."""

    reviewer: str
    n_answers: int
    n_compared: int
    mean_deviation: float | None
    mean_abs_deviation: float | None
    alignment: float | None
    deviations: dict[str, float]
    outside_tolerance: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "reviewer": self.reviewer,
            "n_answers": self.n_answers,
            "n_compared": self.n_compared,
            "mean_deviation": self.mean_deviation,
            "mean_abs_deviation": self.mean_abs_deviation,
            "alignment": self.alignment,
            "deviations": dict(self.deviations),
            "outside_tolerance": list(self.outside_tolerance),
        }


@dataclass(frozen=True)
class ToleranceBreach:
    """A reviewer whose answers differ from the reference by more than the tolerance.

    ``criterion_id`` is ``None`` for breaches on the overall interaction score.
    """

    reviewer: str
    criterion_id: str | None
    interactions: tuple[str, ...]
    deviations: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "reviewer": self.reviewer,
            "criterion": self.criterion_id,
            "interactions": list(self.interactions),
            "deviations": list(self.deviations),
        }


@dataclass(frozen=True)
class _Block:
    """Shared analysis of one reviewers x interactions table of percentages."""

    level: Level
    tolerance: float
    reviewers: tuple[str, ...]
    interactions: tuple[str, ...]
    values: dict[str, dict[str, float | None]]
    interaction_stats: tuple[InteractionStats, ...]
    reviewer_stats: tuple[ReviewerStats, ...]
    alpha: float | None
    alpha_status: AlphaStatus


def _breaches(block: _Block, criterion_id: str | None) -> tuple[ToleranceBreach, ...]:
    found = []
    for stats in block.reviewer_stats:
        if stats.outside_tolerance:
            found.append(
                ToleranceBreach(
                    reviewer=stats.reviewer,
                    criterion_id=criterion_id,
                    interactions=stats.outside_tolerance,
                    deviations=tuple(stats.deviations[i] for i in stats.outside_tolerance),
                )
            )
    return tuple(found)


def _block_dict(block: _Block) -> dict[str, Any]:
    return {
        "level": block.level,
        "tolerance": block.tolerance,
        "reviewers": list(block.reviewers),
        "interactions": list(block.interactions),
        "values": {r: dict(v) for r, v in block.values.items()},
        "alpha": block.alpha,
        "alpha_status": block.alpha_status,
        "interaction_stats": [s.to_dict() for s in block.interaction_stats],
        "reviewer_stats": [s.to_dict() for s in block.reviewer_stats],
    }


def _row(scope: str, criterion: str | None, reviewer: str | None, interaction: str | None,
         metric: str, value: Any) -> Row:  # fmt: skip
    return {
        "scope": scope,
        "criterion": criterion or "",
        "reviewer": reviewer or "",
        "interaction": interaction or "",
        "metric": metric,
        "value": value,
    }


def _block_rows(block: _Block, prefix: str, criterion: str | None) -> list[Row]:
    rows: list[Row] = []
    for s in block.interaction_stats:
        for metric, value in (
            ("n_answers", s.n_answers),
            ("min", s.minimum),
            ("max", s.maximum),
            ("spread", s.spread),
            ("stdev", s.stdev),
            ("median", s.median),
            ("benchmark", s.benchmark),
            ("reference", s.reference),
            ("reference_source", s.reference_source),
        ):
            rows.append(
                _row(f"{prefix}_interaction", criterion, None, s.interaction, metric, value)
            )
    by_reviewer = {s.reviewer: s for s in block.reviewer_stats}
    for reviewer in block.reviewers:
        s = by_reviewer[reviewer]
        for metric, value in (
            ("n_answers", s.n_answers),
            ("n_compared", s.n_compared),
            ("mean_deviation", s.mean_deviation),
            ("mean_abs_deviation", s.mean_abs_deviation),
            ("alignment", s.alignment),
            ("n_outside_tolerance", len(s.outside_tolerance)),
        ):
            rows.append(_row(f"{prefix}_reviewer", criterion, reviewer, None, metric, value))
        for interaction in block.interactions:
            value = block.values[reviewer].get(interaction)
            if value is None:
                continue
            scope = f"{prefix}_answer"
            rows.append(_row(scope, criterion, reviewer, interaction, "value", value))
            if interaction in s.deviations:
                deviation = s.deviations[interaction]
                outside = int(interaction in s.outside_tolerance)
                rows.append(_row(scope, criterion, reviewer, interaction, "deviation", deviation))
                rows.append(
                    _row(scope, criterion, reviewer, interaction, "outside_tolerance", outside)
                )
    return rows


def _check_tolerance(tolerance: float, context: str) -> float:
    if (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, numbers.Real)
        or not math.isfinite(tolerance)
        or tolerance < 0
    ):
        raise CalibrationError(
            "calibration.bad_tolerance",
            f"{context}: tolerance must be a finite number of percentage points >= 0, "
            f"got {tolerance!r}",
        )
    return float(tolerance)


def _analyse(
    values: dict[str, dict[str, float | None]],
    reviewers: tuple[str, ...],
    interactions: tuple[str, ...],
    benchmark: dict[str, float | None] | None,
    level: Level,
    tolerance: float,
) -> _Block:
    interaction_stats = []
    references: dict[str, float] = {}
    for interaction in interactions:
        answered = [v for r in reviewers if (v := values[r].get(interaction)) is not None]
        bench = benchmark.get(interaction) if benchmark is not None else None
        median = statistics.median(answered) if answered else None
        reference: float | None
        source: ReferenceSource | None
        if bench is not None:
            reference, source = bench, "benchmark"
        elif median is not None:
            reference, source = median, "median"
        else:
            reference, source = None, None
        if reference is not None:
            references[interaction] = reference
        interaction_stats.append(
            InteractionStats(
                interaction=interaction,
                n_answers=len(answered),
                minimum=min(answered) if answered else None,
                maximum=max(answered) if answered else None,
                spread=max(answered) - min(answered) if answered else None,
                stdev=statistics.pstdev(answered) if answered else None,
                median=median,
                benchmark=bench,
                reference=reference,
                reference_source=source,
            )
        )

    reviewer_stats = []
    for reviewer in reviewers:
        deviations: dict[str, float] = {}
        n_answers = 0
        for interaction in interactions:
            value = values[reviewer].get(interaction)
            if value is None:
                continue
            n_answers += 1
            if interaction in references:
                deviations[interaction] = value - references[interaction]
        devs = list(deviations.values())
        outside = tuple(i for i, d in deviations.items() if abs(d) > tolerance + _TOLERANCE_SLACK)
        reviewer_stats.append(
            ReviewerStats(
                reviewer=reviewer,
                n_answers=n_answers,
                n_compared=len(devs),
                mean_deviation=statistics.fmean(devs) if devs else None,
                mean_abs_deviation=statistics.fmean(abs(d) for d in devs) if devs else None,
                # 100 * (1 - |reviewer - reference| / range) with range = 100 percentage points.
                alignment=statistics.fmean(100.0 - abs(d) for d in devs) if devs else None,
                deviations=deviations,
                outside_tolerance=outside,
            )
        )

    matrix = [[values[r].get(i) for i in interactions] for r in reviewers]
    alpha, status = alpha_with_status(matrix, level)
    return _Block(
        level=level,
        tolerance=tolerance,
        reviewers=reviewers,
        interactions=interactions,
        values=values,
        interaction_stats=tuple(interaction_stats),
        reviewer_stats=tuple(reviewer_stats),
        alpha=alpha,
        alpha_status=status,
    )


def _number(value: Any, where: str) -> float | None:
    value = _plain(value)
    if _is_missing(value):
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise CalibrationError(
            "calibration.bad_value", f"{where}: expected a number, got {value!r}"
        )
    if not math.isfinite(value):
        raise CalibrationError("calibration.bad_value", f"{where}: value {value!r} is not finite")
    return float(value)


def _to_percent(
    value: Any,
    where: str,
    criterion_type: str,
    value_range: tuple[float, float] | None,
) -> float | None:
    number = _number(value, where)
    if number is None:
        return None
    if value_range is None:
        if not 0.0 <= number <= 100.0:
            raise CalibrationError(
                "calibration.value_out_of_range",
                f"{where}: normalised answer {number!r} is outside 0-100 percent",
            )
        return number
    low, high = value_range
    if not low <= number <= high:
        raise CalibrationError(
            "calibration.value_out_of_range",
            f"{where}: answer {number!r} is outside the criterion range {low!r}-{high!r}",
        )
    if criterion_type == "yes_no" and number not in (low, high):
        raise CalibrationError(
            "calibration.bad_value",
            f"{where}: yes/no answer must be {low!r} or {high!r}, got {number!r}",
        )
    if criterion_type == "scale" and not number.is_integer():
        raise CalibrationError(
            "calibration.bad_value", f"{where}: scale answer must be a whole number, got {number!r}"
        )
    return 100.0 * (number - low) / (high - low)


def _check_range(
    criterion_id: str, criterion_type: str, value_range: Sequence[float] | None
) -> tuple[float, float] | None:
    if value_range is None:
        return None
    try:
        low, high = (_number(v, f"criterion {criterion_id!r} value_range") for v in value_range)
    except ValueError as exc:
        if isinstance(exc, CalibrationError):
            raise
        raise CalibrationError(
            "calibration.bad_range",
            f"criterion {criterion_id!r}: value_range must be (min, max), got {value_range!r}",
        ) from exc
    if low is None or high is None or not low < high:
        raise CalibrationError(
            "calibration.bad_range",
            f"criterion {criterion_id!r}: value_range needs min < max, got {value_range!r}",
        )
    if criterion_type == "yes_no" and (low, high) != (0.0, 1.0):
        raise CalibrationError(
            "calibration.bad_range",
            f"criterion {criterion_id!r}: yes_no answers are 0/1, value_range must be (0, 1)",
        )
    return low, high


def _ordered_ids(
    explicit: Sequence[str] | None,
    seen: Iterable[Iterable[str]],
    what: str,
    context: str,
) -> tuple[str, ...]:
    if explicit is not None:
        ids = tuple(explicit)
        if len(set(ids)) != len(ids):
            raise CalibrationError(
                "calibration.duplicate_id", f"{context}: {what} list has duplicates: {ids!r}"
            )
        known = set(ids)
        for group in seen:
            for item in group:
                if item not in known:
                    raise CalibrationError(
                        "calibration.unknown_interaction",
                        f"{context}: answer for {what[:-1]} {item!r} which is not in the "
                        f"session's {what}",
                    )
        return ids
    order: dict[str, None] = {}
    for group in seen:
        for item in group:
            order.setdefault(item, None)
    return tuple(order)


def _check_answers(answers: Any, benchmark: Any, context: str) -> None:
    if not isinstance(answers, Mapping):
        raise CalibrationError(
            "calibration.bad_answers",
            f"{context}: answers must map reviewer -> interaction -> value, got "
            f"{type(answers).__name__}",
        )
    for reviewer, per_interaction in answers.items():
        if not isinstance(per_interaction, Mapping):
            raise CalibrationError(
                "calibration.bad_answers",
                f"{context}, reviewer {reviewer!r}: answers must map interaction -> value, got "
                f"{type(per_interaction).__name__}",
            )
    if benchmark is not None and not isinstance(benchmark, Mapping):
        raise CalibrationError(
            "calibration.bad_answers",
            f"{context}: benchmark must map interaction -> value, got {type(benchmark).__name__}",
        )


@dataclass(frozen=True)
class CriterionReport:
    """Calibration figures for one rubric criterion across a session (percentage points)."""

    criterion_id: str
    criterion_type: str
    weight: float
    benchmark_given: bool
    _block: _Block = field(repr=False)

    @property
    def level(self) -> Level:
        return self._block.level

    @property
    def tolerance(self) -> float:
        return self._block.tolerance

    @property
    def reviewers(self) -> tuple[str, ...]:
        return self._block.reviewers

    @property
    def interactions(self) -> tuple[str, ...]:
        return self._block.interactions

    @property
    def values(self) -> dict[str, dict[str, float | None]]:
        """reviewer -> interaction -> answer as percent (None = not answered)."""
        return self._block.values

    @property
    def alpha(self) -> float | None:
        return self._block.alpha

    @property
    def alpha_status(self) -> AlphaStatus:
        return self._block.alpha_status

    @property
    def interaction_stats(self) -> tuple[InteractionStats, ...]:
        return self._block.interaction_stats

    @property
    def reviewer_stats(self) -> tuple[ReviewerStats, ...]:
        return self._block.reviewer_stats

    def reviewer(self, reviewer: str) -> ReviewerStats:
        for stats in self._block.reviewer_stats:
            if stats.reviewer == reviewer:
                return stats
        raise KeyError(reviewer)

    def interaction(self, interaction: str) -> InteractionStats:
        for stats in self._block.interaction_stats:
            if stats.interaction == interaction:
                return stats
        raise KeyError(interaction)

    @property
    def outside_tolerance(self) -> tuple[ToleranceBreach, ...]:
        return _breaches(self._block, self.criterion_id)

    @property
    def mean_alignment(self) -> float | None:
        """Mean of the reviewers' alignment; used to rank criteria when alphas tie."""
        aligned = [s.alignment for s in self.reviewer_stats if s.alignment is not None]
        return statistics.fmean(aligned) if aligned else None

    @property
    def mean_spread(self) -> float | None:
        spreads = [s.spread for s in self.interaction_stats if s.spread is not None]
        return statistics.fmean(spreads) if spreads else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "criterion": self.criterion_id,
            "criterion_type": self.criterion_type,
            "weight": self.weight,
            "benchmark_given": self.benchmark_given,
            "mean_alignment": self.mean_alignment,
            "mean_spread": self.mean_spread,
            **_block_dict(self._block),
            "outside_tolerance": [b.to_dict() for b in self.outside_tolerance],
        }

    def to_rows(self) -> list[Row]:
        cid = self.criterion_id
        rows = [
            _row("criterion", cid, None, None, "criterion_type", self.criterion_type),
            _row("criterion", cid, None, None, "level", self.level),
            _row("criterion", cid, None, None, "weight", self.weight),
            _row("criterion", cid, None, None, "alpha", self.alpha),
            _row("criterion", cid, None, None, "alpha_status", self.alpha_status),
            _row("criterion", cid, None, None, "mean_alignment", self.mean_alignment),
            _row("criterion", cid, None, None, "mean_spread", self.mean_spread),
        ]
        rows.extend(_block_rows(self._block, "criterion", cid))
        return rows


def criterion_report(
    criterion_id: str,
    answers: Mapping[str, Mapping[str, Any]],
    *,
    criterion_type: str,
    weight: float = 1.0,
    benchmark: Mapping[str, Any] | None = None,
    value_range: Sequence[float] | None = None,
    tolerance: float = 5.0,
    interactions: Sequence[str] | None = None,
) -> CriterionReport:
    """Calibration figures for one criterion.

    ``answers`` maps reviewer -> interaction -> answer. Without ``value_range`` answers are
    already percentages 0-100; with it they are raw rubric answers (yes_no 0/1, scale
    integers in [min, max], points in [0, max_points]) and are converted to percent, so every
    deviation and the tolerance are in percentage points whatever the criterion type.

    The reference for deviations and alignment is the ``benchmark`` (expert) answer for the
    interaction, or the median of all reviewers' answers when the benchmark is absent for
    that interaction. The benchmark is not counted as a reviewer in spread or alpha: those
    measure how consistently the reviewers score; add the expert to ``answers`` as well if they
    should count. Alpha uses the level that fits the answer type (yes_no nominal, scale
    ordinal, points interval); the percent conversion is monotone and linear, so alpha is the
    same as on the raw answers.

    ``interactions`` fixes the order (and lets never-answered interactions appear); by
    default it is the order first seen in ``answers`` then ``benchmark``.
    """
    context = f"criterion {criterion_id!r}"
    if criterion_type not in LEVEL_FOR_CRITERION_TYPE:
        raise CalibrationError(
            "calibration.unknown_criterion_type",
            f"{context}: type {criterion_type!r} is not one of "
            f"{', '.join(LEVEL_FOR_CRITERION_TYPE)}",
        )
    if (
        isinstance(weight, bool)
        or not isinstance(weight, numbers.Real)
        or not math.isfinite(weight)
        or weight < 0
    ):
        raise CalibrationError(
            "calibration.bad_weight", f"{context}: weight must be a number >= 0, got {weight!r}"
        )
    tol = _check_tolerance(tolerance, context)
    rng = _check_range(criterion_id, criterion_type, value_range)

    _check_answers(answers, benchmark, context)
    reviewers = tuple(answers)
    ids = _ordered_ids(
        interactions,
        [*(answers[r].keys() for r in reviewers), *([benchmark.keys()] if benchmark else [])],
        "interactions",
        context,
    )
    values = {
        reviewer: {
            interaction: _to_percent(
                value,
                f"{context}, reviewer {reviewer!r}, interaction {interaction!r}",
                criterion_type,
                rng,
            )
            for interaction, value in answers[reviewer].items()
        }
        for reviewer in reviewers
    }
    bench = (
        {
            interaction: _to_percent(
                value, f"{context}, benchmark, interaction {interaction!r}", criterion_type, rng
            )
            for interaction, value in benchmark.items()
        }
        if benchmark is not None
        else None
    )
    level = LEVEL_FOR_CRITERION_TYPE[criterion_type]
    block = _analyse(values, reviewers, ids, bench, level, tol)
    return CriterionReport(
        criterion_id=criterion_id,
        criterion_type=criterion_type,
        weight=float(weight),
        benchmark_given=benchmark is not None,
        _block=block,
    )


@dataclass(frozen=True)
class CriterionAgreement:
    """A criterion's place in the "where do reviewers disagree most" ranking."""

    criterion_id: str
    alpha: float | None
    alpha_status: AlphaStatus
    mean_alignment: float | None
    mean_spread: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "criterion": self.criterion_id,
            "alpha": self.alpha,
            "alpha_status": self.alpha_status,
            "mean_alignment": self.mean_alignment,
            "mean_spread": self.mean_spread,
        }


@dataclass(frozen=True)
class SessionReport:
    """Whole-session figures: overall scores, weighted alignment and per-criterion detail."""

    session_id: str | None
    criteria: tuple[CriterionReport, ...]
    weighted_alignment: dict[str, float | None]
    criterion_agreement: tuple[CriterionAgreement, ...]
    lowest_agreement: tuple[CriterionAgreement, ...]
    _overall: _Block = field(repr=False)

    @property
    def reviewers(self) -> tuple[str, ...]:
        return tuple(self.weighted_alignment)

    @property
    def overall(self) -> dict[str, dict[str, float | None]]:
        """reviewer -> interaction -> overall percent as given."""
        return self._overall.values

    @property
    def overall_alpha(self) -> float | None:
        return self._overall.alpha

    @property
    def overall_alpha_status(self) -> AlphaStatus:
        return self._overall.alpha_status

    @property
    def overall_interaction_stats(self) -> tuple[InteractionStats, ...]:
        return self._overall.interaction_stats

    @property
    def overall_reviewer_stats(self) -> tuple[ReviewerStats, ...]:
        return self._overall.reviewer_stats

    @property
    def tolerance(self) -> float:
        return self._overall.tolerance

    @property
    def outside_tolerance(self) -> tuple[ToleranceBreach, ...]:
        """Overall-score breaches first (criterion ``None``), then each criterion's."""
        found = list(_breaches(self._overall, None))
        for report in self.criteria:
            found.extend(report.outside_tolerance)
        return tuple(found)

    def criterion(self, criterion_id: str) -> CriterionReport:
        for report in self.criteria:
            if report.criterion_id == criterion_id:
                return report
        raise KeyError(criterion_id)

    def criterion_alignment(self) -> dict[str, dict[str, float | None]]:
        """reviewer -> criterion -> alignment, the shape :func:`alignment_trend` takes."""
        return {
            reviewer: {
                report.criterion_id: (
                    report.reviewer(reviewer).alignment if reviewer in report.reviewers else None
                )
                for report in self.criteria
            }
            for reviewer in self.reviewers
        }

    def trend_session(self, when: date) -> TrendSession:
        return TrendSession(
            when=when,
            alignment=dict(self.weighted_alignment),
            criterion_alignment=self.criterion_alignment(),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "session": self.session_id,
            "tolerance": self.tolerance,
            "overall": _block_dict(self._overall),
            "weighted_alignment": dict(self.weighted_alignment),
            "outside_tolerance": [b.to_dict() for b in self.outside_tolerance],
            "criterion_agreement": [c.to_dict() for c in self.criterion_agreement],
            "lowest_agreement": [c.criterion_id for c in self.lowest_agreement],
            "criteria": [c.to_dict() for c in self.criteria],
        }

    def to_rows(self) -> list[Row]:
        rows = [
            _row("session", None, None, None, "overall_alpha", self.overall_alpha),
            _row("session", None, None, None, "overall_alpha_status", self.overall_alpha_status),
            _row("session", None, None, None, "tolerance", self.tolerance),
        ]
        for rank, agreement in enumerate(self.lowest_agreement, start=1):
            rows.append(
                _row("session", agreement.criterion_id, None, None, "lowest_agreement_rank", rank)
            )
        for reviewer, value in self.weighted_alignment.items():
            rows.append(_row("session_reviewer", None, reviewer, None, "weighted_alignment", value))
        rows.extend(_block_rows(self._overall, "session", None))
        for report in self.criteria:
            rows.extend(report.to_rows())
        return rows

    def to_csv(self) -> str:
        return rows_to_csv(self.to_rows())


def session_report(
    criteria: Sequence[CriterionReport],
    overall: Mapping[str, Mapping[str, Any]],
    *,
    benchmark_overall: Mapping[str, Any] | None = None,
    tolerance: float = 5.0,
    lowest_agreement_count: int = 3,
    session_id: str | None = None,
    interactions: Sequence[str] | None = None,
) -> SessionReport:
    """Combine criterion reports with the overall percent per reviewer per interaction.

    ``overall`` (reviewer -> interaction -> overall percent, as scored by the rubric engine)
    gives the overall spread, deviations from ``benchmark_overall`` (or the median) and alpha
    at interval level. Each criterion report's ``weight`` must be its effective weight in the
    rubric (criterion weight x section weight) and the weights must sum to 1. A reviewer's
    weighted alignment is ``sum(w_c * alignment_c) / sum(w_c)`` over the criteria where that
    reviewer has an alignment, so a skipped criterion does not count as zero.

    ``lowest_agreement`` lists up to ``lowest_agreement_count`` criteria with a defined alpha,
    lowest alpha first (ties broken by lower mean alignment). Criteria whose alpha is
    undefined because every answer agreed are never "lowest"; those with too few answers
    cannot be ranked.
    """
    tol = _check_tolerance(tolerance, f"session {session_id!r}")
    if not criteria:
        raise CalibrationError(
            "calibration.no_criteria", "a session report needs at least one criterion report"
        )
    if isinstance(lowest_agreement_count, bool) or lowest_agreement_count < 0:
        raise CalibrationError(
            "calibration.bad_count",
            f"lowest_agreement_count must be >= 0, got {lowest_agreement_count!r}",
        )
    seen_ids: set[str] = set()
    for report in criteria:
        if report.criterion_id in seen_ids:
            raise CalibrationError(
                "calibration.duplicate_criterion",
                f"criterion {report.criterion_id!r} appears twice in the session",
            )
        seen_ids.add(report.criterion_id)
    total_weight = math.fsum(report.weight for report in criteria)
    if abs(total_weight - 1.0) > _WEIGHT_SUM_SLACK:
        detail = ", ".join(f"{r.criterion_id}={r.weight:g}" for r in criteria)
        raise CalibrationError(
            "calibration.weights_do_not_sum_to_one",
            f"effective criterion weights sum to {total_weight:.6g}, expected 1 ({detail})",
        )

    context = f"session {session_id!r} overall" if session_id else "session overall"
    _check_answers(overall, benchmark_overall, context)
    reviewers_overall = tuple(overall)
    ids = _ordered_ids(
        interactions,
        [
            *(overall[r].keys() for r in reviewers_overall),
            *([benchmark_overall.keys()] if benchmark_overall else []),
        ],
        "interactions",
        context,
    )
    values = {
        reviewer: {
            interaction: _to_percent(
                value, f"{context}, reviewer {reviewer!r}, interaction {interaction!r}", "", None
            )
            for interaction, value in overall[reviewer].items()
        }
        for reviewer in reviewers_overall
    }
    bench = (
        {
            interaction: _to_percent(
                value, f"{context}, benchmark, interaction {interaction!r}", "", None
            )
            for interaction, value in benchmark_overall.items()
        }
        if benchmark_overall is not None
        else None
    )
    block = _analyse(values, reviewers_overall, ids, bench, "interval", tol)

    all_reviewers: dict[str, None] = dict.fromkeys(reviewers_overall)
    for report in criteria:
        for reviewer in report.reviewers:
            all_reviewers.setdefault(reviewer, None)
    weighted: dict[str, float | None] = {}
    for reviewer in all_reviewers:
        pairs = [
            (report.weight, alignment)
            for report in criteria
            if reviewer in report.reviewers
            and (alignment := report.reviewer(reviewer).alignment) is not None
        ]
        denominator = math.fsum(w for w, _ in pairs)
        weighted[reviewer] = (
            math.fsum(w * a for w, a in pairs) / denominator if denominator > 0 else None
        )

    agreement = tuple(
        CriterionAgreement(
            criterion_id=r.criterion_id,
            alpha=r.alpha,
            alpha_status=r.alpha_status,
            mean_alignment=r.mean_alignment,
            mean_spread=r.mean_spread,
        )
        for r in criteria
    )
    rankable = sorted(
        (a for a in agreement if a.alpha is not None),
        key=lambda a: (
            a.alpha,
            a.mean_alignment if a.mean_alignment is not None else math.inf,
        ),
    )
    return SessionReport(
        session_id=session_id,
        criteria=tuple(criteria),
        weighted_alignment=weighted,
        criterion_agreement=agreement,
        lowest_agreement=tuple(rankable[:lowest_agreement_count]),
        _overall=block,
    )


def rows_to_csv(rows: Iterable[Row], fields: Sequence[str] = ROW_FIELDS) -> str:
    """CSV text for flat rows; ``None`` becomes an empty cell, floats keep full precision."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in fields})
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# Trend over sessions
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendSession:
    """One session's alignment figures, as produced by :meth:`SessionReport.trend_session`."""

    when: date
    alignment: Mapping[str, float | None]
    criterion_alignment: Mapping[str, Mapping[str, float | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class CriterionMean:
    """A reviewer's mean alignment on one criterion across the sessions they took part in."""

    criterion_id: str
    mean_alignment: float
    n_sessions: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "criterion": self.criterion_id,
            "mean_alignment": self.mean_alignment,
            "n_sessions": self.n_sessions,
        }


@dataclass(frozen=True)
class ReviewerTrend:
    """One reviewer's alignment over time and the criteria they disagree on most."""

    reviewer: str
    points: tuple[tuple[date, float], ...]
    weakest_criteria: tuple[CriterionMean, ...]

    @property
    def first(self) -> float | None:
        return self.points[0][1] if self.points else None

    @property
    def latest(self) -> float | None:
        return self.points[-1][1] if self.points else None

    @property
    def change(self) -> float | None:
        """Latest minus first alignment: positive means the reviewer is converging."""
        if len(self.points) < 2:
            return None
        return self.points[-1][1] - self.points[0][1]

    @property
    def mean(self) -> float | None:
        return statistics.fmean(v for _, v in self.points) if self.points else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "reviewer": self.reviewer,
            "points": [{"date": d.isoformat(), "alignment": v} for d, v in self.points],
            "first": self.first,
            "latest": self.latest,
            "change": self.change,
            "mean": self.mean,
            "weakest_criteria": [c.to_dict() for c in self.weakest_criteria],
        }


@dataclass(frozen=True)
class AlignmentTrend:
    reviewers: tuple[ReviewerTrend, ...]

    def reviewer(self, reviewer: str) -> ReviewerTrend:
        for trend in self.reviewers:
            if trend.reviewer == reviewer:
                return trend
        raise KeyError(reviewer)

    def to_dict(self) -> dict[str, Any]:
        return {"reviewers": [t.to_dict() for t in self.reviewers]}

    def to_rows(self) -> list[Row]:
        """Flat rows with :data:`TREND_ROW_FIELDS` columns (dates as ISO strings)."""
        rows: list[Row] = []
        for trend in self.reviewers:
            for when, value in trend.points:
                rows.append(
                    {
                        "reviewer": trend.reviewer,
                        "session_date": when.isoformat(),
                        "criterion": "",
                        "metric": "alignment",
                        "value": value,
                    }
                )
            for metric, value in (
                ("first", trend.first),
                ("latest", trend.latest),
                ("change", trend.change),
                ("mean", trend.mean),
            ):
                rows.append(
                    {
                        "reviewer": trend.reviewer,
                        "session_date": "",
                        "criterion": "",
                        "metric": metric,
                        "value": value,
                    }
                )
            for rank, crit in enumerate(trend.weakest_criteria, start=1):
                for metric, value in (
                    ("weakest_rank", rank),
                    ("mean_alignment", crit.mean_alignment),
                    ("n_sessions", crit.n_sessions),
                ):
                    rows.append(
                        {
                            "reviewer": trend.reviewer,
                            "session_date": "",
                            "criterion": crit.criterion_id,
                            "metric": metric,
                            "value": value,
                        }
                    )
        return rows

    def to_csv(self) -> str:
        return rows_to_csv(self.to_rows(), TREND_ROW_FIELDS)


def _alignment_value(value: Any, where: str) -> float | None:
    number = _number(value, where)
    if number is not None and not 0.0 <= number <= 100.0:
        raise CalibrationError(
            "calibration.value_out_of_range", f"{where}: alignment {number!r} is outside 0-100"
        )
    return number


def alignment_trend(
    sessions: Sequence[TrendSession | tuple[Any, ...]], *, weakest_count: int = 3
) -> AlignmentTrend:
    """Each reviewer's alignment over chronological sessions and their weakest criteria.

    ``sessions`` items are :class:`TrendSession` or ``(date, reviewer -> alignment %,
    reviewer -> criterion -> alignment %)`` tuples, oldest first (equal dates allowed; an
    out-of-order list is an error rather than silently re-sorted, because it usually means
    the caller mixed up sessions). Missing values are skipped. Weakest criteria are those with
    the lowest mean alignment over the sessions where the reviewer had one; ties go to the
    criterion id in alphabetical order so the list is stable.
    """
    if isinstance(weakest_count, bool) or weakest_count < 0:
        raise CalibrationError(
            "calibration.bad_count", f"weakest_count must be >= 0, got {weakest_count!r}"
        )
    normalised: list[TrendSession] = []
    for position, item in enumerate(sessions):
        if isinstance(item, TrendSession):
            session = item
        else:
            if not 2 <= len(item) <= 3:
                raise CalibrationError(
                    "calibration.bad_trend_session",
                    f"session {position}: expected (date, alignment, criterion_alignment)",
                )
            session = TrendSession(*item)
        if not isinstance(session.when, date):
            raise CalibrationError(
                "calibration.bad_trend_session",
                f"session {position}: date must be a datetime.date, got {session.when!r}",
            )
        if normalised and _earlier(session.when, normalised[-1].when):
            raise CalibrationError(
                "calibration.trend_not_chronological",
                f"session {position} ({session.when.isoformat()}) is earlier than session "
                f"{position - 1} ({normalised[-1].when.isoformat()}); pass sessions oldest first",
            )
        normalised.append(session)

    reviewers: dict[str, None] = {}
    for session in normalised:
        for reviewer in (*session.alignment, *session.criterion_alignment):
            reviewers.setdefault(reviewer, None)

    trends = []
    for reviewer in reviewers:
        points: list[tuple[date, float]] = []
        per_criterion: dict[str, list[float]] = {}
        for position, session in enumerate(normalised):
            where = f"session {position} ({session.when.isoformat()}), reviewer {reviewer!r}"
            value = _alignment_value(session.alignment.get(reviewer), where)
            if value is not None:
                points.append((session.when, value))
            for criterion_id, raw in session.criterion_alignment.get(reviewer, {}).items():
                crit_value = _alignment_value(raw, f"{where}, criterion {criterion_id!r}")
                if crit_value is not None:
                    per_criterion.setdefault(criterion_id, []).append(crit_value)
        means = sorted(
            (
                CriterionMean(criterion_id=c, mean_alignment=statistics.fmean(v), n_sessions=len(v))
                for c, v in per_criterion.items()
            ),
            key=lambda m: (m.mean_alignment, m.criterion_id),
        )
        trends.append(
            ReviewerTrend(
                reviewer=reviewer,
                points=tuple(points),
                weakest_criteria=tuple(means[:weakest_count]),
            )
        )
    return AlignmentTrend(reviewers=tuple(trends))


def _earlier(later: date, earlier: date) -> bool:
    """Whether ``later`` sorts before ``earlier``.

    A datetime is a date subclass but does not compare with plain dates (nor naive with
    aware datetimes); fall back to comparing calendar days in those cases.
    """
    try:
        return later < earlier
    except TypeError:
        return _day(later) < _day(earlier)


def _day(value: date) -> date:
    return value.date() if isinstance(value, datetime) else value
