"""Load rubric YAML and report every problem with a code, a field path and a line.

PyYAML's constructed objects forget where they came from, so the document is
*composed* into a node tree first; walking the nodes gives both the plain data
handed to pydantic and a map from field paths to line numbers, onto which
pydantic's ``loc`` tuples are matched (longest known prefix wins, so a missing
field points at the mapping that should contain it).

The walk also rejects what a plain ``yaml.safe_load`` would accept silently:
aliases (the "billion laughs" expansion bomb), non-text keys (``yes:`` is a
boolean in YAML 1.1), duplicate keys (the last one would win unnoticed) and
custom tags.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from rubrics.errors import RubricInvalid, RubricProblem, did_you_mean, format_number, format_path
from rubrics.schema import (
    CROSS_REFERENCE_ERROR,
    Criterion,
    Evidence,
    LocalText,
    MetricCheck,
    Rubric,
    Scale,
    Section,
    cross_reference_problems,
)

#: Rubrics are a few dozen KB; anything near this is a mistake or an attack.
MAX_RUBRIC_BYTES: Final[int] = 1_000_000
#: Rubric YAML nests about eight levels deep; far deeper is never legitimate.
MAX_DEPTH: Final[int] = 40

BUILTIN_DIR: Final[Path] = Path(__file__).resolve().parent / "builtin"

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS: Final[frozenset[str]] = frozenset(
    _TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp")
)
_LOCAL_TEXT_FIELDS: Final[frozenset[str]] = frozenset({"name", "description", "label", "guidance"})
#: Which model a mapping is, judged by the nearest field name above it in the path.
_MODEL_BY_PARENT: Final[dict[str | None, type]] = {
    None: Rubric,
    "sections": Section,
    "criteria": Criterion,
    "name": LocalText,
    "description": LocalText,
    "label": LocalText,
    "guidance": LocalText,
    "scale": Scale,
    "evidence": Evidence,
    "metrics": MetricCheck,
}
_LANGUAGE_NAMES: Final[dict[str, str]] = {"en": "English", "ar": "Arabic"}


class _Stop(Exception):
    """A problem after which the document cannot be read any further."""

    def __init__(self, problem: tuple[str, str, int | None]) -> None:
        super().__init__(problem[1])
        self.problem = problem


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses aliases before they can be expanded."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Stop(
                (
                    "RUB004",
                    f"YAML alias '*{event.anchor}' is not allowed in a rubric; "
                    "write the content out in full",
                    event.start_mark.line + 1,
                )
            )
        return super().compose_node(parent, index)  # type: ignore[no-any-return]


class _Reader:
    """Turns a composed node tree into plain data, a line map and structural problems."""

    def __init__(self, loader: _Loader) -> None:
        self.loader = loader
        self.lines: dict[tuple[str | int, ...], int] = {}
        self.problems: list[tuple[str, str, tuple[str | int, ...], int]] = []
        #: Values already reported as unreadable; schema errors about them would be noise.
        self.unreadable: set[tuple[str | int, ...]] = set()

    def read(self, node: yaml.Node, path: tuple[str | int, ...], depth: int) -> Any:
        line = node.start_mark.line + 1
        if depth > MAX_DEPTH:
            raise _Stop(("RUB003", f"the document is nested more than {MAX_DEPTH} levels", line))
        if isinstance(node, yaml.MappingNode):
            if node.tag != _TAG + "map":
                return self._bad_tag(node, path)
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _TAG + "seq":
                return self._bad_tag(node, path)
            result = []
            for index, item in enumerate(node.value):
                self.lines[(*path, index)] = item.start_mark.line + 1
                result.append(self.read(item, (*path, index), depth + 1))
            return result
        if node.tag not in _SCALAR_TAGS:
            return self._bad_tag(node, path)
        return self.loader.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: tuple[str | int, ...], depth: int) -> Any:
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == _TAG + "merge":
                raise _Stop(("RUB004", "YAML merge keys (<<) are not allowed in a rubric", line))
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _TAG + "str":
                self.problems.append(("RUB005", _key_message(key_node), path, line))
                continue
            key = key_node.value
            if key in first_line:
                self.problems.append(
                    (
                        "RUB006",
                        f"duplicate key '{key}' (first given on line {first_line[key]}); "
                        "YAML would silently keep only the last one",
                        (*path, key),
                        line,
                    )
                )
            else:
                first_line[key] = line
                self.lines[(*path, key)] = line
            result[key] = self.read(value_node, (*path, key), depth + 1)
        return result

    def _bad_tag(self, node: yaml.Node, path: tuple[str | int, ...]) -> None:
        self.unreadable.add(path)
        self.problems.append(
            (
                "RUB007",
                f"YAML tag '{node.tag}' is not supported in a rubric; remove it",
                path,
                node.start_mark.line + 1,
            )
        )
        return None


def _key_message(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        hint = ""
        if node.tag == _TAG + "bool":
            hint = " (YAML reads unquoted yes/no/on/off/true/false as true/false)"
        if node.value == "":
            return "a key is empty; give every value a name"
        return f"key {node.value!r} is not text{hint}; put it in quotes or rename it"
    return "a key must be plain text, not a list or mapping"


def check_rubric_text(text: str, source: str = "<string>") -> list[RubricProblem]:
    """Every problem in a rubric document (an empty list means it is valid)."""
    return _parse(text, source)[1]


def load_rubric(text: str, *, source: str = "<string>") -> Rubric:
    """Parse and validate rubric YAML; raises ``RubricInvalid`` listing all problems."""
    rubric, problems = _parse(text, source)
    if problems or rubric is None:
        raise RubricInvalid(problems)
    return rubric


def load_rubric_file(path: str | Path) -> Rubric:
    """Load a rubric file; problems are reported against the file's path."""
    text, problems = _read_file(Path(path))
    if text is None:
        raise RubricInvalid(problems)
    return load_rubric(text, source=str(path))


def check_rubric_file(path: str | Path) -> list[RubricProblem]:
    """Every problem in a rubric file, including being unreadable (for ``qa rubric check``)."""
    text, problems = _read_file(Path(path))
    if text is None:
        return problems
    return check_rubric_text(text, str(path))


def builtin_rubric_path(key: str = "contact_center") -> Path:
    """Path of a rubric shipped with the package; ``KeyError`` lists the ones that exist."""
    path = BUILTIN_DIR / f"{key}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))) or "none"
        raise KeyError(f"no built-in rubric '{key}' (built-in rubrics: {known})")
    return path


def _read_file(path: Path) -> tuple[str | None, list[RubricProblem]]:
    def problem(message: str) -> list[RubricProblem]:
        return [RubricProblem("RUB008", message, "", None, str(path))]

    try:
        # Checked before reading so a huge file is never loaded into memory.
        too_large = _size_problem(path.stat().st_size, str(path))
        if too_large is not None:
            return None, [too_large]
        data = path.read_bytes()
    except OSError as exc:
        return None, problem(f"cannot read the file: {exc.strerror or exc}")
    try:
        # utf-8-sig: editors on Windows like to prepend a byte-order mark.
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [
            RubricProblem(
                "RUB008",
                f"the file is not UTF-8 text (bad byte at line {line}); save it as UTF-8",
                "",
                line,
                str(path),
            )
        ]


def _size_problem(size: int, source: str) -> RubricProblem | None:
    if size <= MAX_RUBRIC_BYTES:
        return None
    message = f"the document is {size:,} bytes; a rubric may be at most {MAX_RUBRIC_BYTES:,} bytes"
    return RubricProblem("RUB003", message, "", None, source)


def _parse(text: str, source: str) -> tuple[Rubric | None, list[RubricProblem]]:
    def one(code: str, message: str, line: int | None) -> tuple[None, list[RubricProblem]]:
        return None, [RubricProblem(code, message, "", line, source)]

    # A character is at least one UTF-8 byte, so long texts are rejected without encoding them.
    size = len(text) if len(text) > MAX_RUBRIC_BYTES else len(text.encode("utf-8", "replace"))
    too_large = _size_problem(size, source)
    if too_large is not None:
        return None, [too_large]
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return one("RUB002", "the document is empty; a rubric needs key, name and sections", 1)
        if not isinstance(root, yaml.MappingNode):
            kind = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
            return one(
                "RUB002",
                f"the document is {kind}; a rubric must be a mapping (key: value lines) "
                "with key, name and sections",
                root.start_mark.line + 1,
            )
        reader = _Reader(loader)
        reader.lines[()] = root.start_mark.line + 1
        data = reader.read(root, (), 0)
    except _Stop as stop:
        return one(*stop.problem)
    except yaml.MarkedYAMLError as exc:
        return one("RUB001", _yaml_message(exc), _yaml_line(exc))
    except yaml.YAMLError as exc:
        return one("RUB001", f"YAML syntax error: {exc}", None)
    except RecursionError:
        return one("RUB003", "the document is nested too deeply to read", None)
    finally:
        loader.dispose()

    found = [
        (code, message, format_path(path), line) for code, message, path, line in reader.problems
    ]
    rubric: Rubric | None = None
    try:
        rubric = Rubric.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            if error["type"] == CROSS_REFERENCE_ERROR:
                continue  # reported with precise locations just below
            loc = _clean_loc(error["loc"])
            if any(loc[: len(path)] == path for path in reader.unreadable):
                continue
            code, message = _translate(error, loc)
            found.append((code, message, format_path(loc), _line_for(loc, reader.lines)))
        for code, loc, message in cross_reference_problems(data):
            found.append((code, message, format_path(loc), _line_for(loc, reader.lines)))
    if found:
        rubric = None
    found.sort(key=lambda item: item[3] or 0)  # stable: same-line problems keep their order
    return rubric, [
        RubricProblem(code, message, path, line, source) for code, message, path, line in found
    ]


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    parts = [p for p in (exc.context, exc.problem) if p]
    detail = "; ".join(parts) if parts else "cannot parse"
    context, problem = exc.context_mark, exc.problem_mark
    if context is not None and problem is not None and context.line != problem.line:
        detail += f" (the construct started on line {exc.context_mark.line + 1})"
    hint = ""
    if "'\\t'" in detail:
        hint = "; indent with spaces, not tabs"
    return f"YAML syntax error: {detail}{hint}"


def _yaml_line(exc: yaml.MarkedYAMLError) -> int | None:
    mark = exc.problem_mark or exc.context_mark
    return mark.line + 1 if mark is not None else None


def _clean_loc(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    # Dict-key errors end in "[key]"; the key itself is already the previous element.
    return tuple(part for part in loc if part != "[key]")


def _line_for(loc: tuple[str | int, ...], lines: Mapping[tuple[str | int, ...], int]) -> int | None:
    for end in range(len(loc), -1, -1):
        line = lines.get(loc[:end])
        if line is not None:
            return line
    return None


def _parent_field(loc: tuple[str | int, ...]) -> str | None:
    for part in reversed(loc):
        if isinstance(part, str):
            return part
    return None


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (the value is empty)"
    if isinstance(value, bool):
        word = "true" if value else "false"
        return (
            f"{word} (YAML reads unquoted yes/no/on/off/true/false as true/false; "
            "put text in quotes)"
        )
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the text {shown!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__} ({value})"


_TYPE_NAMES: Final[dict[str, str]] = {
    "string_type": "text",
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping (key: value lines)",
    "list_type": "a list",
    "tuple_type": "a list",
    "model_type": "a mapping (key: value lines)",
    "model_attributes_type": "a mapping (key: value lines)",
}
_RANGE_WORDS: Final[dict[str, str]] = {
    "greater_than": "greater than {gt}",
    "greater_than_equal": "at least {ge}",
    "less_than": "less than {lt}",
    "less_than_equal": "at most {le}",
}


def _translate(error: ErrorDetails, loc: tuple[str | int, ...]) -> tuple[str, str]:
    """Map one pydantic error to a stable code and a message a QA lead can act on."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    field = loc[-1] if loc else None
    if kind.startswith("RUB"):
        return kind, str(ctx.get("message", error["msg"]))
    if kind == "missing":
        if field in _LANGUAGE_NAMES and len(loc) >= 2 and loc[-2] in _LOCAL_TEXT_FIELDS:
            return "RUB203", f"{_LANGUAGE_NAMES[str(field)]} text ({field}) is missing"
        return "RUB101", "required field is missing"
    if kind == "extra_forbidden":
        return "RUB102", _unknown_field_message(loc)
    if kind == "model_type" and field in _LOCAL_TEXT_FIELDS:
        return "RUB103", (
            f"must give the text in both languages as a mapping with 'en' and 'ar', "
            f"got {_describe(value)}"
        )
    if kind in _TYPE_NAMES:
        return "RUB103", f"must be {_TYPE_NAMES[kind]}, got {_describe(value)}"
    if kind in _RANGE_WORDS:
        bound = _RANGE_WORDS[kind].format(**{k: format_number(v) for k, v in ctx.items()})
        return "RUB104", f"must be {bound} (got {format_number(value)})"
    if kind == "finite_number":
        return "RUB104", f"must be a finite number (got {value})"
    if kind in ("literal_error", "enum"):
        expected = str(ctx.get("expected", ""))
        choices = [c.strip(" '") for c in expected.replace(" or ", ",").split(",")]
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        what = "channel" if len(loc) == 2 and loc[0] == "timing_thresholds" else "value"
        return "RUB105", f"{what} must be one of {expected}; got {_describe(value)}{hint}"
    if kind == "string_pattern_mismatch":
        return "RUB106", (
            f"must be an id made of lowercase letters a-z, digits and underscores, "
            f"starting with a letter (e.g. 'first_response'); got {_describe(value)}"
        )
    if kind == "string_too_long":
        return "RUB106", f"must be at most {ctx.get('max_length')} characters long"
    if kind == "too_short":
        return "RUB107", f"must contain at least {ctx.get('min_length', 1)} item"
    return "RUB100", error["msg"]


def _unknown_field_message(loc: tuple[str | int, ...]) -> str:
    name = str(loc[-1]) if loc else ""
    model = _MODEL_BY_PARENT.get(_parent_field(loc[:-1]))
    if model is None:
        return f"unknown field '{name}'"
    allowed = sorted(model.model_fields)  # type: ignore[attr-defined]
    return (
        f"unknown field '{name}'{did_you_mean(name, allowed)}; allowed here: {', '.join(allowed)}"
    )
