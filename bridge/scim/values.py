"""Type checking and coercion of attribute values against their definitions (RFC 7643 §2.3).

Tolerant by design (idp-traffic §0.4, §0.9, §0.11): "True"/"False" strings become booleans, a plain string
for a complex attribute with a `value` sub-attribute becomes `{"value": ...}`, a single object for a
multi-valued attribute becomes a one-element list, and `null`, `""` and `[]` mean "no value" (None).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.scim.errors import InvalidValue
from bridge.scim.schemas import BOOLEAN, DECIMAL, INTEGER, Attribute

_PRIMARY = "primary"


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
    if attr.type == INTEGER:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise InvalidValue(f"{attr.name} must be an integer")
    if attr.type == DECIMAL:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        raise InvalidValue(f"{attr.name} must be a number")
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
    if not isinstance(value, Mapping):
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


def check_single_primary(attr: Attribute, values: object) -> None:
    """RFC 7643 §2.4: at most one value of a multi-valued attribute may have primary=true."""
    if not isinstance(values, list) or attr.sub(_PRIMARY) is None:
        return
    if sum(1 for v in values if isinstance(v, Mapping) and v.get(_PRIMARY) is True) > 1:
        raise InvalidValue(f"only one of {attr.name} may be primary")


def keep_last_primary(values: list[Any], chosen: object) -> None:
    """RFC 7644 §3.5.2: setting primary on one value clears it on the others (in place)."""
    for v in values:
        if v is not chosen and isinstance(v, dict) and v.get(_PRIMARY) is True:
            v[_PRIMARY] = False
