"""Issue a month's scorecards: aggregate, coach, render, store, at most once per agent.

Guarantees (docs/scorecards.md):

* **Once per agent and month.** Only active agents without a ``scorecards``
  row for the period are issued; each scorecard is committed on its own, so a
  batch killed half-way resumes with exactly the agents that have none yet. The
  unique (agent, period) constraint is the final guard: if another process
  issued the same agent meanwhile, the insert fails and the agent is reported
  as skipped, never duplicated.
* **Immutable.** The stored snapshot holds every figure and label the PDF shows
  (targets and criterion names included), so later rubric changes, edited
  reviews or re-analysis never alter an issued scorecard; its PDF can be
  re-rendered byte for byte from the snapshot.
* **Parallel rendering.** With ``processes > 1`` PDFs are rendered in a process
  pool; snapshot dicts go in and PDF bytes come out, the database stays in the
  parent.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qa.db import session_factory
from qa.models import Agent, Scorecard, utcnow
from qa.services.rubrics import BUILTIN_KEY
from scorecards.aggregate import aggregate_month, build_snapshot
from scorecards.coaching import (
    CoachingRules,
    RefreshReport,
    coaching_items,
    flags_by_agent,
    refresh_coaching_flags,
)
from scorecards.snapshot import Period
from scorecards.snapshot import Scorecard as Snapshot

SessionSource = Engine | Callable[[], Session]


@dataclass
class IssueReport:
    """What one run did; agents are named by external id."""

    period: str
    issued: list[str] = field(default_factory=list)
    skipped_existing: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    coaching: RefreshReport | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per phase
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # this process's CPU per phase

    def summary(self) -> str:
        line = (
            f"{self.period}: issued {len(self.issued)}, already issued "
            f"{len(self.skipped_existing)}, failed {len(self.failed)}"
        )
        if self.coaching is not None:
            c = self.coaching
            line += (
                f"; coaching flags: {c.created} new, {c.updated} updated, "
                f"{c.unchanged} unchanged, {c.kept_closed} closed kept, {c.removed} removed"
            )
        return line


def _factory(source: SessionSource) -> Callable[[], Session]:
    if isinstance(source, Engine):
        return session_factory(source)
    return source


def render_snapshot_dict(data: dict[str, Any]) -> tuple[bytes | None, str | None]:
    """Process-pool worker: validate a snapshot dict and render it (plain data in and out)."""
    from scorecards.pdf import render_scorecard

    try:
        return render_scorecard(Snapshot.from_dict(data)), None
    except Exception as exc:  # one bad scorecard must not stop the month
        return None, f"{type(exc).__name__}: {exc}"


# Indirection so tests can interrupt a batch half-way (a killed process).
_render = render_snapshot_dict

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def pdf_path(out_dir: Path, period: str, external_id: str) -> Path:
    """``<out>/<period>/<external id>.pdf``; characters unsafe in file names become ``_``."""
    name = _UNSAFE.sub("_", external_id).strip("._") or "agent"
    return out_dir / period / f"{name}.pdf"


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def warm_worker() -> None:
    """Pool initializer: import ReportLab and load the fonts while the parent aggregates."""
    from scorecards.pdf import register_fonts

    register_fonts()


def _rendered(
    dicts: Sequence[dict[str, Any]], pool: ProcessPoolExecutor | None, processes: int
) -> Iterator[tuple[bytes | None, str | None]]:
    if pool is None or len(dicts) <= 1:
        for d in dicts:
            yield _render(d)
        return
    chunk = max(1, min(8, len(dicts) // (processes * 4)))
    yield from pool.map(render_snapshot_dict, dicts, chunksize=chunk)


def issue_month(
    session_factory_or_engine: SessionSource,
    year: int,
    month: int,
    tz: ZoneInfo,
    *,
    agent_ids: Iterable[int] | None = None,
    out_dir: Path | None = None,
    processes: int = 1,
    now: datetime | None = None,
    rules: CoachingRules | None = None,
    rubric_key: str = BUILTIN_KEY,
) -> IssueReport:
    """Issue the month's scorecards for active agents that have none yet.

    ``agent_ids`` limits the run to those agents; ``out_dir`` also writes each
    new PDF to ``<out_dir>/<YYYY-MM>/<agent external id>.pdf``. Coaching flags of
    the issued agents are refreshed first, and their open / in-session /
    resolved ones become the scorecard's coaching plan.
    """
    factory = _factory(session_factory_or_engine)
    period = Period(year, month)
    report = IssueReport(period=period.label)
    pools: list[ProcessPoolExecutor] = []
    try:
        _issue(
            factory,
            period,
            tz,
            report,
            agent_ids=agent_ids,
            out_dir=out_dir,
            processes=processes,
            generated_at=now or utcnow(),
            rules=rules,
            rubric_key=rubric_key,
            pools=pools,
        )
    finally:
        for pool in pools:
            pool.shutdown(cancel_futures=True)
    return report


def _issue(
    factory: Callable[[], Session],
    period: Period,
    tz: ZoneInfo,
    report: IssueReport,
    *,
    agent_ids: Iterable[int] | None,
    out_dir: Path | None,
    processes: int,
    generated_at: datetime,
    rules: CoachingRules | None,
    rubric_key: str,
    pools: list[ProcessPoolExecutor],
) -> None:
    year, month = period.year, period.month
    wanted = set(agent_ids) if agent_ids is not None else None
    clock, cpu = time.perf_counter(), time.process_time()
    pool: ProcessPoolExecutor | None = None

    with factory() as session, session.begin():
        query = select(Agent.id, Agent.external_id).where(Agent.is_active.is_(True))
        active = {aid: ext for aid, ext in session.execute(query.order_by(Agent.id))}
        if wanted is not None:
            active = {aid: ext for aid, ext in active.items() if aid in wanted}
        done = set(
            session.scalars(select(Scorecard.agent_id).where(Scorecard.period == period.label))
        )
        report.skipped_existing = [ext for aid, ext in active.items() if aid in done]
        pending = [aid for aid in active if aid not in done]
        if not pending:
            return
        if processes > 1 and len(pending) > 1:
            # Started now, the workers load ReportLab and the fonts while we aggregate.
            pool = ProcessPoolExecutor(max_workers=processes, initializer=warm_worker)
            pools.append(pool)
            for _ in range(processes):
                pool.submit(int)
        month_agg = aggregate_month(
            session, year, month, tz, agent_ids=pending, rubric_key=rubric_key
        )
        report.seconds["aggregate"] = time.perf_counter() - clock
        report.cpu_seconds["aggregate"] = time.process_time() - cpu
        clock, cpu = time.perf_counter(), time.process_time()
        report.coaching = refresh_coaching_flags(
            session, year, month, tz, rules=rules, aggregate=month_agg
        )
        flags = flags_by_agent(session, period.label, pending)
        report.seconds["coaching"] = time.perf_counter() - clock
        report.cpu_seconds["coaching"] = time.process_time() - cpu
    clock, cpu = time.perf_counter(), time.process_time()
    rubric = month_agg.rubric
    jobs: list[tuple[int, str, bool, dict[str, Any]]] = []
    for aid in pending:
        agent = month_agg.agents.get(aid)
        if agent is None:  # deactivated since the list was read
            continue
        snap = build_snapshot(
            month_agg,
            agent,
            generated_at=generated_at,
            coaching=coaching_items(flags.get(aid, []), rubric, agent.locale),
        )
        jobs.append((aid, agent.external_id, agent.auto_qa_only, snap.to_dict()))
    report.seconds["snapshots"] = time.perf_counter() - clock
    report.cpu_seconds["snapshots"] = time.process_time() - cpu

    clock, cpu = time.perf_counter(), time.process_time()
    store_s = 0.0
    with factory() as session:
        results = _rendered([job[3] for job in jobs], pool, processes)
        for (aid, ext, auto_only, data), (pdf, error) in zip(jobs, results, strict=True):
            if pdf is None:
                report.failed.append((ext, error or "rendering failed"))
                continue
            t0 = time.perf_counter()
            digest = hashlib.sha256(pdf).hexdigest()
            row = {
                "agent_id": aid,
                "period": period.label,
                "rubric_version_id": month_agg.rubric_version_id,
                "snapshot": data,
                "pdf": pdf,
                "pdf_sha256": digest,
                "auto_qa_only": auto_only,
                "issued_at": generated_at,
            }
            try:
                with session.begin():  # one commit per scorecard: a crash loses nothing issued
                    session.execute(insert(Scorecard), [row])
            except IntegrityError:
                # Another process issued this agent in the meantime: theirs stands.
                report.skipped_existing.append(ext)
                continue
            if out_dir is not None:
                _write_atomic(pdf_path(out_dir, period.label, ext), pdf)
            store_s += time.perf_counter() - t0
            report.issued.append(ext)
    report.seconds["render"] = time.perf_counter() - clock - store_s
    report.seconds["store"] = store_s
    report.cpu_seconds["render+store"] = time.process_time() - cpu
