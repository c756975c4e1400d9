"""The data an issued monthly scorecard is rendered from.

A scorecard is stored as an immutable JSON snapshot next to its PDF, so the PDF
can be re-rendered byte for byte later (even after reviews are edited or a
rubric changes) and so the renderer never touches the database. Everything here
is therefore a frozen dataclass with plain JSON types in ``to_dict()`` and a
validating ``from_dict()`` that names the offending field on bad input.

Percentages are 0-100 floats (``None`` where there is no data, e.g. a month
without reviews in the trend). Text fields are stored exactly as given: they
may be English, Arabic or mixed; the renderer sanitises them for display.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rubrics.vocabulary import AVOID_BEHAVIOURS, METRICS, USE_BEHAVIOURS

__all__ = [
    "AVOID_BEHAVIOURS",
    "SCHEMA_VERSION",
    "TIMING_METRICS",
    "USE_BEHAVIOURS",
    "AgentInfo",
    "BehaviourRow",
    "CoachingItem",
    "CriterionRow",
    "Evidence",
    "Kpis",
    "Period",
    "ReviewerComment",
    "RubricRef",
    "Scorecard",
    "SectionRow",
    "SnapshotError",
    "TimingRow",
    "TrendPoint",
]

SCHEMA_VERSION = 1

Locale = Literal["en", "ar"]
Polarity = Literal["use", "avoid"]
Priority = Literal["high", "medium", "low"]

# The shared vocabulary (one definition, in rubrics.vocabulary): a known behaviour
# must carry its polarity, and timing rows name known metrics.
TIMING_METRICS = METRICS


class SnapshotError(ValueError):
    """A snapshot dict does not describe a valid scorecard.

    ``code`` is stable for programs (``snapshot.missing_field``,
    ``snapshot.bad_type``, ``snapshot.bad_value``, ``snapshot.unknown_field``,
    ``snapshot.unsupported_version``); ``path`` names the field, e.g.
    ``criteria[2].agent_pct``.
    """

    def __init__(self, code: str, path: str, message: str) -> None:
        super().__init__(f"[{code}] {path}: {message}")
        self.code = code
        self.path = path


# --------------------------------------------------------------------------
# validation helpers: every reader takes the path so errors name the field


def _obj(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SnapshotError("snapshot.bad_type", path, f"expected an object, got {_tn(value)}")
    return value


def _tn(value: Any) -> str:
    return type(value).__name__


def _field(data: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in data:
        raise SnapshotError("snapshot.missing_field", _join(path, key), "required field is missing")
    return data[key]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _no_extra(data: Mapping[str, Any], allowed: set[str], path: str) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise SnapshotError(
            "snapshot.unknown_field", _join(path, str(extra[0])), "unknown field (typo?)"
        )


def _str(value: Any, path: str, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise SnapshotError("snapshot.bad_type", path, f"expected a string, got {_tn(value)}")
    if not empty and not value.strip():
        raise SnapshotError("snapshot.bad_value", path, "must not be empty")
    return value


def _opt_str(value: Any, path: str) -> str | None:
    return None if value is None else _str(value, path, empty=True)


def _int(value: Any, path: str, *, minimum: int | None = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SnapshotError("snapshot.bad_type", path, f"expected an integer, got {_tn(value)}")
    if minimum is not None and value < minimum:
        raise SnapshotError("snapshot.bad_value", path, f"must be >= {minimum}, got {value}")
    return value


def _num(value: Any, path: str, *, lo: float | None = 0.0, hi: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SnapshotError("snapshot.bad_type", path, f"expected a number, got {_tn(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise SnapshotError("snapshot.bad_value", path, "must be a finite number")
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        raise SnapshotError(
            "snapshot.bad_value", path, f"must be within [{lo}, {hi}], got {value!r}"
        )
    return number


def _pct(value: Any, path: str) -> float:
    return _num(value, path, lo=0.0, hi=100.0)


def _opt_pct(value: Any, path: str) -> float | None:
    return None if value is None else _pct(value, path)


def _opt_num(value: Any, path: str) -> float | None:
    return None if value is None else _num(value, path)


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise SnapshotError("snapshot.bad_type", path, f"expected true/false, got {_tn(value)}")
    return value


def _choice(value: Any, path: str, choices: Sequence[str]) -> Any:
    if value not in choices:
        raise SnapshotError(
            "snapshot.bad_value", path, f"expected one of {', '.join(choices)}, got {value!r}"
        )
    return value


_T = TypeVar("_T")


def _list(value: Any, path: str, item: Callable[[Any, str], _T]) -> tuple[_T, ...]:
    if not isinstance(value, list | tuple):
        raise SnapshotError("snapshot.bad_type", path, f"expected a list, got {_tn(value)}")
    return tuple(item(v, f"{path}[{i}]") for i, v in enumerate(value))


def _aware_datetime(value: Any, path: str) -> datetime:
    text = _str(value, path)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise SnapshotError("snapshot.bad_value", path, f"not an ISO datetime: {text!r}") from exc
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise SnapshotError("snapshot.bad_value", path, "datetime must carry a UTC offset")
    return parsed


def _date(value: Any, path: str) -> date:
    text = _str(value, path)
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise SnapshotError("snapshot.bad_value", path, f"not an ISO date: {text!r}") from exc


def _period_label(value: Any, path: str) -> str:
    text = _str(value, path)
    try:
        Period.parse(text)
    except ValueError as exc:
        raise SnapshotError("snapshot.bad_value", path, str(exc)) from exc
    return text


# --------------------------------------------------------------------------
# the snapshot


@dataclass(frozen=True, slots=True)
class AgentInfo:
    """Who the scorecard is for; ``locale`` picks the report language."""

    id: int
    external_id: str
    name: str
    locale: Locale

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "external_id": self.external_id,
            "name": self.name,
            "locale": self.locale,
        }

    @classmethod
    def from_dict(cls, data: Any, path: str = "agent") -> AgentInfo:
        d = _obj(data, path)
        _no_extra(d, {"id", "external_id", "name", "locale"}, path)
        return cls(
            id=_int(_field(d, "id", path), _join(path, "id"), minimum=None),
            external_id=_str(_field(d, "external_id", path), _join(path, "external_id")),
            name=_str(_field(d, "name", path), _join(path, "name")),
            locale=_choice(_field(d, "locale", path), _join(path, "locale"), ("en", "ar")),
        )


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """A calendar month in the organisation's time zone."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month must be 1..12, got {self.month}")
        if not 1970 <= self.year <= 9999:
            raise ValueError(f"year out of range: {self.year}")

    @property
    def label(self) -> str:
        """``YYYY-MM``: sortable, language-neutral, used in file names too."""
        return f"{self.year:04d}-{self.month:02d}"

    @classmethod
    def parse(cls, label: str) -> Period:
        parts = label.split("-")
        if len(parts) != 2 or not all(p.isascii() and p.isdigit() for p in parts):
            raise ValueError(f"period label must look like 2026-10, got {label!r}")
        if len(parts[0]) != 4 or len(parts[1]) != 2:
            raise ValueError(f"period label must look like 2026-10, got {label!r}")
        return cls(int(parts[0]), int(parts[1]))

    def to_dict(self) -> dict[str, Any]:
        return {"year": self.year, "month": self.month, "label": self.label}

    @classmethod
    def from_dict(cls, data: Any, path: str = "period") -> Period:
        d = _obj(data, path)
        _no_extra(d, {"year", "month", "label"}, path)
        try:
            period = cls(
                _int(_field(d, "year", path), _join(path, "year")),
                _int(_field(d, "month", path), _join(path, "month")),
            )
        except ValueError as exc:
            if isinstance(exc, SnapshotError):
                raise
            raise SnapshotError("snapshot.bad_value", path, str(exc)) from exc
        if "label" in d and d["label"] != period.label:
            raise SnapshotError(
                "snapshot.bad_value",
                _join(path, "label"),
                f"{d['label']!r} does not match year/month ({period.label})",
            )
        return period


@dataclass(frozen=True, slots=True)
class RubricRef:
    """The rubric version the scores were computed against."""

    key: str
    version: int
    name: str

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "version": self.version, "name": self.name}

    @classmethod
    def from_dict(cls, data: Any, path: str = "rubric") -> RubricRef:
        d = _obj(data, path)
        _no_extra(d, {"key", "version", "name"}, path)
        return cls(
            key=_str(_field(d, "key", path), _join(path, "key")),
            version=_int(_field(d, "version", path), _join(path, "version"), minimum=1),
            name=_str(_field(d, "name", path), _join(path, "name")),
        )


@dataclass(frozen=True, slots=True)
class Kpis:
    """Headline numbers. ``based_on_auto_qa_only``: no human review this month,
    the figures come from automated QA findings, and the PDF says so."""

    overall_pct: float | None
    team_pct: float | None
    target_pct: float
    reviews: int
    auto_fail_count: int
    based_on_auto_qa_only: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall_pct": self.overall_pct,
            "team_pct": self.team_pct,
            "target_pct": self.target_pct,
            "reviews": self.reviews,
            "auto_fail_count": self.auto_fail_count,
            "based_on_auto_qa_only": self.based_on_auto_qa_only,
        }

    @classmethod
    def from_dict(cls, data: Any, path: str = "kpis") -> Kpis:
        d = _obj(data, path)
        keys = {
            "overall_pct",
            "team_pct",
            "target_pct",
            "reviews",
            "auto_fail_count",
            "based_on_auto_qa_only",
        }
        _no_extra(d, keys, path)
        kpis = cls(
            overall_pct=_opt_pct(_field(d, "overall_pct", path), _join(path, "overall_pct")),
            team_pct=_opt_pct(_field(d, "team_pct", path), _join(path, "team_pct")),
            target_pct=_pct(_field(d, "target_pct", path), _join(path, "target_pct")),
            reviews=_int(_field(d, "reviews", path), _join(path, "reviews")),
            auto_fail_count=_int(
                _field(d, "auto_fail_count", path), _join(path, "auto_fail_count")
            ),
            based_on_auto_qa_only=_bool(
                _field(d, "based_on_auto_qa_only", path), _join(path, "based_on_auto_qa_only")
            ),
        )
        if kpis.based_on_auto_qa_only and kpis.reviews:
            raise SnapshotError(
                "snapshot.bad_value",
                _join(path, "based_on_auto_qa_only"),
                f"cannot be true with {kpis.reviews} reviews",
            )
        return kpis


@dataclass(frozen=True, slots=True)
class CriterionRow:
    """One rubric criterion: agent vs team average and the target."""

    criterion_id: str
    section_id: str
    label_en: str
    label_ar: str
    agent_pct: float | None
    team_pct: float | None
    target_pct: float | None
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "criterion_id": self.criterion_id,
            "section_id": self.section_id,
            "label_en": self.label_en,
            "label_ar": self.label_ar,
            "agent_pct": self.agent_pct,
            "team_pct": self.team_pct,
            "target_pct": self.target_pct,
            "count": self.count,
        }

    @classmethod
    def from_dict(cls, data: Any, path: str) -> CriterionRow:
        d = _obj(data, path)
        _no_extra(d, set(cls.__slots__), path)
        return cls(
            criterion_id=_str(_field(d, "criterion_id", path), _join(path, "criterion_id")),
            section_id=_str(_field(d, "section_id", path), _join(path, "section_id")),
            label_en=_str(_field(d, "label_en", path), _join(path, "label_en"), empty=True),
            label_ar=_str(_field(d, "label_ar", path), _join(path, "label_ar"), empty=True),
            agent_pct=_opt_pct(_field(d, "agent_pct", path), _join(path, "agent_pct")),
            team_pct=_opt_pct(_field(d, "team_pct", path), _join(path, "team_pct")),
            target_pct=_opt_pct(_field(d, "target_pct", path), _join(path, "target_pct")),
            count=_int(_field(d, "count", path), _join(path, "count")),
        )


@dataclass(frozen=True, slots=True)
class SectionRow:
    """One rubric section (a group of criteria)."""

    section_id: str
    label_en: str
    label_ar: str
    agent_pct: float | None
    team_pct: float | None
    target_pct: float | None
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "section_id": self.section_id,
            "label_en": self.label_en,
            "label_ar": self.label_ar,
            "agent_pct": self.agent_pct,
            "team_pct": self.team_pct,
            "target_pct": self.target_pct,
            "count": self.count,
        }

    @classmethod
    def from_dict(cls, data: Any, path: str) -> SectionRow:
        d = _obj(data, path)
        _no_extra(d, set(cls.__slots__), path)
        return cls(
            section_id=_str(_field(d, "section_id", path), _join(path, "section_id")),
            label_en=_str(_field(d, "label_en", path), _join(path, "label_en"), empty=True),
            label_ar=_str(_field(d, "label_ar", path), _join(path, "label_ar"), empty=True),
            agent_pct=_opt_pct(_field(d, "agent_pct", path), _join(path, "agent_pct")),
            team_pct=_opt_pct(_field(d, "team_pct", path), _join(path, "team_pct")),
            target_pct=_opt_pct(_field(d, "target_pct", path), _join(path, "target_pct")),
            count=_int(_field(d, "count", path), _join(path, "count")),
        )


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One month of the 6-month trend; ``None`` = no data that month."""

    period: str
    agent_pct: float | None
    team_pct: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"period": self.period, "agent_pct": self.agent_pct, "team_pct": self.team_pct}

    @classmethod
    def from_dict(cls, data: Any, path: str) -> TrendPoint:
        d = _obj(data, path)
        _no_extra(d, set(cls.__slots__), path)
        return cls(
            period=_period_label(_field(d, "period", path), _join(path, "period")),
            agent_pct=_opt_pct(_field(d, "agent_pct", path), _join(path, "agent_pct")),
            team_pct=_opt_pct(_field(d, "team_pct", path), _join(path, "team_pct")),
        )


@dataclass(frozen=True, slots=True)
class BehaviourRow:
    """A lexicon behaviour seen in the agent's interactions this month."""

    behaviour_id: str
    label_en: str
    label_ar: str
    polarity: Polarity
    count: int
    rate: float  # occurrences per interaction
    example: str | None
    suggestion: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "behaviour_id": self.behaviour_id,
            "label_en": self.label_en,
            "label_ar": self.label_ar,
            "polarity": self.polarity,
            "count": self.count,
            "rate": self.rate,
            "example": self.example,
            "suggestion": self.suggestion,
        }

    @classmethod
    def from_dict(cls, data: Any, path: str) -> BehaviourRow:
        d = _obj(data, path)
        _no_extra(d, set(cls.__slots__), path)
        behaviour_id = _str(_field(d, "behaviour_id", path), _join(path, "behaviour_id"))
        polarity = _choice(_field(d, "polarity", path), _join(path, "polarity"), ("use", "avoid"))
        expected = (
            "use"
            if behaviour_id in USE_BEHAVIOURS
            else "avoid"
            if behaviour_id in AVOID_BEHAVIOURS
            else None
        )
        if expected and polarity != expected:
            raise SnapshotError(
                "snapshot.bad_value",
                _join(path, "polarity"),
                f"behaviour {behaviour_id!r} has polarity {expected!r}, got {polarity!r}",
            )
        return cls(
            behaviour_id=behaviour_id,
            label_en=_str(_field(d, "label_en", path), _join(path, "label_en"), empty=True),
            label_ar=_str(_field(d, "label_ar", path), _join(path, "label_ar"), empty=True),
            polarity=polarity,
            count=_int(_field(d, "count", path), _join(path, "count")),
            rate=_num(_field(d, "rate", path), _join(path, "rate")),
            example=_opt_str(d.get("example"), _join(path, "example")),
            suggestion=_opt_str(d.get("suggestion"), _join(path, "suggestion")),
        )


@dataclass(frozen=True, slots=True)
class TimingRow:
    """A timing metric's monthly average against the rubric threshold."""

    metric: str
    value: float | None
    threshold: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "value": self.value, "threshold": self.threshold}

    @classmethod
    def from_dict(cls, data: Any, path: str) -> TimingRow:
        d = _obj(data, path)
        _no_extra(d, set(cls.__slots__), path)
        metric = _str(_field(d, "metric", path), _join(path, "metric"))
        if metric not in TIMING_METRICS:
            raise SnapshotError(
                "snapshot.bad_value", _join(path, "metric"), f"unknown timing metric {metric!r}"
            )
        return cls(
            metric=metric,
            value=_opt_num(_field(d, "value", path), _join(path, "value")),
            threshold=_opt_num(d.get("threshold"), _join(path, "threshold")),
        )


@dataclass(frozen=True, slots=True)
class Evidence:
    """An excerpt supporting a coaching item, traceable to its interaction."""

    interaction_external_id: str
    excerpt: str

    def to_dict(self) -> dict[str, Any]:
        return {"interaction_external_id": self.interaction_external_id, "excerpt": self.excerpt}

    @classmethod
    def from_dict(cls, data: Any, path: str) -> Evidence:
        d = _obj(data, path)
        _no_extra(d, set(cls.__slots__), path)
        return cls(
            interaction_external_id=_str(
                _field(d, "interaction_external_id", path),
                _join(path, "interaction_external_id"),
            ),
            excerpt=_str(_field(d, "excerpt", path), _join(path, "excerpt"), empty=True),
        )


@dataclass(frozen=True, slots=True)
class CoachingItem:
    """One recommendation of the coaching plan (written by the coaching rules)."""

    priority: Priority
    criterion_label: str
    reason: str
    evidence: tuple[Evidence, ...]
    practice: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "priority": self.priority,
            "criterion_label": self.criterion_label,
            "reason": self.reason,
            "evidence": [e.to_dict() for e in self.evidence],
            "practice": self.practice,
        }

    @classmethod
    def from_dict(cls, data: Any, path: str) -> CoachingItem:
        d = _obj(data, path)
        _no_extra(d, set(cls.__slots__), path)
        return cls(
            priority=_choice(
                _field(d, "priority", path), _join(path, "priority"), ("high", "medium", "low")
            ),
            criterion_label=_str(
                _field(d, "criterion_label", path), _join(path, "criterion_label")
            ),
            reason=_str(_field(d, "reason", path), _join(path, "reason"), empty=True),
            evidence=_list(d.get("evidence", []), _join(path, "evidence"), Evidence.from_dict),
            practice=_str(_field(d, "practice", path), _join(path, "practice"), empty=True),
        )


@dataclass(frozen=True, slots=True)
class ReviewerComment:
    """A QA reviewer's comment on one of the agent's interactions."""

    reviewer_name: str
    date: date
    interaction_external_id: str
    criterion_label: str | None
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "reviewer_name": self.reviewer_name,
            "date": self.date.isoformat(),
            "interaction_external_id": self.interaction_external_id,
            "criterion_label": self.criterion_label,
            "text": self.text,
        }

    @classmethod
    def from_dict(cls, data: Any, path: str) -> ReviewerComment:
        d = _obj(data, path)
        _no_extra(d, set(cls.__slots__), path)
        return cls(
            reviewer_name=_str(_field(d, "reviewer_name", path), _join(path, "reviewer_name")),
            date=_date(_field(d, "date", path), _join(path, "date")),
            interaction_external_id=_str(
                _field(d, "interaction_external_id", path),
                _join(path, "interaction_external_id"),
            ),
            criterion_label=_opt_str(d.get("criterion_label"), _join(path, "criterion_label")),
            text=_str(_field(d, "text", path), _join(path, "text")),
        )


_LISTS: dict[str, Callable[[Any, str], Any]] = {
    "criteria": CriterionRow.from_dict,
    "sections": SectionRow.from_dict,
    "trend": TrendPoint.from_dict,
    "behaviours": BehaviourRow.from_dict,
    "timing": TimingRow.from_dict,
    "coaching": CoachingItem.from_dict,
    "comments": ReviewerComment.from_dict,
}


@dataclass(frozen=True, slots=True)
class Scorecard:
    """An issued monthly scorecard: everything the PDF shows, nothing more."""

    agent: AgentInfo
    team_name: str | None
    period: Period
    timezone: str
    generated_at: datetime
    rubric: RubricRef
    kpis: Kpis
    criteria: tuple[CriterionRow, ...] = ()
    sections: tuple[SectionRow, ...] = ()
    trend: tuple[TrendPoint, ...] = ()
    behaviours: tuple[BehaviourRow, ...] = ()
    timing: tuple[TimingRow, ...] = ()
    coaching: tuple[CoachingItem, ...] = ()
    comments: tuple[ReviewerComment, ...] = ()

    def __post_init__(self) -> None:
        if self.generated_at.tzinfo is None or self.generated_at.utcoffset() is None:
            raise SnapshotError(
                "snapshot.bad_value", "generated_at", "datetime must carry a UTC offset"
            )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SnapshotError(
                "snapshot.bad_value", "timezone", f"unknown time zone {self.timezone!r}"
            ) from exc
        # Lists given by hand as lists are frozen too, so the snapshot stays
        # hashable-free but genuinely immutable.
        for name in _LISTS:
            value = getattr(self, name)
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))

    @property
    def locale(self) -> Locale:
        return self.agent.locale

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only; ``from_dict(to_dict(x)) == x``."""
        out: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "agent": self.agent.to_dict(),
            "team_name": self.team_name,
            "period": self.period.to_dict(),
            "timezone": self.timezone,
            "generated_at": self.generated_at.isoformat(),
            "rubric": self.rubric.to_dict(),
            "kpis": self.kpis.to_dict(),
        }
        for name in _LISTS:
            out[name] = [item.to_dict() for item in getattr(self, name)]
        return out

    @classmethod
    def from_dict(cls, data: Any) -> Scorecard:
        """Validate and build; raises :class:`SnapshotError` naming the field."""
        d = _obj(data, "")
        allowed = {
            "schema_version",
            "agent",
            "team_name",
            "period",
            "timezone",
            "generated_at",
            "rubric",
            "kpis",
            *_LISTS,
        }
        _no_extra(d, allowed, "")
        version = _field(d, "schema_version", "")
        if version != SCHEMA_VERSION:
            raise SnapshotError(
                "snapshot.unsupported_version",
                "schema_version",
                f"this code reads version {SCHEMA_VERSION}, got {version!r}",
            )
        timezone = _str(_field(d, "timezone", ""), "timezone")
        lists = {name: _list(d.get(name, []), name, reader) for name, reader in _LISTS.items()}
        return cls(
            agent=AgentInfo.from_dict(_field(d, "agent", "")),
            team_name=_opt_str(_field(d, "team_name", ""), "team_name"),
            period=Period.from_dict(_field(d, "period", "")),
            timezone=timezone,
            generated_at=_aware_datetime(_field(d, "generated_at", ""), "generated_at"),
            rubric=RubricRef.from_dict(_field(d, "rubric", "")),
            kpis=Kpis.from_dict(_field(d, "kpis", "")),
            **lists,
        )
