"""Helpers shared by the calibration, dispute, notification and audit pages.

User text (names, reasons, comments, transcripts) is shown with ``st.text`` or inside
dataframes, which never interpret markup; where a message must go through Markdown
(``st.error`` and friends), ``md_escape`` neutralises it first. No page uses
``unsafe_allow_html``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import streamlit as st

from qa.services.errors import ServiceError
from qa.ui.i18n import register
from rubrics import Answer, Criterion

Translate = Callable[..., str]

register(
    {
        "trust.status.open": {"en": "Open", "ar": "مفتوح"},
        "trust.status.closed": {"en": "Closed", "ar": "مغلق"},
        "trust.status.upheld": {"en": "Upheld (not changed)", "ar": "أُبقي التقييم كما هو"},
        "trust.status.adjusted": {"en": "Adjusted", "ar": "عُدّل التقييم"},
        "trust.status.withdrawn": {"en": "Withdrawn", "ar": "مسحوب"},
        "trust.yes": {"en": "Yes", "ar": "نعم"},
        "trust.no": {"en": "No", "ar": "لا"},
        "trust.na": {"en": "N/A", "ar": "لا ينطبق"},
        "trust.none": {"en": "Nothing here yet.", "ar": "لا يوجد شيء بعد."},
        "trust.error.conflict": {
            "en": "Someone else changed this in the meantime. Nothing was saved; the page now "
            "shows the latest version.",
            "ar": "غيّر شخص آخر هذا السجل في هذه الأثناء. لم يُحفظ شيء، وتعرض الصفحة الآن أحدث نسخة.",
        },
    }
)

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md_escape(text: str) -> str:
    """Backslash-escape Markdown punctuation so user text shows literally."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def show_error(exc: ServiceError | Exception) -> None:
    st.error(md_escape(str(exc)))


def status_label(status: str, t: Translate) -> str:
    return t(f"trust.status.{status}")


def criterion_label(criterion: Criterion, locale: str) -> str:
    return criterion.label.get(locale)


def value_label(criterion: Criterion, value: float | None, na: bool, t: Translate) -> str:
    """An answer as words: Yes/No, the scale number, points, or N/A."""
    if na:
        return t("trust.na")
    if value is None:
        return "—"
    if criterion.type == "yes_no":
        return t("trust.yes" if value >= 1 else "trust.no")
    return f"{value:g}"


_NA = "na"


def answer_input(
    criterion: Criterion, key: str, locale: str, t: Translate, current: Answer | None = None
) -> Answer:
    """One criterion's answer widget(s) in the viewer's language; returns what was entered
    (possibly incomplete: the service validates and the page shows its errors)."""
    label = criterion.label.get(locale)
    if criterion.type in ("yes_no", "scale"):
        if criterion.type == "yes_no":
            values: list[Any] = [1.0, 0.0]
        else:
            values = [
                float(v) for v in range(int(criterion.min_value), int(criterion.max_value) + 1)
            ]
        options: list[Any] = [None, *values, *([_NA] if criterion.allow_na else [])]
        index = 0
        if current is not None:
            wanted: Any = _NA if current.na else current.value
            index = options.index(wanted) if wanted in options else 0
        chosen = st.selectbox(
            md_escape(label),
            options,
            index=index,
            key=key,
            format_func=lambda v: (
                "—"
                if v is None
                else (t("trust.na") if v == _NA else value_label(criterion, v, False, t))
            ),
            help=criterion.guidance.get(locale),
        )
        if chosen == _NA:
            return Answer(value=None, na=True)
        return Answer(value=chosen)
    value = st.number_input(
        md_escape(label),
        min_value=0.0,
        max_value=float(criterion.max_value),
        value=None if current is None or current.na else current.value,
        step=0.5,
        key=key,
        help=criterion.guidance.get(locale),
    )
    na = False
    if criterion.allow_na:
        na = st.checkbox(t("trust.na"), value=bool(current and current.na), key=f"{key}_na")
    return Answer(value=None if na else value, na=na)
