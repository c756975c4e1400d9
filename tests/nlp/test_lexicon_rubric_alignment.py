"""The lexicons name rubric criteria; those names must exist in the built-in rubric."""

from __future__ import annotations

import pytest

from qa.nlp.lexicon import load_lexicon
from rubrics import builtin_rubric_path, load_rubric_file


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_every_rule_criterion_exists_in_the_builtin_rubric(lang: str) -> None:
    rubric = load_rubric_file(builtin_rubric_path())
    criteria = {c.id for _, c in rubric.all_criteria()}
    unknown = {
        r.id: r.criterion
        for r in load_lexicon(lang).rules
        if r.criterion and r.criterion not in criteria
    }
    assert unknown == {}
