"""Lexicon files: shipped content, overrides, versions and error reporting."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.nlp.analyzer import Analyzer, get_analyzer
from qa.nlp.lexicon import SHIPPED_DIR, LexiconError, load_lexicon, parse_lexicon_text
from qa.nlp.taxonomy import AVOID_BEHAVIOURS, USE_BEHAVIOURS


def shipped_version(lang: str) -> str:
    """The ``version:`` written in the shipped file (the label must be exactly it)."""
    import yaml

    return str(yaml.safe_load((SHIPPED_DIR / f"{lang}.yaml").read_text("utf-8"))["version"])


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_shipped_lexicons_are_rich_and_complete(lang: str) -> None:
    lex = load_lexicon(lang)
    assert len(lex.rules) >= 15
    behaviours = {r.behavior for r in lex.rules}
    assert behaviours >= USE_BEHAVIOURS | AVOID_BEHAVIOURS
    assert {"customer_frustration", "customer_escalation_request"} <= behaviours
    assert sum(len(r.phrases) for r in lex.rules) >= 300
    for r in lex.rules:
        assert r.id.startswith(f"{lang}.")
        if r.polarity == "avoid":
            assert r.suggestion and r.coaching_tip
    assert lex.version.startswith(f"{lang}:") and len(lex.version) == len(lang) + 13
    assert lex.label == shipped_version(lang)


def test_arabic_lexicon_is_grounded_in_the_seeds() -> None:
    lex = load_lexicon("ar")
    phrases = {p for r in lex.rules for p in r.phrases}
    for seed in (
        "نود أن نعرب لكم عن خالص أسفنا لمواجهتكم لهذه المشكلة",
        "بناء على خبرتنا في هذا المجال",
        "الخيار السليم",
        "كل ما أقوله هو أن",
        "أنا أقوم بواجبي فحسب",
        "بالطبع",
        "ولكن",
    ):
        assert seed in phrases, seed
    tips = " ".join(r.coaching_tip or "" for r in lex.rules)
    for advice in ("استمع", "لا تجادل", "تعاطفك", "بالطبع", "يعرف الإجابة"):
        assert advice in tips, advice


def _write(d: Path, lang: str, body: str) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    p = d / f"{lang}.yaml"
    p.write_text(body, encoding="utf-8")
    return p


EXTEND = """\
lang: en
version: acme-1
disable: [en.negative_language.but]
rules:
  - id: en.greeting.acme
    behavior: greeting
    polarity: use
    phrases: [welcome to acme land]
  - id: en.rude.insult
    behavior: rude
    polarity: avoid
    severity: high
    phrases: [buzz off]
    suggestion: "How can I help?"
    coaching_tip: "Stay courteous."
"""


def test_extend_override(tmp_path: Path) -> None:
    _write(tmp_path, "en", EXTEND)
    base = load_lexicon("en")
    lex = load_lexicon("en", tmp_path)
    ids = [r.id for r in lex.rules]
    assert "en.negative_language.but" not in ids
    assert ids[-1] == "en.greeting.acme"  # new rules are appended
    kept = [r.id for r in base.rules if r.id != "en.negative_language.but"]
    assert ids[: len(kept)] == kept  # a replaced rule keeps its place
    assert lex.rule("en.rude.insult").phrases == ["buzz off"]  # replaced whole
    assert lex.label == f"{shipped_version('en')}+acme-1"
    assert lex.version != base.version
    assert lex.sources[-1].endswith("en.yaml")

    analyzer = get_analyzer("en", tmp_path)
    got = {f.rule for f in analyzer.flag_text("Welcome to Acme Land, but buzz off")}
    assert got == {"en.greeting.acme", "en.rude.insult"}
    assert get_analyzer("en", tmp_path) is analyzer  # cached per version
    assert get_analyzer("en") is not analyzer


PATTERN_ATTRS = """\
lang: en
version: attrs-1
rules:
  - id: en.ownership.reference
    behavior: ownership
    polarity: use
    patterns:
      - [{NORM: reference}, {LIKE_NUM: true}]
      - [{NORM: ticket}, {IS_DIGIT: true}]
      - [{NORM: manager}, {IS_TITLE: true}]
"""


SAME_ANCHOR = """\
lang: en
version: anchors-1
mode: replace
rules:
  - id: en.greeting.short
    behavior: greeting
    polarity: use
    patterns:
      - [{NORM: zebra}, {IS_TITLE: true}]
  - id: en.self_introduction.long
    behavior: self_introduction
    polarity: use
    patterns:
      - [{NORM: zebra}, {NORM: crossing}, {IS_TITLE: true}]
"""


NOT_WITHIN = """\
lang: ar
version: nw-1
mode: replace
rules:
  - id: ar.hold_etiquette.moment
    behavior: hold_etiquette
    polarity: use
    phrases: [لحظة]
    not_within: [في هذه اللحظة, حتى اللحظة]
  - id: ar.apology.sorry
    behavior: apology
    polarity: use
    phrases: [آسف]
"""


def test_not_within_drops_a_rules_matches_inside_its_phrases(tmp_path: Path) -> None:
    """A rule's not_within phrases flag nothing themselves; a match of that rule
    inside one does not count, other rules' matches there still do, and they are
    matched like phrases (clitics, tashkeel)."""
    _write(tmp_path, "ar", NOT_WITHIN)
    analyzer = get_analyzer("ar", tmp_path)
    text = "لحظة من فضلك. وفي هذهِ اللحظة آسف، حتى اللحظة"
    got = [(f.rule, f.text) for f in analyzer.flag_text(text)]
    assert got == [("ar.hold_etiquette.moment", "لحظة"), ("ar.apology.sorry", "آسف")]
    assert load_lexicon("ar", tmp_path).rule("ar.hold_etiquette.moment").not_within == [
        "في هذه اللحظة",
        "حتى اللحظة",
    ]


def test_pseudo_negations_come_from_the_lexicon(tmp_path: Path) -> None:
    """An override's negation block (pseudo list included) replaces the shipped one."""
    _write(
        tmp_path,
        "en",
        "lang: en\nversion: p-1\nnegation:\n  cues: [not]\n  pseudo: [not least]\n",
    )
    lex = load_lexicon("en", tmp_path)
    assert lex.negation.pseudo == ["not least"]
    analyzer = get_analyzer("en", tmp_path)
    assert [f.text for f in analyzer.flag_text("not least sorry")] == ["sorry"]
    assert analyzer.flag_text("not sorry") == []
    # the shipped list is not in force any more
    assert analyzer.flag_text("no doubt I am sorry")[0].text == "I am sorry"  # "no" is no cue here
    assert get_analyzer("en").flag_text("not only sorry")[0].text == "sorry"


def test_not_within_phrases_are_checked_like_phrases(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "en",
        NOT_WITHIN.replace("lang: ar", "lang: en")
        .replace("ar.", "en.")
        .replace("حتى اللحظة", "' '"),
    )
    with pytest.raises(LexiconError, match="not_within"):
        load_lexicon("en", tmp_path)


def test_token_patterns_anchored_on_the_same_word_are_all_tried(tmp_path: Path) -> None:
    """The first anchor found at a token used to stand for every anchor there: the
    longer pattern was never tried."""
    _write(tmp_path, "en", SAME_ANCHOR)
    analyzer = get_analyzer("en", tmp_path)
    got = {(f.rule, f.text) for f in analyzer.flag_text("zebra Crossing Sam, zebra Max")}
    assert got == {
        ("en.greeting.short", "zebra Crossing"),
        ("en.self_introduction.long", "zebra Crossing Sam"),
        ("en.greeting.short", "zebra Max"),
    }


def test_override_patterns_may_test_any_pattern_attribute(tmp_path: Path) -> None:
    """Only the word attributes the lexicon's patterns test are computed for new
    words; an override that tests others gets them computed too."""
    _write(tmp_path, "en", PATTERN_ATTRS)
    analyzer = get_analyzer("en", tmp_path)
    text = "your reference twelve, ticket 4821 and manager Omar; reference abc, manager omar"
    got = [f.text for f in analyzer.flag_text(text) if f.rule == "en.ownership.reference"]
    assert got == ["reference twelve", "ticket 4821", "manager Omar"]
    # the shipped lexicon's analyzer tests none of them
    assert {f.rule for f in get_analyzer("en").flag_text(text)}.isdisjoint(
        {"en.ownership.reference"}
    )


def test_replace_override(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "ar",
        "lang: ar\nversion: r1\nmode: replace\nnegation: {cues: [لا]}\nrules:\n"
        "  - id: ar.greeting.only\n    behavior: greeting\n    polarity: use\n    phrases: [يا هلا]\n",
    )
    lex = load_lexicon("ar", tmp_path)
    assert [r.id for r in lex.rules] == ["ar.greeting.only"]
    assert lex.label == "r1"
    assert load_lexicon("en", tmp_path).label == shipped_version("en")  # other language untouched


def test_version_changes_with_content_and_only_then(tmp_path: Path) -> None:
    _write(tmp_path / "a", "en", EXTEND)
    _write(tmp_path / "b", "en", EXTEND)
    _write(tmp_path / "c", "en", EXTEND.replace("buzz off", "buzz off now"))
    va = load_lexicon("en", tmp_path / "a").version
    assert load_lexicon("en", tmp_path / "b").version == va
    assert load_lexicon("en", tmp_path / "c").version != va


def test_analyzer_reloads_when_override_file_changes(tmp_path: Path) -> None:
    p = _write(tmp_path, "en", EXTEND)
    first = get_analyzer("en", tmp_path)
    p.write_text(EXTEND.replace("buzz off", "go fly a kite"), encoding="utf-8")
    second = get_analyzer("en", tmp_path)
    assert second is not first and second.version != first.version
    assert [f.rule for f in second.flag_text("go fly a kite")] == ["en.rude.insult"]


def test_yes_and_no_stay_strings() -> None:
    lex, _ = parse_lexicon_text(
        "lang: en\nversion: 1\nnegation: {cues: [no, not]}\nrules:\n"
        "  - id: en.uncertainty.x\n    behavior: uncertainty\n    polarity: avoid\n"
        "    phrases: [no, yes, on, off]\n    suggestion: s\n    coaching_tip: t\n",
        "inline.yaml",
    )
    assert lex.negation and lex.negation.cues == ["no", "not"]
    assert lex.rules[0].phrases == ["no", "yes", "on", "off"]
    assert lex.version == "1"


BAD = [
    ("lang: en\nversion: 1\nrules: [\n", "lexicon.yaml_syntax", 4, None),
    (
        "lang: en\nversion: 1\nrules:\n  - id: en.rude.x\n    behavior: rude\n"
        "    polarity: avoid\n    phrases: [meh]\n    coaching_tip: t\n",
        "lexicon.invalid",
        4,
        "en.rude.x",
    ),
    (
        "lang: en\nversion: 1\nrules:\n  - id: en.greeting.x\n    behavior: greeting\n"
        "    polarity: use\n    phrases: [hi, '  ']\n",
        "lexicon.invalid",
        7,
        "en.greeting.x",
    ),
    (
        "lang: en\nversion: 1\nrules:\n  - id: en.greeting.x\n    behavior: greeting\n"
        "    polarity: avoid\n    phrases: [hi]\n    suggestion: s\n    coaching_tip: t\n",
        "lexicon.invalid",
        4,
        "en.greeting.x",
    ),
    (
        "lang: en\nversion: 1\nrules:\n  - id: en.customer.x\n    behavior: customer_mood\n"
        "    polarity: use\n    phrases: [hi]\n",
        "lexicon.invalid",
        4,
        "en.customer.x",
    ),
    (
        "lang: en\nversion: 1\nrules:\n  - id: en.greeting.x\n    behavior: greeting\n"
        "    polarity: use\n    patterns: [[{LOWER: hi}]]\n",
        "lexicon.invalid",
        7,
        "en.greeting.x",
    ),
    (
        "lang: en\nversion: 1\nrules:\n  - {id: en.greeting.x, behavior: greeting, polarity: use, phrases: [a]}\n"
        "  - {id: en.greeting.x, behavior: greeting, polarity: use, phrases: [b]}\n",
        "lexicon.duplicate_rule",
        5,
        "en.greeting.x",
    ),
    (
        "lang: en\nversion: 1\nrules:\n  - {id: ar.greeting.x, behavior: greeting, polarity: use, phrases: [a]}\n",
        "lexicon.lang_mismatch",
        4,
        "ar.greeting.x",
    ),
    (
        "lang: en\nversion: 1\nversion: 2\n",
        "lexicon.duplicate_key",
        3,
        None,
    ),
    ("- just\n- a list\n", "lexicon.invalid", 1, None),
]


@pytest.mark.parametrize(("text", "code", "line", "rule_id"), BAD)
def test_malformed_lexicons_report_file_line_rule(
    text: str, code: str, line: int, rule_id: str | None
) -> None:
    with pytest.raises(LexiconError) as exc:
        parse_lexicon_text(text, "bad.yaml")
    err = exc.value
    assert (err.code, err.file, err.line, err.rule_id) == (code, "bad.yaml", line, rule_id)
    assert str(err).startswith(f"[{code}] bad.yaml:{line}")


def test_override_errors(tmp_path: Path) -> None:
    with pytest.raises(LexiconError) as exc:
        load_lexicon("en", tmp_path / "missing")
    assert exc.value.code == "lexicon.override_dir_missing"

    _write(tmp_path, "en", "lang: en\nversion: 1\ndisable: [en.nope.nope]\n")
    with pytest.raises(LexiconError) as exc:
        load_lexicon("en", tmp_path)
    assert (exc.value.code, exc.value.line, exc.value.rule_id) == (
        "lexicon.unknown_rule",
        3,
        "en.nope.nope",
    )

    _write(tmp_path, "en", "lang: ar\nversion: 1\n")
    with pytest.raises(LexiconError, match="declares lang 'ar'"):
        load_lexicon("en", tmp_path)

    with pytest.raises(LexiconError, match="unknown language"):
        load_lexicon("fr")


def test_compile_errors_point_at_the_rule(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "en",
        "lang: en\nversion: 1\nrules:\n  - id: en.greeting.punct\n    behavior: greeting\n"
        "    polarity: use\n    phrases: ['hi, there']\n",
    )
    with pytest.raises(LexiconError) as exc:
        Analyzer(load_lexicon("en", tmp_path))
    assert (exc.value.code, exc.value.file, exc.value.line, exc.value.rule_id) == (
        "lexicon.bad_phrase",
        str(p),
        4,
        "en.greeting.punct",
    )

    _write(
        tmp_path,
        "en",
        "lang: en\nversion: 2\nrules:\n  - id: en.greeting.pat\n    behavior: greeting\n"
        "    polarity: use\n    patterns: [[{NORM: hi, OP: '?!'}]]\n",
    )
    with pytest.raises(LexiconError) as exc:
        Analyzer(load_lexicon("en", tmp_path))
    assert exc.value.code == "lexicon.bad_pattern" and exc.value.rule_id == "en.greeting.pat"
