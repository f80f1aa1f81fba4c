"""Binds filter paths and literals to schema attributes, so the evaluator and the SQL compiler agree.

Rules shared by both back ends (RFC 7644 §3.4.2.2): attribute names are case-insensitive; a multi-valued
complex attribute without a sub-attribute means its `value`; string comparison honours `caseExact` with
ASCII case folding (the same folding SQLite's NOCASE and lower() apply).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from bridge.scim.errors import InvalidFilter
from bridge.scim.filter_syntax import AttrPath, CompareOp, Literal, format_literal
from bridge.scim.schemas import BOOLEAN, Attribute, ResourceSchema

_ASCII_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_fold(text: str) -> str:
    """Lower-case ASCII letters only, exactly like SQLite's lower() and NOCASE collation."""
    return text.translate(_ASCII_LOWER)


class Kind(enum.Enum):
    """How a compared value is typed."""

    STRING = "string"
    BOOLEAN = "boolean"


@dataclass(frozen=True, slots=True)
class Operand:
    """A bound attribute path.

    In document context `attribute` is the top-level attribute, `urn` its extension (None for core) and
    `sub` the sub-attribute read from it. In element context (inside `attr[...]`) `attribute` is the
    sub-attribute of the element and `urn`/`sub` are None.
    """

    urn: str | None
    attribute: Attribute
    sub: Attribute | None

    @property
    def target(self) -> Attribute:
        """The attribute whose values are compared."""
        return self.sub if self.sub is not None else self.attribute


@dataclass(frozen=True, slots=True)
class Prepared:
    """A literal checked against its target: `mismatch` means the types can never be equal."""

    kind: Kind
    case_exact: bool
    value: str | bool
    mismatch: bool = False


def bind_path(path: AttrPath, schema: ResourceSchema, parent: Attribute | None) -> Operand:
    """Resolve a filter path; unknown attributes are an error (an empty 200 makes Entra create duplicates)."""
    if parent is not None:
        if path.urn is not None or path.sub is not None:
            raise InvalidFilter(f"{path} is not a sub-attribute of {parent.name}")
        sub = parent.sub(path.attr)
        if sub is None:
            raise InvalidFilter(f"unknown sub-attribute {path.attr!r} of {parent.name}")
        return Operand(None, sub, None)
    resolved = schema.resolve(str(path))
    if resolved is None:
        raise InvalidFilter(f"unknown attribute {str(path)!r} in filter")
    attr = resolved.attribute
    if attr.returned == "never":
        raise InvalidFilter(f"{attr.name} cannot be used in a filter")
    sub = resolved.sub
    if sub is None and attr.multi_valued and attr.is_complex:
        sub = attr.sub("value")
    return Operand(resolved.urn, attr, sub)


def bind_value_path(path: AttrPath, schema: ResourceSchema) -> tuple[str | None, Attribute]:
    """Resolve the attribute of `attr[...]`; it must be complex."""
    resolved = schema.resolve(str(path))
    if resolved is None:
        raise InvalidFilter(f"unknown attribute {str(path)!r} in filter")
    if not resolved.attribute.is_complex or resolved.sub is not None:
        raise InvalidFilter(f"{path} is not a complex attribute and cannot take a value filter")
    return resolved.urn, resolved.attribute


def prepare(operand: Operand, op: CompareOp, value: Literal) -> Prepared:
    """Check operator and literal against the target type; coerce tolerated literal forms."""
    target = operand.target
    if target.is_complex:
        raise InvalidFilter(f"{target.name} is complex: compare one of its sub-attributes")
    if value is None:  # the callers map `eq null`/`ne null` to presence before getting here
        raise InvalidFilter(f"{op.value} null is not supported; use pr or not (... pr)")
    if target.type == BOOLEAN:
        if op not in (CompareOp.EQ, CompareOp.NE):
            raise InvalidFilter(f"operator {op.value} is not defined for boolean {target.name}")
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if isinstance(value, bool):
            return Prepared(Kind.BOOLEAN, True, value)
        return Prepared(Kind.BOOLEAN, True, False, mismatch=True)
    if isinstance(value, bool):
        return Prepared(Kind.STRING, target.case_exact, "", mismatch=True)
    text = value if isinstance(value, str) else format_literal(value)
    return Prepared(Kind.STRING, target.case_exact, text)
