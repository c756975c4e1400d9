"""Hand-built months for the scorecard tests: a small rubric with known weights and
targets, reviews through the real review service, and auto-QA rows in their stored shape."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from qa.models import (
    Agent,
    AnalysisFinding,
    AnalysisFlag,
    AutoSuggestion,
    Interaction,
    InteractionAnalysis,
    Review,
    RubricVersion,
    User,
)
from qa.services import rubrics as rubric_service
from qa.services.reviews import save_review, start_review
from rubrics import Answer
from tests import factories

RUBRIC_KEY = "mini"


def _crit(cid: str, kind: str, en: str, ar: str, extra: str = "") -> str:
    return f"""
      - id: {cid}
        type: {kind}
        label: {{en: {en}, ar: {ar}}}
        description: {{en: {en}., ar: {ar}.}}
        guidance: {{en: Judge {en}., ar: قيّم {ar}.}}{extra}"""


def mini_rubric_yaml(*, greeting_label: str = "Greeted the customer", target: int = 80) -> str:
    """Two sections of equal weight, two criteria each, all weight 1.

    ``greeting`` has its own target (90); the rubric target is ``target``.
    ``no_rude`` is critical for the whole review.
    """
    greeting = _crit(
        "greeting",
        "yes_no",
        greeting_label,
        "رحّب بالعميل",
        "\n        target: 90\n        evidence: {use: [greeting], findings: [missing_greeting]}",
    )
    courtesy = _crit(
        "courtesy",
        "scale",
        "Courteous language",
        "لغة مهذبة",
        "\n        evidence: {avoid: [negative_language]}",
    )
    correct = _crit(
        "correct_information",
        "scale",
        "Correct information",
        "معلومات صحيحة",
        "\n        evidence:\n          avoid: [uncertainty]\n"
        "          metrics: [{metric: first_response_s, threshold: first_response_s, "
        "direction: max}]",
    )
    no_rude = _crit(
        "no_rude",
        "yes_no",
        "No rude language",
        "خلو من الإساءة",
        "\n        critical: review\n        evidence: {avoid: [rude]}",
    )
    return f"""schema_version: 1
key: {RUBRIC_KEY}
name: {{en: Mini rubric, ar: نموذج مصغر}}
target: {target}
timing_thresholds:
  call: {{first_response_s: 10, hold_max_s: 120}}
  chat: {{first_response_s: 60, reply_time_mean_s: 60}}
sections:
  - id: prof
    weight: 50
    name: {{en: Professionalism, ar: الاحترافية}}
    criteria:{greeting}{courtesy}
  - id: acc
    weight: 50
    name: {{en: Accuracy, ar: الدقة}}
    criteria:{correct}{no_rude}
"""


def install_mini(session: Session, **kw: Any) -> RubricVersion:
    version, _ = rubric_service.save_rubric(session, mini_rubric_yaml(**kw))
    return version


def review(
    session: Session,
    version: RubricVersion,
    agent: Agent,
    reviewer: User,
    at: datetime,
    values: dict[str, float],
    *,
    comment: str | None = None,
    answer_comments: dict[str, str] | None = None,
    channel: str = "call",
) -> Review:
    """A submitted review through the real service (scores computed by rubrics.score)."""
    inter = factories.interaction(session, agent_=agent, started_at=at, channel=channel)
    rev = start_review(session, inter.id, reviewer, rubric_version=version)
    notes = answer_comments or {}
    answers = {cid: Answer(value=float(v), comment=notes.get(cid)) for cid, v in values.items()}
    save_review(session, rev, answers, reviewer, submit=True, comment=comment)
    return rev


def analysed(
    session: Session,
    agent: Agent,
    at: datetime,
    *,
    metrics: dict[str, float | None] | None = None,
    channel: str = "call",
    turns: list[tuple[str, str, float | None, float | None]] | None = None,
) -> Interaction:
    """An interaction with an ``interaction_analyses`` row (what auto-QA stores)."""
    inter = factories.interaction(
        session, agent_=agent, started_at=at, channel=channel, turns=turns
    )
    session.add(
        InteractionAnalysis(
            interaction_id=inter.id,
            version="test",
            lexicon_version="test",
            metrics=metrics or {},
        )
    )
    session.flush()
    return inter


def flag(
    session: Session,
    inter: Interaction,
    behaviour: str,
    polarity: str,
    *,
    turn: int = 0,
    start: int = 0,
    end: int | None = None,
    suggestion: str | None = None,
) -> AnalysisFlag:
    text = inter.turns[turn].text
    end = len(text) if end is None else end
    row = AnalysisFlag(
        interaction_id=inter.id,
        turn=turn,
        rule=f"en.{behaviour}.test",
        behavior=behaviour,
        polarity=polarity,
        severity="medium",
        start=start,
        end=end,
        text=text[start:end],
        suggestion=suggestion,
        agent_id=inter.agent_id,
        interaction_at=inter.started_at,
    )
    session.add(row)
    session.flush()
    return row


def finding(session: Session, inter: Interaction, finding_id: str, why: str) -> AnalysisFinding:
    row = AnalysisFinding(
        interaction_id=inter.id,
        finding=finding_id,
        why=why,
        agent_id=inter.agent_id,
        interaction_at=inter.started_at,
    )
    session.add(row)
    session.flush()
    return row


def suggestion(
    session: Session, inter: Interaction, version: RubricVersion, criterion: str, value: float
) -> None:
    session.add(
        AutoSuggestion(
            interaction_id=inter.id,
            rubric_version_id=version.id,
            criterion_id=criterion,
            value=value,
            na=False,
            confidence=0.8,
            reasons=[],
        )
    )
    session.flush()
