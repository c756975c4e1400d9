"""Interaction import: JSONL / JSON (one interaction per object) and CSV (one row per turn).

Design constraints, and why:

* **Streaming.** Files are read line by line (JSONL, CSV) or item by item
  (JSON arrays, via ijson) and written in batches, so memory stays bounded for
  multi-gigabyte exports.
* **All-or-nothing per file.** A file is imported inside one savepoint; on the
  first problem we stop writing, keep validating (to report up to
  ``MAX_PROBLEMS`` problems in one go) and roll the savepoint back.
* **Speed.** Rows go through Core ``insert()`` executemany in batches, not the
  ORM unit of work (measured: ORM add_all ~19k rows/s, Core ~330k rows/s).
  Validation is hand-written for the same reason: a pydantic model per turn
  would dominate the cost.
* **Idempotence.** ``(source, external_id)`` is unique; an interaction seen
  before is reported as a duplicate and skipped, so re-running an import
  changes nothing.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from qa.models import (
    LANGUAGES,
    Agent,
    AuditEvent,
    Channel,
    Interaction,
    Speaker,
    Team,
    utcnow,
)
from qa.nlp.normalize import unpaired_surrogate

MAX_PROBLEMS = 100
MAX_TURN_BYTES = 1_000_000
MAX_LINE_BYTES = 256 * 1024 * 1024
MAX_ID_LEN = 200
BATCH_SIZE = 500

CHANNELS = frozenset(c.value for c in Channel)
SPEAKERS = frozenset(s.value for s in Speaker)
CSV_REQUIRED = ("external_id", "channel", "started_at", "agent_id", "agent_name", "speaker", "text")
CSV_OPTIONAL = ("language", "team", "start", "end", "customer_id", "recording")
JSON_FIELDS = frozenset(
    {
        "external_id",
        "channel",
        "language",
        "started_at",
        "agent",
        "customer_id",
        "recording",
        "turns",
        "metadata",
        "duration",
    }
)
_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")
_LATIN = re.compile(r"[A-Za-z]")


@dataclass(frozen=True)
class ImportProblem:
    """One thing wrong with an input file; ``code`` is stable so users can search for it."""

    file: str
    line: int | None
    field: str | None
    code: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        what = f" {self.field}:" if self.field else ""
        return f"{where}: {self.code}{what} {self.message}"


class ImportFailed(Exception):
    """A file was refused; nothing from it was written."""

    def __init__(self, problems: list[ImportProblem]) -> None:
        self.problems = problems
        more = "" if len(problems) < MAX_PROBLEMS else f" (stopped after {MAX_PROBLEMS})"
        super().__init__(f"{len(problems)} problem(s){more}; first: {problems[0]}")


class _RecordError(Exception):
    def __init__(self, problems: list[ImportProblem]) -> None:
        self.problems = problems


@dataclass
class ImportReport:
    file: str
    imported: int = 0
    turns: int = 0
    duplicates: list[str] = field(default_factory=list)
    agents_created: int = 0
    teams_created: int = 0
    interaction_ids: list[int] = field(default_factory=list, repr=False)

    def summary(self) -> str:
        return (
            f"{self.file}: imported {self.imported} interaction(s), {self.turns} turn(s); "
            f"{len(self.duplicates)} duplicate(s) skipped; "
            f"{self.agents_created} new agent(s), {self.teams_created} new team(s)"
        )


@dataclass
class _Record:
    """A validated interaction, ready to insert."""

    line: int
    external_id: str
    channel: str
    language: str
    started_at: datetime
    agent_id: str
    agent_name: str
    team: str | None
    customer_ref: str | None
    recording: str | None
    meta: dict[str, Any]
    duration: float | None
    turns: list[tuple[str, str, float | None, float | None]]


# --------------------------------------------------------------------------- reading


def _decoded_lines(stream: IO[bytes], encoding: str, file: str) -> Iterator[tuple[int, str]]:
    """Yield (line number, text) with strict decoding, naming the line of any bad byte."""
    codec = codecs.lookup(encoding)
    first = True
    for lineno, raw in enumerate(stream, start=1):
        if len(raw) > MAX_LINE_BYTES:
            raise _RecordError(
                [ImportProblem(file, lineno, None, "IMP003", "line longer than 256 MiB")]
            )
        if first:
            first = False
            if raw.startswith(codecs.BOM_UTF8) and codec.name in ("utf-8", "utf-8-sig"):
                raw = raw[len(codecs.BOM_UTF8) :]
        try:
            text = raw.decode(codec.name)
        except UnicodeDecodeError as exc:
            hint = " (an Arabic Excel export? try --encoding cp1256)" if "utf" in codec.name else ""
            raise _RecordError(
                [
                    ImportProblem(
                        file,
                        lineno,
                        None,
                        "IMP002",
                        f"invalid {encoding} byte 0x{raw[exc.start]:02x} at column {exc.start + 1}{hint}",
                    )
                ]
            ) from None
        yield lineno, text


def _iter_jsonl(stream: IO[bytes], encoding: str, file: str) -> Iterator[tuple[int, Any]]:
    """One object per line. UTF-8 lines go straight to orjson (parsing is most of the
    import's CPU); a line it refuses is re-read the slow way to word the error precisely."""
    if codecs.lookup(encoding).name not in ("utf-8", "utf-8-sig"):
        yield from _iter_jsonl_decoded(_decoded_lines(stream, encoding, file))
        return
    loads = orjson.loads
    for lineno, raw in enumerate(stream, start=1):
        if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            yield lineno, loads(raw)
            continue
        except orjson.JSONDecodeError:
            pass
        if not raw.strip():
            continue
        yield from _iter_jsonl_decoded(
            _decoded_lines(io.BytesIO(raw), "utf-8", file), first_line=lineno
        )


def _iter_jsonl_decoded(
    lines: Iterator[tuple[int, str]], first_line: int = 1
) -> Iterator[tuple[int, Any]]:
    offset = first_line - 1
    try:
        for lineno, text in lines:
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                yield lineno + offset, _BadJSON(f"malformed JSON: {exc.msg} at column {exc.colno}")
            except RecursionError:
                yield lineno + offset, _BadJSON("malformed JSON: nested too deeply")
            else:
                yield lineno + offset, _checked_unicode(obj)
    except _RecordError as err:
        raise _RecordError(
            [
                ImportProblem(p.file, (p.line or 1) + offset, p.field, p.code, p.message)
                for p in err.problems
            ]
        ) from None


@dataclass
class _BadJSON:
    message: str


def _surrogate_at(obj: Any, path: str = "") -> str | None:
    """Where a string holds an unpaired surrogate (JSON's "\\ud800" escape)."""
    if isinstance(obj, str):
        at = unpaired_surrogate(obj)
        return None if at is None else f"{path or 'value'} (\\u{ord(obj[at]):04x})"
    if isinstance(obj, dict):
        for key, value in obj.items():
            where = _surrogate_at(key, path) or _surrogate_at(
                value, f"{path}.{key}" if path else str(key)
            )
            if where:
                return where
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            where = _surrogate_at(value, f"{path}[{i}]")
            if where:
                return where
    return None


def _checked_unicode(obj: Any) -> Any:
    """The object, or a problem if it carries a lone surrogate: no database stores
    one, and the fast parser (orjson) refuses them, so only the slow path sees them."""
    where = _surrogate_at(obj)
    if where is None:
        return obj
    return _BadJSON(f"malformed JSON: unpaired surrogate in {where}; it is not Unicode text")


def _iter_json(stream: IO[bytes], encoding: str, file: str) -> Iterator[tuple[int, Any]]:
    """A JSON file holding one object or an array of objects; arrays are streamed."""
    import ijson

    head = stream.read(4096)
    stream.seek(0)
    start = head.lstrip(codecs.BOM_UTF8).lstrip()
    if encoding.replace("_", "-").lower() not in ("utf-8", "utf-8-sig", "utf8"):
        raise _RecordError([ImportProblem(file, None, None, "IMP004", "JSON files must be UTF-8")])
    if start.startswith(b"["):
        body = _SkipBOM(stream)
        try:
            yield from enumerate(ijson.items(body, "item", use_float=True), start=1)
        except ijson.common.IncompleteJSONError as exc:
            raise _RecordError(
                [ImportProblem(file, None, None, "IMP001", f"malformed JSON: {exc}")]
            ) from None
        except UnicodeDecodeError as exc:
            raise _RecordError(
                [ImportProblem(file, None, None, "IMP002", f"invalid UTF-8: {exc.reason}")]
            ) from None
        return
    data = stream.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _RecordError(
            [ImportProblem(file, line, None, "IMP002", "invalid UTF-8 byte")]
        ) from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _RecordError(
            [ImportProblem(file, exc.lineno, None, "IMP001", f"malformed JSON: {exc.msg}")]
        ) from None
    except RecursionError:
        raise _RecordError(
            [ImportProblem(file, None, None, "IMP001", "malformed JSON: nested too deeply")]
        ) from None
    yield 1, _checked_unicode(obj)


class _SkipBOM:
    """Wraps a binary stream and drops a leading UTF-8 BOM (ijson chokes on it)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._first = True

    def read(self, n: int = -1) -> bytes:
        chunk = self._stream.read(n)
        if self._first:
            self._first = False
            if chunk.startswith(codecs.BOM_UTF8):
                chunk = chunk[3:]
        return chunk


def _iter_csv(stream: IO[bytes], encoding: str, file: str) -> Iterator[tuple[int, Any]]:
    """Group consecutive rows of one external_id into one interaction object."""
    lines = _decoded_lines(stream, encoding, file)
    current_line = [0]

    def texts() -> Iterator[str]:
        for lineno, text in lines:
            current_line[0] = lineno
            yield text

    reader = csv.reader(texts())
    try:
        header = next(reader)
    except StopIteration:
        raise _RecordError(
            [ImportProblem(file, 1, None, "IMP010", "empty file: expected a header row")]
        ) from None
    header = [h.strip().lower() for h in header]
    missing = [c for c in CSV_REQUIRED if c not in header]
    unknown = [c for c in header if c not in CSV_REQUIRED and c not in CSV_OPTIONAL]
    if missing or unknown:
        problems = [ImportProblem(file, 1, c, "IMP011", "required column missing") for c in missing]
        problems += [ImportProblem(file, 1, c, "IMP012", "unknown column") for c in unknown]
        raise _RecordError(problems)
    index = {name: i for i, name in enumerate(header)}
    seen: set[str] = set()
    group: dict[str, Any] | None = None
    group_line = 0
    for row in reader:
        rowline = current_line[0]
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield rowline, _BadJSON(f"expected {len(header)} columns, found {len(row)}")
            continue
        values = {name: row[i] for name, i in index.items()}
        ext = values["external_id"].strip()
        if group is not None and ext != group["external_id"]:
            yield group_line, group
            group = None
        if group is None:
            if ext in seen:
                yield (
                    rowline,
                    _BadJSON(
                        f"rows of interaction {ext!r} are not contiguous; keep each "
                        "interaction's rows together"
                    ),
                )
                continue
            seen.add(ext)
            group_line = rowline
            group = {
                "external_id": ext,
                "channel": values["channel"].strip(),
                "started_at": values["started_at"].strip(),
                "agent": {
                    "id": values["agent_id"].strip(),
                    "name": values["agent_name"].strip(),
                },
                "turns": [],
                "_csv_lines": [],
            }
            if values.get("team", "").strip():
                group["agent"]["team"] = values["team"].strip()
            for key in ("language", "customer_id", "recording"):
                if values.get(key, "").strip():
                    group[key] = values[key].strip()
        else:
            for key, expected in (
                ("channel", group["channel"]),
                ("started_at", group["started_at"]),
                ("agent_id", group["agent"]["id"]),
            ):
                if values[key].strip() != expected:
                    yield (
                        rowline,
                        _BadJSON(f"{key} differs from the interaction's first row ({expected!r})"),
                    )
        turn: dict[str, Any] = {"speaker": values["speaker"].strip(), "text": values["text"]}
        for key in ("start", "end"):
            raw = values.get(key, "").strip()
            if raw:
                turn[key] = raw
        group["turns"].append(turn)
        group["_csv_lines"].append(rowline)
    if group is not None:
        yield group_line, group


# --------------------------------------------------------------------------- validation


def detect_language(texts: Iterable[str]) -> str:
    """``ar`` when Arabic letters outnumber Latin ones in the first few kilobytes."""
    arabic = latin = 0
    budget = 4000
    for text in texts:
        sample = text[:budget]
        arabic += len(_ARABIC.findall(sample))
        latin += len(_LATIN.findall(sample))
        budget -= len(sample)
        if budget <= 0:
            break
    return "ar" if arabic > latin else "en"


def _number(
    value: Any, file: str, line: int, fld: str, problems: list[ImportProblem]
) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        problems.append(ImportProblem(file, line, fld, "IMP021", "expected a number of seconds"))
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            problems.append(
                ImportProblem(
                    file, line, fld, "IMP021", f"expected a number of seconds, got {value!r}"
                )
            )
            return None
    if not isinstance(value, int | float) or not math.isfinite(value):
        problems.append(ImportProblem(file, line, fld, "IMP021", "expected a number of seconds"))
        return None
    if value < 0:
        problems.append(ImportProblem(file, line, fld, "IMP022", "must not be negative"))
        return None
    return float(value)


def _text_field(
    obj: dict[str, Any],
    key: str,
    file: str,
    line: int,
    problems: list[ImportProblem],
    *,
    required: bool,
    label: str | None = None,
    max_len: int = MAX_ID_LEN,
) -> str | None:
    name = label or key
    value = obj.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append(ImportProblem(file, line, name, "IMP020", "required field missing"))
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        problems.append(
            ImportProblem(
                file, line, name, "IMP023", f"expected a string, got {type(value).__name__}"
            )
        )
        return None
    if "\x00" in value:
        problems.append(ImportProblem(file, line, name, "IMP024", "contains a NUL byte"))
        return None
    if len(value) > max_len:
        problems.append(
            ImportProblem(file, line, name, "IMP025", f"longer than {max_len} characters")
        )
        return None
    return value.strip()


_NUMBER_TYPES = (int, float)


def _fast_turns(turns_raw: list[Any]) -> list[tuple[str, str, float | None, float | None]] | None:
    """The common all-valid case without building problem objects; None means look closer.

    Import speed is dominated by per-turn work, so the happy path does only
    cheap type checks; anything unusual falls back to ``_checked_turns``,
    which explains exactly what is wrong.
    """
    out = []
    speakers = SPEAKERS
    limit = MAX_TURN_BYTES // 4
    for turn in turns_raw:
        if type(turn) is not dict or len(turn) > 4:
            return None
        speaker = turn.get("speaker")
        text = turn.get("text")
        start = turn.get("start")
        end = turn.get("end")
        if speaker not in speakers or type(text) is not str or len(text) > limit or "\x00" in text:
            return None
        if start is not None:
            if type(start) not in _NUMBER_TYPES or not 0 <= start < math.inf:
                return None
            start = float(start)
        if end is not None:
            if type(end) not in _NUMBER_TYPES or not 0 <= end < math.inf:
                return None
            end = float(end)
            if start is not None and end < start:
                return None
        if len(turn) > 2 + (start is not None) + (end is not None):
            return None  # unknown keys
        out.append((speaker, text, start, end))
    return out


def _checked_turns(
    turns_raw: list[Any],
    file: str,
    line: int,
    csv_lines: list[int] | None,
    problems: list[ImportProblem],
) -> list[tuple[str, str, float | None, float | None]]:
    turns: list[tuple[str, str, float | None, float | None]] = []
    for i, turn in enumerate(turns_raw):
        tline = csv_lines[i] if csv_lines else line
        where = f"turns[{i}]"
        if not isinstance(turn, dict):
            problems.append(ImportProblem(file, tline, where, "IMP013", "expected an object"))
            continue
        speaker = turn.get("speaker")
        if speaker not in SPEAKERS:
            problems.append(
                ImportProblem(
                    file,
                    tline,
                    f"{where}.speaker",
                    "IMP031",
                    f"expected agent, customer or system; got {speaker!r}",
                )
            )
        text = turn.get("text")
        if not isinstance(text, str):
            problems.append(
                ImportProblem(file, tline, f"{where}.text", "IMP023", "expected a string")
            )
            text = ""
        elif "\x00" in text:
            problems.append(
                ImportProblem(file, tline, f"{where}.text", "IMP024", "contains a NUL byte")
            )
        elif len(text) > MAX_TURN_BYTES // 4 and len(text.encode("utf-8")) > MAX_TURN_BYTES:
            problems.append(
                ImportProblem(file, tline, f"{where}.text", "IMP032", "turn text over 1 MB")
            )
        start = _number(turn.get("start"), file, tline, f"{where}.start", problems)
        end = _number(turn.get("end"), file, tline, f"{where}.end", problems)
        if start is not None and end is not None and end < start:
            problems.append(
                ImportProblem(
                    file,
                    tline,
                    f"{where}.end",
                    "IMP033",
                    f"end {end:g}s is before start {start:g}s",
                )
            )
        for key in sorted(set(turn) - {"speaker", "text", "start", "end"}):
            problems.append(ImportProblem(file, tline, f"{where}.{key}", "IMP012", "unknown field"))
        turns.append((speaker, text, start, end))  # type: ignore[arg-type]
    return turns


def validate_record(obj: Any, file: str, line: int) -> _Record:
    """Check one interaction object; raise ``_RecordError`` with every problem found."""
    problems: list[ImportProblem] = []
    if isinstance(obj, _BadJSON):
        raise _RecordError([ImportProblem(file, line, None, "IMP001", obj.message)])
    if not isinstance(obj, dict):
        raise _RecordError(
            [ImportProblem(file, line, None, "IMP013", "expected a JSON object per interaction")]
        )
    csv_lines: list[int] | None = obj.pop("_csv_lines", None)
    unknown = sorted(k for k in obj if k not in JSON_FIELDS)
    for key in unknown:
        problems.append(ImportProblem(file, line, key, "IMP012", "unknown field"))
    ext = _text_field(obj, "external_id", file, line, problems, required=True)
    channel = obj.get("channel")
    if channel not in CHANNELS:
        problems.append(
            ImportProblem(
                file, line, "channel", "IMP026", f"expected call, chat or email; got {channel!r}"
            )
        )
    language = obj.get("language")
    if language is not None and language not in LANGUAGES:
        problems.append(
            ImportProblem(file, line, "language", "IMP027", f"expected en or ar; got {language!r}")
        )
    started_at: datetime | None = None
    raw_started = obj.get("started_at")
    if not isinstance(raw_started, str) or not raw_started.strip():
        problems.append(ImportProblem(file, line, "started_at", "IMP020", "required field missing"))
    else:
        try:
            started_at = datetime.fromisoformat(raw_started.strip())
        except ValueError:
            problems.append(
                ImportProblem(
                    file,
                    line,
                    "started_at",
                    "IMP028",
                    f"not an ISO-8601 date-time: {raw_started!r}",
                )
            )
        else:
            if started_at.tzinfo is None:
                problems.append(
                    ImportProblem(
                        file,
                        line,
                        "started_at",
                        "IMP029",
                        "must include a UTC offset (e.g. 2026-10-01T09:30:00+03:00)",
                    )
                )
                started_at = None
    agent = obj.get("agent")
    agent_id = agent_name = team = None
    if not isinstance(agent, dict):
        problems.append(
            ImportProblem(
                file, line, "agent", "IMP020", "required object {id, name, team?} missing"
            )
        )
    else:
        agent_id = _text_field(agent, "id", file, line, problems, required=True, label="agent.id")
        agent_name = _text_field(
            agent, "name", file, line, problems, required=True, label="agent.name"
        )
        team = _text_field(agent, "team", file, line, problems, required=False, label="agent.team")
        for key in sorted(set(agent) - {"id", "name", "team", "email", "locale"}):
            problems.append(ImportProblem(file, line, f"agent.{key}", "IMP012", "unknown field"))
    customer = _text_field(obj, "customer_id", file, line, problems, required=False)
    recording = _text_field(obj, "recording", file, line, problems, required=False, max_len=2000)
    meta = obj.get("metadata")
    if meta is None:
        meta = {}
    elif not isinstance(meta, dict):
        problems.append(ImportProblem(file, line, "metadata", "IMP023", "expected an object"))
        meta = {}
    duration = _number(obj.get("duration"), file, line, "duration", problems)
    turns_raw = obj.get("turns")
    turns: list[tuple[str, str, float | None, float | None]] = []
    if not isinstance(turns_raw, list):
        problems.append(
            ImportProblem(file, line, "turns", "IMP020", "required list of turns missing")
        )
    elif not turns_raw:
        problems.append(ImportProblem(file, line, "turns", "IMP030", "empty transcript: no turns"))
    else:
        turns = _fast_turns(turns_raw)
        if turns is None:
            turns = _checked_turns(turns_raw, file, line, csv_lines, problems)
    if problems:
        raise _RecordError(problems)
    assert ext and agent_id and agent_name and started_at is not None
    if language is None:
        language = detect_language(t[1] for t in turns)
    if duration is None:
        starts = [t[2] for t in turns if t[2] is not None]
        ends = [t[3] for t in turns if t[3] is not None]
        if starts and ends:
            duration = max(ends) - min(starts)
    return _Record(
        line=line,
        external_id=ext,
        channel=str(channel),
        language=str(language),
        started_at=started_at,
        agent_id=agent_id,
        agent_name=agent_name,
        team=team,
        customer_ref=customer,
        recording=recording,
        meta=meta,
        duration=duration,
        turns=turns,
    )


# --------------------------------------------------------------------------- writing


class _Writer:
    """Resolves agents and teams, skips duplicates and inserts in batches."""

    def __init__(self, session: Session, source: str, strict: bool, report: ImportReport) -> None:
        self.session = session
        self.conn = session.connection()
        self.source = source
        self.strict = strict
        self.report = report
        self.agents: dict[str, int] = {}
        self.teams: dict[str, int] = {}
        mark = "?" if self.conn.dialect.paramstyle == "qmark" else "%s"
        self.turn_sql = (
            "INSERT INTO turns (interaction_id, seq, speaker, text, start_s, end_s) "
            f"VALUES ({', '.join([mark] * 6)})"
        )

    def _team_id(self, name: str) -> int:
        if name not in self.teams:
            found = self.session.scalar(select(Team.id).where(Team.name == name))
            if found is None:
                found = self.conn.execute(
                    Team.__table__.insert().returning(Team.__table__.c.id), {"name": name}
                ).scalar_one()
                self.report.teams_created += 1
            self.teams[name] = found
        return self.teams[name]

    def _resolve_agents(self, batch: list[_Record], file: str) -> list[ImportProblem]:
        wanted = {r.agent_id for r in batch} - self.agents.keys()
        if wanted:
            rows = self.session.execute(
                select(Agent.external_id, Agent.id).where(Agent.external_id.in_(wanted))
            )
            self.agents.update({ext: aid for ext, aid in rows})
        problems: list[ImportProblem] = []
        for rec in batch:
            if rec.agent_id in self.agents:
                continue
            if self.strict:
                problems.append(
                    ImportProblem(
                        file,
                        rec.line,
                        "agent.id",
                        "IMP040",
                        f"unknown agent {rec.agent_id!r} (--strict refuses to create agents)",
                    )
                )
                continue
            team_id = self._team_id(rec.team) if rec.team else None
            self.agents[rec.agent_id] = self.conn.execute(
                Agent.__table__.insert().returning(Agent.__table__.c.id),
                {
                    "external_id": rec.agent_id,
                    "name": rec.agent_name,
                    "team_id": team_id,
                    "locale": rec.language,
                    "is_active": True,
                },
            ).scalar_one()
            self.report.agents_created += 1
        return problems

    def write(self, batch: list[_Record], file: str) -> list[ImportProblem]:
        problems = self._resolve_agents(batch, file)
        if problems:
            return problems
        ids = [r.external_id for r in batch]
        existing = set(
            self.session.scalars(
                select(Interaction.external_id).where(
                    Interaction.source == self.source, Interaction.external_id.in_(ids)
                )
            )
        )
        fresh: list[_Record] = []
        seen: set[str] = set()
        for rec in batch:
            if rec.external_id in existing or rec.external_id in seen:
                self.report.duplicates.append(rec.external_id)
                continue
            seen.add(rec.external_id)
            fresh.append(rec)
        if not fresh:
            return []
        table = Interaction.__table__
        now = utcnow()
        rows = [
            {
                "source": self.source,
                "external_id": r.external_id,
                "channel": r.channel,
                "language": r.language,
                "started_at": r.started_at,
                "duration_seconds": r.duration,
                "agent_id": self.agents[r.agent_id],
                "customer_ref": r.customer_ref,
                "recording": r.recording,
                "metadata": r.meta,
                "turn_count": len(r.turns),
                "imported_at": now,
            }
            for r in fresh
        ]
        result = self.conn.execute(
            table.insert().returning(table.c.id, table.c.external_id),
            rows,
        )
        id_of = {ext: iid for iid, ext in result}
        self.report.interaction_ids.extend(id_of.values())
        # Turns are most of the rows: hand positional tuples straight to the
        # driver's executemany (SQLAlchemy's per-row parameter processing
        # costs more than the insert itself here).
        turn_rows = [
            (id_of[r.external_id], seq, speaker, text, start, end)
            for r in fresh
            for seq, (speaker, text, start, end) in enumerate(r.turns)
        ]
        self.conn.exec_driver_sql(self.turn_sql, turn_rows)
        self.report.imported += len(fresh)
        self.report.turns += len(turn_rows)
        return []


def sniff_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".json":
        return "json"
    if suffix in (".csv", ".tsv"):
        return "csv"
    raise _RecordError(
        [
            ImportProblem(
                str(path),
                None,
                None,
                "IMP005",
                "unknown file type: use .jsonl, .json or .csv (or --format)",
            )
        ]
    )


def import_stream(
    session: Session,
    stream: IO[bytes],
    *,
    name: str,
    fmt: str,
    source: str = "import",
    encoding: str = "utf-8-sig",
    strict: bool = False,
    batch_size: int = BATCH_SIZE,
    actor: str = "system",
    actor_id: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import one file-like object inside a savepoint; raise ``ImportFailed`` and write nothing on any problem."""
    readers = {"jsonl": _iter_jsonl, "json": _iter_json, "csv": _iter_csv}
    if fmt not in readers:
        raise ImportFailed([ImportProblem(name, None, None, "IMP005", f"unknown format {fmt!r}")])
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ImportFailed(
            [ImportProblem(name, None, None, "IMP006", f"unknown encoding {encoding!r}")]
        ) from None
    report = ImportReport(file=name)
    problems: list[ImportProblem] = []
    savepoint = session.begin_nested()
    try:
        writer = _Writer(session, source, strict, report)
        batch: list[_Record] = []
        count = 0
        try:
            for line, obj in readers[fmt](stream, encoding, name):
                count += 1
                try:
                    rec = validate_record(obj, name, line)
                except _RecordError as err:
                    problems.extend(err.problems)
                    if len(problems) >= MAX_PROBLEMS:
                        break
                    continue
                if problems:
                    continue  # keep validating, stop writing
                batch.append(rec)
                if len(batch) >= batch_size:
                    problems.extend(writer.write(batch, name))
                    batch = []
                    if on_progress:
                        on_progress(count)
        except _RecordError as err:
            problems.extend(err.problems)
        if count == 0 and not problems:
            problems.append(ImportProblem(name, None, None, "IMP010", "no interactions in file"))
        if batch and not problems:
            problems.extend(writer.write(batch, name))
        if problems:
            raise ImportFailed(problems[:MAX_PROBLEMS])
        session.add(
            AuditEvent(
                actor=actor,
                actor_id=actor_id,
                action="import",
                entity_type="file",
                entity_id=name[-100:],
                after={
                    "imported": report.imported,
                    "turns": report.turns,
                    "duplicates": len(report.duplicates),
                    "source": source,
                },
            )
        )
        session.flush()
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    if on_progress:
        on_progress(count)
    return report


def import_file(
    session: Session, path: Path | str, *, fmt: str | None = None, **kwargs: Any
) -> ImportReport:
    """Import one file by path; the format comes from the extension unless ``fmt`` is given."""
    path = Path(path)
    try:
        fmt = fmt or sniff_format(path)
    except _RecordError as err:
        raise ImportFailed(err.problems) from None
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise ImportFailed(
            [ImportProblem(str(path), None, None, "IMP007", f"cannot open: {exc.strerror}")]
        ) from None
    with stream:
        return import_stream(session, stream, name=str(path), fmt=fmt, **kwargs)
