"""Auto-QA results as the app and scorecards read them.

The NLP package computes flags, findings, timing metrics and suggested answers;
they are stored per interaction (tagged with the lexicon version) and read back
through this module, so pages never run the analyser themselves. Every item
carries its own explanation: rule id, the exact span of original text, or the
metric value and threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Flag:
    """A phrase found on one turn. ``start``/``end`` index the turn's original text."""

    turn: int
    behavior: str
    polarity: str  # use | avoid | cue
    rule: str
    start: int
    end: int
    text: str
    criterion: str | None = None
    severity: str = "medium"
    suggestion: str | None = None
    coaching_tip: str | None = None


@dataclass(frozen=True)
class Finding:
    """Something about the whole interaction, e.g. ``missing_greeting``."""

    id: str
    why: str
    turn: int | None = None


@dataclass(frozen=True)
class Reason:
    """One piece of evidence behind a suggestion: a flag, a finding or a metric check."""

    kind: str  # flag | finding | metric
    text: str  # human explanation, e.g. 'first_response_s 14.2 > 10 (call threshold)'
    turn: int | None = None
    start: int | None = None
    end: int | None = None
    metric: str | None = None
    value: float | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class Suggestion:
    criterion_id: str
    value: float | None
    na: bool
    confidence: float
    reasons: list[Reason] = field(default_factory=list)


@dataclass(frozen=True)
class InteractionAnalysis:
    interaction_id: int
    lexicon_version: str
    flags: list[Flag]
    findings: list[Finding]
    metrics: dict[str, float | None]
    suggestions: dict[str, Suggestion]

    def flags_on(self, turn: int) -> list[Flag]:
        return sorted((f for f in self.flags if f.turn == turn), key=lambda f: f.start)


def analysis_for(session: object, interaction_id: int) -> InteractionAnalysis | None:
    """The stored analysis of an interaction, or None when it has not been analysed yet."""
    from qa.services.analysis import analysis_for as read

    return read(session, interaction_id)  # type: ignore[arg-type]
