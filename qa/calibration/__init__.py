"""Reviewer calibration: statistics over blind re-scores of the same interactions.

Pure functions only; persistence and UI live elsewhere so the numbers can be checked
against published references without a database.
"""

from qa.calibration.stats import (
    LEVEL_FOR_CRITERION_TYPE,
    ROW_FIELDS,
    AlignmentTrend,
    CalibrationError,
    CriterionAgreement,
    CriterionMean,
    CriterionReport,
    InteractionStats,
    ReviewerStats,
    ReviewerTrend,
    SessionReport,
    ToleranceBreach,
    TrendSession,
    alignment_trend,
    alpha_with_status,
    criterion_report,
    krippendorff_alpha,
    rows_to_csv,
    session_report,
)

__all__ = [
    "LEVEL_FOR_CRITERION_TYPE",
    "ROW_FIELDS",
    "AlignmentTrend",
    "CalibrationError",
    "CriterionAgreement",
    "CriterionMean",
    "CriterionReport",
    "InteractionStats",
    "ReviewerStats",
    "ReviewerTrend",
    "SessionReport",
    "ToleranceBreach",
    "TrendSession",
    "alignment_trend",
    "alpha_with_status",
    "criterion_report",
    "krippendorff_alpha",
    "rows_to_csv",
    "session_report",
]
