"""Rubric versions: validated, content-hashed, immutable.

Saving a rubric whose content hash already exists returns that version instead
of creating a new one, so re-running ``qa init`` or re-uploading the same YAML
never multiplies versions; any real change creates version N+1 and reviews
keep pointing at the version they were scored on.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qa.models import Rubric as RubricRow
from qa.models import RubricVersion, User
from qa.services import audit
from qa.services.errors import NotFound
from rubrics import Rubric, builtin_rubric_path, load_rubric

BUILTIN_KEY = "contact_center"


def save_rubric(
    session: Session, text: str, *, source: str = "<upload>", actor: User | None = None
) -> tuple[RubricVersion, bool]:
    """Validate YAML and store it as a new version; returns (version, created).

    Raises ``rubrics.RubricInvalid`` (with every problem) when the YAML is invalid.
    """
    rubric = load_rubric(text, source=source)
    digest = rubric.content_hash()
    row = session.scalar(select(RubricRow).where(RubricRow.key == rubric.key))
    if row is None:
        row = RubricRow(key=rubric.key, name=rubric.name.en)
        session.add(row)
        session.flush()
    else:
        existing = session.scalar(
            select(RubricVersion).where(
                RubricVersion.rubric_id == row.id, RubricVersion.content_hash == digest
            )
        )
        if existing is not None:
            return existing, False
        row.name = rubric.name.en
    number = (
        session.scalar(
            select(func.max(RubricVersion.version)).where(RubricVersion.rubric_id == row.id)
        )
        or 0
    ) + 1
    version = RubricVersion(
        rubric_id=row.id,
        version=number,
        content_hash=digest,
        source_yaml=text,
        definition=rubric.to_definition(),
        created_by_id=actor.id if actor is not None else None,
    )
    session.add(version)
    session.flush()
    audit.record(
        session,
        actor,
        "create",
        "rubric_version",
        version.id,
        after={"key": rubric.key, "version": number, "hash": digest},
    )
    return version, True


def install_builtin(session: Session, actor: User | None = None) -> RubricVersion:
    path = builtin_rubric_path(BUILTIN_KEY)
    version, _ = save_rubric(
        session, path.read_text(encoding="utf-8"), source=str(path), actor=actor
    )
    return version


def latest_version(session: Session, key: str = BUILTIN_KEY) -> RubricVersion:
    version = session.scalar(
        select(RubricVersion)
        .join(RubricRow)
        .where(RubricRow.key == key)
        .order_by(RubricVersion.version.desc())
        .limit(1)
    )
    if version is None:
        raise NotFound(f"no rubric {key!r}; run `qa init` or `qa rubric import FILE`")
    return version


def list_versions(session: Session) -> list[RubricVersion]:
    return list(
        session.scalars(
            select(RubricVersion).join(RubricRow).order_by(RubricRow.key, RubricVersion.version)
        )
    )


_parsed: dict[str, Rubric] = {}


def rubric_of(version: RubricVersion) -> Rubric:
    """The parsed rubric of a stored version, cached by content hash (versions never change)."""
    rubric = _parsed.get(version.content_hash)
    if rubric is None:
        rubric = Rubric.from_definition(version.definition)
        if len(_parsed) > 256:
            _parsed.clear()
        _parsed[version.content_hash] = rubric
    return rubric
