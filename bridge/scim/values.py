"""Type checking and coercion of attribute values against their definitions (RFC 7643 §2.3).

Tolerant by design (idp-traffic §0.4, §0.9, §0.11): "True"/"False" strings become booleans, a plain string
for a complex attribute with a `value` sub-attribute becomes `{"value": ...}`, a single object for a
multi-valued attribute becomes a one-element list, and `null`, `""` and `[]` mean "no value" (None).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from bridge.scim.errors import InvalidValue
from bridge.scim.schemas import BOOLEAN, Attribute

_PRIMARY = "primary"

Coercer = Callable[[object], Any]


def coerce(attr: Attribute, value: object) -> Any:
    """Return the canonical form of `value` for `attr`, or None when it clears the attribute."""
    if value is None:
        return None
    if attr.multi_valued:
        items = value if isinstance(value, list) else [value]  # OneLogin sends `emails` as one object
        out = [c for c in (coerce_single(attr, item) for item in items) if c is not None]
        return out or None
    return coerce_single(attr, value)


def coerce_single(attr: Attribute, value: object) -> Any:
    """Coerce one (non-list) value of `attr`; None when it is empty."""
    if value is None:
        return None
    if attr.is_complex:
        return _complex(attr, value)
    if attr.type == BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"  # Entra's "True"/"False" (idp-traffic §0.4)
        if isinstance(value, str) and not value.strip():
            return None
        raise InvalidValue(f"{attr.name} must be a boolean")
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # e.g. employeeNumber sent as a JSON number
    raise InvalidValue(f"{attr.name} must be a string")


def _complex(attr: Attribute, value: object) -> dict[str, Any] | None:
    if isinstance(value, list) and not attr.multi_valued:
        # Entra sometimes sends manager as [{"$ref": ..., "value": id}] (idp-traffic §0.11)
        if not value:
            return None
        if len(value) != 1:
            raise InvalidValue(f"{attr.name} takes a single value")
        value = value[0]
    value_sub = attr.sub("value")
    if isinstance(value, str | int | float) and not isinstance(value, bool) and value_sub is not None:
        # a plain id for manager (Entra) or a bare member id (Microsoft Postman "group garbage")
        coerced = coerce_single(value_sub, value)
        return {value_sub.name: coerced} if coerced is not None else None
    # A dict by its type first (every decoded body's): the Mapping ABC's check costs ~1.7k instructions.
    if type(value) is not dict and not isinstance(value, Mapping):
        raise InvalidValue(f"{attr.name} must be an object")
    out: dict[str, Any] = {}
    for key, raw in value.items():
        sub = attr.sub(str(key))
        if sub is None or (sub.is_read_only and not attr.is_read_only):
            continue  # unknown or server-computed sub-attributes are ignored, not rejected
        coerced = coerce_single(sub, raw)
        if coerced is not None:
            out[sub.name] = coerced
    if attr.multi_valued and value_sub is not None and attr.name == "members" and "value" not in out:
        return None  # a member without an id identifies nobody
    return out or None


def coercer_for(attr: Attribute) -> Coercer:
    """A function that returns what ``coerce(attr, value)`` returns and raises what it raises.

    `coerce` asks the attribute's type, mutability and sub-attributes again for every value, which made
    cleaning an Okta user body ~9% of a create's instructions. The function decides those once, and takes
    a short path for the exact JSON type an attribute expects (a str for a string, a dict for a complex
    value); any other value goes to `coerce_single`, so the tolerant rules live in one place only. Callers
    compile once per schema (resources.clean_input) and reuse the result.
    """
    single = _single_coercer(attr)
    if not attr.multi_valued:
        return single

    def multi(value: object) -> Any:
        if value is None:
            return None
        items = value if isinstance(value, list) else [value]  # OneLogin sends `emails` as one object
        out = [c for c in map(single, items) if c is not None]
        return out or None

    return multi


def _single_coercer(attr: Attribute) -> Coercer:
    """`coerce_single(attr, ...)` with its decisions on `attr` taken once."""
    if attr.is_complex:
        return _complex_coercer(attr)
    generic = functools.partial(coerce_single, attr)
    if attr.type == BOOLEAN:
        return lambda value: value if type(value) is bool else generic(value)
    return lambda value: (value or None) if type(value) is str else generic(value)


def _complex_coercer(attr: Attribute) -> Coercer:
    """`_complex(attr, ...)` for a JSON object, decided once: which sub-attribute each key names (or that it
    is ignored), and each sub-attribute's own coercer."""
    # Keyed by the schema's spelling and by its lowercase, so a key as the schema spells it needs no
    # lower(); None marks a server-computed sub-attribute, ignored like an unknown key.
    subs: dict[str, tuple[str, Coercer] | None] = {}
    for sub in attr.sub_attributes:
        entry = None if sub.is_read_only and not attr.is_read_only else (sub.name, _single_coercer(sub))
        subs[sub.name] = subs[sub.name.lower()] = entry
    needs_value = attr.multi_valued and attr.sub("value") is not None and attr.name == "members"
    generic = functools.partial(coerce_single, attr)

    def complex_value(value: object) -> Any:
        if type(value) is not dict:
            return generic(value)
        out: dict[str, Any] = {}
        for key, raw in value.items():
            entry = subs.get(key) or subs.get(str(key).lower())
            if entry is None:
                continue  # unknown or server-computed sub-attributes are ignored, not rejected
            coerced = entry[1](raw)
            if coerced is not None:
                out[entry[0]] = coerced
        if needs_value and "value" not in out:
            return None  # a member without an id identifies nobody
        return out or None

    return complex_value


def check_single_primary(attr: Attribute, values: object) -> None:
    """RFC 7643 §2.4: at most one value of a multi-valued attribute may have primary=true."""
    if not isinstance(values, list) or attr.sub(_PRIMARY) is None:
        return
    # A loop rather than sum() over a generator, and dicts (every coerced value) known by their type before
    # the Mapping ABC's check: every create with emails asks (~8k instructions for one email, ~3k now).
    primaries = 0
    for v in values:
        if (type(v) is dict or isinstance(v, Mapping)) and v.get(_PRIMARY) is True:
            primaries += 1
    if primaries > 1:
        raise InvalidValue(f"only one of {attr.name} may be primary")


def keep_last_primary(values: list[Any], chosen: object) -> None:
    """RFC 7644 §3.5.2: setting primary on one value clears it on the others (in place)."""
    for v in values:
        if v is not chosen and isinstance(v, dict) and v.get(_PRIMARY) is True:
            v[_PRIMARY] = False
