from __future__ import annotations

from qa.ui.safe import md


def test_markdown_is_escaped() -> None:
    assert md("**boss**") == r"\*\*boss\*\*"
    assert md("[x](http://e.com)") == r"\[x\]\(http\:\/\/e\.com\)".replace(r"\/", "/")
    assert md("a_b <b>") == r"a\_b \<b\>"
