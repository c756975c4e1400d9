"""Rubric management: check and save rubric YAML as a new version, list versions, preview the form.

Problems are the exact ones ``qa rubric check`` prints (same validator, same
``format_problem``), so a lead can fix a file in an editor from the message.
Saving identical content keeps the existing version (the service hashes it).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import select

from qa.models import RubricVersion, User
from qa.services import rubrics as rubric_service
from qa.ui.cache import clear_dashboard_cache
from qa.ui.i18n import fmt_date, fmt_number, register
from qa.ui.registry import LEADS
from qa.ui.safe import md
from qa.ui.session import db_session, require, settings
from rubrics import (
    MAX_RUBRIC_BYTES,
    RubricInvalid,
    RubricProblem,
    check_rubric_text,
    format_problem,
)

register(
    {
        "rub.title": {"en": "Rubrics", "ar": "نماذج التقييم"},
        "rub.tab.edit": {"en": "Upload or edit", "ar": "رفع أو تعديل"},
        "rub.tab.versions": {"en": "Versions", "ar": "الإصدارات"},
        "rub.tab.preview": {"en": "Form preview", "ar": "معاينة النموذج"},
        "rub.upload": {"en": "Rubric file (YAML)", "ar": "ملف نموذج التقييم (YAML)"},
        "rub.text": {"en": "Rubric YAML", "ar": "نص نموذج التقييم (YAML)"},
        "rub.check": {"en": "Check", "ar": "تحقّق"},
        "rub.save": {"en": "Save as new version", "ar": "حفظ كإصدار جديد"},
        "rub.valid": {"en": "The rubric is valid.", "ar": "نموذج التقييم سليم."},
        "rub.invalid": {
            "en": "The rubric has {n} problem(s); nothing was saved.",
            "ar": "في نموذج التقييم {n} مشكلة؛ لم يُحفظ شيء.",
        },
        "rub.created": {
            "en": "Saved {rubric} as version {version}.",
            "ar": "حُفظ {rubric} كإصدار رقم {version}.",
        },
        "rub.unchanged": {
            "en": "Unchanged: this content is already stored as {rubric} version {version}.",
            "ar": "لا تغيير: هذا المحتوى محفوظ مسبقاً كإصدار {version} من {rubric}.",
        },
        "rub.too_big": {
            "en": "The file is larger than {n} bytes.",
            "ar": "حجم الملف أكبر من {n} بايت.",
        },
        "rub.not_utf8": {
            "en": "RUB008 the file is not UTF-8 text.",
            "ar": "RUB008 الملف ليس نصاً بترميز UTF-8.",
        },
        "rub.col.key": {"en": "Rubric", "ar": "النموذج"},
        "rub.col.version": {"en": "Version", "ar": "الإصدار"},
        "rub.col.hash": {"en": "Content hash", "ar": "بصمة المحتوى"},
        "rub.col.created": {"en": "Created", "ar": "تاريخ الإنشاء"},
        "rub.col.by": {"en": "By", "ar": "بواسطة"},
        "rub.col.code": {"en": "Code", "ar": "الرمز"},
        "rub.col.line": {"en": "Line", "ar": "السطر"},
        "rub.col.field": {"en": "Field", "ar": "الحقل"},
        "rub.col.message": {"en": "Problem", "ar": "المشكلة"},
        "rub.none": {"en": "No rubric stored yet.", "ar": "لا توجد نماذج تقييم محفوظة بعد."},
        "rub.pick": {"en": "Version", "ar": "الإصدار"},
        "rub.section": {"en": "{name} (weight {weight})", "ar": "{name} (الوزن {weight})"},
        "rub.type.yes_no": {"en": "Yes / No", "ar": "نعم / لا"},
        "rub.type.scale": {"en": "Scale {lo}–{hi}", "ar": "مقياس {lo}–{hi}"},
        "rub.type.points": {"en": "Points 0–{hi}", "ar": "نقاط ٠–{hi}"},
        "rub.weight": {"en": "Weight", "ar": "الوزن"},
        "rub.critical.review": {"en": "Critical: fails the review", "ar": "حرج: يُسقط المراجعة"},
        "rub.critical.section": {"en": "Critical: fails the section", "ar": "حرج: يُسقط القسم"},
        "rub.na": {"en": "N/A allowed", "ar": "يُسمح بـ«لا ينطبق»"},
        "rub.guidance": {"en": "Guidance", "ar": "إرشادات"},
        "rub.yes": {"en": "Yes", "ar": "نعم"},
        "rub.no": {"en": "No", "ar": "لا"},
    }
)

viewer = require(LEADS)
loc = viewer.locale
tz = settings().tz
st.title(viewer.t("rub.title"), anchor=False)


def show_problems(problems: list[RubricProblem]) -> None:
    """Every problem as ``qa rubric check`` prints it, plus a table to scan by line."""
    st.error(viewer.t("rub.invalid", n=len(problems)))
    st.code("\n".join(format_problem(p) for p in problems), language=None)
    st.dataframe(
        pd.DataFrame(
            {
                viewer.t("rub.col.line"): [p.line if p.line is not None else "" for p in problems],
                viewer.t("rub.col.code"): [p.code for p in problems],
                viewer.t("rub.col.field"): [p.path for p in problems],
                viewer.t("rub.col.message"): [p.message for p in problems],
            }
        ),
        hide_index=True,
    )


tab_edit, tab_versions, tab_preview = st.tabs(
    [viewer.t("rub.tab.edit"), viewer.t("rub.tab.versions"), viewer.t("rub.tab.preview")]
)

with tab_edit:
    if "rub.text" not in st.session_state:
        with db_session() as session:
            latest = session.scalar(
                select(RubricVersion).order_by(RubricVersion.created_at.desc()).limit(1)
            )
            st.session_state["rub.text"] = latest.source_yaml if latest else ""
    upload = st.file_uploader(viewer.t("rub.upload"), type=["yaml", "yml"], key="rub.upload")
    text: str | None = None
    source = "<editor>"
    if upload is not None:
        data = upload.getvalue()
        source = upload.name
        if len(data) > MAX_RUBRIC_BYTES:
            st.error(viewer.t("rub.too_big", n=fmt_number(MAX_RUBRIC_BYTES, loc, 0)))
        else:
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                st.error(viewer.t("rub.not_utf8"))
    edited = st.text_area(viewer.t("rub.text"), key="rub.text", height=400)
    if upload is None:
        text = edited
    left, right = st.columns(2)
    check = left.button(viewer.t("rub.check"), key="rub.check")
    save = right.button(viewer.t("rub.save"), key="rub.save", type="primary")
    if text is not None and (check or save):
        problems = check_rubric_text(text, source)
        if problems:
            show_problems(problems)
        elif check:
            st.success(viewer.t("rub.valid"))
        else:
            try:
                with db_session() as session:
                    actor = session.get(User, viewer.id)
                    version, created = rubric_service.save_rubric(
                        session, text, source=source, actor=actor
                    )
                    key, number = version.rubric.key, version.version
            except RubricInvalid as exc:  # checked above; kept for a race with a code change
                show_problems(exc.problems)
            else:
                clear_dashboard_cache()
                message = "rub.created" if created else "rub.unchanged"
                (st.success if created else st.info)(
                    viewer.t(message, rubric=md(key), version=fmt_number(number, loc, 0))
                )

with db_session() as session:
    versions = rubric_service.list_versions(session)
    authors = dict(session.execute(select(User.id, User.username)).all())
    rows = [
        {
            "id": v.id,
            "key": v.rubric.key,
            "version": v.version,
            "hash": v.content_hash[:12],
            "created": v.created_at,
            "by": authors.get(v.created_by_id, "—") if v.created_by_id else "—",
            "rubric": rubric_service.rubric_of(v),
        }
        for v in versions
    ]

with tab_versions:
    if not rows:
        st.info(viewer.t("rub.none"))
    else:
        st.dataframe(
            pd.DataFrame(
                {
                    viewer.t("rub.col.key"): [r["key"] for r in rows],
                    viewer.t("rub.col.version"): [fmt_number(r["version"], loc, 0) for r in rows],
                    viewer.t("rub.col.hash"): [r["hash"] for r in rows],
                    viewer.t("rub.col.created"): [fmt_date(r["created"], loc, tz) for r in rows],
                    viewer.t("rub.col.by"): [r["by"] for r in rows],
                }
            ),
            hide_index=True,
        )

with tab_preview:
    if rows:
        choice = st.selectbox(
            viewer.t("rub.pick"),
            list(range(len(rows)))[::-1],
            format_func=lambda i: f"{rows[i]['key']} v{rows[i]['version']}",
            key="rub.preview",
        )
        rubric = rows[choice]["rubric"]
        st.subheader(md(rubric.name.get(loc)), anchor=False)
        if rubric.description is not None:
            st.text(rubric.description.get(loc))
        for section in rubric.sections:
            st.markdown(
                "#### "
                + viewer.t(
                    "rub.section",
                    name=md(section.name.get(loc)),
                    weight=fmt_number(section.weight, loc, 0),
                )
            )
            for criterion in section.criteria:
                with st.container(border=True):
                    if criterion.type == "yes_no":
                        kind = viewer.t("rub.type.yes_no")
                    elif criterion.type == "scale":
                        assert criterion.scale is not None
                        kind = viewer.t(
                            "rub.type.scale",
                            lo=fmt_number(criterion.scale.min, loc, 0),
                            hi=fmt_number(criterion.scale.max, loc, 0),
                        )
                    else:
                        kind = viewer.t(
                            "rub.type.points", hi=fmt_number(criterion.max_points, loc, 0)
                        )
                    facts = [kind, f"{viewer.t('rub.weight')}: {fmt_number(criterion.weight, loc)}"]
                    if criterion.critical is not None:
                        facts.append(viewer.t(f"rub.critical.{criterion.critical}"))
                    if criterion.allow_na:
                        facts.append(viewer.t("rub.na"))
                    st.markdown(f"**{md(criterion.label.get(loc))}**")
                    st.caption(" · ".join(facts))
                    st.text(criterion.description.get(loc))
                    widget_key = f"rub.pv.{rows[choice]['id']}.{criterion.id}"
                    if criterion.type == "yes_no":
                        st.radio(
                            kind,
                            [viewer.t("rub.yes"), viewer.t("rub.no")],
                            index=None,
                            horizontal=True,
                            disabled=True,
                            key=widget_key,
                            label_visibility="collapsed",
                        )
                    else:
                        st.number_input(
                            kind,
                            min_value=float(criterion.min_value),
                            max_value=float(criterion.max_value),
                            value=None,
                            disabled=True,
                            key=widget_key,
                            label_visibility="collapsed",
                        )
                    with st.expander(viewer.t("rub.guidance")):
                        st.text(criterion.guidance.get(loc))
