"""Showing user-supplied text (names, file names, messages quoting input) without markup.

Streamlit renders Markdown in titles, alerts and captions (never raw HTML
unless asked, and these pages never ask). A name like ``**boss**`` or
``[click](http://x)`` must show as typed, so such text goes through ``md``.
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$])")


def md(text: object) -> str:
    """Escape Markdown so ``text`` is shown literally inside a Markdown element."""
    return _SPECIAL.sub(r"\\\1", str(text)).replace("\n", "  \n")
