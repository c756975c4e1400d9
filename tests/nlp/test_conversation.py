"""Conversation-aware analysis: speakers, whole-interaction findings, turn input."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from qa.models import Speaker
from qa.nlp import analyzer as analyzer_module
from qa.nlp.analyzer import Analyzer, analyze, get_analyzer
from qa.nlp.types import Flag, Turn, TurnError, coerce_turns


def A(text: str) -> dict:
    return {"speaker": "agent", "text": text}


def C(text: str) -> dict:
    return {"speaker": "customer", "text": text}


def S(text: str) -> dict:
    return {"speaker": "system", "text": text}


GOOD_CALL = [
    S("call connected"),
    A("Hello, thank you for calling Acme. My name is Sarah."),
    C("My internet is down again, this is unacceptable!"),
    A("I completely understand, that must be frustrating. Let me check that for you."),
    C("ok"),
    A("May I place you on hold for a moment?"),
    C("sure"),
    A("Thank you for holding. It's fixed. Is there anything else I can help you with?"),
    C("No, thanks"),
    A("Have a great day!"),
]


def finding_ids(analysis) -> list[str]:
    return [f.id for f in analysis.findings]


def test_good_call_has_no_findings(en: Analyzer) -> None:
    a = en.analyze(GOOD_CALL, "call", "en")
    assert a.findings == ()
    assert a.lang == "en" and a.channel == "call"
    assert a.lexicon_version == en.version and a.lexicon_version.startswith("en:")
    assert a.hold_announcements == (5,)
    by_turn = {(f.turn, f.behavior) for f in a.flags}
    assert (1, "greeting") in by_turn and (1, "self_introduction") in by_turn
    assert (2, "customer_frustration") in by_turn
    assert (3, "empathy") in by_turn
    assert not any(f.turn == 0 for f in a.flags)  # system turn never flagged


def test_offsets_index_each_turn(en: Analyzer) -> None:
    a = en.analyze(GOOD_CALL, "call", "en")
    for f in a.flags:
        assert GOOD_CALL[f.turn]["text"][f.start : f.end] == f.text


def test_missing_greeting_and_introduction_look_at_first_two_agent_turns(en: Analyzer) -> None:
    turns = [
        C("hi"),
        A("What do you need?"),
        C("my bill"),
        A("Account number?"),
        C("123"),
        A("Hello, my name is Sarah, thanks. Have a great day"),
    ]
    a = en.analyze(turns, "call", "en")
    ids = finding_ids(a)
    assert "missing_greeting" in ids and "missing_self_introduction" in ids
    greeting = next(f for f in a.findings if f.id == "missing_greeting")
    assert greeting.turn == 1
    assert "1, 3" in greeting.why
    assert "missing_closing" not in ids


def test_missing_closing_looks_at_last_two_agent_turns(en: Analyzer) -> None:
    turns = [
        A("Hello, my name is Sarah. Have a great day"),  # closing words too early
        C("thanks"),
        A("Your order ships Monday."),
        C("ok"),
        A("Done."),
    ]
    a = en.analyze(turns, "call", "en")
    (closing,) = [f for f in a.findings if f.id == "missing_closing"]
    assert closing.turn == 4
    assert "2, 4" in closing.why


def test_missing_empathy_after_frustration(en: Analyzer) -> None:
    turns = [
        A("Hello, my name is Sam."),
        C("This is ridiculous, I'm fed up."),
        A("Account number?"),
        C("123"),
        A("Checking."),
        A("I understand, sorry."),  # third agent turn after the cue: too late
        A("Have a great day"),
    ]
    a = en.analyze(turns, "call", "en")
    (f,) = [f for f in a.findings if f.id == "missing_empathy_after_frustration"]
    assert f.turn == 1
    assert {e.text for e in f.evidence} == {"This is ridiculous", "fed up"}
    assert all(turns[e.turn]["text"][e.start : e.end] == e.text for e in f.evidence)
    assert "2, 4" in f.why


@pytest.mark.parametrize("reply", ["I'm so sorry about that.", "I understand how you feel."])
def test_empathy_or_apology_in_next_two_agent_turns_is_enough(en: Analyzer, reply: str) -> None:
    turns = [
        A("Hello, my name is Sam."),
        C("This is unacceptable"),
        A("One second."),
        A(reply),
        A("Bye"),
    ]
    assert "missing_empathy_after_frustration" not in finding_ids(en.analyze(turns, "chat", "en"))


def test_frustration_with_no_agent_reply(en: Analyzer) -> None:
    turns = [A("Hello, my name is Sam. Bye"), C("This is unacceptable")]
    (f,) = [f for f in en.analyze(turns, "chat").findings if f.id.startswith("missing_empathy")]
    assert "no agent turn followed" in f.why


def test_negated_empathy_does_not_answer_frustration(en: Analyzer) -> None:
    turns = [A("Hi, my name is Sam"), C("I'm fed up"), A("I'm not sorry."), A("bye")]
    assert "missing_empathy_after_frustration" in finding_ids(en.analyze(turns, "chat"))


def test_no_agent_turns_one_finding_the_customer_went_unanswered(en: Analyzer) -> None:
    """Nothing is said about greeting, closing or empathy of an agent who never
    spoke; what is said is that nobody answered."""
    a = en.analyze([C("This is unacceptable"), S("hangup"), C("hello??")], "call")
    assert [(f.id, f.turn) for f in a.findings] == [("missing_agent_reply", 0)]
    assert "turns 0, 2" in a.findings[0].why and "no agent turn answered" in a.findings[0].why
    assert [f.behavior for f in a.flags] == ["customer_frustration"]


@pytest.mark.parametrize(
    "turns",
    [
        [S("call connected"), S("hangup")],
        [C("   "), S("hangup")],
        [],
    ],
)
def test_nothing_said_no_findings(en: Analyzer, turns: list[dict]) -> None:
    assert en.analyze(turns, "call").findings == ()


def test_empty_agent_turns_are_no_opening_or_closing(en: Analyzer) -> None:
    """An empty message (an attachment, a sticker, a transcription gap) is no turn in
    which the agent could have greeted or closed."""
    turns = [
        A(""),
        A("  "),
        A("Good morning, my name is Ann."),
        C("hi"),
        A("Anything else I can help you with? Have a great day!"),
        A(""),
    ]
    assert finding_ids(en.analyze(turns, "chat")) == []
    only_blank = [A(""), C("This is unacceptable"), A(" ")]
    assert finding_ids(en.analyze(only_blank, "chat")) == ["missing_agent_reply"]


def T(speaker: str, text: str, start: float) -> dict:
    return {"speaker": speaker, "text": text, "start": start, "end": start}


def test_findings_follow_time_not_the_listed_order(en: Analyzer) -> None:
    """An export may list turns out of order; "the next two agent turns" after a
    complaint are the next two in time."""
    turns = [
        T("agent", "Hello, my name is Sam.", 0),
        T("customer", "This is ridiculous", 10),
        T("agent", "I'm so sorry about that.", 100),
        T("agent", "let me check", 20),
        T("agent", "one sec", 30),
        T("agent", "Anything else? Have a great day!", 110),
    ]
    a = en.analyze(turns, "chat")
    (f,) = a.findings
    assert f.id == "missing_empathy_after_frustration" and f.turn == 1
    assert "(3, 4)" in f.why
    in_time = sorted(turns, key=lambda t: t["start"])
    b = en.analyze(in_time, "chat")
    assert [(g.id, g.why) for g in b.findings] == [
        ("missing_empathy_after_frustration", f.why.replace("(3, 4)", "(2, 3)"))
    ]
    # in time order the apology answers the complaint: no finding either way
    answered = [dict(t) for t in turns]
    answered[2]["start"] = answered[2]["end"] = 15
    assert en.analyze(answered, "chat").findings == ()


def test_opening_and_closing_follow_time(en: Analyzer) -> None:
    turns = [
        T("agent", "Have a great day!", 50),
        T("agent", "one moment", 30),
        T("customer", "thanks", 20),
        T("agent", "ok", 10),
        T("agent", "Hello, my name is Sam.", 0),
    ]
    assert finding_ids(en.analyze(turns, "chat")) == []
    # a missing start keeps the listed order (nothing else to go by)
    turns[2]["start"] = turns[2]["end"] = None
    assert finding_ids(en.analyze(turns, "chat")) == [
        "missing_greeting",
        "missing_self_introduction",
        "missing_closing",
    ]


def test_arabic_conversation(ar: Analyzer) -> None:
    turns = [
        A("السلام عليكم، معك أحمد من خدمة العملاء"),
        C("للمرة الثالثة أتصل، هذا غير مقبول"),
        A("أتفهم شعورك تماماً، وآسف على الإزعاج. خليني أشوف لك"),
        C("طيب"),
        A("شكراً لانتظارك، هل هناك أي شيء آخر؟ في أمان الله"),
    ]
    a = ar.analyze(turns, "call", "ar")
    assert a.findings == ()
    assert {"greeting", "self_introduction", "empathy", "apology", "ownership", "closing"} <= {
        f.behavior for f in a.flags
    }


def test_arabic_missing_empathy(ar: Analyzer) -> None:
    turns = [
        A("مرحبا، اسمي سارة"),
        C("زهقت، الخدمة سيئة جدا"),
        A("رقم الحساب؟"),
        C("١٢٣"),
        A("تم. مع السلامة"),
    ]
    a = ar.analyze(turns, "call", "ar")
    assert finding_ids(a) == ["missing_empathy_after_frustration"]


@dataclass
class _Obj:
    speaker: object
    text: str
    start: float | None = None
    end: float | None = None


def test_turns_may_be_dicts_objects_turns_or_tuples(en: Analyzer) -> None:
    turns = [
        {"speaker": "agent", "text": "Hello"},
        _Obj(Speaker.customer, "This is unacceptable", 1.0, 2.0),
        Turn("agent", "I'm sorry", 3.0, 4.0),
        ("agent", "Thank you for your patience", 5, None),  # (speaker, text, start, end)
    ]
    a = en.analyze(turns, "chat")
    assert [(f.turn, f.behavior) for f in a.flags] == [
        (0, "greeting"),
        (1, "customer_frustration"),
        (2, "apology"),
        (3, "gratitude"),
    ]
    assert coerce_turns(turns)[3] == Turn("agent", "Thank you for your patience", 5.0, None)


@pytest.mark.parametrize(
    ("turn", "message"),
    [
        ({"speaker": "bot", "text": "x"}, "turn 1: speaker"),
        ({"speaker": "agent", "text": 5}, "turn 1: text"),
        ({"speaker": "agent"}, "turn 1: text"),
        ({"speaker": "agent", "text": "x", "start": "soon"}, "turn 1: start"),
        (("agent", "x", 1.0), r"turn 1: a tuple turn is \(speaker, text, start, end\); got 3"),
        (("robot", "x", None, None), "turn 1: speaker"),
        (("agent", b"x", None, None), "turn 1: text"),
        (("agent", "x", None, "late"), "turn 1: end"),
    ],
)
def test_bad_turns_are_named(en: Analyzer, turn: dict | tuple, message: str) -> None:
    with pytest.raises(TurnError, match=message):
        en.analyze([A("hi"), turn], "call")


def test_channel_and_language_are_checked(en: Analyzer) -> None:
    with pytest.raises(ValueError, match="channel"):
        en.analyze([A("hi")], "fax")
    with pytest.raises(ValueError, match="'en'"):
        en.analyze([A("hi")], "call", "ar")


def test_module_level_analyze_uses_cached_analyzer(en: Analyzer) -> None:
    a = analyze([A("Hello")], "email", "en")
    assert a.lexicon_version == en.version
    assert a.to_dict()["flags"][0]["behavior"] == "greeting"


def test_flag_tuple_layout_is_stable() -> None:
    # the analyser reads flags by position on its hot path
    assert Flag._fields[:9] == (
        "rule",
        "behavior",
        "polarity",
        "criterion",
        "severity",
        "turn",
        "start",
        "end",
        "text",
    )


def test_nan_times_are_missing(en: Analyzer) -> None:
    (turn,) = coerce_turns([{"speaker": "agent", "text": "hi", "start": float("nan"), "end": 2}])
    assert turn.start is None and turn.end == 2.0


def test_oversized_vocabulary_rebuilds_the_analyzer(monkeypatch: pytest.MonkeyPatch) -> None:
    first = get_analyzer("en")
    monkeypatch.setattr(analyzer_module, "MAX_VOCAB", 10)
    second = get_analyzer("en")
    assert second is not first and second.version == first.version
    monkeypatch.setattr(analyzer_module, "MAX_VOCAB", 10**9)
    assert get_analyzer("en") is second


def test_an_interaction_too_long_to_analyse_says_so() -> None:
    from qa.nlp.analyzer import MAX_CHARS, get_analyzer
    from qa.nlp.types import TooLongError

    turn = {"speaker": "agent", "text": "thank you " * 50_000}
    with pytest.raises(
        TooLongError, match=r"1,100,000 characters .* at most 1,000,000 \(3 turns\)"
    ):
        get_analyzer("en").analyze([turn, turn, dict(turn, text="ok " * 33_332)], "call")
    assert MAX_CHARS == 1_000_000
    # right at the limit it works
    ok = get_analyzer("en").analyze(
        [dict(turn, text="ok " * (MAX_CHARS // 3 - 4) + "thank you")], "call"
    )
    assert ok.flags and ok.flags[0].behavior == "gratitude"


def test_word_keys_are_shared_by_spellings_and_the_memo_stays_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Diacritic, tatweel and case variants of a word get one key, and the memo of
    keys by normalised form is emptied when full; keys stay right afterwards."""
    from qa.nlp import analyzer as analyzer_module
    from qa.nlp.analyzer import Analyzer, get_lexicon

    monkeypatch.setattr(analyzer_module, "KEY_MEMO", 5)
    ar = Analyzer(get_lexicon("ar"))
    en = Analyzer(get_lexicon("en"))
    memo = next(
        c.cell_contents for c in ar._key.__closure__ or () if isinstance(c.cell_contents, dict)
    )
    spellings = ["وآسف", "وَآسِفٌ", "وآســف", "وأسف"]
    assert len({ar.nlp.vocab[w].norm_ for w in spellings}) == 1
    words = [f"كلمة{i}" for i in range(20)]
    for w in words:
        ar.nlp.vocab[w]  # a new lexeme asks for its key
        assert len(memo) <= 5
    assert ar.nlp.vocab["وَآسِفَة"].norm_ == ar.nlp.vocab["آسفة"].norm_  # after emptying
    assert en.nlp.vocab["THANKS"].norm_ == en.nlp.vocab["thx"].norm_ == "thanks"


def test_a_lone_surrogate_is_a_turn_error(en: Analyzer) -> None:
    turns = [A("hello"), S("x"), C("ok \ud800 then")]
    with pytest.raises(
        TurnError, match=r"turn 2: text has an unpaired surrogate \(\\ud800\) at character 3"
    ):
        en.analyze(turns, "chat")
