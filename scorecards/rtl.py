"""Right-to-left and mixed-direction text for ReportLab, without ``rlbidi``.

ReportLab draws glyphs left to right exactly as given and does no OpenType
shaping, and its own RTL support needs ``rlbidi`` (not on PyPI). So text is
prepared here in three steps, in this order:

1. **shape** the logical-order text with ``arabic_reshaper`` (contextual
   presentation forms; joining depends on *logical* neighbours, so it must
   happen before any reordering);
2. **wrap** the shaped logical text into lines, measuring each word with the
   font's ``stringWidth`` (advances are additive in ReportLab, which applies no
   kerning, so the width of a line is the sum of its words and spaces);
3. **reorder each line** to visual order with the Unicode bidi algorithm
   (``python-bidi``) using the *paragraph's* base direction.

Reordering before wrapping would put the end of an Arabic paragraph on its
first line (line order reversed), which is why step 3 is per wrapped line.

User text is untrusted: bidi embedding/override/isolate controls (U+202A-202E,
U+2066-2069, e.g. a RLO that makes "txt.exe" read "exe.txt") are removed by
:func:`sanitize` so they cannot reorder what the report shows; each text block
is also laid out on its own, so nothing can leak into neighbouring text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from arabic_reshaper.arabic_reshaper import HARAKAT_RE
from arabic_reshaper.letters import FINAL, INITIAL, ISOLATED, LETTERS_ARABIC, MEDIAL, ZWJ
from bidi.algorithm import get_display as _get_display_mirroring
from bidi.mirror import MIRRORED
from reportlab.pdfbase import pdfmetrics

try:  # python-bidi >= 0.5: Rust unicode-bidi under the top-level name
    from bidi import get_display as _get_display_uba
except ImportError:  # 0.4.x: only the pure-Python implementation exists
    _get_display_uba = _get_display_mirroring

Direction = Literal["L", "R"]

__all__ = [
    "RESHAPER_CONFIG",
    "Direction",
    "TextLayout",
    "detect_direction",
    "ellipsize",
    "has_arabic",
    "has_rtl",
    "layout",
    "sanitize",
    "shape",
    "single_line",
    "text_width",
    "to_visual",
    "truncate",
    "wrap_logical",
]

ELLIPSIS = "…"

# Explicit embeddings, overrides and isolates: the characters that can reorder
# strong (letter) characters. Marks (LRM, RLM, ALM) only nudge neutrals and are
# kept for the bidi pass, then dropped before drawing with the other Cf chars.
_BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Deprecated format controls (ISS/ASS/IAFS/AAFS/NADS/NODS) change shaping or
# mirroring in some renderers; never meaningful in a transcript.
_DEPRECATED_FORMAT = "\u206a\u206b\u206c\u206d\u206e\u206f"
_STRIP_RE = re.compile(
    "[" + _BIDI_CONTROLS + _DEPRECATED_FORMAT + "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f]"
)
_NEWLINES_RE = re.compile("\r\n|[\r\x85\u2028\u2029]")
_SPACES_RE = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")

# Every Unicode "Cf" (format) character (Unicode 14 tables): none has a glyph in
# the font, so they are removed from the *visual* string after reordering.
_CF_RE = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f]"
)

# Characters with bidi class R or AL (Hebrew, Arabic, Syriac, Thaana, NKo, ...
# and their presentation forms).
_RTL_RE = re.compile(
    "[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefe\U00010800-\U00010fff\U0001e800-\U0001efff]"
)
_ARABIC_RE = re.compile("[\u0600-\u06ff\u0750-\u077f\u0870-\u08ff]")
_MIRRORED_RE = re.compile("[" + re.escape("".join(sorted(MIRRORED))) + "]")

# Reference configuration: what :func:`shape` reproduces (tests compare the two).
RESHAPER_CONFIG = {
    # Harakat would need mark positioning (GPOS) that ReportLab does not do;
    # drawn with their own advance they would land between letters.
    "delete_harakat": True,
    "support_ligatures": True,
    # Only the lam-alef ligatures, which Arabic requires; the optional "Allah"
    # word ligature is left out.
    "ARABIC LIGATURE ALLAH": False,
}
_FORMS: dict[str, tuple[str, str, str, str]] = dict(LETTERS_ARABIC)
_HARAKAT_RE = HARAKAT_RE
_LAM = "\u0644"
# alef variant -> (isolated, final) lam-alef ligature
_LAM_ALEF = {
    "\u0622": ("\ufef5", "\ufef6"),
    "\u0623": ("\ufef7", "\ufef8"),
    "\u0625": ("\ufef9", "\ufefa"),
    "\u0627": ("\ufefb", "\ufefc"),
}


def sanitize(text: str) -> str:
    """Make untrusted text safe to lay out.

    Removes bidi embedding/override/isolate controls and C0/C1 control
    characters, turns every line-separator convention into ``\\n`` and lone
    surrogates (from broken JSON) into U+FFFD. Words, digits and ordinary
    punctuation are left exactly as given.
    """
    text = _NEWLINES_RE.sub("\n", text)
    text = _STRIP_RE.sub("", text)
    if _SURROGATE_RE.search(text):
        text = _SURROGATE_RE.sub("\ufffd", text)
    return text


def has_rtl(text: str) -> bool:
    """True when ``text`` has a right-to-left letter (so it needs reordering)."""
    return _RTL_RE.search(text) is not None


def has_arabic(text: str) -> bool:
    """True when ``text`` has Arabic-script letters (so it needs shaping)."""
    return _ARABIC_RE.search(text) is not None


def detect_direction(text: str, default: Direction) -> Direction:
    """Base direction from the first strong character (UBA rules P2/P3).

    This is HTML's ``dir="auto"``: an English comment in an Arabic report stays
    a left-to-right paragraph and vice versa. Text without any letter (a number,
    an id) takes ``default``, the report's direction.
    """
    bidirectional = unicodedata.bidirectional
    for ch in text:
        kind = bidirectional(ch)
        if kind == "L":
            return "L"
        if kind in ("R", "AL"):
            return "R"
    return default


@lru_cache(maxsize=8192)
def shape(text: str) -> str:
    """Arabic contextual forms (presentation forms) in logical order.

    Same result as ``arabic_reshaper`` with :data:`RESHAPER_CONFIG` (a test
    checks this on random text) using its letter tables, but about 5x faster:
    the library re-reads its configuration and runs a regex per character,
    which made shaping the biggest single cost of an Arabic scorecard.
    """
    if not has_arabic(text):
        return text
    text = _HARAKAT_RE.sub("", text)
    letters: list[str] = []
    forms: list[int] = []  # -1: not a joining letter
    forms_of = _FORMS.get
    for ch in text:
        own = forms_of(ch)
        letters.append(ch)
        if own is None:
            forms.append(-1)
            continue
        if forms and forms[-1] != -1 and (own[FINAL] or own[MEDIAL]):
            prev = _FORMS[letters[-2]]
            if forms[-1] == ISOLATED and (prev[INITIAL] or prev[MEDIAL]):
                forms[-1] = INITIAL
                forms.append(FINAL)
                continue
            if forms[-1] == FINAL and prev[MEDIAL]:
                forms[-1] = MEDIAL
                forms.append(FINAL)
                continue
        forms.append(ISOLATED)
    out: list[str] = []
    i, n = 0, len(letters)
    while i < n:
        ch, form = letters[i], forms[i]
        if form == -1:
            out.append(ch)
        elif ch == ZWJ:
            pass  # it only served to join its neighbours
        elif ch == _LAM and i + 1 < n and letters[i + 1] in _LAM_ALEF:
            isolated, final = _LAM_ALEF[letters[i + 1]]
            out.append(isolated if form in (ISOLATED, INITIAL) else final)
            i += 1
        else:
            out.append(_FORMS[ch][form])
        i += 1
    return "".join(out)


@lru_cache(maxsize=16384)
def to_visual(line: str, base: Direction) -> str:
    """Reorder one already-wrapped, already-shaped line into drawing order.

    python-bidi 0.6 offers two implementations: ``bidi.get_display`` (Rust
    ``unicode-bidi``, current UBA, fast) which does not apply rule L4, so
    brackets in right-to-left runs would point the wrong way; and
    ``bidi.algorithm.get_display`` (the 0.4 pure-Python one) which mirrors
    them but is ~20x slower. Lines with a mirrorable character take the
    latter, all others the former.
    """
    if base == "L" and not has_rtl(line):
        visual = line
    elif _MIRRORED_RE.search(line):
        try:
            visual = _get_display_mirroring(line, base_dir=base)
        except Exception:  # the legacy code asserts on input it does not model
            visual = _get_display_uba(line, base_dir=base)
    else:
        visual = _get_display_uba(line, base_dir=base)
    return _CF_RE.sub("", visual)


_WIDTHS: dict[tuple[str, float, str], float] = {}
_WIDTHS_MAX = 200_000


def text_width(text: str, font_name: str, font_size: float) -> float:
    """``stringWidth`` with a memo: the same words and labels are measured
    over and over (every wrap, every right-aligned line, every report)."""
    key = (font_name, font_size, text)
    width = _WIDTHS.get(key)
    if width is None:
        if len(_WIDTHS) >= _WIDTHS_MAX:
            _WIDTHS.clear()
        width = _WIDTHS[key] = pdfmetrics.stringWidth(text, font_name, font_size)
    return width


def _width_fn(font_name: str, font_size: float):  # type: ignore[no-untyped-def]
    def width(s: str) -> float:
        return text_width(s, font_name, font_size)

    return width


def _split_long_word(word: str, max_width: float, width) -> list[str]:  # type: ignore[no-untyped-def]
    """Hard-break a word wider than the line (URLs, ids, runs of letters)."""
    pieces: list[str] = []
    current = ""
    for ch in word:
        if current and width(current + ch) > max_width:
            pieces.append(current)
            current = ch
        else:
            current += ch
    if current:
        pieces.append(current)
    return pieces


def wrap_logical(text: str, max_width: float, font_name: str, font_size: float) -> list[str]:
    """Greedy word wrap of *logical-order* text; one list item per line.

    ``text`` should already be sanitised and shaped; ``\\n`` forces a break.
    """
    width = _width_fn(font_name, font_size)
    space = width(" ")
    lines: list[str] = []
    for hard_line in text.split("\n"):
        words = _SPACES_RE.sub(" ", hard_line).strip().split(" ")
        if words == [""]:
            lines.append("")
            continue
        current: list[str] = []
        current_width = 0.0
        for word in words:
            w = width(word)
            if w > max_width:
                if current:
                    lines.append(" ".join(current))
                    current, current_width = [], 0.0
                *full, last = _split_long_word(word, max_width, width)
                lines.extend(full)
                current, current_width = [last], width(last)
                continue
            needed = w if not current else current_width + space + w
            if current and needed > max_width:
                lines.append(" ".join(current))
                current, current_width = [word], w
            else:
                current.append(word)
                current_width = needed
        if current:
            lines.append(" ".join(current))
    return lines


@dataclass(frozen=True, slots=True)
class TextLayout:
    """Lines ready to draw (visual order), their widths, the base direction."""

    lines: tuple[str, ...]
    direction: Direction
    widths: tuple[float, ...]


@lru_cache(maxsize=8192)
def layout(
    text: str,
    max_width: float,
    font_name: str,
    font_size: float,
    *,
    default: Direction = "L",
    base: Direction | None = None,
) -> TextLayout:
    """Sanitise, shape, wrap, then reorder each line: text ready for drawString.

    ``base`` forces the paragraph direction (report labels use the report's
    direction); otherwise it is detected from the text, falling back to
    ``default``. The same base direction is used for every line of the
    paragraph: detecting it per line would flip a line that happens to start
    with a Latin name inside an Arabic paragraph. Cached: report labels and
    column headers repeat in every scorecard.
    """
    clean = sanitize(text)
    direction = base or detect_direction(clean, default)
    shaped = shape(clean)
    lines = tuple(
        to_visual(line, direction) for line in wrap_logical(shaped, max_width, font_name, font_size)
    )
    widths = tuple(text_width(line, font_name, font_size) for line in lines)
    return TextLayout(lines, direction, widths)


def truncate(text: str, max_chars: int) -> str:
    """Shorten logical text at a word boundary, ending with an ellipsis.

    Transcript excerpts can be whole conversations; the scorecard shows a
    readable slice. Done on logical text so the ellipsis lands at the end of
    the sentence in either direction.
    """
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    space = cut.rfind(" ")
    if space > max_chars // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:،؛") + ELLIPSIS


def ellipsize(shaped: str, max_width: float, font_name: str, font_size: float) -> str:
    """Cut shaped logical text so that it plus an ellipsis fits ``max_width``."""
    width = _width_fn(font_name, font_size)
    if width(shaped) <= max_width:
        return shaped
    limit = max_width - width(ELLIPSIS)
    lo, hi = 0, len(shaped)
    while lo < hi:  # longest prefix that fits
        mid = (lo + hi + 1) // 2
        if width(shaped[:mid]) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return shaped[:lo].rstrip() + ELLIPSIS


def single_line(
    text: str,
    max_width: float,
    font_name: str,
    font_size: float,
    *,
    default: Direction = "L",
    base: Direction | None = None,
) -> str:
    """One visual line (chart labels): shaped, cut to fit, then reordered."""
    clean = _SPACES_RE.sub(" ", sanitize(text).replace("\n", " ")).strip()
    direction = base or detect_direction(clean, default)
    shaped = ellipsize(shape(clean), max_width, font_name, font_size)
    return to_visual(shaped, direction)
