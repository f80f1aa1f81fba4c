"""Public face of SCIM filtering (RFC 7644 §3.4.2.2): parse, format, evaluate in memory, compile to SQL."""

from __future__ import annotations

from bridge.scim.filter_match import matches
from bridge.scim.filter_sql import MultiValuedSql, SqlMapping, compile_sql, sort_sql
from bridge.scim.filter_syntax import (
    And,
    AttrPath,
    Compare,
    CompareOp,
    Filter,
    Literal,
    Not,
    Or,
    Present,
    ValuePath,
    format_filter,
    parse_filter,
)

__all__ = [
    "And",
    "AttrPath",
    "Compare",
    "CompareOp",
    "Filter",
    "Literal",
    "MultiValuedSql",
    "Not",
    "Or",
    "Present",
    "SqlMapping",
    "ValuePath",
    "compile_sql",
    "format_filter",
    "matches",
    "parse_filter",
    "sort_sql",
]
