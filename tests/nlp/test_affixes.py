"""The tokenizer's faster affix functions give exactly spaCy's answers."""

from __future__ import annotations

import re

import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from spacy.attrs import NORM
from spacy.tokenizer import Tokenizer
from spacy.util import compile_infix_regex, compile_prefix_regex, compile_suffix_regex

from qa.nlp import affixes
from qa.nlp.analyzer import _EXTRA_INFIXES, _EXTRA_SUFFIXES, _blank

# Characters that exercise the rules: punctuation, quotes, digits, units, Arabic
# letters, marks and punctuation, direction marks, emoji, newline.
ALPHABET = (
    "abcdeghkmnrstzABGKMT0123456789.,!?:;'\"()[]{}-–—/\\%$#@&*+=<>~^_`|…‘’“”«»°²"
    "\n\u200f\u0640\u064e\u0651ابتثجحخدذرسشصضطظعغفقكلمنهوي،؛؟٪٫😀™"
)
CHUNKS = [
    "hello",
    "hello,",
    "(hello)",
    "can't",
    "U.S.",
    "5km",
    "3.5%",
    "$5",
    "...",
    "e-mail",
    "www.example.com",
    "http://x.y/z?a=1",
    "a@b.co",
    "10.0.0.1",
    "وَالحِسَابُ،",
    "أنا؟",
    "شكرا!مع",
    "\n",
    "\n\n",
    "x\n",
    ".\n",
]


def _span(m: re.Match[str] | None) -> tuple[int, int] | None:
    return None if m is None else (m.start(), m.end())


def _length(m: re.Match[str] | None) -> int:
    return 0 if m is None else m.end() - m.start()


class _Pair:
    """spaCy's compiled regexes and the fast functions, for the same rules."""

    def __init__(self, lang: str) -> None:
        nlp = spacy.blank(lang)
        prefixes = list(nlp.Defaults.prefixes or [])
        suffixes = list(nlp.Defaults.suffixes or []) + _EXTRA_SUFFIXES
        infixes = list(nlp.Defaults.infixes or []) + _EXTRA_INFIXES
        self.prefix = (compile_prefix_regex(prefixes).search, affixes.prefix_search(prefixes))
        self.suffix = (compile_suffix_regex(suffixes).search, affixes.suffix_search(suffixes))
        self.infix = (compile_infix_regex(infixes).finditer, affixes.infix_finditer(infixes))
        url = nlp.tokenizer.url_match
        self.url = (url, affixes.url_match(url))

    def check(self, text: str) -> None:
        slow, fast = self.prefix
        assert _span(fast(text)) == _span(slow(text))
        slow, fast = self.suffix
        assert _length(fast(text)) == _length(slow(text))  # spaCy only reads the length
        slow, fast = self.infix
        assert [_span(m) for m in fast(text)] == [_span(m) for m in slow(text)]
        slow, fast = self.url
        assert _span(fast(text)) == _span(slow(text))


PAIRS = {lang: _Pair(lang) for lang in ("en", "ar")}


@pytest.mark.parametrize("lang", ["en", "ar"])
@pytest.mark.parametrize("text", CHUNKS)
def test_known_chunks(lang: str, text: str) -> None:
    PAIRS[lang].check(text)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=ALPHABET, min_size=1, max_size=14))
def test_generated_chunks(text: str) -> None:
    PAIRS["en"].check(text)
    PAIRS["ar"].check(text)


def test_the_fast_paths_are_actually_used() -> None:
    """Without them the analyzer silently falls back to the slow regexes."""
    tok = _blank("en")[0].tokenizer
    assert tok.prefix_search.__qualname__.startswith("prefix_search")
    assert tok.suffix_search.__qualname__.startswith("suffix_search")
    # English: contractions are cut first, everything else goes to the fast path
    assert tok.infix_finditer.__qualname__.startswith("_with_splits")
    assert tok.infix_finditer.fallback.__qualname__.startswith("infix_finditer")
    assert _blank("ar")[0].tokenizer.infix_finditer.__qualname__.startswith("infix_finditer")
    assert tok.url_match.__qualname__.startswith("_plausible_url")
    assert tok.url_match.inner.__qualname__.startswith("url_match")


@pytest.mark.parametrize(
    ("lang", "text", "tokens"),
    [
        ("en", "thanks.bye", ["thanks", ".", "bye"]),
        ("en", "sorry.let me", ["sorry", ".", "let", "me"]),
        ("ar", "شكرا.مع السلامة", ["شكرا", ".", "مع", "السلامة"]),
        ("en", "acme.com", ["acme.com"]),
        ("en", "www.acme.store/help", ["www.acme.store/help"]),
        ("en", "https://acme.example/x?y=1", ["https://acme.example/x?y=1"]),
        ("en", "me@acme.co", ["me@acme.co"]),
        ("en", "e.g. 3.5", ["e.g", ".", "3.5"]),
        ("en", "ok.no problem", ["ok", ".", "no", "problem"]),  # "no" is also Norway
        ("en", "sorry.it is", ["sorry", ".", "it", "is"]),
        ("en", "shop.acme.co.uk", ["shop.acme.co.uk"]),
    ],
)
def test_a_full_stop_without_a_space_splits_words_not_web_addresses(
    lang: str, text: str, tokens: list[str]
) -> None:
    """spaCy's URL pattern takes any word as a domain, so "thanks.bye" was one token."""
    assert [t.text for t in _blank(lang)[0].make_doc(text)] == tokens


def test_pieces_that_cannot_be_enumerated_are_always_tried() -> None:
    # \w cannot be enumerated: that piece must still be able to match anywhere
    pieces = [r"\w+x", r"\."]
    search = affixes.suffix_search(pieces)
    assert _length(search("abx")) == 3
    assert _length(search("ab.")) == 1
    assert search("ab") is None
    # a piece with a top-level "|" is not anchored by the appended "$"
    loose = affixes.suffix_search([r"q|z"])
    assert _span(loose("aqb")) == _span(compile_suffix_regex([r"q|z"]).search("aqb"))
    # an unanchored prefix branch makes the prefix function fall back to search
    unanchored = [r"a|b"]
    assert _span(affixes.prefix_search(unanchored)("xb")) == (1, 2)


def _stock(lang: str) -> Tokenizer:
    """The tokenizer as configured before the fast paths: spaCy's compiled regexes
    and every special case without affix characters (norms dropped for Arabic)."""
    nlp = spacy.blank(lang)
    tok = nlp.tokenizer
    tok.infix_finditer = compile_infix_regex(list(nlp.Defaults.infixes) + _EXTRA_INFIXES).finditer
    tok.suffix_search = compile_suffix_regex(list(nlp.Defaults.suffixes) + _EXTRA_SUFFIXES).search
    rules = {
        orth: subs
        for orth, subs in tok.rules.items()
        if not (
            " " in orth or tok.find_prefix(orth) or tok.find_suffix(orth) or tok.find_infix(orth)
        )
    }
    if lang == "ar":
        rules = {
            o: [{k: v for k, v in s.items() if k != NORM} for s in subs]
            for o, subs in rules.items()
        }
    tok.rules = rules
    return tok


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_tokens_match_the_stock_configured_tokenizer(lang: str) -> None:
    """Same tokens and offsets (norms: see test_contraction_norms_are_spacys)."""
    ours = _blank(lang)[0].tokenizer
    stock = _stock(lang)
    text = (
        "Hi, I'm Sarah (from billing)! I can't... e-mail me at a@b.co or www.x.com/a?b=1; "
        "5km, 3.5%, U.S. XD -_- ma'am Doin' it\n\nأنا آسف، إلخ... وأنا؟ (أنا) نا شكراً «حاضر» "
        "١٢٣ وَالحِسَابُ أيضـ"
    )
    for _ in range(2):  # the second pass is served from the chunk cache
        assert [(t.text, t.idx) for t in ours(text)] == [(t.text, t.idx) for t in stock(text)]


def test_every_contraction_is_cut_as_spacy_cuts_it() -> None:
    ours = _blank("en")[0].tokenizer
    stock = _stock("en")
    for orth in stock.rules:
        for text in (orth, f"({orth}),", f"oh {orth}!", orth.upper()):
            assert [(t.text, t.idx) for t in ours(text)] == [
                (t.text, t.idx) for t in stock(text)
            ], text


def test_contraction_norms_are_spacys() -> None:
    """The analyzer's norms of contraction pieces are the ones spaCy's special cases
    give, except where a piece is an everyday word ("did" in "didn't" is "did", so
    "you didn't" and "you did not" meet), where spaCy itself is ambiguous ("'d",
    "'s"), or where spaCy gives a piece no norm in one word only ("'ve" in
    "could've" is "have" here, as in every other contraction)."""
    from qa.nlp.analyzer import _WORD_PIECES, get_analyzer

    nlp = get_analyzer("en").nlp
    stock = _stock("en")
    checked = 0
    for orth in stock.rules:
        expected = stock(orth)
        if len(expected) < 2:
            continue
        for ours, theirs in zip(nlp.make_doc(orth), expected, strict=True):
            piece = theirs.text.lower().replace("’", "'")
            if piece in _WORD_PIECES or piece.endswith("d") or piece.endswith("s"):
                continue
            if theirs.norm_.replace("\u2019", "'") == piece:
                continue  # spaCy left this one un-normed ("Could've"); ours says "have"
            assert ours.norm_ == theirs.norm_.replace("’", "'"), orth
            checked += 1
    assert checked > 900
    assert [t.norm_ for t in nlp.make_doc("I can't, you didn't, we're, gonna, cant, im")] == [
        "i", "can", "not", ",", "you", "did", "not", ",", "we", "are", ",", "going", "to",
        ",", "can", "not", ",", "i", "am",
    ]  # fmt: skip


def test_a_contraction_does_not_stop_the_chunk_cache() -> None:
    """spaCy caches no new chunk in a Doc after a special case fired (spaCy #1250);
    contractions are not special cases here, so later words are tokenised once."""
    tok = _blank("en")[0].tokenizer
    seen: list[str] = []
    hook = tok.infix_finditer

    def counting(string: str) -> object:
        seen.append(string)
        return hook(string)

    tok.infix_finditer = counting
    for _ in range(3):
        assert [t.text for t in tok("I'm sure zebrafish-like axolotls can't wait")] == [
            "I", "'m", "sure", "zebrafish", "-", "like", "axolotls", "ca", "n't", "wait",
        ]  # fmt: skip
    assert seen.count("axolotls") == 1 and seen.count("zebrafish-like") == 1
