"""Cleaning POST/PUT bodies into canonical documents, and rendering documents for responses (RFC 7643 §2, §7).

Canonical document: attribute names in schema casing, core attributes at the top level, extension attributes
under their URN, no null/empty values, `schemas` listing the core URN and the extensions present.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, Final

from bridge.scim.compat import core_urn_present, normalise_body, normalise_schema_urns
from bridge.scim.errors import InvalidSyntax, InvalidValue
from bridge.scim.schemas import Attribute, ResourceSchema
from bridge.scim.values import Coercer, check_single_primary, coerce, coercer_for

_SERVER_KEYS = frozenset({"id", "meta", "schemas"})


def clean_input(body: object, schema: ResourceSchema, *, strict: bool = False) -> dict[str, Any]:
    """Validate and normalise a POST/PUT body into a canonical document (keeps `password` for the service).

    Tolerant mode (the default) accepts missing or SCIM 1.x `schemas`, ignores unknown attributes and drops
    client-sent `id`, `meta` and readOnly attributes (idp-traffic §0.9). Strict mode rejects a `schemas`
    list without the core URN and unknown attributes with 400 invalidSyntax.
    """
    if type(body) is not dict and not isinstance(body, Mapping):
        raise InvalidSyntax("the request body must be a JSON object")
    body = normalise_body(body)
    if strict and not core_urn_present(normalise_schema_urns(_get_ci(body, "schemas")), schema.core.id):
        raise InvalidSyntax(f"schemas must contain {schema.core.id}")
    doc: dict[str, Any] = {}
    plan = _input_plan(schema)
    for key, value in body.items():
        step = plan.get(key) or plan.get(key.lower())
        if step is None:
            _clean_key(doc, schema, key, value, strict=strict)
        elif step is not _IGNORED:
            urn, attr, coerce_value, one_primary = step
            coerced = coerce_value(value)
            if coerced is not None:
                if one_primary:
                    check_single_primary(attr, coerced)
                (doc if urn is None else _container(doc, urn))[attr.name] = coerced
    _check_required(doc, schema)
    finish_document(doc, schema)
    return doc


def _clean_key(doc: dict[str, Any], schema: ResourceSchema, key: str, value: object, *, strict: bool) -> None:
    """Put one body member into `doc` (any key; clean_input's plan answers the usual ones without this)."""
    if key.lower() in _SERVER_KEYS:
        return
    urn, rest = schema.split_urn(key)
    if urn is not None and not rest:
        _clean_extension(doc, schema, urn, value, strict=strict)
        return
    resolved = schema.resolve(key)
    if resolved is None:
        if strict:
            raise InvalidSyntax(f"unknown attribute {key!r}")
        return
    if resolved.attribute.is_read_only:
        return
    if resolved.sub is not None:  # tolerated dotted key such as "name.givenName"
        coerced = coerce(resolved.sub, value)
        if coerced is not None:
            container = _container(doc, resolved.urn)
            container.setdefault(resolved.attribute.name, {})[resolved.sub.name] = coerced
        return
    _put(doc, resolved.urn, resolved.attribute, value)


# What clean_input does with a top-level attribute name: (URN, attribute, its coercer, whether it may hold
# one primary value at most), or _IGNORED for names it drops (id, meta, schemas, readOnly attributes).
_Step = tuple[str | None, Attribute, Coercer, bool]
_IGNORED: Final[_Step] = (None, Attribute("ignored"), lambda value: None, False)


@functools.lru_cache(maxsize=16)  # one entry per schema object (identity-hashed); there are two
def _input_plan(schema: ResourceSchema) -> dict[str, _Step]:
    """clean_input's decision for each attribute name a body usually holds, taken once per schema by
    `_clean_key`'s own rules, keyed by the schema's spelling and by its lowercase. A name not here (a
    URN, a dotted path, an unknown name) takes `_clean_key`."""
    plan: dict[str, _Step] = {}
    for _, attr in schema.all_attributes():
        lowered = attr.name.lower()
        resolved = schema.resolve(lowered)
        if lowered in _SERVER_KEYS or (resolved is not None and resolved.attribute.is_read_only):
            step = _IGNORED
        elif resolved is None or resolved.sub is not None or schema.split_urn(lowered)[0] is not None:
            continue
        else:
            found = resolved.attribute
            step = (resolved.urn, found, coercer_for(found), found.sub("primary") is not None)
        plan.setdefault(attr.name, step)
        plan.setdefault(lowered, step)
    return plan


def _clean_extension(
    doc: dict[str, Any], schema: ResourceSchema, urn: str, value: object, *, strict: bool
) -> None:
    ext = schema.extension(urn)
    if ext is None:
        if strict:
            raise InvalidSyntax(f"unknown schema extension {urn!r}")
        return
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise InvalidValue(f"{ext.id} must be an object")
    for key, raw in value.items():
        attr = ext.attribute(str(key))
        if attr is None:
            if strict:
                raise InvalidSyntax(f"unknown attribute {key!r} in {ext.id}")
            continue
        if not attr.is_read_only:
            _put(doc, ext.id, attr, raw)


def _put(doc: dict[str, Any], urn: str | None, attr: Attribute, value: object) -> None:
    coerced = coerce(attr, value)
    if coerced is None:
        return
    check_single_primary(attr, coerced)
    _container(doc, urn)[attr.name] = coerced


def _container(doc: dict[str, Any], urn: str | None) -> dict[str, Any]:
    if urn is None:
        return doc
    ext = doc.get(urn)
    if not isinstance(ext, dict):
        ext = doc[urn] = {}
    return ext


def _get_ci(body: Mapping[str, Any], name: str) -> Any:
    for key, value in body.items():
        if key.lower() == name:
            return value
    return None


@functools.lru_cache(maxsize=16)  # one entry per schema object (identity-hashed); there are two
def required_attributes(schema: ResourceSchema) -> tuple[tuple[str | None, Attribute], ...]:
    """The schema's required top-level attributes with their owning URN, computed once (every write checks
    them, and walking all attributes per check showed in PATCH profiles)."""
    return tuple((urn, attr) for urn, attr in schema.all_attributes() if attr.required)


def _check_required(doc: Mapping[str, Any], schema: ResourceSchema) -> None:
    for urn, attr in required_attributes(schema):
        if attr.is_read_only:
            continue
        container = doc if urn is None else doc.get(urn)
        # A dict (every cleaned document) by its type: the Mapping ABC's check costs ~2k instructions.
        if (type(container) is not dict and not isinstance(container, Mapping)) or container.get(
            attr.name
        ) is None:
            raise InvalidValue(f"{attr.name} is required")


def finish_document(doc: dict[str, Any], schema: ResourceSchema) -> None:
    """Drop empty extension objects and set `schemas` to the core URN plus the extensions present."""
    present: list[str] = [schema.core.id]
    for ext in schema.extensions:
        value = doc.get(ext.id)
        if isinstance(value, dict) and value:
            present.append(ext.id)
        else:
            doc.pop(ext.id, None)
    doc["schemas"] = present


def check_required(doc: Mapping[str, Any], schema: ResourceSchema) -> None:
    """Raise InvalidValue when a required attribute (userName, Group displayName) is missing."""
    _check_required(doc, schema)


_PlanEntry = tuple[str | None, Attribute, str, str | None]


@functools.lru_cache(maxsize=16)  # one entry per schema object (identity-hashed); there are two
def _render_plan(schema: ResourceSchema) -> tuple[_PlanEntry, ...]:
    """Per top-level attribute: its URN, itself, and its lowercased projection keys, computed once."""
    plan: list[_PlanEntry] = []
    for urn, attr in schema.all_attributes():
        if attr.name in ("schemas", "id", "meta") and urn is None:
            continue
        key = attr.name.lower() if urn is None else f"{urn.lower()}:{attr.name.lower()}"
        plan.append((urn, attr, key, urn.lower() if urn is not None else None))
    return tuple(plan)


class _Projection:
    """Parsed `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5), keyed by lowercased full paths."""

    __slots__ = ("subs", "whole")

    def __init__(self, schema: ResourceSchema, paths: Sequence[str]) -> None:
        self.whole: set[str] = set()
        self.subs: dict[str, set[str]] = {}
        for raw in paths:
            path = raw.strip()
            urn, rest = schema.split_urn(path)
            if urn is not None and not rest:
                self.whole.add(urn.lower())
                continue
            resolved = schema.resolve(path)
            if resolved is None:
                continue  # unknown names are ignored, as for writes
            top = (
                resolved.attribute.name.lower()
                if resolved.urn is None
                else f"{resolved.urn.lower()}:{resolved.attribute.name.lower()}"
            )
            if resolved.sub is None:
                self.whole.add(top)
            else:
                self.subs.setdefault(top, set()).add(resolved.sub.name)

    def __bool__(self) -> bool:
        return bool(self.whole or self.subs)


def render(
    doc: Mapping[str, Any],
    schema: ResourceSchema,
    *,
    location: str,
    attributes: Sequence[str] = (),
    excluded: Sequence[str] = (),
    copy: bool = True,
) -> dict[str, Any]:
    """Render a stored document for a response: returned-characteristics, projection, schemas and meta.

    `id`, `schemas` and `meta` are always returned; `password` never; `returned: request` attributes only
    when named in `attributes`. `attributes` wins over `excluded` when both are given (RFC 7644 §3.9).
    Values are copied, so the result does not alias `doc`; a caller that encodes the result at once and
    lets it go passes copy=False (the tree copy cost about as much as the rest of a user's rendering).
    """
    out: dict[str, Any] = {"schemas": [schema.core.id]}
    if doc.get("id") is not None:
        out["id"] = doc["id"]
    if attributes or excluded:
        _put_projected(out, doc, schema, attributes, excluded, copy)
    else:
        _put_plain(out, doc, schema, copy)
    for ext in schema.extensions:
        if out.get(ext.id):
            out["schemas"].append(ext.id)
        else:
            out.pop(ext.id, None)
    meta = dict(doc.get("meta") or {})
    meta["resourceType"] = schema.name
    meta["location"] = location
    out["meta"] = meta
    return out


def _put_projected(
    out: dict[str, Any],
    doc: Mapping[str, Any],
    schema: ResourceSchema,
    attributes: Sequence[str],
    excluded: Sequence[str],
    copy: bool,
) -> None:
    wanted = _Projection(schema, attributes)
    unwanted = _Projection(schema, excluded) if not wanted else _Projection(schema, ())
    for urn, attr, key, urn_key in _render_plan(schema):
        # Most schema attributes are absent from a document: find that out with one dict lookup.
        if urn is None:
            value = doc.get(attr.name)
        else:
            container = doc.get(urn)
            if container is None or (type(container) is not dict and not isinstance(container, Mapping)):
                continue
            value = container.get(attr.name)
        if value is None or attr.returned == "never":
            continue
        # an explicit [] (e.g. a group's loaded, empty member list) is rendered: authentik adds nobody
        # when a GET lacks `members` (idp-traffic §8 authentik)
        explicit_empty = value == []
        if wanted:
            whole = key in wanted.whole or (urn_key is not None and urn_key in wanted.whole)
            if not whole and key not in wanted.subs and attr.returned != "always":
                continue
            value = _only_subs(value, wanted.subs.get(key)) if not whole and key in wanted.subs else value
        else:
            if attr.returned == "request":
                continue
            if attr.returned != "always" and (
                key in unwanted.whole or (urn_key is not None and urn_key in unwanted.whole)
            ):
                continue
            if key in unwanted.subs:
                value = _without_subs(value, unwanted.subs[key])
        if value is None or value == {} or (value == [] and not explicit_empty):
            continue
        target = out if urn is None else out.setdefault(urn, {})
        target[attr.name] = copy_value(value) if copy else value


@functools.lru_cache(maxsize=16)  # as _render_plan
def plain_plan(schema: ResourceSchema) -> tuple[tuple[str | None, tuple[str, ...]], ...]:
    """The top-level attributes a read without projection may return, in `_render_plan`'s order, as runs of
    names that share a URN (None: the core schema's): (URN, names)."""
    runs: list[tuple[str | None, list[str]]] = []
    for urn, attr, _, _ in _render_plan(schema):
        if attr.returned in ("never", "request"):
            continue
        if not runs or runs[-1][0] != urn:
            runs.append((urn, []))
        runs[-1][1].append(attr.name)
    return tuple((urn, tuple(names)) for urn, names in runs)


def _put_plain(out: dict[str, Any], doc: Mapping[str, Any], schema: ResourceSchema, copy: bool) -> None:
    """_put_projected without projection (the IdPs' usual read), with the same result for less work.

    An extension's container is looked up once for all its attributes, and skipped whole when the document
    has none (most users: the enterprise extension's six were six lookups, ~5k instructions per render).
    """
    for urn, names in plain_plan(schema):
        if urn is None:
            container: Mapping[str, Any] = doc
        else:
            found = doc.get(urn)
            if found is None or (type(found) is not dict and not isinstance(found, Mapping)):
                continue
            container = found
        target: dict[str, Any] | None = None
        for name in names:
            value = container.get(name)
            if value is None or value == {}:  # an explicit [] is rendered, as in _put_projected
                continue
            if target is None:
                target = out if urn is None else out.setdefault(urn, {})
            target[name] = copy_value(value) if copy else value


# Most values in a document are strings, numbers and booleans: one set lookup tells them apart from the
# containers, where two isinstance calls and a function call per leaf made most of a document copy's cost.
ATOMS: Final = frozenset({str, int, float, bool, type(None)})


def copy_value(value: Any) -> Any:
    """Copy a JSON-shaped value (dicts, lists, immutable scalars) without deepcopy's memo and dispatch."""
    if isinstance(value, list):
        return [v if type(v) in ATOMS else copy_value(v) for v in value]
    if isinstance(value, dict):
        return {k: v if type(v) in ATOMS else copy_value(v) for k, v in value.items()}
    return value


def _only_subs(value: Any, subs: set[str] | None) -> Any:
    if subs is None:
        return value
    if isinstance(value, list):
        return [x for x in (_only_subs(v, subs) for v in value) if x]
    if isinstance(value, Mapping):
        return {k: v for k, v in value.items() if k in subs}
    return value


def _without_subs(value: Any, subs: set[str]) -> Any:
    if isinstance(value, list):
        return [x for x in (_without_subs(v, subs) for v in value) if x]
    if isinstance(value, Mapping):
        return {k: v for k, v in value.items() if k not in subs}
    return value
