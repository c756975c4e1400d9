"""Import interactions by upload: the same all-or-nothing importer as ``qa import``.

A refused file writes nothing and lists every problem (file, line, field,
code); an accepted one shows the import summary. Files larger than
``QA_MAX_UPLOAD_MB`` are refused before any parsing. As with ``qa import``, the
new interactions are analysed by auto-QA right away (flags, findings, metrics
and suggestions are what reviewers open them for); the import stays committed
if analysis fails, and ``qa analyze`` or the nightly job picks up what is left.
"""

from __future__ import annotations

from pathlib import PurePath

import pandas as pd
import streamlit as st

from qa.importer import ImportFailed, import_stream
from qa.services.analysis import analyze_interactions
from qa.ui.cache import clear_dashboard_cache
from qa.ui.i18n import fmt_number, register
from qa.ui.registry import LEADS
from qa.ui.safe import md
from qa.ui.session import db_session, require, settings

register(
    {
        "imp.title": {"en": "Import interactions", "ar": "استيراد التفاعلات"},
        "imp.analysing": {"en": "Running auto-QA…", "ar": "جارٍ التحليل الآلي…"},
        "imp.analysed": {
            "en": "Auto-QA analysed {n} interaction(s).",
            "ar": "حلّل التقييم الآلي {n} تفاعلًا.",
        },
        "imp.analysis_errors": {
            "en": " {n} could not be analysed; `qa analyze` lists why.",
            "ar": " تعذّر تحليل {n}؛ يبيّن الأمر `qa analyze` السبب.",
        },
        "imp.analysis_failed": {
            "en": "The import is saved, but auto-QA failed ({error}); run `qa analyze`.",
            "ar": "حُفظ الاستيراد لكن التحليل الآلي تعذّر ({error})؛ شغّل `qa analyze`.",
        },
        "imp.file": {"en": "File (JSONL, JSON or CSV)", "ar": "الملف (JSONL أو JSON أو CSV)"},
        "imp.limit": {"en": "Up to {mb} MB.", "ar": "حتى {mb} ميغابايت."},
        "imp.encoding": {"en": "Text encoding", "ar": "ترميز النص"},
        "imp.strict": {
            "en": "Strict: refuse interactions of unknown agents",
            "ar": "صارم: ارفض تفاعلات الموظفين غير المعروفين",
        },
        "imp.source": {"en": "Source name", "ar": "اسم المصدر"},
        "imp.run": {"en": "Import", "ar": "استيراد"},
        "imp.too_big": {
            "en": "The file is {size} MB; the limit is {mb} MB. Nothing was imported.",
            "ar": "حجم الملف {size} ميغابايت والحد {mb} ميغابايت. لم يُستورد شيء.",
        },
        "imp.bad_type": {
            "en": "Unknown file type: use .jsonl, .json or .csv.",
            "ar": "نوع ملف غير معروف: استخدم ‎.jsonl أو ‎.json أو ‎.csv.",
        },
        "imp.refused": {
            "en": "The file was refused with {n} problem(s); nothing was written.",
            "ar": "رُفض الملف بسبب {n} مشكلة؛ لم يُكتب شيء.",
        },
        "imp.done": {
            "en": "Imported {imported} interaction(s) and {turns} turn(s).",
            "ar": "استُورد {imported} تفاعل و{turns} مداخلة.",
        },
        "imp.progress": {"en": "{n} record(s) read", "ar": "قُرئ {n} سجل"},
        "imp.duplicates": {"en": "Duplicates skipped", "ar": "مكررات تم تجاوزها"},
        "imp.new_agents": {"en": "New agents", "ar": "موظفون جدد"},
        "imp.new_teams": {"en": "New teams", "ar": "فرق جديدة"},
        "imp.col.line": {"en": "Line", "ar": "السطر"},
        "imp.col.field": {"en": "Field", "ar": "الحقل"},
        "imp.col.code": {"en": "Code", "ar": "الرمز"},
        "imp.col.message": {"en": "Problem", "ar": "المشكلة"},
    }
)

ENCODINGS = ["utf-8-sig", "utf-8", "cp1256", "utf-16", "iso-8859-6", "latin-1"]
FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv"}

viewer = require(LEADS)
loc = viewer.locale
max_mb = settings().max_upload_mb
st.title(viewer.t("imp.title"), anchor=False)


with st.form("imp.form"):
    upload = st.file_uploader(
        viewer.t("imp.file"),
        type=["jsonl", "ndjson", "json", "csv"],
        help=viewer.t("imp.limit", mb=fmt_number(max_mb, loc, 0)),
        key="imp.file",
    )
    c1, c2 = st.columns(2)
    encoding = c1.selectbox(viewer.t("imp.encoding"), ENCODINGS, key="imp.encoding")
    source = c2.text_input(viewer.t("imp.source"), value="upload", max_chars=100, key="imp.source")
    strict = st.checkbox(viewer.t("imp.strict"), key="imp.strict")
    submitted = st.form_submit_button(viewer.t("imp.run"), type="primary")

if submitted and upload is not None:
    fmt = FORMATS.get(PurePath(upload.name).suffix.lower())
    if upload.size > max_mb * 1024 * 1024:
        st.error(
            viewer.t(
                "imp.too_big",
                size=fmt_number(upload.size / 1024 / 1024, loc),
                mb=fmt_number(max_mb, loc, 0),
            )
        )
    elif fmt is None:
        st.error(viewer.t("imp.bad_type"))
    else:
        bar = st.progress(0.0)
        total = max(upload.size, 1)

        def progress(records: int) -> None:
            bar.progress(
                min(upload.tell() / total, 1.0),  # position in the in-memory upload
                text=viewer.t("imp.progress", n=fmt_number(records, loc, 0)),
            )

        try:
            with db_session() as session:
                report = import_stream(
                    session,
                    upload,
                    name=upload.name,
                    fmt=fmt,
                    source=(source or "upload").strip() or "upload",
                    encoding=encoding,
                    strict=strict,
                    actor=viewer.username,
                    actor_id=viewer.id,
                    on_progress=progress,
                )
        except ImportFailed as exc:
            bar.empty()
            st.error(viewer.t("imp.refused", n=fmt_number(len(exc.problems), loc, 0)))
            st.dataframe(
                pd.DataFrame(
                    {
                        viewer.t("imp.col.line"): [
                            "" if p.line is None else str(p.line) for p in exc.problems
                        ],
                        viewer.t("imp.col.field"): [p.field or "" for p in exc.problems],
                        viewer.t("imp.col.code"): [p.code for p in exc.problems],
                        viewer.t("imp.col.message"): [p.message for p in exc.problems],
                    }
                ),
                hide_index=True,
            )
            st.code("\n".join(str(p) for p in exc.problems), language=None)
        else:
            bar.progress(1.0)
            clear_dashboard_cache()
            st.success(
                viewer.t(
                    "imp.done",
                    imported=fmt_number(report.imported, loc, 0),
                    turns=fmt_number(report.turns, loc, 0),
                )
            )
            m1, m2, m3 = st.columns(3)
            m1.metric(viewer.t("imp.duplicates"), fmt_number(len(report.duplicates), loc, 0))
            m2.metric(viewer.t("imp.new_agents"), fmt_number(report.agents_created, loc, 0))
            m3.metric(viewer.t("imp.new_teams"), fmt_number(report.teams_created, loc, 0))
            if report.duplicates:
                st.text(", ".join(report.duplicates[:50]))
            if report.interaction_ids:
                try:
                    with st.spinner(viewer.t("imp.analysing")), db_session() as session:
                        analysed = analyze_interactions(
                            session,
                            lexicon_dir=settings().lexicon_dir,
                            only=report.interaction_ids,
                        )
                except Exception as exc:  # the import is committed; analysis can be redone
                    st.warning(viewer.t("imp.analysis_failed", error=md(str(exc))))
                else:
                    st.info(
                        viewer.t("imp.analysed", n=fmt_number(analysed.analysed, loc, 0))
                        + (
                            viewer.t("imp.analysis_errors", n=len(analysed.failed))
                            if analysed.failed
                            else ""
                        )
                    )
            st.caption(md(upload.name))
