from __future__ import annotations

from sqlalchemy import Engine

from tests.ui.test_lead_pages import DENIED, page


def test_trainer_tries_an_arabic_sentence(eng: Engine) -> None:
    at = page(eng, "lead_lexicon.py", "trainer")
    at.run()
    assert not at.exception
    at.text_area[0].input("وبالطبع، أتفهم شعورك. <script>alert(1)</script> بس هذا مش شغلي").run()
    assert not at.exception
    table = at.dataframe[0].value
    behaviours = set(table.iloc[:, 0])
    assert {"Empathy", "Rude language"} & behaviours or len(table) >= 2
    rules = set(table.iloc[:, 4])
    assert any(r.startswith("ar.") for r in rules)
    html = "".join(str(h.proto) for h in at.get("html"))
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_agents_and_reviewers_are_refused(eng: Engine) -> None:
    for who in ("agent", "reviewer"):
        at = page(eng, "lead_lexicon.py", who)
        at.run()
        assert at.error[0].value == DENIED
        assert not at.text_area
