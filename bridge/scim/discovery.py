"""Discovery documents (RFC 7643 §5-7): ServiceProviderConfig, ResourceTypes and Schemas.

Generated from the same definitions in schemas.py that drive validation, filtering and PATCH, so they can
never advertise something the code does not do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bridge.scim.schemas import (
    COMPLEX,
    GROUP_SCHEMA,
    REFERENCE,
    RESOURCE_TYPE_URN,
    SCHEMA_URN,
    SPC_URN,
    USER_SCHEMA,
    Attribute,
    ResourceSchema,
    Schema,
)

RESOURCE_TYPES: tuple[ResourceSchema, ...] = (USER_SCHEMA, GROUP_SCHEMA)


@dataclass(frozen=True, slots=True)
class AuthScheme:
    """One entry of ServiceProviderConfig.authenticationSchemes (RFC 7643 §5)."""

    type: str
    name: str
    description: str
    spec_uri: str | None = None
    documentation_uri: str | None = None
    primary: bool = False

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        out: dict[str, Any] = {"type": self.type, "name": self.name, "description": self.description}
        if self.spec_uri:
            out["specUri"] = self.spec_uri
        if self.documentation_uri:
            out["documentationUri"] = self.documentation_uri
        if self.primary:
            out["primary"] = True
        return out


def _meta(base_url: str, resource_type: str, path: str) -> dict[str, str]:
    return {"resourceType": resource_type, "location": f"{base_url.rstrip('/')}{path}"}


def service_provider_config(
    *,
    base_url: str,
    max_results: int,
    max_payload: int,
    auth_schemes: Sequence[AuthScheme],
    etag: bool = True,
    documentation_uri: str | None = None,
    change_password: bool = True,
    max_operations: int = 1000,
) -> dict[str, Any]:
    """RFC 7643 §5. Bulk is not offered; `bulk.maxOperations` stays positive because authentik uses it as
    its PATCH chunk size (idp-traffic §8 authentik, "Discovery")."""
    doc: dict[str, Any] = {
        "schemas": [SPC_URN],
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": max_operations, "maxPayloadSize": max_payload},
        "filter": {"supported": True, "maxResults": max_results},
        "changePassword": {"supported": change_password},
        "sort": {"supported": True},
        "etag": {"supported": etag},
        "authenticationSchemes": [s.to_json() for s in auth_schemes],
        "meta": _meta(base_url, "ServiceProviderConfig", "/ServiceProviderConfig"),
    }
    if documentation_uri:
        doc["documentationUri"] = documentation_uri
    return doc


def resource_type_document(base_url: str, rs: ResourceSchema) -> dict[str, Any]:
    """RFC 7643 §6 for one resource type."""
    return {
        "schemas": [RESOURCE_TYPE_URN],
        "id": rs.name,
        "name": rs.name,
        "endpoint": rs.endpoint,
        "description": rs.description,
        "schema": rs.core.id,
        "schemaExtensions": [{"schema": e.id, "required": False} for e in rs.extensions],
        "meta": _meta(base_url, "ResourceType", f"/ResourceTypes/{rs.name}"),
    }


def resource_types(base_url: str) -> list[dict[str, Any]]:
    """All resource types (User, Group)."""
    return [resource_type_document(base_url, rs) for rs in RESOURCE_TYPES]


def resource_type(base_url: str, name: str) -> dict[str, Any] | None:
    """The resource type called `name` (case-insensitive), or None."""
    for rs in RESOURCE_TYPES:
        if rs.name.lower() == name.lower():
            return resource_type_document(base_url, rs)
    return None


def attribute_document(attr: Attribute) -> dict[str, Any]:
    """RFC 7643 §7 attribute definition."""
    doc: dict[str, Any] = {
        "name": attr.name,
        "type": attr.type,
        "multiValued": attr.multi_valued,
        "description": attr.description,
        "required": attr.required,
        "caseExact": attr.case_exact,
        "mutability": attr.mutability,
        "returned": attr.returned,
        "uniqueness": attr.uniqueness,
    }
    if attr.canonical_values:
        doc["canonicalValues"] = list(attr.canonical_values)
    if attr.type == REFERENCE:
        doc["referenceTypes"] = list(attr.reference_types)
    if attr.type == COMPLEX:
        doc["subAttributes"] = [attribute_document(s) for s in attr.sub_attributes]
    return doc


def schema_document(base_url: str, schema: Schema) -> dict[str, Any]:
    """RFC 7643 §7 for one schema; common attributes (id, externalId, meta) are not listed (§8.7.1)."""
    return {
        "schemas": [SCHEMA_URN],
        "id": schema.id,
        "name": schema.name,
        "description": schema.description,
        "attributes": [attribute_document(a) for a in schema.attributes],
        "meta": _meta(base_url, "Schema", f"/Schemas/{schema.id}"),
    }


def _all_schemas() -> list[Schema]:
    out: list[Schema] = []
    for rs in RESOURCE_TYPES:
        for s in (rs.core, *rs.extensions):
            if s not in out:
                out.append(s)
    return out


def schemas_documents(base_url: str) -> list[dict[str, Any]]:
    """Every schema the service supports."""
    return [schema_document(base_url, s) for s in _all_schemas()]


def schema_by_id(base_url: str, schema_id: str) -> dict[str, Any] | None:
    """The schema document with this URN (case-insensitive), or None."""
    for s in _all_schemas():
        if s.id.lower() == schema_id.lower():
            return schema_document(base_url, s)
    return None
