"""Review page: the transcript with auto-QA marks beside the rubric form and a live score.

Opened as ``?interaction=ID`` (from the queue; the reviewer's own review is
created on the first save, so merely looking creates nothing) or
``?review=ID`` (any review the viewer may read; read-only unless they may edit
it). The services check permissions again on every save.

Form values live in ``st.session_state`` under a key per opened review, copied
to a plain dict after every widget so they survive page switches (Streamlit
forgets widget state of widgets that are not on screen). The ``lock_version``
read when the page was opened is kept there too and passed to
``save_review``: if someone else saved in between, the save is refused with a
message and the reviewer's answers stay on screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import streamlit as st
from sqlalchemy import select

from qa.models import Review, ReviewStatus, RubricVersion, User
from qa.services.agent_view import can_edit, own_review_of, reviewable_interaction
from qa.services.autoqa import InteractionAnalysis, Suggestion, analysis_for
from qa.services.errors import Conflict, InvalidInput, NotFound, PermissionDenied, ServiceError
from qa.services.reviews import (
    current_answers,
    get_review,
    revisions,
    save_review,
    start_review,
    visible_reviews,
)
from qa.services.rubrics import latest_version, rubric_of
from qa.ui.cache import clear_dashboard_cache
from qa.ui.i18n import fmt_date, fmt_number, fmt_percent, register
from qa.ui.registry import PAGES, REVIEW_PAGE
from qa.ui.render import (
    TRANSCRIPT_CSS,
    escape_markdown,
    fmt_clock,
    label_or_id,
    neutralise_bidi,
    transcript_html,
)
from qa.ui.session import Viewer, db_session, require, settings
from rubrics import Answer, AnswerErrors, Criterion, Rubric, ScoreResult, score

register(
    {
        "review.title": {"en": "Review · {ref}", "ar": "مراجعة · {ref}"},
        "review.pick": {
            "en": "Open an interaction from your queue, or one of the reviews below.",
            "ar": "افتح تفاعلاً من قائمة انتظارك، أو إحدى المراجعات أدناه.",
        },
        "review.recent": {"en": "Recent reviews", "ar": "أحدث المراجعات"},
        "review.none": {"en": "No reviews yet.", "ar": "لا توجد مراجعات بعد."},
        "review.open": {"en": "Open", "ar": "فتح"},
        "review.not_found": {
            "en": "This interaction or review does not exist or you may not open it.",
            "ar": "هذا التفاعل أو هذه المراجعة غير موجودة أو لا يحق لك فتحها.",
        },
        "review.read_only": {
            "en": "Read-only: you can see this review but not change it.",
            "ar": "للقراءة فقط: يمكنك الاطلاع على هذه المراجعة دون تعديلها.",
        },
        "review.status.new": {"en": "Not started", "ar": "لم تبدأ"},
        "review.status.draft": {"en": "Draft", "ar": "مسودة"},
        "review.status.submitted": {"en": "Submitted", "ar": "مُرسلة"},
        "review.facts": {
            "en": "{agent} · {channel} · {language} · {date} · {duration} · {status}",
            "ar": "{agent} · {channel} · {language} · {date} · {duration} · {status}",
        },
        "review.transcript": {"en": "Transcript", "ar": "نص التفاعل"},
        "review.recording": {"en": "Recording", "ar": "التسجيل"},
        "review.play_from": {"en": "Play from turn", "ar": "التشغيل من المقطع"},
        "review.recording_missing": {
            "en": "The recording file is not available on this server.",
            "ar": "ملف التسجيل غير متوفر على هذا الخادم.",
        },
        "review.autoqa": {"en": "Auto-QA", "ar": "الفحص الآلي"},
        "review.not_analysed": {
            "en": "Not analysed yet: no automatic flags, metrics or suggestions for this "
            "interaction.",
            "ar": "لم يُحلَّل بعد: لا توجد علامات أو مقاييس أو اقتراحات آلية لهذا التفاعل.",
        },
        "review.metrics": {"en": "Timing", "ar": "التوقيت"},
        "review.metric": {"en": "Measure", "ar": "المقياس"},
        "review.value": {"en": "Value", "ar": "القيمة"},
        "review.threshold": {"en": "Threshold", "ar": "الحد"},
        "review.over": {"en": "over threshold", "ar": "يتجاوز الحد"},
        "review.ok": {"en": "ok", "ar": "ضمن الحد"},
        "review.findings": {"en": "Findings", "ar": "الملاحظات"},
        "review.legend": {
            "en": "Marks: green = good practice, red = to avoid, amber = customer cue. "
            "Hover a mark for the suggested alternative.",
            "ar": "العلامات: الأخضر ممارسة جيدة، والأحمر يُتجنَّب، والبرتقالي إشارة من العميل. "
            "مرّر المؤشر فوق العلامة لرؤية البديل المقترح.",
        },
        "review.score": {"en": "Score", "ar": "الدرجة"},
        "review.answered": {"en": "{n} of {total} answered", "ar": "أُجيب عن {n} من {total}"},
        "review.pass_mark": {"en": "pass mark {p}", "ar": "درجة النجاح {p}"},
        "review.auto_fail": {
            "en": "Automatic fail: {names}",
            "ar": "رسوب تلقائي: {names}",
        },
        "review.section_fail": {
            "en": "{section}: scored 0 because “{name}” failed",
            "ar": "{section}: الدرجة صفر لأن «{name}» لم يتحقق",
        },
        "review.critical": {"en": "critical", "ar": "حرج"},
        "review.yes": {"en": "Yes", "ar": "نعم"},
        "review.no": {"en": "No", "ar": "لا"},
        "review.na": {"en": "Not applicable", "ar": "لا ينطبق"},
        "review.points": {"en": "Points (0–{max})", "ar": "النقاط (٠–{max})"},
        "review.comment": {"en": "Comment", "ar": "تعليق"},
        "review.guidance": {"en": "Guidance", "ar": "إرشادات"},
        "review.suggested": {
            "en": "Auto-QA suggests: **{value}** (confidence {confidence}) — a suggestion, "
            "check it against the transcript.",
            "ar": "يقترح الفحص الآلي: **{value}** (الثقة {confidence}) — مجرد اقتراح، "
            "تحقّق منه في نص التفاعل.",
        },
        "review.prefilled": {
            "en": "Answers were pre-filled from auto-QA suggestions; review each one.",
            "ar": "عُبّئت الإجابات مسبقاً من اقتراحات الفحص الآلي؛ راجع كل إجابة.",
        },
        "review.overall_comment": {"en": "Overall comment", "ar": "تعليق عام"},
        "review.change_reason": {
            "en": "Reason for changing a submitted review",
            "ar": "سبب تعديل مراجعة مُرسلة",
        },
        "review.save_draft": {"en": "Save draft", "ar": "حفظ مسودة"},
        "review.submit": {"en": "Submit", "ar": "إرسال"},
        "review.save_changes": {"en": "Save changes", "ar": "حفظ التعديلات"},
        "review.saved": {"en": "Draft saved.", "ar": "حُفظت المسودة."},
        "review.submitted": {"en": "Review submitted.", "ar": "أُرسلت المراجعة."},
        "review.updated": {
            "en": "Changes saved; the previous version is kept in the history.",
            "ar": "حُفظت التعديلات؛ والنسخة السابقة محفوظة في السجل.",
        },
        "review.invalid": {
            "en": "The review cannot be submitted yet: {n} answer(s) need attention (marked below).",
            "ar": "لا يمكن إرسال المراجعة بعد: {n} إجابة تحتاج إلى مراجعة (مُعلَّمة أدناه).",
        },
        "review.conflict": {
            "en": "Someone else changed this review after you opened it, so it was not saved. "
            "Your answers are still on screen: note anything you need, then reload to see "
            "their version.",
            "ar": "عدّل شخص آخر هذه المراجعة بعد أن فتحتها، لذلك لم تُحفظ. ما زالت إجاباتك "
            "ظاهرة أمامك: دوّن ما تحتاجه، ثم أعد التحميل لرؤية نسختهم.",
        },
        "review.reload": {
            "en": "Reload the latest version (discards my changes)",
            "ar": "إعادة تحميل أحدث نسخة (تُلغى تعديلاتي)",
        },
        "review.error": {"en": "Not saved: {message}", "ar": "لم تُحفظ: {message}"},
        "ANS001": {"en": "Not part of this rubric", "ar": "ليس من بنود هذا النموذج"},
        "ANS002": {"en": "The value is out of range", "ar": "القيمة خارج النطاق"},
        "ANS003": {"en": "N/A is not allowed here", "ar": "لا يُسمح بـ«لا ينطبق» هنا"},
        "ANS004": {"en": "Please answer this", "ar": "يرجى الإجابة عن هذا البند"},
        "ANS005": {
            "en": "Choose either N/A or a value",
            "ar": "اختر «لا ينطبق» أو قيمة، لا كليهما",
        },
        "review.history": {"en": "History ({n} earlier versions)", "ar": "السجل ({n} نسخ سابقة)"},
        "review.revision": {"en": "Version", "ar": "النسخة"},
        "review.changed_at": {"en": "Replaced on", "ar": "استُبدلت في"},
        "review.changed_by": {"en": "Changed by", "ar": "عدّلها"},
        "review.reason": {"en": "Reason", "ar": "السبب"},
        "review.reviewer": {"en": "Reviewer: {name}", "ar": "المراجِع: {name}"},
    }
)

PAGE_ROLES = REVIEW_PAGE


@dataclass(frozen=True)
class TurnView:
    seq: int
    speaker: str
    text: str
    start_s: float | None
    end_s: float | None


@dataclass
class Loaded:
    """Everything the page shows, read in one short database session."""

    interaction_id: int
    external_id: str
    agent_name: str
    channel: str
    language: str
    started_at: datetime
    duration: float | None
    recording: str | None
    turns: list[TurnView]
    analysis: InteractionAnalysis | None
    rubric: Rubric
    rubric_version_id: int
    editable: bool
    review_id: int | None = None
    status: str | None = None
    lock_version: int | None = None
    answers: dict[str, Answer] = field(default_factory=dict)
    comment: str | None = None
    reviewer_name: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


def _int_param(name: str) -> int | None:
    raw = st.query_params.get(name)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _load(
    viewer: Viewer, interaction_id: int | None, review_id: int | None, pinned: int | None
) -> Loaded:
    with db_session() as s:
        user = s.get(User, viewer.id)
        assert user is not None
        review: Review | None
        if review_id is not None:
            review = get_review(s, review_id, user)
            interaction = review.interaction
            editable = can_edit(review, user)
        else:
            assert interaction_id is not None
            interaction = reviewable_interaction(s, user, interaction_id)
            review = own_review_of(s, user, interaction_id)
            editable = True
        if review is not None:
            version = review.rubric_version
        elif pinned is not None and (row := s.get(RubricVersion, pinned)) is not None:
            version = row
        else:
            version = latest_version(s)
        data = Loaded(
            interaction_id=interaction.id,
            external_id=interaction.external_id,
            agent_name=interaction.agent.name,
            channel=interaction.channel,
            language=interaction.language,
            started_at=interaction.started_at,
            duration=interaction.duration_seconds,
            recording=interaction.recording,
            turns=[
                TurnView(t.seq, t.speaker, t.text, t.start_s, t.end_s) for t in interaction.turns
            ],
            analysis=analysis_for(s, interaction.id),
            rubric=rubric_of(version),
            rubric_version_id=version.id,
            editable=editable,
        )
        if review is not None:
            data.review_id = review.id
            data.status = review.status
            data.lock_version = review.lock_version
            data.answers = current_answers(review)
            data.comment = review.comment
            data.reviewer_name = review.reviewer.display_name
            history = revisions(s, review)
            names = dict(
                s.execute(
                    select(User.id, User.display_name).where(
                        User.id.in_({h.changed_by_id for h in history if h.changed_by_id})
                    )
                ).all()
            )
            data.history = [
                {
                    "revision": h.revision,
                    "at": h.created_at,
                    "by": names.get(h.changed_by_id, "—"),
                    "score": h.snapshot.get("score"),
                    "status": h.snapshot.get("status"),
                }
                for h in history
            ]
            reason_rows = _change_reasons(s, review.id)
            for item in data.history:
                item["reason"] = reason_rows.get(item["revision"] + 1)
        return data


def _change_reasons(session: Any, review_id: int) -> dict[int, str]:
    """Reasons given for edits of a submitted review, by the revision they created."""
    from qa.models import AuditEvent

    rows = session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity_type == "review",
            AuditEvent.entity_id == str(review_id),
            AuditEvent.action == "edit_submitted",
        )
    )
    return {
        int(e.after["revision"]): str(e.after["reason"])
        for e in rows
        if e.after and e.after.get("reason") and e.after.get("revision") is not None
    }


# ----------------------------------------------------------------------------- form values


def _valid(criterion: Criterion, value: float | None) -> Any:
    """A stored or suggested value in the widget's own terms, or None if it does not fit."""
    if value is None:
        return None
    if criterion.type == "yes_no":
        return int(value) if value in (0, 1) else None
    if criterion.type == "scale":
        ok = value == int(value) and criterion.min_value <= value <= criterion.max_value
        return int(value) if ok else None
    return float(value) if 0 <= value <= criterion.max_value else None


def _initial(data: Loaded) -> tuple[dict[str, dict[str, Any]], bool]:
    """Form values from the saved answers, else from auto-QA suggestions (marked as such)."""
    values: dict[str, dict[str, Any]] = {}
    suggestions = data.analysis.suggestions if data.analysis else {}
    prefilled = False
    for _, c in data.rubric.all_criteria():
        saved = data.answers.get(c.id)
        if saved is not None:
            values[c.id] = {"v": _valid(c, saved.value), "na": saved.na, "c": saved.comment or ""}
            continue
        entry: dict[str, Any] = {"v": None, "na": False, "c": ""}
        if not data.answers and (sug := suggestions.get(c.id)) is not None:
            if sug.na and c.allow_na:
                entry["na"] = True
                prefilled = True
            elif (v := _valid(c, sug.value)) is not None:
                entry["v"] = v
                prefilled = True
        values[c.id] = entry
    return values, prefilled


def _answers(rubric: Rubric, values: dict[str, dict[str, Any]]) -> dict[str, Answer]:
    out: dict[str, Answer] = {}
    for _, c in rubric.all_criteria():
        e = values.get(c.id)
        if e is None:
            continue
        comment = (e.get("c") or "").strip() or None
        if e.get("na"):
            out[c.id] = Answer(value=None, na=True, comment=comment)
        elif e.get("v") is not None:
            out[c.id] = Answer(value=float(e["v"]), comment=comment)
        elif comment:
            out[c.id] = Answer(value=None, comment=comment)
    return out


def _sync_from_widgets(rubric: Rubric, values: dict[str, dict[str, Any]], fk: str) -> None:
    """Copy the widgets' current values (already updated when a run starts) into the store.

    Done before any widget is drawn so the score and the field errors at the
    top of the form reflect the change that triggered this run.
    """
    for _, c in rubric.all_criteria():
        for part in ("v", "na", "c"):
            key = f"{fk}:{c.id}:{part}"
            if key in st.session_state:
                values[c.id][part] = st.session_state[key]


def _problems(rubric: Rubric, answers: dict[str, Answer]) -> dict[str, str]:
    try:
        score(rubric, answers, partial=False)
    except AnswerErrors as exc:
        return {p.criterion_id: p.code for p in exc.problems}
    return {}


# ----------------------------------------------------------------------------- widgets


def _suggestion_note(
    viewer: Viewer, c: Criterion, sug: Suggestion, starts: dict[int, float | None]
) -> None:
    loc = viewer.locale
    if sug.na:
        shown = viewer.t("review.na")
    elif c.type == "yes_no":
        shown = viewer.t("review.yes" if sug.value == 1 else "review.no")
    else:
        shown = fmt_number(sug.value, loc, 0 if c.type == "scale" else 1)
    with st.container(border=True):
        st.markdown(
            "🤖 "
            + viewer.t(
                "review.suggested",
                value=shown,
                confidence=fmt_percent(sug.confidence * 100, loc, 0),
            )
        )
        for reason in sug.reasons:
            where = (
                f" ({fmt_clock(starts.get(reason.turn), loc)})" if reason.turn is not None else ""
            )
            st.caption("• " + escape_markdown(reason.text) + where)


def _criterion_widgets(
    viewer: Viewer,
    c: Criterion,
    values: dict[str, Any],
    fk: str,
    disabled: bool,
    problem: str | None,
    suggestion: Suggestion | None,
    starts: dict[int, float | None],
) -> None:
    loc = viewer.locale
    keys = {"v": f"{fk}:{c.id}:v", "na": f"{fk}:{c.id}:na", "c": f"{fk}:{c.id}:c"}
    for part, key in keys.items():
        if key not in st.session_state:
            st.session_state[key] = values[part]
    label = escape_markdown(c.label.get(loc))
    na_now = bool(st.session_state[keys["na"]]) if c.allow_na else False
    with st.container(border=True):
        st.markdown(
            f"**{label}**" + (f" :red-badge[{viewer.t('review.critical')}]" if c.critical else "")
        )
        st.caption(escape_markdown(c.description.get(loc)))
        if suggestion is not None:
            _suggestion_note(viewer, c, suggestion, starts)
        off = disabled or na_now
        if c.type == "yes_no":
            value = st.radio(
                f"**{label}**",
                [1, 0],
                format_func=lambda v: viewer.t("review.yes" if v == 1 else "review.no"),
                index=None,
                horizontal=True,
                key=keys["v"],
                disabled=off,
                label_visibility="collapsed",
            )
        elif c.type == "scale" and c.max_value - c.min_value <= 10:
            value = st.radio(
                f"**{label}**",
                list(range(int(c.min_value), int(c.max_value) + 1)),
                format_func=lambda v: fmt_number(v, loc, 0),
                index=None,
                horizontal=True,
                key=keys["v"],
                disabled=off,
                label_visibility="collapsed",
            )
        else:
            top = c.max_value
            value = st.number_input(
                (
                    viewer.t("review.points", max=fmt_number(top, loc, 0))
                    if c.type == "points"
                    else label
                ),
                min_value=c.min_value,
                max_value=top,
                step=1.0 if c.type == "scale" else 0.5,
                value=None,
                key=keys["v"],
                disabled=off,
            )
        na = False
        if c.allow_na:
            na = st.checkbox(viewer.t("review.na"), key=keys["na"], disabled=disabled)
        comment = st.text_input(
            viewer.t("review.comment"),
            key=keys["c"],
            disabled=disabled,
            placeholder=viewer.t("review.comment"),
            label_visibility="collapsed",
        )
        if problem:
            st.error(viewer.t(problem))
        with st.expander(viewer.t("review.guidance")):
            st.markdown(escape_markdown(c.guidance.get(loc)))
    values.update(v=value, na=na, c=comment)


# ----------------------------------------------------------------------------- panels


def _facts(viewer: Viewer, data: Loaded) -> str:
    loc = viewer.locale
    parts = {
        "agent": escape_markdown(data.agent_name),
        "channel": viewer.t(f"channel.{data.channel}"),
        "language": viewer.t(f"language.{data.language}"),
        "date": fmt_date(data.started_at, loc, settings().tz),
        "duration": fmt_clock(data.duration, loc),
        "status": viewer.t(f"review.status.{data.status or 'new'}"),
    }
    # Our own first-strong isolates keep each fact's digits and words together in RTL
    # (user text inside has had its bidi controls neutralised already).
    return viewer.t("review.facts", **{k: f"\u2068{v}\u2069" for k, v in parts.items()})


def _recording_source(recording: str) -> str | None:
    """A URL as is; a path only if it is a file inside the data directory (no other files)."""
    if recording.startswith(("http://", "https://")):
        return recording
    root = settings().data_dir.resolve()
    path = Path(recording)
    path = (path if path.is_absolute() else root / path).resolve()
    if path.is_relative_to(root) and path.is_file():
        return str(path)
    return None


def _recording(viewer: Viewer, data: Loaded) -> None:
    if not data.recording:
        return
    st.subheader(viewer.t("review.recording"), anchor=False)
    source = _recording_source(data.recording)
    if source is None:
        st.caption(viewer.t("review.recording_missing"))
        return
    timed = [t for t in data.turns if t.start_s is not None]
    start = 0
    if timed:
        choice = st.selectbox(
            viewer.t("review.play_from"),
            timed,
            format_func=lambda t: (
                f"{fmt_clock(t.start_s, viewer.locale)} · {viewer.t(f'speaker.{t.speaker}')}: "
                f"{neutralise_bidi(t.text)[:60]}"
            ),
            key=f"rv-play-{data.interaction_id}",
        )
        start = int(choice.start_s or 0)
    st.audio(source, start_time=start)


def _autoqa_panel(viewer: Viewer, data: Loaded) -> None:
    loc = viewer.locale
    st.subheader(viewer.t("review.autoqa"), anchor=False)
    analysis = data.analysis
    if analysis is None:
        st.info(viewer.t("review.not_analysed"))
        return
    thresholds = data.rubric.timing_thresholds.get(data.channel, {})  # type: ignore[call-overload]
    rows = []
    for name, value in sorted(analysis.metrics.items()):
        limit = thresholds.get(name)
        state = ""
        if limit is not None and value is not None:
            state = viewer.t("review.over" if value > limit else "review.ok")
        rows.append(
            {
                viewer.t("review.metric"): label_or_id("metric", name, loc),
                viewer.t("review.value"): fmt_number(value, loc, 1),
                viewer.t("review.threshold"): fmt_number(limit, loc, 0)
                if limit is not None
                else "",
                "": state,
            }
        )
    if rows:
        st.markdown(f"**{viewer.t('review.metrics')}**")
        st.dataframe(rows, hide_index=True, width="stretch")
    if analysis.findings:
        st.markdown(f"**{viewer.t('review.findings')}**")
        for finding in analysis.findings:
            st.markdown(
                f"- {escape_markdown(label_or_id('finding', finding.id, loc))}: "
                f"{escape_markdown(finding.why)}"
            )


def _score_panel(viewer: Viewer, rubric: Rubric, result: ScoreResult, total: int) -> None:
    loc = viewer.locale
    answered = total - len(result.missing)
    with st.container(border=True):
        overall, sections = st.columns([1, 2], vertical_alignment="center")
        overall.metric(viewer.t("review.score"), fmt_percent(result.overall, loc))
        for section in rubric.sections:
            value = result.sections[section.id].score
            sections.progress(
                round(value or 0),
                text=f"{escape_markdown(section.name.get(loc))}: {fmt_percent(value, loc)}",
            )
        caption = viewer.t(
            "review.answered", n=fmt_number(answered, loc, 0), total=fmt_number(total, loc, 0)
        )
        if rubric.passing_score is not None:
            caption += " · " + viewer.t(
                "review.pass_mark", p=fmt_percent(rubric.passing_score, loc, 0)
            )
        st.caption(caption)
        failed = [
            rubric.criterion(cid).label.get(loc)
            for cid, cr in result.criteria.items()
            if cr.critical_failed and rubric.criterion(cid).critical == "review"
        ]
        if result.auto_fail:
            st.error(
                viewer.t(
                    "review.auto_fail",
                    names=escape_markdown("، ".join(failed) if loc == "ar" else "; ".join(failed)),
                )
            )
        for section in rubric.sections:
            sr = result.sections[section.id]
            if sr.failed_criterion:
                st.warning(
                    viewer.t(
                        "review.section_fail",
                        section=escape_markdown(section.name.get(loc)),
                        name=escape_markdown(rubric.criterion(sr.failed_criterion).label.get(loc)),
                    )
                )


def _history(viewer: Viewer, data: Loaded) -> None:
    if not data.history:
        return
    loc = viewer.locale
    with st.expander(viewer.t("review.history", n=fmt_number(len(data.history), loc, 0))):
        st.dataframe(
            [
                {
                    viewer.t("review.revision"): fmt_number(h["revision"], loc, 0),
                    viewer.t("review.changed_at"): fmt_date(h["at"], loc, settings().tz),
                    viewer.t("review.changed_by"): neutralise_bidi(h["by"]),
                    viewer.t("review.score"): fmt_percent(h["score"], loc),
                    viewer.t("review.reason"): neutralise_bidi(h.get("reason") or ""),
                }
                for h in data.history
            ],
            hide_index=True,
            width="stretch",
        )


def _picker(viewer: Viewer) -> None:
    """No interaction chosen: the viewer's recent reviews (or all recent ones for leads)."""
    st.info(viewer.t("review.pick"))
    queue = next(p for p in PAGES if p.url_path == "queue")
    if viewer.role in queue.roles:
        st.page_link(str(queue.path), label=viewer.t(queue.title), icon=queue.icon)
    with db_session() as s:
        user = s.get(User, viewer.id)
        assert user is not None
        query = visible_reviews(user)
        if viewer.role == "reviewer":
            query = query.where(Review.reviewer_id == user.id)
        rows = [
            (
                r.id,
                r.interaction.external_id,
                r.interaction.agent.name,
                r.status,
                r.score,
                r.updated_at,
            )
            for r in s.scalars(query.order_by(Review.updated_at.desc(), Review.id.desc()).limit(20))
        ]
    st.subheader(viewer.t("review.recent"), anchor=False)
    if not rows:
        st.caption(viewer.t("review.none"))
    for rid, ext, agent, status, value, updated in rows:
        left, right = st.columns([5, 1])
        left.markdown(
            f"{escape_markdown(ext)} · {escape_markdown(agent)} · "
            f"{viewer.t(f'review.status.{status}')} · {fmt_percent(value, viewer.locale)} · "
            f"{fmt_date(updated, viewer.locale, settings().tz)}"
        )
        if right.button(viewer.t("review.open"), key=f"rv-open-{rid}"):
            st.query_params.clear()
            st.query_params["review"] = str(rid)
            st.rerun()


# ----------------------------------------------------------------------------- saving


def _save(viewer: Viewer, data: Loaded, fk: str, *, submit: bool) -> None:
    state = st.session_state[f"{fk}:state"]
    values = st.session_state[f"{fk}:values"]
    answers = _answers(data.rubric, values)
    final = submit or data.status == ReviewStatus.submitted.value
    if final:
        problems = _problems(data.rubric, answers)
        st.session_state[f"{fk}:problems"] = problems
        if problems:
            st.session_state[f"{fk}:flash"] = (
                "error",
                viewer.t("review.invalid", n=fmt_number(len(problems), viewer.locale, 0)),
            )
            return
    comment = st.session_state.get(f"{fk}:comment") or None
    reason = (st.session_state.get(f"{fk}:reason") or "").strip() or None
    try:
        with db_session() as s:
            user = s.get(User, viewer.id)
            assert user is not None
            if state["review_id"] is None:
                if own_review_of(s, user, data.interaction_id) is not None:
                    raise Conflict("a review of this interaction was started in another window")
                reviewable_interaction(s, user, data.interaction_id)
                version = s.get(RubricVersion, state["version_id"])
                review = start_review(s, data.interaction_id, user, rubric_version=version)
                expected = review.lock_version
            else:
                review = s.get(Review, state["review_id"])
                if review is None:
                    raise NotFound("the review no longer exists")
                expected = state["lock"]
            save_review(
                s,
                review,
                answers,
                user,
                expected_lock_version=expected,
                comment=comment,
                submit=submit,
                change_reason=reason,
            )
            new_state = {"review_id": review.id, "lock": review.lock_version}
    except Conflict:
        st.session_state[f"{fk}:conflict"] = True
        st.session_state[f"{fk}:flash"] = ("error", viewer.t("review.conflict"))
        return
    except (InvalidInput, PermissionDenied, NotFound, ServiceError) as exc:
        st.session_state[f"{fk}:flash"] = ("error", viewer.t("review.error", message=str(exc)))
        return
    if final:
        # Submitted reviews are what the team dashboard counts (drafts never are);
        # cleared after the commit, so a refill cannot cache the old figures.
        clear_dashboard_cache()
    state.update(new_state)
    st.session_state.pop(f"{fk}:reason", None)
    key = (
        "review.updated"
        if data.status == "submitted"
        else ("review.submitted" if submit else "review.saved")
    )
    st.session_state[f"{fk}:flash"] = ("success", viewer.t(key))


def _forget(fk: str) -> None:
    for key in [k for k in st.session_state if str(k).startswith(fk + ":")]:
        del st.session_state[key]


# ----------------------------------------------------------------------------- page


def main() -> None:
    viewer = require(PAGE_ROLES)
    loc = viewer.locale
    interaction_id, review_id = _int_param("interaction"), _int_param("review")
    if interaction_id is None and review_id is None:
        st.title(viewer.t("nav.review"), anchor=False)
        _picker(viewer)
        return
    fk = f"rv:r{review_id}" if review_id is not None else f"rv:i{interaction_id}"
    pinned = st.session_state.get(f"{fk}:state", {}).get("version_id")
    try:
        data = _load(viewer, interaction_id, review_id, pinned)
    except (NotFound, PermissionDenied):
        st.error(viewer.t("review.not_found"))
        return
    starts = {t.seq: t.start_s for t in data.turns}

    if f"{fk}:state" not in st.session_state:
        values, prefilled = _initial(data)
        st.session_state[f"{fk}:state"] = {
            "review_id": data.review_id,
            "lock": data.lock_version,
            "version_id": data.rubric_version_id,
            "prefilled": prefilled,
        }
        st.session_state[f"{fk}:values"] = values
        st.session_state[f"{fk}:comment"] = data.comment or ""
    state = st.session_state[f"{fk}:state"]
    values = st.session_state[f"{fk}:values"]
    if f"{fk}:comment_v" not in st.session_state:
        st.session_state[f"{fk}:comment_v"] = st.session_state[f"{fk}:comment"]

    st.html(TRANSCRIPT_CSS)
    st.title(viewer.t("review.title", ref=escape_markdown(data.external_id)), anchor=False)
    st.caption(_facts(viewer, data))
    if data.reviewer_name:
        st.caption(viewer.t("review.reviewer", name=escape_markdown(data.reviewer_name)))
    if not data.editable:
        st.info(viewer.t("review.read_only"))

    left, right = st.columns([11, 9], gap="large")
    with left:
        st.subheader(viewer.t("review.transcript"), anchor=False)
        flags = {t.seq: data.analysis.flags_on(t.seq) for t in data.turns} if data.analysis else {}
        if data.analysis is not None:
            st.caption(viewer.t("review.legend"))
        st.html(transcript_html(data.turns, flags, loc))
        _recording(viewer, data)
        _autoqa_panel(viewer, data)

    with right:
        _sync_from_widgets(data.rubric, values, fk)
        answers = _answers(data.rubric, values)
        result = score(data.rubric, answers, partial=True)
        _score_panel(viewer, data.rubric, result, sum(1 for _ in data.rubric.all_criteria()))
        problems: dict[str, str] = st.session_state.get(f"{fk}:problems", {})
        if problems:
            # Keep only the problems that still apply once the reviewer fixes fields.
            problems = {k: v for k, v in _problems(data.rubric, answers).items() if k in problems}
            st.session_state[f"{fk}:problems"] = problems
        if state.get("prefilled") and data.review_id is None:
            st.info(viewer.t("review.prefilled"))
        suggestions = data.analysis.suggestions if data.analysis else {}
        for section in data.rubric.sections:
            st.subheader(escape_markdown(section.name.get(loc)), anchor=False)
            for c in section.criteria:
                _criterion_widgets(
                    viewer,
                    c,
                    values[c.id],
                    fk,
                    not data.editable,
                    problems.get(c.id),
                    suggestions.get(c.id),
                    starts,
                )
        comment = st.text_area(
            viewer.t("review.overall_comment"), key=f"{fk}:comment_v", disabled=not data.editable
        )
        st.session_state[f"{fk}:comment"] = comment

        if data.editable:
            submitted = data.status == ReviewStatus.submitted.value
            if submitted:
                st.text_input(viewer.t("review.change_reason"), key=f"{fk}:reason")
            b1, b2 = st.columns(2)
            if submitted:
                clicked = b1.button(
                    viewer.t("review.save_changes"), type="primary", key=f"{fk}:b-save"
                )
                if clicked:
                    _save(viewer, data, fk, submit=False)
                    st.rerun()
            else:
                if b1.button(viewer.t("review.save_draft"), key=f"{fk}:b-draft"):
                    _save(viewer, data, fk, submit=False)
                    st.rerun()
                if b2.button(viewer.t("review.submit"), type="primary", key=f"{fk}:b-submit"):
                    _save(viewer, data, fk, submit=True)
                    st.rerun()
            flash = st.session_state.pop(f"{fk}:flash", None)
            if flash is not None:
                kind, message = flash
                (st.success if kind == "success" else st.error)(message)
            if st.session_state.get(f"{fk}:conflict") and st.button(
                viewer.t("review.reload"), key=f"{fk}:b-reload"
            ):
                _forget(fk)
                st.rerun()
        _history(viewer, data)


main()
