"""SCIM filter grammar (RFC 7644 §3.4.2.2): tokenizer, recursive-descent parser, AST and formatter.

Tolerated deviations (idp-traffic §0.7, §13): unquoted values, capitalised operators and keywords, `+` used
for spaces when the caller got an undecoded string, and Entra's `emails[type eq "work"].value eq "x"`.
"""

from __future__ import annotations

import enum
import json
import math
import re
from dataclasses import dataclass
from typing import Final, TypeAlias

from bridge.scim.errors import InvalidFilter

# IdPs nest at most two levels. Deeper filters compile to SQL that overflows SQLite's parser stack
# ("parser stack overflow" at 11 levels of `not (x or ...)`, found by tests/fuzz), so refuse them here as 400.
MAX_DEPTH: Final = 8

Literal: TypeAlias = str | int | float | bool | None


class CompareOp(enum.Enum):
    """Attribute operators of RFC 7644 §3.4.2.2 Table 3 (except `pr`, which has its own node)."""

    EQ = "eq"
    NE = "ne"
    CO = "co"
    SW = "sw"
    EW = "ew"
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"


_OPS: Final = {op.value: op for op in CompareOp}


@dataclass(frozen=True, slots=True)
class AttrPath:
    """An attribute path as written: optional schema URN, attribute name, optional sub-attribute."""

    urn: str | None
    attr: str
    sub: str | None = None

    def __str__(self) -> str:
        text = f"{self.urn}:{self.attr}" if self.urn else self.attr
        return f"{text}.{self.sub}" if self.sub else text


@dataclass(frozen=True, slots=True)
class Compare:
    """`path op value`."""

    path: AttrPath
    op: CompareOp
    value: Literal


@dataclass(frozen=True, slots=True)
class Present:
    """`path pr`."""

    path: AttrPath


@dataclass(frozen=True, slots=True)
class And:
    """Conjunction of two or more filters (flattened, so deep chains do not recurse)."""

    items: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """Disjunction of two or more filters (flattened)."""

    items: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """`not (filter)`."""

    inner: Filter


@dataclass(frozen=True, slots=True)
class ValuePath:
    """`attr[filter]`: some value of the (multi-valued) complex attribute matches `filter`."""

    path: AttrPath
    filter: Filter


Filter: TypeAlias = Compare | Present | And | Or | Not | ValuePath

_TOKEN: Final = re.compile(r'\s+|(\()|(\))|(\[)|(\])|("(?:[^"\\]|\\.)*"?)|([^\s()\[\]"]+)')
_NAME: Final = re.compile(r"[A-Za-z$][\w$-]*\Z")
_INT: Final = re.compile(r"-?\d+\Z")
_FLOAT: Final = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\Z")

# token kinds
_LP, _RP, _LB, _RB, _STR, _WORD = range(6)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: int
    text: str
    pos: int


def _plus_as_space(text: str) -> str:
    """Turn `+` into spaces outside quoted strings when the text has no whitespace at all.

    A caller that forgot to form-decode the query string hands us `userName+eq+"a+b@x"`; a decoded
    filter always contains spaces around its operator, so `+` is only rewritten when there are none.
    """
    out: list[str] = []
    quoted = False
    escaped = False
    for ch in text:
        if quoted:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
            out.append(ch)
        elif ch == '"':
            quoted = True
            out.append(ch)
        else:
            out.append(" " if ch == "+" else ch)
    return "".join(out)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    end = len(text)
    while pos < end:
        m = _TOKEN.match(text, pos)
        if m is None:  # pragma: no cover - the pattern matches every character
            raise InvalidFilter(f"unexpected character {text[pos]!r} at position {pos}")
        kind = m.lastindex
        if kind is not None:
            tokens.append(_Token(kind - 1, m.group(kind), pos))
        pos = m.end()
    return tokens


def _parse_path(text: str, pos: int) -> AttrPath:
    """Parse `[URN ":"] attr ["." sub]`; names are validated, casing is kept as written."""
    urn: str | None = None
    rest = text
    if text[:4].lower() == "urn:":
        urn, _, rest = text.rpartition(":")
        if not urn or not rest:
            raise InvalidFilter(f"invalid attribute path {text!r} at position {pos}")
    attr, dot, sub = rest.partition(".")
    if not _NAME.match(attr) or (dot and not _NAME.match(sub)):
        raise InvalidFilter(f"invalid attribute path {text!r} at position {pos}")
    return AttrPath(urn, attr, sub or None)


def _literal(tok: _Token) -> Literal:
    if tok.kind == _STR:
        if (
            len(tok.text) < 2
            or not tok.text.endswith('"')
            or (tok.text.endswith('\\"') and _odd_escape(tok.text))
        ):
            raise InvalidFilter(f"unterminated string starting at position {tok.pos}")
        try:
            value = json.loads(tok.text)
            # A `\ud800` escape decodes to a lone surrogate no UTF-8 writer can encode (found by tests/fuzz).
            value.encode("utf-8")
        except (ValueError, UnicodeEncodeError):
            raise InvalidFilter(f"invalid string literal at position {tok.pos}") from None
        assert isinstance(value, str)
        return value
    if tok.kind != _WORD:
        raise InvalidFilter(f"expected a value at position {tok.pos}, found {tok.text!r}")
    word = tok.text
    lowered = word.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    if lowered == "null":
        return None
    if _INT.match(word):
        number = int(word)
        # `00123` is an identifier, not a number: keep it exactly as sent (Entra unquoted externalIds).
        return number if str(number) == word else word
    if _FLOAT.match(word):
        number_f = float(word)
        # 1e999 overflows to inf, which has no literal form; keep such words as strings.
        return number_f if math.isfinite(number_f) else word
    # Entra and authentik ≤ 2025.6 send unquoted string values (idp-traffic §0.7).
    return word


def _odd_escape(text: str) -> bool:
    """True when the final quote of `text` is escaped (an odd run of backslashes precedes it)."""
    run = len(text) - 1 - len(text[:-1].rstrip("\\"))
    return run % 2 == 1


class _Parser:
    __slots__ = ("depth", "i", "text", "tokens")

    def __init__(self, text: str, tokens: list[_Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    def _peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _next(self, expected: str) -> _Token:
        tok = self._peek()
        if tok is None:
            raise InvalidFilter(f"unexpected end of filter: expected {expected}")
        self.i += 1
        return tok

    def _keyword(self, word: str) -> bool:
        tok = self._peek()
        if tok is not None and tok.kind == _WORD and tok.text.lower() == word:
            self.i += 1
            return True
        return False

    def parse(self) -> Filter:
        result = self._or(in_brackets=False)
        tok = self._peek()
        if tok is not None:
            raise InvalidFilter(f"unexpected {tok.text!r} at position {tok.pos}")
        return result

    def _or(self, *, in_brackets: bool) -> Filter:
        items = [self._and(in_brackets=in_brackets)]
        while self._keyword("or"):
            items.append(self._and(in_brackets=in_brackets))
        if len(items) == 1:
            return items[0]
        return Or(tuple(_flatten(items, Or)))

    def _and(self, *, in_brackets: bool) -> Filter:
        items = [self._term(in_brackets=in_brackets)]
        while self._keyword("and"):
            items.append(self._term(in_brackets=in_brackets))
        if len(items) == 1:
            return items[0]
        return And(tuple(_flatten(items, And)))

    def _nested(self, *, in_brackets: bool) -> Filter:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise InvalidFilter(f"filter nests deeper than {MAX_DEPTH} levels")
        inner = self._or(in_brackets=in_brackets)
        tok = self._next("')'")
        if tok.kind != _RP:
            raise InvalidFilter(f"expected ')' at position {tok.pos}, found {tok.text!r}")
        self.depth -= 1
        return inner

    def _term(self, *, in_brackets: bool) -> Filter:
        tok = self._next("an attribute path, 'not' or '('")
        if tok.kind == _LP:
            return self._nested(in_brackets=in_brackets)
        if tok.kind != _WORD:
            raise InvalidFilter(f"expected an attribute path at position {tok.pos}, found {tok.text!r}")
        if tok.text.lower() == "not":
            opening = self._next("'(' after 'not'")
            if opening.kind != _LP:
                raise InvalidFilter(f"expected '(' after 'not' at position {opening.pos}")
            return Not(self._nested(in_brackets=in_brackets))
        path = _parse_path(tok.text, tok.pos)
        after = self._peek()
        if after is not None and after.kind == _LB:
            if in_brackets:
                raise InvalidFilter(f"nested value filter at position {after.pos} is not allowed")
            if path.sub is not None:
                raise InvalidFilter(f"a value filter needs a plain attribute, not {tok.text!r}")
            self.i += 1
            inner = self._or(in_brackets=True)
            closing = self._next("']'")
            if closing.kind != _RB:
                raise InvalidFilter(f"expected ']' at position {closing.pos}, found {closing.text!r}")
            follow = self._peek()
            if follow is not None and follow.kind == _WORD and follow.text.startswith("."):
                # Entra: `emails[type eq "work"].value eq "x"` ≡ `emails[type eq "work" and value eq "x"]`.
                self.i += 1
                sub = _parse_path(follow.text[1:], follow.pos + 1)
                if sub.urn is not None or sub.sub is not None:
                    raise InvalidFilter(f"invalid sub-attribute {follow.text!r} at position {follow.pos}")
                return ValuePath(path, _conjoin(inner, self._comparison(sub, follow)))
            return ValuePath(path, inner)
        return self._comparison(path, tok)

    def _comparison(self, path: AttrPath, path_tok: _Token) -> Filter:
        op_tok = self._next(f"an operator after {path_tok.text!r}")
        op_text = op_tok.text.lower() if op_tok.kind == _WORD else ""
        if op_text == "pr":
            return Present(path)
        op = _OPS.get(op_text)
        if op is None:
            raise InvalidFilter(f"unknown operator {op_tok.text!r} at position {op_tok.pos}")
        value_tok = self._next(f"a value after {path_tok.text!r} {op_tok.text!r}")
        return Compare(path, op, _literal(value_tok))


def _flatten(items: list[Filter], kind: type[And] | type[Or]) -> list[Filter]:
    out: list[Filter] = []
    for item in items:
        if isinstance(item, kind):
            out.extend(item.items)
        else:
            out.append(item)
    return out


def _conjoin(left: Filter, right: Filter) -> Filter:
    return And(tuple(_flatten([left, right], And)))


def parse_filter(text: str) -> Filter:
    """Parse a filter expression; raise InvalidFilter with the position of the problem."""
    if not isinstance(text, str):
        raise InvalidFilter("the filter must be a string")
    if "+" in text and not any(ch.isspace() for ch in text):
        text = _plus_as_space(text)
    tokens = _tokenize(text)
    if not tokens:
        raise InvalidFilter("the filter is empty")
    return _Parser(text, tokens).parse()


def format_literal(value: Literal) -> str:
    """Render a literal in filter syntax (strings JSON-quoted)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def format_filter(f: Filter) -> str:
    """Render a filter so that `parse_filter(format_filter(f)) == f`."""
    if isinstance(f, Compare):
        return f"{f.path} {f.op.value} {format_literal(f.value)}"
    if isinstance(f, Present):
        return f"{f.path} pr"
    if isinstance(f, Not):
        return f"not ({format_filter(f.inner)})"
    if isinstance(f, ValuePath):
        return f"{f.path}[{format_filter(f.filter)}]"
    joiner = " and " if isinstance(f, And) else " or "
    return joiner.join(
        f"({format_filter(i)})" if isinstance(i, And | Or) else format_filter(i) for i in f.items
    )
