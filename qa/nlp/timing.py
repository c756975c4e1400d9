"""Timing metrics from turn timestamps (pure functions, seconds throughout).

Definitions (the metric names are the shared vocabulary):

* ``first_response_s`` – from the first event of the interaction (the earliest
  turn start, system events such as "call connected" included) to the agent's
  first turn. An agent who opens the call immediately scores 0.
* ``response_latency_{mean,p90,max}_s`` (calls) – for every run of customer
  speech followed by agent speech: agent start minus the end of that customer
  run, floored at 0 (barge-in). A customer run that ends while the agent is
  still speaking ("mm-hmm", an interruption) is no wait for an answer and is
  not counted. p90 is nearest-rank, so it is always an observed latency.
* ``longest_silence_s`` (calls) – the longest gap in the union of all speech.
* ``hold_count`` / ``hold_total_s`` / ``hold_max_s`` (calls) – holds are (a)
  announced holds: after an agent turn that announced a hold (a lexicon rule with
  ``hold_announcement``), the longest silence of at least ``announced_hold_min_s``
  before the agent speaks again; and (b) unannounced silences of at least
  ``hold_silence_s``. A silence is counted once.
* ``talk_ratio`` (calls) – agent talk time / customer talk time (overlapping
  turns of one speaker are merged first); None when the customer never spoke.
* ``overtalk_s`` (calls) – total time agent and customer speech overlap.
* ``handle_time_s`` – last end (or last message time) minus first start.
* ``reply_time_{mean,max}_s`` (chat, email) – from the first unanswered customer
  message to the next agent message.
* ``unanswered_wait_s`` – how long the customer had been waiting for an answer
  when the interaction ended, if it ended on customer words that no agent turn
  answered: to the last event from the first unanswered message (chat, email),
  from the end of the last customer speech (calls), or from the call's start
  when no agent ever spoke on it. None when nothing was left unanswered. A
  customer's "thanks, bye" as the last message waits 0 s; a "hello??" an hour
  after an unanswered question waits an hour, which no reply time would show.

Missing or inconsistent timestamps (``None``, NaN, end before start) never
raise: the metrics that need them are ``None`` and ``problems`` says why. Chat
and email messages are instants, so a missing ``end`` is taken as ``start``.
A call turn with a start but no usable end still dates the agent's first
answer (``first_response_s``); every other call metric needs every turn's
interval. A missing start leaves nothing measurable.
Thresholds are applied elsewhere (``suggest.py``), from the rubric.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from qa.nlp.types import Turn, check_channel, coerce_turns

#: Raised whenever a metric's definition changes; part of every analysis stamp, so
#: ``qa analyze`` re-measures what older code stored (2: latency skips customer
#: words said while the agent speaks, ``unanswered_wait_s``, and a missing end
#: time no longer blanks ``first_response_s``).
METRICS_VERSION = "2"

#: Unannounced silence at least this long counts as a hold (seconds).
DEFAULT_HOLD_SILENCE_S = 60.0
#: After a hold announcement, a silence at least this long is the hold.
DEFAULT_ANNOUNCED_HOLD_MIN_S = 5.0


@dataclass(frozen=True)
class TimingMetrics:
    first_response_s: float | None = None
    response_latency_mean_s: float | None = None
    response_latency_p90_s: float | None = None
    response_latency_max_s: float | None = None
    longest_silence_s: float | None = None
    hold_count: int | None = None
    hold_total_s: float | None = None
    hold_max_s: float | None = None
    talk_ratio: float | None = None
    overtalk_s: float | None = None
    handle_time_s: float | None = None
    reply_time_mean_s: float | None = None
    reply_time_max_s: float | None = None
    unanswered_wait_s: float | None = None
    problems: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, float | int | None]:
        """Metric name -> value (``problems`` excluded)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "problems"}

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = self.as_dict()
        d["problems"] = list(self.problems)
        return d

    def get(self, name: str) -> float | int | None:
        if name == "problems" or name not in {f.name for f in fields(self)}:
            raise KeyError(name)
        return getattr(self, name)


@dataclass(frozen=True, slots=True)
class _Seg:
    index: int
    speaker: str
    start: float
    end: float


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def _merge(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _total(intervals: Sequence[tuple[float, float]]) -> float:
    return sum(e - s for s, e in intervals)


def _overlap(a: Sequence[tuple[float, float]], b: Sequence[tuple[float, float]]) -> float:
    i = j = 0
    total = 0.0
    while i < len(a) and j < len(b):
        s = max(a[i][0], b[j][0])
        e = min(a[i][1], b[j][1])
        if e > s:
            total += e - s
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def nearest_rank(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile (always one of ``values``)."""
    ordered = sorted(values)
    k = max(1, math.ceil(q * len(ordered)))
    return ordered[k - 1]


def _listed(indices: Sequence[int]) -> str:
    return ", ".join(str(i) for i in indices[:10]) + (" …" if len(indices) > 10 else "")


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def compute_metrics(
    turns: Iterable[Any],
    channel: str,
    *,
    hold_announcements: Iterable[int] = (),
    hold_silence_s: float = DEFAULT_HOLD_SILENCE_S,
    announced_hold_min_s: float = DEFAULT_ANNOUNCED_HOLD_MIN_S,
) -> TimingMetrics:
    """All timing metrics for one interaction (see the module docstring)."""
    check_channel(channel)
    turn_list: list[Turn] = coerce_turns(turns)
    instant = channel in ("chat", "email")
    problems: list[str] = []
    segs: list[_Seg] = []
    no_start: list[int] = []
    no_end: list[int] = []
    origin_candidates: list[float] = []
    ends: list[float] = []
    for i, t in enumerate(turn_list):
        start, end = t.start, t.end
        if instant and end is None:
            end = start
        if t.speaker == "system":
            if _finite(start):
                origin_candidates.append(start)  # type: ignore[arg-type]
            if _finite(end):
                ends.append(end)  # type: ignore[arg-type]
            continue
        if not _finite(start):
            no_start.append(i)
            continue
        if not _finite(end):
            no_end.append(i)
            continue
        if end < start:  # type: ignore[operator]
            problems.append(f"turn {i}: end {end} is before start {start}")
            no_end.append(i)
            continue
        segs.append(_Seg(i, t.speaker, float(start), float(end)))  # type: ignore[arg-type]
    if no_start:
        problems.append(
            f"start missing or invalid for turn(s) {_listed(no_start)}; timing not computed"
        )
        return TimingMetrics(problems=tuple(problems))
    if no_end:
        # the starts still date the agent's first answer; nothing else is measurable
        problems.append(
            f"end missing or invalid for turn(s) {_listed(no_end)}; only first_response_s computed"
        )
        starts = [float(t.start) for t in turn_list if t.speaker != "system"]  # type: ignore[arg-type]
        agent = [float(t.start) for t in turn_list if t.speaker == "agent"]  # type: ignore[arg-type]
        origin = min(starts + origin_candidates)
        return TimingMetrics(
            first_response_s=_r(min(agent) - origin if agent else None),
            problems=tuple(problems),
        )
    if not segs:
        return TimingMetrics(problems=("no timed agent or customer turns",))

    segs.sort(key=lambda s: (s.start, s.index))
    origin = min([s.start for s in segs] + origin_candidates)
    last = max([s.end for s in segs] + ends)
    agent_segs = [s for s in segs if s.speaker == "agent"]
    first_response = agent_segs[0].start - origin if agent_segs else None
    handle_time = last - origin

    if instant:
        replies: list[float] = []
        pending: float | None = None
        for s in segs:
            if s.speaker == "customer":
                if pending is None:
                    pending = s.start
            elif pending is not None:
                replies.append(max(0.0, s.start - pending))
                pending = None
        return TimingMetrics(
            first_response_s=_r(first_response),
            handle_time_s=_r(handle_time),
            reply_time_mean_s=_r(sum(replies) / len(replies)) if replies else None,
            reply_time_max_s=_r(max(replies)) if replies else None,
            unanswered_wait_s=_r(None if pending is None else last - pending),
            problems=tuple(problems),
        )

    # --- calls
    latencies: list[float] = []
    customer_end: float | None = None  # end of the customer speech still unanswered
    agent_until = -math.inf  # the agent is speaking until then
    for s in segs:
        if s.speaker == "customer":
            customer_end = s.end if customer_end is None else max(customer_end, s.end)
        else:
            if customer_end is not None:
                if customer_end > agent_until:
                    latencies.append(max(0.0, s.start - customer_end))
                customer_end = None
            agent_until = max(agent_until, s.end)
    unanswered: float | None = None
    if not agent_segs:
        unanswered = last - origin
    elif customer_end is not None and customer_end > agent_until:
        unanswered = last - customer_end

    speech = _merge((s.start, s.end) for s in segs)
    gaps = [(speech[k][1], speech[k + 1][0]) for k in range(len(speech) - 1)]
    longest_silence = max((e - s for s, e in gaps), default=0.0)

    counted: set[int] = set()
    holds: list[float] = []
    by_index = {s.index: s for s in segs}
    for idx in sorted(set(hold_announcements)):
        ann = by_index.get(idx)
        if ann is None or ann.speaker != "agent":
            continue
        resume = next((a.start for a in agent_segs if a.start > ann.end), math.inf)
        best: int | None = None
        for k, (gs, ge) in enumerate(gaps):
            if gs >= ann.end and ge <= resume and k not in counted:
                length = ge - gs
                if length >= announced_hold_min_s and (
                    best is None or length > gaps[best][1] - gaps[best][0]
                ):
                    best = k
        if best is not None:
            counted.add(best)
            holds.append(gaps[best][1] - gaps[best][0])
    for k, (gs, ge) in enumerate(gaps):
        if k not in counted and ge - gs >= hold_silence_s:
            counted.add(k)
            holds.append(ge - gs)

    agent_talk = _merge((s.start, s.end) for s in segs if s.speaker == "agent")
    customer_talk = _merge((s.start, s.end) for s in segs if s.speaker == "customer")
    customer_total = _total(customer_talk)
    return TimingMetrics(
        first_response_s=_r(first_response),
        response_latency_mean_s=_r(sum(latencies) / len(latencies)) if latencies else None,
        response_latency_p90_s=_r(nearest_rank(latencies, 0.9)) if latencies else None,
        response_latency_max_s=_r(max(latencies)) if latencies else None,
        longest_silence_s=_r(longest_silence),
        hold_count=len(holds),
        hold_total_s=_r(sum(holds)),
        hold_max_s=_r(max(holds, default=0.0)),
        talk_ratio=_r(_total(agent_talk) / customer_total) if customer_total > 0 else None,
        overtalk_s=_r(_overlap(agent_talk, customer_talk)),
        handle_time_s=_r(handle_time),
        unanswered_wait_s=_r(unanswered),
        problems=tuple(problems),
    )
