"""Normalisation of known IdP deviations from RFC 7643/7644 before bodies are validated.

Each rule names the IdP (see shared/idp/idp-traffic.md). Rules only rename or reshape; validation of the
result happens in resources.py / patch.py as for any other body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from bridge.scim.schemas import ENTERPRISE_USER_URN, GROUP_URN, USER_URN

# OneLogin's default templates (and JumpCloud/Ping "SCIM 1.1" options) put SCIM 1.x URNs in v2 bodies.
LEGACY_URNS: Final[Mapping[str, str]] = {
    "urn:scim:schemas:core:1.0": USER_URN,
    "urn:scim:schemas:extension:enterprise:1.0": ENTERPRISE_USER_URN,
}

# Entra adds its ADSCIM group schema to group POSTs (idp-traffic §13 "Group POST with extra schema URN").
IGNORED_URNS: Final = frozenset({"http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"})


def normalise_body(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """Apply the body-level rules: `body` itself when none applies, else a new mapping (nested values are
    not mutated either way)."""
    if not _may_name_urn(body):
        return body  # every rule is about a URN-named member: most bodies have none but `schemas`
    out: dict[str, Any] = {}
    for key, value in body.items():
        mapped = LEGACY_URNS.get(key.lower())
        if mapped == USER_URN and isinstance(value, Mapping):
            # 1.x core attributes nested under their URN: lift them to the top level
            for k, v in value.items():
                out.setdefault(k, v)
            continue
        out[mapped if mapped is not None else key] = value
    ext = out.get(ENTERPRISE_USER_URN)
    if isinstance(ext, Mapping):
        out[ENTERPRISE_USER_URN] = _onelogin_manager(ext)
    return out


def _may_name_urn(body: Mapping[str, Any]) -> bool:
    """Whether a member's name may start with ``urn:`` (any case): true for every body that has one.

    One join and one lower() for all names instead of a slice and a lower() per name (~9k instructions for
    an Okta user body of seven members, ~1.5k). No character but u, r, n and the colon themselves (in either
    case) lowercases to text holding them, so the text finds each such name; a name holding NUL then
    ``urn:`` is found too, and the rules, which look at each name again, leave that body as it was.
    """
    return "\x00urn:" in "\x00" + "\x00".join(body).lower()


def _onelogin_manager(ext: Mapping[str, Any]) -> dict[str, Any]:
    """OneLogin's enterprise template sends `manager: {managerId, displayName}` (SCIM 1.1 shape)."""
    result = dict(ext)
    for key, value in ext.items():
        if key.lower() == "manager" and isinstance(value, Mapping):
            ids = [v for k, v in value.items() if k.lower() == "managerid"]
            if ids and not any(k.lower() == "value" for k in value):
                result[key] = {"value": ids[0]}
    return result


def normalise_schema_urns(schemas: object) -> list[str]:
    """The `schemas` list with legacy URNs mapped and ignorable ones dropped (non-strings skipped)."""
    if not isinstance(schemas, list):
        return []
    out: list[str] = []
    for urn in schemas:
        if not isinstance(urn, str) or urn in IGNORED_URNS:
            continue
        out.append(LEGACY_URNS.get(urn.lower(), urn))
    return out


def core_urn_present(schemas: list[str], core_urn: str) -> bool:
    """True when the core URN is listed (compared case-insensitively)."""
    return any(s.lower() == core_urn.lower() for s in schemas)


__all__ = [
    "GROUP_URN",
    "IGNORED_URNS",
    "LEGACY_URNS",
    "core_urn_present",
    "normalise_body",
    "normalise_schema_urns",
]
