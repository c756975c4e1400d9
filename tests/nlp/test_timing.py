"""Timing metrics on hand-built transcripts whose answers are worked out below."""

from __future__ import annotations

import pytest

from qa.nlp.pipeline import auto_qa
from qa.nlp.timing import compute_metrics, nearest_rank


def T(speaker: str, start: float | None, end: float | None, text: str = "...") -> dict:
    return {"speaker": speaker, "text": text, "start": start, "end": end}


# Speech union gaps: 5-6, 10-12, 20-20.5, 22-23, 26-26.5, 27-90 (63 s, after the hold
# announcement in turn 6), 100-101, 104-184 (80 s, unannounced), 186-186.5.
CALL = [
    T("system", 0.0, 0.0, "call connected"),
    T("agent", 2.0, 5.0, "Thank you for calling, my name is Sam."),
    T("customer", 6.0, 10.0),
    T("agent", 12.0, 15.0),  # latency 2
    T("customer", 15.0, 20.0),
    T("customer", 20.5, 22.0),  # same customer run: latency measured from 22
    T("agent", 23.0, 26.0, "May I place you on hold?"),  # latency 1, announces a hold
    T("customer", 26.5, 27.0, "sure"),
    T("agent", 90.0, 95.0, "Thank you for holding."),  # latency 63
    T("customer", 94.0, 100.0),  # 1 s of overtalk with the agent
    T("agent", 101.0, 104.0),  # latency 1
    T("customer", 184.0, 186.0),
    T("agent", 186.5, 190.0, "Have a great day"),  # latency 0.5
]


def test_call_metrics() -> None:
    m = compute_metrics(CALL, "call", hold_announcements=[6])
    assert m.problems == ()
    assert m.first_response_s == 2.0
    assert m.response_latency_mean_s == pytest.approx(13.5)  # (2+1+63+1+0.5)/5
    assert m.response_latency_p90_s == 63.0
    assert m.response_latency_max_s == 63.0
    assert m.longest_silence_s == 80.0
    assert (m.hold_count, m.hold_total_s, m.hold_max_s) == (2, 143.0, 80.0)
    assert m.talk_ratio == pytest.approx(20.5 / 19, abs=1e-3)
    assert m.overtalk_s == 1.0
    assert m.handle_time_s == 190.0
    assert m.reply_time_mean_s is None and m.reply_time_max_s is None


def test_hold_thresholds_are_parameters() -> None:
    m = compute_metrics(CALL, "call", hold_announcements=[6], hold_silence_s=100)
    assert (m.hold_count, m.hold_total_s, m.hold_max_s) == (1, 63.0, 63.0)
    m = compute_metrics(CALL, "call", hold_announcements=[], hold_silence_s=100)
    assert (m.hold_count, m.hold_total_s, m.hold_max_s) == (0, 0.0, 0.0)
    # without the announcement the 63 s silence is only a hold if it exceeds the threshold
    m = compute_metrics(CALL, "call", hold_silence_s=60)
    assert (m.hold_count, m.hold_total_s) == (2, 143.0)


def test_announcements_come_from_the_analysis() -> None:
    result = auto_qa(CALL, "call", "en")
    assert result.analysis.hold_announcements == (6,)
    assert result.metrics.hold_count == 2
    assert result.metrics.as_dict()["hold_max_s"] == 80.0


def test_missing_timestamps_give_none_not_errors() -> None:
    turns = [T("agent", 0.0, 2.0), T("customer", None, 5.0), T("agent", 6.0, 7.0)]
    m = compute_metrics(turns, "call")
    assert all(v is None for v in m.as_dict().values())
    assert m.problems[-1] == "start missing or invalid for turn(s) 1; timing not computed"


def test_inconsistent_timestamps_are_reported() -> None:
    turns = [T("customer", 0.0, 2.0), T("agent", 5.0, 3.0), T("agent", 9.0, 10.0)]
    m = compute_metrics(turns, "call")
    assert "turn 1: end 3.0 is before start 5.0" in m.problems
    # the start still dates the agent's first answer; intervals are unknown
    assert m.first_response_s == 5.0
    assert {k for k, v in m.as_dict().items() if v is not None} == {"first_response_s"}


def test_a_missing_end_keeps_the_first_response() -> None:
    """One untimed end must not blank a call: the starts still date the first answer."""
    turns = [
        T("system", -3.0, -3.0, "call connected"),
        T("agent", 0.0, 5.0),
        T("customer", 6.0, 10.0),
        T("agent", 12.0, None),
    ]
    m = compute_metrics(turns, "call")
    assert m.first_response_s == 3.0
    assert m.handle_time_s is None and m.longest_silence_s is None and m.talk_ratio is None
    assert m.problems == ("end missing or invalid for turn(s) 3; only first_response_s computed",)


def test_untimed_transcript() -> None:
    m = compute_metrics([{"speaker": "agent", "text": "hi"}], "chat")
    assert m.as_dict() == dict.fromkeys(m.as_dict())


def test_no_customer_speech_means_no_ratio() -> None:
    m = compute_metrics([T("agent", 0.0, 5.0)], "call")
    assert m.talk_ratio is None
    assert m.response_latency_max_s is None
    assert m.longest_silence_s == 0.0
    assert m.first_response_s == 0.0


CHAT = [
    T("customer", 0.0, None, "hi"),
    T("customer", 10.0, None, "anyone?"),
    T("agent", 40.0, None, "Hello!"),  # reply 40 (from the first unanswered message)
    T("customer", 50.0, None, "my order"),
    T("agent", 170.0, None, "Let me check"),  # reply 120
    T("agent", 175.0, None, "Found it"),
    T("customer", 200.0, None, "thanks"),  # never answered: no reply time, waited 0 s
]


@pytest.mark.parametrize("channel", ["chat", "email"])
def test_chat_and_email_reply_times(channel: str) -> None:
    m = compute_metrics(CHAT, channel)
    assert m.reply_time_mean_s == 80.0
    assert m.reply_time_max_s == 120.0
    assert m.first_response_s == 40.0
    assert m.handle_time_s == 200.0
    assert m.response_latency_max_s is None and m.talk_ratio is None and m.hold_count is None
    assert m.unanswered_wait_s == 0.0  # the customer's last "thanks" waited for nothing


def test_chat_left_unanswered() -> None:
    """A customer who asks again an hour later and gets nothing waited an hour, which
    no reply time shows (there was no reply)."""
    turns = [
        T("customer", 0.0, None, "hi"),
        T("agent", 5.0, None, "hello"),
        T("customer", 10.0, None, "still broken"),
        T("customer", 4000.0, None, "hello??"),
        T("system", 4100.0, None, "chat closed"),
    ]
    m = compute_metrics(turns, "chat")
    assert (m.reply_time_max_s, m.reply_time_mean_s) == (5.0, 5.0)
    assert m.unanswered_wait_s == 4090.0  # 4100 (last event) - 10 (first unanswered)
    assert compute_metrics(turns[:2], "chat").unanswered_wait_s is None


def test_customer_only_interactions_wait_from_the_start() -> None:
    call = [
        T("system", 0.0, 0.0, "call connected"),
        T("customer", 2.0, 5.0),
        T("customer", 10.0, 12.0),
    ]
    m = compute_metrics(call, "call")
    assert m.first_response_s is None and m.response_latency_max_s is None
    assert m.unanswered_wait_s == 12.0
    chat = [T("customer", 100.0, None), T("customer", 400.0, None)]
    assert compute_metrics(chat, "chat").unanswered_wait_s == 300.0


def test_call_trailing_customer_words() -> None:
    base = [T("agent", 0.0, 5.0), T("customer", 6.0, 8.0)]
    # the customer's "bye" ends the call: nothing to wait for
    assert compute_metrics(base, "call").unanswered_wait_s == 0.0
    # the line stays open 200 s after the customer spoke
    hung = [*base, T("system", 208.0, 208.0, "call ended")]
    assert compute_metrics(hung, "call").unanswered_wait_s == 200.0
    # said over the agent's last words: no wait
    over = [T("agent", 0.0, 10.0), T("customer", 8.0, 9.0, "bye")]
    assert compute_metrics(over, "call").unanswered_wait_s is None
    assert compute_metrics([T("agent", 0.0, 5.0)], "call").unanswered_wait_s is None


def test_backchannel_during_agent_speech_is_no_wait() -> None:
    """A customer's "mm-hmm" while the agent is still talking is no question waiting
    for an answer; the agent's own pause after their turn is not a latency."""
    turns = [
        T("agent", 0.0, 5.0),
        T("customer", 5.0, 8.0),
        T("agent", 9.0, 60.0),  # latency 1
        T("customer", 10.0, 11.0, "mm-hmm"),  # inside the agent's turn
        T("customer", 50.0, 65.0, "but wait"),  # starts over the agent, outlasts its turn
        T("agent", 62.0, 70.0),  # barges in on "but wait": latency 0
        T("agent", 66.0, 70.0),  # nothing unanswered
        T("customer", 71.0, 72.0),
        T("agent", 75.0, 80.0),  # latency 3
    ]
    m = compute_metrics(turns, "call")
    assert m.response_latency_max_s == 3.0
    assert m.response_latency_mean_s == pytest.approx(4 / 3, abs=1e-3)  # (1 + 0 + 3) / 3
    assert m.longest_silence_s == 3.0
    # before: the "mm-hmm" at 10-11 was "answered" at 62, a 51 s latency
    mm_hmm = [
        T("agent", 0.0, 5.0),
        T("customer", 5.0, 8.0),
        T("agent", 9.0, 60.0),
        T("customer", 10.0, 11.0, "mm-hmm"),
        T("agent", 62.0, 70.0),
    ]
    assert compute_metrics(mm_hmm, "call").response_latency_max_s == 1.0


def test_nearest_rank() -> None:
    assert nearest_rank([float(x) for x in range(1, 11)], 0.9) == 9.0
    assert nearest_rank([5.0], 0.9) == 5.0


def test_metric_lookup() -> None:
    m = compute_metrics(CHAT, "chat")
    assert m.get("reply_time_max_s") == 120.0
    with pytest.raises(KeyError):
        m.get("problems")
    assert m.to_dict()["problems"] == []
