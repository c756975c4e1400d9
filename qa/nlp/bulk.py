"""Bulk analysis: many interactions in one process, or in a pool of worker processes.

The per-transcript work is all CPU (tokenising, matching, turning matches into
flags), so bulk runs scale with processes, not threads. What makes a pool pay
off is keeping everything that is not analysis out of the way:

* each worker builds its analyzers (and, for :meth:`AnalysisPool.auto_qa`,
  receives the rubric) **once**, in the pool initializer, then freezes those
  long-lived objects out of the garbage collector's way (``gc.freeze``);
* jobs travel as plain tuples in chunks (one round trip per chunk, not per
  interaction), and results come back as plain data: compact flag tuples
  ``(rule, turn, start, end)`` or ``AutoQA.to_dict()``; spaCy objects never
  cross a process boundary;
* at most a few chunks per worker are in flight, so an arbitrarily long job
  stream is never materialised in the parent.

Results are returned in job order. One job that raises does not stop the others:
its result carries the error text instead (the nightly job records it).
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any

from qa.nlp.analyzer import get_analyzer
from qa.nlp.pipeline import auto_qa
from qa.nlp.types import Analysis

#: (turns, channel, lang); turns as accepted by :func:`qa.nlp.types.coerce_turns`.
Job = tuple[Sequence[Any], str, str]
#: (rule id, turn index, start, end) -- offsets into the turn's original text.
CompactFlag = tuple[str, int, int, int]
#: (flags, findings as (id, why, turn, ((turn, start, end, text, rule), ...)), hold turns)
CompactAnalysis = tuple[
    tuple[CompactFlag, ...],
    tuple[tuple[str, str, int | None, tuple[tuple[Any, ...], ...]], ...],
    tuple[int, ...],
]
#: A job's result: (value, None) or (None, "ExceptionType: message").
Outcome = tuple[Any, str | None]

DEFAULT_CHUNK = 32
#: Chunks in flight per worker: enough to keep it busy while this process analyses.
IN_FLIGHT = 4
#: GIL switch interval while this process analyses next to its workers (see _map).
SWITCH_INTERVAL = 0.0005


def compact(analysis: Analysis) -> CompactAnalysis:
    """The analysis as plain tuples (cheap to pickle); offsets exactly as in the flags."""
    return (
        tuple((f[0], f[5], f[6], f[7]) for f in analysis.flags),
        tuple((f[0], f[1], f[2], tuple(tuple(e) for e in f[3])) for f in analysis.findings),
        analysis.hold_announcements,
    )


def analyze_many(
    jobs: Iterable[Job], *, lexicon_dir: Path | str | None = None, batch: int = 256
) -> Iterator[Analysis]:
    """Analyse jobs in this process, in order.

    The analysers' garbage is all acyclic (tuples, lists, Docs freed by reference
    counting), so the cyclic collector is paused while each batch runs: it would
    otherwise walk the young objects every few transcripts for nothing.
    """
    analyzers: dict[str, Any] = {}
    it = iter(jobs)
    while chunk := list(islice(it, batch)):
        out: list[Analysis] = []
        with _gc_paused():
            for turns, channel, lang in chunk:
                analyzer = analyzers.get(lang)
                if analyzer is None:
                    analyzer = analyzers[lang] = get_analyzer(lang, lexicon_dir)
                out.append(analyzer.analyze(turns, channel, lang))
        yield from out


@contextmanager
def _gc_paused() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


# ----------------------------------------------------------------- worker side

_STATE: dict[str, Any] = {}


def _init_worker(
    lexicon_dir: str | None, rubric: Mapping[str, Any] | None, hold_silence_s: float | None
) -> None:
    _STATE.clear()
    _STATE.update(lexicon_dir=lexicon_dir, rubric=rubric, hold=hold_silence_s)
    for lang in ("en", "ar"):
        get_analyzer(lang, lexicon_dir)
    # Analyzers, lexicons and the rubric live as long as the worker: keep the
    # collector from re-walking them (freeze is O(1); a collect() here would write
    # to every object inherited from a forked parent and copy all its pages).
    gc.freeze()


def _run_chunk(kind: str, chunk: list[Job]) -> tuple[list[Outcome], float]:
    """Worker entry point (settings come from the pool initializer); also returns
    the CPU time the chunk took in the worker."""
    c0 = time.process_time()
    out = _run(kind, chunk, _STATE.get("lexicon_dir"), _STATE.get("rubric"), _STATE.get("hold"))
    return out, time.process_time() - c0


def _worker_pid(delay: float) -> int:
    time.sleep(delay)  # keep this worker busy so the next task goes to another one
    return os.getpid()


def _run(
    kind: str,
    chunk: list[Job],
    lexicon_dir: str | None,
    rubric: Mapping[str, Any] | None,
    hold_silence_s: float | None,
) -> list[Outcome]:
    out: list[Outcome] = []
    with _gc_paused():
        for turns, channel, lang in chunk:
            try:
                if kind == "analyses":
                    analysis = get_analyzer(lang, lexicon_dir).analyze(turns, channel, lang)
                    out.append((compact(analysis), None))
                else:
                    result = auto_qa(
                        turns,
                        channel,
                        lang,
                        rubric,
                        lexicon_dir=lexicon_dir,
                        hold_silence_s=hold_silence_s,
                    )
                    out.append((result.to_dict(), None))
            except Exception as exc:  # one bad interaction must not stop a batch
                out.append((None, f"{type(exc).__name__}: {exc}"))
    return out


# ----------------------------------------------------------------- parent side


class AnalysisPool:
    """``processes`` processes analysing: by default this one plus ``processes - 1``
    workers (``processes <= 1``: everything runs here).

    The calling process analyses chunks itself whenever it would otherwise only
    wait for results: on a 2-core machine one worker plus the caller beats two
    workers plus a caller that spends its core shipping jobs and results (about
    a tenth of the analysis cost per transcript). ``parent_works=False`` gives
    ``processes`` workers instead.

    Use as a context manager (or call :meth:`close`). ``context`` names a
    multiprocessing start method ("fork", "forkserver", "spawn"; default: the
    platform's). ``rubric`` is the rubric definition :meth:`auto_qa` suggests
    scores for; it is sent to each worker once.
    """

    def __init__(
        self,
        processes: int,
        *,
        lexicon_dir: Path | str | None = None,
        rubric: Mapping[str, Any] | None = None,
        hold_silence_s: float | None = None,
        context: str | None = None,
        chunksize: int = DEFAULT_CHUNK,
        parent_works: bool = True,
    ) -> None:
        if chunksize < 1:
            raise ValueError(f"chunksize must be >= 1, got {chunksize}")
        self.processes = max(1, processes)
        self.workers = self.processes - 1 if parent_works else self.processes
        if self.processes == 1:
            self.workers = 0
        self.parent_works = parent_works or self.workers == 0
        self.chunksize = chunksize
        self._init = (str(lexicon_dir) if lexicon_dir else None, rubric, hold_silence_s)
        self._executor: ProcessPoolExecutor | None = None
        #: CPU seconds spent inside chunks (workers' and this process's) so far.
        self.worker_cpu = 0.0
        if self.workers > 0:
            ctx = mp.get_context(context) if context else None
            self._executor = ProcessPoolExecutor(
                self.workers, mp_context=ctx, initializer=_init_worker, initargs=self._init
            )

    def __enter__(self) -> AnalysisPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None

    def warm_up(self, timeout: float = 120.0) -> None:
        """Return once every worker has started and built its analyzers (timing runs)."""
        if self.parent_works:
            for lang in ("en", "ar"):
                get_analyzer(lang, self._init[0])
        if self._executor is None:
            return
        seen: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(seen) < self.workers and time.monotonic() < deadline:
            futures = [self._executor.submit(_worker_pid, 0.05) for _ in range(self.workers)]
            seen.update(f.result() for f in futures)

    def analyses(self, jobs: Iterable[Job]) -> Iterator[Outcome]:
        """Per job: (:data:`CompactAnalysis`, None) or (None, error text)."""
        return self._map("analyses", jobs)

    def auto_qa(self, jobs: Iterable[Job]) -> Iterator[Outcome]:
        """Per job: (``AutoQA.to_dict()``, None) or (None, error text)."""
        return self._map("auto_qa", jobs)

    def _here(self, kind: str, chunk: list[Job]) -> list[Outcome]:
        c0 = time.process_time()
        outcomes = _run(kind, chunk, *self._init)
        self.worker_cpu += time.process_time() - c0
        return outcomes

    def _map(self, kind: str, jobs: Iterable[Job]) -> Iterator[Outcome]:
        it = iter(jobs)
        if self._executor is None:
            while chunk := list(islice(it, self.chunksize)):
                yield from self._here(kind, chunk)
            return
        # While this process analyses, its executor threads (which pickle jobs for
        # the workers and read their results) wait for the GIL up to the switch
        # interval each time (5 ms by default), long enough to leave a worker idle
        # for much of the run (measured: 1.1-1.2 of 2 cores busy vs 1.9 with 0.5 ms).
        previous = sys.getswitchinterval()
        if self.parent_works:
            sys.setswitchinterval(min(previous, SWITCH_INTERVAL))
        try:
            yield from self._interleave(kind, it)
        finally:
            sys.setswitchinterval(previous)

    def _interleave(self, kind: str, it: Iterator[Job]) -> Iterator[Outcome]:
        executor = self._executor
        assert executor is not None
        # chunk results in job order: a worker's future, or a list computed here
        slots: deque[Future[tuple[list[Outcome], float]] | list[Outcome]] = deque()
        in_flight = 0
        limit = self.workers * IN_FLIGHT
        exhausted = False
        while True:
            while not exhausted and in_flight < limit:
                chunk = list(islice(it, self.chunksize))
                if not chunk:
                    exhausted = True
                    break
                slots.append(executor.submit(_run_chunk, kind, chunk))
                in_flight += 1
            # hand over whatever is ready at the head, in order
            while slots:
                head = slots[0]
                if isinstance(head, list):
                    slots.popleft()
                    yield from head
                elif head.done():
                    slots.popleft()
                    in_flight -= 1
                    outcomes, cpu = head.result()
                    self.worker_cpu += cpu
                    yield from outcomes
                else:
                    break
            if not slots and exhausted:
                return
            if self.parent_works and not exhausted:
                chunk = list(islice(it, self.chunksize))
                if chunk:
                    slots.append(self._here(kind, chunk))  # work instead of waiting
                    continue
                exhausted = True
                if not slots:
                    return
            head = slots[0]
            if not isinstance(head, list):
                head.result()  # wait for the oldest worker chunk (raises if it failed)
