"""One-call auto-QA for an interaction (what the storage layer calls)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.nlp.analyzer import Analyzer, get_analyzer
from qa.nlp.suggest import Suggestion, rubric_dict, suggest_scores
from qa.nlp.timing import TimingMetrics, compute_metrics
from qa.nlp.types import Analysis, coerce_turns


@dataclass(frozen=True)
class AutoQA:
    analysis: Analysis
    metrics: TimingMetrics
    suggestions: dict[str, Suggestion | None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "analysis": self.analysis.to_dict(),
            "metrics": self.metrics.to_dict(),
            "suggestions": {
                k: (v.to_dict() if v is not None else None) for k, v in self.suggestions.items()
            },
        }


def auto_qa(
    turns: Iterable[Any],
    channel: str,
    lang: str,
    rubric: Mapping[str, Any] | Any | None = None,
    *,
    lexicon_dir: Path | str | None = None,
    hold_silence_s: float | None = None,
    analyzer: Analyzer | None = None,
) -> AutoQA:
    """Analyse one interaction end to end: flags + findings, timing, suggestions.

    Hold detection takes ``hold_silence_s`` and ``announced_hold_min_s`` from the
    rubric's ``timing_thresholds`` for the channel when it defines them (an
    explicit ``hold_silence_s`` argument wins). ``lexicon_dir`` is the app's
    ``QA_LEXICON_DIR`` setting (passed in, never read here). Without a rubric,
    ``suggestions`` is empty. Bulk callers pass the ``analyzer`` they looked up
    once (the lookup checks the lexicon files).
    """
    turn_list = coerce_turns(turns)
    if analyzer is None:
        analyzer = get_analyzer(lang, lexicon_dir)
    analysis = analyzer.analyze(turn_list, channel, lang)
    kwargs: dict[str, Any] = {"hold_announcements": analysis.hold_announcements}
    data = rubric_dict(rubric) if rubric is not None else None
    if data is not None:
        kwargs.update(_hold_settings(data, channel))
    if hold_silence_s is not None:
        kwargs["hold_silence_s"] = hold_silence_s
    metrics = compute_metrics(turn_list, channel, **kwargs)
    suggestions = suggest_scores(data, analysis, metrics, channel) if data is not None else {}
    return AutoQA(analysis, metrics, suggestions)


#: Timing thresholds that steer hold detection rather than grade a metric.
HOLD_SETTINGS = ("hold_silence_s", "announced_hold_min_s")


def _hold_settings(rubric: Mapping[str, Any], channel: str) -> dict[str, float]:
    """The channel's hold-detection thresholds from the rubric (where it sets them)."""
    thresholds = (rubric.get("timing_thresholds") or {}).get(channel) or {}
    return {k: float(thresholds[k]) for k in HOLD_SETTINGS if k in thresholds}
