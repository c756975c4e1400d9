"""The ``qa flag`` JSON-lines contract, through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from qa.nlp.flagcli import FLAG_KEYS, flag


def run(data: bytes | str, *args: str) -> tuple[int, list[dict], str]:
    if isinstance(data, str):
        data = data.encode("utf-8")
    result = CliRunner().invoke(flag, list(args), input=data)
    lines = result.stdout.splitlines()
    return result.exit_code, [json.loads(line) for line in lines], result.stdout


def test_one_line_out_per_line_in_in_order() -> None:
    inputs = [
        json.dumps({"text": "Hello, I'm so sorry about that"}),
        json.dumps({"text": "وآسفين على التأخير، بس النظام واقف"}, ensure_ascii=False),
        "{not json",
        "",
        json.dumps({"lang": "en"}),
        json.dumps({"text": 42}),
        json.dumps({"text": "hi", "lang": "fr"}),
        json.dumps({"text": "hi", "speaker": "bot"}),
        json.dumps({"text": "This is unacceptable", "speaker": "customer"}),
        json.dumps({"text": "Hello", "speaker": "system"}),
        json.dumps(["text"]),
        "   ",
        json.dumps({"text": "Hello", "lang": None}),
    ]
    code, out, raw = run("\n".join(inputs) + "\n")
    assert code == 0
    assert len(out) == len(inputs)

    assert out[0]["lang"] == "en"
    assert [f["behavior"] for f in out[0]["flags"]] == ["greeting", "apology"]
    for f in out[0]["flags"]:
        assert set(f) == set(FLAG_KEYS)
        assert json.loads(inputs[0])["text"][f["start"] : f["end"]] == f["text"]

    assert out[1]["lang"] == "ar"  # detected from the script
    text1 = json.loads(inputs[1])["text"]
    got = {(f["behavior"], f["text"]) for f in out[1]["flags"]}
    assert ("apology", "وآسفين على التأخير") in got
    assert ("negative_language", "بس النظام") in got  # "بس" as "but", not "just"
    for f in out[1]["flags"]:
        assert text1[f["start"] : f["end"]] == f["text"]
    but = next(f for f in out[1]["flags"] if f["behavior"] == "negative_language")
    assert but["suggestion"] == "كل ما أقوله هو أن"
    assert "وآسفين" in raw  # ensure_ascii=False

    assert "line 3: invalid JSON" in out[2]["error"]
    assert "line 4: blank line" in out[3]["error"]
    assert "line 5: missing field 'text'" in out[4]["error"]
    assert "line 6: field 'text' must be a string" in out[5]["error"]
    assert "line 7: unknown lang 'fr'" in out[6]["error"]
    assert "line 8: unknown speaker 'bot'" in out[7]["error"]
    assert [f["behavior"] for f in out[8]["flags"]] == ["customer_frustration"]
    assert out[9] == {"lang": "en", "flags": []}
    assert "expected a JSON object" in out[10]["error"]
    assert "line 12: blank line" in out[11]["error"]
    assert out[12]["flags"][0]["behavior"] == "greeting"
    assert all(set(o) == {"error"} for o in out[2:8])


def test_invalid_utf8_is_a_line_error() -> None:
    data = b'{"text": "hi"}\n\xff\xfe{}\n{"text": "thanks"}'
    code, out, _ = run(data)
    assert code == 0
    assert len(out) == 3
    assert "not valid UTF-8" in out[1]["error"]
    assert out[2]["flags"][0]["behavior"] == "gratitude"


def test_hostile_lines_are_line_errors_not_crashes() -> None:
    """Each of these ended the command with a traceback and lost the lines after it."""
    lines = [
        '{"text": "sorry \\ud800 I understand"}',  # a lone surrogate escape
        json.dumps({"text": "x" * 1_000_001}),
        "[" * 100_000 + "]" * 100_000,
        '{"text": "I understand"}',
    ]
    code, out, _ = run("\n".join(lines) + "\n")
    assert code == 0 and len(out) == 4
    assert out[0]["error"] == (
        "line 1: field 'text' has an unpaired surrogate (\\ud800) at character 6; "
        "it is not Unicode text"
    )
    assert (
        out[1]["error"] == "line 2: field 'text' has 1,000,001 characters; the limit is 1,000,000"
    )
    assert out[2]["error"] == "line 3: invalid JSON: nested too deeply"
    assert out[3]["flags"][0]["behavior"] == "empathy"


def test_a_bom_on_the_first_line_and_a_null_speaker() -> None:
    code, out, _ = run('\ufeff{"text": "sorry", "speaker": null}\n{"text": "thanks"}\n')
    assert code == 0
    assert [o["flags"][0]["behavior"] for o in out] == ["apology", "gratitude"]


def test_crlf_and_file_argument(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"text": "Thank you"}\r\n{"text": "bye"}\r\n')
    result = CliRunner().invoke(flag, [str(path)])
    assert result.exit_code == 0
    out = [json.loads(x) for x in result.stdout.splitlines()]
    assert [o["flags"][0]["behavior"] for o in out] == ["gratitude", "closing"]


def test_empty_input_gives_no_output() -> None:
    code, out, _ = run(b"")
    assert (code, out) == (0, [])


def test_broken_lexicon_dir_stops_with_location(tmp_path: Path) -> None:
    (tmp_path / "en.yaml").write_text(
        "lang: en\nversion: x\nrules:\n  - id: en.rude.x\n    behavior: rude\n"
        "    polarity: avoid\n    phrases: [meh]\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(flag, ["--lexicon-dir", str(tmp_path)], input=b'{"text": "hi"}\n')
    assert result.exit_code != 0
    assert "en.yaml:4" in result.output and "en.rude.x" in result.output
    assert "suggestion" in result.output


def test_lexicon_dir_extends_matching(tmp_path: Path) -> None:
    (tmp_path / "en.yaml").write_text(
        "lang: en\nversion: acme-1\nrules:\n  - id: en.greeting.acme\n    behavior: greeting\n"
        "    polarity: use\n    phrases: [welcome to acme land]\n",
        encoding="utf-8",
    )
    code, out, _ = run('{"text": "Welcome to Acme Land!"}\n', "--lexicon-dir", str(tmp_path))
    assert code == 0
    assert {f["rule"] for f in out[0]["flags"]} >= {"en.greeting.acme"}


def test_lexicon_dir_from_app_settings_in_context(tmp_path: Path) -> None:
    from qa.config import Settings

    (tmp_path / "en.yaml").write_text(
        "lang: en\nversion: s1\nrules:\n  - id: en.greeting.settings\n    behavior: greeting\n"
        "    polarity: use\n    phrases: [howdy partner]\n",
        encoding="utf-8",
    )
    settings = Settings(lexicon_dir=tmp_path)
    result = CliRunner().invoke(flag, [], input=b'{"text": "Howdy partner"}\n', obj=settings)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["flags"][0]["rule"] == "en.greeting.settings"


def test_the_documented_example_is_real_output() -> None:
    """docs/auto-qa.md shows one input line and its output line; they must agree."""
    import re

    doc = (Path(__file__).resolve().parents[2] / "docs" / "auto-qa.md").read_text("utf-8")
    section = doc[doc.index("## `qa flag`") :]
    line_in = re.search(r"For the input line\s+`(\{.*?\})`", section, re.S)
    line_out = re.search(r"```json\n(.*?)\n```", section, re.S)
    assert line_in and line_out
    code, out, _ = run(line_in.group(1) + "\n")
    assert code == 0 and out == [json.loads(line_out.group(1))]
