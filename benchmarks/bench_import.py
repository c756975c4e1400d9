"""Import throughput: the `qa import` code path vs a raw sqlite3 executemany of the same rows.

Generates N interactions (~30 turns each) as JSONL, imports them through
``qa.importer.import_file`` into a fresh SQLite file (migrated with Alembic),
then inserts the same turn rows with plain ``sqlite3.executemany`` into an
identical table, and prints turns/s for both and their ratio.

Goal (issue #2): >= 100,000 turns/s and ratio >= 0.25.
Also prints peak RSS to show memory stays bounded while streaming.

    python benchmarks/bench_import.py [--n 20000] [--turns 30]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa import db
from qa.importer import import_file

WORDS = [
    "thank",
    "you",
    "for",
    "calling",
    "my",
    "name",
    "is",
    "how",
    "can",
    "I",
    "help",
    "bill",
    "charged",
    "twice",
    "internet",
    "router",
    "account",
    "password",
    "refund",
    "delivery",
    "sorry",
    "understand",
    "check",
    "moment",
    "please",
    "hold",
    "line",
    "شكرا",
    "لاتصالك",
    "معك",
    "كيف",
    "أقدر",
    "أساعدك",
    "الفاتورة",
    "الإنترنت",
    "الحساب",
    "أتفهم",
    "لحظة",
    "من",
    "فضلك",
]


def generate(path: Path, n: int, turns: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            t = 0.0
            ts = []
            for k in range(turns):
                length = rng.uniform(1, 8)
                ts.append(
                    {
                        "speaker": "agent" if k % 2 == 0 else "customer",
                        "text": " ".join(rng.choices(WORDS, k=rng.randint(4, 16))),
                        "start": round(t, 2),
                        "end": round(t + length, 2),
                    }
                )
                t += length + rng.uniform(0.2, 3)
            rec = {
                "external_id": f"B{i:07d}",
                "channel": "call",
                "language": "en",
                "started_at": f"2026-10-{1 + i % 28:02d}T09:{i % 60:02d}:00+03:00",
                "agent": {
                    "id": f"AG{i % 200:03d}",
                    "name": f"Agent {i % 200}",
                    "team": f"T{i % 5}",
                },
                "turns": ts,
            }
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")


def raw_baseline(path: Path, dbfile: Path) -> tuple[int, float]:
    """Plain sqlite3.executemany of the same agent, interaction and turn rows into the same
    migrated schema (same indexes, foreign keys and checks), rows built before the clock starts.
    """
    engine = db.make_engine(f"sqlite:///{dbfile}")
    db.upgrade(engine)
    engine.dispose()
    agents: dict[str, int] = {}
    inters, turns = [], []
    with path.open(encoding="utf-8") as f:
        for iid, line in enumerate(f, start=1):
            rec = json.loads(line)
            aid = agents.setdefault(rec["agent"]["id"], len(agents) + 1)
            inters.append(
                (
                    iid,
                    "import",
                    rec["external_id"],
                    rec["channel"],
                    rec["language"],
                    rec["started_at"][:19].replace("T", " ") + ".000000",
                    None,
                    aid,
                    None,
                    None,
                    "{}",
                    len(rec["turns"]),
                    "2026-11-01 00:00:00.000000",
                )
            )
            for seq, t in enumerate(rec["turns"]):
                turns.append((iid, seq, t["speaker"], t["text"], t.get("start"), t.get("end")))
    conn = sqlite3.connect(dbfile, isolation_level=None)
    for pragma in (
        "foreign_keys=ON",
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "cache_size=-65536",
    ):
        conn.execute(f"PRAGMA {pragma}")
    started = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO agents (id, external_id, name, locale, is_active, created_at) "
        "VALUES (?, ?, ?, 'en', 1, '2026-11-01 00:00:00.000000')",
        [(aid, ext, ext) for ext, aid in agents.items()],
    )
    for i in range(0, len(inters), 500):
        conn.executemany(
            "INSERT INTO interactions (id, source, external_id, channel, language, started_at,"
            " duration_seconds, agent_id, customer_ref, recording, metadata, turn_count, imported_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            inters[i : i + 500],
        )
    for i in range(0, len(turns), 15000):
        conn.executemany(
            "INSERT INTO turns (interaction_id, seq, speaker, text, start_s, end_s) VALUES (?,?,?,?,?,?)",
            turns[i : i + 15000],
        )
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return len(turns), elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000, help="interactions")
    ap.add_argument("--turns", type=int, default=30, help="turns per interaction")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        data = tmpdir / "bench.jsonl"
        generate(data, args.n, args.turns)
        size_mb = data.stat().st_size / 1e6
        engine = db.make_engine(f"sqlite:///{tmpdir / 'qa.sqlite3'}")
        db.upgrade(engine)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        with db.session_scope(engine) as session:
            report = import_file(session, data)
        elapsed = time.perf_counter() - started
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        engine.dispose()
        ours = report.turns / elapsed
        raw_turns, raw_elapsed = raw_baseline(data, tmpdir / "raw.sqlite3")
        raw = raw_turns / raw_elapsed
        print(f"file: {args.n} interactions, {report.turns} turns, {size_mb:.1f} MB")
        print(f"qa import: {elapsed:.2f} s, {ours:,.0f} turns/s (goal >= 100,000)")
        print(
            f"raw sqlite3.executemany of the same rows into the same schema: {raw_elapsed:.2f} s, {raw:,.0f} turns/s"
        )
        print(f"ratio: {ours / raw:.2f} (goal >= 0.25)")
        print(
            f"peak RSS: {rss_before:.0f} MB before import, {rss_after:.0f} MB after (file {size_mb:.0f} MB)"
        )


if __name__ == "__main__":
    main()
