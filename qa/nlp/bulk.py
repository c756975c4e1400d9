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

DEFAULT_CHUNK = 64
#: Chunks in flight per worker: enough to keep it busy while the parent reads results.
IN_FLIGHT = 2


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
    """A pool of analysis workers; ``processes <= 1`` runs everything in this process.

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
    ) -> None:
        if chunksize < 1:
            raise ValueError(f"chunksize must be >= 1, got {chunksize}")
        self.processes = max(1, processes)
        self.chunksize = chunksize
        self._init = (str(lexicon_dir) if lexicon_dir else None, rubric, hold_silence_s)
        self._executor: ProcessPoolExecutor | None = None
        #: CPU seconds the workers spent on the chunks returned so far.
        self.worker_cpu = 0.0
        if self.processes > 1:
            ctx = mp.get_context(context) if context else None
            self._executor = ProcessPoolExecutor(
                self.processes, mp_context=ctx, initializer=_init_worker, initargs=self._init
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
        if self._executor is None:
            for lang in ("en", "ar"):
                get_analyzer(lang, self._init[0])
            return
        seen: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(seen) < self.processes and time.monotonic() < deadline:
            futures = [self._executor.submit(_worker_pid, 0.05) for _ in range(self.processes)]
            seen.update(f.result() for f in futures)

    def analyses(self, jobs: Iterable[Job]) -> Iterator[Outcome]:
        """Per job: (:data:`CompactAnalysis`, None) or (None, error text)."""
        return self._map("analyses", jobs)

    def auto_qa(self, jobs: Iterable[Job]) -> Iterator[Outcome]:
        """Per job: (``AutoQA.to_dict()``, None) or (None, error text)."""
        return self._map("auto_qa", jobs)

    def _map(self, kind: str, jobs: Iterable[Job]) -> Iterator[Outcome]:
        it = iter(jobs)
        if self._executor is None:
            while chunk := list(islice(it, self.chunksize)):
                c0 = time.process_time()
                outcomes = _run(kind, chunk, *self._init)
                self.worker_cpu += time.process_time() - c0
                yield from outcomes
            return
        executor = self._executor
        pending: deque[Future[tuple[list[Outcome], float]]] = deque()
        limit = self.processes * IN_FLIGHT
        while True:
            while len(pending) < limit:
                chunk = list(islice(it, self.chunksize))
                if not chunk:
                    break
                pending.append(executor.submit(_run_chunk, kind, chunk))
            if not pending:
                return
            outcomes, cpu = pending.popleft().result()
            self.worker_cpu += cpu
            yield from outcomes
