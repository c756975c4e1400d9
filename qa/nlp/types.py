"""Plain result types of the analyser (frozen dataclasses, JSON-friendly).

Kept free of spaCy objects so results can cross process boundaries (the
benchmark's worker pool, a job queue) and be persisted by the storage layer with
``to_dict()``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from qa.nlp.taxonomy import CHANNELS, SPEAKERS


class TurnError(ValueError):
    """A turn cannot be analysed; the message names the turn index and field."""

    code = "nlp.invalid_turn"


@dataclass(frozen=True, slots=True)
class Turn:
    speaker: str
    text: str
    start: float | None = None
    end: float | None = None


def _seconds(value: Any, index: int, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TurnError(f"turn {index}: {name} must be a number of seconds or null, got {value!r}")
    v = float(value)
    return None if math.isnan(v) else v


def coerce_turn(raw: Any, index: int) -> Turn:
    """Accept a :class:`Turn`, a mapping or any object with the same attributes."""
    if isinstance(raw, Turn):
        turn = raw
    else:
        get = raw.get if isinstance(raw, Mapping) else (lambda k, d=None: getattr(raw, k, d))
        speaker = get("speaker")
        speaker = getattr(speaker, "value", speaker)
        text = get("text")
        turn = Turn(
            speaker=speaker,
            text=text,
            start=_seconds(get("start"), index, "start"),
            end=_seconds(get("end"), index, "end"),
        )
    if turn.speaker not in SPEAKERS:
        raise TurnError(
            f"turn {index}: speaker must be one of {', '.join(SPEAKERS)}; got {turn.speaker!r}"
        )
    if not isinstance(turn.text, str):
        raise TurnError(f"turn {index}: text must be a string, got {type(turn.text).__name__}")
    return turn


def coerce_turns(turns: Iterable[Any]) -> list[Turn]:
    return [coerce_turn(t, i) for i, t in enumerate(turns)]


def check_channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}; got {channel!r}")
    return channel


@dataclass(frozen=True, slots=True)
class Flag:
    """A lexicon rule matched in one turn. ``start``/``end`` index the turn's original text."""

    rule: str
    behavior: str
    polarity: str
    criterion: str | None
    severity: str
    turn: int
    start: int
    end: int
    text: str
    suggestion: str | None = None
    coaching_tip: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class EvidenceSpan:
    turn: int
    start: int
    end: int
    text: str
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Finding:
    """A whole-interaction observation; ``why`` is the explanation shown to reviewers."""

    id: str
    why: str
    turn: int | None
    evidence: tuple[EvidenceSpan, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "why": self.why,
            "turn": self.turn,
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class Analysis:
    lang: str
    channel: str
    lexicon_version: str
    flags: tuple[Flag, ...]
    findings: tuple[Finding, ...]
    #: indices of agent turns that announced a hold (input for timing metrics)
    hold_announcements: tuple[int, ...] = ()

    def behaviours(self) -> set[str]:
        return {f.behavior for f in self.flags}

    def flags_for(self, behavior: str) -> list[Flag]:
        return [f for f in self.flags if f.behavior == behavior]

    def finding_ids(self) -> set[str]:
        return {f.id for f in self.findings}

    def to_dict(self) -> dict[str, Any]:
        return {
            "lang": self.lang,
            "channel": self.channel,
            "lexicon_version": self.lexicon_version,
            "flags": [f.to_dict() for f in self.flags],
            "findings": [f.to_dict() for f in self.findings],
            "hold_announcements": list(self.hold_announcements),
        }
