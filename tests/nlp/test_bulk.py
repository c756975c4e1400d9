"""Bulk analysis gives exactly the per-interaction results, in one process or a pool."""

from __future__ import annotations

import io
import json
import multiprocessing as mp
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from qa.importer import import_stream
from qa.models import AnalysisFinding, AnalysisFlag, AutoSuggestion, Interaction
from qa.nlp.analyzer import get_analyzer
from qa.nlp.bulk import AnalysisPool, analyze_many, compact
from qa.nlp.pipeline import auto_qa
from qa.services import rubrics as rubric_service
from qa.services.analysis import analyze_interactions

EN = [
    {
        "speaker": "agent",
        "text": "Good morning, my name is Sam. How can I help?",
        "start": 0,
        "end": 3,
    },
    {"speaker": "customer", "text": "This is ridiculous, I want a manager!", "start": 4, "end": 6},
    {"speaker": "agent", "text": "That's not my problem. Calm down.", "start": 9, "end": 11},
    {"speaker": "system", "text": "transfer", "start": 12, "end": 12},
    {"speaker": "agent", "text": "Thanks for holding, have a great day!", "start": 40, "end": 43},
]
AR = [
    {"speaker": "agent", "text": "السلام عليكم، معك أحمد من خدمة العملاء", "start": 0, "end": 3},
    {"speaker": "customer", "text": "هذا غير مقبول، للمرة الثالثة أتصل!", "start": 4, "end": 7},
    {"speaker": "agent", "text": "أنا آسف جداً على الإزعاج، لحظة من فضلك", "start": 8, "end": 11},
    {"speaker": "agent", "text": "شكراً لانتظارك، مع السلامة", "start": 70, "end": 72},
]
BAD = [{"speaker": "robot", "text": "hello"}]


def _jobs() -> list[tuple[list[dict[str, object]], str, str]]:
    jobs: list[tuple[list[dict[str, object]], str, str]] = []
    for i in range(40):
        turns = [dict(t, text=f"{t['text']} {i}") for t in (EN if i % 3 else AR)]
        jobs.append((turns, "chat" if i % 5 == 0 else "call", "en" if i % 3 else "ar"))
    return jobs


def test_analyze_many_equals_one_by_one() -> None:
    jobs = _jobs()
    expected = [get_analyzer(lang).analyze(turns, channel, lang) for turns, channel, lang in jobs]
    got = list(analyze_many(jobs, batch=7))
    assert got == expected
    assert any(a.flags for a in got) and any(a.findings for a in got)


def test_compact_keeps_offsets_and_findings() -> None:
    turns, channel, lang = _jobs()[1]
    analysis = get_analyzer(lang).analyze(turns, channel, lang)
    flags, findings, holds = compact(analysis)
    assert [(f.rule, f.turn, f.start, f.end) for f in analysis.flags] == list(flags)
    for _rule, turn, start, end in flags:
        assert turns[turn]["text"][start:end]  # type: ignore[index]
    assert [f.id for f in analysis.findings] == [f[0] for f in findings]
    assert holds == analysis.hold_announcements


def test_analyze_compact_equals_compact_of_analyze() -> None:
    """The direct compact path builds only the watched flags, yet gives exactly
    what compacting the full analysis gives: every flag, findings with their
    evidence, hold turns; on both languages, with and without findings."""
    jobs = _jobs()
    extra = [
        # a hold announcement, a quoted phrase, a negated apology, an answered cue
        [
            {"speaker": "agent", "text": "May I place you on hold for a moment?"},
            {"speaker": "customer", "text": 'You said "sorry" twice, this is unacceptable'},
            {"speaker": "agent", "text": "I'm not sorry, but I understand how you feel."},
        ],
        [{"speaker": "customer", "text": "شكرا"}],  # no agent turn: no findings
        [{"speaker": "agent", "text": ""}],  # nothing to analyse
    ]
    jobs += [(turns, "call", "en") for turns in extra]
    seen_holds = seen_evidence = False
    for turns, channel, lang in jobs:
        analyzer = get_analyzer(lang)
        full = analyzer.analyze(turns, channel, lang)
        got = analyzer.analyze_compact(turns, channel, lang)
        assert got == compact(full)
        seen_holds = seen_holds or bool(got[2])
        seen_evidence = seen_evidence or any(f[3] for f in got[1])
    assert seen_holds and seen_evidence
    with pytest.raises(ValueError, match="not 'ar'"):
        get_analyzer("en").analyze_compact(EN, "call", "ar")


@pytest.mark.parametrize(("processes", "parent_works"), [(1, True), (2, True), (2, False)])
def test_pool_results_in_job_order_and_errors_per_job(processes: int, parent_works: bool) -> None:
    jobs = _jobs()
    jobs.insert(5, (BAD, "call", "en"))
    context = "fork" if "fork" in mp.get_all_start_methods() else None
    with AnalysisPool(processes, context=context, chunksize=3, parent_works=parent_works) as pool:
        assert pool.workers == (0 if processes == 1 else processes - parent_works)
        pool.warm_up()
        outcomes = list(pool.analyses(jobs))
        # a stream of unknown length (fixed chunks) gives the same as a list
        # (chunks shrinking towards the end)
        assert list(pool.analyses(iter(jobs))) == outcomes
        qa = list(pool.auto_qa(jobs[:8]))
    assert len(outcomes) == len(jobs)
    value, error = outcomes[5]
    assert value is None and error is not None and error.startswith("TurnError: turn 0")
    for (turns, channel, lang), (value, error) in zip(jobs, outcomes, strict=True):
        if turns is BAD:
            continue
        assert error is None
        assert value == compact(get_analyzer(lang).analyze(turns, channel, lang))
    for (turns, channel, lang), (value, error) in zip(jobs[:8], qa, strict=True):
        if turns is BAD:
            assert value is None and error
        else:
            assert value == auto_qa(turns, channel, lang).to_dict()


def test_pool_rejects_a_bad_chunk_size() -> None:
    with pytest.raises(ValueError, match="chunksize"):
        AnalysisPool(1, chunksize=0)


def _import_many(session: Session, n: int) -> None:
    lines = [
        {
            "external_id": f"X-{i}",
            "channel": "call",
            "language": "en" if i % 3 else "ar",
            "started_at": "2026-10-05T10:00:00+03:00",
            "agent": {"id": f"AG-{i % 4}", "name": f"Agent {i % 4}"},
            "turns": EN if i % 3 else AR,
        }
        for i in range(n)
    ]
    data = b"".join(json.dumps(x, ensure_ascii=False).encode() + b"\n" for x in lines)
    import_stream(session, io.BytesIO(data), name="many.jsonl", fmt="jsonl")


def _stored(session: Session) -> tuple[list[tuple[object, ...]], ...]:
    ext = dict(session.execute(select(Interaction.id, Interaction.external_id)).all())
    flags = sorted(
        (ext[f.interaction_id], f.turn, f.start, f.end, f.rule, f.text)
        for f in session.scalars(select(AnalysisFlag))
    )
    findings = sorted(
        (ext[f.interaction_id], f.finding, f.turn, f.why)
        for f in session.scalars(select(AnalysisFinding))
    )
    suggestions = sorted(
        (ext[s.interaction_id], s.criterion_id, s.value, s.na, s.confidence)
        for s in session.scalars(select(AutoSuggestion))
    )
    return flags, findings, suggestions


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
def test_analyze_interactions_with_two_processes_stores_the_same(session: Session) -> None:
    rubric_service.install_builtin(session)
    _import_many(session, 150)  # enough for the pool to start two workers
    one = analyze_interactions(session, force=True)
    assert one.analysed == 150 and one.failed == []
    first = _stored(session)
    assert first[0] and first[1] and first[2]
    two = analyze_interactions(session, force=True, processes=2)
    assert two.analysed == 150 and two.failed == []
    assert _stored(session) == first


FORK = pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")


@FORK
def test_pool_sends_an_interaction_larger_than_any_pipe() -> None:
    # ~1.5 MB of UTF-8 in one job and ~40,000 flags back: more than a pipe holds
    # (64 KiB - 1 MiB); the parent must neither block on a busy worker nor deadlock.
    line = "أنا آسف جداً على الإزعاج، شكراً لانتظارك، مع السلامة. " * 300
    big = [{"speaker": "agent", "text": line, "start": 0.0, "end": 1.0}] * 50
    jobs = [*_jobs()[:6], (big, "call", "ar"), *_jobs()[:6], (big, "call", "ar")]
    with AnalysisPool(2, context="fork", chunksize=2) as pool:
        outcomes = list(pool.analyses(jobs))
    for (turns, channel, lang), (value, error) in zip(jobs, outcomes, strict=True):
        assert error is None
        assert value == compact(get_analyzer(lang).analyze(turns, channel, lang))
    assert len(outcomes[6][0][0]) > 40_000  # the big job's flags came back whole


@FORK
def test_pool_abandoned_midway_then_reused_gives_the_right_answers() -> None:
    jobs = _jobs()
    with AnalysisPool(2, context="fork", chunksize=2) as pool:
        first = pool.analyses(jobs)
        next(first)  # the worker now holds chunks nobody will read
        first.close()
        again = list(pool.analyses(jobs[:10]))
    expected = [compact(get_analyzer(lang).analyze(t, c, lang)) for t, c, lang in jobs[:10]]
    assert [value for value, _ in again] == expected


@FORK
def test_a_worker_that_dies_is_reported_not_waited_for() -> None:
    import os
    import signal

    from qa.nlp.bulk import WorkerError

    jobs = _jobs() * 20
    with AnalysisPool(2, context="fork", chunksize=4) as pool:
        pool.warm_up()
        results = pool.analyses(jobs)
        next(results)
        os.kill(pool._workers[0].process.pid, signal.SIGKILL)
        with pytest.raises(WorkerError, match=r"killed by signal 9 with \d+ chunk"):
            list(results)


def test_a_worker_that_cannot_start_says_why(tmp_path: Path) -> None:
    from qa.nlp.bulk import WorkerError

    (tmp_path / "en.yaml").write_text("rules: [this is not a rule]\n", encoding="utf-8")
    with (
        AnalysisPool(2, lexicon_dir=tmp_path, parent_works=False) as pool,
        pytest.raises(WorkerError, match=r"could not start: LexiconError"),
    ):
        list(pool.analyses([(EN, "call", "en")]))


@FORK
def test_chunks_hold_one_language_and_the_caller_takes_english_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from qa.nlp import bulk

    assert bulk._preferences(0) == ("en", "ar") and bulk._preferences(1) == ("ar", "en")
    jobs = _jobs() * 3  # English and Arabic interleaved, 120 jobs
    seen: list[list[str]] = []
    here = AnalysisPool._here

    def recording(self: AnalysisPool, kind: str, chunk: list[bulk.Job]) -> list[bulk.Outcome]:
        seen.append([lang for _t, _c, lang in chunk])
        return here(self, kind, chunk)

    monkeypatch.setattr(AnalysisPool, "_here", recording)
    with AnalysisPool(2, context="fork", chunksize=4) as pool:
        outcomes = list(pool.analyses(jobs))
    expected = [compact(get_analyzer(lang).analyze(t, c, lang)) for t, c, lang in jobs]
    assert [value for value, _ in outcomes] == expected  # still in job order
    assert seen and all(len(set(langs)) == 1 for langs in seen)
    mine = [lang for langs in seen for lang in langs]
    assert mine.count("en") >= 0.75 * len(mine)


def test_turn_dicts_travel_as_tuples_and_anything_else_as_given() -> None:
    from qa.nlp.bulk import _wire
    from qa.nlp.types import Turn

    dicts = [{"speaker": "agent", "text": "hi", "start": 1.0, "end": 2.0, "extra": "x"}]
    no_times = [{"speaker": "agent", "text": "hi"}]
    objects = [Turn("agent", "hi", None, None)]
    odd = ([{"speaker": "agent", "text": "hi", "start": 0.0, "end": 1.0}], "call")  # 2 items
    wired = _wire([(dicts, "call", "en"), (no_times, "chat", "en"), (objects, "call", "en"), odd])
    assert wired[0] == ([("agent", "hi", 1.0, 2.0)], "call", "en")
    assert wired[1] == (no_times, "chat", "en")  # a key missing: the worker reads the dicts
    assert wired[2] == (objects, "call", "en")
    assert wired[3] is odd


@FORK
def test_pool_answers_the_same_for_every_turn_shape() -> None:
    """Dict turns are sent as tuples: results and per-job errors must not change."""
    from qa.nlp.types import Turn

    bad_text = [{"speaker": "agent", "text": 7, "start": 0.0, "end": 1.0}]
    no_times = [{"speaker": t["speaker"], "text": t["text"]} for t in EN]
    as_turns = [Turn(t["speaker"], t["text"], None, None) for t in EN]  # type: ignore[arg-type]
    jobs = [*_jobs()[:9], (bad_text, "call", "en"), (no_times, "call", "en")]
    jobs += [(as_turns, "call", "en"), ([("agent", "hi there", 0.0, 1.0)], "chat", "en")]
    with AnalysisPool(2, context="fork", chunksize=2, parent_works=False) as pool:
        outcomes = list(pool.analyses(jobs))
    for (turns, channel, lang), (value, error) in zip(jobs, outcomes, strict=True):
        if turns is bad_text:
            assert value is None and error is not None
            assert error.startswith("TurnError: turn 0: text must be a string")
        else:
            assert error is None
            assert value == compact(get_analyzer(lang).analyze(turns, channel, lang))


def test_the_collector_threshold_is_raised_while_a_pool_runs_and_restored_after() -> None:
    import gc

    from qa.nlp.bulk import RELAXED_GEN0, _gc_relaxed

    before = gc.get_threshold()
    with _gc_relaxed():
        assert gc.get_threshold()[0] == max(before[0], RELAXED_GEN0)
        with _gc_relaxed():  # nested (or a second pool): one raise
            assert gc.get_threshold()[0] == max(before[0], RELAXED_GEN0)
        assert gc.get_threshold()[0] == max(before[0], RELAXED_GEN0)
    assert gc.get_threshold() == before
    context = "fork" if "fork" in mp.get_all_start_methods() else None
    with AnalysisPool(2, context=context) as pool:
        results = pool.analyses(_jobs())
        next(results)
        assert gc.get_threshold()[0] == max(before[0], RELAXED_GEN0)  # while it runs
        results.close()  # abandoned midway
        assert gc.get_threshold() == before
