"""Storing and reading auto-QA: flags, findings, timing metrics, suggested answers.

An interaction's ``analysis_version`` stamps the lexicon version of its
language and the rubric version its suggestions were made for. ``qa analyze``
(and the nightly job) re-analyses only interactions whose stamp differs from
the current one, so a lexicon or rubric change touches exactly what is stale.
Suggestions live in their own table and never overwrite human answers; the
agreement query compares them with submitted reviews per criterion.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.orm import Session

from qa.models import (
    AnalysisFinding,
    AnalysisFlag,
    AuditEvent,
    AutoSuggestion,
    Interaction,
    Review,
    ReviewAnswer,
    ReviewStatus,
    RubricVersion,
    Turn,
    utcnow,
)
from qa.models import InteractionAnalysis as AnalysisRow
from qa.nlp.lexicon import MATCHING_VERSION
from qa.nlp.timing import METRICS_VERSION
from qa.services import audit, autoqa
from qa.services.errors import NotFound
from qa.services.rubrics import latest_version

BATCH = 200
#: Results stored per round: small enough that workers keep busy meanwhile.
STORE_BATCH = 50
ID_CHUNK = 5000


def lexicon_version(lang: str, lexicon_dir: Path | None) -> str:
    from qa.nlp import get_lexicon

    return str(get_lexicon(lang, lexicon_dir).version)


def current_stamps(rubric: RubricVersion | None, lexicon_dir: Path | None) -> dict[str, str]:
    """The analysis stamp per language: lexicon, matcher and metrics versions + rubric hash."""
    suffix = f"|match:{MATCHING_VERSION}|timing:{METRICS_VERSION}"
    suffix += f"|rubric:{rubric.content_hash[:12]}" if rubric is not None else "|rubric:none"
    return {lang: lexicon_version(lang, lexicon_dir) + suffix for lang in ("en", "ar")}


@dataclass
class AnalyzeReport:
    analysed: int
    up_to_date: int
    failed: list[tuple[str, str]]


def _batches(ids: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def _stale_clause(stamps: dict[str, str]) -> Any:
    return or_(
        Interaction.analysis_version.is_(None),
        and_(Interaction.language == "en", Interaction.analysis_version != stamps["en"]),
        and_(Interaction.language == "ar", Interaction.analysis_version != stamps["ar"]),
    )


def stale_ids(
    session: Session, stamps: dict[str, str], *, only: Sequence[int] | None = None
) -> list[int]:
    """Ids needing analysis; ``only`` is queried in chunks (a big import can name more
    interactions than PostgreSQL accepts bound parameters in one statement: 65,535)."""
    if only is None:
        query = select(Interaction.id).where(_stale_clause(stamps)).order_by(Interaction.id)
        return list(session.scalars(query))
    found: list[int] = []
    for chunk in _batches(only, ID_CHUNK):
        found.extend(
            session.scalars(
                select(Interaction.id).where(_stale_clause(stamps), Interaction.id.in_(chunk))
            )
        )
    return sorted(found)


def analyze_interactions(
    session: Session,
    *,
    lexicon_dir: Path | None = None,
    rubric: RubricVersion | None = None,
    only: Iterable[int] | None = None,
    force: bool = False,
    processes: int = 1,
    on_progress: Callable[[int, int], None] | None = None,
) -> AnalyzeReport:
    """Analyse new or stale interactions (all of ``only`` when ``force``)."""
    from qa.nlp.bulk import DEFAULT_CHUNK, AnalysisPool  # loads spaCy: only when analysing

    if rubric is None:
        try:
            rubric = latest_version(session)
        except NotFound:
            rubric = None  # no rubric yet: flags and metrics, no suggestions
    stamps = current_stamps(rubric, lexicon_dir)
    _audit_lexicon_changes(session, lexicon_dir)
    ids = None if only is None else sorted(set(only))
    if ids is None:
        total_candidates = session.scalar(select(func.count(Interaction.id))) or 0
        todo = (
            list(session.scalars(select(Interaction.id).order_by(Interaction.id)))
            if force
            else stale_ids(session, stamps)
        )
    else:
        total_candidates = len(ids)
        todo = ids if force else stale_ids(session, stamps, only=ids)
    definition = rubric.definition if rubric is not None else None
    report = AnalyzeReport(0, max(0, total_candidates - len(todo)), [])
    if not todo:
        return report
    # Worker processes build their analyzers and receive the rubric once; jobs go
    # out in chunks (one round trip per chunk, not per interaction). Jobs stream
    # through the pool: the next batch is read while workers still have queued
    # chunks, and results are stored while they analyse the following ones.
    workers = max(1, min(processes, -(-len(todo) // 64)))  # no idle workers on small runs
    chunk = max(1, min(DEFAULT_CHUNK, BATCH // (2 * workers)))
    loaded: deque[tuple[int, str, str, list[Any]]] = deque()  # sent, not yet answered

    def jobs() -> Iterator[tuple[list[tuple[str, str, float | None, float | None]], str, str]]:
        for batch in _batches(todo, BATCH):
            batch_jobs = _load_jobs(session, batch)
            loaded.extend(batch_jobs)
            for _iid, channel, lang, turns in batch_jobs:
                yield turns, channel, lang  # (speaker, text, start, end) rows, as stored

    results: list[tuple[int, dict[str, Any] | None, str | None]] = []
    meta: dict[int, Any] = {}

    def flush() -> None:
        _store(session, results, meta, stamps, rubric, report)
        results.clear()
        meta.clear()
        if on_progress:
            on_progress(report.analysed + len(report.failed), len(todo))

    with AnalysisPool(workers, lexicon_dir=lexicon_dir, rubric=definition, chunksize=chunk) as pool:
        for data, err in pool.auto_qa(jobs()):
            job = loaded.popleft()
            results.append((job[0], data, err))
            meta[job[0]] = job
            if len(results) >= STORE_BATCH:
                flush()
        if results:
            flush()
    return report


def _audit_lexicon_changes(session: Session, lexicon_dir: Path | None) -> None:
    """Lexicons are files (shipped, or overridden via QA_LEXICON_DIR), so no service sees
    them change; the first analysis that uses a new effective version records the change
    in the audit trail (before/after versions and where the lexicon came from)."""
    for lang in ("en", "ar"):
        version = lexicon_version(lang, lexicon_dir)
        last = session.scalar(
            select(AuditEvent)
            .where(AuditEvent.entity_type == "lexicon", AuditEvent.entity_id == lang)
            .order_by(AuditEvent.id.desc())
            .limit(1)
        )
        previous = (last.after or {}).get("version") if last is not None else None
        if previous != version:
            audit.record(
                session,
                None,
                "create" if previous is None else "change",
                "lexicon",
                lang,
                before=None if previous is None else {"version": previous},
                after={
                    "version": version,
                    "source": str(lexicon_dir) if lexicon_dir else "shipped",
                },
            )


def _load_jobs(
    session: Session, ids: Sequence[int]
) -> list[tuple[int, str, str, list[tuple[str, str, float | None, float | None]]]]:
    heads = {
        iid: (channel, lang)
        for iid, channel, lang in session.execute(
            select(Interaction.id, Interaction.channel, Interaction.language).where(
                Interaction.id.in_(ids)
            )
        )
    }
    turns: dict[int, list[tuple[str, str, float | None, float | None]]] = {i: [] for i in ids}
    for iid, speaker, text, start, end in session.execute(
        select(Turn.interaction_id, Turn.speaker, Turn.text, Turn.start_s, Turn.end_s)
        .where(Turn.interaction_id.in_(ids))
        .order_by(Turn.interaction_id, Turn.seq)
    ):
        turns[iid].append((speaker, text, start, end))
    return [(iid, heads[iid][0], heads[iid][1], turns[iid]) for iid in ids if iid in heads]


def _store(
    session: Session,
    results: list[tuple[int, dict[str, Any] | None, str | None]],
    meta: dict[int, Any],
    stamps: dict[str, str],
    rubric: RubricVersion | None,
    report: AnalyzeReport,
) -> None:
    ok = [(iid, data) for iid, data, err in results if data is not None]
    for iid, _data, err in results:
        if err is not None:
            report.failed.append((str(iid), err))
    if not ok:
        return
    ids = [iid for iid, _ in ok]
    people: dict[int, int] = {}
    times: dict[int, datetime] = {}
    for iid, agent_id, started_at in session.execute(
        select(Interaction.id, Interaction.agent_id, Interaction.started_at).where(
            Interaction.id.in_(ids)
        )
    ):
        people[iid], times[iid] = agent_id, started_at
    for model in (AnalysisFlag, AnalysisFinding, AnalysisRow):
        session.execute(delete(model).where(model.interaction_id.in_(ids)))
    if rubric is not None:
        session.execute(
            delete(AutoSuggestion).where(
                AutoSuggestion.interaction_id.in_(ids),
                AutoSuggestion.rubric_version_id == rubric.id,
            )
        )
    now = utcnow()
    analyses, flags, findings, suggestions = [], [], [], []
    for iid, data in ok:
        a = data["analysis"]
        lang = meta[iid][2]
        analyses.append(
            {
                "interaction_id": iid,
                "version": stamps[lang],
                "lexicon_version": a["lexicon_version"],
                "rubric_version_id": rubric.id if rubric is not None else None,
                "metrics": data["metrics"],
                "analyzed_at": now,
            }
        )
        for f in a["flags"]:
            flags.append(
                {
                    "interaction_id": iid,
                    "turn": f["turn"],
                    "rule": f["rule"],
                    "behavior": f["behavior"],
                    "polarity": f["polarity"],
                    "criterion": f.get("criterion"),
                    "severity": f.get("severity") or "medium",
                    "start": f["start"],
                    "end": f["end"],
                    "text": f["text"],
                    "suggestion": f.get("suggestion"),
                    "coaching_tip": f.get("coaching_tip"),
                    "agent_id": people[iid],
                    "interaction_at": times[iid],
                }
            )
        for fd in a["findings"]:
            findings.append(
                {
                    "interaction_id": iid,
                    "finding": fd["id"],
                    "why": fd["why"],
                    "turn": fd.get("turn"),
                    "evidence": fd.get("evidence", []),
                    "agent_id": people[iid],
                    "interaction_at": times[iid],
                }
            )
        if rubric is not None:
            for cid, sug in data["suggestions"].items():
                if sug is None:
                    continue
                suggestions.append(
                    {
                        "interaction_id": iid,
                        "rubric_version_id": rubric.id,
                        "criterion_id": cid,
                        "value": sug["value"],
                        "na": bool(sug["na"]),
                        "confidence": float(sug["confidence"]),
                        "reasons": sug["reasons"],
                    }
                )
    for model, rows in (
        (AnalysisRow, analyses),
        (AnalysisFlag, flags),
        (AnalysisFinding, findings),
        (AutoSuggestion, suggestions),
    ):
        if rows:
            session.execute(model.__table__.insert(), rows)
    for lang in ("en", "ar"):
        lang_ids = [iid for iid in ids if meta[iid][2] == lang]
        if lang_ids:
            session.execute(
                update(Interaction)
                .where(Interaction.id.in_(lang_ids))
                .values(analysis_version=stamps[lang])
            )
    report.analysed += len(ok)


# ----------------------------------------------------------------------------- reading


def _reason_text(r: dict[str, Any]) -> str:
    kind = r.get("kind")
    if kind == "flag":
        return f"{r['behavior']}: “{r['text']}” (turn {r['turn'] + 1}, rule {r['rule']})"
    if kind == "metric":
        verdict = "within" if r.get("passed") else "outside"
        value = r.get("value")
        shown = "—" if value is None else f"{value:g}"
        return f"{r['name']} = {shown} ({verdict} threshold {r.get('threshold')})"
    return f"{r.get('id')}: {r.get('why')}"


def analysis_for(session: Session, interaction_id: int) -> autoqa.InteractionAnalysis | None:
    head = session.scalar(select(AnalysisRow).where(AnalysisRow.interaction_id == interaction_id))
    if head is None:
        return None
    flags = [
        autoqa.Flag(
            turn=f.turn,
            behavior=f.behavior,
            polarity=f.polarity,
            rule=f.rule,
            start=f.start,
            end=f.end,
            text=f.text,
            criterion=f.criterion,
            severity=f.severity,
            suggestion=f.suggestion,
            coaching_tip=f.coaching_tip,
        )
        for f in session.scalars(
            select(AnalysisFlag)
            .where(AnalysisFlag.interaction_id == interaction_id)
            .order_by(AnalysisFlag.turn, AnalysisFlag.start)
        )
    ]
    findings = [
        autoqa.Finding(id=f.finding, why=f.why, turn=f.turn)
        for f in session.scalars(
            select(AnalysisFinding)
            .where(AnalysisFinding.interaction_id == interaction_id)
            .order_by(AnalysisFinding.id)
        )
    ]
    suggestions: dict[str, autoqa.Suggestion] = {}
    if head.rubric_version_id is not None:
        for s in session.scalars(
            select(AutoSuggestion).where(
                AutoSuggestion.interaction_id == interaction_id,
                AutoSuggestion.rubric_version_id == head.rubric_version_id,
            )
        ):
            suggestions[s.criterion_id] = autoqa.Suggestion(
                criterion_id=s.criterion_id,
                value=s.value,
                na=s.na,
                confidence=s.confidence,
                reasons=[
                    autoqa.Reason(
                        kind=r.get("kind", "flag"),
                        text=_reason_text(r),
                        turn=r.get("turn"),
                        start=r.get("start"),
                        end=r.get("end"),
                        metric=r.get("name"),
                        value=r.get("value") if r.get("kind") == "metric" else None,
                        threshold=r.get("threshold"),
                    )
                    for r in s.reasons
                ],
            )
    metrics = {k: v for k, v in (head.metrics or {}).items() if k != "problems"}
    return autoqa.InteractionAnalysis(
        interaction_id=interaction_id,
        lexicon_version=head.lexicon_version,
        flags=flags,
        findings=findings,
        metrics=metrics,
        suggestions=suggestions,
    )


@dataclass(frozen=True)
class CriterionAgreement:
    criterion_id: str
    compared: int
    agreed: int
    mean_abs_diff: float | None

    @property
    def rate(self) -> float | None:
        return None if self.compared == 0 else self.agreed / self.compared


def agreement(
    session: Session,
    *,
    rubric_version_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[CriterionAgreement]:
    """Per criterion: how often auto-QA's suggestion equals the reviewer's final answer.

    Only submitted reviews on the same rubric version as the suggestion count;
    both N/A counts as agreement. This shows how far auto-QA can be trusted.
    """
    same = or_(
        and_(AutoSuggestion.na.is_(True), ReviewAnswer.na.is_(True)),
        and_(
            AutoSuggestion.na.is_(False),
            ReviewAnswer.na.is_(False),
            AutoSuggestion.value == ReviewAnswer.value,
        ),
    )
    diff = case(
        (
            and_(AutoSuggestion.na.is_(False), ReviewAnswer.na.is_(False)),
            func.abs(AutoSuggestion.value - ReviewAnswer.value),
        ),
        else_=None,
    )
    query = (
        select(
            AutoSuggestion.criterion_id,
            func.count(),
            func.sum(case((same, 1), else_=0)),
            func.avg(diff),
        )
        .join(
            Review,
            and_(
                Review.interaction_id == AutoSuggestion.interaction_id,
                Review.rubric_version_id == AutoSuggestion.rubric_version_id,
                Review.status == ReviewStatus.submitted.value,
            ),
        )
        .join(
            ReviewAnswer,
            and_(
                ReviewAnswer.review_id == Review.id,
                ReviewAnswer.criterion_id == AutoSuggestion.criterion_id,
            ),
        )
        .group_by(AutoSuggestion.criterion_id)
        .order_by(AutoSuggestion.criterion_id)
    )
    if rubric_version_id is not None:
        query = query.where(AutoSuggestion.rubric_version_id == rubric_version_id)
    if since is not None:
        query = query.where(Review.interaction_at >= since)
    if until is not None:
        query = query.where(Review.interaction_at < until)
    return [
        CriterionAgreement(cid, int(n), int(agreed or 0), None if mad is None else float(mad))
        for cid, n, agreed, mad in session.execute(query)
    ]


def behaviour_counts(
    session: Session, agent_id: int, start: datetime, end: datetime
) -> dict[tuple[str, str], int]:
    """(behavior, polarity) -> number of flags for an agent in [start, end)."""
    rows = session.execute(
        select(AnalysisFlag.behavior, AnalysisFlag.polarity, func.count())
        .where(
            AnalysisFlag.agent_id == agent_id,
            AnalysisFlag.interaction_at >= start,
            AnalysisFlag.interaction_at < end,
        )
        .group_by(AnalysisFlag.behavior, AnalysisFlag.polarity)
    )
    return {(b, p): int(n) for b, p, n in rows}
