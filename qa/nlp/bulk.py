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
import pickle
import signal
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence, Sized
from contextlib import contextmanager, suppress
from itertools import islice
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as mp_wait
from operator import itemgetter
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not on Windows
    fcntl = None  # type: ignore[assignment]

from qa.nlp.analyzer import Analyzer, compact_findings, get_analyzer
from qa.nlp.pipeline import auto_qa
from qa.nlp.taxonomy import LANGS
from qa.nlp.types import Analysis, CompactAnalysis

#: (turns, channel, lang); turns as accepted by :func:`qa.nlp.types.coerce_turns`.
Job = tuple[Sequence[Any], str, str]
#: A job's result: (value, None) or (None, "ExceptionType: message").
Outcome = tuple[Any, str | None]

DEFAULT_CHUNK = 16
#: Flag -> CompactFlag (rule, turn, start, end), in C.
_FLAG_FIELDS = itemgetter(0, 5, 6, 7)
#: Chunks queued per worker: enough to keep it busy while this process analyses one.
IN_FLIGHT = 3
#: Pipe size asked for (Linux lets any process raise its pipes to 1 MiB by default).
PIPE_BYTES = 1 << 20
#: What a pipe is assumed to hold where its size cannot be read.
MIN_PIPE_BYTES = 16 << 10
#: Bytes a Connection adds to each message (length header; 12 for messages > 2 GiB).
_FRAME = 12
_SETPIPE: int | None = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
_GETPIPE: int | None = getattr(fcntl, "F_GETPIPE_SZ", None) if fcntl is not None else None
_END = object()
#: Worker settings: lexicon directory, rubric definition, hold silence threshold.
_Init = tuple[str | None, Mapping[str, Any] | None, float | None]


def compact(analysis: Analysis) -> CompactAnalysis:
    """The analysis as plain tuples (cheap to pickle); offsets exactly as in the flags.

    :meth:`Analyzer.analyze_compact` gives the same without building the flags.
    """
    return (
        tuple(map(_FLAG_FIELDS, analysis.flags)),
        compact_findings(analysis.findings),
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


#: The collector's young-generation threshold while a pool runs in this process
#: (CPython's default is 700 allocations).
RELAXED_GEN0 = 50_000
_RELAX_LOCK = threading.Lock()
_relax_depth = 0
_relax_saved: tuple[int, ...] = ()


@contextmanager
def _gc_relaxed() -> Iterator[None]:
    """Raise the collector's young-generation threshold while a pool runs here.

    This process unpickles the workers' answers and holds each chunk's results
    until they are handed over in job order. At the default threshold a
    collection came about once per chunk and walked all of them (the largest
    part of this process's time outside analysis); at :data:`RELAXED_GEN0` most
    results have been handed over and freed before one comes. The results are
    acyclic; any cyclic garbage the caller makes meanwhile is collected a little
    later, not lost. Concurrent and nested pools share one raise, and the last
    to finish restores the thresholds that were in force.
    """
    global _relax_depth, _relax_saved
    with _RELAX_LOCK:
        if _relax_depth == 0:
            _relax_saved = gc.get_threshold()
            if 0 < _relax_saved[0] < RELAXED_GEN0:
                gc.set_threshold(RELAXED_GEN0, *_relax_saved[1:])
        _relax_depth += 1
    try:
        yield
    finally:
        with _RELAX_LOCK:
            _relax_depth -= 1
            if _relax_depth == 0:
                gc.set_threshold(*_relax_saved)


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


def _init_worker(lexicon_dir: str | None) -> None:
    for lang in LANGS:
        get_analyzer(lang, lexicon_dir)
    # Analyzers, lexicons and the rubric live as long as the worker: keep the
    # collector from re-walking them (freeze is O(1); a collect() here would write
    # to every object inherited from a forked parent and copy all its pages).
    gc.freeze()


def _worker_main(inbox: Connection, outbox: Connection, init: _Init) -> None:
    """A worker's whole life: build analyzers, say so, then answer chunks until told
    to stop (``None``) or until the parent goes away (end of file on the inbox).

    Ctrl-C reaches the whole process group; the parent decides what happens (it
    closes the pool), so workers ignore SIGINT instead of each printing a traceback.
    A failure to start (a broken lexicon directory, say) is sent to the parent as
    text, so that it can say what went wrong.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _init_worker(init[0])
    except Exception as exc:
        outbox.send_bytes(_dumps(("failed", f"{type(exc).__name__}: {exc}")))
        return
    outbox.send_bytes(_dumps(("ready", os.getpid())))
    while True:
        try:
            data = inbox.recv_bytes()
        except EOFError:
            return
        reply = _answer(data, init)
        if reply is None:
            return
        outbox.send_bytes(reply)


def _answer(data: bytes, init: _Init) -> bytes | None:
    """The reply to one message (None: told to stop).

    The cyclic collector stays paused from unpickling the jobs to pickling the
    answers: a chunk's objects are freed by reference counting when this
    returns (anything cyclic waits for the next collection, nothing is lost),
    whereas with it running, unpickling ~400 turn dicts and building the answers
    set off collections that walk every live young object for nothing.
    """
    with _gc_paused():
        message = pickle.loads(data)
        if message is None:
            return None
        kind, chunk = message
        c0 = time.process_time()
        out = _run(kind, chunk, *init)
        return _dumps((out, time.process_time() - c0))


#: A turn dict's (speaker, text, start, end), in C; KeyError if one is missing.
_TURN_FIELDS = itemgetter("speaker", "text", "start", "end")


def _wire(jobs: list[Job]) -> list[Any]:
    """Jobs as sent to a worker: turn dicts go as (speaker, text, start, end) tuples.

    Unpickling ~25 dicts per interaction was the largest part of a worker's time
    outside analysis; the same values as tuples unpickle in well under half the
    time, and :func:`~qa.nlp.types.coerce_turns` takes them as they are. Turns of
    any other shape (Turn objects, dicts without times, anything malformed) go
    unchanged, so the worker checks them and reports errors exactly as before.
    """
    out: list[Any] = []
    for job in jobs:
        wired = None
        if type(job) is tuple and len(job) == 3 and type(job[0]) in (list, tuple):
            # anything unexpected (not a mapping, a key missing) -> sent as given
            with suppress(Exception):
                wired = (list(map(_TURN_FIELDS, job[0])), job[1], job[2])
        out.append(job if wired is None else wired)
    return out


def _dumps(obj: Any) -> bytes:
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def _run(
    kind: str,
    chunk: list[Job],
    lexicon_dir: str | None,
    rubric: Mapping[str, Any] | None,
    hold_silence_s: float | None,
) -> list[Outcome]:
    """Analyse one chunk. Analyzers are looked up once per chunk and language: the
    lookup checks the lexicon files (two ``stat`` calls), which per interaction
    cost 7% of the analysis."""
    out: list[Outcome] = []
    analyzers: dict[str, Analyzer] = {}
    with _gc_paused():
        for turns, channel, lang in chunk:
            try:
                analyzer = analyzers.get(lang)
                if analyzer is None:
                    analyzer = analyzers[lang] = get_analyzer(lang, lexicon_dir)
                if kind == "analyses":
                    out.append((analyzer.analyze_compact(turns, channel, lang), None))
                else:
                    result = auto_qa(
                        turns,
                        channel,
                        lang,
                        rubric,
                        lexicon_dir=lexicon_dir,
                        hold_silence_s=hold_silence_s,
                        analyzer=analyzer,
                    )
                    out.append((result.to_dict(), None))
            except Exception as exc:  # one bad interaction must not stop a batch
                out.append((None, f"{type(exc).__name__}: {exc}"))
    return out


# ----------------------------------------------------------------- parent side


def _preferences(k: int) -> tuple[str, ...]:
    """Process k's language order (``taxonomy.LANGS``, rotated k places): the caller
    (0) starts with English, worker 1 with Arabic, and so on round the list."""
    k %= len(LANGS)
    return LANGS[k:] + LANGS[:k]


def _lang_of(job: Any) -> Any:
    """A job's language, as a queue key (a malformed job still gets its own error)."""
    try:
        lang = job[2]
        hash(lang)
    except Exception:
        return None
    return lang


class WorkerError(RuntimeError):
    """A worker process failed to start, or ended while it still had chunks to answer."""


def _pipe(ctx: Any) -> tuple[Connection, Connection]:
    """A one-way pipe (reader, writer), as large as the system lets us make it.

    Linux pipes hold 64 KiB by default and a chunk of jobs is ~100 KiB, so the
    parent could queue at most one chunk ahead and the worker would wait for the
    next while the parent analyses. Where the size cannot be raised the pool is
    still correct, only less busy (see :meth:`AnalysisPool._can_send`).
    """
    reader, writer = ctx.Pipe(duplex=False)
    if _SETPIPE is not None:
        with suppress(OSError):  # above /proc/sys/fs/pipe-max-size: keep the default
            fcntl.fcntl(writer.fileno(), _SETPIPE, PIPE_BYTES)
    return reader, writer


def _pipe_capacity(conn: Connection) -> int:
    if _GETPIPE is not None:
        with suppress(OSError):
            return int(fcntl.fcntl(conn.fileno(), _GETPIPE))
    return MIN_PIPE_BYTES


class _Chunk:
    """Jobs taken for one process, with their places in job order."""

    __slots__ = ("data", "jobs", "seqs")

    def __init__(self, seqs: list[int], jobs: list[Job]) -> None:
        self.seqs = seqs
        self.jobs = jobs
        self.data: bytes | None = None  # pickled for a worker, once


class _Worker:
    __slots__ = (
        "capacity",
        "held",
        "inbox",
        "langs",
        "outbox",
        "pending",
        "process",
        "queued",
        "ready",
    )

    def __init__(self, ctx: Any, init: _Init, langs: tuple[str, ...]) -> None:
        inbox_r, self.inbox = _pipe(ctx)  # chunks: this process -> worker
        self.outbox, outbox_w = _pipe(ctx)  # answers: worker -> this process
        self.process = ctx.Process(
            target=_worker_main, args=(inbox_r, outbox_w, init), name="qa-analysis", daemon=True
        )
        self.process.start()
        # Our copies of the worker's ends: closed, so that a worker that dies shows
        # up as end-of-file on its outbox instead of a hang.
        inbox_r.close()
        outbox_w.close()
        self.capacity = _pipe_capacity(self.inbox)
        #: chunks sent and not yet answered, with their message sizes, oldest first
        self.pending: deque[tuple[_Chunk, int]] = deque()
        self.queued = 0  # bytes of those messages: an upper bound on what the pipe holds
        self.ready = False
        #: a chunk taken for this worker that did not fit in its pipe yet
        self.held: _Chunk | None = None
        #: languages this worker is given first (see AnalysisPool)
        self.langs = langs


class AnalysisPool:
    """``processes`` processes analysing: by default this one plus ``processes - 1``
    workers (``processes <= 1``: everything runs here).

    The calling process analyses chunks itself whenever it would otherwise only
    wait for results: on a 2-core machine one worker plus the caller beats two
    workers plus a caller that spends its core shipping jobs and results.
    ``parent_works=False`` gives ``processes`` workers instead.

    This process runs no helper threads. Between two of its own chunks it reads
    the answers that have arrived and tops up every worker's queue, all on the
    calling thread. (With ``concurrent.futures`` the executor's threads fought the
    analysing thread for the GIL: a worker left idle for want of jobs, or, with a
    short switch interval, this process's own chunks ~40% slower.) A chunk is sent
    only if it fits in the free space of the worker's pipe, or when the worker has
    nothing left and is waiting to read; so a send never waits for a busy worker,
    and no interaction is too large to get through.

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
        self._init: _Init = (str(lexicon_dir) if lexicon_dir else None, rubric, hold_silence_s)
        #: CPU seconds spent inside chunks (workers' and this process's) so far.
        self.worker_cpu = 0.0
        self._workers: list[_Worker] = []
        if self.workers > 0:
            ctx = mp.get_context(context)
            try:
                for k in range(self.workers):
                    self._workers.append(_Worker(ctx, self._init, _preferences(k + 1)))
            except BaseException:
                self.close()
                raise

    def __enter__(self) -> AnalysisPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers and reap them.

        A worker still holding chunks (a caller that stopped reading results
        early) is terminated: nobody will read its answers, and it could block
        writing them.
        """
        workers, self._workers = self._workers, []
        for w in workers:
            if w.pending:
                w.process.terminate()
            else:
                with suppress(OSError):  # already gone
                    w.inbox.send_bytes(_dumps(None))
            w.inbox.close()
        for w in workers:
            w.process.join(timeout=30)
            if w.process.is_alive():
                w.process.kill()
                w.process.join()
            w.outbox.close()

    def warm_up(self, timeout: float = 120.0) -> None:
        """Return once every worker has started and built its analyzers (timing runs)."""
        if self.parent_works:
            for lang in LANGS:
                get_analyzer(lang, self._init[0])
        deadline = time.monotonic() + timeout
        for w in self._workers:
            while not w.ready:
                if not w.outbox.poll(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"analysis worker {w.process.pid} not ready in {timeout}s")
                self._receive(w, None)

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
        if not self._workers:
            while chunk := list(islice(it, self.chunksize)):
                yield from self._here(kind, chunk)
            return
        # answers still owed to an earlier map that was abandoned are not ours
        for w in self._workers:
            w.held = None
        while any(w.pending for w in self._workers):
            self._collect(None, block=True)
        total = len(jobs) if isinstance(jobs, Sized) else None
        with _gc_relaxed():
            yield from self._interleave(kind, it, total)

    def _interleave(self, kind: str, it: Iterator[Job], total: int | None) -> Iterator[Outcome]:
        """Feed the workers, work here when they are all busy, hand results over in order.

        Jobs are read a little ahead into one queue per language, and a chunk holds
        one language: this process takes English first, the (first) worker Arabic
        first, each the other when its own runs short. A process that sees one
        language keeps one vocabulary and tokenizer cache hot and meets each new
        word once: ~9% less CPU in all than mixed chunks (measured).

        When the number of jobs is known, chunks shrink towards the end (at most
        1/(2P) of what is left: guided self-scheduling), so that the last chunks
        finish together instead of this process waiting for a worker's full queue.
        """
        workers = self._workers
        chunksize = self.chunksize
        window = 4 * chunksize * (len(workers) + 1)  # jobs read ahead
        queues: dict[Any, deque[tuple[int, Job]]] = {}
        waiting = 0  # jobs in the queues
        read = 0  # jobs read from ``it`` (the next job's place)
        exhausted = False
        done: dict[int, Outcome] = {}
        next_out = 0
        share = 2 * self.processes
        here = _preferences(0)

        def read_ahead() -> None:
            nonlocal waiting, read, exhausted
            while not exhausted and waiting < window:
                job = next(it, _END)
                if job is _END:
                    exhausted = True
                    return
                queues.setdefault(_lang_of(job), deque()).append((read, job))
                read += 1
                waiting += 1

        def take(langs: tuple[str, ...]) -> _Chunk | None:
            nonlocal waiting
            size = chunksize
            if total is not None:
                size = max(1, min(chunksize, (total - read + waiting) // share))
            queue = next((queues[x] for x in langs if queues.get(x)), None)
            if queue is None:
                queue = next((q for q in queues.values() if q), None)
                if queue is None:
                    return None
            taken = [queue.popleft() for _ in range(min(size, len(queue)))]
            waiting -= len(taken)
            return _Chunk([k for k, _ in taken], [job for _, job in taken])

        while True:
            self._collect(done, block=False)
            read_ahead()
            # Near the end of a known number of jobs a worker gets one chunk at a
            # time: chunks already in its pipe cannot be taken back, and a full
            # queue at the end is work this process would only wait for.
            depth = IN_FLIGHT
            if total is not None and total - read + waiting < chunksize * share:
                depth = 1
            for w in workers:  # top up every queue
                while len(w.pending) < depth:
                    if w.held is None:
                        w.held = take(w.langs)
                    chunk = w.held
                    if chunk is None:
                        break
                    if chunk.data is None:
                        with _gc_paused():
                            chunk.data = _dumps((kind, _wire(chunk.jobs)))
                    if not self._can_send(w, len(chunk.data)):
                        break
                    self._send(w, chunk)
                    w.held = None
                read_ahead()
            while next_out in done:
                yield done.pop(next_out)
                next_out += 1
            if exhausted and next_out == read:
                return
            if self.parent_works:
                # every worker has enough queued: work here rather than wait
                mine = take(here)
                if mine is None:  # or relieve a worker of a chunk its pipe has no room for
                    w = next((w for w in workers if w.held is not None), None)
                    if w is not None:
                        mine, w.held = w.held, None
                if mine is not None:
                    for k, outcome in zip(mine.seqs, self._here(kind, mine.jobs), strict=True):
                        done[k] = outcome
                    continue
            self._collect(done, block=True)

    # -- pipes ----------------------------------------------------------------

    @staticmethod
    def _can_send(w: _Worker, size: int) -> bool:
        """Will sending ``size`` bytes return at once? Yes if they fit beside every
        message not yet answered (those the worker read are counted too: a safe
        over-estimate), or if the worker has nothing to do, so it is reading."""
        return not w.pending or w.queued + size + _FRAME <= w.capacity

    @staticmethod
    def _send(w: _Worker, chunk: _Chunk) -> None:
        data = chunk.data
        assert data is not None
        w.inbox.send_bytes(data)
        chunk.data = None  # sent: the pickle is no longer needed
        w.pending.append((chunk, len(data) + _FRAME))
        w.queued += len(data) + _FRAME

    def _collect(self, done: dict[int, Outcome] | None, *, block: bool) -> None:
        """Read every answer that has arrived (with ``block``: wait for at least one)."""
        waiting = [w for w in self._workers if w.pending or not w.ready]
        if not waiting:
            return
        if block:
            by_conn = {w.outbox: w for w in waiting}
            ready = [by_conn[c] for c in mp_wait(list(by_conn))]  # type: ignore[index]
        else:
            ready = waiting
        for w in ready:
            while (w.pending or not w.ready) and w.outbox.poll():
                self._receive(w, done)

    def _receive(self, w: _Worker, done: dict[int, Outcome] | None) -> None:
        try:
            with _gc_paused():  # acyclic tuples: nothing for the collector to find
                message = pickle.loads(w.outbox.recv_bytes())
        except EOFError:
            raise self._died(w) from None
        if not w.ready:
            state, detail = message
            if state == "failed":
                raise WorkerError(f"analysis worker {w.process.pid} could not start: {detail}")
            w.ready = True
            return
        outcomes, cpu = message
        chunk, size = w.pending.popleft()
        w.queued -= size
        if done is not None:  # None: answers owed to an abandoned run, dropped
            done.update(zip(chunk.seqs, outcomes, strict=True))
        self.worker_cpu += cpu

    def _died(self, w: _Worker) -> WorkerError:
        w.process.join(timeout=5)
        code = w.process.exitcode
        if code is not None and code < 0:
            how = f"was killed by signal {-code}"
        else:
            how = f"exited with code {code}"
        return WorkerError(
            f"analysis worker {w.process.pid} {how} with {len(w.pending)} chunk(s) of "
            f"interactions unanswered; nothing from those chunks was returned"
        )
