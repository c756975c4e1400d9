"""Phrase lexicons as data: schema, loading, override directories and versions.

A lexicon is a YAML file per language (``lexicons/en.yaml``, ``lexicons/ar.yaml``)
validated with pydantic. Errors name the file, the line and the rule id, with a
stable ``code`` so callers (the app, ``qa flag``) can react without parsing text.

Override semantics (the app passes its ``QA_LEXICON_DIR`` setting as
``override_dir``): for language ``xx`` the file ``<dir>/xx.yaml`` (or ``.yml``) is
read if present; other files are ignored.

* ``mode: extend`` (default) starts from the shipped lexicon; ``disable:`` removes
  shipped rules by id (an unknown id is an error, so typos are caught), a rule
  whose id already exists *replaces* that rule whole, new ids are appended, and a
  ``negation:`` block replaces the shipped one. The human label becomes
  ``"<shipped version>+<override version>"``.
* ``mode: replace`` ignores the shipped lexicon for that language entirely.

Every lexicon has a content version ``"<lang>:<sha256[:12]>"`` over the canonical
JSON of the *effective* lexicon, so any change to any rule (or the label) yields a
new version; analyzers are cached per version and stored flags can cite it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from qa.nlp.taxonomy import AVOID_BEHAVIOURS, CUSTOMER_PREFIX, LANGS, USE_BEHAVIOURS

SHIPPED_DIR = Path(__file__).with_name("lexicons")

#: Token attributes a Matcher pattern may use. Text attributes other than NORM are
#: refused because they would bypass normalisation (and so miss "آسف" vs "اسف").
PATTERN_KEYS = frozenset(
    {"NORM", "IS_ALPHA", "IS_DIGIT", "IS_PUNCT", "IS_TITLE", "IS_SPACE", "LIKE_NUM", "LENGTH", "OP"}
)


#: How phrases meet text, beside the lexicon's own content: raised whenever a code
#: change can alter which flags the same lexicon finds (2: contractions take their
#: norms from the words, so "you didn't" and "you did not" meet; 3: IS_ALPHA in
#: token patterns is judged on the normalised word, so a name written with
#: tashkeel still counts; 4: findings follow the turns' time order, ignore
#: empty agent turns, and an interaction no agent answered gets
#: ``missing_agent_reply``; whitespace runs, a full stop with no space after it,
#: hamza spellings and negation cues inside a phrase, see docs/auto-qa.md).
#: Part of every analysis stamp, so ``qa analyze``
#: re-analyses what an older matcher produced.
MATCHING_VERSION = "4"


class LexiconError(ValueError):
    """A lexicon file cannot be used. ``code`` is stable; the message names where."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        rule_id: str | None = None,
    ) -> None:
        self.code = code
        self.file = file
        self.line = line
        self.rule_id = rule_id
        where = file or "<lexicon>"
        if line is not None:
            where += f":{line}"
        if rule_id:
            where += f": rule {rule_id}"
        super().__init__(f"[{code}] {where}: {message}")


_ID_RE = re.compile(r"^(en|ar)\.[a-z][a-z0-9_]*\.[a-z0-9_]+$")
_BEHAVIOUR_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class Rule(BaseModel):
    """One phrase rule. ``polarity`` says what its presence means for the agent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    behavior: str
    polarity: Literal["use", "avoid", "cue"]
    criterion: str | None = None
    severity: Literal["low", "medium", "high"] = "medium"
    phrases: list[str] = Field(default_factory=list)
    patterns: list[list[dict[str, Any]]] = Field(default_factory=list)
    #: Drop a match preceded (within the language's window) by a negation cue:
    #: "I'm not sorry" / "لست آسفا" is not an apology.
    negatable: bool = False
    #: Arabic only: words of these phrases also match with one inflectional suffix
    #: (آسف -> آسفة/آسفين/آسفون/آسفاً, معك -> معكم).
    inflect: bool = True
    #: Phrases that contain a match of this rule without meaning it: a match
    #: lying within one of them does not count ("whatever" inside "whatever works
    #: for you", "impossible" inside "nothing is impossible"). They flag nothing.
    not_within: list[str] = Field(default_factory=list)
    #: A match announces a hold (used by timing to recognise announced holds).
    hold_announcement: bool = False
    suggestion: str | None = None
    coaching_tip: str | None = None

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not _ID_RE.match(v):
            raise ValueError("id must look like '<lang>.<behaviour>.<name>' in lower snake case")
        return v

    @field_validator("behavior")
    @classmethod
    def _behaviour_shape(cls, v: str) -> str:
        if not _BEHAVIOUR_RE.match(v):
            raise ValueError("behavior must be a lower snake_case id")
        return v

    @field_validator("phrases", "not_within")
    @classmethod
    def _phrases_nonblank(cls, v: list[str]) -> list[str]:
        for i, p in enumerate(v):
            if not p.strip():
                raise ValueError(f"phrase {i} is blank")
        return v

    @field_validator("patterns")
    @classmethod
    def _pattern_keys(cls, v: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
        for i, pattern in enumerate(v):
            if not pattern:
                raise ValueError(f"pattern {i} is empty")
            for tok in pattern:
                bad = set(tok) - PATTERN_KEYS
                if bad:
                    raise ValueError(
                        f"pattern {i} uses {sorted(bad)}; allowed: {sorted(PATTERN_KEYS)}"
                    )
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if not self.phrases and not self.patterns:
            raise ValueError("a rule needs phrases and/or patterns")
        if self.polarity == "cue" and not self.behavior.startswith(CUSTOMER_PREFIX):
            raise ValueError(
                f"cue rules describe customers: behavior must start with {CUSTOMER_PREFIX!r}"
            )
        if self.polarity != "cue" and self.behavior.startswith(CUSTOMER_PREFIX):
            raise ValueError("customer_* behaviours must have polarity 'cue'")
        if self.behavior in USE_BEHAVIOURS and self.polarity != "use":
            raise ValueError(f"behavior {self.behavior!r} is a 'use' behaviour")
        if self.behavior in AVOID_BEHAVIOURS and self.polarity != "avoid":
            raise ValueError(f"behavior {self.behavior!r} is an 'avoid' behaviour")
        if self.polarity == "avoid":
            if not (self.suggestion or "").strip():
                raise ValueError("avoid rules need a 'suggestion' (what to say instead)")
            if not (self.coaching_tip or "").strip():
                raise ValueError("avoid rules need a 'coaching_tip'")
        if self.hold_announcement and self.behavior != "hold_etiquette":
            raise ValueError("hold_announcement is only meaningful for hold_etiquette rules")
        return self


class Negation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cues: list[str] = Field(min_length=1)
    window: int = Field(default=3, ge=1, le=8)
    #: Phrases that contain a cue but negate nothing ("not only", "no doubt",
    #: "never mind", "كل ما"): a cue inside one of them is no negation (NegEx
    #: calls them pseudo-negations).
    pseudo: list[str] = Field(default_factory=list)


class LexiconFile(BaseModel):
    """The YAML document as written (shipped or override)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lang: Literal["en", "ar"]
    version: str = Field(min_length=1)
    mode: Literal["extend", "replace"] = "extend"
    negation: Negation | None = None
    disable: list[str] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)

    @field_validator("version", mode="before")
    @classmethod
    def _version_str(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int | float) else v


@dataclass(frozen=True)
class Lexicon:
    """The effective lexicon for one language (shipped + override applied)."""

    lang: str
    label: str
    negation: Negation
    rules: tuple[Rule, ...]
    sources: tuple[str, ...] = ()
    #: rule id -> (file, line) where it was defined; for error messages only.
    origins: dict[str, tuple[str, int | None]] = field(default_factory=dict, compare=False)
    version: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "version", f"{self.lang}:{self.fingerprint()[:12]}")

    def canonical(self) -> dict[str, Any]:
        return {
            "lang": self.lang,
            "label": self.label,
            "negation": self.negation.model_dump(mode="json"),
            "rules": [r.model_dump(mode="json") for r in self.rules],
        }

    def fingerprint(self) -> str:
        blob = json.dumps(
            self.canonical(), sort_keys=True, ensure_ascii=False, separators=(",", ":")
        )
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


# ------------------------------------------------------------------ YAML parsing


class _Loader(yaml.SafeLoader):
    """SafeLoader where only true/false are booleans.

    YAML 1.1 reads ``no``, ``on``, ``off``, ``yes`` as booleans, which silently
    turns the English phrase or negation cue "no" into ``False``.
    """


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _first in "tTfF":
    _Loader.yaml_implicit_resolvers.setdefault(_first, []).insert(
        0,
        ("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")),
    )


class _LineMap:
    """Finds the YAML line of any path (``("rules", 3, "phrases", 1)``)."""

    def __init__(self, node: yaml.Node | None) -> None:
        self.root = node

    def line(self, path: tuple[Any, ...]) -> int | None:
        node = self.root
        best = node.start_mark.line + 1 if node is not None else None
        for part in path:
            if isinstance(node, yaml.MappingNode):
                nxt = None
                for k, v in node.value:
                    if isinstance(k, yaml.ScalarNode) and k.value == str(part):
                        nxt = v
                        best = k.start_mark.line + 1
                        break
                node = nxt
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                node = node.value[part] if 0 <= part < len(node.value) else None
            else:
                node = None
            if node is None:
                break
            best = node.start_mark.line + 1
        return best


def _check_duplicate_keys(node: yaml.Node | None, file: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode):
                if k.value in seen:
                    raise LexiconError(
                        "lexicon.duplicate_key",
                        f"key {k.value!r} appears twice in the same mapping",
                        file=file,
                        line=k.start_mark.line + 1,
                    )
                seen.add(k.value)
            _check_duplicate_keys(v, file)
    elif isinstance(node, yaml.SequenceNode):
        for v in node.value:
            _check_duplicate_keys(v, file)


def parse_lexicon_text(text: str, file: str) -> tuple[LexiconFile, _LineMap]:
    """Parse and validate one YAML document; errors carry file, line and rule id."""
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise LexiconError(
            "lexicon.yaml_syntax",
            f"invalid YAML: {exc.problem or exc}",
            file=file,
            line=mark.line + 1 if mark else None,
        ) from exc
    except yaml.YAMLError as exc:
        raise LexiconError("lexicon.yaml_syntax", f"invalid YAML: {exc}", file=file) from exc
    lines = _LineMap(node)
    if not isinstance(data, dict):
        raise LexiconError("lexicon.invalid", "the document must be a mapping", file=file, line=1)
    _check_duplicate_keys(node, file)
    try:
        parsed = LexiconFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        rule_id = None
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            raw_rules = data.get("rules")
            if isinstance(raw_rules, list) and loc[1] < len(raw_rules):
                raw = raw_rules[loc[1]]
                if isinstance(raw, dict):
                    rule_id = str(raw.get("id")) if raw.get("id") is not None else None
        field_path = ".".join(str(p) for p in loc) or "<document>"
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise LexiconError(
            "lexicon.invalid",
            f"{field_path}: {err['msg']}{more}",
            file=file,
            line=lines.line(loc),
            rule_id=rule_id,
        ) from exc
    seen: dict[str, int] = {}
    for i, rule in enumerate(parsed.rules):
        if not rule.id.startswith(parsed.lang + "."):
            raise LexiconError(
                "lexicon.lang_mismatch",
                f"rule ids in a {parsed.lang!r} lexicon must start with '{parsed.lang}.'",
                file=file,
                line=lines.line(("rules", i, "id")),
                rule_id=rule.id,
            )
        if rule.id in seen:
            raise LexiconError(
                "lexicon.duplicate_rule",
                f"rule id already defined at line {lines.line(('rules', seen[rule.id]))}",
                file=file,
                line=lines.line(("rules", i)),
                rule_id=rule.id,
            )
        seen[rule.id] = i
    return parsed, lines


def _read(path: Path) -> tuple[LexiconFile, _LineMap]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LexiconError("lexicon.unreadable", f"cannot read: {exc}", file=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise LexiconError("lexicon.encoding", f"not UTF-8: {exc}", file=str(path)) from exc
    return parse_lexicon_text(text, str(path))


def override_file(lang: str, override_dir: Path) -> Path | None:
    for name in (f"{lang}.yaml", f"{lang}.yml"):
        candidate = override_dir / name
        if candidate.is_file():
            return candidate
    return None


def load_lexicon(lang: str, override_dir: Path | str | None = None) -> Lexicon:
    """The effective lexicon for ``lang`` (see the module docstring for overrides)."""
    if lang not in LANGS:
        raise LexiconError("lexicon.unknown_lang", f"unknown language {lang!r}; expected en or ar")
    shipped_path = SHIPPED_DIR / f"{lang}.yaml"
    base, base_lines = _read(shipped_path)
    if base.lang != lang:
        raise LexiconError(
            "lexicon.lang_mismatch", f"file declares lang {base.lang!r}", file=str(shipped_path)
        )
    if base.negation is None:
        raise LexiconError(
            "lexicon.invalid", "the shipped lexicon must define negation", file=str(shipped_path)
        )
    rules = list(base.rules)
    negation = base.negation
    label = base.version
    sources = [str(shipped_path)]
    origins = {
        r.id: (str(shipped_path), base_lines.line(("rules", i))) for i, r in enumerate(rules)
    }
    if override_dir is not None:
        directory = Path(override_dir)
        if not directory.is_dir():
            raise LexiconError(
                "lexicon.override_dir_missing",
                "the lexicon override directory does not exist",
                file=str(directory),
            )
        path = override_file(lang, directory)
        if path is not None:
            over, lines = _read(path)
            if over.lang != lang:
                raise LexiconError(
                    "lexicon.lang_mismatch",
                    f"{path.name} declares lang {over.lang!r}",
                    file=str(path),
                    line=lines.line(("lang",)),
                )
            sources.append(str(path))
            origins.update(
                {r.id: (str(path), lines.line(("rules", i))) for i, r in enumerate(over.rules)}
            )
            if over.mode == "replace":
                rules = list(over.rules)
                negation = over.negation or negation
                label = over.version
                if over.disable:
                    raise LexiconError(
                        "lexicon.invalid",
                        "'disable' has no meaning with mode: replace",
                        file=str(path),
                        line=lines.line(("disable",)),
                    )
            else:
                known = {r.id for r in rules}
                for i, rid in enumerate(over.disable):
                    if rid not in known:
                        raise LexiconError(
                            "lexicon.unknown_rule",
                            f"cannot disable unknown rule {rid!r}",
                            file=str(path),
                            line=lines.line(("disable", i)),
                            rule_id=rid,
                        )
                disabled = set(over.disable)
                rules = [r for r in rules if r.id not in disabled]
                index = {r.id: i for i, r in enumerate(rules)}
                for r in over.rules:
                    if r.id in index:
                        rules[index[r.id]] = r
                    else:
                        index[r.id] = len(rules)
                        rules.append(r)
                if over.negation is not None:
                    negation = over.negation
                label = f"{base.version}+{over.version}"
    if not rules:
        raise LexiconError("lexicon.empty", f"the effective {lang} lexicon has no rules")
    return Lexicon(lang, label, negation, tuple(rules), tuple(sources), origins)


def source_signature(lang: str, override_dir: Path | str | None) -> tuple[Any, ...]:
    """Cheap identity of the files behind a lexicon (for caching loads)."""
    paths = [SHIPPED_DIR / f"{lang}.yaml"]
    if override_dir is not None:
        d = Path(override_dir)
        if d.is_dir():
            p = override_file(lang, d)
            if p is not None:
                paths.append(p)
    sig: list[Any] = [lang, str(override_dir) if override_dir is not None else None]
    for p in paths:
        try:
            st = p.stat()
            sig.append((str(p), st.st_mtime_ns, st.st_size))
        except OSError:
            sig.append((str(p), None, None))
    return tuple(sig)
