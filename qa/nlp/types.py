"""Plain result types of the analyser (frozen dataclasses, JSON-friendly).

Kept free of spaCy objects so results can cross process boundaries (the
benchmark's worker pool, a job queue) and be persisted by the storage layer with
``to_dict()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from qa.nlp.taxonomy import CHANNELS, SPEAKERS


class TurnError(ValueError):
    """A turn cannot be analysed; the message names the turn index and field."""

    code = "nlp.invalid_turn"


#: Most agent and customer text one interaction may have (spaCy's default limit,
#: ~150,000 words or some 16 hours of speech); beyond it the analysis fails
#: with :class:`TooLongError` instead of spaCy's message about parser memory.
MAX_CHARS = 1_000_000


class TooLongError(ValueError):
    """An interaction has more text than one analysis takes (see ``MAX_CHARS``)."""

    code = "nlp.too_long"


class Turn(NamedTuple):
    speaker: str
    text: str
    start: float | None = None
    end: float | None = None


_NUMBER = (int, float)
_SPEAKER_SET = frozenset(SPEAKERS)
_new_turn = tuple.__new__  # NamedTuple construction without the Python-level __new__


def _seconds(value: Any, index: int, name: str) -> float | None:
    if value is None:
        return None
    if type(value) not in _NUMBER and (
        isinstance(value, bool) or not isinstance(value, int | float)
    ):
        raise TurnError(f"turn {index}: {name} must be a number of seconds or null, got {value!r}")
    v = float(value)
    return None if v != v else v  # NaN -> missing


def coerce_turn(raw: Any, index: int) -> Turn:
    """Accept a :class:`Turn`, a ``(speaker, text, start, end)`` tuple, a mapping or
    any object with the same attributes."""
    if type(raw) is dict:
        speaker = raw.get("speaker")
        text = raw.get("text")
        start = raw.get("start")
        end = raw.get("end")
    elif isinstance(raw, Turn) or type(raw) is tuple:  # a plain tuple in Turn's order
        if len(raw) != 4:
            raise TurnError(
                f"turn {index}: a tuple turn is (speaker, text, start, end); got {len(raw)} items"
            )
        speaker, text, start, end = raw
    elif isinstance(raw, Mapping):
        speaker, text = raw.get("speaker"), raw.get("text")
        start, end = raw.get("start"), raw.get("end")
    else:
        speaker = getattr(raw, "speaker", None)
        text = getattr(raw, "text", None)
        start = getattr(raw, "start", None)
        end = getattr(raw, "end", None)
    if type(speaker) is not str:
        speaker = getattr(speaker, "value", speaker)  # enums such as qa.models.Speaker
    if speaker not in _SPEAKER_SET:
        raise TurnError(
            f"turn {index}: speaker must be one of {', '.join(SPEAKERS)}; got {speaker!r}"
        )
    if type(text) is not str:
        if not isinstance(text, str):
            raise TurnError(f"turn {index}: text must be a string, got {type(text).__name__}")
        text = str(text)
    if start is not None and type(start) is not float:
        start = _seconds(start, index, "start")
    elif start != start:  # NaN -> missing
        start = None
    if end is not None and type(end) is not float:
        end = _seconds(end, index, "end")
    elif end != end:
        end = None
    return _new_turn(Turn, (speaker, text, start, end))


def coerce_turns(turns: Iterable[Any]) -> list[Turn]:
    out: list[Turn] = []
    append = out.append
    speakers = _SPEAKER_SET
    for i, raw in enumerate(turns):
        # Fast path for the common shapes (a dict, or a plain 4-tuple as the bulk
        # pool sends them, with a plain-str speaker and text and float or missing
        # times); anything else gets the full checks.
        kind = type(raw)
        if kind is dict or (kind is tuple and len(raw) == 4):
            if kind is dict:
                speaker = raw.get("speaker")
                text = raw.get("text")
                start = raw.get("start")
                end = raw.get("end")
            else:
                speaker, text, start, end = raw
            if (
                type(speaker) is str
                and speaker in speakers
                and type(text) is str
                and (start is None or (type(start) is float and start == start))
                and (end is None or (type(end) is float and end == end))
            ):
                append(_new_turn(Turn, (speaker, text, start, end)))
                continue
        append(coerce_turn(raw, i))
    return out


def check_channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}; got {channel!r}")
    return channel


class Flag(NamedTuple):
    """A lexicon rule matched in one turn. ``start``/``end`` index the turn's original text.

    A NamedTuple (immutable, cheap to build: transcripts produce many flags).
    """

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
        return self._asdict()


class EvidenceSpan(NamedTuple):
    turn: int
    start: int
    end: int
    text: str
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


class Finding(NamedTuple):
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


#: (rule id, turn index, start, end) -- offsets into the turn's original text.
CompactFlag = tuple[str, int, int, int]
#: (id, why, turn, ((turn, start, end, text, rule), ...)) -- a finding, evidence included.
CompactFinding = tuple[str, str, int | None, tuple[tuple[Any, ...], ...]]
#: An analysis as plain tuples (cheap to pickle): (flags, findings, hold turns).
CompactAnalysis = tuple[tuple[CompactFlag, ...], tuple[CompactFinding, ...], tuple[int, ...]]
