"""The flagging benchmark still runs end to end (small), so its figures stay reproducible.

Timing is never asserted here (the figures are the benchmark's to print); what is
checked is that it runs, that the pool finds exactly the one-process flags (the
benchmark itself stops otherwise) and that it prints the lines the docs quote.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow
@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="the pool run forks")
def test_flagging_benchmark_runs_with_a_pool(capsys: pytest.CaptureFixture[str]) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import bench_flagging
    finally:
        sys.path.remove(str(BENCH))
    assert bench_flagging.main(["--n", "240", "--processes", "2", "--block", "60"]) == 0
    out = capsys.readouterr().out
    lines = (
        "analyser:",
        "baseline:",
        "ratio:",
        "analyser x2 processes:",
        "baseline, two processes at once:",
        "pool ratio:",
    )
    for line in lines:
        assert f"\n{line}" in f"\n{out}", line
    a_flags = int(out.split("analyser: ")[1].split("(")[1].split(" flags")[0])
    pool_flags = int(out.split("analyser x2 processes: ")[1].split("(")[1].split(" flags")[0])
    assert a_flags == pool_flags > 0
