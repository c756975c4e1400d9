"""The shared behaviour / finding / metric vocabulary.

The ids themselves live in ``rubrics.vocabulary`` (a small module with no
dependencies) so the rubric validator and the analyser can never disagree;
this module adds the NLP-only names.
"""

from __future__ import annotations

from typing import Final, Literal

from rubrics.vocabulary import AVOID_BEHAVIOURS, CHANNELS, FINDINGS, USE_BEHAVIOURS
from rubrics.vocabulary import METRICS as _METRICS

Lang = Literal["en", "ar"]
LANGS: Final[tuple[str, ...]] = ("en", "ar")

SPEAKERS: Final[tuple[str, ...]] = ("agent", "customer", "system")

CUSTOMER_PREFIX: Final[str] = "customer_"
CUSTOMER_FRUSTRATION: Final[str] = "customer_frustration"
CUSTOMER_ESCALATION: Final[str] = "customer_escalation_request"

MISSING_AGENT_REPLY: Final[str] = "missing_agent_reply"
MISSING_GREETING: Final[str] = "missing_greeting"
MISSING_SELF_INTRODUCTION: Final[str] = "missing_self_introduction"
MISSING_CLOSING: Final[str] = "missing_closing"
MISSING_EMPATHY_AFTER_FRUSTRATION: Final[str] = "missing_empathy_after_frustration"

METRICS: Final[tuple[str, ...]] = tuple(sorted(_METRICS))

__all__ = [
    "AVOID_BEHAVIOURS",
    "CHANNELS",
    "CUSTOMER_ESCALATION",
    "CUSTOMER_FRUSTRATION",
    "CUSTOMER_PREFIX",
    "FINDINGS",
    "LANGS",
    "METRICS",
    "MISSING_AGENT_REPLY",
    "MISSING_CLOSING",
    "MISSING_EMPATHY_AFTER_FRUSTRATION",
    "MISSING_GREETING",
    "MISSING_SELF_INTRODUCTION",
    "SPEAKERS",
    "USE_BEHAVIOURS",
    "Lang",
]
