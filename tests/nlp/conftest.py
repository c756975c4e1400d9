"""Shared fixtures: the cached analyzers (built once per test session)."""

from __future__ import annotations

import pytest

from qa.nlp.analyzer import Analyzer, get_analyzer
from qa.nlp.types import Flag


@pytest.fixture(scope="session")
def en() -> Analyzer:
    return get_analyzer("en")


@pytest.fixture(scope="session")
def ar() -> Analyzer:
    return get_analyzer("ar")


def flag_text(analyzer: Analyzer, text: str, speaker: str = "agent") -> list[Flag]:
    """Flags for ``text``; every flag's offsets must reproduce its text exactly."""
    flags = analyzer.flag_text(text, speaker)
    for f in flags:
        assert text[f.start : f.end] == f.text, f
        assert f.text.strip() == f.text and f.text, f
    return flags


def spans(analyzer: Analyzer, text: str, behavior: str, speaker: str = "agent") -> list[str]:
    return [f.text for f in flag_text(analyzer, text, speaker) if f.behavior == behavior]
