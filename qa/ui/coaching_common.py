"""Labels and safe rendering shared by the coaching and scorecard pages.

Evidence excerpts are the agent's and customers' own words, so they are user
data: they are placed in markup only through ``escape_user_text`` (HTML
escaped, bidi controls made visible), and names or titles shown in Markdown
elements go through ``escape_markdown``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

import streamlit as st
from sqlalchemy.orm import Session

from qa.models import CoachingFlag
from qa.services import rubrics as rubric_service
from qa.services.errors import NotFound, ServiceError
from qa.ui.i18n import AR_MONTHS, fmt_month, register
from qa.ui.render import escape_markdown, escape_user_text, label_or_id

Translate = Callable[..., str]

register(
    {
        "coach.priority.high": {"en": "High", "ar": "عالية"},
        "coach.priority.medium": {"en": "Medium", "ar": "متوسطة"},
        "coach.priority.low": {"en": "Low", "ar": "منخفضة"},
        "coach.flag.open": {"en": "Open", "ar": "مفتوحة"},
        "coach.flag.in_session": {"en": "In a session", "ar": "ضمن جلسة"},
        "coach.flag.resolved": {"en": "Resolved", "ar": "تمت معالجتها"},
        "coach.flag.dismissed": {"en": "Dismissed", "ar": "مستبعدة"},
        "coach.session.planned": {"en": "Planned", "ar": "مخطط لها"},
        "coach.session.done": {"en": "Done", "ar": "تمت"},
        "coach.session.cancelled": {"en": "Cancelled", "ar": "أُلغيت"},
        "coach.all": {"en": "All", "ar": "الكل"},
        "coach.evidence": {"en": "Evidence", "ar": "الشواهد"},
        "coach.no_evidence": {"en": "No excerpts recorded.", "ar": "لا توجد مقتطفات مسجلة."},
        "coach.practice": {"en": "What to practise", "ar": "ما يجب التدرّب عليه"},
        "coach.col.id": {"en": "Id", "ar": "الرقم"},
        "coach.col.agent": {"en": "Agent", "ar": "الموظف"},
        "coach.col.period": {"en": "Month", "ar": "الشهر"},
        "coach.col.priority": {"en": "Priority", "ar": "الأولوية"},
        "coach.col.criterion": {"en": "Criterion", "ar": "البند"},
        "coach.col.title": {"en": "Recommendation", "ar": "التوصية"},
        "coach.col.status": {"en": "Status", "ar": "الحالة"},
        "coach.col.acknowledged": {"en": "Read by agent", "ar": "اطّلع عليها الموظف"},
        "coach.col.trainer": {"en": "Trainer", "ar": "المدرّب"},
        "coach.col.due": {"en": "Due", "ar": "الموعد"},
        "coach.col.focus": {"en": "Focus", "ar": "محاور التركيز"},
        "coach.col.flags": {"en": "Recommendations", "ar": "التوصيات"},
        "coach.col.notes": {"en": "Notes", "ar": "الملاحظات"},
        "coach.col.follow_up": {"en": "Follow-up", "ar": "المتابعة"},
        "coach.col.follow_up_date": {"en": "Follow-up date", "ar": "تاريخ المتابعة"},
        "coach.col.created": {"en": "Created", "ar": "تاريخ الإنشاء"},
        "coach.col.completed": {"en": "Completed", "ar": "تاريخ الإتمام"},
        "coach.col.sessions": {"en": "Sessions", "ar": "الجلسات"},
        "coach.yes": {"en": "Yes", "ar": "نعم"},
        "coach.no": {"en": "No", "ar": "لا"},
        "coach.error": {"en": "Not saved: {message}", "ar": "لم يُحفظ: {message}"},
        "coach.none_agent": {
            "en": "This account is not linked to an agent.",
            "ar": "هذا الحساب غير مرتبط بموظف.",
        },
    }
)

EVIDENCE_CSS = """
<style>
.jq-evidence {margin: .2rem 0 .6rem; padding-inline-start: 1.1rem;}
.jq-evidence li {margin-bottom: .25rem;}
.jq-evidence .jq-ref {font-family: monospace; font-size: .8rem; color: #5f6470;}
.jq-evidence .jq-quote {white-space: pre-wrap; overflow-wrap: anywhere; unicode-bidi: isolate;}
</style>
"""


def criterion_labels(session: Session, locale: str) -> dict[str, str]:
    """Criterion id -> label in ``locale`` from the latest built-in rubric (empty if none)."""
    try:
        rubric = rubric_service.rubric_of(rubric_service.latest_version(session))
    except NotFound:
        return {}
    return {c.id: c.label.get(locale) for _s, c in rubric.all_criteria()}


def topic_label(ident: str, labels: Mapping[str, str], locale: str) -> str:
    """A criterion's label, else a behaviour / finding / metric label, else the id."""
    if ident in labels:
        return labels[ident]
    for prefix in ("behavior", "finding", "metric"):
        label = label_or_id(prefix, ident, locale)
        if label != ident.replace("_", " "):
            return label
    return ident.replace("_", " ")


def flag_topic(flag: CoachingFlag, labels: Mapping[str, str], locale: str) -> str:
    return topic_label(flag.criterion_id or flag.subject.split(":", 1)[-1], labels, locale)


def flag_title(flag: CoachingFlag, locale: str) -> str:
    return flag.title_ar if locale == "ar" else flag.title_en


def flag_practice(flag: CoachingFlag, locale: str) -> str:
    return flag.practice_ar if locale == "ar" else flag.practice_en


def evidence_html(evidence: Iterable[Mapping[str, Any]] | None, t: Translate) -> str:
    """Interaction ids and excerpts as a list; every piece of text escaped."""
    items = [
        '<li dir="auto">'
        f'<span class="jq-ref">{escape_user_text(str(e.get("interaction_external_id") or ""))}'
        "</span> · "
        f'<span class="jq-quote">«{escape_user_text(str(e.get("excerpt") or ""))}»</span></li>'
        for e in evidence or []
    ]
    if not items:
        return f'<p class="jq-evidence">{escape_user_text(t("coach.no_evidence"))}</p>'
    return f'<ul class="jq-evidence">{"".join(items)}</ul>'


def show_flag_details(flag: CoachingFlag, locale: str, t: Translate) -> None:
    """Practice text and evidence of one flag (text via Markdown-escaped or HTML-escaped paths)."""
    st.markdown(f"**{t('coach.practice')}**")
    st.markdown(escape_markdown(flag_practice(flag, locale)))
    st.markdown(f"**{t('coach.evidence')}**")
    st.html(EVIDENCE_CSS + evidence_html(flag.evidence, t))


def fmt_day(day: date | None, locale: str) -> str:
    """A calendar date (no time: due and follow-up dates are days)."""
    if day is None:
        return "—"
    if locale == "ar":
        digits = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
        return f"{day.day} {AR_MONTHS[day.month - 1]} {day.year}".translate(digits)
    return day.strftime("%d %b %Y")


def fmt_period(period: str, locale: str) -> str:
    """``YYYY-MM`` as a month name (the raw text if it is not a period)."""
    try:
        year, month = (int(p) for p in period.split("-", 1))
        return fmt_month(year, month, locale)
    except ValueError:
        return period


def show_error(exc: ServiceError, t: Translate) -> None:
    st.error(t("coach.error", message=escape_markdown(str(exc))))


def yes_no(value: bool, t: Translate) -> str:
    return t("coach.yes" if value else "coach.no")
