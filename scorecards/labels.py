"""English and Arabic names of the shared auto-QA vocabulary, as printed on scorecards.

The ids are fixed by the project brief; the lexicons only carry phrases, so the
people-facing names of behaviours, findings and timing metrics live here, once,
for the aggregation, the coaching rules and any page that lists them.
"""

from __future__ import annotations

from typing import Final

#: behaviour id -> (English, Arabic)
BEHAVIOUR_LABELS: Final[dict[str, tuple[str, str]]] = {
    "greeting": ("Greeting", "التحية"),
    "self_introduction": ("Self-introduction", "التعريف بالنفس"),
    "courtesy": ("Courtesy", "التهذيب"),
    "empathy": ("Empathy", "التعاطف"),
    "apology": ("Apology", "الاعتذار"),
    "gratitude": ("Thanking the customer", "شكر العميل"),
    "ownership": ("Ownership", "تحمّل المسؤولية"),
    "positive_language": ("Positive language", "اللغة الإيجابية"),
    "hold_etiquette": ("Hold etiquette", "آداب الانتظار"),
    "closing": ("Closing", "الختام"),
    "dismissive": ("Dismissive language", "الاستخفاف"),
    "blame": ("Blaming", "إلقاء اللوم"),
    "argue": ("Arguing with the customer", "مجادلة العميل"),
    "negative_language": ("Negative language", "اللغة السلبية"),
    "uncertainty": ("Uncertain language", "لغة التردد"),
    "rude": ("Rude language", "الإساءة"),
}

#: whole-interaction finding id -> (English, Arabic)
FINDING_LABELS: Final[dict[str, tuple[str, str]]] = {
    "missing_agent_reply": ("No agent reply", "غياب رد الموظف"),
    "missing_greeting": ("No greeting", "غياب التحية"),
    "missing_self_introduction": ("No self-introduction", "غياب التعريف بالنفس"),
    "missing_closing": ("No proper closing", "غياب الختام المناسب"),
    "missing_empathy_after_frustration": (
        "No empathy after customer frustration",
        "غياب التعاطف بعد انزعاج العميل",
    ),
}

#: timing metric -> (English, Arabic)
METRIC_LABELS: Final[dict[str, tuple[str, str]]] = {
    "first_response_s": ("First response time", "زمن الرد الأول"),
    "response_latency_mean_s": ("Average response delay", "متوسط تأخر الرد"),
    "response_latency_p90_s": ("Response delay (90th percentile)", "تأخر الرد (المئين 90)"),
    "response_latency_max_s": ("Longest response delay", "أطول تأخر في الرد"),
    "longest_silence_s": ("Longest silence", "أطول صمت"),
    "hold_count": ("Holds per interaction", "مرات الانتظار في التواصل"),
    "hold_total_s": ("Total hold time", "إجمالي وقت الانتظار"),
    "hold_max_s": ("Longest hold", "أطول انتظار"),
    "talk_ratio": ("Talk ratio (agent / customer)", "نسبة الحديث (الموظف / العميل)"),
    "overtalk_s": ("Talking over the customer", "مقاطعة العميل"),
    "handle_time_s": ("Handle time", "مدة المعالجة"),
    "reply_time_mean_s": ("Average reply time", "متوسط زمن الرد"),
    "reply_time_max_s": ("Longest reply time", "أطول زمن للرد"),
    "unanswered_wait_s": ("Customer left unanswered", "انتظار العميل دون رد"),
}

CHANNEL_LABELS: Final[dict[str, tuple[str, str]]] = {
    "call": ("calls", "المكالمات"),
    "chat": ("chats", "المحادثات"),
    "email": ("emails", "البريد الإلكتروني"),
}


def behaviour_label(behaviour: str) -> tuple[str, str]:
    """Known ids get their names; an id added to a lexicon later shows as itself."""
    return BEHAVIOUR_LABELS.get(behaviour, (behaviour, behaviour))


def finding_label(finding: str) -> tuple[str, str]:
    return FINDING_LABELS.get(finding, (finding, finding))


def metric_label(metric: str) -> tuple[str, str]:
    return METRIC_LABELS.get(metric, (metric, metric))
