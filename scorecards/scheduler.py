"""The background scheduler: monthly scorecards, nightly auto-QA, delivery retries.

APScheduler 3 (``BlockingScheduler``) with its ``SQLAlchemyJobStore`` in our own
database, so missed runs survive restarts. APScheduler 3 must not share a job
store between processes (each would run every job), so a process only starts
its scheduler while it holds the database **lease** ``scheduler_leases['scheduler']``:
acquired with a conditional UPDATE (or INSERT when absent) only when it is
expired, renewed by a heartbeat thread every third of its lifetime, and given up
(scheduler shut down) as soon as a renewal finds another holder. A second
``scheduler`` process waits on standby and takes over when the lease expires.
Lease times come from each host's clock: keep clocks in sync (NTP) and the lease
much longer than any skew.

Jobs are plain module functions registered in one place (:func:`job_specs`) with
fixed ids and ``replace_existing=True``; they take no arguments (so nothing, in
particular no SMTP password, is pickled into the job store) and find the engine
and settings of this process through :func:`configure`.

* monthly (``QA_SCORECARD_DAY`` at ``QA_SCORECARD_HOUR``, organisation time zone):
  issue and send the previous month's scorecards. ``coalesce`` plus a 7-day
  ``misfire_grace_time``: a scheduler that was down on the day runs the missed
  month once when it comes back (the stored next run time of a missed job is kept
  on re-registration, which APScheduler would otherwise recompute from "now"). A
  run is recorded in the audit trail (started / completed / failed per period);
  a run that *started* but never finished (process killed) is resumed by the
  retry job, which is safe because issuing and sending are idempotent, and a
  completed period is never run again (a DST fold can fire a cron time twice).
* nightly (02:00): auto-QA of new or stale interactions, then coaching flags of the
  current month (and of the previous month until its scorecards are issued).
* retry (every minute): deliveries whose backoff has elapsed.

The Streamlit app never starts a scheduler (a test guards that); run
``qa scorecards scheduler`` as its own service, or ``... --once`` from cron.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED, BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, delete, inspect, or_, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from qa.config import Settings
from qa.db import session_scope
from qa.migrations import SCHEDULER_JOBS_TABLE
from qa.models import AuditEvent, SchedulerLease, utcnow
from qa.services import audit
from qa.services.periods import add_months, month_label

__all__ = [
    "JOB_MONTHLY",
    "JOB_NIGHTLY",
    "JOB_RETRY",
    "LEASE_NAME",
    "JobSpec",
    "Lease",
    "OnceReport",
    "configure",
    "job_specs",
    "monthly_job",
    "monthly_state",
    "nightly_job",
    "period_for_run",
    "register_jobs",
    "retry_job",
    "run_once",
    "run_scheduler",
]

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
JOB_MONTHLY = "scorecards-monthly"
JOB_NIGHTLY = "auto-qa-nightly"
JOB_RETRY = "delivery-retry"
NIGHTLY_HOUR = 2
RETRY_EVERY_S = 60
_PERIOD_ENTITY = "scorecard_period"
_RUN_ACTION = "scorecards.monthly_run."


# --------------------------------------------------------------------------- runtime


@dataclass
class _Runtime:
    engine: Engine
    settings: Settings
    monthly_lock: threading.Lock = field(default_factory=threading.Lock)


_runtime: _Runtime | None = None


def configure(engine: Engine, settings: Settings) -> None:
    """Give the job functions this process's database and settings."""
    global _runtime
    _runtime = _Runtime(engine, settings)


def _rt() -> _Runtime:
    if _runtime is None:
        raise RuntimeError("scorecards.scheduler.configure() was not called in this process")
    return _runtime


# --------------------------------------------------------------------------- periods


def period_for_run(now: datetime, settings: Settings) -> tuple[int, int]:
    """The month the latest monthly run at or before ``now`` is for: the month before
    the one in which it fired. Exact for any delay shorter than a month, unlike "the
    month before now" (a run due on the 28th and delayed past the 1st)."""
    tz = settings.tz
    local = now.astimezone(tz)
    fire = datetime(local.year, local.month, settings.scorecard_day, settings.scorecard_hour)
    fired_this_month = local.replace(tzinfo=None) >= fire
    year, month = (
        (local.year, local.month) if fired_this_month else add_months(local.year, local.month, -1)
    )
    return add_months(year, month, -1)


def monthly_state(engine: Engine, year: int, month: int) -> str | None:
    """``started`` / ``completed`` / ``incomplete`` / ``failed``: the latest monthly run of a period."""
    with session_scope(engine) as s:
        action = s.scalar(
            select(AuditEvent.action)
            .where(
                AuditEvent.entity_type == _PERIOD_ENTITY,
                AuditEvent.entity_id == month_label(year, month),
                AuditEvent.action.startswith(_RUN_ACTION),
            )
            .order_by(AuditEvent.id.desc())
            .limit(1)
        )
    return None if action is None else action.removeprefix(_RUN_ACTION)


def _mark(engine: Engine, year: int, month: int, state: str, after: dict[str, Any]) -> None:
    with session_scope(engine) as s:
        audit.record(
            s, None, _RUN_ACTION + state, _PERIOD_ENTITY, month_label(year, month), after=after
        )


# --------------------------------------------------------------------------- jobs


def run_month(year: int, month: int, now: datetime, *, resume: bool = False) -> bool:
    """Issue then send one month, once. False when skipped: already completed, not a
    half-done run (``resume``), or a run already in progress in this process."""
    rt = _rt()
    if not rt.monthly_lock.acquire(blocking=False):
        return False
    try:
        state = monthly_state(rt.engine, year, month)
        if state == "completed" or (resume and state not in ("started", "incomplete")):
            return False
        label = month_label(year, month)
        log.info("monthly scorecards %s: %s", label, "resuming" if resume else "starting")
        _mark(rt.engine, year, month, "started", {"at": now.isoformat(), "resume": resume})
        try:
            from scorecards.delivery import send_month
            from scorecards.issue import issue_month  # lazily: built in parallel

            issued = issue_month(rt.engine, year, month, rt.settings.tz, now=now)
            sent = send_month(rt.engine, rt.settings, year, month, now=now)
        except Exception as exc:
            _mark(rt.engine, year, month, "failed", {"error": repr(exc)[:2000]})
            raise
        if issued.failed:
            # Some agents' scorecards could not be issued (e.g. a render error): not
            # "completed", so the nightly job tries them again (issuing and sending skip
            # everyone already done).
            log.error("monthly scorecards %s: %d agent(s) failed", label, len(issued.failed))
            _mark(
                rt.engine,
                year,
                month,
                "incomplete",
                {"failed": [list(f) for f in issued.failed][:100], "sent": sent.sent},
            )
            return True
        _mark(
            rt.engine,
            year,
            month,
            "completed",
            {
                "issued": repr(issued)[:500],
                "sent": sent.sent,
                "failed": sent.failed,
                "retried_later": sent.retried_later,
                "unconfirmed": sent.unconfirmed,
            },
        )
        return True
    finally:
        rt.monthly_lock.release()


def monthly_job(now: datetime | None = None) -> None:
    """Scheduled on QA_SCORECARD_DAY/HOUR: the previous month's scorecards."""
    now = now or utcnow()
    year, month = period_for_run(now, _rt().settings)
    run_month(year, month, now)


def nightly_job(now: datetime | None = None) -> None:
    """Auto-QA of new interactions, then coaching flags for the month(s) still open."""
    rt = _rt()
    now = now or utcnow()
    from qa.services.analysis import analyze_interactions

    with session_scope(rt.engine) as s:
        report = analyze_interactions(s, lexicon_dir=rt.settings.lexicon_dir)
    log.info("nightly auto-QA: analysed %d interaction(s)", report.analysed)

    from scorecards.coaching import refresh_coaching_flags  # lazily: built in parallel

    tz = rt.settings.tz
    local = now.astimezone(tz)
    months = [(local.year, local.month)]
    if local.day <= rt.settings.scorecard_day:  # last month is not issued yet
        months.insert(0, add_months(local.year, local.month, -1))
    for year, month in months:
        with session_scope(rt.engine) as s:
            refresh_coaching_flags(s, year, month, tz)
    year, month = period_for_run(now, rt.settings)
    if monthly_state(rt.engine, year, month) == "incomplete":
        run_month(year, month, now, resume=True)  # once a night: agents that failed before


def retry_job(now: datetime | None = None) -> None:
    """Deliveries due for another try; first resumes a monthly run a killed process
    left half-done (only the latest period, only if it started and never finished)."""
    rt = _rt()
    now = now or utcnow()
    year, month = period_for_run(now, rt.settings)
    if monthly_state(rt.engine, year, month) == "started":
        run_month(year, month, now, resume=True)
    from scorecards.delivery import retry_due

    report = retry_due(rt.engine, rt.settings, now)
    if report.sent or report.failed:
        log.info("delivery retries: sent %d, failed %d", report.sent, report.failed)


@dataclass(frozen=True)
class JobSpec:
    id: str
    name: str
    func: Callable[..., None]
    trigger: BaseTrigger
    misfire_grace: timedelta
    always_in_once: bool = False  # `--once` runs it whether or not it is due


def job_specs(
    settings: Settings, now: datetime | None = None, *, retry_every_s: int = RETRY_EVERY_S
) -> list[JobSpec]:
    """Every scheduled job, in the order ``--once`` runs them. The one place jobs are defined."""
    tz = settings.tz
    start = (now or utcnow()) + timedelta(seconds=retry_every_s)
    return [
        JobSpec(
            JOB_NIGHTLY,
            "nightly auto-QA and coaching flags",
            nightly_job,
            CronTrigger(hour=NIGHTLY_HOUR, minute=0, timezone=tz),
            timedelta(hours=12),
        ),
        JobSpec(
            JOB_MONTHLY,
            "issue and send last month's scorecards",
            monthly_job,
            CronTrigger(
                day=settings.scorecard_day, hour=settings.scorecard_hour, minute=0, timezone=tz
            ),
            timedelta(days=7),
        ),
        JobSpec(
            JOB_RETRY,
            "retry due scorecard deliveries",
            retry_job,
            IntervalTrigger(seconds=retry_every_s, start_date=start, timezone=tz),
            timedelta(minutes=10),
            always_in_once=True,
        ),
    ]


class _NoRunAfterStop:
    """APScheduler 3's loop processes the job store once more after ``shutdown()``:
    a job due at that moment cannot be submitted (the executors are gone) but its
    next run time is still advanced in the store, so the run is silently lost.
    Stopped means stopped."""

    state: int

    def _process_jobs(self) -> float | None:
        if self.state == STATE_STOPPED:
            return None
        return super()._process_jobs()  # type: ignore[misc]


class _BlockingScheduler(_NoRunAfterStop, BlockingScheduler):
    pass


class _BackgroundScheduler(_NoRunAfterStop, BackgroundScheduler):
    pass


def _stored_next_runs(engine: Engine) -> dict[str, datetime | None]:
    """Next run times already in APScheduler's table (read directly: no unpickling)."""
    if not inspect(engine).has_table(SCHEDULER_JOBS_TABLE):
        return {}
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT id, next_run_time FROM {SCHEDULER_JOBS_TABLE}")).all()
    return {
        str(job_id): None if ts is None else datetime.fromtimestamp(float(ts), UTC)
        for job_id, ts in rows
    }


def _jobstore(engine: Engine) -> SQLAlchemyJobStore:
    return SQLAlchemyJobStore(engine=engine, tablename=SCHEDULER_JOBS_TABLE)


def register_jobs(
    scheduler: BaseScheduler,
    engine: Engine,
    settings: Settings,
    now: datetime,
    *,
    retry_every_s: int = RETRY_EVERY_S,
) -> list[JobSpec]:
    """Add every job with ``replace_existing``. A stored next run time that is already
    past (a run missed while no scheduler was up) is kept so the run still happens,
    once; otherwise the next run is computed from the trigger (settings may change)."""
    stored = _stored_next_runs(engine)
    specs = job_specs(settings, now, retry_every_s=retry_every_s)
    for spec in specs:
        previous = stored.get(spec.id)
        if previous is not None and previous <= now:
            next_run = previous
        else:
            next_run = spec.trigger.get_next_fire_time(None, now)
        scheduler.add_job(
            spec.func,
            spec.trigger,
            id=spec.id,
            name=spec.name,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=int(spec.misfire_grace.total_seconds()),
            next_run_time=next_run,
        )
    return specs


# --------------------------------------------------------------------------- lease


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    """The database lease that decides which process runs the scheduler."""

    def __init__(
        self,
        engine: Engine,
        ttl: timedelta,
        holder: str | None = None,
        name: str = LEASE_NAME,
    ) -> None:
        self.engine = engine
        self.ttl = ttl
        self.holder = holder or default_holder()
        self.name = name
        self.valid_until: datetime | None = None

    def acquire(self, now: datetime | None = None) -> bool:
        """Take the lease if it is free or expired (or already ours)."""
        now = now or utcnow()
        expires = now + self.ttl
        with session_scope(self.engine) as s:
            taken = s.execute(
                update(SchedulerLease)
                .where(
                    SchedulerLease.name == self.name,
                    or_(SchedulerLease.expires_at < now, SchedulerLease.holder == self.holder),
                )
                .values(holder=self.holder, acquired_at=now, expires_at=expires)
                .execution_options(synchronize_session=False)
            ).rowcount
        if taken != 1:
            try:
                with session_scope(self.engine) as s:
                    s.add(
                        SchedulerLease(
                            name=self.name, holder=self.holder, acquired_at=now, expires_at=expires
                        )
                    )
                    s.flush()
            except IntegrityError:
                return False  # held by someone else (or they inserted first)
        self.valid_until = expires
        return True

    def renew(self, now: datetime | None = None) -> bool:
        """Extend our lease; False once another process has taken it over."""
        now = now or utcnow()
        with session_scope(self.engine) as s:
            renewed = s.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == self.name, SchedulerLease.holder == self.holder)
                .values(expires_at=now + self.ttl)
                .execution_options(synchronize_session=False)
            ).rowcount
        if renewed == 1:
            self.valid_until = now + self.ttl
        return renewed == 1

    def release(self) -> None:
        with session_scope(self.engine) as s:
            s.execute(
                delete(SchedulerLease).where(
                    SchedulerLease.name == self.name, SchedulerLease.holder == self.holder
                )
            )
        self.valid_until = None

    @staticmethod
    def current(engine: Engine, name: str = LEASE_NAME) -> tuple[str, datetime] | None:
        with session_scope(engine) as s:
            row = s.execute(
                select(SchedulerLease.holder, SchedulerLease.expires_at).where(
                    SchedulerLease.name == name
                )
            ).first()
        return None if row is None else (row[0], row[1])


# --------------------------------------------------------------------------- running


@dataclass
class OnceReport:
    """What ``--once`` did: jobs run, missed runs skipped as too late, job errors."""

    holder: str | None = None  # the other holder when the lease was not ours
    ran: list[str] = field(default_factory=list)
    too_late: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def acquired(self) -> bool:
        return self.holder is None


def run_once(
    engine: Engine,
    settings: Settings,
    *,
    now: datetime | None = None,
    lease_seconds: int | None = None,
    holder: str | None = None,
) -> OnceReport:
    """Take the lease, run what is due now (missed monthly or nightly runs, retries),
    advance the stored next run times, release. For cron and tests."""
    now = now or utcnow()
    lease = Lease(
        engine, timedelta(seconds=lease_seconds or settings.scheduler_lease_seconds), holder
    )
    if not lease.acquire(now):
        current = Lease.current(engine)
        return OnceReport(holder=current[0] if current else "?")
    report = OnceReport()
    # A long monthly batch must not let the lease lapse: a standby would start too.
    finished = threading.Event()
    keeper = threading.Thread(
        target=_keep_alive,
        args=(lease, finished, max(lease.ttl.total_seconds() / 3, 0.2)),
        name="scheduler-lease-once",
        daemon=True,
    )
    keeper.start()
    try:
        configure(engine, settings)
        scheduler = _BackgroundScheduler(
            jobstores={"default": _jobstore(engine)}, timezone=settings.tz
        )
        specs = register_jobs(scheduler, engine, settings, now)
        scheduler.start(paused=True)  # job store live, nothing runs on its own
        try:
            for spec in specs:
                job = scheduler.get_job(spec.id)
                next_run = job.next_run_time if job is not None else None
                due = next_run is not None and next_run <= now
                if not (due or spec.always_in_once):
                    continue
                late = due and next_run is not None and now - next_run > spec.misfire_grace
                if late and not spec.always_in_once:
                    report.too_late.append(spec.id)
                    log.warning(
                        "%s: run due at %s missed by more than its grace", spec.id, next_run
                    )
                else:
                    try:
                        spec.func(now=now)
                        report.ran.append(spec.id)
                    except Exception as exc:  # one failing job must not stop the others
                        log.exception("%s failed", spec.id)
                        report.errors[spec.id] = repr(exc)
                if due and next_run is not None:
                    upcoming = spec.trigger.get_next_fire_time(next_run, now)
                    while upcoming is not None and upcoming <= now:  # coalesce
                        upcoming = spec.trigger.get_next_fire_time(upcoming, now)
                    scheduler.modify_job(spec.id, next_run_time=upcoming)
        finally:
            scheduler.shutdown(wait=False)
    finally:
        finished.set()
        keeper.join()
        lease.release()
    return report


def _keep_alive(lease: Lease, finished: threading.Event, beat: float) -> None:
    while not finished.wait(beat):
        try:
            if not lease.renew():
                log.error("scheduler lease taken over while `--once` was still running")
                return
        except SQLAlchemyError:
            log.exception("scheduler lease: renewal failed")


def run_scheduler(
    engine: Engine,
    settings: Settings,
    *,
    stop: threading.Event | None = None,
    lease_seconds: int | None = None,
    retry_every_s: int = RETRY_EVERY_S,
    holder: str | None = None,
) -> None:
    """Run the scheduler while holding the lease; stand by while another process holds
    it. Returns when ``stop`` is set (the CLI sets it on SIGTERM / Ctrl+C)."""
    stop = stop or threading.Event()
    ttl = timedelta(seconds=lease_seconds or settings.scheduler_lease_seconds)
    lease = Lease(engine, ttl, holder)
    beat = max(ttl.total_seconds() / 3, 0.2)
    configure(engine, settings)
    while not stop.is_set():
        try:
            acquired = lease.acquire()
        except SQLAlchemyError:
            log.exception("scheduler lease: database error while acquiring")
            acquired = False
        if not acquired:
            stop.wait(beat)
            continue
        log.info("scheduler lease acquired by %s", lease.holder)
        scheduler = _BlockingScheduler(
            jobstores={"default": _jobstore(engine)}, timezone=settings.tz
        )
        register_jobs(scheduler, engine, settings, utcnow(), retry_every_s=retry_every_s)
        lost, done = threading.Event(), threading.Event()
        supervisor = threading.Thread(
            target=_supervise,
            args=(scheduler, lease, stop, lost, done, beat),
            name="scheduler-lease",
            daemon=True,
        )
        supervisor.start()
        try:
            scheduler.start()  # blocks until the supervisor shuts it down
        finally:
            done.set()
            supervisor.join(timeout=beat * 3)
        if lost.is_set():
            log.warning("scheduler lease lost; standing by")
            continue
        try:
            lease.release()
        except SQLAlchemyError:
            log.exception("scheduler lease: could not release (it will expire)")


def _supervise(
    scheduler: BlockingScheduler,
    lease: Lease,
    stop: threading.Event,
    lost: threading.Event,
    done: threading.Event,
    beat: float,
) -> None:
    """Heartbeat: renew the lease; shut the scheduler down when told to stop or when
    the lease is gone (taken over, or unrenewable until it expired)."""
    while not done.is_set():
        if not stop.wait(beat):
            try:
                if not lease.renew():
                    lost.set()
            except SQLAlchemyError:
                log.exception("scheduler lease: renewal failed")
                if lease.valid_until is None or utcnow() >= lease.valid_until:
                    lost.set()
        if stop.is_set() or lost.is_set():
            while not scheduler.running and not done.is_set():
                done.wait(0.05)
            with contextlib.suppress(SchedulerNotRunningError):  # already stopped
                # A clean stop lets a running job finish before the lease is released;
                # a lost lease stops at once (another process is in charge now).
                scheduler.shutdown(wait=not lost.is_set())
            return
