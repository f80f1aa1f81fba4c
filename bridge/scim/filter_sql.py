"""Compiles a parsed filter into a parameterised SQLite WHERE expression with the semantics of filter_match.

Values only ever travel as `?` parameters. Column expressions come from the trusted `SqlMapping`, and JSON
paths are built from schema attribute names (never from user text), so the output cannot be injected into.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from bridge.scim.errors import InvalidFilter, InvalidValue
from bridge.scim.filter_binding import (
    Kind,
    Operand,
    Prepared,
    ascii_fold,
    bind_path,
    bind_value_path,
    prepare,
)
from bridge.scim.filter_syntax import And, Compare, CompareOp, Filter, Not, Or, Present, ValuePath
from bridge.scim.schemas import Attribute, ResourceSchema

_SAFE_NAME: Final = re.compile(r"[A-Za-z0-9$:._-]+\Z")
_SQL_OPS: Final = {
    CompareOp.EQ: "=",
    CompareOp.GT: ">",
    CompareOp.GE: ">=",
    CompareOp.LT: "<",
    CompareOp.LE: "<=",
}


@dataclass(frozen=True, slots=True)
class MultiValuedSql:
    """A side table holding one multi-valued attribute; used as `EXISTS (SELECT 1 <from_where> AND ...)`."""

    from_where: str
    columns: Mapping[str, str] = field(default_factory=dict)
    # Optional uncorrelated form `<owner_key> IN (<keys_select> WHERE ...)`: SQLite then drives the
    # lookup from the side table's index (O(matches)) instead of probing it once per owner row (O(n)).
    owner_key: str | None = None
    keys_select: str | None = None


@dataclass(frozen=True, slots=True)
class SqlMapping:
    """Where the store keeps attributes: the JSON document, dedicated columns, side tables (all trusted SQL).

    `columns` keys are lowercased paths: `username`, `name.givenname`, `meta.created`, and for extension
    attributes the lowercased URN-qualified path (`urn:…:enterprise:2.0:user:employeenumber`).
    `multi_valued` keys are lowercased core attribute names (`members`, `emails`); their `columns` are
    keyed by lowercased sub-attribute name. Anything not mapped is read from `document` with json_extract.
    """

    document: str
    columns: Mapping[str, str] = field(default_factory=dict)
    multi_valued: Mapping[str, MultiValuedSql] = field(default_factory=dict)


def _json_path(*names: str) -> str:
    """A SQL string literal holding a JSON path; names come from the schema and are checked anyway."""
    for name in names:
        if not _SAFE_NAME.match(name):  # pragma: no cover - schema names are constants
            raise InvalidFilter(f"attribute name {name!r} cannot be used in SQL")
    return "'$" + "".join(f'."{n}"' for n in names) + "'"


ElementExpr = Callable[[Attribute], str]


class _Compiler:
    __slots__ = ("aliases", "mapping", "params", "schema")

    def __init__(self, schema: ResourceSchema, mapping: SqlMapping) -> None:
        self.schema = schema
        self.mapping = mapping
        self.params: list[object] = []
        self.aliases = 0

    def compile(self, f: Filter, element: ElementExpr | None, parent: Attribute | None) -> str:
        if isinstance(f, And | Or):
            joiner = " AND " if isinstance(f, And) else " OR "
            return "(" + joiner.join(self.compile(i, element, parent) for i in f.items) + ")"
        if isinstance(f, Not):
            return f"NOT coalesce({self.compile(f.inner, element, parent)}, 0)"
        if isinstance(f, Present):
            return self._present(bind_path(f.path, self.schema, parent), element)
        if isinstance(f, Compare):
            operand = bind_path(f.path, self.schema, parent)
            if f.value is None and f.op in (CompareOp.EQ, CompareOp.NE):
                present = self._present(operand, element)
                return present if f.op is CompareOp.NE else f"NOT coalesce({present}, 0)"
            prepared = prepare(operand, f.op, f.value)
            if f.op is CompareOp.NE:
                equal = self._leaf(operand, element, lambda e: self._condition(e, CompareOp.EQ, prepared))
                return f"NOT coalesce({equal}, 0)"
            return self._leaf(operand, element, lambda e: self._condition(e, f.op, prepared))
        if parent is not None:
            raise InvalidFilter("nested value filters are not allowed")
        return self._value_path(f)

    def _value_path(self, f: ValuePath) -> str:
        urn, attr = bind_value_path(f.path, self.schema)
        if attr.multi_valued:
            return self._exists(urn, attr, lambda element: self.compile(f.filter, element, attr))
        base = (urn, attr.name) if urn is not None else (attr.name,)

        def element(sub: Attribute) -> str:
            return self._scalar(urn, attr, sub, base)

        return self.compile(f.filter, element, attr)

    def _exists(self, urn: str | None, attr: Attribute, body: Callable[[ElementExpr], str]) -> str:
        side = self.mapping.multi_valued.get(attr.name.lower()) if urn is None else None
        if side is not None:

            def side_column(sub: Attribute) -> str:
                column = side.columns.get(sub.name.lower())
                if column is None:
                    raise InvalidFilter(f"{attr.name}.{sub.name} cannot be used in a filter")
                return column

            if side.owner_key and side.keys_select:
                return f"{side.owner_key} IN ({side.keys_select} WHERE {body(side_column)})"
            return f"EXISTS (SELECT 1 {side.from_where} AND {body(side_column)})"
        self.aliases += 1
        alias = f"je{self.aliases}"
        path = _json_path(urn, attr.name) if urn is not None else _json_path(attr.name)
        if not attr.is_complex:
            return (
                f"EXISTS (SELECT 1 FROM json_each({self.mapping.document}, {path}) AS {alias} "  # noqa: S608 - trusted mapping and schema names
                f"WHERE {body(lambda _sub: f'{alias}.value')})"
            )

        def json_column(sub: Attribute) -> str:
            return f"json_extract({alias}.value, {_json_path(sub.name)})"

        return (
            f"EXISTS (SELECT 1 FROM json_each({self.mapping.document}, {path}) AS {alias} "  # noqa: S608 - trusted mapping and schema names
            f"WHERE {alias}.type = 'object' AND {body(json_column)})"
        )

    def _scalar(self, urn: str | None, attr: Attribute, sub: Attribute | None, base: tuple[str, ...]) -> str:
        key = attr.name.lower() if sub is None else f"{attr.name.lower()}.{sub.name.lower()}"
        if urn is not None:
            key = f"{urn.lower()}:{key}"
        column = self.mapping.columns.get(key)
        if column is not None:
            return column
        names = base if sub is None else (*base, sub.name)
        return f"json_extract({self.mapping.document}, {_json_path(*names)})"

    def _leaf(self, operand: Operand, element: ElementExpr | None, cond: Callable[[str], str]) -> str:
        if element is not None:
            return cond(element(operand.attribute))
        attr = operand.attribute
        if attr.multi_valued:
            target = operand.target
            return self._exists(operand.urn, attr, lambda el: cond(el(target)))
        base = (operand.urn, attr.name) if operand.urn is not None else (attr.name,)
        return cond(self._scalar(operand.urn, attr, operand.sub, base))

    def _present(self, operand: Operand, element: ElementExpr | None) -> str:
        attr = operand.attribute
        if element is None and attr.multi_valued and operand.sub is None:
            return self._exists(operand.urn, attr, lambda _el: "1")
        if element is None and attr.is_complex and operand.sub is None:
            path = _json_path(operand.urn, attr.name) if operand.urn is not None else _json_path(attr.name)
            return f"EXISTS (SELECT 1 FROM json_each({self.mapping.document}, {path}))"  # noqa: S608 - trusted
        return self._leaf(operand, element, lambda e: f"{e} <> ''")

    def _condition(self, expr: str, op: CompareOp, p: Prepared) -> str:
        if p.mismatch:
            return "0"
        if p.kind is Kind.BOOLEAN:
            self.params.append(1 if p.value else 0)
            return f"{expr} = ?"
        literal = p.value
        assert isinstance(literal, str)
        if op in _SQL_OPS:
            self.params.append(literal)
            collation = "BINARY" if p.case_exact else "NOCASE"
            return f"{expr} {_SQL_OPS[op]} ? COLLATE {collation}"
        if not literal:
            return f"typeof({expr}) = 'text'"
        subject = expr if p.case_exact else f"lower({expr})"
        value = literal if p.case_exact else ascii_fold(literal)
        if op is CompareOp.CO:
            self.params.append(value)
            return f"instr({subject}, ?) > 0"
        if op is CompareOp.SW:
            self.params.append(value)
            return f"instr({subject}, ?) = 1"
        self.params.extend((len(value), value))
        return f"substr({subject}, -?) = ?"


def compile_sql(f: Filter, schema: ResourceSchema, mapping: SqlMapping) -> tuple[str, list[object]]:
    """Compile `f` into (WHERE expression, parameters) agreeing with `matches`; raises InvalidFilter."""
    compiler = _Compiler(schema, mapping)
    sql = compiler.compile(f, None, None)
    return sql, compiler.params


def sort_sql(path: str, schema: ResourceSchema, mapping: SqlMapping) -> str:
    """A trusted ORDER BY expression for sortBy (RFC 7644 §3.4.2.3); the caller appends ASC/DESC.

    Multi-valued attributes sort by their primary value (else the first one). Unknown attributes raise
    InvalidValue rather than being silently ignored, so a client notices its typo.
    """
    resolved = schema.resolve(path)
    if resolved is None or resolved.attribute.returned == "never":
        raise InvalidValue(f"sortBy attribute {path!r} is not defined")
    attr, urn, sub = resolved.attribute, resolved.urn, resolved.sub
    if attr.multi_valued:
        sub = sub if sub is not None else attr.sub("value")
        if sub is None:
            raise InvalidValue(f"sortBy attribute {path!r} needs a sub-attribute")
        side = mapping.multi_valued.get(attr.name.lower()) if urn is None else None
        if side is not None:
            column = side.columns.get(sub.name.lower())
            if column is None:
                raise InvalidValue(f"sortBy attribute {path!r} is not sortable")
            expr = f"(SELECT min({column}) {side.from_where})"
        else:
            arr = _json_path(urn, attr.name) if urn is not None else _json_path(attr.name)
            expr = (
                f"(SELECT json_extract(s.value, {_json_path(sub.name)}) FROM json_each({mapping.document}, {arr}) AS s "  # noqa: S608 - trusted mapping and schema names
                f"ORDER BY coalesce(json_extract(s.value, '$.\"primary\"'), 0) DESC, s.key LIMIT 1)"
            )
        target = sub
    else:
        if attr.is_complex and sub is None:
            raise InvalidValue(f"sortBy attribute {path!r} is complex; name a sub-attribute")
        compiler = _Compiler(schema, mapping)
        base = (urn, attr.name) if urn is not None else (attr.name,)
        expr = compiler._scalar(urn, attr, sub, base)
        target = sub if sub is not None else attr
    return expr if target.case_exact else f"{expr} COLLATE NOCASE"
