"""Exact, cheaper stand-ins for the tokenizer's prefix/suffix/infix/URL regexes.

spaCy caches the tokenisation of every whitespace-separated chunk it has seen,
but a chunk it has not (a new name, a diacritised spelling, or any chunk that
follows a contraction in the same Doc: spaCy stops caching new chunks for the
rest of a Doc once a special case such as "I'm" fired in it) goes through the
affix rules: a prefix, a suffix and an infix regex, each an alternation of up to
a few hundred branches that ``re`` tries in turn, at every position, plus the
URL pattern. On such chunks these calls are most of the tokenizer's time.

A branch can only match if the chunk has the right character where the branch
starts (or, for ``...$`` suffix branches, ends): so each call here runs the
regex compiled from only those rule pieces that *could* match, chosen by the
chunk's first character (prefixes), last character (suffixes) or character set
(infixes), and none at all when no piece can (most words). Removing branches
that cannot match never changes which branch ``re`` reports (it tries them in
the same order, and the others fail), so the results are identical to spaCy's
own ``compile_*_regex(pieces)`` calls, which are used whenever a piece's
characters cannot be enumerated (``\\w``, ``.``, case-insensitive groups, empty
matches). The character sets are read from the parsed patterns
(``re._parser``), so they follow the language's rules, whatever they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from spacy.util import compile_infix_regex, compile_prefix_regex, compile_suffix_regex

try:  # Python >= 3.11
    from re import _constants as _c
    from re import _parser as _p
except ImportError:  # pragma: no cover - older Pythons
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _p  # type: ignore[no-redef]

#: Treat character classes larger than this as "any character".
MAX_SET = 50_000

CharSet = frozenset[str] | None  # None: cannot be enumerated
Search = Callable[[str], "re.Match[str] | None"]
FindIter = Callable[[str], "Iterator[re.Match[str]] | tuple[()]"]

_POSSESSIVE = getattr(_c, "POSSESSIVE_REPEAT", None)
_ATOMIC = getattr(_c, "ATOMIC_GROUP", None)


def _charset(items: Sequence[tuple[Any, Any]]) -> CharSet:
    out: set[str] = set()
    for op, av in items:
        if op is _c.LITERAL:
            out.add(chr(av))
        elif op is _c.RANGE:
            lo, hi = av
            if hi - lo > MAX_SET:
                return None
            out.update(map(chr, range(lo, hi + 1)))
        else:  # NEGATE, CATEGORY (\w, \d ...)
            return None
        if len(out) > MAX_SET:
            return None
    return frozenset(out)


def edge(seq: Any, last: bool) -> tuple[CharSet, bool]:
    """(characters a match of ``seq`` can start (``last``: end) with, can it be empty)."""
    acc: set[str] = set()
    items = list(seq)
    for op, av in reversed(items) if last else items:
        chars, nullable = _edge_item(op, av, last)
        if chars is None:
            return None, False
        acc |= chars
        if not nullable:
            return frozenset(acc), False
    return frozenset(acc), True


def _edge_item(op: Any, av: Any, last: bool) -> tuple[CharSet, bool]:
    if op is _c.LITERAL:
        return frozenset(chr(av)), False
    if op is _c.IN:
        return _charset(av), False
    if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):  # zero-width
        return frozenset(), True
    if op is _c.SUBPATTERN:
        _group, add_flags, _del_flags, sub = av
        if add_flags & (_c.SRE_FLAG_IGNORECASE | _c.SRE_FLAG_VERBOSE):
            return None, False
        return edge(sub, last)
    if op is _c.BRANCH:
        acc: set[str] = set()
        nullable = False
        for branch in av[1]:
            chars, empty = edge(branch, last)
            if chars is None:
                return None, False
            acc |= chars
            nullable = nullable or empty
        return frozenset(acc), nullable
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT) or (_POSSESSIVE is not None and op is _POSSESSIVE):
        lo, _hi, sub = av
        chars, empty = edge(sub, last)
        return chars, (empty or lo == 0)
    if _ATOMIC is not None and op is _ATOMIC:
        return edge(av, last)
    return None, False  # ANY, NOT_LITERAL, GROUPREF, conditionals ...


def required(seq: Any) -> frozenset[str]:
    """Characters every match of ``seq`` contains (a safe under-estimate)."""
    out: set[str] = set()
    for op, av in seq:
        if op is _c.LITERAL:
            out.add(chr(av))
        elif op is _c.IN and len(av) == 1 and av[0][0] is _c.LITERAL:
            out.add(chr(av[0][1]))
        elif op is _c.SUBPATTERN:
            if not av[1] & _c.SRE_FLAG_IGNORECASE:
                out |= required(av[3])
        elif op is _c.BRANCH:
            sets = [required(b) for b in av[1]]
            out |= frozenset.intersection(*sets) if sets else frozenset()
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT) or (
            _POSSESSIVE is not None and op is _POSSESSIVE
        ):
            if av[0] >= 1:
                out |= required(av[2])
        elif _ATOMIC is not None and op is _ATOMIC:
            out |= required(av)
    return frozenset(out)


def _parse(expression: str, flags: int = 0) -> Any | None:
    if flags & (re.IGNORECASE | re.VERBOSE | re.MULTILINE):
        return None
    try:
        tree = _p.parse(expression, flags)
    except Exception:
        return None
    if tree.state.flags & (re.IGNORECASE | re.VERBOSE | re.MULTILINE):  # inline (?i) etc.
        return None
    return tree


def _branches(tree: Any) -> list[list[tuple[Any, Any]]]:
    items = list(tree)
    if len(items) == 1 and items[0][0] is _c.BRANCH:
        return [list(b) for b in items[0][1][1]]
    return [items]


class _Pieces:
    """Rule pieces with the characters their matches start or end with.

    ``sets[i]`` is None when piece ``i`` must always be tried.
    """

    def __init__(
        self,
        pieces: Sequence[str],
        compile_fn: Callable[[Sequence[str]], re.Pattern[str]],
        sets: list[CharSet],
    ) -> None:
        self.pieces = list(pieces)
        self.compile_fn = compile_fn
        self.sets = sets
        self.always = tuple(i for i, s in enumerate(sets) if s is None)
        self.union = frozenset().union(*(s for s in sets if s is not None))
        self._by_subset: dict[tuple[int, ...], re.Pattern[str] | None] = {}

    def for_chars(self, chars: frozenset[str]) -> re.Pattern[str] | None:
        """The regex of the pieces that can start/end with one of ``chars``."""
        subset = tuple(i for i, s in enumerate(self.sets) if s is None or not s.isdisjoint(chars))
        try:
            return self._by_subset[subset]
        except KeyError:
            pattern = self.compile_fn([self.pieces[i] for i in subset]) if subset else None
            self._by_subset[subset] = pattern
            return pattern


def _usable(pieces: Sequence[Any]) -> list[str] | None:
    """The pieces spaCy keeps (non-blank strings), or None if any is not a str."""
    if any(not isinstance(p, str) for p in pieces):
        return None
    return [p for p in pieces if p.strip()]


def prefix_search(pieces: Sequence[str]) -> Search:
    """Same results as ``compile_prefix_regex(pieces).search``."""
    full = compile_prefix_regex(pieces)
    kept = _usable(pieces)
    if kept is None:
        return full.search
    sets: list[CharSet] = []
    for piece in kept:
        tree = _parse("^" + piece)
        if tree is None:
            return full.search
        for branch in _branches(tree):
            # every branch anchored at the start: ``match`` == ``search``
            if not branch or branch[0] != (_c.AT, _c.AT_BEGINNING):
                return full.search
        first, nullable = edge(tree, last=False)
        sets.append(None if nullable else first)
    table = _Pieces(kept, compile_prefix_regex, sets)
    cache: dict[str, Search | None] = {}

    def search(string: str) -> re.Match[str] | None:
        if not string:
            return full.search(string)
        c = string[0]
        try:
            fn = cache[c]
        except KeyError:
            pattern = table.for_chars(frozenset(c))
            fn = cache[c] = pattern.match if pattern is not None else None
        return fn(string) if fn is not None else None

    return search


def suffix_search(pieces: Sequence[str]) -> Search:
    """Same results as ``compile_suffix_regex(pieces).search``, as spaCy uses them.

    spaCy only reads the match's length, so an empty match and no match are the
    same answer ("no suffix") and pieces that can only match empty are skipped.
    """
    full = compile_suffix_regex(pieces)
    kept = _usable(pieces)
    if kept is None:
        return full.search
    sets: list[CharSet] = []
    for piece in kept:
        tree = _parse(piece + "$")
        if tree is None:
            return full.search
        anchored = all(b and b[-1] == (_c.AT, _c.AT_END) for b in _branches(tree))
        last, nullable = edge(tree, last=True)
        sets.append(last if anchored and not nullable else None)
    table = _Pieces(kept, compile_suffix_regex, sets)
    cache: dict[str, Search | None] = {}

    def search(string: str) -> re.Match[str] | None:
        # "$" also matches before a final newline: leave those to the full regex
        if not string or string[-1] == "\n":
            return full.search(string)
        c = string[-1]
        try:
            fn = cache[c]
        except KeyError:
            pattern = table.for_chars(frozenset(c))
            fn = cache[c] = pattern.search if pattern is not None else None
        return fn(string) if fn is not None else None

    return search


def infix_finditer(pieces: Sequence[str]) -> FindIter:
    """Same matches as ``compile_infix_regex(pieces).finditer``."""
    full = compile_infix_regex(pieces)
    kept = _usable(pieces)
    if kept is None:
        return full.finditer
    sets: list[CharSet] = []
    for piece in kept:
        tree = _parse(piece)
        if tree is None:
            return full.finditer
        first, nullable = edge(tree, last=False)
        sets.append(None if nullable else first)
    table = _Pieces(kept, compile_infix_regex, sets)
    union = table.union
    cache: dict[frozenset[str], FindIter | None] = {}
    none: tuple[()] = ()

    def finditer(string: str) -> Iterator[re.Match[str]] | tuple[()]:
        chars = union.intersection(string)
        if not chars and not table.always:
            return none
        try:
            fn = cache[chars]
        except KeyError:
            pattern = table.for_chars(chars)
            fn = cache[chars] = pattern.finditer if pattern is not None else None
        return fn(string) if fn is not None else none

    return finditer


def url_match(match: Search | None) -> Search | None:
    """``pattern.match`` skipped when a character every match needs is missing
    (spaCy's URL pattern needs a "."); same results."""
    pattern = getattr(match, "__self__", None)
    if not isinstance(pattern, re.Pattern) or getattr(match, "__name__", "") != "match":
        return match
    tree = _parse(pattern.pattern, pattern.flags & ~re.UNICODE)
    if tree is None:
        return match
    needed = tuple(sorted(required(tree)))
    if not needed:
        return match
    run = pattern.match

    def url(string: str) -> re.Match[str] | None:
        for c in needed:
            if c not in string:
                return None
        return run(string)

    return url
