"""SCIM error tree and the one function that renders an RFC 7644 §3.12 error body.

ScimError
├── BadRequest (400, no scimType)
│   ├── InvalidFilter (invalidFilter)      ├── InvalidSyntax (invalidSyntax)
│   ├── TooMany (tooMany)                  ├── InvalidPath (invalidPath)
│   ├── InvalidValue (invalidValue)        ├── NoTarget (noTarget)
│   ├── Mutability (mutability)            ├── InvalidVersion (invalidVers)
│   └── Sensitive (sensitive)
├── Unauthorized (401)   Forbidden (403)   NotFound (404)   MethodNotAllowed (405)
├── Uniqueness (409 uniqueness)   Conflict (409)
├── PreconditionFailed (412)   PayloadTooLarge (413)   UnsupportedMediaType (415)
├── TooManyRequests (429)   NotImplementedByServer (501)
└── InternalError (500)   ServiceUnavailable (503)
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

ERROR_URN: Final = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimError(Exception):
    """Base of every error the bridge answers with (RFC 7644 §3.12)."""

    status: int = 400
    scim_type: str | None = None
    default_detail: ClassVar[str] = "Bad request."

    def __init__(
        self, detail: str | None = None, *, retry_after: int | None = None, status: int | None = None
    ) -> None:
        self.detail = detail or self.default_detail
        self.retry_after = retry_after
        if status is not None:
            self.status = status
        super().__init__(self.detail)

    def to_body(self) -> dict[str, Any]:
        """Render the §3.12 error body; `status` is a string as the RFC requires."""
        body: dict[str, Any] = {
            "schemas": [ERROR_URN],
            "status": str(self.status),
            "detail": self.detail,
        }
        if self.scim_type is not None:
            body["scimType"] = self.scim_type
        return body


class BadRequest(ScimError):
    """400 without a more specific scimType."""


class InvalidFilter(ScimError):
    """RFC 7644 §3.12: the filter syntax was invalid or the operator is unsupported."""

    scim_type = "invalidFilter"
    default_detail = "The specified filter syntax was invalid."


class TooMany(ScimError):
    """RFC 7644 §3.12: the filter would return more results than the server allows."""

    scim_type = "tooMany"
    default_detail = "The specified filter yields too many results."


class InvalidSyntax(ScimError):
    """RFC 7644 §3.12: the request body structure was invalid."""

    scim_type = "invalidSyntax"
    default_detail = "The request body message structure was invalid."


class InvalidPath(ScimError):
    """RFC 7644 §3.12: the PATCH path was invalid or unsupported."""

    scim_type = "invalidPath"
    default_detail = "The path attribute was invalid or malformed."


class NoTarget(ScimError):
    """RFC 7644 §3.12: the path did not yield an attribute that could be operated on."""

    scim_type = "noTarget"
    default_detail = "The specified path did not yield a target."


class InvalidValue(ScimError):
    """RFC 7644 §3.12: a required value was missing or a value was not compatible."""

    scim_type = "invalidValue"
    default_detail = "A required value was missing or the value specified was not compatible."


class Mutability(ScimError):
    """RFC 7644 §3.12: the change is incompatible with the attribute's mutability."""

    scim_type = "mutability"
    default_detail = "The attempted modification is not compatible with the attribute's mutability."


class InvalidVersion(ScimError):
    """RFC 7644 §3.12: the specified SCIM protocol version is not supported."""

    scim_type = "invalidVers"
    default_detail = "The specified SCIM protocol version is not supported."


class Sensitive(ScimError):
    """RFC 7644 §3.12 / §7.5.2: sensitive information was sent in the request URI."""

    scim_type = "sensitive"
    default_detail = "The request cannot be completed because it contains sensitive information."


class Unauthorized(ScimError):
    """401: missing or wrong IdP credentials (RFC 7644 §2)."""

    status = 401
    default_detail = "Authorization failure."


class Forbidden(ScimError):
    """403: the client may not perform this operation."""

    status = 403
    default_detail = "Operation not permitted."


class NotFound(ScimError):
    """404: the resource or endpoint does not exist."""

    status = 404
    default_detail = "Resource not found."


class MethodNotAllowed(ScimError):
    """405: the endpoint does not support this method."""

    status = 405
    default_detail = "Method not allowed."


class Uniqueness(ScimError):
    """RFC 7644 §3.12: a unique attribute value is already in use (409)."""

    status = 409
    scim_type = "uniqueness"
    default_detail = "One or more of the attribute values are already in use or are reserved."


class Conflict(ScimError):
    """409 without scimType: the operation conflicts with the resource's current state."""

    status = 409
    default_detail = "The request conflicts with the current state of the resource."


class PreconditionFailed(ScimError):
    """412: If-Match did not match the resource's current version (RFC 7644 §3.14)."""

    status = 412
    default_detail = "The resource has changed since the version given in If-Match."


class PayloadTooLarge(ScimError):
    """413: the request body exceeds the configured limit."""

    status = 413
    default_detail = "The request body is too large."


class UnsupportedMediaType(ScimError):
    """415: the body is not application/scim+json or application/json."""

    status = 415
    default_detail = "Content-Type must be application/scim+json or application/json."


class TooManyRequests(ScimError):
    """429: the client, or the master behind us, asks to slow down."""

    status = 429
    default_detail = "Too many requests; retry later."


class InternalError(ScimError):
    """500: an unexpected failure; details stay in the log."""

    status = 500
    default_detail = "Internal server error."


class NotImplementedByServer(ScimError):
    """501: the operation is defined by SCIM but not offered (e.g. /Bulk, /Me)."""

    status = 501
    default_detail = "Not implemented."


class ServiceUnavailable(ScimError):
    """503: the Determined master is unreachable or timing out."""

    status = 503
    default_detail = "The Determined master is unavailable; retry later."
