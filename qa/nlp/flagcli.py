"""``qa flag``: flag phrases in JSON lines (stdin or a file) and print JSON lines.

Contract: exactly one output line per input line, in order, flushed as it is
written, so the command can sit in a pipe. Input lines are objects
``{"text": str, "lang": "en"|"ar" (optional; guessed from the script),
"speaker": "agent"|"customer"|"system" (default "agent")}``. Output lines are
``{"lang": ..., "flags": [{"behavior", "polarity", "rule", "start", "end",
"text", "criterion", "suggestion"}]}`` with ``start``/``end`` character offsets
into the ORIGINAL text, or ``{"error": "..."}`` for a line that cannot be used
(blank, not UTF-8, not JSON or nested too deeply, not an object, missing or
non-string text, text too long or with an unpaired surrogate, unknown lang or
speaker). A broken lexicon is not a per-line problem: the command stops
with a non-zero exit status and the lexicon error (file, line, rule).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from qa.nlp.lexicon import LexiconError
from qa.nlp.normalize import detect_language, unpaired_surrogate
from qa.nlp.taxonomy import LANGS, SPEAKERS
from qa.nlp.types import MAX_CHARS

if TYPE_CHECKING:
    from qa.nlp.analyzer import Analyzer

FLAG_KEYS = ("behavior", "polarity", "rule", "start", "end", "text", "criterion", "suggestion")


def _settings_lexicon_dir(ctx: click.Context) -> Path | None:
    """The app's configured lexicon dir, when the main CLI put settings in ctx.obj."""
    obj = ctx.find_root().obj
    for candidate in (obj, getattr(obj, "settings", None)):
        value = getattr(candidate, "lexicon_dir", None)
        if value:
            return Path(value)
    if isinstance(obj, dict):
        value = obj.get("lexicon_dir") or getattr(obj.get("settings"), "lexicon_dir", None)
        if value:
            return Path(value)
    return None


def flag_line(raw: bytes, lineno: int, analyzers: dict[str, Analyzer], lexicon_dir: Any) -> dict:
    """The output object for one input line (never raises for bad input)."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return {"error": f"line {lineno}: not valid UTF-8 ({exc.reason} at byte {exc.start})"}
    line = line.rstrip("\r\n")
    if lineno == 1:
        line = line.removeprefix("\ufeff")  # a byte-order mark some editors write
    if not line.strip():
        return {"error": f"line {lineno}: blank line; expected a JSON object"}
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"error": f"line {lineno}: invalid JSON: {exc.msg} at column {exc.colno}"}
    except RecursionError:
        return {"error": f"line {lineno}: invalid JSON: nested too deeply"}
    if not isinstance(obj, dict):
        return {"error": f"line {lineno}: expected a JSON object, got {type(obj).__name__}"}
    text = obj.get("text")
    if "text" not in obj:
        return {"error": f"line {lineno}: missing field 'text'"}
    if not isinstance(text, str):
        return {"error": f"line {lineno}: field 'text' must be a string"}
    if len(text) > MAX_CHARS:
        return {
            "error": f"line {lineno}: field 'text' has {len(text):,} characters; "
            f"the limit is {MAX_CHARS:,}"
        }
    bad = unpaired_surrogate(text)
    if bad is not None:
        return {
            "error": f"line {lineno}: field 'text' has an unpaired surrogate "
            f"(\\u{ord(text[bad]):04x}) at character {bad}; it is not Unicode text"
        }
    lang = obj.get("lang")
    if lang is None:
        lang = detect_language(text)
    elif lang not in LANGS:
        return {
            "error": f"line {lineno}: unknown lang {lang!r}; expected one of {', '.join(LANGS)}"
        }
    speaker = obj.get("speaker")
    if speaker is None:  # missing or null: the default, as for "lang"
        speaker = "agent"
    if speaker not in SPEAKERS:
        return {
            "error": f"line {lineno}: unknown speaker {speaker!r}; expected one of {', '.join(SPEAKERS)}"
        }
    analyzer = analyzers.get(lang)
    if analyzer is None:
        from qa.nlp.analyzer import get_analyzer  # spaCy loads only when flagging

        analyzer = analyzers[lang] = get_analyzer(lang, lexicon_dir)
    flags = analyzer.flag_text(text, speaker)
    return {
        "lang": lang,
        "flags": [{k: getattr(f, k) for k in FLAG_KEYS} for f in flags],
    }


@click.command("flag")
@click.argument("file", type=click.File("rb"), default="-", required=False)
@click.option(
    "--lexicon-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory whose en.yaml/ar.yaml extend or replace the shipped lexicons "
    "(defaults to the QA_LEXICON_DIR setting).",
)
@click.pass_context
def flag(ctx: click.Context, file: IO[bytes], lexicon_dir: Path | None) -> None:
    """Flag agent/customer phrases in JSON lines from FILE (default: stdin)."""
    from qa.nlp.analyzer import get_lexicon

    lexicon_dir = lexicon_dir or _settings_lexicon_dir(ctx)
    try:
        for lang in LANGS:  # fail fast on a broken lexicon, before any output
            get_lexicon(lang, lexicon_dir)
    except LexiconError as exc:
        raise click.ClickException(str(exc)) from exc
    analyzers: dict[str, Analyzer] = {}
    for lineno, raw in enumerate(file, start=1):
        try:
            result = flag_line(raw, lineno, analyzers, lexicon_dir)
        except LexiconError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(json.dumps(result, ensure_ascii=False))  # click.echo flushes
