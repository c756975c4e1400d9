"""The ``qa`` command line. Thin: parse arguments, call services, print results.

Every command reads the database URL from ``QA_DATABASE_URL`` through
``qa.config`` (or ``--database-url``), so the same commands work on the
embedded SQLite default and on PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine, func, select

from qa import db
from qa.config import ConfigError, Settings, get_settings, set_settings


class Context:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine: Engine | None = None

    @property
    def url(self) -> str:
        return self.settings.effective_database_url

    def engine(self, *, migrate: bool = False) -> Engine:
        if self._engine is None:
            self._engine = db.make_engine(self.url)
        if migrate:
            db.upgrade(self._engine)
        else:
            current = db.current_revision(self._engine)
            if current != db.head_revision():
                raise click.ClickException(
                    f"the database at {safe_url(self.url)} is not initialised or not up to date "
                    f"(revision {current or 'none'}); run `qa init` or `qa db upgrade`"
                )
        return self._engine


def safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


pass_ctx = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--database-url",
    metavar="URL",
    help="Database URL (overrides QA_DATABASE_URL; default: embedded SQLite in QA_DATA_DIR).",
)
@click.version_option(package_name="jawda", prog_name="qa")
@click.pass_context
def cli(ctx: click.Context, database_url: str | None) -> None:
    """Jawda: quality management and agent scorecards for contact centres."""
    try:
        settings = get_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if database_url:
        settings = Settings(**{**settings.__dict__, "database_url": database_url})
        set_settings(settings)
    ctx.obj = Context(settings)


# ----------------------------------------------------------------------------- db


@cli.group("db")
def db_group() -> None:
    """Database schema migrations."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@pass_ctx
def db_upgrade(ctx: Context, revision: str) -> None:
    """Apply migrations (safe to run repeatedly)."""
    engine = db.make_engine(ctx.url)
    db.upgrade(engine, revision)
    click.echo(f"database {safe_url(ctx.url)} at revision {db.current_revision(engine)}")


@db_group.command("current")
@pass_ctx
def db_current(ctx: Context) -> None:
    """Show the database's migration revision."""
    engine = db.make_engine(ctx.url)
    click.echo(f"{db.current_revision(engine) or 'none'} (head: {db.head_revision()})")


# ----------------------------------------------------------------------------- init


@cli.command()
@click.option("--admin-username", default="admin", show_default=True)
@click.option(
    "--admin-password",
    prompt="Password for the first admin",
    hide_input=True,
    confirmation_prompt=True,
    envvar="QA_INIT_ADMIN_PASSWORD",
    show_envvar=True,
    help="Password of the first admin (prompted when not given).",
)
@pass_ctx
def init(ctx: Context, admin_username: str, admin_password: str) -> None:
    """Migrate the database, install the built-in rubric and create the first admin."""
    from qa.models import User
    from qa.services import rubrics as rubric_service
    from qa.services import users
    from qa.services.errors import ServiceError

    engine = ctx.engine(migrate=True)
    with db.session_scope(engine) as session:
        version = rubric_service.install_builtin(session)
        exists = session.scalar(select(func.count()).where(User.username == admin_username))
        if exists:
            click.echo(f"user {admin_username!r} already exists; left unchanged")
        else:
            try:
                users.create_user(session, admin_username, role="admin", password=admin_password)
            except ServiceError as exc:
                raise click.ClickException(str(exc)) from exc
            click.echo(f"created admin {admin_username!r}")
        click.echo(
            f"database {safe_url(ctx.url)} ready; rubric {version.rubric.key} v{version.version}"
        )


# ----------------------------------------------------------------------------- rubrics


@cli.group("rubric")
def rubric_group() -> None:
    """Check, import and list rubrics."""


@rubric_group.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
def rubric_check(files: tuple[Path, ...]) -> None:
    """Validate rubric YAML files; print every problem; exit 1 if any file is invalid."""
    from rubrics import check_rubric_text, format_problem

    bad = False
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            click.echo(f"{path}: RUB000 cannot read file: {exc}", err=True)
            bad = True
            continue
        problems = check_rubric_text(text, str(path))
        for problem in problems:
            click.echo(format_problem(problem), err=True)
        if problems:
            bad = True
        else:
            click.echo(f"{path}: OK")
    sys.exit(1 if bad else 0)


@rubric_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
def rubric_import(ctx: Context, file: Path) -> None:
    """Store a rubric YAML as a new version (unchanged content keeps its version)."""
    from qa.services.rubrics import save_rubric
    from rubrics import RubricInvalid, format_problem

    with db.session_scope(ctx.engine()) as session:
        try:
            version, created = save_rubric(
                session, file.read_text(encoding="utf-8"), source=str(file)
            )
        except RubricInvalid as exc:
            for problem in exc.problems:
                click.echo(format_problem(problem), err=True)
            sys.exit(1)
        state = "created" if created else "unchanged, already stored as"
        click.echo(f"{version.rubric.key}: {state} version {version.version}")


@rubric_group.command("list")
@pass_ctx
def rubric_list(ctx: Context) -> None:
    """List stored rubric versions."""
    from qa.services.rubrics import list_versions

    with db.session_scope(ctx.engine()) as session:
        for v in list_versions(session):
            click.echo(
                f"{v.rubric.key}\tv{v.version}\t{v.content_hash[:12]}\t{v.created_at:%Y-%m-%d %H:%M}"
            )


# ----------------------------------------------------------------------------- import


@cli.command("import")
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--source", default="import", show_default=True, help="Source system name.")
@click.option(
    "--encoding",
    default="utf-8-sig",
    show_default=True,
    help="Text encoding, e.g. cp1256 for Arabic Excel CSV exports.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "json", "csv"]), help="Override detection."
)
@click.option("--strict", is_flag=True, help="Refuse interactions of unknown agents.")
@click.option("--no-analyze", is_flag=True, help="Skip auto-QA of the new interactions.")
@pass_ctx
def import_cmd(
    ctx: Context,
    paths: tuple[Path, ...],
    source: str,
    encoding: str,
    fmt: str | None,
    strict: bool,
    no_analyze: bool,
) -> None:
    """Import interactions from JSONL/JSON/CSV files, each file all-or-nothing."""
    from qa.importer import ImportFailed, import_file

    engine = ctx.engine()
    failed = False
    for path in paths:
        try:
            with db.session_scope(engine) as session:
                report = import_file(
                    session, path, fmt=fmt, source=source, encoding=encoding, strict=strict
                )
        except ImportFailed as exc:
            failed = True
            click.echo(f"{path}: refused, nothing imported:", err=True)
            for problem in exc.problems:
                click.echo(f"  {problem}", err=True)
            continue
        click.echo(report.summary())
        if report.interaction_ids and not no_analyze:
            _analyze(ctx, engine, report.interaction_ids)
        for ext in report.duplicates[:20]:
            click.echo(f"  duplicate (already imported): {ext}")
        if len(report.duplicates) > 20:
            click.echo(f"  ... and {len(report.duplicates) - 20} more duplicates")
    sys.exit(1 if failed else 0)


def _analyze(ctx: Context, engine: Engine, ids: list[int]) -> None:
    """Auto-QA of freshly imported interactions, in its own transaction: the import
    stays committed even if analysis fails, and `qa analyze` picks up what is left."""
    from qa.services.analysis import analyze_interactions

    with db.session_scope(engine) as session:
        report = analyze_interactions(session, lexicon_dir=ctx.settings.lexicon_dir, only=ids)
    click.echo(f"  auto-QA: analysed {report.analysed} interaction(s)")
    for ext, error in report.failed[:20]:
        click.echo(f"  auto-QA failed for interaction {ext}: {error}", err=True)


@cli.command()
@click.option("--force", is_flag=True, help="Re-analyse everything, not only new or stale.")
@click.option(
    "--processes",
    default=1,
    show_default=True,
    help="Processes for bulk runs (this one plus N-1 workers).",
)
@pass_ctx
def analyze(ctx: Context, force: bool, processes: int) -> None:
    """Run auto-QA on interactions that are new or stale (lexicon or rubric changed)."""
    from qa.services.analysis import analyze_interactions

    with db.session_scope(ctx.engine()) as session:
        report = analyze_interactions(
            session, lexicon_dir=ctx.settings.lexicon_dir, force=force, processes=processes
        )
    click.echo(f"analysed {report.analysed}; {report.up_to_date} already up to date")
    for ext, error in report.failed:
        click.echo(f"failed: interaction {ext}: {error}", err=True)
    sys.exit(1 if report.failed else 0)


@cli.command()
@click.option("--rubric-version", type=int, help="Only suggestions for this rubric version id.")
@pass_ctx
def agreement(ctx: Context, rubric_version: int | None) -> None:
    """How often auto-QA suggestions match reviewers' final answers, per criterion."""
    from qa.services.analysis import agreement as compute

    with db.session_scope(ctx.engine()) as session:
        rows = compute(session, rubric_version_id=rubric_version)
    click.echo("criterion\tcompared\tagreed\trate\tmean_abs_diff")
    for r in rows:
        rate = "-" if r.rate is None else f"{r.rate:.2f}"
        mad = "-" if r.mean_abs_diff is None else f"{r.mean_abs_diff:.2f}"
        click.echo(f"{r.criterion_id}\t{r.compared}\t{r.agreed}\t{rate}\t{mad}")


# ----------------------------------------------------------------------------- users


@cli.group("user")
def user_group() -> None:
    """Manage login accounts."""


def _password_option(**kwargs: Any) -> Any:
    return click.option(
        "--password",
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        help="Prompted when not given.",
        **kwargs,
    )


@user_group.command("add")
@click.argument("username")
@click.option(
    "--role", required=True, type=click.Choice(["admin", "qa_lead", "reviewer", "trainer", "agent"])
)
@click.option("--name", "display_name", help="Display name.")
@click.option("--email")
@click.option("--locale", type=click.Choice(["en", "ar"]), default="en", show_default=True)
@click.option(
    "--agent", "agent_external_id", help="Link to this agent id (a user may be an agent)."
)
@_password_option()
@pass_ctx
def user_add(
    ctx: Context,
    username: str,
    role: str,
    display_name: str | None,
    email: str | None,
    locale: str,
    agent_external_id: str | None,
    password: str,
) -> None:
    """Create a user."""
    from qa.models import Agent
    from qa.services import users
    from qa.services.errors import ServiceError

    with db.session_scope(ctx.engine()) as session:
        agent = None
        if agent_external_id:
            agent = session.scalar(select(Agent).where(Agent.external_id == agent_external_id))
            if agent is None:
                raise click.ClickException(f"no agent with id {agent_external_id!r}")
        try:
            users.create_user(
                session,
                username,
                role=role,
                password=password,
                display_name=display_name,
                email=email,
                locale=locale,
                agent=agent,
            )
        except ServiceError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"created {role} {username!r}")


@user_group.command("set-password")
@click.argument("username")
@_password_option()
@pass_ctx
def user_set_password(ctx: Context, username: str, password: str) -> None:
    """Set a user's password (also lifts a lockout)."""
    from qa.services import users
    from qa.services.errors import ServiceError

    with db.session_scope(ctx.engine()) as session:
        try:
            users.set_password(session, users.get_user(session, username), password, actor=None)
        except ServiceError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"password of {username!r} changed")


@user_group.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(["admin", "qa_lead", "reviewer", "trainer", "agent"]))
@pass_ctx
def user_set_role(ctx: Context, username: str, role: str) -> None:
    """Change a user's role."""
    from qa.services import users
    from qa.services.errors import ServiceError

    with db.session_scope(ctx.engine()) as session:
        try:
            users.set_role(session, users.get_user(session, username), role, actor=None)
        except ServiceError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"{username!r} is now {role}")


@user_group.command("list")
@pass_ctx
def user_list(ctx: Context) -> None:
    """List users (never their passwords)."""
    from qa.models import User

    with db.session_scope(ctx.engine()) as session:
        for u in session.scalars(select(User).order_by(User.username)):
            click.echo(
                f"{u.username}\t{u.role}\t{u.locale}\t{'active' if u.is_active else 'disabled'}"
            )


# ----------------------------------------------------------------------------- demo / serve


@cli.command()
@click.option("--reset", is_flag=True, help="Delete and recreate the demo database.")
@click.option("--seed", default=7, show_default=True, help="Random seed (same seed, same data).")
@click.option("--no-serve", is_flag=True, help="Stop after seeding instead of starting the app.")
@click.option("--port", default=8501, show_default=True)
@pass_ctx
def demo(ctx: Context, reset: bool, seed: int, no_serve: bool, port: int) -> None:
    """Create a demo database (teams, agents, interactions, reviews, accounts) and start the app."""
    from qa.demo import DEMO_PASSWORD, build_demo, demo_exists, reset_database

    engine = db.make_engine(ctx.url)
    if reset:
        reset_database(engine)
    db.upgrade(engine)
    with db.session_scope(engine) as session:
        if demo_exists(session):
            click.echo("demo data already present (use --reset to recreate)")
            accounts = None
        else:
            accounts = build_demo(session, seed=seed)
    if accounts:
        from qa.demo import finish_demo
        from qa.services.analysis import analyze_interactions

        with db.session_scope(engine) as session:
            analysed = analyze_interactions(session, lexicon_dir=ctx.settings.lexicon_dir)
        accounts.stats["analysed"] = analysed.analysed
        accounts.stats.update(finish_demo(engine, ctx.settings))
        stats = accounts.stats
        click.echo(
            f"demo database {safe_url(ctx.url)}: {stats['teams']} teams, {stats['agents']} agents, "
            f"{stats['interactions']} interactions ({stats['analysed']} analysed by auto-QA), "
            f"{stats['reviews']} reviews, {stats['queued']} queued for review, "
            f"{stats['scorecards']} scorecards for last month"
        )
        click.echo(f"accounts (password for all: {DEMO_PASSWORD}):")
        for username, role, locale in accounts.logins:
            click.echo(f"  {username:<14} {role:<9} {locale}")
    if not no_serve:
        _serve(ctx, port=port)


@cli.command()
@click.option("--port", default=8501, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@pass_ctx
def serve(ctx: Context, port: int, host: str) -> None:
    """Start the Streamlit app."""
    ctx.engine()
    _serve(ctx, port=port, host=host)


def _serve(ctx: Context, *, port: int, host: str = "127.0.0.1") -> None:
    app = Path(__file__).resolve().parent.parent / "streamlit_app.py"
    env = {**os.environ, "QA_DATABASE_URL": ctx.url}
    click.echo(f"starting the app on http://{host}:{port}  (Ctrl+C to stop)")
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.maxUploadSize",  # the app enforces QA_MAX_UPLOAD_MB itself, below this
        str(ctx.settings.max_upload_mb),
    ]
    try:
        raise SystemExit(subprocess.call(cmd, env=env))
    except KeyboardInterrupt:
        raise SystemExit(0) from None


# ----------------------------------------------------------------------------- calibration


@cli.group("calibration")
def calibration_group() -> None:
    """Reviewer calibration sessions."""


@calibration_group.command("report")
@click.argument("session_id", type=int)
@click.option(
    "--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True
)
@pass_ctx
def calibration_report(ctx: Context, session_id: int, fmt: str) -> None:
    """Print a closed calibration session's report (open sessions stay blind)."""
    import json

    from qa.services.calibration import operator_report
    from qa.services.errors import ServiceError

    with db.session_scope(ctx.engine()) as session:
        try:
            report = operator_report(session, session_id)
        except ServiceError as exc:
            raise click.ClickException(str(exc)) from exc
        if fmt == "csv":
            click.echo(report.to_csv(), nl=False)
        else:
            click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))


def _register_plugins() -> None:
    """Commands that live beside their packages (all registered in this one place)."""
    from qa.nlp.flagcli import flag
    from scorecards.cli import scorecards_group
    from scorecards.delivery_cli import scheduler, send

    cli.add_command(flag, "flag")
    scorecards_group.add_command(send, "send")
    cli.add_command(scorecards_group, "scorecards")
    cli.add_command(scheduler, "scheduler")


_register_plugins()


def main() -> None:
    cli(prog_name="qa")
