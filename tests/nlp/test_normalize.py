"""String normalisation, its offset map, word keys and language detection."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.nlp.normalize import (
    INFLECTED,
    ArabicKeyer,
    detect_language,
    english_key,
    normalize_phrase,
    normalize_text,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("أإآٱ", "اااا"),
        ("مستشفى", "مستشفي"),
        ("مدرسة", "مدرسه"),
        ("مسؤول", "مسوول"),
        ("شيئ", "شيي"),
        ("شيء", "شي"),  # standalone hamza removed
        ("شُكْرًا", "شكرا"),  # tashkeel removed
        ("شكـــرا", "شكرا"),  # tatweel removed
        ("٠١٢٣٤٥٦٧٨٩", "0123456789"),
        ("۰۱۲۳۴۵۶۷۸۹", "0123456789"),
        ("I’m “fine”", 'I\'m "fine"'),
        ("ABC abc", "ABC abc"),  # case is folded per word, not here
    ],
)
def test_normalize_phrase(raw: str, expected: str) -> None:
    assert normalize_phrase(raw) == expected
    assert normalize_text(raw).text == expected


def test_identity_needs_no_map() -> None:
    nt = normalize_text("plain ascii text")
    assert nt.run_at == ()
    assert nt.span(6, 11) == (6, 11)


def test_offsets_map_back_over_deletions() -> None:
    original = "قال: آسِفٌ جــداً \u200fيا أخي"
    nt = normalize_text(original)
    assert nt.text == "قال: اسف جدا يا اخي"
    for word in ("اسف", "جدا", "يا", "اخي"):
        s = nt.text.index(word)
        start, end = nt.span(s, s + len(word))
        raw = original[start:end]
        assert normalize_phrase(raw) == word
    # diacritics on the last letter are inside the span, direction marks are not
    s = nt.text.index("اسف")
    assert original[slice(*nt.span(s, s + 3))] == "آسِفٌ"
    s = nt.text.index("يا")
    assert original[slice(*nt.span(s, s + 2))] == "يا"


@given(st.text(alphabet="اأبتثـًٌٍَُِّْءة \u200f.abc", max_size=40))
def test_offset_map_is_consistent(text: str) -> None:
    nt = normalize_text(text)
    for i in range(len(nt.text)):
        o = nt.original_start(i)
        assert normalize_phrase(text[o]) == nt.text[i]
    for i in range(len(nt.text)):
        for j in range(i + 1, min(len(nt.text), i + 4) + 1):
            start, end = nt.span(i, j)
            assert normalize_phrase(text[start:end]) == nt.text[i:j]


@pytest.mark.parametrize(
    ("word", "key"),
    [
        ("وبس", "بس"),  # conjunction + 2-letter stem
        ("لبس", "لبس"),  # preposition + 2-letter stem: a different word
        ("ولبس", "ولبس"),
        ("وبالطبع", "بالطبع"),
        ("فالطبع", "الطبع"),
        ("للمدير", "المدير"),  # ل + ال written لل
        ("بالمدير", "المدير"),
        ("مدير", "المدير"),  # indefinite form of a listed word
        ("فشكرا", "شكرا"),
        ("اسفين", "اسف" + INFLECTED),
        ("واسفه", "اسف" + INFLECTED),
        ("يمكنك", "يمكن" + INFLECTED),
        ("كما", "كما"),
        ("hello", "hello"),
    ],
)
def test_arabic_keyer(word: str, key: str) -> None:
    keyer = ArabicKeyer(["بس", "الطبع", "بالطبع", "اسف", "شكرا", "المدير", "يمكن", "ما"])
    assert keyer(word) == key


def test_unconditional_key_finds_ambiguous_lexicon_words() -> None:
    keyer = ArabicKeyer(["لا", "ولا", "اسف", "اسفين"])
    assert keyer("ولا") == "ولا"
    assert keyer.unconditional("ولا") == "لا"
    assert keyer.unconditional("اسفين") == "اسف" + INFLECTED


@pytest.mark.parametrize(
    ("word", "key"), [("Pls", "please"), ("THX", "thanks"), ("u", "you"), ("Sorry", "sorry")]
)
def test_english_key(word: str, key: str) -> None:
    assert english_key(word) == key


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("مرحبا، كيف يمكنني مساعدتك؟", "ar"),
        ("Hello, how can I help?", "en"),
        ("Order #123 آسف على التأخير", "ar"),
        ("Sorry أحمد, the order is late", "en"),
        ("12345", "en"),
    ],
)
def test_detect_language(text: str, lang: str) -> None:
    assert detect_language(text) == lang
