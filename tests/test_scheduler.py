"""Scheduler: trigger maths with explicit dates, missed runs, the lease, two processes.

No test sleeps for a schedule: ``run_once(now=...)`` plays the scheduler at chosen
instants, and waits for other processes poll the database with a deadline.
"""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import Engine, func, select, text, update

from qa.cli import Context
from qa.config import Settings
from qa.db import session_scope
from qa.migrations import SCHEDULER_JOBS_TABLE, include_object
from qa.models import AuditEvent, Base, SchedulerLease, Scorecard, ScorecardDelivery
from scorecards import scheduler as sched
from scorecards.delivery_cli import scheduler as scheduler_cmd
from scorecards.delivery_cli import send as send_cmd
from tests.delivery_support import AgentSpec, Handler, issue, make_agents, smtp_server

ROOT = Path(__file__).resolve().parent.parent
RIYADH = ZoneInfo("Asia/Riyadh")
LONDON = ZoneInfo("Europe/London")


def monthly_trigger(settings: Settings):  # type: ignore[no-untyped-def]
    [spec] = [s for s in sched.job_specs(settings) if s.id == sched.JOB_MONTHLY]
    return spec.trigger


def runs(trigger, start: datetime, n: int) -> list[datetime]:  # type: ignore[no-untyped-def]
    out: list[datetime] = []
    prev = None
    now = start
    for _ in range(n):
        nxt = trigger.get_next_fire_time(prev, now)
        out.append(nxt)
        prev = now = nxt
    return out


# --------------------------------------------------------------------------- trigger maths


def test_monthly_runs_in_the_organisation_time_zone() -> None:
    trigger = monthly_trigger(Settings(timezone="Asia/Riyadh"))
    got = runs(trigger, datetime(2026, 10, 15, 12, tzinfo=UTC), 3)
    assert got == [
        datetime(2026, 11, 1, 6, tzinfo=RIYADH),
        datetime(2026, 12, 1, 6, tzinfo=RIYADH),
        datetime(2027, 1, 1, 6, tzinfo=RIYADH),
    ]
    assert got[0].astimezone(UTC) == datetime(2026, 11, 1, 3, tzinfo=UTC)
    # 02:59 UTC on the 1st is already 05:59 in Riyadh: the run is one minute away
    assert trigger.get_next_fire_time(None, datetime(2026, 11, 1, 2, 59, tzinfo=UTC)) == got[0]


def test_monthly_run_follows_daylight_saving_time() -> None:
    trigger = monthly_trigger(Settings(timezone="Europe/London", scorecard_day=1, scorecard_hour=6))
    got = runs(trigger, datetime(2026, 2, 15, tzinfo=UTC), 10)
    assert all(d.astimezone(LONDON).hour == 6 and d.astimezone(LONDON).day == 1 for d in got)
    utc_hours = {d.astimezone(UTC).strftime("%Y-%m"): d.astimezone(UTC).hour for d in got}
    assert utc_hours["2026-03"] == 6  # GMT
    assert utc_hours["2026-04"] == 5  # BST
    assert utc_hours["2026-10"] == 5
    assert utc_hours["2026-11"] == 6  # back to GMT


def test_an_hour_skipped_by_the_clock_change_still_runs_that_month() -> None:
    # 28 March 2027: London clocks jump from 01:00 to 02:00, so 01:00 does not exist.
    settings = Settings(timezone="Europe/London", scorecard_day=28, scorecard_hour=1)
    got = runs(monthly_trigger(settings), datetime(2027, 2, 1, tzinfo=UTC), 3)
    assert [d.astimezone(UTC) for d in got] == [
        datetime(2027, 2, 28, 1, tzinfo=UTC),
        datetime(2027, 3, 28, 1, tzinfo=UTC),  # the moment of the change: runs once
        datetime(2027, 4, 28, 0, tzinfo=UTC),  # 01:00 BST
    ]


def test_nightly_job_at_two_in_the_morning_local() -> None:
    [spec] = [
        s for s in sched.job_specs(Settings(timezone="Asia/Riyadh")) if s.id == sched.JOB_NIGHTLY
    ]
    nxt = spec.trigger.get_next_fire_time(None, datetime(2026, 11, 3, 12, tzinfo=UTC))
    assert nxt == datetime(2026, 11, 4, 2, tzinfo=RIYADH)


@pytest.mark.parametrize(
    ("now", "day", "hour", "expected"),
    [
        (datetime(2026, 11, 1, 2, 59, tzinfo=UTC), 1, 6, (2026, 9)),  # 05:59 Riyadh: not yet
        (datetime(2026, 11, 1, 3, 0, tzinfo=UTC), 1, 6, (2026, 10)),
        (datetime(2026, 11, 30, 20, tzinfo=UTC), 1, 6, (2026, 10)),
        (datetime(2026, 10, 31, 22, tzinfo=UTC), 1, 0, (2026, 10)),  # 1 Nov 01:00 in Riyadh
        (datetime(2027, 1, 1, 3, tzinfo=UTC), 1, 6, (2026, 12)),  # across the year
        (datetime(2026, 12, 3, 9, tzinfo=UTC), 28, 6, (2026, 10)),  # a late run of 28 Nov
    ],
)
def test_period_for_run(now: datetime, day: int, hour: int, expected: tuple[int, int]) -> None:
    settings = Settings(timezone="Asia/Riyadh", scorecard_day=day, scorecard_hour=hour)
    assert sched.period_for_run(now, settings) == expected


# --------------------------------------------------------------------------- --once


AGENTS = [
    AgentSpec("AG1", "Sarah", "sarah@example.com"),
    AgentSpec("AG2", "أحمد", "ahmed@example.com", "ar"),
]


def settings_for(tmp_path: Path, port: int, **kw: object) -> Settings:
    return Settings(
        data_dir=tmp_path,
        timezone=str(kw.pop("timezone", "Asia/Riyadh")),
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_tls="none",
        smtp_from="qa@jawda.example",
        **kw,  # type: ignore[arg-type]
    )


def run_markers(engine: Engine, period: str, state: str = "started") -> int:
    with session_scope(engine) as s:
        return (
            s.scalar(
                select(func.count(AuditEvent.id)).where(
                    AuditEvent.action == f"scorecards.monthly_run.{state}",
                    AuditEvent.entity_id == period,
                )
            )
            or 0
        )


def stored_next_run(engine: Engine, job_id: str) -> datetime | None:
    return sched._stored_next_runs(engine)[job_id]


@pytest.mark.db
def test_once_after_downtime_across_the_first_issues_last_month_once(
    fresh_engine: Engine, tmp_path: Path
) -> None:
    issue(fresh_engine, "2026-10", AGENTS)
    with smtp_server(Handler()) as (handler, port):
        settings = settings_for(tmp_path, port)
        first = sched.run_once(fresh_engine, settings, now=datetime(2026, 10, 15, 9, tzinfo=UTC))
        assert first.ran == [sched.JOB_RETRY] and not first.errors
        assert stored_next_run(fresh_engine, sched.JOB_MONTHLY) == datetime(
            2026, 11, 1, 3, tzinfo=UTC
        )
        # down from 15 October to 3 November; cron starts `--once` again
        back = datetime(2026, 11, 3, 9, tzinfo=UTC)
        report = sched.run_once(fresh_engine, settings, now=back)
        assert report.ran == [sched.JOB_MONTHLY, sched.JOB_RETRY], report
        assert report.too_late == [sched.JOB_NIGHTLY]  # a nightly run missed by 18 days
        assert not report.errors
        assert len(handler.received) == 2
        for later in (back + timedelta(hours=1), back + timedelta(days=2)):
            again = sched.run_once(fresh_engine, settings, now=later)
            assert sched.JOB_MONTHLY not in again.ran
        assert len(handler.received) == 2
    assert sorted(r.rcpt_tos[0] for r in handler.received) == [
        "ahmed@example.com",
        "sarah@example.com",
    ]
    assert run_markers(fresh_engine, "2026-10") == 1
    assert run_markers(fresh_engine, "2026-10", "completed") == 1
    assert stored_next_run(fresh_engine, sched.JOB_MONTHLY) == datetime(2026, 12, 1, 3, tzinfo=UTC)
    assert sched.Lease.current(fresh_engine) is None  # released


@pytest.mark.db
def test_a_run_missed_by_more_than_the_grace_is_skipped(
    fresh_engine: Engine, tmp_path: Path
) -> None:
    issue(fresh_engine, "2026-10", AGENTS[:1])
    with smtp_server(Handler()) as (handler, port):
        settings = settings_for(tmp_path, port)
        sched.run_once(fresh_engine, settings, now=datetime(2026, 10, 15, tzinfo=UTC))
        report = sched.run_once(fresh_engine, settings, now=datetime(2026, 11, 9, tzinfo=UTC))
    assert sched.JOB_MONTHLY in report.too_late and sched.JOB_MONTHLY not in report.ran
    assert not handler.received
    assert stored_next_run(fresh_engine, sched.JOB_MONTHLY) == datetime(2026, 12, 1, 3, tzinfo=UTC)


@pytest.mark.db
def test_a_run_killed_half_way_is_resumed_by_the_retry_job(
    fresh_engine: Engine, tmp_path: Path
) -> None:
    issue(fresh_engine, "2026-10", AGENTS)
    issue(fresh_engine, "2026-09", [AgentSpec("OLD", "Old", "old@example.com")])
    with session_scope(fresh_engine) as s:  # what a process killed mid-run leaves behind
        for period in ("2026-10", "2026-09"):
            s.add(
                AuditEvent(
                    action="scorecards.monthly_run.started",
                    entity_type="scorecard_period",
                    entity_id=period,
                    actor="system",
                )
            )
    with smtp_server(Handler()) as (handler, port):
        settings = settings_for(tmp_path, port)
        report = sched.run_once(fresh_engine, settings, now=datetime(2026, 11, 1, 4, tzinfo=UTC))
        assert report.ran == [sched.JOB_RETRY] and not report.errors
        # Resuming issues October for every active agent that has none yet (OLD too:
        # agents without reviews get an auto-QA scorecard), then sends each once.
        assert sorted(r.rcpt_tos[0] for r in handler.received) == [
            "ahmed@example.com",
            "old@example.com",
            "sarah@example.com",
        ]
        sched.run_once(fresh_engine, settings, now=datetime(2026, 11, 1, 5, tzinfo=UTC))
    assert len(handler.received) == 3  # September is not the latest period: left alone
    assert sched.monthly_state(fresh_engine, 2026, 10) == "completed"
    assert sched.monthly_state(fresh_engine, 2026, 9) == "started"


@pytest.mark.db
def test_a_cron_time_repeated_by_the_clock_change_runs_the_month_once(
    fresh_engine: Engine, tmp_path: Path
) -> None:
    # 25 October 2026: London clocks go back at 02:00 BST, so 01:00 happens twice.
    issue(fresh_engine, "2026-09", AGENTS)
    with smtp_server(Handler()) as (handler, port):
        settings = settings_for(
            tmp_path, port, timezone="Europe/London", scorecard_day=25, scorecard_hour=1
        )
        sched.run_once(fresh_engine, settings, now=datetime(2026, 10, 20, tzinfo=UTC))
        fires = []
        for now in (
            datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
            datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
            datetime(2026, 10, 25, 3, 0, tzinfo=UTC),
        ):
            if sched.JOB_MONTHLY in sched.run_once(fresh_engine, settings, now=now).ran:
                fires.append(now)
    # APScheduler fires at 01:00 BST and again at 01:00 GMT; the second run finds the
    # period completed and does nothing.
    assert fires == [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
    ]
    assert len(handler.received) == 2
    assert run_markers(fresh_engine, "2026-09") == 1


@pytest.mark.db
def test_a_failing_job_is_reported_and_the_others_still_run(
    fresh_engine: Engine, tmp_path: Path
) -> None:
    issue(fresh_engine, "2026-10", AGENTS[:1])
    with smtp_server(Handler()) as (handler, port):
        settings = settings_for(tmp_path, port)
        sched.run_once(fresh_engine, settings, now=datetime(2026, 10, 31, 12, tzinfo=UTC))
        with fresh_engine.begin() as conn:  # break what only the nightly auto-QA reads
            conn.execute(text("ALTER TABLE interactions RENAME TO interactions_x"))
        try:
            report = sched.run_once(
                fresh_engine, settings, now=datetime(2026, 11, 1, 4, tzinfo=UTC)
            )
        finally:
            with fresh_engine.begin() as conn:
                conn.execute(text("ALTER TABLE interactions_x RENAME TO interactions"))
    assert list(report.errors) == [sched.JOB_NIGHTLY]
    assert report.ran == [sched.JOB_MONTHLY, sched.JOB_RETRY]
    assert len(handler.received) == 1
    assert sched.Lease.current(fresh_engine) is None


# --------------------------------------------------------------------------- lease


@pytest.mark.db
def test_lease_is_exclusive_until_it_expires(fresh_engine: Engine) -> None:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    a = sched.Lease(fresh_engine, timedelta(seconds=30), "a")
    b = sched.Lease(fresh_engine, timedelta(seconds=30), "b")
    assert a.acquire(t0)
    assert not b.acquire(t0 + timedelta(seconds=10))
    assert a.renew(t0 + timedelta(seconds=20))  # now valid until t0 + 50 s
    assert not b.acquire(t0 + timedelta(seconds=45))
    assert b.acquire(t0 + timedelta(seconds=51))  # a stopped renewing
    assert not a.renew(t0 + timedelta(seconds=52))  # a learns it lost the lease
    a.release()  # must not remove b's lease
    assert sched.Lease.current(fresh_engine) == ("b", t0 + timedelta(seconds=81))
    b.release()
    assert sched.Lease.current(fresh_engine) is None


@pytest.mark.db
def test_only_one_of_many_concurrent_acquirers_wins(fresh_engine: Engine) -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    barrier = threading.Barrier(6)
    results: dict[str, bool] = {}

    def attempt(name: str) -> None:
        lease = sched.Lease(fresh_engine, timedelta(seconds=30), name)
        barrier.wait()
        results[name] = lease.acquire(now)

    threads = [threading.Thread(target=attempt, args=(f"p{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(results.values()) == 1
    [winner] = [k for k, v in results.items() if v]
    assert sched.Lease.current(fresh_engine) == (winner, now + timedelta(seconds=30))


def wait_for(what: Callable[[], object], timeout: float = 30.0, every: float = 0.05) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.mark.db
def test_scheduler_stops_when_its_lease_is_taken_and_resumes_later(
    fresh_engine: Engine, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, timezone="Asia/Riyadh")
    stop = threading.Event()
    runner = threading.Thread(
        target=sched.run_scheduler,
        args=(fresh_engine, settings),
        kwargs={"stop": stop, "lease_seconds": 1, "holder": "me", "retry_every_s": 3600},
    )
    runner.start()
    try:
        wait_for(lambda: (sched.Lease.current(fresh_engine) or ("",))[0] == "me")
        wait_for(lambda: sched._stored_next_runs(fresh_engine).keys() >= {sched.JOB_MONTHLY})
        with session_scope(fresh_engine) as s:  # another process takes over
            s.execute(
                update(SchedulerLease).values(
                    holder="thief", expires_at=datetime.now(UTC) + timedelta(hours=1)
                )
            )
        # the holder notices at its next heartbeat and stands by, leaving the lease alone
        wait_for(lambda: not any(t.name == "scheduler-lease" for t in threading.enumerate()))
        assert sched.Lease.current(fresh_engine)[0] == "thief"  # type: ignore[index]
        with session_scope(fresh_engine) as s:  # the thief dies; its lease expires
            s.execute(update(SchedulerLease).values(expires_at=datetime.now(UTC)))
        wait_for(lambda: (sched.Lease.current(fresh_engine) or ("",))[0] == "me")
    finally:
        stop.set()
        runner.join(30)
    assert not runner.is_alive()
    assert sched.Lease.current(fresh_engine) is None  # released on a clean stop


# --------------------------------------------------------------------------- two processes


def _child(url: str, port: int, tmp_path: Path, settings_env: dict[str, str], log: Path):  # type: ignore[no-untyped-def]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("QA_")},
        "PYTHONPATH": str(ROOT),
        "QA_DATABASE_URL": url,
        "QA_DATA_DIR": str(tmp_path),
        "QA_SMTP_HOST": "127.0.0.1",
        "QA_SMTP_PORT": str(port),
        "QA_SMTP_TLS": "none",
        "QA_SMTP_FROM": "qa@jawda.example",
        **settings_env,
    }
    return subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "scheduler_main.py"),
            "scheduler",
            "--lease-seconds",
            "2",
            "--retry-every",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def _statuses(engine: Engine) -> list[str]:
    with session_scope(engine) as s:
        return sorted(s.scalars(select(ScorecardDelivery.status)))


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait(10)


@pytest.mark.db
@pytest.mark.slow
def test_two_scheduler_processes_send_each_scorecard_once(
    fresh_engine: Engine,
    fresh_url: str,
    tmp_path: Path,
    children: list[subprocess.Popen[bytes]],
) -> None:
    now = datetime.now(UTC)
    day, hour = (now.day, now.hour) if now.day <= 28 else (28, 0)
    settings_env = {
        "QA_TIMEZONE": "UTC",
        "QA_SCORECARD_DAY": str(day),
        "QA_SCORECARD_HOUR": str(hour),
    }
    settings = Settings(data_dir=tmp_path, timezone="UTC", scorecard_day=day, scorecard_hour=hour)
    year, month = sched.period_for_run(now, settings)
    period = f"{year:04d}-{month:02d}"
    # Agents without scorecards: the scheduler's monthly job issues them (real issuing)
    make_agents(fresh_engine, [*AGENTS, AgentSpec("AG3", "Omar", "omar@example.com")])
    # The job store already knows the monthly run, due at this hour (as if the
    # scheduler had been registered before and the run time has just come).
    last_fire = datetime(now.year, now.month, day, hour, tzinfo=UTC)
    sched.run_once(fresh_engine, settings, now=last_fire - timedelta(minutes=1))
    assert stored_next_run(fresh_engine, sched.JOB_MONTHLY) == last_fire

    with smtp_server(Handler(fail_first=1)) as (handler, port):
        logs = [tmp_path / "a.log", tmp_path / "b.log"]
        children.extend(_child(fresh_url, port, tmp_path, settings_env, log) for log in logs)

        def show_logs() -> str:
            return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')}" for p in logs)

        try:
            # One process wins the lease and runs the monthly job: two sent, one 451.
            wait_for(lambda: _statuses(fresh_engine) == ["pending", "sent", "sent"], 60)
            # (killing it before its run is recorded complete would make the standby
            # resume the run: also safe, tested in-process above; here keep it simple)
            wait_for(lambda: sched.monthly_state(fresh_engine, year, month) == "completed", 30)
            holder = sched.Lease.current(fresh_engine)
            assert holder is not None
            first_pid = int(holder[0].split(":")[1])
            [first] = [p for p in children if p.pid == first_pid]
            [second] = [p for p in children if p.pid != first_pid]
            first.send_signal(signal.SIGKILL)  # dies without releasing its lease
            first.wait(10)
            with session_scope(fresh_engine) as s:  # the retry backoff has elapsed
                s.execute(update(ScorecardDelivery).values(next_attempt_at=datetime.now(UTC)))
            # the standby takes over once the lease expires and retries the delivery
            wait_for(
                lambda: (
                    (sched.Lease.current(fresh_engine) or ("",))[0].split(":")[1:2]
                    == [str(second.pid)]
                ),
                30,
            )
            wait_for(lambda: _statuses(fresh_engine) == ["sent", "sent", "sent"], 30)
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0
        except BaseException:
            print(show_logs())
            raise
    by_rcpt = handler.by_recipient()
    assert {k: len(v) for k, v in by_rcpt.items()} == {
        "sarah@example.com": 1,
        "ahmed@example.com": 1,
        "omar@example.com": 1,
    }
    assert run_markers(fresh_engine, period) == 1
    assert run_markers(fresh_engine, period, "completed") == 1
    with session_scope(fresh_engine) as s:  # the real issuing ran once: one scorecard each
        cards = dict(
            s.execute(
                select(Scorecard.agent_id, func.count())
                .where(Scorecard.period == period)
                .group_by(Scorecard.agent_id)
            ).all()
        )
    assert sorted(cards.values()) == [1, 1, 1]
    assert sched.Lease.current(fresh_engine) is None  # the survivor released it on SIGTERM
    with session_scope(fresh_engine) as s:
        attempts = sorted(s.scalars(select(ScorecardDelivery.attempts)))
    assert attempts == [1, 1, 2]


# --------------------------------------------------------------------------- CLI


@pytest.mark.db
def test_cli_send_and_once(fresh_engine: Engine, fresh_url: str, tmp_path: Path) -> None:
    issue(fresh_engine, "2026-10", AGENTS)
    with smtp_server(Handler()) as (handler, port):
        settings = Settings(
            data_dir=tmp_path,
            database_url=fresh_url,
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_tls="none",
        )

        @click.group()
        @click.pass_context
        def group(ctx: click.Context) -> None:
            ctx.obj = Context(settings)

        group.add_command(send_cmd)
        group.add_command(scheduler_cmd)
        runner = CliRunner()
        result = runner.invoke(group, ["send", "--month", "2026-10"])
        assert result.exit_code == 0, result.output
        assert "sent 2, skipped 0, failed 0" in result.output
        result = runner.invoke(group, ["send", "--month", "2026-10"])
        assert "sent 0, skipped 2" in result.output
        result = runner.invoke(group, ["send", "--month", "2026-10", "--resend", "--agent", "AG2"])
        assert "sent 1," in result.output
        result = runner.invoke(group, ["send", "--month", "2026-13"])
        assert result.exit_code == 2 and "expected a month as YYYY-MM" in result.output
        result = runner.invoke(group, ["send", "--month", "2026-10", "--agent", "NOPE"])
        assert result.exit_code == 2 and "unknown agent(s): NOPE" in result.output
        result = runner.invoke(group, ["scheduler", "--once"])
        assert result.exit_code == 0, result.output
        assert "ran: " in result.output and sched.JOB_RETRY in result.output
        with session_scope(fresh_engine) as s:
            s.add(
                SchedulerLease(
                    name="scheduler",
                    holder="elsewhere:1:x",
                    acquired_at=datetime.now(UTC),
                    expires_at=datetime.now(UTC) + timedelta(minutes=5),
                )
            )
        result = runner.invoke(group, ["scheduler", "--once"])
        assert result.exit_code == 0 and "another scheduler holds the lease" in result.output
    assert len(handler.received) == 3


# --------------------------------------------------------------------------- boundaries


@pytest.mark.db
def test_scheduler_table_is_outside_our_migrations(fresh_engine: Engine) -> None:
    settings = Settings(timezone="UTC")
    assert SCHEDULER_JOBS_TABLE not in Base.metadata.tables
    sched.run_once(fresh_engine, settings, now=datetime(2026, 10, 15, tzinfo=UTC))
    with fresh_engine.connect() as conn:
        unfiltered = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
        filtered = compare_metadata(
            MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": include_object}
            ),
            Base.metadata,
        )
    assert any(d[0] == "remove_table" and d[1].name == SCHEDULER_JOBS_TABLE for d in unfiltered)
    assert filtered == []


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside functions (lazy imports count)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _module_file(name: str) -> Path | None:
    rel = Path(*name.split("."))
    for candidate in (ROOT / rel.with_suffix(".py"), ROOT / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def test_the_web_app_never_imports_the_scheduler() -> None:
    """Follow every import (also lazy ones) from the Streamlit app through our own
    packages: neither APScheduler nor the scheduler module may be reachable."""
    todo = [ROOT / "streamlit_app.py", *sorted((ROOT / "qa" / "ui").rglob("*.py"))]
    seen: set[Path] = set()
    reached: set[str] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imports(path):
            reached.add(name)
            parts = name.split(".")
            if parts[0] not in {"qa", "scorecards", "rubrics"}:
                continue
            for i in range(1, len(parts) + 1):  # a submodule import runs its packages too
                file = _module_file(".".join(parts[:i]))
                if file is not None:
                    todo.append(file)
    assert ROOT / "qa" / "ui" / "session.py" in seen  # the walk does reach our modules
    assert "scorecards.scheduler" in _imports(ROOT / "scorecards" / "delivery_cli.py")  # lazy
    bad = sorted(
        n
        for n in reached
        if n.split(".")[0] == "apscheduler" or n.startswith("scorecards.scheduler")
    )
    assert bad == []


@pytest.mark.db
def test_agents_whose_scorecard_failed_are_retried_by_the_nightly_job(
    fresh_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A render error for one agent leaves the month incomplete, not completed; the next
    nightly run issues and sends only that agent, and the month completes."""
    import scorecards.pdf

    make_agents(fresh_engine, AGENTS)
    real_render = scorecards.pdf.render_scorecard

    def broken_for_ahmed(snapshot, **kw):  # type: ignore[no-untyped-def]
        if snapshot.agent.external_id == "AG2":
            raise RuntimeError("font cache corrupted")
        return real_render(snapshot, **kw)

    monkeypatch.setattr(scorecards.pdf, "render_scorecard", broken_for_ahmed)
    with smtp_server(Handler()) as (handler, port):
        settings = settings_for(tmp_path, port)
        sched.configure(fresh_engine, settings)
        sched.run_month(2026, 10, datetime(2026, 11, 1, 3, tzinfo=UTC))
        assert sched.monthly_state(fresh_engine, 2026, 10) == "incomplete"
        assert [r.rcpt_tos[0] for r in handler.received] == ["sarah@example.com"]
        monkeypatch.setattr(scorecards.pdf, "render_scorecard", real_render)
        sched.nightly_job(datetime(2026, 11, 1, 23, tzinfo=UTC))
        assert sched.monthly_state(fresh_engine, 2026, 10) == "completed"
        assert sorted(r.rcpt_tos[0] for r in handler.received) == [
            "ahmed@example.com",
            "sarah@example.com",
        ]
    with session_scope(fresh_engine) as s:
        assert s.scalar(select(func.count()).select_from(Scorecard)) == 2
