"""awork's `filterby` / `orderby` (OData-like) for the fake, over the rendered JSON.

Supported: `eq ne gt ge lt le`, `startswith(p,'x')`, `endswith(p,'x')`,
`substringof('x',p)`, `and`, `or`, `not`, parentheses; literals `'text'` (a
doubled `''` escapes a quote), `guid'…'`, `datetime'…'`, numbers, true, false,
null. Property names are case-insensitive and must be top-level scalar fields
of the listed objects. Anything else (any(), in, tolower(), nested paths, …)
fails with 400 `invalid-filter-or-order`, like a malformed expression does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NoReturn

from personio_sync_testing.fakes.awork.errors import fail

Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]

_TOKEN = re.compile(
    r"\s*(?:(?P<typed>(?:guid|datetime)'(?:[^']|'')*')|(?P<str>'(?:[^']|'')*')"
    r"|(?P<num>-?\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[(),]))"
)
_COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}
_FUNCS = {"startswith", "endswith", "substringof"}


def invalid(reason: str) -> NoReturn:
    fail(400, "invalid-filter-or-order", f"The filter or order expression is invalid: {reason}")


@dataclass(frozen=True)
class Literal:
    kind: str  # str | guid | datetime | num | bool | null
    value: Any


@lru_cache(maxsize=65536)
def parse_datetime(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text.rstrip()):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            invalid(f"unexpected text at position {pos}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _literal(kind: str, text: str) -> Literal:
    if kind == "typed":
        prefix, _, quoted = text.partition("'")
        value = quoted[:-1].replace("''", "'")
        if prefix == "guid":
            return Literal("guid", value.lower())
        when = parse_datetime(value)
        if when is None:
            invalid(f"bad datetime {value!r}")
        return Literal("datetime", when)
    if kind == "str":
        return Literal("str", text[1:-1].replace("''", "'"))
    if kind == "num":
        return Literal("num", float(text))
    lowered = text.lower()
    if lowered in ("true", "false"):
        return Literal("bool", lowered == "true")
    if lowered == "null":
        return Literal("null", None)
    invalid(f"expected a value, got {text!r}")


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}


def _coerce(value: Any, lit: Literal) -> Any:
    """The row's value in the literal's type, or None when the types do not fit."""
    if lit.kind == "datetime":
        return parse_datetime(value) if isinstance(value, str) else None
    if lit.kind == "guid":
        return value.lower() if isinstance(value, str) else None
    if lit.kind == "num":
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    wanted = str if lit.kind == "str" else bool
    return value if isinstance(value, wanted) else None


def _compare(op: str, value: Any, lit: Literal) -> bool:
    if lit.kind == "null":
        if op not in ("eq", "ne"):
            invalid("null can only be compared with eq or ne")
        return (value is None) == (op == "eq")
    if value is None:
        return op == "ne"
    coerced = _coerce(value, lit)
    return coerced is not None and _OPS[op](coerced, lit.value)


def _either(a: Predicate, b: Predicate) -> Predicate:
    return lambda r: a(r) or b(r)


def _both(a: Predicate, b: Predicate) -> Predicate:
    return lambda r: a(r) and b(r)


def _sort_key(prop: str) -> Callable[[dict[str, Any]], tuple[bool, Any]]:
    return lambda r: (r.get(prop) is not None, r.get(prop) or 0)


class _Parser:
    def __init__(self, text: str, props: Mapping[str, str]) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.props = props

    def peek(self) -> str:
        return self.tokens[self.pos][1].lower() if self.pos < len(self.tokens) else ""

    def take(self) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            invalid("unexpected end")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def expect(self, text: str) -> None:
        if self.take()[1].lower() != text:
            invalid(f"expected {text!r}")

    def prop(self) -> str:
        kind, text = self.take()
        if kind != "name" or text.lower() not in self.props:
            invalid(f"unknown property {text!r}")
        return self.props[text.lower()]

    def value(self) -> Literal:
        return _literal(*self.take())

    def expr(self) -> Predicate:
        left = self.conj()
        while self.peek() == "or":
            self.take()
            left = _either(left, self.conj())
        return left

    def conj(self) -> Predicate:
        left = self.unary()
        while self.peek() == "and":
            self.take()
            left = _both(left, self.unary())
        return left

    def unary(self) -> Predicate:
        if self.peek() == "not":
            self.take()
            inner = self.unary()
            return lambda r: not inner(r)
        if self.peek() == "(":
            self.take()
            inner = self.expr()
            self.expect(")")
            return inner
        if self.peek() in _FUNCS:
            return self.call()
        prop = self.prop()
        op = self.take()[1].lower()
        if op not in _COMPARE:
            invalid(f"unsupported operator {op!r}")
        lit = self.value()
        return lambda r: _compare(op, r.get(prop), lit)

    def call(self) -> Predicate:
        name = self.take()[1].lower()
        self.expect("(")
        if name == "substringof":
            lit = self.value()
            self.expect(",")
            prop = self.prop()
        else:
            prop = self.prop()
            self.expect(",")
            lit = self.value()
        self.expect(")")
        if lit.kind != "str":
            invalid(f"{name} needs a text value")
        text: str = lit.value
        test: dict[str, Callable[[str], bool]] = {
            "startswith": lambda v: v.startswith(text),
            "endswith": lambda v: v.endswith(text),
            "substringof": lambda v: text in v,
        }
        return lambda r: isinstance(r.get(prop), str) and test[name](r[prop])


def parse_filter(text: str, props: Sequence[str]) -> Predicate:
    parser = _Parser(text, {p.lower(): p for p in props})
    predicate = parser.expr()
    if parser.pos != len(parser.tokens):
        invalid(f"unexpected {parser.tokens[parser.pos][1]!r}")
    return predicate


def order(rows: list[dict[str, Any]], text: str, props: Sequence[str]) -> list[dict[str, Any]]:
    """Sort by `Prop [asc|desc],Prop2 …`; missing values sort first."""
    known = {p.lower(): p for p in props}
    keys: list[tuple[str, bool]] = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or words[0].lower() not in known:
            invalid(f"cannot order by {part.strip()!r}")
        direction = words[1].lower() if len(words) == 2 else "asc"
        if direction not in ("asc", "desc"):
            invalid(f"unknown direction {direction!r}")
        keys.append((known[words[0].lower()], direction == "desc"))
    result = list(rows)
    for prop, descending in reversed(keys):
        result.sort(key=_sort_key(prop), reverse=descending)
    return result
