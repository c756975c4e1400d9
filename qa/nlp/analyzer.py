"""Conversation-aware phrase flagging with spaCy blank pipelines.

How a transcript is analysed (one spaCy call per transcript, not per turn):

1. Each agent/customer turn is string-normalised (:func:`normalize_text`, keeps an
   offset map); system turns are skipped. The normalised turns are joined with a
   blank-line separator, tokenised ONCE and matched ONCE. The separator becomes a
   whitespace token that no pattern contains, so nothing matches across turns, and
   negation windows stop there.
2. Words are keyed through the lexeme ``NORM`` getter (lower case, chat spellings,
   Arabic clitics and suffixes; see ``normalize.py``). spaCy computes a lexeme's
   attributes once per distinct word, so the per-word work is cached for free.
3. ONE ``PhraseMatcher(attr="NORM")`` holds every phrase of every rule; a
   ``Matcher`` is built only for rules that declare token patterns (self
   introduction with a name). Phrase variants (contractions, ambiguous clitic
   forms, inflected forms) are expanded when the lexicon is compiled, not at
   match time.
4. Matches are kept only where they make sense: use/avoid rules on agent turns,
   ``cue`` rules on customer turns; a match strictly inside a longer match is
   dropped unless both are ``use`` behaviours ("thank you" inside "thank you for
   holding" is still gratitude, but "يمكن" inside "لا يمكن" is not uncertainty);
   matches inside double quotes/guillemets are reported speech and are dropped;
   ``negatable`` rules are dropped when a negation cue precedes them within the
   window without intervening punctuation.
5. Offsets are mapped back to each turn's ORIGINAL text. Spans cover whole
   tokens: an attached clitic or suffix is inside the span ("وآسفين" is reported
   whole), as are diacritics and tatweel on the last letter; punctuation is not.

One :class:`Analyzer` per (language, lexicon version) is built and cached by
:func:`get_analyzer`; building compiles the lexicon (~0.1-0.5 s), analysing is
cheap.
"""

from __future__ import annotations

import itertools
import re
import threading
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import spacy
from spacy.attrs import NORM
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc
from spacy.util import compile_infix_regex

from qa.nlp.lexicon import Lexicon, LexiconError, Rule, load_lexicon, source_signature
from qa.nlp.normalize import (
    ENGLISH_ALTERNATIVES,
    INFLECTED,
    ArabicKeyer,
    NormalizedText,
    english_key,
    normalize_phrase,
    normalize_text,
)
from qa.nlp.taxonomy import (
    CUSTOMER_FRUSTRATION,
    MISSING_CLOSING,
    MISSING_EMPATHY_AFTER_FRUSTRATION,
    MISSING_GREETING,
    MISSING_SELF_INTRODUCTION,
)
from qa.nlp.types import (
    Analysis,
    EvidenceSpan,
    Finding,
    Flag,
    Turn,
    check_channel,
    coerce_turns,
)

#: spaCy's default caches 10,000 chunks, which halves throughput on varied text.
TOKENIZER_CACHE_SIZE = 1_000_000
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

_QUOTED_RE = re.compile(r'"[^"\n]{1,400}"')
_ARABIC_INFIXES = [
    r"[؟،؛]",
    r"(?<=[\u0620-\u064a])[.!?,:;](?=[\u0620-\u064a])",
]


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: Rule
    use: bool


@dataclass(slots=True)
class _Candidate:
    turn: int
    piece: int
    tok_start: int
    tok_end: int
    char_start: int
    char_end: int
    compiled: _Compiled


def _blank(lang: str) -> spacy.language.Language:
    nlp = spacy.blank(lang)
    nlp.tokenizer.max_cache_size = TOKENIZER_CACHE_SIZE
    infixes = list(nlp.Defaults.infixes or []) + _ARABIC_INFIXES
    nlp.tokenizer.infix_finditer = compile_infix_regex(infixes).finditer
    return nlp


class Analyzer:
    """Flags lexicon behaviours in transcripts of one language."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self.lang = lexicon.lang
        self.version = lexicon.version
        self.nlp = _blank(self.lang)
        vocab = self.nlp.vocab
        self._rules: dict[int, _Compiled] = {}

        # 1. The lexicon vocabulary (string-normalised, lower-cased token texts).
        phrase_docs: dict[tuple[str, int], list[Any]] = {}
        words: set[str] = set()
        for rule in lexicon.rules:
            for i, phrase in enumerate(rule.phrases):
                toks = [t for t in self.nlp.make_doc(normalize_phrase(phrase)) if not t.is_space]
                if not toks:
                    self._fail(rule, "lexicon.bad_phrase", f"phrase {i} has no words")
                if any(t.is_punct for t in toks):
                    self._fail(
                        rule,
                        "lexicon.bad_phrase",
                        f"phrase {i} ({phrase!r}) contains punctuation; list the parts as separate phrases",
                    )
                phrase_docs[(rule.id, i)] = toks
                words.update(t.text.lower() for t in toks)
            for pattern in rule.patterns:
                for tok in pattern:
                    words.update(_pattern_literals(tok.get("NORM")))
        cues = [normalize_phrase(c).lower() for c in lexicon.negation.cues]
        words.update(cues)

        # 2. Key every word through the lexeme NORM getter (computed once per word).
        if self.lang == "ar":
            keyer = ArabicKeyer(words)
            key = keyer
        else:
            keyer = None
            key = english_key
        self._key = key
        vocab.lex_attr_getters[NORM] = key
        for lex in list(vocab):
            lex.norm_ = key(lex.orth_)

        # 3. Alternatives: spellings that key differently but must meet.
        reverse: dict[str, set[str]] = defaultdict(set)
        if keyer is not None:
            for w in words:
                u = keyer.unconditional(w)
                if u is not None and u != w:
                    reverse[u].add(w)

        def alternatives(k: str, inflect: bool) -> list[str]:
            if self.lang == "en":
                return [k, *ENGLISH_ALTERNATIVES.get(k, ())]
            alts = [k, *sorted(reverse.get(k, ()))]
            if inflect:
                alts.append(k + INFLECTED)
                alts.extend(sorted(reverse.get(k + INFLECTED, ())))
            return list(dict.fromkeys(alts))

        # 4. One PhraseMatcher for all phrases; a Matcher only for token patterns.
        self.phrase_matcher = PhraseMatcher(vocab, attr="NORM")
        self.matcher: Matcher | None = None
        for rule in lexicon.rules:
            rid = vocab.strings.add(rule.id)
            self._rules[rid] = _Compiled(rule, rule.polarity == "use")
            docs: list[Doc] = []
            for i, _phrase in enumerate(rule.phrases):
                # token norms read the (now re-keyed) lexemes; exception norms
                # such as "'m" -> "am" are kept from tokenisation
                keys = [t.norm_ for t in phrase_docs[(rule.id, i)]]
                n = len(keys)
                options = [
                    alternatives(
                        k, self.lang == "ar" and rule.inflect and j >= n - INFLECT_LAST_WORDS
                    )
                    for j, k in enumerate(keys)
                ]
                count = 1
                for o in options:
                    count *= len(o)
                if count > MAX_VARIANTS_PER_PHRASE:
                    options = [o[:1] if j < n - 1 else o for j, o in enumerate(options)]
                for variant in itertools.product(*options):
                    d = Doc(vocab, words=list(variant))
                    for t, want in zip(d, variant, strict=True):
                        if t.norm_ != want:  # keys must be fixed points of the keyer
                            t.norm_ = want
                    docs.append(d)
            if docs:
                self.phrase_matcher.add(rule.id, docs)
            if rule.patterns:
                if self.matcher is None:
                    self.matcher = Matcher(vocab, validate=True)
                keyed = [[_key_pattern_token(t, key) for t in p] for p in rule.patterns]
                try:
                    self.matcher.add(rule.id, keyed)
                except (ValueError, KeyError, TypeError) as exc:
                    self._fail(rule, "lexicon.bad_pattern", f"invalid token pattern: {exc}")

        self._cue_norms = frozenset(vocab.strings.add(key(c)) for c in cues)
        self._window = lexicon.negation.window
        self._lock = threading.Lock()

    def _fail(self, rule: Rule, code: str, message: str) -> None:
        file, line = self.lexicon.origins.get(rule.id, (None, None))
        raise LexiconError(code, message, file=file, line=line, rule_id=rule.id)

    # ------------------------------------------------------------------ analysis

    def analyze(self, turns: Iterable[Any], channel: str, lang: str | None = None) -> Analysis:
        """Flags, findings and hold announcements for one interaction.

        ``turns`` are :class:`Turn`, mappings or objects with ``speaker`` (agent,
        customer, system), ``text`` and optional ``start``/``end`` seconds.
        """
        if lang is not None and lang != self.lang:
            raise ValueError(f"this analyzer is for {self.lang!r}, not {lang!r}")
        check_channel(channel)
        turn_list = coerce_turns(turns)
        flags = self._flags(turn_list)
        findings = _findings(turn_list, flags)
        holds = tuple(sorted({f.turn for f in flags if self._by_id[f.rule].hold_announcement}))
        return Analysis(self.lang, channel, self.version, tuple(flags), tuple(findings), holds)

    def flag_text(self, text: str, speaker: str = "agent") -> list[Flag]:
        """Flags for a single piece of text spoken by ``speaker``."""
        return self._flags(coerce_turns([{"speaker": speaker, "text": text}]))

    @property
    def _by_id(self) -> dict[str, Rule]:
        by_id = getattr(self, "_by_id_cache", None)
        if by_id is None:
            by_id = {c.rule.id: c.rule for c in self._rules.values()}
            self._by_id_cache = by_id
        return by_id

    def _flags(self, turns: Sequence[Turn]) -> list[Flag]:
        norms: list[NormalizedText] = []
        turn_of: list[int] = []
        bases: list[int] = []
        pieces: list[str] = []
        pos = 0
        for i, t in enumerate(turns):
            if t.speaker == "system" or not t.text:
                continue
            nt = normalize_text(t.text)
            norms.append(nt)
            turn_of.append(i)
            bases.append(pos)
            pieces.append(nt.text)
            pos += len(nt.text) + len(SEPARATOR)
        if not pieces:
            return []
        doc = self.nlp.make_doc(SEPARATOR.join(pieces))
        matches = self.phrase_matcher(doc)
        if self.matcher is not None:
            matches = list(matches) + list(self.matcher(doc))

        rules = self._rules
        candidates: list[_Candidate] = []
        seen: set[tuple[int, int, int]] = set()
        for match_id, s, e in matches:
            if (match_id, s, e) in seen:
                continue
            seen.add((match_id, s, e))
            comp = rules[match_id]
            first = doc[s]
            cs = first.idx
            k = bisect_right(bases, cs) - 1
            speaker = turns[turn_of[k]].speaker
            if (comp.rule.polarity == "cue") != (speaker == "customer"):
                continue
            last = doc[e - 1]
            ce = last.idx + len(last)
            candidates.append(_Candidate(turn_of[k], k, s, e, cs - bases[k], ce - bases[k], comp))
        if not candidates:
            return []
        candidates = _merge_same_behaviour(_drop_contained(candidates))

        flags: list[Flag] = []
        quoted_cache: dict[int, list[tuple[int, int]]] = {}
        for c in candidates:
            nt = norms[c.piece]
            if '"' in nt.text:
                spans = quoted_cache.get(c.piece)
                if spans is None:
                    spans = [(m.start(), m.end()) for m in _QUOTED_RE.finditer(nt.text)]
                    quoted_cache[c.piece] = spans
                if any(qs < c.char_start and c.char_end < qe for qs, qe in spans):
                    continue
            rule = c.compiled.rule
            if rule.negatable and self._negated(doc, c.tok_start):
                continue
            start, end = nt.span(c.char_start, c.char_end)
            flags.append(
                Flag(
                    rule=rule.id,
                    behavior=rule.behavior,
                    polarity=rule.polarity,
                    criterion=rule.criterion,
                    severity=rule.severity,
                    turn=c.turn,
                    start=start,
                    end=end,
                    text=nt.original[start:end],
                    suggestion=rule.suggestion,
                    coaching_tip=rule.coaching_tip,
                )
            )
        flags.sort(key=lambda f: (f.turn, f.start, f.end, f.rule))
        return flags

    def _negated(self, doc: Doc, start: int) -> bool:
        cues = self._cue_norms
        for j in range(start - 1, max(start - self._window, 0) - 1, -1):
            tok = doc[j]
            if tok.is_punct or tok.is_space:
                return False
            if tok.norm in cues:
                return True
        return False


def _drop_contained(cands: list[_Candidate]) -> list[_Candidate]:
    """Drop matches strictly inside a longer one, unless both are ``use`` rules."""
    cands.sort(key=lambda c: (c.tok_start, -c.tok_end))
    kept: list[_Candidate] = []
    max_end_any = -1
    max_end_nonuse = -1
    i = 0
    n = len(cands)
    while i < n:
        j = i
        s, e = cands[i].tok_start, cands[i].tok_end
        while j < n and cands[j].tok_start == s and cands[j].tok_end == e:
            j += 1
        group = cands[i:j]
        for c in group:
            contained = max_end_nonuse >= e if c.compiled.use else max_end_any >= e
            if not contained:
                kept.append(c)
        for c in group:
            max_end_any = max(max_end_any, e)
            if not c.compiled.use:
                max_end_nonuse = max(max_end_nonuse, e)
        i = j
    return kept


def _merge_same_behaviour(cands: list[_Candidate]) -> list[_Candidate]:
    """Overlapping matches of one behaviour count once: keep the longest.

    "so sorry" / "sorry" / "sorry about that" in one sentence is one apology.
    """
    if len(cands) < 2:
        return cands
    by_behaviour: dict[str, list[_Candidate]] = defaultdict(list)
    for c in cands:
        by_behaviour[c.compiled.rule.behavior].append(c)
    kept: list[_Candidate] = []
    for group in by_behaviour.values():
        if len(group) == 1:
            kept.extend(group)
            continue
        group.sort(key=lambda c: (c.tok_start - c.tok_end, c.tok_start))
        taken: list[tuple[int, int]] = []
        for c in group:
            if all(c.tok_end <= s or c.tok_start >= e for s, e in taken):
                taken.append((c.tok_start, c.tok_end))
                kept.append(c)
    return kept


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
        out["NORM"] = key(normalize_phrase(v))
    elif isinstance(v, dict):
        out["NORM"] = {
            op: [key(normalize_phrase(x)) if isinstance(x, str) else x for x in vals]
            if isinstance(vals, list)
            else vals
            for op, vals in v.items()
        }
    return out


# ------------------------------------------------------------------- findings


def _spans(flags: Iterable[Flag]) -> tuple[EvidenceSpan, ...]:
    return tuple(EvidenceSpan(f.turn, f.start, f.end, f.text, f.rule) for f in flags)


def _fmt_turns(indices: Sequence[int]) -> str:
    return ", ".join(str(i) for i in indices)


def _findings(turns: Sequence[Turn], flags: Sequence[Flag]) -> list[Finding]:
    """Whole-interaction findings. Nothing is said about an agent who never spoke."""
    agent_turns = [i for i, t in enumerate(turns) if t.speaker == "agent"]
    if not agent_turns:
        return []
    by_turn: dict[int, set[str]] = defaultdict(set)
    for f in flags:
        by_turn[f.turn].add(f.behavior)

    def seen(behaviour: str, indices: Iterable[int]) -> bool:
        return any(behaviour in by_turn.get(i, ()) for i in indices)

    out: list[Finding] = []
    opening = agent_turns[:OPENING_TURNS]
    closing = agent_turns[-CLOSING_TURNS:]
    if not seen("greeting", opening):
        out.append(
            Finding(
                MISSING_GREETING,
                f"No greeting in the agent's first {len(opening)} turn(s) (turns {_fmt_turns(opening)}).",
                opening[0],
            )
        )
    if not seen("self_introduction", opening):
        out.append(
            Finding(
                MISSING_SELF_INTRODUCTION,
                f"The agent did not introduce themselves in their first {len(opening)} turn(s) "
                f"(turns {_fmt_turns(opening)}).",
                opening[0],
            )
        )
    if not seen("closing", closing):
        out.append(
            Finding(
                MISSING_CLOSING,
                f"No closing in the agent's last {len(closing)} turn(s) (turns {_fmt_turns(closing)}).",
                closing[-1],
            )
        )
    frustrated: dict[int, list[Flag]] = defaultdict(list)
    for f in flags:
        if f.behavior == CUSTOMER_FRUSTRATION:
            frustrated[f.turn].append(f)
    for turn, cues in sorted(frustrated.items()):
        following = [a for a in agent_turns if a > turn][:EMPATHY_TURNS]
        if seen("empathy", following) or seen("apology", following):
            continue
        quoted = "; ".join(f"“{c.text}”" for c in cues)
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
        out.append(Finding(MISSING_EMPATHY_AFTER_FRUSTRATION, why, turn, _spans(cues)))
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
    """The shared analyzer for ``lang``, keyed by (lang, lexicon version)."""
    lexicon = get_lexicon(lang, lexicon_dir)
    key = (lang, lexicon.version)
    with _LOCK:
        analyzer = _ANALYZERS.get(key)
        if analyzer is None:
            analyzer = Analyzer(lexicon)
            _ANALYZERS[key] = analyzer
    return analyzer


def analyze(
    turns: Iterable[Any], channel: str, lang: str, lexicon_dir: Path | str | None = None
) -> Analysis:
    """Convenience: analyse with the cached analyzer for ``lang``."""
    return get_analyzer(lang, lexicon_dir).analyze(turns, channel, lang)
