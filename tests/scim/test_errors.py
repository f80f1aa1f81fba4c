"""RFC 7644 §3.12 error bodies: one renderer, `status` as a string, scimType where the RFC defines one."""

from __future__ import annotations

import pytest

from bridge.scim import errors
from bridge.scim.schemas import ERROR_URN


@pytest.mark.parametrize(
    ("cls", "status", "scim_type"),
    [
        (errors.InvalidFilter, "400", "invalidFilter"),
        (errors.TooMany, "400", "tooMany"),
        (errors.InvalidSyntax, "400", "invalidSyntax"),
        (errors.InvalidPath, "400", "invalidPath"),
        (errors.NoTarget, "400", "noTarget"),
        (errors.InvalidValue, "400", "invalidValue"),
        (errors.Mutability, "400", "mutability"),
        (errors.InvalidVersion, "400", "invalidVers"),
        (errors.Sensitive, "400", "sensitive"),
        (errors.Uniqueness, "409", "uniqueness"),
        (errors.NotFound, "404", None),
        (errors.PreconditionFailed, "412", None),
        (errors.Unauthorized, "401", None),
        (errors.InternalError, "500", None),
    ],
)
def test_error_bodies(cls: type[errors.ScimError], status: str, scim_type: str | None) -> None:
    body = cls("why").to_body()
    assert body["schemas"] == [ERROR_URN]
    assert body["status"] == status
    assert body["detail"] == "why"
    assert body.get("scimType") == scim_type
    assert cls().to_body()["detail"] == cls.default_detail
