"""Coaching recommendations from rules kept as data, persisted as coaching flags.

Trainers tune *when* coaching is recommended and *what* to practise in
``coaching_rules.yaml`` without touching code; the file is validated with
pydantic and every problem is reported with the file, line, field and a stable
code (``COACHnnn``). The rules read a month's :class:`~scorecards.aggregate.MonthAggregate`
and produce recommendations, which are stored as ``CoachingFlag`` rows keyed by
(agent, period, rule, subject): refreshing a month updates them in place, never
duplicates them, and never reopens a flag a trainer resolved or dismissed.
"""

from __future__ import annotations

import string
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Final, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import and_, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qa.models import (
    Agent,
    CoachingFlag,
    CoachingStatus,
    Interaction,
    InteractionAnalysis,
    Role,
    User,
    utcnow,
)
from qa.services import audit
from qa.services.errors import InvalidInput, NotFound, PermissionDenied
from qa.services.periods import month_bounds
from qa.services.rubrics import BUILTIN_KEY
from rubrics import Rubric
from rubrics.schema import has_arabic_letter
from rubrics.vocabulary import AVOID_BEHAVIOURS, FINDINGS, METRICS, USE_BEHAVIOURS
from scorecards.aggregate import AgentMonth, Excerpt, MonthAggregate, aggregate_month
from scorecards.labels import CHANNEL_LABELS, behaviour_label, finding_label, metric_label
from scorecards.snapshot import CoachingItem, Evidence

DEFAULT_RULES_PATH: Final[Path] = Path(__file__).with_name("coaching_rules.yaml")
MAX_EVIDENCE: Final[int] = 3
PLAN_ITEMS: Final[int] = 5  # coaching items printed on a scorecard
PRIORITIES: Final[tuple[str, ...]] = ("high", "medium", "low")
TRAINER_ROLES: Final[frozenset[str]] = frozenset(
    {Role.trainer.value, Role.qa_lead.value, Role.admin.value}
)

#: Stable error codes of the rules file.
ERROR_CODES: Final[dict[str, str]] = {
    "COACH001": "the file is not valid YAML or cannot be read",
    "COACH002": "a field is missing, unknown or of the wrong type",
    "COACH003": "a title template uses a placeholder the rule type does not offer",
    "COACH004": "an unknown behaviour, finding, metric or channel id",
    "COACH005": "two rules share an id",
    "COACH006": "priority levels out of order (high below medium)",
    "COACH007": "a practice text is empty or its Arabic text has no Arabic letters",
}


class CoachingRulesError(ValueError):
    """Every problem of a rules file; each is ``(code, where, message)``."""

    def __init__(self, source: str, problems: list[tuple[str, str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{source}: {len(problems)} problem(s) in coaching rules"]
        lines += [f"  {code} {where}: {message}" for code, where, message in problems]
        super().__init__("\n".join(lines))

    @property
    def codes(self) -> list[str]:
        return [code for code, _w, _m in self.problems]


# ---------------------------------------------------------------------------- rule schema


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Bilingual(_Strict):
    en: str
    ar: str

    def get(self, locale: str) -> str:
        return self.ar if locale == "ar" else self.en


class Levels(_Strict):
    """Gap at or above ``high`` -> high; at or above ``medium`` -> medium; else low."""

    high: float = Field(ge=0)
    medium: float = Field(ge=0)

    def of(self, gap: float, floor: str = "low") -> str:
        level = "high" if gap >= self.high else "medium" if gap >= self.medium else "low"
        return min(level, floor, key=PRIORITIES.index)


Fraction = Annotated[float, Field(ge=0)]


class _Rule(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=100)]
    priority: Levels
    min_priority: Literal["high", "medium", "low"] = "low"
    min_count: Annotated[int, Field(ge=0)] = 1
    title: Bilingual

    placeholders: ClassVar[frozenset[str]] = frozenset({"label", "count"})


class CriterionBelowTarget(_Rule):
    """A criterion's monthly average is below its target (human reviews only)."""

    type: Literal["criterion_below_target"]
    placeholders: ClassVar[frozenset[str]] = frozenset({"label", "count", "value", "target", "gap"})


class CriterionDrop(_Rule):
    """A criterion's average fell by ``min_drop`` points or more within ``months`` months."""

    type: Literal["criterion_drop"]
    months: Annotated[int, Field(ge=2, le=6)] = 3
    min_drop: Annotated[float, Field(gt=0)]
    placeholders: ClassVar[frozenset[str]] = frozenset(
        {"label", "count", "value", "drop", "from_period", "from_value", "target"}
    )


class AvoidBehaviour(_Rule):
    """A behaviour to avoid flagged at ``min_rate`` flags per analysed interaction or more."""

    type: Literal["avoid_behaviour"]
    behaviours: tuple[str, ...] = Field(min_length=1)
    min_rate: Fraction
    placeholders: ClassVar[frozenset[str]] = frozenset(
        {"label", "count", "rate", "interactions", "percent"}
    )

    @field_validator("behaviours")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for b in value:
            if b not in AVOID_BEHAVIOURS:
                hint = " (a behaviour to use, not to avoid)" if b in USE_BEHAVIOURS else ""
                raise ValueError(
                    f"COACH004 unknown behaviour to avoid '{b}'{hint}; known: "
                    + ", ".join(sorted(AVOID_BEHAVIOURS))
                )
        return value


class MissingBehaviour(_Rule):
    """An expected behaviour missing (a whole-interaction finding) in ``min_rate`` of interactions."""

    type: Literal["missing_behaviour"]
    findings: tuple[str, ...] = Field(min_length=1)
    min_rate: Fraction
    placeholders: ClassVar[frozenset[str]] = frozenset(
        {"label", "count", "rate", "interactions", "percent"}
    )

    @field_validator("findings")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for f in value:
            if f not in FINDINGS:
                raise ValueError(
                    f"COACH004 unknown finding '{f}'; known: " + ", ".join(sorted(FINDINGS))
                )
        return value


class SlowTiming(_Rule):
    """A timing metric's monthly average over the rubric's threshold for the channel."""

    type: Literal["slow_timing"]
    metrics: tuple[str, ...] = Field(min_length=1)
    over_by: Fraction = 0.0
    placeholders: ClassVar[frozenset[str]] = frozenset(
        {"label", "count", "value", "threshold", "channel", "over"}
    )

    @field_validator("metrics")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for m in value:
            if m not in METRICS:
                raise ValueError(
                    f"COACH004 unknown timing metric '{m}'; known: " + ", ".join(sorted(METRICS))
                )
        return value


Rule = Annotated[
    CriterionBelowTarget | CriterionDrop | AvoidBehaviour | MissingBehaviour | SlowTiming,
    Field(discriminator="type"),
]


class Practice(_Strict):
    default: Bilingual
    criteria: dict[str, Bilingual] = Field(default_factory=dict)
    behaviours: dict[str, Bilingual] = Field(default_factory=dict)
    findings: dict[str, Bilingual] = Field(default_factory=dict)
    metrics: dict[str, Bilingual] = Field(default_factory=dict)


class CoachingRules(_Strict):
    version: Literal[1]
    rules: tuple[Rule, ...] = Field(min_length=1)
    practice: Practice

    def practice_for(self, kind: str, key: str, criterion_id: str | None) -> Bilingual:
        """Most specific text first: the subject, then its criterion, then the default."""
        table: Mapping[str, Bilingual] = getattr(self.practice, kind)
        if key in table:
            return table[key]
        if criterion_id and criterion_id in self.practice.criteria:
            return self.practice.criteria[criterion_id]
        return self.practice.default


def _where(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _line_of(node: yaml.Node | None, loc: Sequence[str | int]) -> int | None:
    """1-based line of the YAML node at ``loc`` (or of its deepest existing parent)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    node = value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
        else:
            return line
        line = node.start_mark.line + 1
    return line


def load_rules(path: Path | None = None, *, text: str | None = None) -> CoachingRules:
    """Read and validate a rules file (default: the bundled ``coaching_rules.yaml``).

    Raises :class:`CoachingRulesError` listing every problem with its line.
    """
    source = str(path or DEFAULT_RULES_PATH) if text is None else str(path or "<text>")
    try:
        raw_text = text if text is not None else Path(source).read_text(encoding="utf-8")
        node = yaml.compose(raw_text)
        data = yaml.safe_load(raw_text)
    except (OSError, UnicodeDecodeError) as exc:
        raise CoachingRulesError(source, [("COACH001", "(file)", str(exc))]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        raise CoachingRulesError(source, [("COACH001", where, str(exc))]) from exc
    if not isinstance(data, dict):
        raise CoachingRulesError(
            source,
            [("COACH002", "(top level)", "expected a mapping with version, rules, practice")],
        )
    problems: list[tuple[str, str, str]] = []

    def at(loc: Sequence[str | int]) -> str:
        line = _line_of(node, loc)
        return f"line {line}, {_where(loc)}" if line else _where(loc)

    try:
        rules = CoachingRules.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = [p for p in err["loc"] if not (isinstance(p, str) and "_" in p and p in _TYPES)]
            message = str(err["msg"]).removeprefix("Value error, ")
            code = "COACH002"
            if message.startswith("COACH"):
                code, message = message[:8], message[9:]
            problems.append((code, at(loc), message))
        raise CoachingRulesError(source, problems) from None
    seen: dict[str, int] = {}
    for i, rule in enumerate(rules.rules):
        if rule.id in seen:
            problems.append(
                (
                    "COACH005",
                    at(["rules", i, "id"]),
                    f"rule id '{rule.id}' is already used by rules[{seen[rule.id]}]",
                )
            )
        seen.setdefault(rule.id, i)
        if rule.priority.high < rule.priority.medium:
            problems.append(
                (
                    "COACH006",
                    at(["rules", i, "priority"]),
                    f"high ({rule.priority.high:g}) must be at least medium ({rule.priority.medium:g})",
                )
            )
        for lang in ("en", "ar"):
            template = getattr(rule.title, lang)
            try:
                names = {f for _t, f, _s, _c in string.Formatter().parse(template) if f is not None}
            except ValueError as exc:
                problems.append(("COACH003", at(["rules", i, "title", lang]), str(exc)))
                continue
            unknown = sorted(n for n in names if n not in type(rule).placeholders or not n)
            if unknown:
                problems.append(
                    (
                        "COACH003",
                        at(["rules", i, "title", lang]),
                        f"unknown placeholder {{{unknown[0]}}}; {rule.type} offers "
                        + ", ".join("{" + p + "}" for p in sorted(type(rule).placeholders)),
                    )
                )
    for kind in ("criteria", "behaviours", "findings", "metrics"):
        table: dict[str, Bilingual] = getattr(rules.practice, kind)
        known = {
            "behaviours": AVOID_BEHAVIOURS | USE_BEHAVIOURS,
            "findings": FINDINGS,
            "metrics": METRICS,
        }.get(kind)
        for key, text_ in table.items():
            if known is not None and key not in known:
                problems.append(("COACH004", at(["practice", kind, key]), f"unknown id '{key}'"))
            problems += _practice_problems(text_, at(["practice", kind, key]))
    problems += _practice_problems(rules.practice.default, at(["practice", "default"]))
    if problems:
        raise CoachingRulesError(source, problems)
    return rules


_TYPES = frozenset(
    {
        "criterion_below_target",
        "criterion_drop",
        "avoid_behaviour",
        "missing_behaviour",
        "slow_timing",
    }
)


def _practice_problems(text: Bilingual, where: str) -> list[tuple[str, str, str]]:
    out = []
    if not text.en.strip():
        out.append(("COACH007", where + ".en", "English practice text is empty"))
    if not has_arabic_letter(text.ar):
        out.append(("COACH007", where + ".ar", "Arabic practice text has no Arabic letters"))
    return out


_cached: CoachingRules | None = None


def default_rules() -> CoachingRules:
    global _cached
    if _cached is None:
        _cached = load_rules()
    return _cached


# ---------------------------------------------------------------------------- recommendations


@dataclass(slots=True)
class Recommendation:
    """One rule firing for one agent; becomes (or refreshes) a ``CoachingFlag``."""

    agent_id: int
    rule_id: str
    subject: str
    criterion_id: str | None
    priority: str
    title_en: str
    title_ar: str
    evidence: list[dict[str, str]]
    practice_en: str
    practice_ar: str
    label_en: str
    label_ar: str


def _num(value: float) -> str:
    """Numbers in titles: whole when whole, else one decimal."""
    return f"{value:.0f}" if abs(value - round(value)) < 0.05 else f"{value:.1f}"


def _evidence(items: Iterable[Excerpt]) -> list[dict[str, str]]:
    return [
        {"interaction_external_id": e.interaction_external_id, "excerpt": e.text}
        for e in list(items)[:MAX_EVIDENCE]
    ]


def _criterion_for(rubric: Rubric, kind: str, key: str) -> str | None:
    """The first rubric criterion whose evidence block names this behaviour/finding/metric."""
    for _s, c in rubric.all_criteria():
        ev = c.evidence
        if ev is None:
            continue
        if (
            (kind == "behaviours" and (key in ev.avoid or key in ev.use))
            or (kind == "findings" and key in ev.findings)
            or (kind == "metrics" and any(m.metric == key for m in ev.metrics))
        ):
            return c.id
    return None


def recommend(month: MonthAggregate, rules: CoachingRules) -> dict[int, list[Recommendation]]:
    """Apply every rule to every agent of the month (pure: no database access).

    Slow-timing recommendations come without evidence; ``refresh_coaching_flags``
    adds the slowest interactions with one query per metric that fired.
    """
    out: dict[int, list[Recommendation]] = defaultdict(list)
    labels = month.trend_labels
    for agent in month.agents.values():
        for rule in rules.rules:
            out[agent.agent_id] += _apply(rule, agent, month, rules, labels)
    return dict(out)


def _make(
    agent: AgentMonth,
    rule: _Rule,
    rules: CoachingRules,
    *,
    subject: str,
    criterion_id: str | None,
    gap: float,
    values: dict[str, Any],
    label: tuple[str, str],
    evidence: list[dict[str, str]],
    practice: Bilingual,
    extra: tuple[str, str] | None = None,
) -> Recommendation:
    en_values = {**values, "label": label[0]}
    ar_values = {**values, "label": label[1]}
    if "channel" in values:
        en_values["channel"], ar_values["channel"] = CHANNEL_LABELS.get(
            values["channel"], (values["channel"], values["channel"])
        )
    practice_en, practice_ar = practice.en, practice.ar
    if extra is not None:
        practice_en += " " + extra[0]
        practice_ar += " " + extra[1]
    return Recommendation(
        agent_id=agent.agent_id,
        rule_id=rule.id,
        subject=subject,
        criterion_id=criterion_id,
        priority=rule.priority.of(gap, rule.min_priority),
        title_en=rule.title.en.format(**en_values),
        title_ar=rule.title.ar.format(**ar_values),
        evidence=evidence,
        practice_en=practice_en,
        practice_ar=practice_ar,
        label_en=label[0],
        label_ar=label[1],
    )


def _apply(
    rule: _Rule,
    agent: AgentMonth,
    month: MonthAggregate,
    rules: CoachingRules,
    labels: list[str],
) -> list[Recommendation]:
    found: list[Recommendation] = []
    rubric = month.rubric
    if isinstance(rule, CriterionBelowTarget):
        for c in agent.criteria:
            if c.source != "review" or c.agent_pct is None or c.target_pct is None:
                continue
            if c.count < rule.min_count or c.agent_pct >= c.target_pct:
                continue
            gap = c.target_pct - c.agent_pct
            found.append(
                _make(
                    agent,
                    rule,
                    rules,
                    subject=c.criterion_id,
                    criterion_id=c.criterion_id,
                    gap=gap,
                    values={
                        "value": _num(c.agent_pct),
                        "target": _num(c.target_pct),
                        "gap": _num(gap),
                        "count": c.count,
                    },
                    label=(c.label_en, c.label_ar),
                    evidence=_evidence(c.low),
                    practice=rules.practice_for("criteria", c.criterion_id, c.criterion_id),
                )
            )
    elif isinstance(rule, CriterionDrop):
        window = labels[-rule.months :]
        for c in agent.criteria:
            if c.source != "review" or c.agent_pct is None or c.count < rule.min_count:
                continue
            earlier = [(p, c.history[p]) for p in window[:-1] if p in c.history]
            if not earlier:
                continue
            from_period, from_value = earlier[0]
            drop = from_value - c.agent_pct
            if drop < rule.min_drop:
                continue
            found.append(
                _make(
                    agent,
                    rule,
                    rules,
                    subject=c.criterion_id,
                    criterion_id=c.criterion_id,
                    gap=drop,
                    values={
                        "value": _num(c.agent_pct),
                        "drop": _num(drop),
                        "from_period": from_period,
                        "from_value": _num(from_value),
                        "target": _num(c.target_pct or rubric.target),
                        "count": c.count,
                    },
                    label=(c.label_en, c.label_ar),
                    evidence=_evidence(c.low),
                    practice=rules.practice_for("criteria", c.criterion_id, c.criterion_id),
                )
            )
    elif isinstance(rule, AvoidBehaviour):
        for b in agent.behaviours:
            if b.polarity != "avoid" or b.behaviour not in rule.behaviours:
                continue
            if b.count < rule.min_count or b.rate < rule.min_rate or b.count == 0:
                continue
            criterion_id = _criterion_for(rubric, "behaviours", b.behaviour)
            extra = None
            if b.suggestion:
                extra = (
                    f"Suggested wording: “{b.suggestion}”.",
                    f"صياغة مقترحة: «{b.suggestion}».",
                )
            found.append(
                _make(
                    agent,
                    rule,
                    rules,
                    subject=b.behaviour,
                    criterion_id=criterion_id,
                    gap=b.rate,
                    values={
                        "count": b.count,
                        "rate": f"{b.rate:.2f}",
                        "interactions": agent.analysed,
                        "percent": _num(100 * min(1.0, b.rate)),
                    },
                    label=behaviour_label(b.behaviour),
                    evidence=_evidence(b.examples),
                    practice=rules.practice_for("behaviours", b.behaviour, criterion_id),
                    extra=extra,
                )
            )
    elif isinstance(rule, MissingBehaviour):
        for f in agent.findings:
            if f.finding not in rule.findings:
                continue
            if f.count < rule.min_count or f.rate < rule.min_rate:
                continue
            criterion_id = _criterion_for(rubric, "findings", f.finding)
            found.append(
                _make(
                    agent,
                    rule,
                    rules,
                    subject=f.finding,
                    criterion_id=criterion_id,
                    gap=f.rate,
                    values={
                        "count": f.count,
                        "rate": f"{f.rate:.2f}",
                        "interactions": agent.analysed,
                        "percent": _num(100 * f.rate),
                    },
                    label=finding_label(f.finding),
                    evidence=_evidence(f.examples),
                    practice=rules.practice_for("findings", f.finding, criterion_id),
                )
            )
    elif isinstance(rule, SlowTiming):
        for t in agent.timing:
            if t.metric not in rule.metrics or t.count < rule.min_count or t.threshold <= 0:
                continue
            over = (t.value - t.threshold) / t.threshold
            if t.value <= t.threshold or over < rule.over_by:
                continue
            criterion_id = _criterion_for(rubric, "metrics", t.metric)
            found.append(
                _make(
                    agent,
                    rule,
                    rules,
                    subject=f"{t.channel}:{t.metric}",
                    criterion_id=criterion_id,
                    gap=over,
                    values={
                        "value": _num(t.value),
                        "threshold": _num(t.threshold),
                        "channel": t.channel,
                        "over": _num(100 * over),
                        "count": t.count,
                    },
                    label=metric_label(t.metric),
                    evidence=[],
                    practice=rules.practice_for("metrics", t.metric, criterion_id),
                )
            )
    return found


def slowest_interactions(
    session: Session,
    month: MonthAggregate,
    wanted: Iterable[tuple[int, str, str]],
    tz: ZoneInfo,
) -> dict[tuple[int, str, str], list[Excerpt]]:
    """The slowest interactions behind each flagged (agent, channel, metric): one query
    per metric that fired, for all agents at once."""
    by_metric: dict[tuple[str, str], set[int]] = defaultdict(set)
    for aid, channel, metric in wanted:
        by_metric[(channel, metric)].add(aid)
    start, end = month_bounds(month.period.year, month.period.month, tz)
    out: dict[tuple[int, str, str], list[Excerpt]] = defaultdict(list)
    for (channel, metric), agent_ids in sorted(by_metric.items()):
        value = InteractionAnalysis.metrics[metric].as_float()
        rank = (
            func.row_number()
            .over(partition_by=Interaction.agent_id, order_by=(value.desc(), Interaction.id))
            .label("rank")
        )
        inner = (
            select(
                Interaction.agent_id,
                Interaction.external_id,
                Interaction.started_at,
                value.label("value"),
                rank,
            )
            .join(InteractionAnalysis, InteractionAnalysis.interaction_id == Interaction.id)
            .where(
                Interaction.channel == channel,
                Interaction.started_at >= start,
                Interaction.started_at < end,
                Interaction.agent_id.in_(sorted(agent_ids)),
                value.is_not(None),
            )
            .subquery()
        )
        label_en = metric_label(metric)[0]
        for aid, ext, at, v, _r in session.execute(
            select(inner).where(inner.c.rank <= MAX_EVIDENCE).order_by(inner.c.rank)
        ):
            out[(aid, channel, metric)].append(Excerpt(ext, f"{label_en}: {_num(float(v))} s", at))
    return dict(out)


# ---------------------------------------------------------------------------- persistence


@dataclass
class RefreshReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_closed: int = 0  # resolved or dismissed by a trainer: left alone
    removed: int = 0  # open, never acknowledged, and the rule no longer fires
    recommendations: dict[int, list[Recommendation]] = field(default_factory=dict)


_FIELDS = (
    "priority",
    "criterion_id",
    "title_en",
    "title_ar",
    "evidence",
    "practice_en",
    "practice_ar",
)


def refresh_coaching_flags(
    session: Session,
    year: int,
    month: int,
    tz: ZoneInfo,
    *,
    rules: CoachingRules | None = None,
    aggregate: MonthAggregate | None = None,
    agent_ids: Iterable[int] | None = None,
    rubric_key: str = BUILTIN_KEY,
) -> RefreshReport:
    """Recompute the month's recommendations and upsert them as coaching flags.

    Idempotent: a second run with the same data changes nothing. Open and
    in-session flags are updated to the current figures; resolved and dismissed
    ones are never touched (so never reopened); an open flag that nobody has
    acknowledged and whose rule no longer fires (reviews were corrected) is
    removed. Flushes but does not commit: the caller owns the transaction.
    """
    rules = rules or default_rules()
    month_agg = aggregate or aggregate_month(
        session, year, month, tz, agent_ids=agent_ids, rubric_key=rubric_key
    )
    found = recommend(month_agg, rules)
    slow_rules = {r.id for r in rules.rules if isinstance(r, SlowTiming)}
    slow = [r for recs in found.values() for r in recs if r.rule_id in slow_rules]
    if slow:
        keys = {(r.agent_id, *r.subject.split(":", 1)) for r in slow}
        examples = slowest_interactions(session, month_agg, keys, tz)  # type: ignore[arg-type]
        for r in slow:
            channel, metric = r.subject.split(":", 1)
            r.evidence = _evidence(examples.get((r.agent_id, channel, metric), []))
    report = RefreshReport(recommendations=found)
    period = month_agg.period.label
    agent_list = sorted(month_agg.agents)
    if not agent_list:
        return report
    for attempt in range(2):
        try:
            with session.begin_nested():
                _upsert(session, period, agent_list, found, report)
            break
        except IntegrityError:
            # Someone else refreshed the same month at the same moment: reread and merge.
            if attempt:
                raise
            report = RefreshReport(recommendations=found)
    return report


def _upsert(
    session: Session,
    period: str,
    agent_list: list[int],
    found: dict[int, list[Recommendation]],
    report: RefreshReport,
) -> None:
    existing: dict[tuple[int, str, str], CoachingFlag] = {}
    for i in range(0, len(agent_list), 500):
        chunk = agent_list[i : i + 500]
        for flag in session.scalars(
            select(CoachingFlag).where(
                CoachingFlag.period == period, CoachingFlag.agent_id.in_(chunk)
            )
        ):
            existing[(flag.agent_id, flag.rule_id, flag.subject)] = flag
    now = utcnow()
    seen: set[tuple[int, str, str]] = set()
    new_rows: list[dict[str, Any]] = []
    for aid in agent_list:
        for rec in found.get(aid, []):
            key = (aid, rec.rule_id, rec.subject)
            if key in seen:
                continue
            seen.add(key)
            flag = existing.get(key)
            values = {name: getattr(rec, name) for name in _FIELDS}
            if flag is None:
                new_rows.append(
                    {
                        "agent_id": aid,
                        "period": period,
                        "rule_id": rec.rule_id,
                        "subject": rec.subject,
                        "status": CoachingStatus.open.value,
                        "created_at": now,
                        "updated_at": now,
                        **values,
                    }
                )
                report.created += 1
            elif flag.status in (CoachingStatus.resolved.value, CoachingStatus.dismissed.value):
                report.kept_closed += 1
            elif all(getattr(flag, k) == v for k, v in values.items()):
                report.unchanged += 1
            else:
                for k, v in values.items():
                    setattr(flag, k, v)
                report.updated += 1
    for key, flag in existing.items():
        if (
            key not in seen
            and flag.status == CoachingStatus.open.value
            and flag.acknowledged_at is None
        ):
            session.delete(flag)
            report.removed += 1
    if new_rows:
        session.execute(CoachingFlag.__table__.insert(), new_rows)
    session.flush()


# ---------------------------------------------------------------------------- reading / acting


@dataclass(frozen=True)
class FlagFilters:
    """What a trainer page may narrow the list by (``None`` = no restriction)."""

    period: str | None = None
    agent_id: int | None = None
    team_id: int | None = None
    statuses: tuple[str, ...] | None = None
    priorities: tuple[str, ...] | None = None
    rule_id: str | None = None
    limit: int = 500


def flags_for_trainer(
    session: Session, viewer: User, filters: FlagFilters | None = None
) -> list[CoachingFlag]:
    """Coaching flags ``viewer`` may see: trainers, QA leads and admins all; an agent
    only their own; reviewers none. Highest priority first, newest period first."""
    filters = filters or FlagFilters()
    query = select(CoachingFlag)
    if viewer.role in TRAINER_ROLES:
        pass
    elif viewer.role == Role.agent.value and viewer.agent_id is not None:
        query = query.where(CoachingFlag.agent_id == viewer.agent_id)
    else:
        raise PermissionDenied(f"{viewer.role} users may not view coaching flags")
    if filters.period is not None:
        query = query.where(CoachingFlag.period == filters.period)
    if filters.agent_id is not None:
        query = query.where(CoachingFlag.agent_id == filters.agent_id)
    if filters.team_id is not None:
        query = query.join(Agent, Agent.id == CoachingFlag.agent_id).where(
            Agent.team_id == filters.team_id
        )
    if filters.statuses:
        query = query.where(CoachingFlag.status.in_(filters.statuses))
    if filters.priorities:
        query = query.where(CoachingFlag.priority.in_(filters.priorities))
    if filters.rule_id is not None:
        query = query.where(CoachingFlag.rule_id == filters.rule_id)
    rank = case({"high": 0, "medium": 1, "low": 2}, value=CoachingFlag.priority, else_=3)
    query = query.order_by(CoachingFlag.period.desc(), rank, CoachingFlag.agent_id, CoachingFlag.id)
    return list(session.scalars(query.limit(filters.limit)))


def _visible_flag(session: Session, flag_id: int, user: User) -> CoachingFlag:
    flag = session.get(CoachingFlag, flag_id)
    visible = flag is not None and (
        user.role in TRAINER_ROLES or (user.agent_id is not None and flag.agent_id == user.agent_id)
    )
    if not visible:
        raise NotFound(f"coaching flag {flag_id} not found")  # same message: no probing
    assert flag is not None
    return flag


def acknowledge(session: Session, flag_id: int, agent_user: User) -> CoachingFlag:
    """The agent confirms they have read the recommendation (only their own; once)."""
    flag = _visible_flag(session, flag_id, agent_user)
    if agent_user.agent_id is None or flag.agent_id != agent_user.agent_id:
        raise PermissionDenied("only the agent a coaching flag is about can acknowledge it")
    if flag.acknowledged_at is None:
        flag.acknowledged_at = utcnow()
        session.flush()
        audit.record(
            session,
            agent_user,
            "acknowledge",
            "coaching_flag",
            flag.id,
            after={"acknowledged_at": flag.acknowledged_at.isoformat()},
        )
    return flag


def set_status(session: Session, flag_id: int, status: str, actor: User) -> CoachingFlag:
    """Trainers, QA leads and admins move a flag through open / in_session / resolved /
    dismissed (a resolved or dismissed flag stays so on later refreshes)."""
    if status not in {s.value for s in CoachingStatus}:
        raise InvalidInput(
            f"unknown status {status!r}; expected one of "
            + ", ".join(s.value for s in CoachingStatus)
        )
    if actor.role not in TRAINER_ROLES:
        raise PermissionDenied(f"{actor.role} users may not change coaching flags")
    flag = _visible_flag(session, flag_id, actor)
    if flag.status != status:
        before = {"status": flag.status}
        flag.status = status
        session.flush()
        audit.record(
            session,
            actor,
            "set_status",
            "coaching_flag",
            flag.id,
            before=before,
            after={"status": status},
        )
    return flag


def coaching_items(
    flags: Iterable[Any],
    rubric: Rubric,
    locale: str,
    *,
    rules: CoachingRules | None = None,
    limit: int | None = PLAN_ITEMS,
) -> list[CoachingItem]:
    """The scorecard's coaching plan from stored flags.

    Dismissed flags are left out; the rest are ordered by priority, then by the
    order of their rules in the rules file; only the first flag per criterion
    (or subject) is kept, and at most ``limit`` items, so the plan stays a
    plan. Trainers still see every flag.
    """
    labels = {c.id: c.label for _s, c in rubric.all_criteria()}
    order = {p: i for i, p in enumerate(PRIORITIES)}
    rule_order = {r.id: i for i, r in enumerate((rules or default_rules()).rules)}
    items: list[CoachingItem] = []
    taken: set[str] = set()
    ranked = sorted(
        flags,
        key=lambda f: (
            order.get(f.priority, 9),
            rule_order.get(f.rule_id, 99),
            f.rule_id,
            f.subject,
        ),
    )
    for f in ranked:
        if f.status == CoachingStatus.dismissed.value:
            continue
        topic = f.criterion_id or f.subject
        if topic in taken:
            continue
        if limit is not None and len(items) >= limit:
            break
        taken.add(topic)
        if f.criterion_id and f.criterion_id in labels:
            label = labels[f.criterion_id].get(locale)
        else:
            key = f.subject.split(":", 1)[-1]
            pair = (
                behaviour_label(key)
                if key in AVOID_BEHAVIOURS | USE_BEHAVIOURS
                else finding_label(key)
                if key in FINDINGS
                else metric_label(key)
            )
            label = pair[1] if locale == "ar" else pair[0]
        items.append(
            CoachingItem(
                priority=f.priority,  # type: ignore[arg-type]
                criterion_label=label,
                reason=f.title_ar if locale == "ar" else f.title_en,
                evidence=tuple(
                    Evidence(e["interaction_external_id"], e.get("excerpt", ""))
                    for e in (f.evidence or [])
                    if e.get("interaction_external_id")
                ),
                practice=f.practice_ar if locale == "ar" else f.practice_en,
            )
        )
    return items


def flags_by_agent(session: Session, period: str, agent_ids: Sequence[int]) -> dict[int, list[Any]]:
    """Every flag of the period for these agents (one query per 5,000 agents).

    Rows carry the flag's columns as attributes (what :func:`coaching_items`
    reads); they are plain rows, not ORM objects, because a month has tens of
    thousands of them and nothing here changes them.
    """
    out: dict[int, list[Any]] = defaultdict(list)
    for i in range(0, len(agent_ids), 5000):
        chunk = list(agent_ids[i : i + 5000])
        for row in session.execute(
            select(*CoachingFlag.__table__.c).where(
                and_(CoachingFlag.period == period, CoachingFlag.agent_id.in_(chunk))
            )
        ):
            out[row.agent_id].append(row)
    return dict(out)


__all__ = [
    "DEFAULT_RULES_PATH",
    "ERROR_CODES",
    "CoachingRules",
    "CoachingRulesError",
    "FlagFilters",
    "Recommendation",
    "RefreshReport",
    "acknowledge",
    "coaching_items",
    "default_rules",
    "flags_by_agent",
    "flags_for_trainer",
    "load_rules",
    "recommend",
    "refresh_coaching_flags",
    "set_status",
]
