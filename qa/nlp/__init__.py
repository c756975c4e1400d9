"""Rule-based auto-QA: phrase flags, findings, timing metrics and suggested scores.

Everything here is pure (no database, no environment): the storage layer calls
:func:`auto_qa` (or the pieces) and persists the plain results (``to_dict()``).
See docs/auto-qa.md. Names are imported lazily so that importing ``qa.nlp`` (e.g.
by the CLI to register ``qa flag``) does not load spaCy until it is needed.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AutoQA": "qa.nlp.pipeline",
    "auto_qa": "qa.nlp.pipeline",
    "Analyzer": "qa.nlp.analyzer",
    "analyze": "qa.nlp.analyzer",
    "get_analyzer": "qa.nlp.analyzer",
    "get_lexicon": "qa.nlp.analyzer",
    "Lexicon": "qa.nlp.lexicon",
    "LexiconError": "qa.nlp.lexicon",
    "Rule": "qa.nlp.lexicon",
    "load_lexicon": "qa.nlp.lexicon",
    "detect_language": "qa.nlp.normalize",
    "normalize_text": "qa.nlp.normalize",
    "FindingEvidence": "qa.nlp.suggest",
    "FlagEvidence": "qa.nlp.suggest",
    "MetricEvidence": "qa.nlp.suggest",
    "RubricShapeError": "qa.nlp.suggest",
    "Suggestion": "qa.nlp.suggest",
    "suggest_scores": "qa.nlp.suggest",
    "TimingMetrics": "qa.nlp.timing",
    "compute_metrics": "qa.nlp.timing",
    "Analysis": "qa.nlp.types",
    "EvidenceSpan": "qa.nlp.types",
    "Finding": "qa.nlp.types",
    "Flag": "qa.nlp.types",
    "Turn": "qa.nlp.types",
    "TooLongError": "qa.nlp.types",
    "TurnError": "qa.nlp.types",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'qa.nlp' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
