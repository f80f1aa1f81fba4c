"""SCIM media types (RFC 7644 §3.1, §8.1): what requests may carry and what responses use."""

from __future__ import annotations

from typing import Final

SCIM_MEDIA_TYPE: Final = "application/scim+json"
ACCEPTED_REQUEST_TYPES: Final = frozenset({SCIM_MEDIA_TYPE, "application/json"})


def request_media_type_ok(content_type: str | None) -> bool:
    """True for application/scim+json or application/json, any case, with or without parameters.

    OneLogin and Okta's spec-test POST send application/json; Okta, Entra and authentik send
    application/scim+json; charset=utf-8 (idp-traffic §0.15).
    """
    if content_type is None:
        return False
    essence = content_type.split(";", 1)[0].strip().lower()
    return essence in ACCEPTED_REQUEST_TYPES
