"""A small coaching world shared by the service and page tests: two teams, three agents,
flags in two months, and issued scorecards with distinct PDF bytes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from qa.models import Agent, CoachingFlag, Scorecard, User
from tests import factories as f

HOSTILE_EXCERPT = "<img src=x onerror=alert(1)> **bold** [link](http://evil) \u202eterces"


def flag(
    session: Session,
    agent: Agent,
    *,
    period: str = "2026-10",
    rule_id: str = "criterion_below_target",
    subject: str = "greeting",
    priority: str = "high",
    criterion_id: str | None = "greeting",
    status: str = "open",
    title_en: str = "Greeting: 40% against a target of 90%",
    title_ar: str = "الترحيب: 40% مقابل هدف 90%",
    practice_en: str = "Greet every customer and say your name.",
    practice_ar: str = "رحّب بكل عميل وعرّف بنفسك.",
    evidence: list[dict[str, str]] | None = None,
) -> CoachingFlag:
    obj = CoachingFlag(
        agent_id=agent.id,
        period=period,
        rule_id=rule_id,
        subject=subject,
        priority=priority,
        criterion_id=criterion_id,
        title_en=title_en,
        title_ar=title_ar,
        evidence=evidence
        if evidence is not None
        else [{"interaction_external_id": "CALL-1", "excerpt": "hello what do you want"}],
        practice_en=practice_en,
        practice_ar=practice_ar,
        status=status,
    )
    session.add(obj)
    session.flush()
    return obj


def scorecard(
    session: Session, agent: Agent, period: str, overall: float | None, *, auto: bool = False
) -> Scorecard:
    pdf = f"%PDF-1.4 scorecard of {agent.external_id} for {period}\n%%EOF".encode()
    obj = Scorecard(
        agent_id=agent.id,
        period=period,
        snapshot={"kpis": {"overall_pct": overall, "based_on_auto_qa_only": auto}},
        pdf=pdf,
        pdf_sha256="0" * 64,
        auto_qa_only=auto,
    )
    session.add(obj)
    session.flush()
    return obj


@dataclass
class CoachWorld:
    agents: dict[str, Agent]
    users: dict[str, User]
    flags: dict[str, CoachingFlag]
    scorecards: dict[str, Scorecard] = field(default_factory=dict)
    teams: dict[str, Any] = field(default_factory=dict)


def build(session: Session, users: dict[str, User] | None = None) -> CoachWorld:
    """Agents Sam (team North, user ``agent`` when given), Bea (North), Omar (South, Arabic).

    Flags: Sam has two open October flags (greeting high, negative language
    medium) and a September low one; Bea an open October greeting flag;
    Omar an October flag with a hostile excerpt. Scorecards: Sam 2026-09
    and 2026-10 (the latter auto-QA only), Bea 2026-10.
    """
    north = f.team(session, "North")
    south = f.team(session, "South")
    sam = f.agent(session, team_=north, name="Sam Agent", external_id="AG-SAM")
    bea = f.agent(session, team_=north, name="Bea Other", external_id="AG-BEA")
    omar = f.agent(session, team_=south, name="Omar", external_id="AG-OMAR", locale="ar")
    users = dict(users or {})
    for role in ("trainer", "qa_lead", "admin", "reviewer"):
        users.setdefault(role, f.user(session, role=role, username=f"c_{role}"))
    if "agent" in users:
        users["agent"].agent_id = sam.id
        users["agent"].team_id = north.id
    else:
        users["agent"] = f.user(session, role="agent", agent_=sam, username="c_sam")
    users["agent_b"] = f.user(session, role="agent", agent_=bea, username="c_bea")
    users["agent_nolink"] = f.user(session, role="agent", username="c_nolink")
    session.flush()
    flags = {
        "sam_greeting": flag(session, sam),
        "sam_negative": flag(
            session,
            sam,
            rule_id="avoid_behaviour",
            subject="negative_language",
            priority="medium",
            criterion_id="courtesy",
            title_en="Negative language in 3 interactions",
            title_ar="لغة سلبية في 3 تفاعلات",
            practice_en="Say what you can do, not what you cannot.",
            practice_ar="قل ما تستطيع فعله لا ما لا تستطيع.",
        ),
        "sam_sept": flag(session, sam, period="2026-09", priority="low"),
        "bea_greeting": flag(session, bea),
        "omar_hostile": flag(
            session,
            omar,
            rule_id="missing_behaviour",
            subject="missing_closing",
            criterion_id="closing",
            priority="medium",
            evidence=[{"interaction_external_id": "CHAT-<b>9</b>", "excerpt": HOSTILE_EXCERPT}],
        ),
    }
    cards = {
        "sam_09": scorecard(session, sam, "2026-09", 81.25),
        "sam_10": scorecard(session, sam, "2026-10", 64.5, auto=True),
        "bea_10": scorecard(session, bea, "2026-10", 90.0),
    }
    return CoachWorld(
        agents={"sam": sam, "bea": bea, "omar": omar},
        users=users,
        flags=flags,
        scorecards=cards,
        teams={"north": north, "south": south},
    )
