"""Suggested answers and the evidence behind them."""

from __future__ import annotations

import pytest

from qa.nlp.analyzer import Analyzer
from qa.nlp.pipeline import auto_qa
from qa.nlp.suggest import (
    FindingEvidence,
    FlagEvidence,
    MetricEvidence,
    RubricShapeError,
    suggest_scores,
)
from qa.nlp.timing import compute_metrics

RUBRIC = {
    "key": "cs-basic",
    "timing_thresholds": {
        "call": {"first_response_s": 10, "response_latency_max_s": 30, "hold_max_s": 120},
        "chat": {"first_response_s": 60, "reply_time_max_s": 120},
    },
    "sections": [
        {
            "id": "opening",
            "criteria": [
                {
                    "id": "greeting",
                    "type": "yes_no",
                    "evidence": {"use": ["greeting"], "findings": ["missing_greeting"]},
                },
                {"id": "no_evidence_block", "type": "yes_no"},
            ],
        },
        {
            "id": "conduct",
            "criteria": [
                {
                    "id": "professionalism",
                    "type": "scale",
                    "scale": {"min": 1, "max": 5},
                    "evidence": {"avoid": ["rude", "dismissive", "blame"]},
                },
                {
                    "id": "empathy",
                    "type": "points",
                    "max_points": 10,
                    "evidence": {
                        "use": ["empathy", "apology"],
                        "findings": ["missing_empathy_after_frustration"],
                    },
                },
            ],
        },
        {
            "id": "timeliness",
            "criteria": [
                {
                    "id": "responsiveness",
                    "type": "scale",
                    "evidence": {
                        "metrics": [
                            {
                                "metric": "response_latency_max_s",
                                "threshold": "response_latency_max_s",
                                "direction": "max",
                            }
                        ]
                    },
                },
                {
                    "id": "chat_reply",
                    "type": "points",
                    "max_points": 4,
                    "evidence": {
                        "metrics": [{"metric": "reply_time_max_s", "threshold": "reply_time_max_s"}]
                    },
                },
                {
                    "id": "hold",
                    "type": "yes_no",
                    "na_allowed": True,
                    "evidence": {
                        "metrics": [
                            {"metric": "hold_max_s", "threshold": "hold_max_s", "direction": "max"}
                        ]
                    },
                },
            ],
        },
    ],
}


def A(text: str, start: float | None = None, end: float | None = None) -> dict:
    return {"speaker": "agent", "text": text, "start": start, "end": end}


def C(text: str, start: float | None = None, end: float | None = None) -> dict:
    return {"speaker": "customer", "text": text, "start": start, "end": end}


def run(turns: list[dict], channel: str = "call", lang: str = "en"):
    return auto_qa(turns, channel, lang, RUBRIC).suggestions


def test_only_criteria_with_evidence_blocks() -> None:
    s = run([A("Hello")])
    assert set(s) == {
        "greeting",
        "professionalism",
        "empathy",
        "responsiveness",
        "chat_reply",
        "hold",
    }


def test_use_behaviour_found_gives_highest() -> None:
    s = run([A("Hello, my name is Sam"), C("hi"), A("Have a great day")])
    g = s["greeting"]
    assert g is not None and (g.value, g.na, g.section_id) == (1, False, "opening")
    (reason,) = g.reasons
    assert isinstance(reason, FlagEvidence)
    assert (reason.rule, reason.turn, reason.start, reason.end, reason.text) == (
        "en.greeting.hello",
        0,
        0,
        5,
        "Hello",
    )


def test_finding_gives_lowest_with_explanation() -> None:
    s = run([A("Account number?"), C("123"), A("Thanks, bye")])
    g = s["greeting"]
    assert g is not None and g.value == 0
    (reason,) = g.reasons
    assert isinstance(reason, FindingEvidence) and reason.id == "missing_greeting"
    assert "first 2 turn(s)" in reason.why


def test_avoid_behaviour_gives_lowest_on_a_scale() -> None:
    s = run([A("Hello. Calm down, that's not my problem."), A("Bye")])
    p = s["professionalism"]
    assert p is not None and p.value == 1
    texts = {r.text for r in p.reasons if isinstance(r, FlagEvidence)}
    assert texts == {"Calm down", "that's not my problem"}
    assert p.confidence == 0.9  # high-severity rule


def test_no_applicable_evidence_gives_none() -> None:
    s = run([A("Hello"), A("Bye")])
    assert s["professionalism"] is None  # nothing rude found is not evidence of courtesy
    assert s["responsiveness"] is None  # no timestamps
    assert s["chat_reply"] is None  # no chat threshold applies to a call


def test_points_use_and_finding_conflict_goes_low_with_reduced_confidence() -> None:
    turns = [
        A("Hello, my name is Sam"),
        C("This is unacceptable"),
        A("Account?"),
        C("1"),
        A("ok"),
        A("I'm sorry about that, bye"),
    ]
    e = run(turns)["empathy"]
    assert e is not None and e.value == 0
    kinds = [r.kind for r in e.reasons]
    assert kinds[0] == "finding" and "flag" in kinds
    assert e.confidence == 0.56  # finding 0.75, x0.75 for the conflicting apology


def test_points_use_found_gives_max_points() -> None:
    e = run([A("Hello"), C("This is unacceptable"), A("I completely understand")])["empathy"]
    assert e is not None and e.value == 10


def timed_call(latency: float) -> list[dict]:
    return [
        A("Hello, my name is Sam", 0.0, 3.0),
        C("question", 3.5, 6.0),
        A("Sure thing", 6.0 + latency, 8.0 + latency),
    ]


@pytest.mark.parametrize(
    ("latency", "value"),
    [(5.0, 5), (30.0, 5), (33.0, 4), (45.0, 3), (60.0, 1), (300.0, 1)],
)
def test_metric_threshold_degrades_a_scale_proportionally(latency: float, value: int) -> None:
    r = run(timed_call(latency))["responsiveness"]
    assert r is not None and r.value == value
    (m,) = r.reasons
    assert isinstance(m, MetricEvidence)
    assert (m.name, m.value, m.threshold, m.direction) == (
        "response_latency_max_s",
        latency,
        30.0,
        "max",
    )
    assert m.passed is (latency <= 30)


def test_chat_metric_on_points_fails_to_zero() -> None:
    turns = [C("hi", 0.0), A("Hello", 200.0)]
    s = run(turns, channel="chat")
    assert s["chat_reply"] is not None and s["chat_reply"].value == 0
    turns = [C("hi", 0.0), A("Hello", 20.0)]
    assert run(turns, channel="chat")["chat_reply"].value == 4


def test_hold_na_only_when_measured_and_allowed() -> None:
    s = run(timed_call(2.0))
    h = s["hold"]
    assert h is not None and h.na and h.value is None
    assert h.reasons == (MetricEvidence("hold_count", 0, None, None, True),)
    rubric = {**RUBRIC, "sections": [dict(RUBRIC["sections"][2])]}
    crit = dict(rubric["sections"][0]["criteria"][2], na_allowed=False)
    rubric["sections"][0]["criteria"] = [crit]
    analysis_result = auto_qa(timed_call(2.0), "call", "en", rubric)
    h2 = analysis_result.suggestions["hold"]
    assert h2 is not None and h2.na is False and h2.value == 1  # hold_max 0 <= 120


def test_arabic_suggestions(ar: Analyzer) -> None:
    turns = [A("السلام عليكم، اسمي سارة"), C("زهقت"), A("أتفهم شعورك، وآسفة"), A("مو شغلي")]
    s = auto_qa(turns, "chat", "ar", RUBRIC).suggestions
    assert s["greeting"].value == 1
    assert s["empathy"].value == 10
    assert s["professionalism"].value == 1
    assert [r.text for r in s["professionalism"].reasons] == ["مو شغلي"]


def test_rubric_shape_errors_name_the_criterion(en: Analyzer) -> None:
    analysis = en.analyze([A("Hello")], "call")
    metrics = compute_metrics([A("Hello")], "call")
    bad = {
        "sections": [
            {
                "id": "s",
                "criteria": [{"id": "x", "type": "stars", "evidence": {"use": ["greeting"]}}],
            }
        ]
    }
    with pytest.raises(RubricShapeError, match="criterion x"):
        suggest_scores(bad, analysis, metrics, "call")
    bad = {
        "sections": [
            {
                "id": "s",
                "criteria": [{"id": "p", "type": "points", "evidence": {"use": ["greeting"]}}],
            }
        ]
    }
    with pytest.raises(RubricShapeError, match="criterion p: points"):
        suggest_scores(bad, analysis, metrics, "call")


def test_suggestions_serialise() -> None:
    result = auto_qa([A("Hello. Calm down.")], "call", "en", RUBRIC)
    d = result.to_dict()
    assert d["suggestions"]["professionalism"]["reasons"][0]["kind"] == "flag"
    assert d["suggestions"]["responsiveness"] is None
    assert d["analysis"]["lexicon_version"].startswith("en:")


def test_evidence_to_dict_is_every_field_in_order() -> None:
    """The hand-written to_dict methods (asdict was too slow) miss no field."""
    from dataclasses import asdict

    from qa.nlp.suggest import FlagEvidence, MetricEvidence
    from qa.nlp.timing import TimingMetrics

    for ev in (
        FlagEvidence("r", "greeting", 1, 2, 5, "hey"),
        MetricEvidence("first_response_s", 4.5, 10.0, "max", True),
    ):
        assert list(ev.to_dict().items()) == list(asdict(ev).items())
    metrics = TimingMetrics(first_response_s=1.5, hold_count=2, problems=("no times",))
    assert metrics.to_dict() == {**asdict(metrics), "problems": ["no times"]}
    assert list(metrics.to_dict()) == list(asdict(metrics))


@pytest.fixture(scope="module")
def builtin() -> dict:
    from rubrics.loader import builtin_rubric_path, load_rubric_file

    return load_rubric_file(builtin_rubric_path()).model_dump(mode="json")


def TT(speaker: str, text: str, start: float, end: float | None = None) -> dict:
    return {"speaker": speaker, "text": text, "start": start, "end": start if end is None else end}


def test_customer_nobody_answered_is_no_prompt_response(builtin: dict) -> None:
    """A customer-only call passed every measured check (silence 5 s < 30 s) and got
    the top score; the finding now says nobody answered."""
    call = [TT("customer", "hello?", 0, 5), TT("customer", "anyone there?", 10, 12)]
    s = auto_qa(call, "call", "en", builtin).suggestions["response_speed"]
    assert s is not None and s.value == 1
    assert [r.id for r in s.reasons if isinstance(r, FindingEvidence)] == ["missing_agent_reply"]


def test_chat_left_waiting_fails_response_speed(builtin: dict) -> None:
    chat = [
        TT("customer", "hi", 0),
        TT("agent", "Hello, my name is Sam. How can I help?", 5),
        TT("customer", "my order is still broken", 10),
        TT("customer", "hello??", 4000),
    ]
    s = auto_qa(chat, "chat", "en", builtin).suggestions["response_speed"]
    assert s is not None and s.value == 1
    failed = [r for r in s.reasons if isinstance(r, MetricEvidence) and not r.passed]
    assert [(r.name, r.value, r.threshold) for r in failed] == [
        ("unanswered_wait_s", 3990.0, 120.0)
    ]
    # the customer's closing "thanks" waited 0 s: no failure
    fine = [*chat[:2], TT("customer", "thanks, bye", 30)]
    s = auto_qa(fine, "chat", "en", builtin).suggestions["response_speed"]
    assert s is not None and s.value == 5


def test_hold_detection_threshold_comes_from_the_rubric(builtin: dict) -> None:
    """A 45 s unannounced silence is a hold only where the rubric says 40 s is one."""
    call = [TT("agent", "Hello, my name is Sam.", 0, 5), TT("agent", "Sorry for the wait.", 50, 55)]
    assert auto_qa(call, "call", "en", builtin).metrics.hold_count == 0
    strict = {**builtin, "timing_thresholds": {"call": {"hold_silence_s": 40}}}
    assert auto_qa(call, "call", "en", strict).metrics.hold_count == 1
    assert auto_qa(call, "call", "en", strict, hold_silence_s=60).metrics.hold_count == 0
