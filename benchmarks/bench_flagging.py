"""Throughput of the auto-QA analyser against a raw Aho-Corasick baseline.

Generates N synthetic call transcripts (default 10,000, ~400 words each, 80%
English / 20% Arabic) deterministically from the shipped lexicon phrases plus
filler vocabulary (with tashkeel, tatweel, clitics and curly apostrophes mixed
in), then times, on the same texts in the same run:

* ``analyser`` – ``Analyzer.analyze`` (spaCy blank tokenizer + one PhraseMatcher
  + the token-pattern Matcher, negation/quote/overlap handling and findings);
* ``baseline`` – the same string normalisation (``normalize_text``) followed by
  one pyahocorasick automaton over every lexicon phrase, with word-boundary
  checks and offset mapping back to the original text (no clitics, contractions,
  negation or findings: the cheapest thing that could be called a flagger).

Usage::

    python benchmarks/bench_flagging.py            # 10,000 transcripts, 1 process
    python benchmarks/bench_flagging.py --n 2000
    python benchmarks/bench_flagging.py --processes 2

With ``--processes P`` the analyser also runs in :class:`qa.nlp.bulk.AnalysisPool`
(P processes: the caller and P-1 forked workers, each with its own analyzers;
transcripts go out in chunks as plain data and compact flag offsets and findings
come back, never spaCy Docs), started from the same warm-up as the one-process run.
Goals: one-process ratio >= 0.5; pool >= 0.9x the baseline's one-process speed.
The machine is shared, so the load average is printed, ratios are measured on
interleaved blocks, and CPU times (process time; the pool's workers via
``RUSAGE_CHILDREN``) are printed next to wall-clock rates. The pool run also
times the baseline on both cores at once (half a block per process), which shows
what two processes of plain CPU work get from the machine at that moment: on a
VM whose vCPUs share the host with other tenants that is often well under 2x,
and no pool can do better than the machine allows.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import os
import random
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ahocorasick

from qa.nlp.analyzer import get_analyzer, get_lexicon
from qa.nlp.bulk import AnalysisPool
from qa.nlp.lexicon import Lexicon
from qa.nlp.normalize import normalize_phrase, normalize_text

Transcript = tuple[str, list[dict[str, Any]]]

EN_FILLER = [
    "the",
    "account",
    "order",
    "number",
    "delivery",
    "billing",
    "invoice",
    "payment",
    "card",
    "refund",
    "package",
    "address",
    "email",
    "phone",
    "system",
    "update",
    "today",
    "yesterday",
    "week",
    "month",
    "please",
    "check",
    "service",
    "plan",
    "internet",
    "router",
    "connection",
    "password",
    "login",
    "app",
    "website",
    "store",
    "branch",
    "team",
    "request",
    "ticket",
    "issue",
    "problem",
    "status",
    "shipment",
    "and",
    "or",
    "so",
    "then",
    "also",
    "just",
    "now",
    "still",
    "already",
    "because",
    "when",
    "if",
    "while",
    "about",
    "my",
    "your",
    "our",
    "their",
    "this",
    "that",
    "these",
    "those",
    "it",
    "we",
    "you",
    "they",
    "he",
    "she",
    "was",
    "is",
    "are",
    "were",
    "be",
    "been",
    "have",
    "has",
    "had",
    "do",
    "does",
    "did",
    "will",
    "would",
    "can",
    "could",
    "button",
    "butler",
    "bunker",
    "sorrowful",
    "thanksgiving",
    "hellos",
    "hiking",
    "maybelline",
    "Omar",
    "Sarah",
    "John",
    "Fatima",
    "Priya",
    "2024",
    "15",
    "3.5",
    "#4821",
    "ok",
    "yes",
    "right",
]
AR_FILLER = [
    "الحساب",
    "الطلب",
    "رقم",
    "التوصيل",
    "الفاتورة",
    "الدفع",
    "البطاقة",
    "الاسترجاع",
    "الشحنة",
    "العنوان",
    "البريد",
    "الهاتف",
    "النظام",
    "التحديث",
    "اليوم",
    "أمس",
    "الأسبوع",
    "الشهر",
    "الخدمة",
    "الباقة",
    "الإنترنت",
    "الراوتر",
    "الاتصال",
    "كلمة",
    "المرور",
    "التطبيق",
    "الموقع",
    "الفرع",
    "الفريق",
    "الطلب",
    "التذكرة",
    "المشكلة",
    "و",
    "في",
    "من",
    "على",
    "إلى",
    "عن",
    "مع",
    "هذا",
    "هذه",
    "ذلك",
    "التي",
    "الذي",
    "كان",
    "يكون",
    "عندي",
    "عندك",
    "لقد",
    "قد",
    "وَالحِسَابُ",
    "بالفاتورة",
    "للطلب",
    "فالمشكلة",
    "وكذلك",
    "لبس",
    "بسيط",
    "بسبب",
    "يمكنك",
    "الأسف",
    "أحمد",
    "فاطمة",
    "محمد",
    "سارة",
    "١٢٣",
    "٢٠٢٤",
    "ـــ",
]
EN_DECOR = ("", "", "", ",", ".", "!", "?")
AR_DECOR = ("", "", "", "،", ".", "؟", "!")


def _phrases(lex: Lexicon, polarity: set[str]) -> list[str]:
    return [p for r in lex.rules if r.polarity in polarity for p in r.phrases]


def _curly(text: str) -> str:
    return text.replace("'", "\u2019")


def _tashkeel(word: str, rng: random.Random) -> str:
    if rng.random() < 0.3 and len(word) > 2:
        i = rng.randrange(1, len(word))
        word = word[:i] + rng.choice(("\u064e", "\u064f", "\u0650", "\u0651", "\u0640")) + word[i:]
    return word


def make_transcripts(n: int, seed: int = 7, density: float = 0.12) -> list[Transcript]:
    """N deterministic synthetic call transcripts of ~400 words.

    ``density`` is the chance that the next fragment is a lexicon phrase rather
    than a filler word (0.12 gives ~43 flags per transcript).
    """
    rng = random.Random(seed)
    lex = {lang: get_lexicon(lang) for lang in ("en", "ar")}
    agent_phr = {lang: _phrases(lex[lang], {"use", "avoid"}) for lang in lex}
    cust_phr = {lang: _phrases(lex[lang], {"cue"}) for lang in lex}
    out: list[Transcript] = []
    for _ in range(n):
        lang = "ar" if rng.random() < 0.2 else "en"
        filler = AR_FILLER if lang == "ar" else EN_FILLER
        decor = AR_DECOR if lang == "ar" else EN_DECOR
        turns: list[dict[str, Any]] = []
        words = 0
        t = 0.0
        speaker = "agent"
        while words < 400:
            parts: list[str] = []
            target = rng.randint(8, 24)
            count = 0
            while count < target:
                if rng.random() < density:
                    pool = agent_phr[lang] if speaker == "agent" else cust_phr[lang]
                    phrase = rng.choice(pool)
                    if lang == "ar":
                        phrase = (rng.choice(("", "", "و", "ف")) + phrase) if phrase else phrase
                        phrase = " ".join(_tashkeel(w, rng) for w in phrase.split())
                    elif rng.random() < 0.3:
                        phrase = _curly(phrase.capitalize())
                    parts.append(phrase + rng.choice(decor))
                    count += len(phrase.split())
                else:
                    w = rng.choice(filler)
                    if lang == "ar":
                        w = _tashkeel(w, rng)
                    parts.append(w + rng.choice(decor))
                    count += 1
            text = " ".join(parts)
            dur = count * 0.4
            turns.append({"speaker": speaker, "text": text, "start": t, "end": t + dur})
            t += dur + rng.choice((0.5, 1.0, 2.0, 4.0))
            words += count
            speaker = "customer" if speaker == "agent" else "agent"
        out.append((lang, turns))
    return out


# ----------------------------------------------------------------- baseline


class Baseline:
    """normalize_text + one Aho-Corasick automaton over all phrases of a language."""

    def __init__(self, lex: Lexicon) -> None:
        self.automaton = ahocorasick.Automaton()
        entries: dict[str, list[tuple[str, bool, int]]] = {}
        for r in lex.rules:
            for p in r.phrases:
                key = " ".join(normalize_phrase(p).lower().split())
                entries.setdefault(key, []).append((r.id, r.polarity == "cue", len(key)))
        for key, value in entries.items():
            self.automaton.add_word(key, value)
        self.automaton.make_automaton()

    def flag(self, turns: Sequence[dict[str, Any]]) -> list[tuple[str, int, int, int]]:
        out: list[tuple[str, int, int, int]] = []
        for ti, turn in enumerate(turns):
            speaker = turn["speaker"]
            if speaker == "system":
                continue
            customer = speaker == "customer"
            nt = normalize_text(turn["text"])
            s = nt.text.lower()
            n = len(s)
            for end, hits in self.automaton.iter(s):
                for rule, cue, length in hits:
                    if cue != customer:
                        continue
                    start = end - length + 1
                    if start > 0 and s[start - 1].isalnum():
                        continue
                    if end + 1 < n and s[end + 1].isalnum():
                        continue
                    os, oe = nt.span(start, end + 1)
                    out.append((rule, ti, os, oe))
        return out


def run_analyser(data: list[Transcript]) -> tuple[float, int]:
    analyzers = {lang: get_analyzer(lang) for lang in ("en", "ar")}
    flags = 0
    t0 = time.perf_counter()
    for lang, turns in data:
        flags += len(analyzers[lang].analyze(turns, "call", lang).flags)
    return time.perf_counter() - t0, flags


def run_baseline(data: list[Transcript]) -> tuple[float, int]:
    base = {lang: Baseline(get_lexicon(lang)) for lang in ("en", "ar")}
    flags = 0
    t0 = time.perf_counter()
    for lang, turns in data:
        flags += len(base[lang].flag(turns))
    return time.perf_counter() - t0, flags


def run_interleaved(data: list[Transcript], block: int = 100) -> dict[str, float]:
    """Time both on alternating blocks so that they share the machine's load.

    On a busy 2-core machine, timing one whole run after the other lets a
    neighbour's burst land on only one of them; alternating 100-transcript
    blocks keeps the ratio honest. Process CPU time is recorded as well: it is
    what the work costs, whatever else runs on the machine.
    """
    analyzers = {lang: get_analyzer(lang) for lang in ("en", "ar")}
    base = {lang: Baseline(get_lexicon(lang)) for lang in ("en", "ar")}
    r = dict.fromkeys(("a_wall", "a_cpu", "b_wall", "b_cpu", "a_flags", "b_flags"), 0.0)
    for i in range(0, len(data), block):
        chunk = data[i : i + block]
        w0, c0 = time.perf_counter(), time.process_time()
        for lang, turns in chunk:
            r["a_flags"] += len(analyzers[lang].analyze(turns, "call", lang).flags)
        w1, c1 = time.perf_counter(), time.process_time()
        for lang, turns in chunk:
            r["b_flags"] += len(base[lang].flag(turns))
        w2, c2 = time.perf_counter(), time.process_time()
        r["a_wall"] += w1 - w0
        r["a_cpu"] += c1 - c0
        r["b_wall"] += w2 - w1
        r["b_cpu"] += c2 - c1
    return r


def own_pages(data: list[Transcript]) -> int:
    """Touch every transcript once, outside the timings, after the runner is forked.

    After ``fork`` both processes share the transcripts' memory copy-on-write, and
    the first process to touch an object (a reference count is a write) pays a
    page fault and a copy. Untouched, that fell on whichever side ran first: the
    analyser in the one-process run (the baseline then found the pages copied),
    the pool in the pool run. Neither side should pay for the harness's fork.
    """
    return sum(1 for _, turns in data for turn in turns for _value in turn.values())


def open_pool(processes: int) -> AnalysisPool:
    """Start the pool (this process plus forked workers) and wait until it is up."""
    pool = AnalysisPool(processes, context="fork")
    pool.warm_up()
    return pool


def _pool_runner(conn: Any, processes: int, data: list[Transcript]) -> None:
    """In a process forked right after the warm-up: run the pool on the blocks it is sent.

    Forking here gives the pool (the runner's own analyzers and its forked
    workers) exactly the warm-up the one-process run started from, not the caches
    the one-process run has filled since. The pool lives across blocks, as it
    does across the batches of ``qa analyze``. It starts once the one-process run
    is over, so that its start-up does not share the machine with that run.
    """
    # Everything this process inherited (the benchmark's 10,000 transcripts, the
    # warmed analyzers) lives as long as it does: frozen, the collector neither
    # walks it nor, by writing its headers, copies every inherited page (a full
    # collection here cost ~130 ms). The pool's workers do the same at start-up.
    gc.freeze()
    conn.recv()
    own_pages(data)
    base = {lang: Baseline(get_lexicon(lang)) for lang in ("en", "ar")}
    pool = open_pool(processes)
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    while (message := conn.recv()) is not None:
        side, i, j = message
        if side == "pool":
            conn.send(run_pool(pool, data[i:j]))
        else:  # this process's half of a baseline run on both cores
            conn.send(sum(len(base[lang].flag(turns)) for lang, turns in data[i:j]))
    pool.close()  # workers exit and are reaped: their CPU time becomes visible
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    conn.send(
        {
            "workers_cpu": pool.worker_cpu,  # inside the chunks, all processes
            # workers' whole lives: + start-up, IPC, copy-on-write faults
            "workers_lifetime_cpu": (children1.ru_utime - children0.ru_utime)
            + (children1.ru_stime - children0.ru_stime),
        }
    )
    conn.close()


def run_pool(pool: AnalysisPool, data: list[Transcript]) -> dict[str, float]:
    """Wall time, flags, and the CPU time of the calling process."""
    jobs = [(turns, "call", lang) for lang, turns in data]
    c0 = time.process_time()
    t0 = time.perf_counter()
    flags = 0
    for result, error in pool.analyses(jobs):
        if error is not None:
            raise RuntimeError(error)
        flags += len(result[0])
    return {
        "wall": time.perf_counter() - t0,
        "flags": flags,
        "parent_cpu": time.process_time() - c0,
    }


def run_pool_interleaved(conn: Any, data: list[Transcript], block: int) -> dict[str, float]:
    """Pool, one-process baseline and two-process baseline on rotating blocks.

    The machine's speed drifts by a third over minutes (other tenants of the
    host), so timing the whole pool run and then the whole baseline run lets the
    drift decide the ratio; rotating blocks (and which goes first) makes all
    sides share it, as the one-process comparison does.

    The baseline on both cores at once (this process and the runner, half a
    block each) measures what two processes of plain CPU work get from the
    machine at that moment: on a VM whose two vCPUs share the host with other
    tenants it is often well under twice one process, and a pool cannot do
    better than that.
    """
    base = {lang: Baseline(get_lexicon(lang)) for lang in ("en", "ar")}
    keys = ("wall", "flags", "parent_cpu", "b_wall", "b_flags", "b2_wall", "b2_flags")
    r = dict.fromkeys(keys, 0.0)
    conn.send("start")
    sides = ("pool", "base", "both")
    for k, i in enumerate(range(0, len(data), block)):
        j = min(len(data), i + block)
        for side in sides[k % 3 :] + sides[: k % 3]:
            if side == "pool":
                conn.send(("pool", i, j))
                for key, value in conn.recv().items():
                    r[key] += value
            elif side == "base":
                t0 = time.perf_counter()
                for lang, turns in data[i:j]:
                    r["b_flags"] += len(base[lang].flag(turns))
                r["b_wall"] += time.perf_counter() - t0
            else:
                mid = (i + j) // 2
                t0 = time.perf_counter()
                conn.send(("both", mid, j))
                for lang, turns in data[i:mid]:
                    r["b2_flags"] += len(base[lang].flag(turns))
                r["b2_flags"] += conn.recv()
                r["b2_wall"] += time.perf_counter() - t0
    conn.send(None)
    r.update(conn.recv())
    return r


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="number of transcripts")
    ap.add_argument("--processes", type=int, default=1, help="also run a worker pool")
    ap.add_argument("--block", type=int, default=1000, help="transcripts per pool/baseline block")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--density", type=float, default=0.12, help="share of fragments that are lexicon phrases"
    )
    args = ap.parse_args(argv)
    print(f"start: {_load()} ({os.cpu_count()} CPUs)")

    t0 = time.perf_counter()
    for lang in ("en", "ar"):
        get_analyzer(lang)
    print(f"build analyzers: {time.perf_counter() - t0:.2f}s")
    data = make_transcripts(args.n, args.seed, args.density)
    words = sum(len(t["text"].split()) for _, turns in data for t in turns)
    ar = sum(1 for lang, _ in data if lang == "ar")
    print(f"transcripts: {len(data)} ({ar} Arabic), {words / len(data):.0f} words each on average")

    # warm both (tokenizer cache, lexemes) on the same texts before timing
    run_analyser(data[: min(len(data), 500)])
    run_baseline(data[: min(len(data), 500)])
    runner = None
    if args.processes > 1 and "fork" not in mp.get_all_start_methods():
        print("--processes needs the fork start method (the pool starts from the warm-up)")
    elif args.processes > 1:
        ctx = mp.get_context("fork")
        conn, child_conn = ctx.Pipe()
        runner = ctx.Process(target=_pool_runner, args=(child_conn, args.processes, data))
        runner.start()
        own_pages(data)

    r = run_interleaved(data)
    n = len(data)
    a_rate, b_rate = n / r["a_wall"], n / r["b_wall"]
    a_cpu, b_cpu = n / r["a_cpu"], n / r["b_cpu"]
    print(f"analyser: {a_rate:.1f} transcripts/s ({int(r['a_flags'])} flags; {a_cpu:.1f}/s of CPU)")
    print(f"baseline: {b_rate:.1f} transcripts/s ({int(r['b_flags'])} flags; {b_cpu:.1f}/s of CPU)")
    print(f"ratio: {a_rate / b_rate:.2f} (goal >= 0.5); by CPU time: {a_cpu / b_cpu:.2f}")
    print(f"after one-process run: {_load()}")
    if runner is not None:
        p = run_pool_interleaved(conn, data, args.block)
        runner.join()
        p_rate, b2_rate, both_rate = n / p["wall"], n / p["b_wall"], n / p["b2_wall"]
        used = (p["workers_lifetime_cpu"] + p["parent_cpu"]) / p["wall"]
        print(
            f"analyser x{args.processes} processes: {p_rate:.1f} transcripts/s "
            f"({int(p['flags'])} flags)"
        )
        print(
            f"baseline, one process, on rotating {args.block}-transcript blocks: "
            f"{b2_rate:.1f} transcripts/s"
        )
        print(
            f"baseline, two processes at once: {both_rate:.1f} transcripts/s "
            f"({both_rate / b2_rate:.2f}x one process: what two cores give plain CPU work now)"
        )
        if p["flags"] != r["a_flags"]:
            raise SystemExit(f"pool found {p['flags']} flags, one process {r['a_flags']}")
        # all baseline timings did the same work
        if not p["b_flags"] == p["b2_flags"] == r["b_flags"]:
            raise SystemExit(
                f"baseline found {r['b_flags']} flags, then {p['b_flags']} and {p['b2_flags']}"
            )
        print(f"pool ratio: {p_rate / b2_rate:.2f} of one-process baseline (goal >= 0.9)")
        print(
            f"pool against the baseline on two processes at once: {p_rate / both_rate:.2f} "
            f"(one process: {a_rate / b_rate:.2f}; level with it = the pool scales like "
            f"plain CPU work on this machine now)"
        )
        print(f"pool speed-up over one analyser process: {p_rate / a_rate:.2f}x")
        print(
            f"pool CPU: in chunks {p['workers_cpu']:.2f}s ({n / p['workers_cpu']:.1f} "
            f"transcripts/s of CPU; one process: {a_cpu:.1f}), workers' lifetime "
            f"{p['workers_lifetime_cpu']:.2f}s, parent {p['parent_cpu']:.2f}s; "
            f"cores obtained: {used:.2f} of {args.processes}"
        )
        print(f"end: {_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
