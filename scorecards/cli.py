"""``qa scorecards ...``: issue monthly scorecards from the command line.

The group object is shared: ``qa.cli`` registers it and other modules add their
commands (``send``, ``scheduler``) to it. ``qa.cli`` is imported lazily inside
commands so importing this module first never creates an import cycle.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlalchemy import select

scorecards_group = click.Group(
    "scorecards", help="Issue, deliver and schedule monthly agent scorecards."
)


@scorecards_group.command("generate")
@click.option("--month", required=True, metavar="YYYY-MM", help="Month in the org time zone.")
@click.option(
    "--agent",
    "agents",
    multiple=True,
    metavar="EXTERNAL_ID",
    help="Only this agent (repeatable). Default: every active agent.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write each new PDF to DIR/<YYYY-MM>/<agent id>.pdf.",
)
@click.option(
    "--processes",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes for rendering PDFs.",
)
@click.pass_context
def generate(
    click_ctx: click.Context,
    month: str,
    agents: tuple[str, ...],
    out_dir: Path | None,
    processes: int,
) -> None:
    """Issue the month's scorecards for agents who have none yet (safe to re-run)."""
    from qa import db
    from qa.cli import Context
    from qa.models import Agent
    from qa.services.errors import ServiceError
    from qa.services.periods import parse_month
    from scorecards.issue import issue_month

    try:
        year, mon = parse_month(month)
    except ValueError as exc:
        raise click.ClickException(f"--month: {exc}") from exc
    ctx = click_ctx.find_object(Context)
    if ctx is None:  # pragma: no cover - only when the group is used outside `qa`
        raise click.ClickException("run this as `qa scorecards generate`")
    engine = ctx.engine()
    agent_ids = None
    if agents:
        with db.session_scope(engine) as session:
            found = dict(
                session.execute(
                    select(Agent.external_id, Agent.id).where(Agent.external_id.in_(agents))
                ).all()
            )
        missing = [a for a in agents if a not in found]
        if missing:
            raise click.ClickException(f"--agent: no agent with id {', '.join(map(repr, missing))}")
        agent_ids = list(found.values())
    try:
        report = issue_month(
            engine,
            year,
            mon,
            ctx.settings.tz,
            agent_ids=agent_ids,
            out_dir=out_dir,
            processes=processes,
        )
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(report.summary())
    if out_dir is not None and report.issued:
        click.echo(f"PDFs written to {out_dir / report.period}")
    for ext, error in report.failed:
        click.echo(f"failed: agent {ext}: {error}", err=True)
    sys.exit(1 if report.failed else 0)
