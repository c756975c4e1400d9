"""The rubric schema (format version 1) as immutable pydantic models.

A rubric version is stored once and referenced by every review graded against
it, so the models are frozen and sequences are tuples: nothing may change a
rubric after it has been validated. Semantic rules that need several fields
(scale only for type ``scale``, ``fail_at`` inside the answer range, evidence
ids from the shared vocabulary ...) live here as validators, raising
``PydanticCustomError`` whose *type* is the stable ``RUBnnn`` code so the YAML
loader can report them with a path and a line number.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from rubrics.errors import did_you_mean, format_number, format_path
from rubrics.vocabulary import (
    AVOID_BEHAVIOURS,
    CUSTOMER_CUE_PREFIX,
    FINDINGS,
    METRICS,
    USE_BEHAVIOURS,
    Channel,
)

#: The rubric format this code reads. Bump (and keep reading old versions) when
#: the meaning of a field changes, so stored definitions stay interpretable.
SCHEMA_VERSION: Final[int] = 1

SLUG_PATTERN: Final[str] = r"^[a-z][a-z0-9_]*$"
#: Ids are stored in ``String(100)`` columns.
SLUG_MAX: Final[int] = 100
#: ``rubrics.name`` is a ``String(200)`` column.
NAME_MAX: Final[int] = 200

#: Error type used by ``Rubric``'s whole-document checks. The loader re-runs
#: :func:`cross_reference_problems` on the raw YAML to locate each problem, so it
#: drops errors of this type instead of reporting them twice.
CROSS_REFERENCE_ERROR: Final[str] = "rubric_cross_reference"

Slug = Annotated[str, Strict(), StringConstraints(pattern=SLUG_PATTERN, max_length=SLUG_MAX)]
Text = Annotated[str, Strict()]
PositiveNumber = Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False)]
NonNegativeNumber = Annotated[float, Strict(), Field(ge=0, allow_inf_nan=False)]
Percent = Annotated[float, Strict(), Field(ge=0, le=100, allow_inf_nan=False)]
Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]
WholeNumber = Annotated[int, Strict()]

CriterionType = Literal["yes_no", "scale", "points"]
Critical = Literal["review", "section"]


def rubric_error(code: str, message: str) -> PydanticCustomError:
    """Wrap a message so user text containing braces is never read as a template."""
    return PydanticCustomError(code, "{message}", {"message": message})


def has_arabic_letter(text: str) -> bool:
    """True when the text contains at least one Arabic-script letter (not just digits)."""
    return any(unicodedata.name(ch, "").startswith("ARABIC LETTER") for ch in text)


class _Frozen(BaseModel):
    """Immutable, and unknown fields are errors so a typo like ``wieght`` is caught."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class LocalText(_Frozen):
    """Text shown to people; the product is bilingual so both languages are required."""

    en: Text
    ar: Text

    @field_validator("en", "ar")
    @classmethod
    def _present(cls, value: str, info: ValidationInfo) -> str:
        # Surrounding whitespace is formatting (block scalars add a newline), not
        # content; stripping it keeps the content hash independent of YAML style.
        value = value.strip()
        language = "English" if info.field_name == "en" else "Arabic"
        if not value:
            raise rubric_error("RUB203", f"{language} text ({info.field_name}) is empty")
        if info.field_name == "ar" and not has_arabic_letter(value):
            raise rubric_error(
                "RUB204",
                f"the Arabic text contains no Arabic letters ({value[:40]!r}); "
                "write the Arabic translation here, not a copy of the English",
            )
        return value

    def get(self, language: str) -> str:
        """The text in ``language`` ("en" | "ar"); an unknown language is a caller bug."""
        if language == "en":
            return self.en
        if language == "ar":
            return self.ar
        raise ValueError(f"unknown language {language!r}; expected 'en' or 'ar'")


class Scale(_Frozen):
    """The integer range of a ``scale`` criterion; both ends are valid answers."""

    min: WholeNumber = 1
    max: WholeNumber = 5

    @model_validator(mode="after")
    def _ordered(self) -> Scale:
        if self.min >= self.max:
            raise rubric_error(
                "RUB205",
                f"scale min ({self.min}) must be less than max ({self.max})",
            )
        return self


def _known_use(value: str) -> str:
    if value in USE_BEHAVIOURS:
        return value
    if value in AVOID_BEHAVIOURS:
        raise rubric_error(
            "RUB209",
            f"'{value}' is a behaviour to avoid; list it under evidence.avoid, not use",
        )
    raise _unknown_behaviour(value)


def _known_avoid(value: str) -> str:
    if value in AVOID_BEHAVIOURS:
        return value
    if value in USE_BEHAVIOURS:
        raise rubric_error(
            "RUB209",
            f"'{value}' is a behaviour agents should use; list it under evidence.use, not avoid",
        )
    raise _unknown_behaviour(value)


def _unknown_behaviour(value: str) -> PydanticCustomError:
    if value.startswith(CUSTOMER_CUE_PREFIX):
        return rubric_error(
            "RUB208",
            f"'{value}' is a customer cue, not an agent behaviour; it cannot be evidence here",
        )
    return rubric_error(
        "RUB208",
        f"unknown behaviour '{value}'{did_you_mean(value, USE_BEHAVIOURS | AVOID_BEHAVIOURS)}; "
        f"use: {_listing(USE_BEHAVIOURS)}; avoid: {_listing(AVOID_BEHAVIOURS)}",
    )


def _known_finding(value: str) -> str:
    if value not in FINDINGS:
        raise rubric_error(
            "RUB210",
            f"unknown finding '{value}'{did_you_mean(value, FINDINGS)}; "
            f"known findings: {_listing(FINDINGS)}",
        )
    return value


def _known_metric(value: str) -> str:
    if value not in METRICS:
        raise rubric_error(
            "RUB211",
            f"unknown timing metric '{value}'{did_you_mean(value, METRICS)}; "
            f"known metrics: {_listing(METRICS)}",
        )
    return value


def _listing(choices: frozenset[str]) -> str:
    return ", ".join(sorted(choices))


UseBehaviour = Annotated[str, Strict(), AfterValidator(_known_use)]
AvoidBehaviour = Annotated[str, Strict(), AfterValidator(_known_avoid)]
FindingId = Annotated[str, Strict(), AfterValidator(_known_finding)]
MetricName = Annotated[str, Strict(), AfterValidator(_known_metric)]


class MetricCheck(_Frozen):
    """Compare one timing metric against a named threshold of the interaction's channel.

    ``direction: max`` means the metric must not exceed the threshold (a
    response time); ``min`` means it must reach it.
    """

    metric: MetricName
    threshold: Slug
    direction: Literal["max", "min"]


class Evidence(_Frozen):
    """What the automatic analysis may offer a reviewer as evidence for this criterion."""

    use: tuple[UseBehaviour, ...] = ()
    avoid: tuple[AvoidBehaviour, ...] = ()
    findings: tuple[FindingId, ...] = ()
    metrics: tuple[MetricCheck, ...] = ()

    @field_validator("use", "avoid", "findings")
    @classmethod
    def _no_repeats(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        seen: set[str] = set()
        for item in value:
            if item in seen:
                raise rubric_error("RUB213", f"'{item}' is listed twice in {info.field_name}")
            seen.add(item)
        return value


class Criterion(_Frozen):
    """One question a reviewer answers.

    Field order matters: validators of later fields read earlier ones through
    ``info.data`` (``scale``/``max_points`` need ``type``; ``fail_at`` needs all).
    """

    id: Slug
    type: CriterionType
    label: LocalText
    description: LocalText
    guidance: LocalText
    weight: PositiveNumber = 1.0
    allow_na: Annotated[bool, Strict()] = False
    critical: Critical | None = None
    scale: Scale | None = Field(default=None, validate_default=True)
    max_points: PositiveNumber | None = Field(default=None, validate_default=True)
    fail_at: Number | None = Field(default=None, validate_default=True)
    target: Percent | None = None
    evidence: Evidence | None = None

    @field_validator("scale")
    @classmethod
    def _scale_fits_type(cls, value: Scale | None, info: ValidationInfo) -> Scale | None:
        kind = info.data.get("type")
        if kind is None:  # the type itself is invalid and already reported
            return value
        if kind == "scale":
            # The default is written into the model so that spelling it out in
            # YAML and leaving it out give the same canonical content and hash.
            return value if value is not None else Scale()
        if value is not None:
            raise rubric_error(
                "RUB206",
                f"'scale' only applies to type 'scale' (this criterion is '{kind}'); remove it",
            )
        return None

    @field_validator("max_points")
    @classmethod
    def _points_fit_type(cls, value: float | None, info: ValidationInfo) -> float | None:
        kind = info.data.get("type")
        if kind == "points" and value is None:
            raise rubric_error("RUB206", "type 'points' needs max_points (a number above 0)")
        if kind is not None and kind != "points" and value is not None:
            raise rubric_error(
                "RUB206",
                f"'max_points' only applies to type 'points' (this criterion is '{kind}'); "
                "remove it",
            )
        return value

    @field_validator("fail_at")
    @classmethod
    def _fail_at_in_range(cls, value: float | None, info: ValidationInfo) -> float | None:
        data = info.data
        kind = data.get("type")
        if kind is None or "critical" not in data:
            return value
        if data["critical"] is None:
            if value is not None:
                raise rubric_error(
                    "RUB207",
                    "fail_at only applies to critical criteria; add 'critical: review' or "
                    "'critical: section', or remove fail_at",
                )
            return None
        # Defaults are materialised (like ``scale``) so the canonical form is unique.
        if kind == "yes_no":
            if value not in (None, 0):
                raise rubric_error(
                    "RUB207",
                    "a critical yes_no criterion fails when answered 'no'; "
                    "fail_at must be 0 or left out",
                )
            return 0.0
        if kind == "scale":
            scale = data.get("scale")
            if scale is None:
                return value
            if value is None:
                return float(scale.min)
            if value != int(value) or not scale.min <= value < scale.max:
                raise rubric_error(
                    "RUB207",
                    f"fail_at must be a whole number from {scale.min} to {scale.max - 1} "
                    f"(answers at or below it fail; got {format_number(value)})",
                )
            return value
        max_points = data.get("max_points")
        if max_points is None:
            return value
        if value is None:
            return 0.0
        if not 0 <= value < max_points:
            raise rubric_error(
                "RUB207",
                f"fail_at must be at least 0 and below max_points ({format_number(max_points)}); "
                f"got {format_number(value)}",
            )
        return value

    @property
    def min_value(self) -> float:
        """The lowest valid answer."""
        if self.type == "scale":
            assert self.scale is not None
            return float(self.scale.min)
        return 0.0

    @property
    def max_value(self) -> float:
        """The highest valid answer."""
        if self.type == "scale":
            assert self.scale is not None
            return float(self.scale.max)
        if self.type == "points":
            assert self.max_points is not None
            return self.max_points
        return 1.0

    def percent(self, value: float) -> float:
        """Normalise a valid answer to 0..100 so different criterion types can be averaged."""
        low, high = self.min_value, self.max_value
        return 100.0 * (value - low) / (high - low)

    def fails_critical(self, value: float) -> bool:
        """True when this is a critical criterion and ``value`` is a failing answer."""
        return self.critical is not None and self.fail_at is not None and value <= self.fail_at


def _not_empty(value: Any, message: str) -> Any:
    # Checked before item validation: pydantic's ``min_length`` counts only the
    # items that validated, so one bad criterion would also report "empty".
    if isinstance(value, list | tuple) and not value:
        raise rubric_error("RUB107", message)
    return value


class Section(_Frozen):
    """A weighted group of criteria, e.g. professionalism."""

    id: Slug
    name: LocalText
    description: LocalText | None = None
    weight: PositiveNumber
    criteria: tuple[Criterion, ...]

    @field_validator("criteria", mode="before")
    @classmethod
    def _has_criteria(cls, value: Any) -> Any:
        return _not_empty(value, "a section needs at least one criterion")


Thresholds = dict[Channel, dict[Slug, NonNegativeNumber]]


class Rubric(_Frozen):
    """A complete rubric: what reviewers answer and how answers become a score."""

    schema_version: Literal[1] = SCHEMA_VERSION
    key: Slug
    name: LocalText
    description: LocalText | None = None
    target: Percent = 85.0
    passing_score: Percent | None = None
    timing_thresholds: Thresholds = Field(default_factory=dict)
    sections: tuple[Section, ...]

    _index: dict[str, tuple[Section, Criterion]] | None = PrivateAttr(default=None)
    _hash: str | None = PrivateAttr(default=None)

    @field_validator("sections", mode="before")
    @classmethod
    def _has_sections(cls, value: Any) -> Any:
        return _not_empty(value, "a rubric needs at least one section")

    @field_validator("name")
    @classmethod
    def _name_fits(cls, value: LocalText) -> LocalText:
        for language in ("en", "ar"):
            if len(value.get(language)) > NAME_MAX:
                raise rubric_error(
                    "RUB106", f"the {language} name is longer than {NAME_MAX} characters"
                )
        return value

    @model_validator(mode="after")
    def _cross_references(self) -> Rubric:
        problems = cross_reference_problems(self.to_definition())
        if problems:
            raise PydanticCustomError(
                CROSS_REFERENCE_ERROR,
                "{message}",
                {
                    "message": "; ".join(
                        f"{code} {format_path(loc)}: {msg}" for code, loc, msg in problems
                    )
                },
            )
        return self

    def __hash__(self) -> int:
        # The generated hash would hash the thresholds dict (unhashable); equal
        # content means equal hash, which is exactly what content_hash gives.
        return hash(self.content_hash())

    def to_definition(self) -> dict[str, Any]:
        """The canonical JSON-safe form stored in ``rubric_versions.definition``.

        Defaults are filled in and ``None`` fields left out, so two YAML files that
        mean the same thing produce the same definition.
        """
        return self.model_dump(mode="json", exclude_none=True)

    @classmethod
    def from_definition(cls, definition: Mapping[str, Any]) -> Rubric:
        """Rebuild a rubric from a stored definition (raises ``pydantic.ValidationError``)."""
        return cls.model_validate(dict(definition))

    def content_hash(self) -> str:
        """sha256 of the canonical JSON: the identity of a rubric version's content."""
        if self._hash is None:
            canonical = json.dumps(
                self.to_definition(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
            )
            self._hash = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        return self._hash

    def _lookup(self) -> dict[str, tuple[Section, Criterion]]:
        if self._index is None:
            self._index = {c.id: (s, c) for s in self.sections for c in s.criteria}
        return self._index

    def criterion(self, criterion_id: str) -> Criterion:
        """The criterion with this id; ``KeyError`` naming the rubric when there is none."""
        try:
            return self._lookup()[criterion_id][1]
        except KeyError:
            raise KeyError(f"rubric '{self.key}' has no criterion '{criterion_id}'") from None

    def section_of(self, criterion_id: str) -> Section:
        """The section holding this criterion; ``KeyError`` when there is none."""
        try:
            return self._lookup()[criterion_id][0]
        except KeyError:
            raise KeyError(f"rubric '{self.key}' has no criterion '{criterion_id}'") from None

    def section(self, section_id: str) -> Section:
        """The section with this id; ``KeyError`` when there is none."""
        for section in self.sections:
            if section.id == section_id:
                return section
        raise KeyError(f"rubric '{self.key}' has no section '{section_id}'")

    def all_criteria(self) -> Iterator[tuple[Section, Criterion]]:
        """Every (section, criterion) pair in document order."""
        for section in self.sections:
            for criterion in section.criteria:
                yield section, criterion


def cross_reference_problems(data: Any) -> list[tuple[str, tuple[str | int, ...], str]]:
    """Checks that span the whole rubric: unique ids and thresholds that exist.

    Works on raw, possibly malformed data (skipping what it cannot read) so the
    loader can report these problems together with schema errors elsewhere in the
    document; pydantic would only run a whole-model check once everything else
    is valid. Returns ``(code, loc, message)`` tuples in document order.
    """
    problems: list[tuple[str, tuple[str | int, ...], str]] = []
    if not isinstance(data, Mapping):
        return problems
    thresholds: set[str] = set()
    channels = data.get("timing_thresholds")
    if isinstance(channels, Mapping):
        for values in channels.values():
            if isinstance(values, Mapping):
                thresholds.update(k for k in values if isinstance(k, str))
    sections = data.get("sections")
    if not isinstance(sections, list | tuple):
        return problems
    section_seen: dict[str, str] = {}
    criterion_seen: dict[str, str] = {}
    for s_index, section in enumerate(sections):
        if not isinstance(section, Mapping):
            continue
        section_id = section.get("id")
        if isinstance(section_id, str):
            here = f"sections[{s_index}]"
            if section_id in section_seen:
                problems.append(
                    (
                        "RUB202",
                        ("sections", s_index, "id"),
                        f"duplicate section id '{section_id}' (already used by "
                        f"{section_seen[section_id]})",
                    )
                )
            else:
                section_seen[section_id] = here
        criteria = section.get("criteria")
        if not isinstance(criteria, list | tuple):
            continue
        for c_index, criterion in enumerate(criteria):
            if not isinstance(criterion, Mapping):
                continue
            loc: tuple[str | int, ...] = ("sections", s_index, "criteria", c_index)
            criterion_id = criterion.get("id")
            if isinstance(criterion_id, str):
                here = f"sections[{s_index}].criteria[{c_index}]"
                if criterion_id in criterion_seen:
                    problems.append(
                        (
                            "RUB201",
                            (*loc, "id"),
                            f"duplicate criterion id '{criterion_id}' (already used by "
                            f"{criterion_seen[criterion_id]}); criterion ids must be unique "
                            "across the whole rubric",
                        )
                    )
                else:
                    criterion_seen[criterion_id] = here
            evidence = criterion.get("evidence")
            metrics = evidence.get("metrics") if isinstance(evidence, Mapping) else None
            if not isinstance(metrics, list | tuple):
                continue
            for m_index, check in enumerate(metrics):
                name = check.get("threshold") if isinstance(check, Mapping) else None
                if isinstance(name, str) and name not in thresholds:
                    defined = ", ".join(sorted(thresholds)) or "none"
                    problems.append(
                        (
                            "RUB212",
                            (*loc, "evidence", "metrics", m_index, "threshold"),
                            f"threshold '{name}' is not defined for any channel in "
                            f"timing_thresholds{did_you_mean(name, tuple(thresholds))} "
                            f"(defined: {defined})",
                        )
                    )
    return problems
