"""``send`` and ``scheduler`` commands, attached to the ``qa scorecards`` group.

Plain click commands: the group's context object (``qa.cli.Context``) gives the
settings and the migrated engine. Nothing here imports ``qa.cli`` (which imports
the scorecards group), so there is no import cycle.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any, Protocol

import click
from sqlalchemy import Engine, select

from qa.config import Settings
from qa.db import session_scope
from qa.services.periods import parse_month, previous_month


class _Obj(Protocol):
    settings: Settings

    def engine(self, *, migrate: bool = False) -> Engine: ...


def _print_report(report: Any) -> None:
    click.echo(
        f"sent {report.sent}, skipped {report.skipped}, failed {report.failed}, "
        f"retry later {report.retried_later}, unconfirmed {report.unconfirmed}"
    )
    for line in report.problems:
        click.echo(f"  {line}", err=True)


@click.command("send")
@click.option("--month", "month_text", metavar="YYYY-MM", help="Default: the previous month.")
@click.option("--resend", is_flag=True, help="Send again (a new round) even if already sent.")
@click.option(
    "--agent",
    "agents",
    multiple=True,
    metavar="EXTERNAL_ID",
    help="Only these agents (repeatable).",
)
@click.option("--retry", "retry_only", is_flag=True, help="Only retry due deliveries, any month.")
@click.option(
    "--resolve",
    type=int,
    metavar="DELIVERY_ID",
    help="Settle an unconfirmed delivery after checking the mail log (with --as).",
)
@click.option(
    "--as",
    "resolve_as",
    type=click.Choice(["delivered", "not-delivered"]),
    help="With --resolve: mark it sent, or put it back in the queue.",
)
@click.pass_obj
def send(
    obj: _Obj,
    month_text: str | None,
    resend: bool,
    agents: tuple[str, ...],
    retry_only: bool,
    resolve: int | None,
    resolve_as: str | None,
) -> None:
    """E-mail issued scorecards (to the outbox directory when SMTP is not configured).

    Each agent gets a month's scorecard once: running this again only sends what is
    missing. Exit status 1 when a delivery failed or is unconfirmed.
    """
    from scorecards.delivery import resolve_unconfirmed, retry_due, send_month

    settings = obj.settings
    engine = obj.engine()
    if resolve is not None:
        if resolve_as is None:
            raise click.UsageError("--resolve needs --as delivered|not-delivered")
        if not resolve_unconfirmed(engine, resolve, delivered=resolve_as == "delivered"):
            raise click.ClickException(f"delivery {resolve} is not unconfirmed (status sending)")
        click.echo(f"delivery {resolve}: marked {resolve_as}")
        return
    if retry_only:
        report = retry_due(engine, settings)
    else:
        try:
            year, month = (
                parse_month(month_text) if month_text else previous_month(_now(), settings.tz)
            )
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--month") from exc
        agent_ids = _agent_ids(engine, agents) if agents else None
        report = send_month(engine, settings, year, month, resend=resend, agent_ids=agent_ids)
    _print_report(report)
    sys.exit(1 if report.failed or report.unconfirmed else 0)


def _now() -> Any:
    from qa.models import utcnow

    return utcnow()


def _agent_ids(engine: Engine, external_ids: tuple[str, ...]) -> list[int]:
    from qa.models import Agent

    with session_scope(engine) as s:
        found = dict(
            s.execute(
                select(Agent.external_id, Agent.id).where(Agent.external_id.in_(external_ids))
            ).all()
        )
    missing = [e for e in external_ids if e not in found]
    if missing:
        raise click.BadParameter(f"unknown agent(s): {', '.join(missing)}", param_hint="--agent")
    return [found[e] for e in external_ids]


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Run what is due now (missed runs, retries), then exit.")
@click.option(
    "--lease-seconds",
    type=click.IntRange(min=1),
    help="Lease lifetime (default QA_SCHEDULER_LEASE_SECONDS); a standby takes over after it.",
)
@click.option(
    "--retry-every",
    type=click.IntRange(min=1),
    default=60,
    show_default=True,
    help="Seconds between delivery retry runs.",
)
@click.pass_obj
def scheduler(obj: _Obj, once: bool, lease_seconds: int | None, retry_every: int) -> None:
    """Run the background jobs: monthly scorecards, nightly auto-QA, delivery retries.

    Start one per installation (a second one waits on standby and takes over if the
    first dies). Never started by the web app.
    """
    from scorecards.scheduler import run_once, run_scheduler

    settings = obj.settings
    engine = obj.engine()
    if once:
        report = run_once(engine, settings, lease_seconds=lease_seconds)
        if not report.acquired:
            click.echo(f"another scheduler holds the lease ({report.holder}); nothing done")
            return
        click.echo(f"ran: {', '.join(report.ran) or 'nothing'}")
        for job in report.too_late:
            click.echo(f"skipped {job}: missed by more than its grace time", err=True)
        for job, error in report.errors.items():
            click.echo(f"{job} failed: {error}", err=True)
        sys.exit(1 if report.errors else 0)
    stop = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        click.echo(f"received signal {signum}; stopping the scheduler", err=True)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(
        f"scheduler: monthly scorecards on day {settings.scorecard_day} at "
        f"{settings.scorecard_hour:02d}:00 {settings.timezone}; waiting for the lease"
    )
    run_scheduler(
        engine, settings, stop=stop, lease_seconds=lease_seconds, retry_every_s=retry_every
    )
