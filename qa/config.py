"""The one settings object.

Environment variables are read here and nowhere else: domain code receives a
``Settings`` (or the values it needs) from the edge (CLI, app, scheduler), so
tests can build any configuration without touching ``os.environ``.
Every field is documented in the README's configuration table; a test keeps the
two in step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ConfigError(ValueError):
    """A setting has a value we cannot use; the message names the variable."""


def default_data_dir() -> Path:
    """Where the embedded database and outbox live unless told otherwise.

    Follows the XDG convention so a demo never litters the working directory.
    """
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "jawda"


@dataclass(frozen=True)
class Settings:
    """All runtime configuration. ``env`` names the variable behind each field."""

    data_dir: Path = field(default_factory=default_data_dir, metadata={"env": "QA_DATA_DIR"})
    database_url: str = field(default="", metadata={"env": "QA_DATABASE_URL"})
    timezone: str = field(default="UTC", metadata={"env": "QA_TIMEZONE"})
    lexicon_dir: Path | None = field(default=None, metadata={"env": "QA_LEXICON_DIR"})
    outbox_dir: Path | None = field(default=None, metadata={"env": "QA_OUTBOX_DIR"})
    smtp_host: str = field(default="", metadata={"env": "QA_SMTP_HOST"})
    smtp_port: int = field(default=0, metadata={"env": "QA_SMTP_PORT"})
    smtp_user: str = field(default="", metadata={"env": "QA_SMTP_USER"})
    smtp_password: str = field(default="", metadata={"env": "QA_SMTP_PASSWORD"}, repr=False)
    smtp_tls: str = field(default="starttls", metadata={"env": "QA_SMTP_TLS"})
    smtp_from: str = field(default="scorecards@localhost", metadata={"env": "QA_SMTP_FROM"})
    max_upload_mb: int = field(default=200, metadata={"env": "QA_MAX_UPLOAD_MB"})
    session_ttl_minutes: int = field(default=480, metadata={"env": "QA_SESSION_TTL_MINUTES"})
    dispute_window_days: int = field(default=14, metadata={"env": "QA_DISPUTE_WINDOW_DAYS"})
    log_level: str = field(default="INFO", metadata={"env": "QA_LOG_LEVEL"})
    scorecard_day: int = field(default=1, metadata={"env": "QA_SCORECARD_DAY"})
    scorecard_hour: int = field(default=6, metadata={"env": "QA_SCORECARD_HOUR"})
    delivery_max_attempts: int = field(default=6, metadata={"env": "QA_DELIVERY_MAX_ATTEMPTS"})
    scheduler_lease_seconds: int = field(default=30, metadata={"env": "QA_SCHEDULER_LEASE_SECONDS"})

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"QA_TIMEZONE: unknown time zone {self.timezone!r}") from exc
        if self.smtp_tls not in {"starttls", "ssl", "none"}:
            raise ConfigError(
                f"QA_SMTP_TLS: expected one of starttls, ssl, none; got {self.smtp_tls!r}"
            )
        # Day 29-31 does not exist in every month; a monthly run that silently skips
        # February is worse than a clear error.
        if not 1 <= self.scorecard_day <= 28:
            raise ConfigError(
                f"QA_SCORECARD_DAY: expected a day of the month from 1 to 28, got {self.scorecard_day}"
            )
        if not 0 <= self.scorecard_hour <= 23:
            raise ConfigError(
                f"QA_SCORECARD_HOUR: expected an hour from 0 to 23, got {self.scorecard_hour}"
            )
        if self.delivery_max_attempts < 1:
            raise ConfigError(
                f"QA_DELIVERY_MAX_ATTEMPTS: expected at least 1, got {self.delivery_max_attempts}"
            )
        if self.scheduler_lease_seconds < 1:
            raise ConfigError(
                "QA_SCHEDULER_LEASE_SECONDS: expected at least 1, "
                f"got {self.scheduler_lease_seconds}"
            )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "qa.sqlite3"

    @property
    def effective_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file in ``data_dir``."""
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def effective_outbox_dir(self) -> Path:
        return self.outbox_dir or (self.data_dir / "outbox")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables; unknown ``QA_`` names are ignored."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            name = f.metadata["env"]
            raw = env.get(name)
            if raw is None or raw == "":
                continue
            values[f.name] = _coerce(name, raw, f.type)
        return cls(**values)  # type: ignore[arg-type]


def env_names() -> list[str]:
    """Every environment variable ``Settings`` reads (the README table must list them)."""
    return [f.metadata["env"] for f in fields(Settings)]


def _coerce(name: str, raw: str, annotation: object) -> object:
    kind = str(annotation)
    if "Path" in kind:
        return Path(raw).expanduser()
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None
    return raw


_current: Settings | None = None


def get_settings() -> Settings:
    """Settings for this process, read once from the environment."""
    global _current
    if _current is None:
        _current = Settings.from_env()
    return _current


def set_settings(settings: Settings | None) -> None:
    """Replace the process settings (tests and the CLI's ``--database`` option)."""
    global _current
    _current = settings
