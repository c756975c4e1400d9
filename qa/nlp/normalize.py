"""Text normalisation for phrase matching, with a map back to the original text.

Matching must survive real agent text (tashkeel, tatweel, four spellings of alef,
curly apostrophes, Arabic-Indic digits) while every flag still points at the
characters the agent actually wrote. So normalisation happens in two layers:

1. **String level** (:func:`normalize_text`): one ``str.translate`` pass. Every
   change is either a 1:1 character substitution or a deletion; nothing ever
   expands. That makes the offset map cheap: when nothing was deleted (almost all
   English and most chat Arabic) the map is the identity and costs nothing; when
   something was deleted we record the deleted *runs* and map positions back with
   a binary search. Case is deliberately not folded here because ``str.lower`` can
   change string length (``"İ"``) and spaCy's tokenizer exceptions are case-aware.
2. **Word level** (:class:`ArabicKeyer`, :func:`english_key`): lower-casing, chat
   spellings and Arabic proclitic/suffix handling, applied once per distinct word
   through spaCy's lexeme ``NORM`` getter (see ``analyzer.py``). Because it works on
   whole tokens, a phrase can never match inside an unrelated word.

Nothing here reads configuration; it is pure and safe to share between processes.
"""

from __future__ import annotations

import itertools
import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

# --------------------------------------------------------------------------- tables

#: Arabic marks removed for matching: Quranic annotation signs, tashkeel (fatha,
#: damma, kasra, tanween, shadda, sukun, hamza above/below as combining marks,
#: superscript alef), tatweel and the standalone hamza (so "شيء", "شيئ" and the
#: chat spelling "شي" meet, as do "مساء" and "مسا").
_ARABIC_ATTACHED = (
    "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e4\u06e7\u06e8\u06ea-\u06ed"
    "\u0640\u0621"
)
#: Invisible characters that belong to a word when they sit inside one.
_JOINERS = "\u00ad\u200c\u200d"
#: Invisible direction/format marks; removed, but never counted as part of a span.
_FORMAT = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff"

_DELETE_CLASS = f"[{_ARABIC_ATTACHED}{_JOINERS}{_FORMAT}]"
#: Direction/format marks as a set (trimmed off span edges).
FORMAT_CHARS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
)
_DELETE_RUN_RE = re.compile(_DELETE_CLASS + "+")
#: Characters that extend a span's end: marks written on (or stretching) the last letter.
_ATTACHED_RUN_RE = re.compile(f"[{_ARABIC_ATTACHED}{_JOINERS}]+")

_SUBSTITUTIONS: dict[str, str] = {
    # alef forms -> bare alef
    "أ": "ا",
    "إ": "ا",
    "آ": "ا",
    "ٱ": "ا",
    "ٲ": "ا",
    "ٳ": "ا",
    # alef maqsura, Farsi yeh -> yeh; Farsi kaf -> kaf
    "ى": "ي",
    "ی": "ي",
    "ک": "ك",
    # taa marbuta (and its Farsi form) -> ha
    "ة": "ه",
    "ۀ": "ه",
    # hamza carriers -> their carrier letter
    "ؤ": "و",
    "ئ": "ي",
    # punctuation and spaces that only differ typographically
    "\u2019": "'",
    "\u2018": "'",
    "\u02bc": "'",
    "\u00b4": "'",
    "\u2032": "'",
    "\uff07": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u00a0": " ",
    "\u202f": " ",
    "\u2007": " ",
    "\u200b": " ",  # zero-width space separates words: keep it a separator
    "\u066a": "%",
    "\u066b": ".",
    "\u066c": ",",
}
for _i in range(10):
    _SUBSTITUTIONS[chr(0x0660 + _i)] = str(_i)  # Arabic-Indic digits
    _SUBSTITUTIONS[chr(0x06F0 + _i)] = str(_i)  # Extended (Persian/Urdu) digits


#: Hamza carriers writers swap: "مسؤول" / "مسئول" / chat "مسول", "شيء" / "شيئ" / "شي".
_HAMZA_SWAPS = {"ؤ": ("ؤ", "ئ", ""), "ئ": ("ئ", "ؤ", ""), "ء": ("ء", "ئ")}
#: Lexicon words with more carriers than this keep their own spelling only.
_MAX_HAMZAS = 3


#: A carrier is only left out where the word keeps this many letters: short words
#: without it become other words ("خطؤك" -> "خطك", "سؤال" -> "سال").
_MIN_LETTERS_WITHOUT_HAMZA = 4


def _word_length(phrase: str, i: int) -> int:
    start = phrase.rfind(" ", 0, i) + 1
    end = phrase.find(" ", i)
    return (len(phrase) if end < 0 else end) - start


def hamza_spellings(phrase: str) -> list[str]:
    """The phrase as written plus its other common hamza spellings.

    The string table maps ``ؤ → و`` and ``ئ → ي`` and drops ``ء``, which unifies a
    carrier with its letter but not the carriers with each other: "المسئول"
    became "المسيول" and never met the lexicon's "المسؤول". Swapping carriers in
    the *lexicon* (ؤ/ئ for each other, or left out as chat writes them where the
    word keeps four letters; a final ء after و/ي also written ئ) costs nothing
    at analysis time: each spelling is one more PhraseMatcher pattern. Hamza
    after an alef is left alone ("مساء").
    """
    spots = [
        i
        for i, ch in enumerate(phrase)
        if ch in "ؤئ" or (ch == "ء" and i > 0 and phrase[i - 1] in "وي")
    ]
    if not spots or len(spots) > _MAX_HAMZAS:
        return [phrase]
    out: dict[str, None] = {}
    options = []
    for i in spots:
        swaps = _HAMZA_SWAPS[phrase[i]]
        if "" in swaps and _word_length(phrase, i) - 1 < _MIN_LETTERS_WITHOUT_HAMZA:
            swaps = tuple(x for x in swaps if x)  # "خطؤك" without it is "خطك", "your line"
        options.append(swaps)
    for choice in itertools.product(*options):
        chars = list(phrase)
        for i, ch in zip(spots, choice, strict=True):
            chars[i] = ch
        out["".join(chars)] = None
    return list(out)


_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def unpaired_surrogate(text: str) -> int | None:
    """Where ``text`` holds an unpaired surrogate (a lone ``\\ud800`` JSON escape),
    or None. No encoder, database or tokenizer takes one, so input is refused
    with this position rather than failing deep inside."""
    if text.isascii():
        return None
    found = _SURROGATE_RE.search(text)
    return None if found is None else found.start()


def _deletable_codepoints() -> list[int]:
    points: list[int] = []
    for part in re.findall(r".-.|.", _ARABIC_ATTACHED + _JOINERS + _FORMAT, flags=re.S):
        if len(part) == 3:
            points.extend(range(ord(part[0]), ord(part[2]) + 1))
        else:
            points.append(ord(part))
    return points


TRANSLATION: dict[int, int | None] = {ord(k): ord(v) for k, v in _SUBSTITUTIONS.items()}
TRANSLATION.update(dict.fromkeys(_deletable_codepoints()))


# ------------------------------------------------------------------ offset mapping


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """A normalised string plus what is needed to map its offsets back.

    ``run_at`` holds, for every run of deleted characters, the normalised position
    the run sat in front of; ``shift`` the total number of characters deleted up to
    and including that run. Both are empty when nothing was deleted.
    """

    original: str
    text: str
    run_at: tuple[int, ...] = ()
    shift: tuple[int, ...] = ()

    def original_start(self, pos: int) -> int:
        """Original index of the normalised character at ``pos``."""
        if not self.run_at:
            return pos
        i = bisect_right(self.run_at, pos) - 1
        return pos + (self.shift[i] if i >= 0 else 0)

    def original_end(self, pos: int) -> int:
        """Original exclusive end for a normalised span ending at ``pos``.

        Diacritics, tatweel and joiners written on the last letter are included
        (the agent's "آسفٌ" is reported whole); invisible direction marks are not.
        """
        if pos <= 0:
            return self.original_start(0) if self.text else 0
        end = self.original_start(pos - 1) + 1
        if self.run_at:
            m = _ATTACHED_RUN_RE.match(self.original, end)
            if m:
                end = m.end()
        return end

    def span(self, start: int, end: int) -> tuple[int, int]:
        return self.original_start(start), self.original_end(end)


def normalize_text(text: str) -> NormalizedText:
    """Normalise ``text`` for matching; see the module docstring for what changes.

    Language-independent on purpose: the substitutions never collide between
    scripts, so mixed Arabic/English text is handled in one pass.
    """
    norm = text.translate(TRANSLATION)
    if len(norm) == len(text):
        return NormalizedText(text, norm)
    run_at: list[int] = []
    shift: list[int] = []
    deleted = 0
    for m in _DELETE_RUN_RE.finditer(text):
        run_at.append(m.start() - deleted)
        deleted += m.end() - m.start()
        shift.append(deleted)
    return NormalizedText(text, norm, tuple(run_at), tuple(shift))


def normalize_phrase(text: str) -> str:
    """Normalise lexicon text exactly like agent text (no offsets needed)."""
    return text.translate(TRANSLATION)


# ------------------------------------------------------------------- word keys

#: A marker appended to a word key when an inflectional suffix was removed. Only
#: rules that opt in (``inflect: true``) list the marked form, so "يمكنك" (you can)
#: never counts as the uncertainty word "يمكن" (maybe), while "آسفة" still counts
#: as "آسف". A private-use character can never occur in normalised text tokens.
INFLECTED = "\ue000"

_CONJ = ("", "و", "ف")
_PREP = ("", "ب", "ل", "ك")
_ART = ("", "ال")
#: Suffixes tried, longest first: pronoun "you" (sing./pl.), plural and dual
#: endings, feminine "ة" (already "ه"), and the accusative tanween alef ("آسفاً").
_SUFFIXES = ("كم", "ين", "ون", "ات", "ان", "ه", "ا", "ك")


def _proclitic_splits() -> list[tuple[str, str, bool]]:
    """(prefix as written, replacement, needs_long_stem) in shortest-prefix-first order."""
    out: list[tuple[str, str, bool]] = []
    for conj in _CONJ:
        for prep in _PREP:
            for art in _ART:
                prefix = conj + prep + art
                if not prefix:
                    continue
                strong = bool(prep or art)
                if prep == "ل" and art == "ال":
                    # ل + ال is written "لل" (للمدير); the stem keeps its article.
                    out.append((conj + "لل", "ال", True))
                    out.append((conj + "لل", "", True))
                    continue
                out.append((prefix, "", strong))
    seen: set[tuple[str, str, bool]] = set()
    uniq = []
    for item in sorted(out, key=lambda t: len(t[0])):
        if item not in seen and item[0]:
            seen.add(item)
            uniq.append(item)
    return uniq


_SPLITS = _proclitic_splits()


def _is_arabic_word(word: str) -> bool:
    return bool(word) and "\u0620" <= word[0] <= "\u064a"


class ArabicKeyer:
    """Maps an (already string-normalised) Arabic word to its matching key.

    The key is the word itself if it appears in the lexicon vocabulary; otherwise
    the first lexicon word reachable by removing attached proclitics (و ف ب ل ك,
    the article ال and combinations such as وبال, فال, لل); otherwise a lexicon
    word plus one inflectional suffix (marked with :data:`INFLECTED`); otherwise
    the word unchanged. Conditioning on the vocabulary keeps stripping from
    producing keys nobody listens for, and the length limits keep it from eating
    real words: a two-letter stem is only split off a conjunction ("وبس" -> "بس"),
    never off a preposition ("لبس", to wear, stays "لبس").
    """

    def __init__(self, vocabulary: Iterable[str]) -> None:
        self.vocabulary = frozenset(vocabulary)

    def __call__(self, word: str) -> str:
        w = word.lower()
        if w in self.vocabulary or not _is_arabic_word(w) or w.endswith(INFLECTED):
            return w
        stem = self._strip_proclitics(w, self.vocabulary)
        if stem is not None:
            return stem
        return self._strip_suffix(w) or w

    def unconditional(self, word: str) -> str | None:
        """The key ``word`` would get if it were not itself in the vocabulary.

        Used to find lexicon words that are also clitic/suffix forms of other
        lexicon words (e.g. "ولا" next to "لا"), so both spellings can be listed.
        """
        w = word.lower()
        if not _is_arabic_word(w):
            return None
        stem = self._strip_proclitics(w, self.vocabulary - {w})
        if stem is not None:
            return stem
        return self._strip_suffix(w, exclude=w)

    @staticmethod
    def _strip_proclitics(w: str, vocab: frozenset[str]) -> str | None:
        for prefix, repl, strong in _SPLITS:
            if not w.startswith(prefix):
                continue
            stem = repl + w[len(prefix) :]
            if len(stem) < (3 if strong else 2):
                continue
            if stem in vocab:
                return stem
            if len(stem) >= 3 and not stem.startswith("ال") and "ال" + stem in vocab:
                return "ال" + stem
        if len(w) >= 3 and "ال" + w in vocab:
            # an indefinite word for a phrase listed with the article ("مدير" / "المدير")
            return "ال" + w
        return None

    def _strip_suffix(self, w: str, exclude: str | None = None) -> str | None:
        vocab = self.vocabulary if exclude is None else self.vocabulary - {exclude}
        candidates = [w]
        for prefix, repl, strong in _SPLITS:
            if w.startswith(prefix):
                stem = repl + w[len(prefix) :]
                if len(stem) >= (4 if strong else 3):
                    candidates.append(stem)
        for cand in candidates:
            for suf in _SUFFIXES:
                if cand.endswith(suf) and len(cand) - len(suf) >= 3:
                    core = cand[: -len(suf)]
                    if core in vocab:
                        return core + INFLECTED
        return None


#: Chat spellings and British/American variants folded into one key.
ENGLISH_CHAT: dict[str, str] = {
    "pls": "please",
    "plz": "please",
    "plez": "please",
    "pleas": "please",
    "thx": "thanks",
    "thnx": "thanks",
    "thanx": "thanks",
    "tnx": "thanks",
    "u": "you",
    "ur": "your",
    "m": "am",  # "im" is tokenised "i" + "m"
    "sry": "sorry",
    "srry": "sorry",
    "soz": "sorry",
    "apologise": "apologize",
    "apologised": "apologized",
    "apologising": "apologizing",
    "apologises": "apologizes",
    "cuz": "because",
    "coz": "because",
    "ok": "okay",
    "k": "okay",
}


def english_key(word: str) -> str:
    w = word.lower()
    return ENGLISH_CHAT.get(w, w)


#: Alternative keys for English contractions whose spaCy norm is ambiguous:
#: "that's"/"thats"/"that is" and "I'd"/"I would" must all meet.
ENGLISH_ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "'s": ("is", "s"),
    "is": ("'s", "s"),
    "'d": ("would", "d"),
    "would": ("'d", "d"),
}


# --------------------------------------------------------------- language guess

_ARABIC_LETTER_RE = re.compile("[\u0620-\u064a\u0671-\u06d3\u06fa-\u06ff]")
_LATIN_LETTER_RE = re.compile("[A-Za-z\u00c0-\u024f]")


def detect_language(text: str) -> str:
    """ "ar" when Arabic letters are the majority of the letters, else "en"."""
    ar = len(_ARABIC_LETTER_RE.findall(text))
    latin = len(_LATIN_LETTER_RE.findall(text))
    return "ar" if ar > latin else "en"
