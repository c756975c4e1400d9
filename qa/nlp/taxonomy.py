"""The shared behaviour / finding / metric vocabulary (fixed by the project brief).

Kept here as well as in the rubrics package so the NLP layer has no import-time
dependency on rubric code; both spell the same ids and a rubric naming anything
else is rejected by the rubric validator.
"""

from __future__ import annotations

from typing import Final, Literal

Lang = Literal["en", "ar"]
LANGS: Final[tuple[str, ...]] = ("en", "ar")
CHANNELS: Final[tuple[str, ...]] = ("call", "chat", "email")
SPEAKERS: Final[tuple[str, ...]] = ("agent", "customer", "system")

USE_BEHAVIOURS: Final[frozenset[str]] = frozenset(
    {
        "greeting",
        "self_introduction",
        "courtesy",
        "empathy",
        "apology",
        "gratitude",
        "ownership",
        "positive_language",
        "hold_etiquette",
        "closing",
    }
)
AVOID_BEHAVIOURS: Final[frozenset[str]] = frozenset(
    {"dismissive", "blame", "argue", "negative_language", "uncertainty", "rude"}
)
CUSTOMER_PREFIX: Final[str] = "customer_"
CUSTOMER_FRUSTRATION: Final[str] = "customer_frustration"
CUSTOMER_ESCALATION: Final[str] = "customer_escalation_request"

MISSING_GREETING: Final[str] = "missing_greeting"
MISSING_SELF_INTRODUCTION: Final[str] = "missing_self_introduction"
MISSING_CLOSING: Final[str] = "missing_closing"
MISSING_EMPATHY_AFTER_FRUSTRATION: Final[str] = "missing_empathy_after_frustration"
FINDINGS: Final[frozenset[str]] = frozenset(
    {
        MISSING_GREETING,
        MISSING_SELF_INTRODUCTION,
        MISSING_CLOSING,
        MISSING_EMPATHY_AFTER_FRUSTRATION,
    }
)

METRICS: Final[tuple[str, ...]] = (
    "first_response_s",
    "response_latency_mean_s",
    "response_latency_p90_s",
    "response_latency_max_s",
    "longest_silence_s",
    "hold_count",
    "hold_total_s",
    "hold_max_s",
    "talk_ratio",
    "overtalk_s",
    "handle_time_s",
    "reply_time_mean_s",
    "reply_time_max_s",
)
