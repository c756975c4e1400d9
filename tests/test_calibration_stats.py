"""Calibration statistics: alpha against Krippendorff (2011) and the ``krippendorff`` package,
criterion/session reports against hand-computed figures, and the alignment trend."""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
import warnings
from datetime import date, datetime

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.calibration import (
    ROW_FIELDS,
    CalibrationError,
    TrendSession,
    alignment_trend,
    alpha_with_status,
    criterion_report,
    krippendorff_alpha,
    rows_to_csv,
    session_report,
)
from qa.calibration.stats import TREND_ROW_FIELDS

N = None
LEVELS = ("nominal", "ordinal", "interval", "ratio")

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C onwards:
# 4 observers x 12 units with missing values.
PAPER_4X12 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]


def reference_alpha(data, level, value_domain=None) -> float | None:
    """The ``krippendorff`` package, with its undefined cases mapped to None."""
    matrix = np.array([[np.nan if v is None else v for v in row] for row in data], dtype=float)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            value = krippendorff.alpha(
                reliability_data=matrix, level_of_measurement=level, value_domain=value_domain
            )
    except ValueError:
        return None
    return None if math.isnan(value) else float(value)


# --------------------------------------------------------------------------------------------
# Krippendorff's alpha: published examples
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "published"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_paper_4_observers_12_units_with_missing_values(level: str, published: float) -> None:
    alpha = krippendorff_alpha(PAPER_4X12, level)
    assert alpha is not None
    assert round(alpha, 3) == published
    assert alpha == pytest.approx(reference_alpha(PAPER_4X12, level), abs=1e-12)


def test_paper_nominal_value_is_the_exact_fraction() -> None:
    # n = 40 pairable values; the paper's arithmetic gives alpha = 1 - 39 * 8 / 1216.
    assert krippendorff_alpha(PAPER_4X12, "nominal") == pytest.approx(1 - 39 * 8 / 1216, abs=1e-15)


def test_paper_binary_two_observers() -> None:
    data = [[0, 1, 0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]]
    assert round(krippendorff_alpha(data, "nominal"), 3) == 0.095


def test_paper_nominal_letters_two_observers() -> None:
    data = [list("aabbdcccedda"), list("babbbccceddd")]
    assert round(krippendorff_alpha(data, "nominal"), 3) == 0.692


def test_units_with_a_single_value_are_not_pairable() -> None:
    # Unit 12 has one value only (observer B's 3); dropping it must not change alpha.
    without_last = [row[:11] for row in PAPER_4X12]
    for level in LEVELS:
        assert krippendorff_alpha(without_last, level) == pytest.approx(
            krippendorff_alpha(PAPER_4X12, level), abs=1e-12
        )


def test_numpy_input_with_nan_as_missing() -> None:
    matrix = np.array([[np.nan if v is None else v for v in row] for row in PAPER_4X12])
    assert krippendorff_alpha(matrix, "interval") == pytest.approx(0.8491071428571428, abs=1e-12)


def test_ordinal_strings_need_and_follow_the_value_domain() -> None:
    names = {1: "very low", 2: "low", 3: "mid", 4: "high", 5: "very high"}
    words = [[None if v is None else names[v] for v in row] for row in PAPER_4X12]
    domain = [names[i] for i in range(1, 6)]
    assert krippendorff_alpha(words, "ordinal", value_domain=domain) == pytest.approx(
        krippendorff_alpha(PAPER_4X12, "ordinal"), abs=1e-12
    )
    with pytest.raises(CalibrationError) as err:
        krippendorff_alpha([["low", "high"], ["low", 3]], "ordinal")
    assert err.value.code == "calibration.value_domain_required"


def test_unobserved_domain_values_do_not_change_alpha() -> None:
    for level in LEVELS:
        assert krippendorff_alpha(PAPER_4X12, level, value_domain=range(0, 9)) == pytest.approx(
            krippendorff_alpha(PAPER_4X12, level), abs=1e-12
        )


def test_ordinal_depends_on_domain_order() -> None:
    reversed_ranks = krippendorff_alpha(PAPER_4X12, "ordinal", value_domain=[5, 4, 3, 2, 1])
    assert reversed_ranks == pytest.approx(krippendorff_alpha(PAPER_4X12, "ordinal"), abs=1e-12)
    shuffled = krippendorff_alpha(PAPER_4X12, "ordinal", value_domain=[3, 1, 5, 2, 4])
    assert shuffled == pytest.approx(
        reference_alpha(PAPER_4X12, "ordinal", value_domain=[3, 1, 5, 2, 4]), abs=1e-12
    )
    assert shuffled != pytest.approx(reversed_ranks, abs=1e-3)


# --------------------------------------------------------------------------------------------
# Krippendorff's alpha: against the reference package on random data
# --------------------------------------------------------------------------------------------


def _random_matrix(rng: np.random.Generator, level: str) -> list[list[float | None]]:
    coders = int(rng.integers(1, 9))
    units = int(rng.integers(1, 16))
    if level in ("interval", "ratio") and rng.random() < 0.5:
        pool = np.round(rng.uniform(0, 100, size=int(rng.integers(2, 12))), 2)
    else:
        pool = np.arange(int(rng.integers(1, 7)), dtype=float)
    missing = rng.uniform(0.0, 0.6)
    return [
        [None if rng.random() < missing else float(rng.choice(pool)) for _ in range(units)]
        for _ in range(coders)
    ]


@pytest.mark.parametrize("level", LEVELS)
def test_random_matrices_match_the_reference_package(level: str) -> None:
    rng = np.random.default_rng(20240611 + LEVELS.index(level))
    defined = undefined = 0
    for _ in range(400):
        data = _random_matrix(rng, level)
        ours = krippendorff_alpha(data, level)
        theirs = reference_alpha(data, level)
        if theirs is None:
            assert ours is None, data
            undefined += 1
        else:
            assert ours == pytest.approx(theirs, abs=1e-9), data
            defined += 1
    # The generator must exercise both branches substantially.
    assert defined > 200
    assert undefined > 10


def test_random_matrices_with_explicit_wider_domain_match_the_reference() -> None:
    rng = np.random.default_rng(7)
    compared = 0
    for _ in range(200):
        data = [
            [None if rng.random() < 0.3 else int(rng.integers(1, 6)) for _ in range(8)]
            for _ in range(4)
        ]
        domain = list(range(0, 8))
        for level in LEVELS:
            theirs = reference_alpha(data, level, value_domain=domain)
            ours = krippendorff_alpha(data, level, value_domain=domain)
            if theirs is None:
                assert ours is None
            else:
                assert ours == pytest.approx(theirs, abs=1e-9)
                compared += 1
    assert compared > 500


# --------------------------------------------------------------------------------------------
# Krippendorff's alpha: properties
# --------------------------------------------------------------------------------------------

matrices = st.integers(2, 6).flatmap(
    lambda coders: st.integers(2, 8).flatmap(
        lambda units: st.lists(
            st.lists(st.one_of(st.none(), st.integers(0, 4)), min_size=units, max_size=units),
            min_size=coders,
            max_size=coders,
        )
    )
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(matrices, st.randoms(use_true_random=False))
def test_alpha_ignores_coder_and_unit_order(data, rnd) -> None:
    coders = list(data)
    rnd.shuffle(coders)
    order = list(range(len(data[0])))
    rnd.shuffle(order)
    shuffled = [[row[j] for j in order] for row in coders]
    for level in LEVELS:
        a, b = krippendorff_alpha(data, level), krippendorff_alpha(shuffled, level)
        assert (a is None) == (b is None)
        if a is not None:
            assert a == pytest.approx(b, abs=1e-9)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(matrices, st.floats(0.1, 50), st.floats(-100, 100))
def test_interval_alpha_is_affine_invariant(data, scale, shift) -> None:
    moved = [[None if v is None else scale * v + shift for v in row] for row in data]
    a, b = krippendorff_alpha(data, "interval"), krippendorff_alpha(moved, "interval")
    assert (a is None) == (b is None)
    if a is not None:
        assert a == pytest.approx(b, abs=1e-9)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(matrices)
def test_ordinal_alpha_depends_only_on_rank_and_nominal_only_on_identity(data) -> None:
    monotone = [[None if v is None else v**3 + 10 * v for v in row] for row in data]
    relabelled = [[None if v is None else f"code-{(v * 7) % 5}" for v in row] for row in data]
    a, b = krippendorff_alpha(data, "ordinal"), krippendorff_alpha(monotone, "ordinal")
    assert (a is None) == (b is None)
    if a is not None:
        assert a == pytest.approx(b, abs=1e-9)
    a, b = krippendorff_alpha(data, "nominal"), krippendorff_alpha(relabelled, "nominal")
    assert (a is None) == (b is None)
    if a is not None:
        assert a == pytest.approx(b, abs=1e-9)


def test_perfect_agreement_with_variation_is_one() -> None:
    data = [[1, 2, 3, None], [1, 2, 3, 4], [None, 2, 3, 4]]
    for level in LEVELS:
        assert krippendorff_alpha(data, level) == pytest.approx(1.0)


def test_systematic_disagreement_is_negative() -> None:
    assert krippendorff_alpha([[0, 1, 0, 1], [1, 0, 1, 0]], "nominal") < 0


# --------------------------------------------------------------------------------------------
# Krippendorff's alpha: undefined cases and bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ([[1, 2, 3]], "insufficient_data"),  # single reviewer
        ([[1, None], [None, 2]], "insufficient_data"),  # no unit coded twice
        ([[None, None], [None, None]], "insufficient_data"),
        ([], "insufficient_data"),
        ([[3, 3, None], [3, 3, 3]], "no_variation"),  # all values identical
    ],
)
def test_undefined_alpha_is_none_with_a_reason(data, status) -> None:
    for level in LEVELS:
        assert krippendorff_alpha(data, level) is None
        assert alpha_with_status(data, level) == (None, status)
        assert reference_alpha(data, level) is None  # package raises or returns NaN


def test_identical_values_with_wider_domain_are_still_undefined() -> None:
    # The package returns NaN here; we return None consistently.
    assert krippendorff_alpha([[2, 2], [2, 2]], "nominal", value_domain=[1, 2, 3]) is None


@pytest.mark.parametrize(
    ("data", "level", "kwargs", "code"),
    [
        ([[1, 2]], "cardinal", {}, "calibration.unknown_level"),
        ([[1, 2], [1]], "nominal", {}, "calibration.ragged_data"),
        ([[1, "x"], [1, 2]], "interval", {}, "calibration.bad_value"),
        ([[1, math.inf], [1, 2]], "interval", {}, "calibration.bad_value"),
        ([[1, -2], [1, 2]], "ratio", {}, "calibration.negative_ratio_value"),
        ([[1, 7], [1, 2]], "nominal", {"value_domain": [1, 2]}, "calibration.value_out_of_domain"),
        ([[1, 2], [1, 2]], "ordinal", {"value_domain": [1, 2, 1]}, "calibration.bad_value_domain"),
        (5, "nominal", {}, "calibration.bad_data"),
    ],
)
def test_bad_alpha_input_raises_with_code(data, level, kwargs, code) -> None:
    with pytest.raises(CalibrationError) as err:
        krippendorff_alpha(data, level, **kwargs)
    assert err.value.code == code
    assert code in str(err.value)


def test_error_names_the_coder_and_unit() -> None:
    with pytest.raises(CalibrationError, match=r"coder 1, unit 2"):
        krippendorff_alpha([[1, 2, 3], [1, 2, "three"]], "interval")


# --------------------------------------------------------------------------------------------
# criterion_report
# --------------------------------------------------------------------------------------------

# Scale 1..5 -> percent 0, 25, 50, 75, 100.
EMPATHY = {
    "amal": {"i1": 4, "i2": 3, "i3": 5},
    "badr": {"i1": 4, "i2": 2, "i3": None},
    "chen": {"i1": 3, "i2": 3, "i3": 5},
}
EMPATHY_BENCH = {"i1": 4, "i2": 3, "i3": 4}


def empathy(**kwargs):
    return criterion_report(
        "empathy",
        EMPATHY,
        criterion_type="scale",
        value_range=(1, 5),
        **{"benchmark": EMPATHY_BENCH, "weight": 0.5, **kwargs},
    )


def test_criterion_report_against_benchmark_by_hand() -> None:
    report = empathy()
    assert report.level == "ordinal"
    assert report.values["badr"] == {"i1": 75.0, "i2": 25.0, "i3": None}

    i1 = report.interaction("i1")
    assert (i1.n_answers, i1.minimum, i1.maximum, i1.spread) == (3, 50.0, 75.0, 25.0)
    assert i1.stdev == pytest.approx(math.sqrt(((75 - 200 / 3) ** 2 * 2 + (50 - 200 / 3) ** 2) / 3))
    assert (i1.median, i1.reference, i1.reference_source) == (75.0, 75.0, "benchmark")
    i3 = report.interaction("i3")
    assert (i3.n_answers, i3.spread, i3.stdev, i3.reference) == (2, 0.0, 0.0, 75.0)

    amal = report.reviewer("amal")
    assert amal.deviations == {"i1": 0.0, "i2": 0.0, "i3": 25.0}
    assert amal.mean_deviation == pytest.approx(25 / 3)
    assert amal.mean_abs_deviation == pytest.approx(25 / 3)
    # 100 * (1 - |5 - 4| / (5 - 1)) = 75 on i3, 100 elsewhere.
    assert amal.alignment == pytest.approx((100 + 100 + 75) / 3)
    assert amal.outside_tolerance == ("i3",)

    badr = report.reviewer("badr")
    assert (badr.n_answers, badr.n_compared) == (2, 2)
    assert badr.mean_deviation == pytest.approx(-12.5)
    assert badr.mean_abs_deviation == pytest.approx(12.5)
    assert badr.alignment == pytest.approx(87.5)

    chen = report.reviewer("chen")
    assert chen.mean_deviation == pytest.approx(0.0)
    assert chen.mean_abs_deviation == pytest.approx(50 / 3)
    assert chen.alignment == pytest.approx(250 / 3)
    assert chen.outside_tolerance == ("i1", "i3")

    breaches = {b.reviewer: (b.interactions, b.deviations) for b in report.outside_tolerance}
    assert breaches == {
        "amal": (("i3",), (25.0,)),
        "badr": (("i2",), (-25.0,)),
        "chen": (("i1", "i3"), (-25.0, 25.0)),
    }
    raw = [[EMPATHY[r][i] for i in ("i1", "i2", "i3")] for r in EMPATHY]
    assert report.alpha == pytest.approx(reference_alpha(raw, "ordinal"), abs=1e-12)
    assert report.alpha_status == "ok"


def test_without_benchmark_the_reference_is_the_reviewers_median() -> None:
    report = empathy(benchmark=None)
    assert [s.reference for s in report.interaction_stats] == [75.0, 50.0, 100.0]
    assert {s.reference_source for s in report.interaction_stats} == {"median"}
    assert report.reviewer("amal").alignment == pytest.approx(100.0)
    assert report.reviewer("amal").outside_tolerance == ()
    chen = report.reviewer("chen")
    assert chen.mean_deviation == pytest.approx(-25 / 3)
    assert chen.outside_tolerance == ("i1",)
    # The benchmark does not affect agreement among reviewers.
    assert report.alpha == empathy().alpha


def test_median_of_an_even_number_of_answers_is_the_midpoint() -> None:
    report = criterion_report(
        "accuracy", {"a": {"x": 40.0}, "b": {"x": 60.0}}, criterion_type="points"
    )
    assert report.interaction("x").reference == 50.0
    assert report.reviewer("a").deviations == {"x": -10.0}
    assert report.reviewer("b").deviations == {"x": 10.0}


def test_missing_benchmark_for_one_interaction_falls_back_to_median() -> None:
    report = empathy(benchmark={"i1": 4, "i2": None})
    sources = [(s.interaction, s.reference_source, s.reference) for s in report.interaction_stats]
    assert sources == [("i1", "benchmark", 75.0), ("i2", "median", 50.0), ("i3", "median", 100.0)]


def test_interaction_nobody_answered_is_listed_but_not_scored() -> None:
    report = empathy(interactions=["i1", "i2", "i3", "i4"])
    i4 = report.interaction("i4")
    assert (i4.n_answers, i4.spread, i4.stdev, i4.median, i4.reference) == (0, *[None] * 4)
    assert report.reviewer("amal").n_compared == 3


def test_reviewer_with_no_answers_has_no_alignment() -> None:
    report = criterion_report(
        "greeting",
        {"a": {"x": 1, "y": 0}, "b": {"x": 1, "y": 1}, "ghost": {"x": None}},
        criterion_type="yes_no",
        value_range=(0, 1),
    )
    ghost = report.reviewer("ghost")
    assert (ghost.n_answers, ghost.alignment, ghost.mean_deviation) == (0, None, None)
    assert report.mean_alignment == pytest.approx(
        statistics.fmean([report.reviewer("a").alignment, report.reviewer("b").alignment])
    )


def test_percent_and_raw_inputs_give_the_same_report() -> None:
    percent = {r: {i: None if v is None else (v - 1) * 25.0 for i, v in a.items()}
               for r, a in EMPATHY.items()}  # fmt: skip
    bench = {i: (v - 1) * 25.0 for i, v in EMPATHY_BENCH.items()}
    from_percent = criterion_report(
        "empathy", percent, criterion_type="scale", benchmark=bench, weight=0.5
    )
    assert from_percent.to_dict() == empathy().to_dict()


def test_single_reviewer_has_no_alpha_but_still_an_alignment() -> None:
    report = criterion_report(
        "greeting", {"solo": {"x": 1, "y": 0}}, criterion_type="yes_no",
        value_range=(0, 1), benchmark={"x": 1, "y": 1},
    )  # fmt: skip
    assert (report.alpha, report.alpha_status) == (None, "insufficient_data")
    assert report.reviewer("solo").alignment == 50.0
    assert report.reviewer("solo").outside_tolerance == ("y",)


def test_all_equal_answers() -> None:
    report = criterion_report(
        "closing",
        {"a": {"x": 1, "y": 1}, "b": {"x": 1, "y": 1}, "c": {"x": 1}},
        criterion_type="yes_no",
        value_range=(0, 1),
    )
    assert (report.alpha, report.alpha_status) == (None, "no_variation")
    assert all(s.spread == 0.0 and s.stdev == 0.0 for s in report.interaction_stats)
    assert all(s.alignment == 100.0 for s in report.reviewer_stats)
    assert report.outside_tolerance == ()


@pytest.mark.parametrize(
    ("criterion_type", "value_range", "level", "answers"),
    [
        ("yes_no", (0, 1), "nominal", [[1, 0, 1, 1, None], [1, 1, 0, 1, 0], [0, 0, 1, 1, 0]]),
        ("scale", (1, 7), "ordinal", [[7, 2, 5, 1, None], [6, 2, 4, 1, 3], [7, 3, 5, 2, 3]]),
        ("points", (0, 8), "interval", [[8, 2.5, 5, 1, None], [6, 2, 4, 0, 3], [7, 3, 5, 2, 3]]),
    ],
)
def test_alpha_level_follows_criterion_type(criterion_type, value_range, level, answers) -> None:
    by_reviewer = {
        f"r{k}": {f"i{j}": v for j, v in enumerate(row)} for k, row in enumerate(answers)
    }
    report = criterion_report(
        "c", by_reviewer, criterion_type=criterion_type, value_range=value_range
    )
    assert report.level == level
    assert report.alpha == pytest.approx(reference_alpha(answers, level), abs=1e-9)


def test_tolerance_boundary_is_exclusive_even_after_float_conversion() -> None:
    # One point on a 0..3 criterion is 33.33...% - exactly at a tolerance of 100/3.
    answers = {"a": {"x": 1}, "b": {"x": 2}}
    at_edge = criterion_report(
        "p", answers, criterion_type="points", value_range=(0, 3), benchmark={"x": 2},
        tolerance=100 / 3,
    )  # fmt: skip
    assert at_edge.outside_tolerance == ()
    tighter = criterion_report(
        "p", answers, criterion_type="points", value_range=(0, 3), benchmark={"x": 2},
        tolerance=33.3,
    )  # fmt: skip
    assert [b.reviewer for b in tighter.outside_tolerance] == ["a"]
    exactly_five = criterion_report(
        "q", {"a": {"x": 55.0}, "b": {"x": 44.9}}, criterion_type="points",
        benchmark={"x": 50.0},
    )  # fmt: skip
    assert [b.reviewer for b in exactly_five.outside_tolerance] == ["b"]


@pytest.mark.parametrize(
    ("kwargs", "code", "where"),
    [
        ({"criterion_type": "stars"}, "calibration.unknown_criterion_type", "stars"),
        (
            {"answers": {"a": {"x": 2}}, "value_range": (0, 1)},
            "calibration.value_out_of_range",
            "'x'",
        ),
        ({"answers": {"a": {"x": 0.5}}, "value_range": (0, 1)}, "calibration.bad_value", "'a'"),
        ({"answers": {"a": {"x": 101.0}}}, "calibration.value_out_of_range", "'x'"),
        ({"answers": {"a": {"x": "yes"}}}, "calibration.bad_value", "'a'"),
        ({"answers": {"a": {"x": 1}}, "value_range": (1, 5)}, "calibration.bad_range", "(0, 1)"),
        ({"answers": {"a": {"x": 1}}, "value_range": (5, 1)}, "calibration.bad_range", "min"),
        ({"weight": -0.1}, "calibration.bad_weight", "weight"),
        ({"tolerance": -1}, "calibration.bad_tolerance", "tolerance"),
        ({"benchmark": {"x": 150}}, "calibration.value_out_of_range", "benchmark"),
        ({"interactions": ["y"]}, "calibration.unknown_interaction", "'x'"),
        ({"answers": {"a": [1, 0]}}, "calibration.bad_answers", "'a'"),
    ],
)
def test_bad_criterion_input_raises_with_code_and_location(kwargs, code, where) -> None:
    call = {"answers": {"a": {"x": 100.0}}, "criterion_type": "yes_no", **kwargs}
    answers = call.pop("answers")
    with pytest.raises(CalibrationError) as err:
        criterion_report("greeting", answers, **call)
    assert err.value.code == code
    assert "'greeting'" in str(err.value)
    assert where in str(err.value)


def test_scale_answer_must_be_whole() -> None:
    with pytest.raises(CalibrationError, match="whole number") as err:
        criterion_report("e", {"a": {"x": 2.5}}, criterion_type="scale", value_range=(1, 5))
    assert err.value.code == "calibration.bad_value"


def test_criterion_rows_are_flat_and_round_trip_through_csv() -> None:
    report = empathy()
    rows = report.to_rows()
    assert all(tuple(row) == ROW_FIELDS for row in rows)
    lookup = {(r["scope"], r["reviewer"], r["interaction"], r["metric"]): r["value"] for r in rows}
    assert lookup[("criterion", "", "", "alpha")] == report.alpha
    assert lookup[("criterion_interaction", "", "i1", "spread")] == 25.0
    assert lookup[("criterion_reviewer", "badr", "", "alignment")] == 87.5
    assert lookup[("criterion_answer", "chen", "i3", "deviation")] == 25.0
    assert lookup[("criterion_answer", "chen", "i3", "outside_tolerance")] == 1
    assert lookup[("criterion_answer", "amal", "i1", "outside_tolerance")] == 0
    assert ("criterion_answer", "badr", "i3", "value") not in lookup  # not answered
    parsed = list(csv.DictReader(io.StringIO(rows_to_csv(rows))))
    assert len(parsed) == len(rows)
    assert all(p["criterion"] == "empathy" for p in parsed)
    assert float(parsed[3]["value"]) == rows[3]["value"]


# --------------------------------------------------------------------------------------------
# session_report
# --------------------------------------------------------------------------------------------


def greeting():
    answers = {
        "amal": {"i1": 1, "i2": 1, "i3": 1},
        "badr": {"i1": 1, "i2": 0, "i3": 1},
        "chen": {"i1": 1, "i2": 1, "i3": 0},
        "dana": {"i1": 1, "i2": 1, "i3": 1},
    }
    return criterion_report(
        "greeting", answers, criterion_type="yes_no", value_range=(0, 1), weight=0.25,
        benchmark={"i1": 1, "i2": 1, "i3": 1},
    )  # fmt: skip


def closing():
    answers = {r: {"i1": 1, "i2": 1, "i3": 1} for r in ("amal", "badr", "chen")}
    return criterion_report(
        "closing", answers, criterion_type="yes_no", value_range=(0, 1), weight=0.25
    )


OVERALL = {
    "amal": {"i1": 80.0, "i2": 70.0, "i3": 90.0},
    "badr": {"i1": 82.0, "i2": 60.0, "i3": None},
    "chen": {"i1": 70.0, "i2": 71.0, "i3": 88.0},
}
OVERALL_BENCH = {"i1": 80.0, "i2": 70.0, "i3": 85.0}


def session(**kwargs):
    return session_report(
        [greeting(), empathy(), closing()],
        OVERALL,
        **{"benchmark_overall": OVERALL_BENCH, "session_id": "s-1", **kwargs},
    )


def test_weighted_alignment_follows_rubric_weights() -> None:
    report = session()
    # Per-criterion alignments worked out by hand: greeting amal 100, badr/chen 200/3,
    # dana 100; empathy 275/3, 87.5, 250/3; closing 100 for all three.
    assert report.weighted_alignment["amal"] == pytest.approx(0.25 * 100 + 0.5 * 275 / 3 + 25)
    assert report.weighted_alignment["badr"] == pytest.approx(0.25 * 200 / 3 + 0.5 * 87.5 + 25)
    assert report.weighted_alignment["chen"] == pytest.approx(0.25 * 200 / 3 + 0.5 * 250 / 3 + 25)
    # dana only scored greeting: renormalised over the criteria she has.
    assert report.weighted_alignment["dana"] == pytest.approx(100.0)
    assert report.reviewers == ("amal", "badr", "chen", "dana")


def test_overall_scores_spread_alpha_and_tolerance() -> None:
    report = session()
    i1 = report.overall_interaction_stats[0]
    assert (i1.interaction, i1.spread, i1.reference) == ("i1", 12.0, 80.0)
    assert i1.stdev == pytest.approx(statistics.pstdev([80.0, 82.0, 70.0]))
    matrix = [[OVERALL[r][i] for i in ("i1", "i2", "i3")] for r in OVERALL]
    assert report.overall_alpha == pytest.approx(reference_alpha(matrix, "interval"), abs=1e-12)
    overall_breaches = [b for b in report.outside_tolerance if b.criterion_id is None]
    # amal is exactly 5 above on i3 (inside the band); badr -10 on i2; chen -10 on i1.
    assert [(b.reviewer, b.interactions, b.deviations) for b in overall_breaches] == [
        ("badr", ("i2",), (-10.0,)),
        ("chen", ("i1",), (-10.0,)),
    ]
    criterion_breaches = {
        (b.criterion_id, b.reviewer) for b in report.outside_tolerance if b.criterion_id
    }
    assert ("greeting", "badr") in criterion_breaches
    assert ("empathy", "amal") in criterion_breaches
    assert not any(c == "closing" for c, _ in criterion_breaches)


def test_lowest_agreement_ranks_by_alpha_and_skips_undefined() -> None:
    report = session()
    g, e = report.criterion("greeting").alpha, report.criterion("empathy").alpha
    assert g is not None and e is not None and g != e
    expected = [cid for cid, _ in sorted([("greeting", g), ("empathy", e)], key=lambda p: p[1])]
    assert [a.criterion_id for a in report.lowest_agreement] == expected
    # closing had no variation: perfect agreement is never "lowest".
    closing_row = next(a for a in report.criterion_agreement if a.criterion_id == "closing")
    assert closing_row.alpha_status == "no_variation"
    assert len(session(lowest_agreement_count=1).lowest_agreement) == 1


def test_lowest_agreement_ties_broken_by_mean_alignment() -> None:
    answers = {"a": {"x": 1, "y": 0}, "b": {"x": 1, "y": 1}, "c": {"x": 0, "y": 1}}
    loose = criterion_report(
        "loose", answers, criterion_type="yes_no", value_range=(0, 1), weight=0.5,
        benchmark={"x": 0, "y": 0},
    )  # fmt: skip
    close = criterion_report(
        "close", answers, criterion_type="yes_no", value_range=(0, 1), weight=0.5,
        benchmark={"x": 1, "y": 1},
    )  # fmt: skip
    assert loose.alpha == close.alpha
    assert loose.mean_alignment < close.mean_alignment
    report = session_report([close, loose], {"a": {"x": 50.0}})
    assert [a.criterion_id for a in report.lowest_agreement] == ["loose", "close"]


@pytest.mark.parametrize(
    ("criteria", "code"),
    [
        (lambda: [greeting(), empathy()], "calibration.weights_do_not_sum_to_one"),
        (lambda: [greeting(), greeting(), empathy()], "calibration.duplicate_criterion"),
        (lambda: [], "calibration.no_criteria"),
    ],
)
def test_bad_session_input(criteria, code) -> None:
    with pytest.raises(CalibrationError) as err:
        session_report(criteria(), OVERALL)
    assert err.value.code == code


def test_session_overall_values_are_validated_with_location() -> None:
    with pytest.raises(CalibrationError, match=r"'s-9'.*'badr'.*'i2'") as err:
        session_report(
            [greeting(), empathy(), closing()],
            {"badr": {"i2": 120.0}},
            session_id="s-9",
        )
    assert err.value.code == "calibration.value_out_of_range"


def test_session_export_is_json_and_csv_friendly() -> None:
    report = session()
    data = json.loads(json.dumps(report.to_dict()))
    assert data["session"] == "s-1"
    assert data["lowest_agreement"] == [a.criterion_id for a in report.lowest_agreement]
    assert [c["criterion"] for c in data["criteria"]] == ["greeting", "empathy", "closing"]
    assert data["overall"]["values"]["badr"]["i3"] is None
    rows = report.to_rows()
    scopes = {r["scope"] for r in rows}
    assert {"session", "session_reviewer", "session_interaction", "session_answer"} <= scopes
    assert {"criterion", "criterion_reviewer", "criterion_interaction"} <= scopes
    weighted = {
        r["reviewer"]: r["value"]
        for r in rows
        if r["scope"] == "session_reviewer" and r["metric"] == "weighted_alignment"
    }
    assert weighted == report.weighted_alignment
    parsed = list(csv.DictReader(io.StringIO(report.to_csv())))
    assert len(parsed) == len(rows)
    assert tuple(parsed[0]) == ROW_FIELDS


# --------------------------------------------------------------------------------------------
# alignment_trend
# --------------------------------------------------------------------------------------------

TREND = [
    (
        date(2025, 1, 10),
        {"amal": 80.0, "badr": 90.0},
        {"amal": {"greeting": 70.0, "empathy": 90.0}, "badr": {"greeting": 95.0, "empathy": 85}},
    ),
    (date(2025, 2, 10), {"amal": 85.0, "badr": None}, {"amal": {"greeting": 80.0, "empathy": N}}),
    (
        date(2025, 3, 10),
        {"amal": 95.0, "badr": 88.0, "chen": 70.0},
        {
            "amal": {"greeting": 90.0, "empathy": 100.0, "closing": 60.0},
            "badr": {"greeting": 90.0, "empathy": 80.0},
            "chen": {"greeting": 70.0},
        },
    ),
]


def test_alignment_trend_per_reviewer() -> None:
    trend = alignment_trend(TREND, weakest_count=2)
    amal = trend.reviewer("amal")
    assert [v for _, v in amal.points] == [80.0, 85.0, 95.0]
    assert (amal.first, amal.latest, amal.change) == (80.0, 95.0, 15.0)
    assert amal.mean == pytest.approx(260 / 3)
    assert [(c.criterion_id, c.mean_alignment, c.n_sessions) for c in amal.weakest_criteria] == [
        ("closing", 60.0, 1),
        ("greeting", 80.0, 3),
    ]
    badr = trend.reviewer("badr")
    assert [d for d, _ in badr.points] == [date(2025, 1, 10), date(2025, 3, 10)]
    assert badr.change == -2.0
    assert [(c.criterion_id, c.mean_alignment) for c in badr.weakest_criteria] == [
        ("empathy", 82.5),
        ("greeting", 92.5),
    ]
    chen = trend.reviewer("chen")
    assert (chen.first, chen.change) == (70.0, None)
    assert [r.reviewer for r in trend.reviewers] == ["amal", "badr", "chen"]


def test_trend_from_session_reports() -> None:
    first = session()
    second = session_report([greeting(), empathy(benchmark=None), closing()], OVERALL)
    trend = alignment_trend(
        [first.trend_session(date(2025, 4, 1)), second.trend_session(date(2025, 5, 1))]
    )
    amal = trend.reviewer("amal")
    assert [v for _, v in amal.points] == [
        first.weighted_alignment["amal"],
        second.weighted_alignment["amal"],
    ]
    # empathy is amal's weakest in the first session (275/3) and perfect in the second (100).
    weakest = amal.weakest_criteria[0]
    assert weakest.criterion_id == "empathy"
    assert weakest.mean_alignment == pytest.approx((275 / 3 + 100) / 2)
    assert trend.reviewer("dana").weakest_criteria[0].criterion_id == "greeting"


def test_trend_rejects_out_of_order_and_out_of_range() -> None:
    with pytest.raises(CalibrationError) as err:
        alignment_trend([TREND[1], TREND[0]])
    assert err.value.code == "calibration.trend_not_chronological"
    assert "2025-01-10" in str(err.value)
    with pytest.raises(CalibrationError) as err:
        alignment_trend([(date(2025, 1, 1), {"amal": 101.0}, {})])
    assert err.value.code == "calibration.value_out_of_range"
    assert "'amal'" in str(err.value)
    with pytest.raises(CalibrationError) as err:
        alignment_trend([("2025-01-01", {"amal": 90.0}, {})])
    assert err.value.code == "calibration.bad_trend_session"


def test_trend_accepts_equal_dates_and_mixed_date_types() -> None:
    same_day = alignment_trend(
        [
            TrendSession(date(2025, 1, 1), {"a": 50.0}),
            TrendSession(datetime(2025, 1, 1, 15, 0), {"a": 70.0}),
            TrendSession(datetime(2025, 1, 2, 9, 0), {"a": 60.0}),
        ]
    )
    assert same_day.reviewer("a").change == 10.0


def test_trend_export() -> None:
    trend = alignment_trend(TREND)
    data = json.loads(json.dumps(trend.to_dict()))
    assert data["reviewers"][0]["points"][0] == {"date": "2025-01-10", "alignment": 80.0}
    rows = trend.to_rows()
    assert all(tuple(r) == TREND_ROW_FIELDS for r in rows)
    parsed = list(csv.DictReader(io.StringIO(trend.to_csv())))
    assert len(parsed) == len(rows)
    assert {"reviewer": "chen", "session_date": "", "criterion": "greeting",
            "metric": "weakest_rank", "value": "1"} in parsed  # fmt: skip
