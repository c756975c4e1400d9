"""Text as agents really type it: doubled spaces, line breaks, missing spaces after a
full stop, hamza spellings, idioms that contain a negation word, runaway emoji.

Every case checks that each flag's offsets point at its text in the original.
"""

from __future__ import annotations

import time

import pytest

from qa.nlp.analyzer import LONG_CHUNK, Analyzer, get_analyzer
from qa.nlp.normalize import hamza_spellings


def flags(text: str, lang: str, speaker: str = "agent") -> list[tuple[str, str]]:
    found = get_analyzer(lang).flag_text(text, speaker)
    for f in found:
        assert text[f.start : f.end] == f.text
        assert f.text == f.text.strip() and f.text
    return [(f.behavior, f.text) for f in found]


@pytest.mark.parametrize(
    ("text", "lang", "speaker", "expected"),
    [
        ("Thank you  for holding", "en", "agent", ("hold_etiquette", "Thank you  for holding")),
        ("Thank you\r\nfor holding", "en", "agent", ("hold_etiquette", "Thank you\r\nfor holding")),
        (
            "Thank you\tfor\u3000holding",
            "en",
            "agent",
            ("hold_etiquette", "Thank you\tfor\u3000holding"),
        ),
        ("calm  down", "en", "agent", ("dismissive", "calm  down")),
        (
            "I want to speak  to a manager",
            "en",
            "customer",
            ("customer_escalation_request", "speak  to a manager"),
        ),
        ("أنا آسف على  التأخير", "ar", "agent", ("apology", "آسف على  التأخير")),
        ("شكراً\u00a0لانتظارك", "ar", "agent", ("hold_etiquette", "شكراً\u00a0لانتظارك")),
    ],
)
def test_whitespace_runs_inside_a_phrase(
    text: str, lang: str, speaker: str, expected: tuple[str, str]
) -> None:
    """A second space, a tab or a line break was a token of its own, and no phrase
    ran across it."""
    assert expected in flags(text, lang, speaker)


def test_a_paragraph_break_is_still_a_barrier() -> None:
    assert ("hold_etiquette", "Thank you\n\nfor holding") not in flags(
        "Thank you\n\nfor holding", "en"
    )
    assert flags("  Hello  there,   I'm so sorry   ", "en") == [
        ("greeting", "Hello"),
        ("apology", "I'm so sorry"),
    ]


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("thanks.bye", "en", [("gratitude", "thanks"), ("closing", "bye")]),
        ("sorry.let me check", "en", [("apology", "sorry"), ("ownership", "let me check")]),
        ("شكرا.مع السلامة", "ar", [("gratitude", "شكرا"), ("closing", "مع السلامة")]),
        ("visit acme.com or www.acme.store/help", "en", []),
    ],
)
def test_a_full_stop_without_a_space(text: str, lang: str, expected: list) -> None:
    assert flags(text, lang) == expected


@pytest.mark.parametrize(
    ("text", "lang", "behaviour"),
    [
        ("no worries i understand", "en", "empathy"),
        ("لا تقلق أنا آسف", "ar", "apology"),
        ("ما عليه أنا آسف على التأخير", "ar", "apology"),
    ],
)
def test_a_negation_word_inside_an_idiom_negates_nothing(
    text: str, lang: str, behaviour: str
) -> None:
    assert behaviour in {b for b, _ in flags(text, lang)}


@pytest.mark.parametrize(
    ("text", "lang"),
    [("I'm not sorry", "en"), ("There's nothing to be sorry about", "en"), ("مش آسف", "ar")],
)
def test_plain_negation_still_negates(text: str, lang: str) -> None:
    assert "apology" not in {b for b, _ in flags(text, lang)}


@pytest.mark.parametrize(
    "text",
    [
        "أريد التحدث مع المسؤول",
        "أريد التحدث مع المسئول",  # ئ for ؤ: became "المسيول", never met "المسوول"
        "أريد التحدث مع المسول",  # chat, no carrier
        "بدي المسئول",
    ],
)
def test_hamza_carriers_meet(text: str) -> None:
    assert "customer_escalation_request" in {b for b, _ in flags(text, "ar", "customer")}


@pytest.mark.parametrize(
    "text", ["هل هناك أي شيء آخر", "هل هناك أي شيئ آخر", "هل هناك أي شئ آخر", "هل هناك أي شي آخر"]
)
def test_hamza_on_the_last_letter(text: str) -> None:
    assert ("closing", text) in flags(text, "ar")


def test_hamza_spellings() -> None:
    assert hamza_spellings("المسؤول") == ["المسؤول", "المسئول", "المسول"]
    assert hamza_spellings("شيء") == ["شيء", "شيئ"]
    assert hamza_spellings("مساء الخير") == ["مساء الخير"]  # after alef: left alone
    assert hamza_spellings("بالطبع") == ["بالطبع"]


def test_runaway_emoji_cost_linear_time_and_keep_offsets() -> None:
    """50,000 emoji in one chunk took ~90 s (spaCy splits them off one by one)."""
    text = "🙏" * 50_000 + " I'm so sorry " + "x" * LONG_CHUNK
    started = time.perf_counter()
    assert flags(text, "en") == [("apology", "I'm so sorry")]
    assert time.perf_counter() - started < 10  # was ~90 s; linear now (~10 ms)


def test_long_chunks_are_blank_only_for_tokenising(en: Analyzer) -> None:
    short = "🙏" * (LONG_CHUNK - 1) + " sorry"
    assert [f.text for f in en.flag_text(short)] == ["sorry"]
    glued = "sorry" + "!" * LONG_CHUNK
    assert en.flag_text(glued) == []  # not a word any more: nothing inside it counts


def test_an_inch_mark_is_no_quote() -> None:
    """'55"' paired with the next quote and hid everything between as reported speech."""
    text = 'The 55" TV is out of stock, calm down, check the "FAQ" page.'
    assert flags(text, "en") == [("dismissive", "calm down")]
    assert flags('It is 5" wide, and he said "calm down" to me', "en") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hi-speed internet", []),  # the greeting rule's not_within: "hi-speed"
        ("a no-reply address", []),
        ("Hi - how are you?", [("greeting", "Hi")]),
        ("Sorry-my mistake", [("apology", "Sorry")]),  # a chat dash, not a compound
        ("Thanks-bye", [("gratitude", "Thanks"), ("closing", "bye")]),
    ],
)
def test_hyphens(text: str, expected: list) -> None:
    assert flags(text, "en") == expected


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("I'm sorry.  Thanks", "en", [("apology", "I'm sorry"), ("gratitude", "Thanks")]),
        ("Have a great day!\r\nBye", "en", [("closing", "Have a great day"), ("closing", "Bye")]),
        ("Dear Sarah,\r\nThanks", "en", [("greeting", "Dear Sarah"), ("gratitude", "Thanks")]),
        ("آسف.  شكرا لك", "ar", [("apology", "آسف"), ("gratitude", "شكرا لك")]),
        # the full stop still ends a negation's reach
        ("Not yet.  Sorry about that.", "en", [("apology", "Sorry about that")]),
        # padding: a long whitespace run is no long word
        (
            "I'm sorry" + " " * 250 + "Thanks",
            "en",
            [("apology", "I'm sorry"), ("gratitude", "Thanks")],
        ),
    ],
)
def test_whitespace_runs_after_punctuation(text: str, lang: str, expected: list) -> None:
    """The run's stand-in stayed on "sorry." and made one token of it."""
    assert flags(text, lang) == expected


def test_a_short_word_keeps_its_hamza() -> None:
    """Without its carrier "خطؤك" (your mistake) is "خطك" (your line)."""
    assert "خطك" not in " ".join(hamza_spellings("هذا خطؤك"))
    assert flags("هذا خطك الجديد يا فندم", "ar") == [("courtesy", "يا فندم")]
    assert ("blame", "هذا خطؤك") in flags("هذا خطؤك", "ar")


def test_a_negation_word_ending_a_phrase_still_negates_what_follows() -> None:
    assert "blame" not in {b for b, _ in flags("أعتذر، بس مش غلطتك", "ar")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("He told me to ‘calm down’ yesterday, so sorry", [("apology", "so sorry")]),
        ("‘I don’t care’ is what he said", []),  # ’ inside "don’t" is no closing quote
        ("I don’t care", [("rude", "I don’t care")]),
        ("It was ‘whatever’ to them. Calm down.", [("dismissive", "Calm down")]),
    ],
)
def test_curly_single_quotes_are_reported_speech(text: str, expected: list) -> None:
    assert flags(text, "en") == expected


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("كل ما صار بسببك", "ar", [("blame", "بسببك")]),  # "ما" here is "what"
        ("لا بد أن أعتذر منك", "ar", [("apology", "أعتذر منك")]),
        ("ما شاء الله، آسف على التأخير", "ar", [("apology", "آسف على التأخير")]),
        ("never mind sorry about that", "en", [("apology", "sorry about that")]),
        ("no doubt I am sorry", "en", [("apology", "I am sorry")]),
        # real negations still negate
        ("مش آسف", "ar", []),
        ("I am not sorry", "en", []),
    ],
)
def test_pseudo_negations_negate_nothing(text: str, lang: str, expected: list) -> None:
    """NegEx's pseudo-negations: phrases that contain a cue and deny nothing."""
    assert flags(text, lang) == expected
