"""Transcript HTML: user text is always escaped, marks follow the original offsets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from qa.services.autoqa import Flag
from qa.ui.render import (
    BIDI_CONTROLS,
    bubble_html,
    escape_user_text,
    fmt_clock,
    marked_text_html,
    neutralise_bidi,
    note_html,
    usable_flags,
)


@dataclass
class T:
    seq: int
    speaker: str
    text: str
    start_s: float | None = 0.0


def flag(turn: int, start: int, end: int, text: str, **kw: object) -> Flag:
    values: dict = {"behavior": "dismissive", "polarity": "avoid", "rule": "r1"} | kw
    return Flag(turn=turn, start=start, end=end, text=text, **values)


class _Tags(HTMLParser):
    """Collects the tags and attributes a browser would build from the markup."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text += data


def parse(markup: str) -> _Tags:
    parser = _Tags()
    parser.feed(markup)
    parser.close()
    return parser


HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)"> "quoted" & \'single\''


def test_hostile_text_becomes_text_not_tags() -> None:
    markup = bubble_html(T(0, "customer", HOSTILE), [], "en")
    parsed = parse(markup)
    assert {tag for tag, _ in parsed.tags} <= {"div"}
    assert all("onerror" not in attrs for _, attrs in parsed.tags)
    assert HOSTILE in parsed.text  # shown verbatim to the reader


def test_hostile_text_inside_a_mark_and_its_tooltip_is_escaped() -> None:
    text = 'ok <b onmouseover="x()">bad</b> end'
    span = '<b onmouseover="x()">bad</b>'
    start = text.index(span)
    f = flag(0, start, start + len(span), span, suggestion='"><script>alert(3)</script>')
    parsed = parse(bubble_html(T(0, "agent", text), [f], "en"))
    tags = [tag for tag, _ in parsed.tags]
    assert "script" not in tags and "b" in tags  # the only <b> is our own label in the note
    mark = next(attrs for tag, attrs in parsed.tags if tag == "mark")
    assert mark["class"] == "jq-flag jq-avoid"
    assert set(mark) == {"class", "title"}
    assert '"><script>alert(3)</script>' in (mark["title"] or "")
    assert all(set(attrs) <= {"class", "title", "dir", "id"} for _, attrs in parsed.tags)


def test_bidi_controls_are_made_visible() -> None:
    sneaky = "refund \u202e001\u202c and \u2066x\u2069"
    out = escape_user_text(sneaky)
    assert not set(out) & BIDI_CONTROLS
    assert "[U+202E]" in out and "[U+2066]" in out and "[U+2069]" in out
    assert not set(bubble_html(T(0, "agent", sneaky), [], "ar")) & BIDI_CONTROLS


@given(st.text())
def test_no_user_text_can_open_a_tag_or_reorder_the_page(text: str) -> None:
    out = escape_user_text(text)
    assert "<" not in out and ">" not in out and '"' not in out
    assert not set(out) & BIDI_CONTROLS
    # Escaping round-trips for ordinary text (nothing else is altered).
    if not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", text) and not set(text) & (
        BIDI_CONTROLS
    ):
        assert parse(f"<p>{out}</p>").text == text


def test_marks_follow_original_offsets_even_when_escaping_changes_lengths() -> None:
    text = "a < b & c: that's not my problem"
    start = text.index("not my problem")
    f = flag(0, start, start + len("not my problem"), "not my problem")
    out = marked_text_html(text, [f], "en")
    assert out.endswith(">not my problem</mark>")
    assert out.startswith("a &lt; b &amp; c: that&#x27;s <mark")


def test_arabic_offsets_point_into_the_original_text() -> None:
    text = "هذا مش شغلي، كان لازم تقرأ الشروط."
    start = text.index("مش شغلي")
    f = flag(3, start, start + len("مش شغلي"), "مش شغلي", suggestion="دعني أساعدك")
    markup = bubble_html(T(3, "agent", text, 12.0), [f], "ar")
    assert ">مش شغلي</mark>" in markup
    assert 'dir="auto"' in markup
    assert "الموظف · ٠:١٢" in markup
    assert "دعني أساعدك" in markup


def test_bad_stale_and_overlapping_flags_are_not_marked() -> None:
    text = "Well, that's not my problem"
    good = flag(0, 13, 27, "not my problem")
    overlapping = flag(0, 17, 27, "my problem", behavior="blame")
    stale = flag(0, 0, 4, "Nope")
    outside = flag(0, 20, 99, "")
    empty = flag(0, 5, 5, "")
    assert usable_flags(text, [overlapping, stale, outside, empty, good]) == [good]


def test_speakers_are_styled_and_unknown_speakers_whitelisted() -> None:
    assert 'class="jq-turn jq-customer"' in bubble_html(T(1, "customer", "hi"), [], "en")
    odd = bubble_html(T(1, 'x" onclick="y', "hi"), [], "en")
    assert 'class="jq-turn jq-system"' in odd and "onclick" not in odd


def test_note_keeps_direction_and_escapes() -> None:
    assert note_html("<i>hi</i>\nthere") == (
        '<div class="jq-text" dir="auto">&lt;i&gt;hi&lt;/i&gt;\nthere</div>'
    )
    assert neutralise_bidi("a\x00b\u202ec") == "ab[U+202E]c"


def test_clock() -> None:
    assert fmt_clock(None) == "—"
    assert fmt_clock(75.9) == "1:15"
    assert fmt_clock(3725, "ar") == "١:٠٢:٠٥"


def test_markdown_escape_turns_markup_into_literal_text() -> None:
    from qa.ui.render import escape_markdown

    out = escape_markdown("![x](http://evil/t.png) **b** [l](javascript:x) $x$\u202e")
    assert "](" not in out and "**" not in out and "\u202e" not in out
    assert out.startswith("\\!\\[x\\]\\(http\\:")
    assert out.endswith("\\[U\\+202E\\]")
