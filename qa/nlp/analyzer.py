"""Conversation-aware phrase flagging with spaCy blank pipelines.

How a transcript is analysed (one spaCy call per transcript, not per turn):

1. The agent and customer turns are joined with a blank-line separator,
   tokenised ONCE by the language's blank spaCy tokenizer (cache raised from
   10,000 to a million chunks) and matched ONCE. The separator becomes a
   whitespace token that no pattern contains, so nothing matches across turns and
   negation windows stop there. System turns are skipped.
2. Normalisation happens at the word level, through spaCy's lexeme ``NORM``
   getter: the same translation table as :func:`~qa.nlp.normalize.normalize_text`
   (tashkeel, tatweel, alef/hamza/ya/taa-marbuta forms, digits, apostrophes),
   then lower case, chat spellings and Arabic clitic/suffix keys. spaCy computes a
   lexeme's attributes once per distinct word, so this work is cached, and
   because tokens are substrings of the original text the offset map is exact by
   construction: a flag's ``start``/``end`` are the first and last matched
   token's offsets in the turn as written. (The only string-level edit is a
   length-preserving replacement of no-break/zero-width spaces by spaces, so that
   they separate words.)
3. ONE ``PhraseMatcher(attr="NORM")`` holds every phrase of every rule; token
   patterns (self-introduction with a name) go to a ``Matcher`` that only looks at
   the few tokens after a literal anchor found by the PhraseMatcher (the Matcher
   is ~200x slower per token). Phrase variants (contractions, ambiguous clitic
   forms, inflected forms) are expanded when the lexicon is compiled.
4. Matches are kept only where they make sense: use/avoid rules on agent turns,
   ``cue`` rules on customer turns; a match strictly inside a longer match is
   dropped unless both are ``use`` behaviours ("thank you" inside "thank you for
   holding" is still gratitude, but "يمكن" inside "لا يمكن" is not uncertainty);
   overlapping matches of one behaviour count once (the longest); matches inside
   double quotes or guillemets are reported speech and are dropped; ``negatable``
   rules are dropped when a negation cue precedes them within the window without
   intervening punctuation ("I'm not sorry", "لست آسفا").
5. Spans cover whole tokens: an attached clitic or suffix is inside the span
   ("وآسفين" is reported whole, as are diacritics and tatweel), surrounding
   punctuation and invisible direction marks are not.

One :class:`Analyzer` per (language, lexicon version) is built and cached by
:func:`get_analyzer`; building compiles the lexicon (under a second), analysing is
cheap.
"""

from __future__ import annotations

import itertools
import math
import re
import threading
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate, compress, repeat
from operator import add, itemgetter
from pathlib import Path
from typing import Any

import spacy
from spacy.attrs import IDS, IDX, IS_ALPHA, IS_PUNCT, IS_SPACE, NORM, ORTH
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc
from spacy.util import compile_prefix_regex

from qa.nlp import affixes
from qa.nlp.lexicon import (
    PATTERN_KEYS,
    Lexicon,
    LexiconError,
    Rule,
    load_lexicon,
    source_signature,
)
from qa.nlp.normalize import (
    ENGLISH_ALTERNATIVES,
    FORMAT_CHARS,
    INFLECTED,
    ArabicKeyer,
    english_key,
    hamza_spellings,
    normalize_phrase,
    unpaired_surrogate,
)
from qa.nlp.taxonomy import (
    CUSTOMER_FRUSTRATION,
    MISSING_AGENT_REPLY,
    MISSING_CLOSING,
    MISSING_EMPATHY_AFTER_FRUSTRATION,
    MISSING_GREETING,
    MISSING_SELF_INTRODUCTION,
)
from qa.nlp.types import (
    MAX_CHARS,
    Analysis,
    CompactAnalysis,
    CompactFinding,
    CompactFlag,
    EvidenceSpan,
    Finding,
    Flag,
    TooLongError,
    Turn,
    TurnError,
    check_channel,
    coerce_turns,
)

#: spaCy's default caches 10,000 chunks, which halves throughput on varied text.
TOKENIZER_CACHE_SIZE = 1_000_000
#: Rebuild a cached analyzer once its vocabulary holds this many words.
MAX_VOCAB = 2_000_000
#: Word keys remembered by normalised form before the memo starts afresh.
KEY_MEMO = 100_000
#: Turns are joined with this; it becomes a whitespace token no pattern contains.
SEPARATOR = "\n\n"
#: Only the last words of a phrase get inflected alternatives (keeps variants small).
INFLECT_LAST_WORDS = 3
MAX_VARIANTS_PER_PHRASE = 512
#: Opening/closing turns inspected for greeting, introduction and closing findings.
OPENING_TURNS = 2
CLOSING_TURNS = 2
#: Agent turns after a frustrated customer turn that must show empathy or apology.
EMPATHY_TURNS = 2

#: Reported speech. A straight double quote right after a digit is an inch mark
#: ('the 55" TV'), which would otherwise pair with the next quote and hide
#: everything between.
#: Curly single quotes count too ("he told me to ‘calm down’"): the closing one
#: is the first ’ not followed by a letter, since ’ is also the apostrophe of
#: "don’t". (Straight single quotes are apostrophes far too often.)
_QUOTED_RE = re.compile(r'(?<![0-9])["“”„‟«»][^"“”„‟«»\n]{1,400}["“”„‟«»]')
_SINGLE_QUOTED_RE = re.compile(r"‘[^‘\n]{1,400}?’(?![^\W\d_])")
#: Word-separating spaces spaCy would otherwise keep inside a token or as a token,
#: and whitespace other than " " and the line break (tabs, other Unicode spaces).
_SPACE_LIKE_RE = re.compile(
    "[\u00a0\u2007\u202f\u200b\t\r\x0b\x0c\x1c-\x1f\x85\u1680\u2000-\u200a\u2028\u2029\u205f\u3000]"
)
_SPACE_TABLE = {0x00A0: 0x20, 0x2007: 0x20, 0x202F: 0x20, 0x200B: 0x20}
#: A run of whitespace between words that is more than one space.
_SPACE_RUN_RE = re.compile(r"\s{2,}|[^\S ]")
#: Longer runs without a space are not words ("🙏" x 5,000, a base64 blob, a
#: tracking URL): spaCy splits emoji off one at a time, which is quadratic in
#: the run's length (5,000 emoji took 1.2 s, 50,000 some 90 s). They are
#: blanked for tokenising, so a hostile line costs linear time.
LONG_CHUNK = 200
_LONG_CHUNK_RE = re.compile(rf"\S{{{LONG_CHUNK},}}")
#: Stands in for all but the last character of such a run: spaCy keeps it on the
#: word before (NORM drops it; it is a format mark, so spans never include it).
_RUN_FILL = "\u200e"
#: Arabic punctuation is split off words, also when glued to the next word; so is a
#: full stop between two words when chat leaves out the space ("thanks.bye").
_EXTRA_INFIXES = [
    r"[؟،؛]",
    r"(?<=[\u0620-\u064a])[.!?,:;](?=[\u0620-\u064a])",
    r"(?<=[A-Za-z]{2})\.(?=[A-Za-z]{2})",
]
#: Top-level domains a bare "name.tld" must end in to stay one token as a web
#: address (spaCy's URL pattern takes any word as a domain: "thanks.bye").
#: (Not the domains that are everyday words: "sorry.it", "ok.no", "thanks.me".)
_TLD_LIST = """com net org edu gov mil int info biz io co ai app uk ca au nz ie de fr es nl
ch se dk fi pl pt ru tr pk sg ph jp cn kr sa ae eg jo kw qa bh om lb ma dz tn iq sy ye
ly sd ps"""
_TLDS = frozenset(_TLD_LIST.split())
#: ... and after a diacritic, tatweel or direction mark ("وسهلاً." -> "وسهلاً" ".").
_EXTRA_SUFFIXES = [
    r"(?<=[\u0600-\u06ff\u200c-\u200f\u061c\u202a-\u202e\u2066-\u2069])[.,:;!?؟،؛]",
    # the stand-in for a whitespace run (_RUN_FILL) after punctuation comes off
    # first, so the punctuation is split as usual ("sorry.  Thanks")
    r"(?<=[^\w\s\u200e])\u200e+",
]


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: Rule
    use: bool
    cue: bool
    negatable: bool
    behavior: str
    #: The Flag fields that come from the rule: rule, behavior, polarity,
    #: criterion, severity, suggestion, coaching tip (unpacked around the location)
    fields: tuple[str, str, str, str | None, str, str | None, str | None]
    #: whole-interaction findings look at this rule's flags (see _findings)
    watched: bool


def _blank(
    lang: str, pattern_keys: Iterable[str] = PATTERN_KEYS
) -> tuple[spacy.language.Language, dict[str, str]]:
    nlp = spacy.blank(lang)
    tok = nlp.tokenizer
    tok.max_cache_size = TOKENIZER_CACHE_SIZE
    # Same rules as spaCy's compiled regexes, but only the pieces that can match
    # the chunk's first/last/any character are tried (see qa.nlp.affixes).
    tok.infix_finditer = affixes.infix_finditer(list(nlp.Defaults.infixes or []) + _EXTRA_INFIXES)
    tok.suffix_search = affixes.suffix_search(list(nlp.Defaults.suffixes or []) + _EXTRA_SUFFIXES)
    prefixes = list(nlp.Defaults.prefixes or [])
    default_prefix = getattr(tok.prefix_search, "__self__", None)
    if getattr(default_prefix, "pattern", None) == compile_prefix_regex(prefixes).pattern:
        tok.prefix_search = affixes.prefix_search(prefixes)
    tok.url_match = _plausible_url(affixes.url_match(tok.url_match))
    rules = dict(tok.rules or {})
    # Special cases that contain affix characters (emoticons, "a.m.", "u.", "'s")
    # are applied by a second matcher pass over every doc (~25% of tokenising
    # time). They never help phrase matching ("thank u." should end in "u" + "."),
    # so they are dropped; whole-word contractions (I'm, can't, dont) stay.
    rules = {
        orth: subs
        for orth, subs in rules.items()
        if not (
            " " in orth or tok.find_prefix(orth) or tok.find_suffix(orth) or tok.find_infix(orth)
        )
    }
    if lang == "ar":
        # spaCy's Arabic exceptions expand classical abbreviations ("أنا" -> "أنبأنا",
        # "نا" -> "أخبرنا"): wrong for modern speech, so keep the splits, drop the norms.
        rules = {
            orth: [{k: v for k, v in sub.items() if k != NORM} for sub in subs]
            for orth, subs in rules.items()
        }
    # What is left are whole-word exceptions: contractions split into pieces
    # ("I'm" -> "I" "'m", "cant" -> "ca" "nt") with norms ("am", "can", "not"), and
    # a few one-piece norms ("ma'am" -> "madam"). spaCy applies them as special
    # cases, but once one has fired in a Doc it caches no new chunk for the rest of
    # that Doc (spaCy #1250), and most transcripts have a contraction in their first
    # turn: a third of the words were re-tokenised on every sight, ~13% of the
    # English analysis time. So the same splits are made by the infix hook (whose
    # results are cached like any other) and the norms go to the lexemes.
    splits, norms = _exception_tables(rules)
    tok.rules = {}
    tok.infix_finditer = _with_splits(splits, tok.infix_finditer)
    # A new word costs one call per lexeme attribute getter (23 by default, plus
    # string-store entries for shape, prefix, suffix, lower...). Only NORM, the
    # punctuation and space flags (phrases may not contain punctuation; both end
    # a negation window) and the attributes the lexicon's token patterns test are
    # ever read, so the rest are not computed: unseen words (names, numbers,
    # diacritised spellings) are common in real transcripts and each getter is a
    # Python call per new word (LIKE_NUM alone cost ~0.7% of all analysis time).
    keep = {IDS[k] for k in pattern_keys if k in IDS} | {NORM, IS_PUNCT, IS_SPACE}
    getters = nlp.vocab.lex_attr_getters
    nlp.vocab.lex_attr_getters = {a: f for a, f in getters.items() if a in keep}
    return nlp, norms


def _plausible_url(match: Any) -> Any:
    """spaCy's URL test, passed only by what looks like a web address: a scheme,
    "www.", an "@", or a known top-level domain. Otherwise "thanks.bye" and
    "شكرا.مع" (a full stop with no space after it, common in chat) would be one
    token each, and no phrase could be found in them."""
    if match is None:
        return None

    def url(string: str) -> Any:
        found = match(string)
        if found is None:
            return None
        text = found.group().lower()
        if "://" in text or text.startswith("www.") or "@" in text:
            return found
        host = re.split(r"[/?#:]", text, maxsplit=1)[0].rstrip(".")
        return found if host.rpartition(".")[2] in _TLDS else None

    url.inner = match  # type: ignore[attr-defined]
    return url


#: Pieces of spaCy's contraction exceptions that are also everyday words: their
#: in-contraction norms ("did" in "didn't" -> "do", "am" in "9am" -> "a.m.") must
#: not become the word's norm everywhere.
_WORD_PIECES = frozenset({"a", "am", "pm", "did", "had", "d"})


def _exception_tables(
    rules: dict[str, list[dict[Any, Any]]],
) -> tuple[dict[str, tuple[int, ...]], dict[str, str]]:
    """spaCy's tokenizer exceptions as (chunk -> split offsets, piece -> norm)."""
    splits: dict[str, tuple[int, ...]] = {}
    seen: dict[str, set[str]] = defaultdict(set)
    for orth, subs in rules.items():
        pieces = [str(sub.get(ORTH, sub.get("ORTH", ""))) for sub in subs]
        if len(pieces) > 1 and "".join(pieces) == orth:
            splits[orth] = tuple(accumulate(len(piece) for piece in pieces[:-1]))
        for sub, piece in zip(subs, pieces, strict=True):
            norm = sub.get(NORM, sub.get("NORM"))
            if isinstance(norm, str) and norm.strip():
                seen[normalize_phrase(piece).lower()].add(norm.lower())
    norms = {
        piece: next(iter(found))
        for piece, found in seen.items()
        if len(found) == 1 and piece not in _WORD_PIECES and next(iter(found)) != piece
    }
    return splits, norms


def _is_alpha(orth: str) -> bool:
    """A word of letters once the marks matching ignores are gone (see Analyzer)."""
    return normalize_phrase(orth).isalpha()


class _Split:
    """A zero-width infix match: where spaCy cuts a chunk (``start() == end()``)."""

    __slots__ = ("at",)

    def __init__(self, at: int) -> None:
        self.at = at

    def start(self) -> int:
        return self.at

    def end(self) -> int:
        return self.at


def _with_splits(splits: dict[str, tuple[int, ...]], finditer: Any) -> Any:
    """The infix hook, cutting whole-word exceptions where spaCy's special cases would."""
    if not splits:
        return finditer
    cuts = {orth: [_Split(at) for at in offsets] for orth, offsets in splits.items()}
    get = cuts.get

    def infixes(string: str) -> Any:
        found = get(string)
        return found if found is not None else finditer(string)

    infixes.fallback = finditer  # type: ignore[attr-defined]
    return infixes


class Analyzer:
    """Flags lexicon behaviours in transcripts of one language."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self.lang = lexicon.lang
        self.version = lexicon.version
        used = {key for rule in lexicon.rules for p in rule.patterns for tok in p for key in tok}
        self.nlp, exception_norms = _blank(self.lang, used)
        self.nlp.max_length = MAX_CHARS
        vocab = self.nlp.vocab
        self._rules: dict[int, _Compiled] = {}

        # 1. The lexicon vocabulary (normalised, lower-cased token texts).
        phrase_docs: dict[tuple[str, str, int], list[list[Any]]] = {}
        words: set[str] = set()
        for rule in lexicon.rules:
            for field, phrases in (("phrase", rule.phrases), ("not_within", rule.not_within)):
                for i, phrase in enumerate(phrases):
                    spellings: list[list[Any]] = []
                    for spelling in hamza_spellings(phrase) if self.lang == "ar" else (phrase,):
                        doc = self.nlp.make_doc(normalize_phrase(spelling))
                        toks = [t for t in doc if not t.is_space]
                        if not toks:
                            self._fail(rule, "lexicon.bad_phrase", f"{field} {i} has no words")
                        if field == "phrase" and any(t.is_punct for t in toks):
                            self._fail(
                                rule,
                                "lexicon.bad_phrase",
                                f"{field} {i} ({phrase!r}) contains punctuation; "
                                "list the parts as separate phrases",
                            )
                        spellings.append(toks)
                        words.update(t.text.lower() for t in toks)
                    phrase_docs[(rule.id, field, i)] = spellings
            for pattern in rule.patterns:
                for tok in pattern:
                    words.update(_pattern_literals(tok.get("NORM")))
        cues = [normalize_phrase(c).lower() for c in lexicon.negation.cues]
        words.update(cues)
        pseudo = [
            [t for t in self.nlp.make_doc(normalize_phrase(p)) if not t.is_space]
            for p in lexicon.negation.pseudo
        ]
        for toks in pseudo:
            words.update(t.text.lower() for t in toks)

        # 2. Key every word through the lexeme NORM getter (computed once per word).
        keyer: ArabicKeyer | None = ArabicKeyer(words) if self.lang == "ar" else None
        base_key = keyer if keyer is not None else english_key

        # A word's key depends only on its normalised lower-case form, and spaCy
        # asks once per distinct spelling: diacritised, tatweel and case variants
        # of one word ("الفاتوُرة", "الفاتورة") share a key, so the clitic search
        # runs once per form. Emptied past KEY_MEMO words (~10 MB), so that a
        # long-running service does not keep one entry per word it ever saw.
        key_of: dict[str, str] = {}

        def key(orth: str) -> str:
            word = normalize_phrase(orth).lower()
            found = key_of.get(word)
            if found is None:
                if len(key_of) >= KEY_MEMO:
                    key_of.clear()
                found = key_of[word] = exception_norms.get(word) or base_key(word)
            return found

        self._key = key
        vocab.lex_attr_getters[NORM] = key
        # Token patterns test IS_ALPHA ("معك" + a word that looks like a name), and
        # str.isalpha() is false for a word carrying tashkeel (combining marks) or
        # a joiner: judged on the normalised word, "معك مُحمّد" introduces the
        # agent as "معك محمد" does. (Computed only if some pattern tests it.)
        alpha = "IS_ALPHA" in used
        if alpha:
            vocab.lex_attr_getters[IS_ALPHA] = _is_alpha
        for lex in list(vocab):
            lex.norm_ = key(lex.orth_)
            if alpha:
                lex.is_alpha = _is_alpha(lex.orth_)

        # 3. Alternatives: spellings that key differently but must meet.
        reverse: dict[str, set[str]] = defaultdict(set)
        if keyer is not None:
            for w in words:
                u = keyer.unconditional(w)
                if u is not None and u != w:
                    reverse[u].add(w)

        def alternatives(k: str, inflect: bool) -> list[str]:
            if keyer is None:
                return [k, *ENGLISH_ALTERNATIVES.get(k, ())]
            alts = [k, *sorted(reverse.get(k, ()))]
            if inflect:
                alts.append(k + INFLECTED)
                alts.extend(sorted(reverse.get(k + INFLECTED, ())))
            return list(dict.fromkeys(alts))

        def variant_docs(rule: Rule, field: str, count: int) -> list[Doc]:
            """Pattern docs for a rule's phrases (or not_within phrases): every
            spelling, with the alternative keys of each word."""
            docs: list[Doc] = []
            seen: set[tuple[str, ...]] = set()
            for toks in (sp for i in range(count) for sp in phrase_docs[(rule.id, field, i)]):
                # token norms read the (now re-keyed) lexemes; exception norms
                # such as "'m" -> "am" are kept from tokenisation
                keys = [t.norm_ for t in toks]
                if tuple(keys) in seen:
                    continue  # two spellings that normalise alike
                seen.add(tuple(keys))
                n = len(keys)
                inflect = keyer is not None and rule.inflect
                options = [
                    alternatives(k, inflect and j >= n - INFLECT_LAST_WORDS)
                    for j, k in enumerate(keys)
                ]
                total = 1
                for o in options:
                    total *= len(o)
                if total > MAX_VARIANTS_PER_PHRASE:
                    options = [o[:1] if j < n - 1 else o for j, o in enumerate(options)]
                for variant in itertools.product(*options):
                    d = Doc(vocab, words=list(variant))
                    for t, want in zip(d, variant, strict=True):
                        if t.norm_ != want:
                            t.norm_ = want
                    docs.append(d)
            return docs

        # 4. One PhraseMatcher for all phrases; anchored Matcher for token patterns.
        #: not_within match id -> the rule whose matches inside it do not count
        self._not_within: dict[int, str] = {}
        self.phrase_matcher = PhraseMatcher(vocab, attr="NORM")
        self.matcher: Matcher | None = None  # patterns without a literal first token
        self.anchored_matcher: Matcher | None = None
        # anchor match id -> (pattern length, [(offset, allowed NORM hashes)])
        self._anchors: dict[int, tuple[int, list[tuple[int, frozenset[int]]]]] = {}
        for rule in lexicon.rules:
            self._rules[vocab.strings.add(rule.id)] = _Compiled(
                rule,
                rule.polarity == "use",
                rule.polarity == "cue",
                rule.negatable,
                rule.behavior,
                (
                    rule.id,
                    rule.behavior,
                    rule.polarity,
                    rule.criterion,
                    rule.severity,
                    rule.suggestion,
                    rule.coaching_tip,
                ),
                rule.behavior in _WATCHED,
            )
            docs = variant_docs(rule, "phrase", len(rule.phrases))
            if docs:
                self.phrase_matcher.add(rule.id, docs)
            if rule.not_within:
                # found by the same PhraseMatcher pass; a match of the rule inside
                # one of them is dropped (_post)
                not_key = f"\x00not_within:{rule.id}"
                self.phrase_matcher.add(
                    not_key, variant_docs(rule, "not_within", len(rule.not_within))
                )
                self._not_within[vocab.strings.add(not_key)] = rule.id
            for k, pattern in enumerate(rule.patterns):
                keyed = [_key_pattern_token(t, key) for t in pattern]
                anchor = _anchor(keyed)
                try:
                    if anchor:
                        if self.anchored_matcher is None:
                            self.anchored_matcher = Matcher(vocab, validate=True)
                        self.anchored_matcher.add(rule.id, [keyed])
                        anchor_key = f"\x00anchor:{rule.id}:{k}"
                        self.phrase_matcher.add(
                            anchor_key, [Doc(vocab, words=list(w)) for w in anchor]
                        )
                        self._anchors[vocab.strings.add(anchor_key)] = (
                            len(keyed),
                            _literal_checks(keyed, len(anchor[0]), vocab),
                        )
                    else:
                        if self.matcher is None:
                            self.matcher = Matcher(vocab, validate=True)
                        self.matcher.add(rule.id, [keyed])
                except (ValueError, KeyError, TypeError) as exc:
                    self._fail(rule, "lexicon.bad_pattern", f"invalid token pattern {k}: {exc}")

        # Negation cues are found by the same PhraseMatcher pass (in C) instead of
        # inspecting the tokens before every negatable match.
        self._neg_key = vocab.strings.add("\x00negation")
        cue_docs = [Doc(vocab, words=[key(c)]) for c in cues if key(c)]
        for d in cue_docs:
            d[0].norm_ = d[0].text
        self.phrase_matcher.add("\x00negation", cue_docs)
        # pseudo-negations: found by the same pass; a cue inside one negates nothing
        self._pseudo_key = vocab.strings.add("\x00pseudo")
        pseudo_docs = [Doc(vocab, words=[key(t.text) for t in toks]) for toks in pseudo if toks]
        for d in pseudo_docs:
            for t in d:
                t.norm_ = t.text
        if pseudo_docs:
            self.phrase_matcher.add("\x00pseudo", pseudo_docs)
        self._window = lexicon.negation.window
        self._hold_rules = frozenset(r.id for r in lexicon.rules if r.hold_announcement)
        self._lock = threading.Lock()

    def _fail(self, rule: Rule, code: str, message: str) -> None:
        file, line = self.lexicon.origins.get(rule.id, (None, None))
        raise LexiconError(code, message, file=file, line=line, rule_id=rule.id)

    # ------------------------------------------------------------------ analysis

    def analyze(self, turns: Iterable[Any], channel: str, lang: str | None = None) -> Analysis:
        """Flags, findings and hold announcements for one interaction.

        ``turns`` are :class:`Turn`, ``(speaker, text, start, end)`` tuples,
        mappings or objects with ``speaker`` (agent, customer, system), ``text``
        and optional ``start``/``end`` seconds.
        """
        turn_list = self._turns(turns, channel, lang)
        flags = self._flags(turn_list)
        findings = _findings(turn_list, flags)
        return Analysis(
            self.lang,
            channel,
            self.version,
            tuple(flags),
            tuple(findings),
            self._holds(flags, 0, 5),  # Flag.rule, Flag.turn
        )

    def analyze_compact(
        self, turns: Iterable[Any], channel: str, lang: str | None = None
    ) -> CompactAnalysis:
        """:meth:`analyze` as plain tuples, for bulk runs that ship results between
        processes: flags as ``(rule, turn, start, end)``, evidence spans as tuples.

        Equal to ``bulk.compact(self.analyze(...))``, but only the flags that the
        whole-interaction findings read are built as :class:`Flag` objects (with
        their text); the rest go straight to 4-tuples, which is what a pool sends.
        """
        turn_list = self._turns(turns, channel, lang)
        located: list[CompactFlag] = []
        watched = self._flags(turn_list, located)
        return (
            tuple(located),
            compact_findings(_findings(turn_list, watched)),
            self._holds(located, 0, 1),
        )

    def _turns(self, turns: Iterable[Any], channel: str, lang: str | None) -> list[Turn]:
        """The checked turns of one interaction for this analyzer's language."""
        if lang is not None and lang != self.lang:
            raise ValueError(f"this analyzer is for {self.lang!r}, not {lang!r}")
        check_channel(channel)
        return coerce_turns(turns)

    def _holds(self, flags: Sequence[Any], rule: int, turn: int) -> tuple[int, ...]:
        """Turns with a hold announcement (flags' rule and turn at those indices)."""
        hold_rules = self._hold_rules
        if not hold_rules or not flags:
            return ()
        return tuple(sorted({f[turn] for f in flags if f[rule] in hold_rules}))

    def flag_text(self, text: str, speaker: str = "agent") -> list[Flag]:
        """Flags for a single piece of text spoken by ``speaker``."""
        return self._flags(coerce_turns([{"speaker": speaker, "text": text}]))

    def _flags(self, turns: Sequence[Turn], compact: list[CompactFlag] | None = None) -> list[Flag]:
        """Flags in turn order; with ``compact``, every flag is appended there as
        ``(rule, turn, start, end)`` and only watched ones are returned as Flags."""
        # Turn fields by index (t[0] speaker, t[1] text): the cheapest access.
        turn_of: Sequence[int]
        speakers = [t[0] for t in turns]
        texts = [t[1] for t in turns]
        if "system" not in speakers and all(texts):  # the usual case: no filtering
            turn_of = range(len(turns))
            customer = [s == "customer" for s in speakers]
        else:
            turn_of = [i for i, t in enumerate(turns) if t[1] and t[0] != "system"]
            texts = [turns[i][1] for i in turn_of]
            customer = [turns[i][0] == "customer" for i in turn_of]
        if not texts:
            return []
        joined = SEPARATOR.join(texts)
        if len(joined) > MAX_CHARS:
            raise TooLongError(
                f"{len(joined):,} characters of agent and customer text; one interaction "
                f"can have at most {MAX_CHARS:,} ({len(texts)} turns)"
            )
        if max(map(len, texts)) >= LONG_CHUNK and any(
            _LONG_CHUNK_RE.search(x) for x in texts if len(x) >= LONG_CHUNK
        ):
            texts = [_LONG_CHUNK_RE.sub(_blanked, x) if len(x) >= LONG_CHUNK else x for x in texts]
            joined = SEPARATOR.join(texts)
        if (
            "  " in joined
            or joined.count("\n") != SEPARATOR.count("\n") * (len(texts) - 1)
            or (
                "\t" in joined or "\r" in joined
                if joined.isascii()
                else _SPACE_LIKE_RE.search(joined)
            )
        ):
            # Two spaces, a tab or a line break inside a turn would each become a
            # whitespace token, and no phrase runs across a token ("thank you  for
            # holding"); a no-break or zero-width space would stay inside a token.
            # Same length, so offsets are unchanged.
            texts = [_even_spaces(x) for x in texts]
            joined = SEPARATOR.join(texts)
        # where each turn starts in the joined text
        bases = list(accumulate(map(add, map(len, texts), repeat(len(SEPARATOR))), initial=0))
        bases.pop()
        with self._lock:
            try:
                doc = self.nlp.make_doc(joined)
            except UnicodeEncodeError as exc:  # a lone surrogate (JSON "\ud800")
                raise _surrogate_error(texts, turn_of, exc) from None
            matches = self.phrase_matcher(doc)
            if not matches and self.matcher is None:
                return []
            # token -> char offset: one C call; read through a memoryview, which
            # makes Python ints only for the ~100 positions read, not all ~600
            idx = memoryview(doc.to_array(IDX))
            cands, negations, extra, outer = self._candidates(doc, matches, idx, bases, customer)
        if not cands:
            return []
        if outer:
            cands = _outside(cands, outer)
        return self._post(
            doc, cands, negations, extra, turns, texts, turn_of, bases, idx, joined, compact
        )

    def _candidates(
        self,
        doc: Doc,
        matches: list[tuple[int, int, int]],
        idx: memoryview,
        bases: list[int],
        customer: list[bool],
    ) -> tuple[list[_Cand], set[int], bool, list[tuple[int, int, str]]]:
        """Matches -> candidates on the right speaker's turns, plus negation cue positions.

        Token-pattern matches (after a literal anchor, or anywhere for patterns
        without one) join here; ``extra`` says whether any did, since they may
        repeat a phrase match of the same rule. The last item lists the rules'
        ``not_within`` matches as (start, end, rule id). A cue inside a
        pseudo-negation ("not only", "كل ما") is no negation cue.
        """
        rules = self._rules
        get = rules.get
        neg_key = self._neg_key
        anchors = self._anchors
        not_within = self._not_within
        pseudo_key = self._pseudo_key
        outer: list[tuple[int, int, str]] = []
        pseudo: list[tuple[int, int]] = []
        negations: set[int] = set()
        cands: list[_Cand] = []
        append = cands.append
        pattern_matches: list[tuple[int, int, int]] = []
        done: set[tuple[int, int]] = set()  # (anchor, start): one Matcher run each
        single = len(bases) == 1
        cust = customer[0]
        for match_id, s, e in matches:
            comp = get(match_id)
            if comp is None:
                if match_id == neg_key:
                    negations.add(s)
                elif match_id in not_within:
                    outer.append((s, e, not_within[match_id]))
                elif match_id == pseudo_key:
                    pseudo.append((s, e))
                elif match_id in anchors and (match_id, s) not in done:
                    # keyed by anchor too: two patterns whose anchors start on the
                    # same token each get their own slice and literal checks
                    done.add((match_id, s))
                    pattern_matches.extend(self._anchored(doc, anchors[match_id], s))
                continue
            if single:
                if comp.cue is cust:
                    append((s, e, comp.fields[0], 0, comp))
                continue
            k = bisect_right(bases, idx[s]) - 1
            if comp.cue is customer[k]:
                append((s, e, comp.fields[0], k, comp))
        if self.matcher is not None:
            pattern_matches.extend(self.matcher(doc))
        for match_id, s, e in pattern_matches:
            comp = rules[match_id]
            k = bisect_right(bases, idx[s]) - 1
            if comp.cue is customer[k]:
                append((s, e, comp.fields[0], k, comp))
        if pseudo and negations:
            negations = {n for n in negations if not any(s <= n < e for s, e in pseudo)}
        return cands, negations, bool(pattern_matches), outer

    def _anchored(
        self, doc: Doc, spec: tuple[int, list[tuple[int, frozenset[int]]]], s: int
    ) -> list[tuple[int, int, int]]:
        """Run the token-pattern Matcher only on the few tokens after an anchor."""
        length, checks = spec
        if s + length > len(doc):
            return []
        # cheap literal checks first; the Matcher call costs ~100x more
        for off, allowed in checks:
            if doc[s + off].norm not in allowed:
                return []
        matcher = self.anchored_matcher
        assert matcher is not None
        return [(m, s + a, s + b) for m, a, b in matcher(doc[s : s + length])]

    def _post(
        self,
        doc: Doc,
        cands: list[_Cand],
        negations: set[int],
        extra: bool,
        turns: Sequence[Turn],
        texts: list[str],
        turn_of: Sequence[int],
        bases: list[int],
        idx: memoryview,
        joined: str,
        compact: list[CompactFlag] | None,
    ) -> list[Flag]:
        """Candidates -> flags: overlaps, negation, quotes, offsets."""
        cands.sort()
        if extra:
            cands = [c for i, c in enumerate(cands) if i == 0 or c[:3] != cands[i - 1][:3]]
        cands = _resolve_overlaps(cands)
        cues = sorted(negations)
        window = self._window
        ntok, total = len(idx), len(joined)

        flags: list[Flag] = []
        add = flags.append
        make = tuple.__new__  # Flag is a NamedTuple: skip its Python-level __new__
        cur = -1
        base = t = 0
        text = original = ""
        plain = True
        spans: list[tuple[int, int]] | None = None
        for s, e, _rid, k, comp in cands:
            if cues and comp.negatable:
                # the nearest negation cue before the match, if within the window
                i = bisect_left(cues, s) - 1
                if (
                    i >= 0
                    and cues[i] >= s - window
                    and _unbroken(doc, cues[i] + 1, s)
                    and not _covered(cands, cues[i])
                ):
                    continue
            if k != cur:  # candidates are sorted, so each turn's come together
                cur = k
                base = bases[k]
                text = texts[k]
                t = turn_of[k]
                original = turns[t][1]
                plain = text.isascii()
                if plain and '"' not in text:
                    spans = None
                else:
                    spans = [(q.start(), q.end()) for q in _QUOTED_RE.finditer(text)] or None
                    if "‘" in text:  # rare: its own scan, not one more branch for every text
                        spans = (spans or []) + [
                            (q.start(), q.end()) for q in _SINGLE_QUOTED_RE.finditer(text)
                        ]
            start = idx[s] - base
            # a token never ends in a space; only a single " " can follow it
            ce = idx[e] if e < ntok else total  # a match may end the text
            end = ce - base
            if joined[ce - 1] == " ":
                end -= 1
            if not plain:
                while start < end and text[start] in FORMAT_CHARS:
                    start += 1
                while end > start and text[end - 1] in FORMAT_CHARS:
                    end -= 1
            if spans is not None and _inside(spans, start, end):
                continue
            if compact is not None:
                compact.append((comp.fields[0], t, start, end))
                if not comp.watched:
                    continue
            rule, behavior, polarity, criterion, severity, suggestion, tip = comp.fields
            add(
                make(
                    Flag,
                    (
                        rule,
                        behavior,
                        polarity,
                        criterion,
                        severity,
                        t,
                        start,
                        end,
                        original[start:end],
                        suggestion,
                        tip,
                    ),
                )
            )
        return flags


#: (token start, token end, rule id, piece index, compiled rule); sorts naturally.
_Cand = tuple[int, int, str, int, _Compiled]


def _collapse(run: re.Match[str]) -> str:
    found = run.group()
    if found.count("\n") > 1:
        return found  # a paragraph break stays a barrier, as between turns
    return _RUN_FILL * (len(found) - 1) + " "


def _blanked(chunk: re.Match[str]) -> str:
    return _RUN_FILL * len(chunk.group())


def _even_spaces(text: str) -> str:
    """The text with every whitespace run between words a single space to spaCy."""
    return _SPACE_RUN_RE.sub(_collapse, text.translate(_SPACE_TABLE))


def _surrogate_error(
    texts: Sequence[str], turn_of: Sequence[int], exc: UnicodeEncodeError
) -> TurnError:
    """Which turn holds text no encoder takes (spaCy hashes words as UTF-8)."""
    for k, text in enumerate(texts):
        i = unpaired_surrogate(text)
        if i is not None:
            return TurnError(
                f"turn {turn_of[k]}: text has an unpaired surrogate (\\u{ord(text[i]):04x}) "
                f"at character {i}; it is not Unicode text"
            )
    return TurnError(f"text cannot be encoded: {exc.reason}")


def _outside(cands: list[_Cand], outer: list[tuple[int, int, str]]) -> list[_Cand]:
    """Drop the matches that lie within one of their rule's ``not_within`` phrases
    ("whatever" in "whatever works for you", "impossible" in "nothing is
    impossible"). Before overlaps are resolved, so a dropped match hides nothing."""
    return [
        c for c in cands if not any(rid == c[2] and s <= c[0] and c[1] <= e for s, e, rid in outer)
    ]


def _covered(cands: list[_Cand], token: int) -> bool:
    """Is the token part of a match that goes on after it? A negation word inside
    a phrase of its own ("no worries", "not a problem", "لا تقلق", "ما عليه")
    negates nothing after it: "no worries, I understand" is still empathy. As the
    last word of a match ("بس مش" + "غلطتك") it still negates what follows.
    (Asked only when a negation would apply, so the plain loop over the turn's
    candidates is rare.)"""
    for c in cands:
        if c[0] > token:
            return False
        if token < c[1] - 1:
            return True
    return False


def _unbroken(doc: Doc, start: int, end: int) -> bool:
    """No punctuation or turn break among tokens [start, end): a negation cue before
    them still applies to what follows."""
    return not any(doc[t].is_punct or doc[t].is_space for t in range(start, end))


def _inside(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    """Is [start, end) strictly inside one of the quoted spans (reported speech)?"""
    for qs, qe in spans:  # noqa: SIM110 - a plain loop; any(<genexpr>) is slower here
        if qs < start and end < qe:
            return True
    return False


def _resolve_overlaps(cands: list[_Cand]) -> list[_Cand]:
    """Apply the two overlap rules to candidates sorted by token start.

    * A match covered by strictly longer matches is dropped unless it and all of
      them are ``use`` rules ("يمكن" inside "لا يمكن" is not uncertainty, but
      "thank you" inside "thank you for holding" is still gratitude).
    * Overlapping matches of one behaviour count once: the longest is kept
      ("so sorry" / "sorry about that" in one sentence is one apology).

    Only clusters of overlapping candidates need work; isolated ones (most of
    them) pass straight through.
    """
    out: list[_Cand] = []
    n = len(cands)
    i = 0
    while i < n:
        c = cands[i]
        end = c[1]
        j = i + 1
        while j < n and cands[j][0] < end:
            e = cands[j][1]
            if e > end:
                end = e
            j += 1
        if j == i + 1:
            out.append(c)
        else:
            out.extend(_resolve_cluster(cands[i:j]))
        i = j
    return out


def _resolve_cluster(cluster: list[_Cand]) -> list[_Cand]:
    if len(cluster) == 2:  # the common case, without sets
        a, b = cluster
        ca, cb = a[4], b[4]
        la, lb = a[1] - a[0], b[1] - b[0]
        if la > lb and a[0] <= b[0] and b[1] <= a[1]:
            if not (ca.use and cb.use):
                return [a]  # b strictly inside a
        elif lb > la and b[0] <= a[0] and a[1] <= b[1] and not (ca.use and cb.use):
            return [b]  # a strictly inside b
        if ca.behavior == cb.behavior:
            return [b] if lb > la else [a]
        return cluster
    return _resolve_cluster_general(cluster)


def _resolve_cluster_general(cluster: list[_Cand]) -> list[_Cand]:
    by_length = sorted(cluster, key=lambda c: c[0] - c[1])  # longest first, stable
    covered_any: set[int] = set()
    covered_nonuse: set[int] = set()
    taken: dict[str, set[int]] = defaultdict(set)
    keep: set[int] = set()
    i = 0
    n = len(by_length)
    while i < n:
        length = by_length[i][1] - by_length[i][0]
        j = i
        while j < n and by_length[j][1] - by_length[j][0] == length:
            j += 1
        group = by_length[i:j]
        for c in group:
            span = range(c[0], c[1])
            comp = c[4]
            if (covered_nonuse if comp.use else covered_any).issuperset(span):
                continue
            occupied = taken[comp.behavior]
            if occupied.isdisjoint(span):
                occupied.update(span)
                keep.add(id(c))
        for c in group:
            covered_any.update(range(c[0], c[1]))
            if not c[4].use:
                covered_nonuse.update(range(c[0], c[1]))
        i = j
    return [c for c in cluster if id(c) in keep]


def _anchor(pattern: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """Literal NORM sequences a pattern must start with ([] if it has none).

    Patterns with quantifiers are never anchored, so their span length is fixed.
    """
    if any("OP" in tok for tok in pattern):
        return []
    options: list[list[str]] = []
    for tok in pattern:
        norm = tok.get("NORM")
        if isinstance(norm, str):
            options.append([norm])
        elif isinstance(norm, dict) and set(norm) == {"IN"} and isinstance(norm["IN"], list):
            options.append([x for x in norm["IN"] if isinstance(x, str)])
        else:
            break
    if not options or any(not o for o in options):
        return []
    combos = list(itertools.islice(itertools.product(*options), 64))
    return combos if len(combos) < 64 else []


def _literal_checks(
    pattern: list[dict[str, Any]], skip: int, vocab: Any
) -> list[tuple[int, frozenset[int]]]:
    """(offset, allowed NORM hashes) for literal tokens after the anchor prefix."""
    checks: list[tuple[int, frozenset[int]]] = []
    for off, tok in enumerate(pattern):
        if off < skip:
            continue
        norm = tok.get("NORM")
        if isinstance(norm, str):
            checks.append((off, frozenset({vocab.strings.add(norm)})))
        elif isinstance(norm, dict) and set(norm) == {"IN"}:
            checks.append((off, frozenset(vocab.strings.add(x) for x in norm["IN"])))
    return checks


def _pattern_literals(value: Any) -> list[str]:
    if isinstance(value, str):
        return [normalize_phrase(value).lower()]
    if isinstance(value, dict):
        out: list[str] = []
        for v in value.values():
            if isinstance(v, list):
                out.extend(normalize_phrase(x).lower() for x in v if isinstance(x, str))
        return out
    return []


def _key_pattern_token(tok: dict[str, Any], key: Any) -> dict[str, Any]:
    out = dict(tok)
    v = tok.get("NORM")
    if isinstance(v, str):
        out["NORM"] = key(v)
    elif isinstance(v, dict):
        out["NORM"] = {
            op: [key(x) if isinstance(x, str) else x for x in vals]
            if isinstance(vals, list)
            else vals
            for op, vals in v.items()
        }
    return out


# ------------------------------------------------------------------- findings


def _spans(flags: Iterable[Flag]) -> tuple[EvidenceSpan, ...]:
    make = tuple.__new__
    return tuple(make(EvidenceSpan, (f[5], f[6], f[7], f[8], f[0])) for f in flags)


def compact_findings(findings: Iterable[Finding]) -> tuple[CompactFinding, ...]:
    """Findings as plain tuples, evidence spans included (cheap to pickle)."""
    return tuple((f[0], f[1], f[2], tuple(map(tuple, f[3]))) for f in findings)


def _fmt_turns(indices: Sequence[int]) -> str:
    return ", ".join(map(str, indices))


_EMPTY: frozenset[int] = frozenset()
_make = tuple.__new__  # NamedTuple construction without the Python-level __new__
#: The behaviours whole-interaction findings look at.
_WATCHED = frozenset(
    {"greeting", "self_introduction", "closing", "empathy", "apology", CUSTOMER_FRUSTRATION}
)
_BEHAVIOUR = itemgetter(1)  # Flag.behavior
#: The three fixed-text findings depend only on the turn indices: built once each.
_FIXED: dict[tuple[Any, ...], Finding] = {}


def _fixed(finding: str, turns: list[int]) -> Finding:
    key = (finding, *turns)
    made = _FIXED.get(key)
    if made is not None:
        return made
    n, listed = len(turns), _fmt_turns(turns)
    if finding == MISSING_GREETING:
        why = f"No greeting in the agent's first {n} turn(s) (turns {listed})."
        made = _make(Finding, (finding, why, turns[0], ()))
    elif finding == MISSING_SELF_INTRODUCTION:
        why = f"The agent did not introduce themselves in their first {n} turn(s) (turns {listed})."
        made = _make(Finding, (finding, why, turns[0], ()))
    else:
        why = f"No closing in the agent's last {n} turn(s) (turns {listed})."
        made = _make(Finding, (finding, why, turns[-1], ()))
    if len(_FIXED) < 4096:
        _FIXED[key] = made
    return made


def _time_order(turns: Sequence[Turn]) -> list[int] | None:
    """Turn indices by start time, when the turns are listed out of time order.

    Findings speak of "the next agent turns", which is a matter of time, while
    an export may list turns in any order (timing metrics sort them too). None
    when the listed order already is the time order, or when a start is missing
    and only the listed order is known.
    """
    previous = -math.inf
    ordered = True
    for t in turns:
        start = t[2]
        if start is None or start != start:  # missing or NaN: keep the listed order
            return None
        if start < previous:
            ordered = False
        else:
            previous = start
    if ordered:
        return None
    return sorted(range(len(turns)), key=lambda i: (turns[i][2], i))


def _unanswered(turns: Sequence[Turn]) -> list[Finding]:
    """The finding for an interaction the agent never answered (customer words, no
    agent words): without it, timing alone would pass a customer left waiting."""
    asked = [i for i, t in enumerate(turns) if t[0] == "customer" and t[1].strip()]
    if not asked:
        return []
    why = (
        f"The customer spoke or wrote in {len(asked)} turn(s) (turns {_fmt_turns(asked[:10])}"
        f"{' …' if len(asked) > 10 else ''}) and no agent turn answered."
    )
    return [_make(Finding, (MISSING_AGENT_REPLY, why, asked[0], ()))]


def _findings(turns: Sequence[Turn], flags: Sequence[Flag]) -> list[Finding]:
    """Whole-interaction findings, in time order. An agent who never spoke gets one
    finding only (the customer went unanswered); turns with no words (an empty
    message) are no agent turns for the opening and closing."""
    order = _time_order(turns)
    listed: Iterable[int] = range(len(turns)) if order is None else order
    # words = not empty and not all whitespace (isspace stops at the first letter)
    agent_turns = [
        i for i in listed if turns[i][0] == "agent" and turns[i][1] and not turns[i][1].isspace()
    ]
    if not agent_turns:
        return _unanswered(turns)
    rank: Sequence[int] = range(len(turns))
    if order is not None:
        rank = [0] * len(turns)
        for position, i in enumerate(order):
            rank[i] = position
    agent_ranks = [rank[i] for i in agent_turns]
    # turns showing each watched behaviour; the flags of those behaviours are picked
    # in C (most flags are not watched)
    seen: dict[str, set[int]] = {}
    frustrated: dict[int, list[Flag]] = {}
    for f in compress(flags, map(_WATCHED.__contains__, map(_BEHAVIOUR, flags))):
        behaviour = f[1]  # Flag.behavior; plain indexing is the fastest NamedTuple access
        turn = f[5]
        if behaviour == CUSTOMER_FRUSTRATION:
            cues = frustrated.get(turn)
            if cues is None:
                frustrated[turn] = [f]
            else:
                cues.append(f)
        else:
            if behaviour == "apology":
                behaviour = "empathy"  # either answers frustration
            turns_with = seen.get(behaviour)
            if turns_with is None:
                seen[behaviour] = {turn}
            else:
                turns_with.add(turn)

    out: list[Finding] = []
    opening = agent_turns[:OPENING_TURNS]
    closing = agent_turns[-CLOSING_TURNS:]
    if seen.get("greeting", _EMPTY).isdisjoint(opening):
        out.append(_fixed(MISSING_GREETING, opening))
    if seen.get("self_introduction", _EMPTY).isdisjoint(opening):
        out.append(_fixed(MISSING_SELF_INTRODUCTION, opening))
    if seen.get("closing", _EMPTY).isdisjoint(closing):
        out.append(_fixed(MISSING_CLOSING, closing))
    empathy = seen.get("empathy", _EMPTY)
    for turn in sorted(frustrated, key=rank.__getitem__):
        cues = frustrated[turn]
        nxt = bisect_right(agent_ranks, rank[turn])
        following = agent_turns[nxt : nxt + EMPATHY_TURNS]
        if not empathy.isdisjoint(following):
            continue
        quoted = f"“{cues[0][8]}”" if len(cues) == 1 else "; ".join(f"“{c[8]}”" for c in cues)
        if following:
            why = (
                f"The customer expressed frustration in turn {turn} ({quoted}) and the next "
                f"agent turn(s) ({_fmt_turns(following)}) show no empathy or apology."
            )
        else:
            why = (
                f"The customer expressed frustration in turn {turn} ({quoted}) and no agent "
                f"turn followed it."
            )
        out.append(_make(Finding, (MISSING_EMPATHY_AFTER_FRUSTRATION, why, turn, _spans(cues))))
    return out


# ---------------------------------------------------------------------- cache

_LOCK = threading.Lock()
_LEXICONS: dict[tuple[Any, ...], Lexicon] = {}
_ANALYZERS: dict[tuple[str, str], Analyzer] = {}


def get_lexicon(lang: str, lexicon_dir: Path | str | None = None) -> Lexicon:
    """Load (or reuse) the effective lexicon; reloads when the files change."""
    sig = source_signature(lang, lexicon_dir)
    with _LOCK:
        lex = _LEXICONS.get(sig)
    if lex is None:
        lex = load_lexicon(lang, lexicon_dir)
        with _LOCK:
            _LEXICONS[sig] = lex
    return lex


def get_analyzer(lang: str, lexicon_dir: Path | str | None = None) -> Analyzer:
    """The shared analyzer for ``lang``, keyed by (lang, lexicon version).

    spaCy never forgets a word it has seen (that is what makes per-word
    normalisation free), so a long-running service would grow without bound on
    names, numbers and typos; past :data:`MAX_VOCAB` words the analyzer is
    rebuilt from scratch (well under a second).
    """
    lexicon = get_lexicon(lang, lexicon_dir)
    key = (lang, lexicon.version)
    with _LOCK:
        analyzer = _ANALYZERS.get(key)
        if analyzer is None or len(analyzer.nlp.vocab) > MAX_VOCAB:
            analyzer = Analyzer(lexicon)
            _ANALYZERS[key] = analyzer
    return analyzer


def analyze(
    turns: Iterable[Any], channel: str, lang: str, lexicon_dir: Path | str | None = None
) -> Analysis:
    """Convenience: analyse with the cached analyzer for ``lang``."""
    return get_analyzer(lang, lexicon_dir).analyze(turns, channel, lang)
