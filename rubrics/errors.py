"""Problems found in rubric YAML, with stable codes.

QA leads edit rubrics by hand, in the app and in files checked by
``qa rubric check``; every problem therefore carries a stable code (so docs,
tests and support tickets can refer to it), the field path and the line in
the YAML. The table below is mirrored in ``docs/rubric-format.md``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

#: Stable error codes and their one-line meaning. Never renumber: codes are
#: part of the public contract (documentation, tests, user reports).
ERROR_CODES: Final[dict[str, str]] = {
    # The document itself
    "RUB001": "YAML syntax error",
    "RUB002": "the document is empty or not a mapping",
    "RUB003": "the document is too large or too deeply nested",
    "RUB004": "YAML aliases (*name) and merge keys are not allowed",
    "RUB005": "a mapping key is not text",
    "RUB006": "duplicate key in a mapping",
    "RUB007": "unsupported YAML tag",
    "RUB008": "the file cannot be read or is not UTF-8 text",
    # Schema: the shape of the data
    "RUB100": "invalid value (other schema error)",
    "RUB101": "required field is missing",
    "RUB102": "unknown field",
    "RUB103": "wrong type",
    "RUB104": "number out of range",
    "RUB105": "value is not one of the allowed choices",
    "RUB106": "badly formed id or text too long",
    "RUB107": "list must not be empty",
    # Semantics: the data is well-formed but does not make sense
    "RUB201": "duplicate criterion id",
    "RUB202": "duplicate section id",
    "RUB203": "missing translation (English or Arabic text empty or absent)",
    "RUB204": "Arabic text contains no Arabic letters",
    "RUB205": "bad scale (min must be below max)",
    "RUB206": "field does not fit the criterion type (scale / max_points)",
    "RUB207": "bad fail_at for a critical criterion",
    "RUB208": "unknown behaviour id in evidence",
    "RUB209": "behaviour listed under the wrong evidence list (use / avoid)",
    "RUB210": "unknown finding id in evidence",
    "RUB211": "unknown timing metric",
    "RUB212": "unknown timing threshold",
    "RUB213": "the same id is listed twice in an evidence list",
}


@dataclass(frozen=True, slots=True)
class RubricProblem:
    """One thing wrong with a rubric, located well enough to fix it without guessing.

    ``path`` is the dotted field path (``sections[0].criteria[2].weight``), empty
    for problems about the whole document; ``line`` is 1-based, ``None`` when the
    problem has no position (e.g. a rubric built from a dict, not YAML).
    """

    code: str
    message: str
    path: str
    line: int | None
    source: str


def format_problem(p: RubricProblem) -> str:
    """``file.yaml:12: RUB104 sections[0].criteria[2].weight: must be greater than 0``.

    The ``file:line:`` prefix is the convention editors and CI logs turn into links.
    """
    where = p.source if p.line is None else f"{p.source}:{p.line}"
    subject = f"{p.path}: " if p.path else ""
    return f"{where}: {p.code} {subject}{p.message}"


class RubricInvalid(Exception):
    """A rubric was rejected; ``problems`` lists everything found, not just the first."""

    def __init__(self, problems: Sequence[RubricProblem]) -> None:
        self.problems: list[RubricProblem] = list(problems)
        count = len(self.problems)
        head = f"rubric is invalid ({count} problem{'s' if count != 1 else ''})"
        super().__init__("\n".join([head, *(format_problem(p) for p in self.problems)]))


def format_path(loc: Sequence[str | int]) -> str:
    """``("sections", 0, "weight")`` -> ``sections[0].weight``: how YAML editors think of it."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'weight'?)`` for the closest choice, or ``""``: typos are the usual mistake."""
    close = difflib.get_close_matches(value, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def format_number(value: object) -> str:
    """``5.0`` -> ``5``: YAML authors wrote ``5``, so messages should show ``5``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
