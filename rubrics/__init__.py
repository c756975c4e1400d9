"""Rubrics: the versioned YAML format QA leads write, its validator and the scoring rule.

Everything other packages need is re-exported here; the submodules are
implementation detail.
"""

from rubrics.errors import ERROR_CODES, RubricInvalid, RubricProblem, format_problem
from rubrics.loader import (
    MAX_RUBRIC_BYTES,
    builtin_rubric_path,
    check_rubric_file,
    check_rubric_text,
    load_rubric,
    load_rubric_file,
)
from rubrics.schema import (
    SCHEMA_VERSION,
    Criterion,
    Evidence,
    LocalText,
    MetricCheck,
    Rubric,
    Scale,
    Section,
)
from rubrics.scoring import (
    ANSWER_ERROR_CODES,
    Answer,
    AnswerError,
    AnswerErrors,
    CriterionResult,
    ScoreResult,
    SectionResult,
    score,
)

__all__ = [
    "ANSWER_ERROR_CODES",
    "ERROR_CODES",
    "MAX_RUBRIC_BYTES",
    "SCHEMA_VERSION",
    "Answer",
    "AnswerError",
    "AnswerErrors",
    "Criterion",
    "CriterionResult",
    "Evidence",
    "LocalText",
    "MetricCheck",
    "Rubric",
    "RubricInvalid",
    "RubricProblem",
    "Scale",
    "ScoreResult",
    "Section",
    "SectionResult",
    "builtin_rubric_path",
    "check_rubric_file",
    "check_rubric_text",
    "format_problem",
    "load_rubric",
    "load_rubric_file",
    "score",
]
