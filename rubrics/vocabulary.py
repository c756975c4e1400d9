"""The shared vocabulary a rubric's ``evidence`` block may name.

These ids are fixed by the project brief: the NLP lexicons emit them and the
rubric validator rejects anything else, so a typo in a rubric is caught when
the YAML is saved rather than silently never matching at analysis time.
"""

from __future__ import annotations

from typing import Final, Literal

Channel = Literal["call", "chat", "email"]
CHANNELS: Final[tuple[str, ...]] = ("call", "chat", "email")

#: Agent behaviours whose presence supports a good answer (evidence ``use``).
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

#: Agent behaviours whose presence supports a bad answer (evidence ``avoid``).
AVOID_BEHAVIOURS: Final[frozenset[str]] = frozenset(
    {"dismissive", "blame", "argue", "negative_language", "uncertainty", "rude"}
)

#: Cues detected on customer turns; they describe the customer, not the agent,
#: so they cannot be evidence for or against an agent behaviour.
CUSTOMER_CUE_PREFIX: Final[str] = "customer_"

#: Whole-interaction findings (all of them support a bad answer).
FINDINGS: Final[frozenset[str]] = frozenset(
    {
        "missing_agent_reply",
        "missing_greeting",
        "missing_self_introduction",
        "missing_closing",
        "missing_empathy_after_frustration",
    }
)

#: Timing metrics the analyser measures (seconds unless the name says otherwise).
METRICS: Final[frozenset[str]] = frozenset(
    {
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
        "unanswered_wait_s",
    }
)
