"""Lexicon test box: type a sentence, see which phrase rules fire and why.

QA leads and trainers use it to try phrase lists before changing a lexicon;
it runs the same analyser (and the same ``QA_LEXICON_DIR`` overrides) as
imports and ``qa flag``.
"""

from __future__ import annotations

import streamlit as st

from qa.nlp import get_analyzer, get_lexicon
from qa.nlp.lexicon import LexiconError
from qa.nlp.normalize import detect_language
from qa.ui.i18n import register
from qa.ui.registry import LEXICON_TESTERS
from qa.ui.render import TRANSCRIPT_CSS, behavior_label, marked_text_html
from qa.ui.safe import md
from qa.ui.session import require, settings

register(
    {
        "lexicon.title": {"en": "Lexicon test box", "ar": "تجربة قوائم العبارات"},
        "lexicon.text": {"en": "Sentence to test", "ar": "الجملة المراد تجربتها"},
        "lexicon.lang": {"en": "Language", "ar": "اللغة"},
        "lexicon.auto": {"en": "Detect", "ar": "تلقائي"},
        "lexicon.speaker": {"en": "Said by", "ar": "القائل"},
        "lexicon.none": {"en": "No phrase rule matched.", "ar": "لم تنطبق أي قاعدة."},
        "lexicon.version": {"en": "Lexicon version: {version}", "ar": "إصدار القائمة: {version}"},
        "lexicon.col.behaviour": {"en": "Behaviour", "ar": "السلوك"},
        "lexicon.col.polarity": {"en": "Use / avoid", "ar": "استخدام / تجنب"},
        "lexicon.col.text": {"en": "Matched text", "ar": "النص المطابق"},
        "lexicon.col.rule": {"en": "Rule", "ar": "القاعدة"},
        "lexicon.col.span": {"en": "Characters", "ar": "الموضع"},
        "lexicon.col.suggestion": {"en": "Say instead", "ar": "البديل المقترح"},
        "lexicon.col.tip": {"en": "Coaching tip", "ar": "نصيحة تدريبية"},
        "lexicon.error": {"en": "The lexicon could not be loaded:", "ar": "تعذر تحميل القائمة:"},
    }
)

viewer = require(LEXICON_TESTERS)
st.title(viewer.t("lexicon.title"), anchor=False)
text = st.text_area(viewer.t("lexicon.text"), height=120, max_chars=5000)
left, right = st.columns(2)
lang_choice = left.selectbox(
    viewer.t("lexicon.lang"),
    ["auto", "en", "ar"],
    format_func=lambda v: viewer.t("lexicon.auto") if v == "auto" else v,
)
speaker = right.selectbox(viewer.t("lexicon.speaker"), ["agent", "customer"])
if text.strip():
    lang = detect_language(text) if lang_choice == "auto" else lang_choice
    try:
        lexicon_dir = settings().lexicon_dir
        flags = get_analyzer(lang, lexicon_dir).flag_text(text, speaker)
        version = get_lexicon(lang, lexicon_dir).version
    except LexiconError as exc:
        st.error(viewer.t("lexicon.error"))
        st.text(str(exc))
        st.stop()
    st.caption(md(viewer.t("lexicon.version", version=version)))
    st.html(
        TRANSCRIPT_CSS
        + f'<div class="jq-bubble" dir="auto">{marked_text_html(text, flags, viewer.locale)}</div>'
    )
    if not flags:
        st.info(viewer.t("lexicon.none"))
    else:
        st.dataframe(
            [
                {
                    viewer.t("lexicon.col.behaviour"): behavior_label(f.behavior, viewer.locale),
                    viewer.t("lexicon.col.polarity"): f.polarity,
                    viewer.t("lexicon.col.text"): f.text,
                    viewer.t("lexicon.col.span"): f"{f.start}–{f.end}",
                    viewer.t("lexicon.col.rule"): f.rule,
                    viewer.t("lexicon.col.suggestion"): f.suggestion or "",
                    viewer.t("lexicon.col.tip"): f.coaching_tip or "",
                }
                for f in flags
            ],
            hide_index=True,
        )
