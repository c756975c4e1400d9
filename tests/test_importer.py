from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qa.importer import ImportFailed, ImportProblem, detect_language, import_file, import_stream
from qa.models import Agent, AuditEvent, Interaction, Team, Turn
from tests import factories


def record(ext: str = "X1", **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "external_id": ext,
        "channel": "call",
        "language": "en",
        "started_at": "2026-10-01T09:30:00+03:00",
        "agent": {"id": "AG-1", "name": "Sam Smith", "team": "Blue"},
        "customer_id": "C-9",
        "turns": [
            {"speaker": "agent", "text": "Hello, Sam speaking.", "start": 0, "end": 2.5},
            {"speaker": "customer", "text": "Hi, my bill is wrong.", "start": 3, "end": 5},
            {"speaker": "agent", "text": "Let me check.", "start": 6, "end": 7.5},
        ],
    }
    base.update(over)
    return base


def jsonl(*records: Any) -> bytes:
    return b"".join(
        (r if isinstance(r, bytes) else json.dumps(r, ensure_ascii=False).encode()) + b"\n"
        for r in records
    )


def run(session: Session, data: bytes, fmt: str = "jsonl", **kw: Any):  # type: ignore[no-untyped-def]
    return import_stream(session, io.BytesIO(data), name="in." + fmt, fmt=fmt, **kw)


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def refused(session: Session, data: bytes, fmt: str = "jsonl", **kw: Any) -> list[ImportProblem]:
    before = (count(session, Interaction), count(session, Turn), count(session, Agent))
    with pytest.raises(ImportFailed) as exc:
        run(session, data, fmt, **kw)
    assert (count(session, Interaction), count(session, Turn), count(session, Agent)) == before
    return exc.value.problems


def test_jsonl_import_stores_everything(session: Session) -> None:
    report = run(session, jsonl(record("X1"), record("X2", channel="chat")))
    assert (report.imported, report.turns, report.agents_created, report.teams_created) == (
        2,
        6,
        1,
        1,
    )
    inter = session.scalar(select(Interaction).where(Interaction.external_id == "X1"))
    assert inter is not None
    assert inter.started_at == datetime(2026, 10, 1, 6, 30, tzinfo=UTC)
    assert inter.duration_seconds == pytest.approx(7.5)
    assert inter.customer_ref == "C-9"
    assert [t.speaker for t in inter.turns] == ["agent", "customer", "agent"]
    assert inter.turns[1].text == "Hi, my bill is wrong."
    assert inter.agent.team is not None and inter.agent.team.name == "Blue"
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "import"))
    assert event is not None and event.after == {
        "imported": 2,
        "turns": 6,
        "duplicates": 0,
        "source": "import",
    }


def test_reimport_reports_duplicates_and_changes_nothing(session: Session) -> None:
    data = jsonl(record("X1"), record("X2"))
    run(session, data)
    turns = count(session, Turn)
    report = run(session, data)
    assert report.imported == 0
    assert report.duplicates == ["X1", "X2"]
    assert count(session, Turn) == turns
    # Same external id from another source is a different interaction.
    assert run(session, data, source="other").imported == 2


def test_duplicate_within_one_file_is_skipped(session: Session) -> None:
    report = run(session, jsonl(record("X1"), record("X1")))
    assert report.imported == 1 and report.duplicates == ["X1"]


def test_arabic_text_is_stored_as_given_and_language_detected(session: Session) -> None:
    text = "السَّلامُ عليكم ـــ معك أحمد"
    rec = record("AR1", turns=[{"speaker": "agent", "text": text}])
    del rec["language"]
    run(session, jsonl(rec))
    inter = session.scalar(select(Interaction).where(Interaction.external_id == "AR1"))
    assert inter is not None and inter.language == "ar" and inter.turns[0].text == text
    assert inter.duration_seconds is None


def test_detect_language() -> None:
    assert detect_language(["Hello there"]) == "en"
    assert detect_language(["مرحبا بك", "ok"]) == "ar"


def test_unknown_agents_refused_with_strict(session: Session) -> None:
    problems = refused(session, jsonl(record()), strict=True)
    assert problems[0].code == "IMP040" and problems[0].field == "agent.id"
    factories.agent(session, external_id="AG-1")
    assert run(session, jsonl(record()), strict=True).imported == 1


def test_error_late_in_file_rolls_back_everything(session: Session) -> None:
    good = [record(f"G{i}") for i in range(1200)]  # more than one batch is written first
    bad = record("BAD", channel="fax")
    problems = refused(session, jsonl(*good, bad))
    assert len(problems) == 1
    p = problems[0]
    assert (p.file, p.line, p.field, p.code) == ("in.jsonl", 1201, "channel", "IMP026")
    assert str(p) == "in.jsonl:1201: IMP026 channel: expected call, chat or email; got 'fax'"
    assert count(session, Team) == 0


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        (b"{not json", None, "IMP001"),
        (json.dumps([1, 2]).encode(), None, "IMP013"),
        (json.dumps(record(external_id=None)).encode(), "external_id", "IMP020"),
        (json.dumps(record(external_id=["x"])).encode(), "external_id", "IMP023"),
        (json.dumps(record(language="fr")).encode(), "language", "IMP027"),
        (json.dumps(record(started_at="yesterday")).encode(), "started_at", "IMP028"),
        (json.dumps(record(started_at="2026-10-01T09:30:00")).encode(), "started_at", "IMP029"),
        (json.dumps(record(agent="AG-1")).encode(), "agent", "IMP020"),
        (json.dumps(record(agent={"id": "A"})).encode(), "agent.name", "IMP020"),
        (json.dumps(record(turns=[])).encode(), "turns", "IMP030"),
        (json.dumps(record(turns="hi")).encode(), "turns", "IMP020"),
        (
            json.dumps(record(turns=[{"speaker": "bot", "text": "x"}])).encode(),
            "turns[0].speaker",
            "IMP031",
        ),
        (
            json.dumps(record(turns=[{"speaker": "agent", "text": 5}])).encode(),
            "turns[0].text",
            "IMP023",
        ),
        (
            json.dumps(record(turns=[{"speaker": "agent", "text": "a\u0000b"}])).encode(),
            "turns[0].text",
            "IMP024",
        ),
        (
            json.dumps(record(turns=[{"speaker": "agent", "text": "é" * 600_000}])).encode(),
            "turns[0].text",
            "IMP032",
        ),
        (
            json.dumps(
                record(turns=[{"speaker": "agent", "text": "x", "start": 5, "end": 2}])
            ).encode(),
            "turns[0].end",
            "IMP033",
        ),
        (
            json.dumps(record(turns=[{"speaker": "agent", "text": "x", "start": "soon"}])).encode(),
            "turns[0].start",
            "IMP021",
        ),
        (
            json.dumps(record(turns=[{"speaker": "agent", "text": "x", "start": -1}])).encode(),
            "turns[0].start",
            "IMP022",
        ),
        (json.dumps(record(mood="happy")).encode(), "mood", "IMP012"),
        (json.dumps(record(metadata=[1])).encode(), "metadata", "IMP023"),
        (b'{"external_id": "\xff\xfe"}', None, "IMP002"),
    ],
)
def test_bad_jsonl_names_line_field_and_code(
    session: Session, payload: bytes, field: str | None, code: str
) -> None:
    problems = refused(session, jsonl(record("OK1"), payload))
    assert any(p.line == 2 and p.field == field and p.code == code for p in problems), problems
    assert all(p.file == "in.jsonl" for p in problems)


def test_lone_surrogates_and_deep_nesting_are_refused_not_crashes(session: Session) -> None:
    """JSON's \\ud800 escape is no character: no database stores it, and before, the
    insert died with a UnicodeEncodeError traceback. A well-formed escaped pair (an
    emoji from an ensure_ascii exporter) is fine."""
    lone = json.dumps(record(turns=[{"speaker": "agent", "text": "hi \ud800 there"}]))
    deep = b"[" * 50_000 + b"]" * 50_000
    problems = refused(session, jsonl(record("OK1"), lone.encode(), deep))
    assert [(p.line, p.code) for p in problems] == [(2, "IMP001"), (3, "IMP001")]
    assert "unpaired surrogate in turns[0].text (\\ud800)" in problems[0].message
    assert "nested too deeply" in problems[1].message
    pair = json.dumps(record(turns=[{"speaker": "agent", "text": "thanks \U0001f64f"}]))
    assert "\\ud83d\\ude4f" in pair
    report = import_stream(session, io.BytesIO(pair.encode() + b"\n"), name="in.jsonl", fmt="jsonl")
    assert report.imported == 1


def test_all_problems_of_a_record_are_reported(session: Session) -> None:
    problems = refused(session, jsonl(record(channel="x", language="de", turns=[])))
    assert {p.code for p in problems} == {"IMP026", "IMP027", "IMP030"}


def test_empty_file_is_refused(session: Session) -> None:
    assert refused(session, b"\n\n")[0].code == "IMP010"


CSV_HEADER = (
    "external_id,channel,language,started_at,agent_id,agent_name,team,speaker,text,start,end\n"
)


def test_csv_groups_rows_into_interactions(session: Session) -> None:
    rows = (
        CSV_HEADER
        + 'C1,call,en,2026-10-01T09:30:00+00:00,A1,Ann,Red,agent,"Hello, Ann here",0,2\n'
        + "C1,call,en,2026-10-01T09:30:00+00:00,A1,Ann,Red,customer,Hi,2.5,3\n"
        + 'C2,chat,ar,2026-10-02T10:00:00+03:00,A2,علي,Red,agent,"أهلاً\nوسهلاً",,\n'
    )
    report = run(session, rows.encode("utf-8"), "csv")
    assert (report.imported, report.turns) == (2, 3)
    c2 = session.scalar(select(Interaction).where(Interaction.external_id == "C2"))
    assert c2 is not None and c2.turns[0].text == "أهلاً\nوسهلاً" and c2.turns[0].start_s is None


def test_csv_with_bom_and_cp1256(session: Session) -> None:
    rows = CSV_HEADER + "C1,call,ar,2026-10-01T09:30:00+03:00,A1,سارة,,agent,السلام عليكم,0,1\n"
    assert run(session, "\ufeff".encode() + rows.encode("utf-8"), "csv").imported == 1
    report = run(session, rows.replace("C1", "C2").encode("cp1256"), "csv", encoding="cp1256")
    assert report.imported == 1
    c2 = session.scalar(select(Interaction).where(Interaction.external_id == "C2"))
    assert c2 is not None and c2.turns[0].text == "السلام عليكم"
    # cp1256 bytes read as UTF-8: a clear error with a hint, nothing written.
    problems = refused(session, rows.replace("C1", "C3").encode("cp1256"), "csv")
    assert problems[0].code == "IMP002" and problems[0].line == 2
    assert "cp1256" in problems[0].message


@pytest.mark.parametrize(
    ("body", "line", "field", "code"),
    [
        (
            "C1,call,en,2026-10-01T09:30:00+00:00,A1,Ann,,robot,hi,,\n",
            2,
            "turns[0].speaker",
            "IMP031",
        ),
        (
            "C1,call,en,2026-10-01T09:30:00+00:00,A1,Ann,,agent,hi,5,1\n",
            2,
            "turns[0].end",
            "IMP033",
        ),
        ("C1,call,en,2026-10-01T09:30:00+00:00,A1,Ann,,agent,hi\n", 2, None, "IMP001"),
        (
            "C1,call,en,2026-10-01T09:30:00+00:00,A1,Ann,,agent,hi,,\n"
            "C1,chat,en,2026-10-01T09:30:00+00:00,A1,Ann,,agent,hi,,\n",
            3,
            None,
            "IMP001",
        ),
        (
            "C1,call,en,2026-10-01T09:30:00+00:00,A1,Ann,,agent,hi,,\n"
            "C2,call,en,2026-10-01T09:30:00+00:00,A1,Ann,,agent,hi,,\n"
            "C1,call,en,2026-10-01T09:30:00+00:00,A1,Ann,,agent,hi,,\n",
            4,
            None,
            "IMP001",
        ),
    ],
)
def test_bad_csv_names_row(
    session: Session, body: str, line: int, field: str | None, code: str
) -> None:
    problems = refused(session, (CSV_HEADER + body).encode(), "csv")
    assert any(p.line == line and p.field == field and p.code == code for p in problems), problems


def test_csv_header_problems(session: Session) -> None:
    problems = refused(session, b"external_id,channel,colour\n", "csv")
    fields = {(p.field, p.code) for p in problems}
    assert ("started_at", "IMP011") in fields and ("colour", "IMP012") in fields


def test_json_array_and_single_object(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "batch.json"
    path.write_text(json.dumps([record("J1"), record("J2")]), encoding="utf-8")
    assert import_file(session, path).imported == 2
    single = tmp_path / "one.json"
    single.write_bytes(b"\xef\xbb\xbf" + json.dumps(record("J3")).encode())
    assert import_file(session, single).imported == 1
    broken = tmp_path / "broken.json"
    broken.write_text('[{"external_id": "J4",', encoding="utf-8")
    with pytest.raises(ImportFailed) as exc:
        import_file(session, broken)
    assert exc.value.problems[0].code == "IMP001"


def test_unknown_extension_and_missing_file(session: Session, tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(ImportFailed) as exc:
        import_file(session, tmp_path / "x.txt")
    assert exc.value.problems[0].code == "IMP005"
    with pytest.raises(ImportFailed) as exc:
        import_file(session, tmp_path / "nope.jsonl")
    assert exc.value.problems[0].code == "IMP007"


def test_problem_list_is_capped(session: Session) -> None:
    problems = refused(session, jsonl(*[record(f"B{i}", channel="fax") for i in range(300)]))
    assert len(problems) == 100


def test_schema_file_accepts_the_examples(session: Session) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path("docs") / "interaction.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(record())
    assert list(validator.iter_errors(record(channel="fax")))
    example = Path("docs/examples/interactions.jsonl")
    for line in example.read_text(encoding="utf-8").splitlines():
        validator.validate(json.loads(line))
    assert import_file(session, example).imported >= 2
