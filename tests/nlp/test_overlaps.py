"""The fast path for two overlapping matches agrees with the general resolution."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from qa.nlp.analyzer import _Compiled, _resolve_cluster, _resolve_cluster_general
from qa.nlp.lexicon import Rule


def _compiled(behavior: str, polarity: str) -> _Compiled:
    rule = Rule(
        id=f"en.{behavior}.x{polarity}",
        behavior=behavior,
        polarity=polarity,
        phrases=["x"],
        suggestion="s" if polarity == "avoid" else None,
        coaching_tip="t" if polarity == "avoid" else None,
    )
    fields = (rule.id, behavior, polarity, None, rule.severity, rule.suggestion, rule.coaching_tip)
    return _Compiled(rule, polarity == "use", False, False, behavior, fields, False)


RULES = [
    _compiled("apology", "use"),
    _compiled("gratitude", "use"),
    _compiled("uncertainty", "avoid"),
    _compiled("negative_language", "avoid"),
]

span = st.tuples(st.integers(0, 6), st.integers(1, 4)).map(lambda p: (p[0], p[0] + p[1]))


@given(span, span, st.sampled_from(RULES), st.sampled_from(RULES))
def test_pair_fast_path_matches_general(a, b, ra, rb) -> None:
    ca = (a[0], a[1], ra.rule.id, 0, ra)
    cb = (b[0], b[1], rb.rule.id, 0, rb)
    if ca == cb or max(a[0], b[0]) >= min(a[1], b[1]):
        return  # identical or not overlapping: not a cluster
    cluster = sorted([ca, cb])
    assert _resolve_cluster(cluster) == _resolve_cluster_general(cluster)
