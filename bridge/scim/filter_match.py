"""In-memory evaluation of a parsed filter against a canonical SCIM document (RFC 7644 §3.4.2.2).

`ne` is the complement of `eq` (an absent attribute is "not equal"); `eq null` means "not present".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.scim.errors import InvalidFilter
from bridge.scim.filter_binding import (
    Kind,
    Operand,
    Prepared,
    ascii_fold,
    bind_path,
    bind_value_path,
    prepare,
)
from bridge.scim.filter_syntax import And, Compare, CompareOp, Filter, Not, Or, Present
from bridge.scim.schemas import Attribute, ResourceSchema


def matches(f: Filter, doc: Mapping[str, Any], schema: ResourceSchema) -> bool:
    """True when `doc` satisfies `f`; raises InvalidFilter for unknown attributes or ill-typed operators."""
    return _eval(f, doc, schema, None)


def matches_element(f: Filter, element: Mapping[str, Any], attr: Attribute, schema: ResourceSchema) -> bool:
    """True when one value (element) of complex attribute `attr` satisfies the value filter `f`."""
    return _eval(f, element, schema, attr)


def _eval(f: Filter, doc: Mapping[str, Any], schema: ResourceSchema, parent: Attribute | None) -> bool:
    if isinstance(f, And):
        # evaluate every item so type errors surface regardless of data (SQL compiles them all too)
        results = [_eval(i, doc, schema, parent) for i in f.items]
        return all(results)
    if isinstance(f, Or):
        results = [_eval(i, doc, schema, parent) for i in f.items]
        return any(results)
    if isinstance(f, Not):
        return not _eval(f.inner, doc, schema, parent)
    if isinstance(f, Present):
        operand = bind_path(f.path, schema, parent)
        return _present(doc, operand)
    if isinstance(f, Compare):
        operand = bind_path(f.path, schema, parent)
        if f.value is None and f.op in (CompareOp.EQ, CompareOp.NE):
            present = _present(doc, operand)
            return present if f.op is CompareOp.NE else not present
        prepared = prepare(operand, f.op, f.value)
        if f.op is CompareOp.NE:
            return not _any_compare(_values(doc, operand), CompareOp.EQ, prepared)
        return _any_compare(_values(doc, operand), f.op, prepared)
    if parent is not None:
        raise InvalidFilter("nested value filters are not allowed")
    urn, attr = bind_value_path(f.path, schema)
    container = doc if urn is None else doc.get(urn)
    raw = container.get(attr.name) if isinstance(container, Mapping) else None
    elements = raw if isinstance(raw, list) else [raw]
    results = [_eval(f.filter, e, schema, attr) for e in elements if isinstance(e, Mapping)]
    if not results:
        _eval(f.filter, {}, schema, attr)  # still validate the inner filter
    return any(results)


def _raw(doc: Mapping[str, Any], operand: Operand) -> Any:
    container = doc if operand.urn is None else doc.get(operand.urn)
    if not isinstance(container, Mapping):
        return None
    return container.get(operand.attribute.name)


def _values(doc: Mapping[str, Any], operand: Operand) -> list[Any]:
    raw = _raw(doc, operand)
    sub = operand.sub
    if operand.attribute.multi_valued:
        elements = raw if isinstance(raw, list) else []
        if sub is None:
            return [e for e in elements if e is not None]
        return [e.get(sub.name) for e in elements if isinstance(e, Mapping) and e.get(sub.name) is not None]
    if sub is None:
        return [] if raw is None else [raw]
    value = raw.get(sub.name) if isinstance(raw, Mapping) else None
    return [] if value is None else [value]


def _is_present(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def _present(doc: Mapping[str, Any], operand: Operand) -> bool:
    if operand.attribute.multi_valued and operand.sub is None:
        raw = _raw(doc, operand)
        return isinstance(raw, list) and len(raw) > 0
    return any(_is_present(v) for v in _values(doc, operand))


def _any_compare(values: list[Any], op: CompareOp, p: Prepared) -> bool:
    if p.mismatch:
        return False
    return any(_compare(v, op, p) for v in values)


def _compare(value: Any, op: CompareOp, p: Prepared) -> bool:
    if p.kind is Kind.BOOLEAN:
        return isinstance(value, bool) and value == p.value
    if not isinstance(value, str):
        return False
    literal = p.value
    assert isinstance(literal, str)
    text: str = value
    if not p.case_exact:
        text = ascii_fold(text)
        literal = ascii_fold(literal)
    if op is CompareOp.CO:
        return literal in text
    if op is CompareOp.SW:
        return text.startswith(literal)
    if op is CompareOp.EW:
        return text.endswith(literal)
    return _ordered(text, op, literal)


def _ordered(text: str, op: CompareOp, literal: str) -> bool:
    if op is CompareOp.EQ:
        return text == literal
    if op is CompareOp.GT:
        return text > literal
    if op is CompareOp.GE:
        return text >= literal
    if op is CompareOp.LT:
        return text < literal
    return text <= literal  # le: ne, pr and the substring operators are decided before this
