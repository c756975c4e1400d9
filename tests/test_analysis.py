from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qa.importer import import_stream
from qa.models import AnalysisFlag, AuditEvent, AutoSuggestion, Interaction, ReviewAnswer
from qa.services import autoqa
from qa.services import rubrics as rubric_service
from qa.services.analysis import agreement, analyze_interactions, behaviour_counts
from qa.services.reviews import save_review, start_review
from rubrics import Answer
from tests import factories

GOOD_EN = [
    {
        "speaker": "agent",
        "text": "Good morning, thank you for calling, my name is Sam.",
        "start": 2,
        "end": 5,
    },
    {
        "speaker": "customer",
        "text": "This is unacceptable, my bill is wrong again!",
        "start": 6,
        "end": 9,
    },
    {
        "speaker": "agent",
        "text": "I completely understand, and I'm sorry for the trouble.",
        "start": 10,
        "end": 13,
    },
    {"speaker": "customer", "text": "Fine.", "start": 14, "end": 15},
    {
        "speaker": "agent",
        "text": "Is there anything else I can help you with? Have a great day!",
        "start": 16,
        "end": 19,
    },
]
BAD_AR = [
    {"speaker": "agent", "text": "نعم؟", "start": 40, "end": 41},
    {"speaker": "customer", "text": "هذا غير مقبول، للمرة الثالثة أتصل!", "start": 42, "end": 45},
    {"speaker": "agent", "text": "هذا مش شغلي، أنتَ غلطان.", "start": 80, "end": 83},
]


def _import(session: Session) -> dict[str, Interaction]:
    lines = [
        {
            "external_id": ext,
            "channel": "call",
            "language": lang,
            "started_at": "2026-10-05T10:00:00+03:00",
            "agent": {"id": f"AG-{lang}", "name": f"Agent {lang}"},
            "turns": turns,
        }
        for ext, lang, turns in (("EN-1", "en", GOOD_EN), ("AR-1", "ar", BAD_AR))
    ]
    data = b"".join(json.dumps(x, ensure_ascii=False).encode() + b"\n" for x in lines)
    import_stream(session, io.BytesIO(data), name="t.jsonl", fmt="jsonl")
    return {i.external_id: i for i in session.scalars(select(Interaction))}


@pytest.fixture
def analysed(session: Session) -> dict[str, Interaction]:
    rubric_service.install_builtin(session)
    inters = _import(session)
    report = analyze_interactions(session)
    assert report.analysed == 2 and report.failed == []
    return inters


def test_flags_are_stored_with_offsets_into_the_original_text(
    session: Session, analysed: dict[str, Interaction]
) -> None:
    for ext, turns in (("EN-1", GOOD_EN), ("AR-1", BAD_AR)):
        result = autoqa.analysis_for(session, analysed[ext].id)
        assert result is not None and result.flags
        for flag in result.flags:
            assert turns[flag.turn]["text"][flag.start : flag.end] == flag.text
    en = autoqa.analysis_for(session, analysed["EN-1"].id)
    assert en is not None
    behaviours = {f.behavior for f in en.flags if f.polarity == "use"}
    assert {"greeting", "empathy", "closing"} <= behaviours
    assert en.metrics["first_response_s"] is not None
    ar = autoqa.analysis_for(session, analysed["AR-1"].id)
    assert ar is not None
    assert {"rude", "argue"} & {f.behavior for f in ar.flags if f.polarity == "avoid"}
    assert any(f.behavior == "customer_frustration" for f in ar.flags)
    finding_ids = {f.id for f in ar.findings}
    assert {"missing_greeting", "missing_empathy_after_frustration"} <= finding_ids
    # Every suggestion explains itself.
    assert ar.suggestions
    for suggestion in ar.suggestions.values():
        assert suggestion.reasons and all(r.text for r in suggestion.reasons)
    counts = behaviour_counts(
        session,
        analysed["AR-1"].agent_id,
        analysed["AR-1"].started_at,
        analysed["AR-1"].started_at.replace(year=2027),
    )
    assert any(polarity == "avoid" for _b, polarity in counts)


def test_only_stale_interactions_are_reanalysed(
    session: Session, analysed: dict[str, Interaction], tmp_path: Path
) -> None:
    again = analyze_interactions(session)
    assert again.analysed == 0 and again.up_to_date == 2
    (tmp_path / "ar.yaml").write_text(
        "lang: ar\nversion: local-1\nrules:\n"
        "  - id: ar.local.welcome\n    behavior: greeting\n    polarity: use\n"
        "    criterion: greeting\n    severity: low\n    phrases: [حياك الله]\n",
        encoding="utf-8",
    )
    changed = analyze_interactions(session, lexicon_dir=tmp_path)
    assert changed.analysed == 1  # only the Arabic interaction: its lexicon changed
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "lexicon").order_by(AuditEvent.id)
    ).all()
    assert [(e.entity_id, e.action) for e in events] == [
        ("en", "create"),
        ("ar", "create"),
        ("ar", "change"),
    ]
    assert events[-1].before == {"version": events[1].after["version"]}
    assert events[-1].after["source"] == str(tmp_path)
    flags = session.scalar(select(func.count()).select_from(AnalysisFlag)) or 0
    assert analyze_interactions(session, lexicon_dir=tmp_path).analysed == 0
    assert session.scalar(select(func.count()).select_from(AnalysisFlag)) == flags


def test_a_new_matcher_version_makes_every_analysis_stale(
    session: Session, analysed: dict[str, Interaction], monkeypatch: pytest.MonkeyPatch
) -> None:
    import qa.services.analysis as analysis_service

    assert analyze_interactions(session).analysed == 0
    monkeypatch.setattr(analysis_service, "MATCHING_VERSION", "next")
    assert analyze_interactions(session).analysed == 2
    stamps = {i.analysis_version for i in session.scalars(select(Interaction))}
    assert stamps and all(s is not None and "|match:next|" in s for s in stamps)


def test_rubric_change_makes_suggestions_stale(
    session: Session, analysed: dict[str, Interaction]
) -> None:
    text = rubric_service.latest_version(session).source_yaml.replace("target: 85", "target: 80", 1)
    rubric_service.save_rubric(session, text)
    assert analyze_interactions(session).analysed == 2


def test_suggestions_never_overwrite_answers_and_agreement_is_measured(
    session: Session, analysed: dict[str, Interaction]
) -> None:
    version = rubric_service.latest_version(session)
    rubric = rubric_service.rubric_of(version)
    inter = analysed["AR-1"]
    suggestions = {
        s.criterion_id: s
        for s in session.scalars(
            select(AutoSuggestion).where(AutoSuggestion.interaction_id == inter.id)
        )
    }
    assert suggestions
    reviewer = factories.user(session, role="reviewer")
    review = start_review(session, inter.id, reviewer)
    answers = {}
    disagree = sorted(suggestions)[0]
    for _s, c in rubric.all_criteria():
        sug = suggestions.get(c.id)
        if sug is not None and c.id != disagree:
            answers[c.id] = Answer(None, na=True) if sug.na else Answer(sug.value)
        elif sug is not None:  # the reviewer overrides one suggestion
            other = c.max_value if sug.value != c.max_value else c.min_value
            answers[c.id] = Answer(other)
        else:
            answers[c.id] = Answer(c.max_value)
    save_review(session, review, answers, reviewer, submit=True)
    stored = {a.criterion_id: a.value for a in session.scalars(select(ReviewAnswer))}
    analyze_interactions(session, force=True)
    assert {a.criterion_id: a.value for a in session.scalars(select(ReviewAnswer))} == stored
    rows = {r.criterion_id: r for r in agreement(session)}
    assert set(rows) == set(suggestions)
    assert rows[disagree].agreed == 0 and rows[disagree].compared == 1
    others = [r for cid, r in rows.items() if cid != disagree]
    assert others and all(r.rate == 1.0 for r in others)


def test_stale_ids_accepts_more_ids_than_a_statement_can_bind(session: Session) -> None:
    """After a big import `qa import` asks about every new id; PostgreSQL (psycopg) binds
    at most 65,535 parameters per statement, so the lookup must not put them all in one IN."""
    from qa.services.analysis import current_stamps, stale_ids

    inters = _import(session)
    stamps = current_stamps(None, None)
    wanted = [inters["AR-1"].id, *range(10_000_000, 10_070_000)]
    assert stale_ids(session, stamps, only=wanted) == [inters["AR-1"].id]
    report = analyze_interactions(session, only=iter([inters["EN-1"].id]))  # any iterable
    assert report.analysed == 1 and report.up_to_date == 0
