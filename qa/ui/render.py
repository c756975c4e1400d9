"""Safe HTML for transcripts: chat bubbles with auto-QA marks, built from escaped pieces only.

Transcripts, comments and names are user data: an imported transcript may
contain ``<script>``, ``<img onerror=...>`` or bidi control characters that
would reorder the surrounding page (a "Trojan Source" style trick that makes
"refund 100" read as "001 dnufer"). Every piece of user text goes through
``escape_user_text`` before it is placed in markup, and the markup around it
is fixed strings plus whitelisted class names. Marks are cut from the ORIGINAL
text at the analyser's offsets *before* escaping, so escaping (which changes
lengths) never shifts a highlight.

This module does not import Streamlit, so it is unit-tested directly.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Protocol

from qa.services.autoqa import Flag
from qa.ui.i18n import register, t

# Embedding/override (U+202A-U+202E) and isolate (U+2066-U+2069) controls.
BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
_BIDI_VISIBLE = {ord(ch): f"[U+{ord(ch):04X}]" for ch in BIDI_CONTROLS}
# Other C0/C1 controls (except tab and newline) have no business in a transcript.
_CONTROLS = {c: None for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)}
_CONTROLS.update({c: None for c in range(0x80, 0xA0)})
_CONTROLS.update(_BIDI_VISIBLE)

SPEAKERS = ("agent", "customer", "system")
POLARITIES = ("use", "avoid", "cue")
_AR_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")

register(
    {
        "channel.call": {"en": "Call", "ar": "مكالمة"},
        "channel.chat": {"en": "Chat", "ar": "محادثة"},
        "channel.email": {"en": "Email", "ar": "بريد إلكتروني"},
        "language.en": {"en": "English", "ar": "الإنجليزية"},
        "language.ar": {"en": "Arabic", "ar": "العربية"},
        "speaker.agent": {"en": "Agent", "ar": "الموظف"},
        "speaker.customer": {"en": "Customer", "ar": "العميل"},
        "speaker.system": {"en": "System", "ar": "النظام"},
        "polarity.use": {"en": "good practice", "ar": "ممارسة جيدة"},
        "polarity.avoid": {"en": "to avoid", "ar": "يُتجنَّب"},
        "polarity.cue": {"en": "customer cue", "ar": "إشارة من العميل"},
        "flag.try": {"en": "Try instead: {text}", "ar": "بدلاً من ذلك: {text}"},
        "behavior.greeting": {"en": "Greeting", "ar": "الترحيب"},
        "behavior.self_introduction": {"en": "Self-introduction", "ar": "التعريف بالنفس"},
        "behavior.courtesy": {"en": "Courtesy", "ar": "اللباقة"},
        "behavior.empathy": {"en": "Empathy", "ar": "التعاطف"},
        "behavior.apology": {"en": "Apology", "ar": "الاعتذار"},
        "behavior.gratitude": {"en": "Gratitude", "ar": "الشكر"},
        "behavior.ownership": {"en": "Ownership", "ar": "تحمّل المسؤولية"},
        "behavior.positive_language": {"en": "Positive language", "ar": "لغة إيجابية"},
        "behavior.hold_etiquette": {"en": "Hold etiquette", "ar": "آداب الانتظار"},
        "behavior.closing": {"en": "Closing", "ar": "الختام"},
        "behavior.dismissive": {"en": "Dismissive", "ar": "عدم اكتراث"},
        "behavior.blame": {"en": "Blaming", "ar": "إلقاء اللوم"},
        "behavior.argue": {"en": "Arguing", "ar": "الجدال"},
        "behavior.negative_language": {"en": "Negative language", "ar": "لغة سلبية"},
        "behavior.uncertainty": {"en": "Uncertainty", "ar": "عدم اليقين"},
        "behavior.rude": {"en": "Rude", "ar": "الفظاظة"},
        "behavior.customer_frustration": {"en": "Customer frustration", "ar": "انزعاج العميل"},
        "behavior.customer_escalation_request": {
            "en": "Customer asks to escalate",
            "ar": "العميل يطلب التصعيد",
        },
        "finding.missing_agent_reply": {
            "en": "The customer got no agent reply",
            "ar": "لم يتلقَّ العميل أي رد من الموظف",
        },
        "finding.missing_greeting": {"en": "No greeting", "ar": "لا يوجد ترحيب"},
        "finding.missing_self_introduction": {
            "en": "Agent did not introduce themselves",
            "ar": "لم يعرّف الموظف بنفسه",
        },
        "finding.missing_closing": {"en": "No closing", "ar": "لا يوجد ختام"},
        "finding.missing_empathy_after_frustration": {
            "en": "No empathy after the customer's frustration",
            "ar": "لا تعاطف بعد انزعاج العميل",
        },
        "metric.first_response_s": {"en": "First response (s)", "ar": "أول رد (ث)"},
        "metric.response_latency_mean_s": {
            "en": "Mean response latency (s)",
            "ar": "متوسط زمن الاستجابة (ث)",
        },
        "metric.response_latency_p90_s": {
            "en": "Response latency, 90th percentile (s)",
            "ar": "زمن الاستجابة، المئين ٩٠ (ث)",
        },
        "metric.response_latency_max_s": {
            "en": "Longest response latency (s)",
            "ar": "أطول زمن استجابة (ث)",
        },
        "metric.longest_silence_s": {"en": "Longest silence (s)", "ar": "أطول صمت (ث)"},
        "metric.hold_count": {"en": "Holds", "ar": "مرات الانتظار"},
        "metric.hold_total_s": {"en": "Total hold (s)", "ar": "إجمالي الانتظار (ث)"},
        "metric.hold_max_s": {"en": "Longest hold (s)", "ar": "أطول انتظار (ث)"},
        "metric.talk_ratio": {
            "en": "Talk ratio (agent / customer)",
            "ar": "نسبة الحديث (الموظف / العميل)",
        },
        "metric.overtalk_s": {"en": "Overtalk (s)", "ar": "تداخل الحديث (ث)"},
        "metric.handle_time_s": {"en": "Handle time (s)", "ar": "مدة المعالجة (ث)"},
        "metric.reply_time_mean_s": {"en": "Mean reply time (s)", "ar": "متوسط زمن الرد (ث)"},
        "metric.reply_time_max_s": {"en": "Longest reply time (s)", "ar": "أطول زمن رد (ث)"},
        "metric.unanswered_wait_s": {
            "en": "Customer left unanswered (s)",
            "ar": "انتظار العميل دون رد (ث)",
        },
    }
)


class TurnLike(Protocol):
    seq: int
    speaker: str
    text: str
    start_s: float | None


def neutralise_bidi(text: str) -> str:
    """Show bidi override/isolate controls as visible ``[U+202E]`` and drop other controls."""
    return text.translate(_CONTROLS)


def escape_user_text(text: str | None) -> str:
    """User text made safe for HTML: controls neutralised, then ``html.escape`` (quotes too)."""
    return html.escape(neutralise_bidi(text or ""), quote=True)


def behavior_label(behavior: str, locale: str) -> str:
    return label_or_id("behavior", behavior, locale)


def label_or_id(prefix: str, ident: str, locale: str) -> str:
    """A registered label for a vocabulary id, or the id made readable when none exists."""
    key = f"{prefix}.{ident}"
    label = t(key, locale)
    return ident.replace("_", " ") if label == key else label


def fmt_clock(seconds: float | None, locale: str = "en") -> str:
    """``m:ss`` (or ``h:mm:ss``) from the start of the interaction."""
    if seconds is None:
        return "—"
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
    return text.translate(_AR_DIGITS) if locale == "ar" else text


def usable_flags(text: str, flags: Iterable[Flag]) -> list[Flag]:
    """Flags whose offsets fit ``text``, in order, without overlaps (the first one wins).

    A flag whose span no longer matches its recorded text comes from an analysis
    of a different version of the transcript; marking it would highlight the
    wrong words, so it is left out of the inline marks.
    """
    kept: list[Flag] = []
    end = 0
    for flag in sorted(flags, key=lambda f: (f.start, -f.end)):
        if not 0 <= flag.start < flag.end <= len(text):
            continue
        if flag.text and text[flag.start : flag.end] != flag.text:
            continue
        if flag.start < end:
            continue
        kept.append(flag)
        end = flag.end
    return kept


def flag_tooltip(flag: Flag, locale: str) -> str:
    """Plain text: behaviour, polarity and the suggested alternative (escaped by the caller)."""
    parts = [behavior_label(flag.behavior, locale), t(f"polarity.{_polarity(flag)}", locale)]
    if flag.suggestion:
        parts.append(t("flag.try", locale, text=flag.suggestion))
    return " · ".join(parts)


def _polarity(flag: Flag) -> str:
    return flag.polarity if flag.polarity in POLARITIES else "cue"


def marked_text_html(text: str, flags: Sequence[Flag], locale: str) -> str:
    """The turn's text, escaped, with ``<mark>`` around each usable flag's span."""
    out: list[str] = []
    pos = 0
    for flag in usable_flags(text, flags):
        out.append(escape_user_text(text[pos : flag.start]))
        out.append(
            f'<mark class="jq-flag jq-{_polarity(flag)}" '
            f'title="{escape_user_text(flag_tooltip(flag, locale))}">'
            f"{escape_user_text(text[flag.start : flag.end])}</mark>"
        )
        pos = flag.end
    out.append(escape_user_text(text[pos:]))
    return "".join(out)


def bubble_html(turn: TurnLike, flags: Sequence[Flag], locale: str) -> str:
    """One chat bubble: speaker and time, the text (``dir="auto"``) and flag notes.

    Notes under the bubble repeat what the tooltip says, because tooltips are
    invisible on touch screens and to keyboard users.
    """
    speaker = turn.speaker if turn.speaker in SPEAKERS else "system"
    seq = int(turn.seq)
    meta = (
        f"{escape_user_text(t(f'speaker.{speaker}', locale))} · {fmt_clock(turn.start_s, locale)}"
    )
    notes = [
        f'<li class="jq-note jq-{_polarity(f)}" dir="auto">'
        f"<b>{escape_user_text(behavior_label(f.behavior, locale))}</b> "
        f"({escape_user_text(t(f'polarity.{_polarity(f)}', locale))}): "
        f"«{escape_user_text(f.text or turn.text[f.start : f.end])}»"
        + (
            f" → {escape_user_text(t('flag.try', locale, text=f.suggestion))}"
            if f.suggestion
            else ""
        )
        + "</li>"
        for f in sorted(flags, key=lambda f: f.start)
    ]
    notes_html = f'<ul class="jq-notes">{"".join(notes)}</ul>' if notes else ""
    return (
        f'<div class="jq-turn jq-{speaker}" id="turn-{seq}">'
        f'<div class="jq-meta">{meta}</div>'
        f'<div class="jq-bubble" dir="auto">{marked_text_html(turn.text, flags, locale)}</div>'
        f"{notes_html}</div>"
    )


def note_html(text: str | None) -> str:
    """A user-written comment as a paragraph that keeps line breaks and its own direction."""
    return f'<div class="jq-text" dir="auto">{escape_user_text(text)}</div>'


TRANSCRIPT_CSS = """
<style>
.jq-transcript {display: flex; flex-direction: column; gap: .45rem; max-height: 34rem;
  overflow-y: auto; padding: .25rem .5rem; font-family: inherit;}
.jq-turn {max-width: 80%; display: flex; flex-direction: column;}
.jq-agent {align-self: flex-end;}
.jq-customer {align-self: flex-start;}
.jq-system {align-self: center; max-width: 90%;}
.jq-meta {font-size: .75rem; color: #5f6470; margin: 0 .4rem .1rem;}
.jq-agent .jq-meta {text-align: end;}
.jq-bubble {padding: .5rem .75rem; border-radius: .9rem; white-space: pre-wrap;
  overflow-wrap: anywhere; line-height: 1.5; unicode-bidi: isolate;}
.jq-agent .jq-bubble {background: #e3eefc; border-end-end-radius: .2rem;}
.jq-customer .jq-bubble {background: #f1f1f3; border-end-start-radius: .2rem;}
.jq-system .jq-bubble {background: transparent; border: 1px dashed #c3c6cf; color: #5f6470;
  font-size: .85rem;}
mark.jq-flag {padding: 0 .15rem; border-radius: .25rem; cursor: help; color: inherit;}
mark.jq-use {background: #c9efd4; border-bottom: 2px solid #1e8e3e;}
mark.jq-avoid {background: #fbd3d0; border-bottom: 2px solid #c5221f;}
mark.jq-cue {background: #feefc3; border-bottom: 2px solid #e37400;}
.jq-notes {margin: .15rem .4rem 0; padding-inline-start: 1rem; font-size: .78rem;
  color: #3c4043;}
.jq-note.jq-avoid {color: #a50e0e;}
.jq-note.jq-use {color: #137333;}
.jq-text {white-space: pre-wrap; overflow-wrap: anywhere; unicode-bidi: isolate;}
</style>
"""


def transcript_html(
    turns: Sequence[TurnLike], flags_by_turn: dict[int, list[Flag]], locale: str
) -> str:
    """All bubbles of a transcript in one scrollable column."""
    bubbles = "".join(bubble_html(turn, flags_by_turn.get(turn.seq, []), locale) for turn in turns)
    return f'<div class="jq-transcript">{bubbles}</div>'


_MD_SPECIAL = str.maketrans({ch: "\\" + ch for ch in "\\`*_{}[]()#+-.!|<>~$:=\"'&^"})


def escape_markdown(text: str | None) -> str:
    """User text for Streamlit's markdown-rendering labels (titles, captions, widget labels).

    Backslash-escaping every markdown punctuation character turns links,
    images, emphasis, headings and math into literal text; bidi controls are
    neutralised first. Newlines become spaces because labels are one line.
    """
    return neutralise_bidi(text or "").replace("\n", " ").translate(_MD_SPECIAL)
