"""Request content types the bridge accepts (idp-traffic §0.15)."""

from __future__ import annotations

import pytest

from bridge.scim.media import SCIM_MEDIA_TYPE, request_media_type_ok


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        ("application/scim+json; charset=utf-8", True),  # Okta, Entra, authentik
        ("application/json", True),  # OneLogin default, Okta spec-test POST
        ("Application/SCIM+JSON", True),
        ("application/json;charset=UTF-8", True),
        ("text/plain", False),
        ("application/x-www-form-urlencoded", False),
        ("", False),
        (None, False),
    ],
)
def test_request_media_types(header: str | None, ok: bool) -> None:
    assert request_media_type_ok(header) is ok


def test_response_media_type() -> None:
    assert SCIM_MEDIA_TYPE == "application/scim+json"
