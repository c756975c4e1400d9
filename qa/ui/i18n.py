"""UI labels in English and Arabic, number and date formatting per locale.

Each page module registers its own labels (``register({...})``) so pages can be
added without editing one shared dictionary. ``t`` falls back to English and
then to the key itself, so a missing translation shows up as readable text and
is caught by the test that checks every registered key has both languages.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

LOCALES = ("en", "ar")
_LABELS: dict[str, dict[str, str]] = {}

_AR_DIGITS = str.maketrans("0123456789.,%", "٠١٢٣٤٥٦٧٨٩٫٬٪")
AR_MONTHS = (
    "يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو",
    "يوليو", "أغسطس", "سبتمبر", "أكتوبر", "نوفمبر", "ديسمبر",
)  # fmt: skip


def register(labels: dict[str, dict[str, str]]) -> None:
    """Add labels: ``{"key": {"en": "...", "ar": "..."}}``."""
    for key, texts in labels.items():
        existing = _LABELS.get(key)
        if existing is not None and existing != texts:
            raise ValueError(f"label {key!r} registered twice with different texts")
        _LABELS[key] = dict(texts)


def t(key: str, locale: str = "en", **values: object) -> str:
    texts = _LABELS.get(key)
    text = key if texts is None else texts.get(locale) or texts.get("en") or key
    return text.format(**values) if values else text


def all_labels() -> dict[str, dict[str, str]]:
    return dict(_LABELS)


def is_rtl(locale: str) -> bool:
    return locale == "ar"


def fmt_number(value: float | None, locale: str = "en", decimals: int = 1) -> str:
    if value is None:
        return "—"
    text = f"{value:,.{decimals}f}"
    return text.translate(_AR_DIGITS) if locale == "ar" else text


def fmt_percent(value: float | None, locale: str = "en", decimals: int = 1) -> str:
    if value is None:
        return "—"
    return fmt_number(value, locale, decimals) + ("٪" if locale == "ar" else "%")


def fmt_date(moment: datetime | None, locale: str = "en", tz: ZoneInfo | None = None) -> str:
    if moment is None:
        return "—"
    local = moment.astimezone(tz) if tz else moment
    if locale == "ar":
        text = f"{local.day} {AR_MONTHS[local.month - 1]} {local.year}، {local:%H:%M}"
        return text.translate(_AR_DIGITS)
    return local.strftime("%d %b %Y, %H:%M")


def fmt_month(year: int, month: int, locale: str = "en") -> str:
    if locale == "ar":
        return f"{AR_MONTHS[month - 1]} {year}".translate(_AR_DIGITS)
    return datetime(year, month, 1).strftime("%b %Y")
