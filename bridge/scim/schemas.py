"""SCIM URNs and attribute definitions for User, Enterprise User and Group (RFC 7643 §2, §4, §7).

Everything else (input cleaning, filters, PATCH, projection, discovery) takes a `ResourceSchema` as a parameter.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from bridge.scim.errors import ERROR_URN

__all__ = [
    "ENTERPRISE_USER_URN",
    "ERROR_URN",
    "GROUP_SCHEMA",
    "GROUP_URN",
    "LIST_RESPONSE_URN",
    "PATCH_OP_URN",
    "RESOURCE_TYPE_URN",
    "SCHEMA_URN",
    "SEARCH_REQUEST_URN",
    "SPC_URN",
    "USER_SCHEMA",
    "USER_URN",
    "Attribute",
    "ResolvedPath",
    "ResourceSchema",
    "Schema",
]

USER_URN: Final = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN: Final = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER_URN: Final = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE_URN: Final = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP_URN: Final = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_REQUEST_URN: Final = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
SCHEMA_URN: Final = "urn:ietf:params:scim:schemas:core:2.0:Schema"
RESOURCE_TYPE_URN: Final = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SPC_URN: Final = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"

STRING: Final = "string"
BOOLEAN: Final = "boolean"
DATETIME: Final = "dateTime"
BINARY: Final = "binary"
REFERENCE: Final = "reference"
COMPLEX: Final = "complex"


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute definition with the RFC 7643 §7 characteristics."""

    name: str
    type: str = STRING
    multi_valued: bool = False
    sub_attributes: tuple[Attribute, ...] = ()
    mutability: str = "readWrite"
    returned: str = "default"
    case_exact: bool = False
    uniqueness: str = "none"
    required: bool = False
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    description: str = ""
    _subs: dict[str, Attribute] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._subs.update({s.name.lower(): s for s in self.sub_attributes})

    def sub(self, name: str) -> Attribute | None:
        """Return the sub-attribute called `name` (case-insensitive, RFC 7643 §2.1)."""
        return self._subs.get(name.lower())

    @property
    def is_complex(self) -> bool:
        """True for complex attributes."""
        return self.type == COMPLEX

    @property
    def is_read_only(self) -> bool:
        """True when clients may not write this attribute."""
        return self.mutability == "readOnly"


@dataclass(frozen=True, slots=True)
class Schema:
    """A core or extension schema: its URN and top-level attributes."""

    id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]
    _by_name: dict[str, Attribute] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update({a.name.lower(): a for a in self.attributes})

    def attribute(self, name: str) -> Attribute | None:
        """Return the top-level attribute called `name` (case-insensitive)."""
        return self._by_name.get(name.lower())


@dataclass(frozen=True, slots=True)
class ResolvedPath:
    """An attribute path resolved against a resource schema, in canonical casing.

    `urn` is None for core and common attributes (they live at the top level of the document) and the
    extension URN for extension attributes (they live under `doc[urn]`).
    """

    urn: str | None
    attribute: Attribute
    sub: Attribute | None


@dataclass(frozen=True, slots=True, eq=False)  # identity hash: cheap key for the resolve cache
class ResourceSchema:
    """A resource type: endpoint, core schema, extensions and the common attributes (RFC 7643 §3, §6)."""

    name: str
    endpoint: str
    description: str
    core: Schema
    extensions: tuple[Schema, ...] = ()
    common: tuple[Attribute, ...] = ()
    _common: dict[str, Attribute] = field(default_factory=dict, init=False, repr=False, compare=False)
    _urns: dict[str, Schema] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._common.update({a.name.lower(): a for a in self.common})
        self._urns.update({s.id.lower(): s for s in (self.core, *self.extensions)})

    def schema_for_urn(self, urn: str) -> Schema | None:
        """The core or extension schema with this URN (case-insensitive)."""
        return self._urns.get(urn.lower())

    def extension(self, urn: str) -> Schema | None:
        """The extension schema with this URN (case-insensitive), or None."""
        found = self._urns.get(urn.lower())
        return found if found is not None and found is not self.core else None

    def top_level(self, name: str, urn: str | None = None) -> tuple[str | None, Attribute] | None:
        """Find a top-level attribute by name; `urn` restricts the lookup to one schema."""
        if urn is not None:
            schema = self.schema_for_urn(urn)
            if schema is None:
                return None
            attr = schema.attribute(name)
            if attr is None:
                return None
            return (None if schema is self.core else schema.id), attr
        common = self._common.get(name.lower())
        if common is not None:
            return None, common
        core = self.core.attribute(name)
        if core is not None:
            return None, core
        # Entra documents `path: "manager"` without the enterprise URN: fall back to the extensions.
        for ext in self.extensions:
            attr = ext.attribute(name)
            if attr is not None:
                return ext.id, attr
        return None

    def split_urn(self, path: str) -> tuple[str | None, str]:
        """Split a URN-qualified path into (URN or None, rest); `rest` is '' for a bare schema URN."""
        lowered = path.lower()
        if not lowered.startswith("urn:"):
            return None, path
        if lowered in self._urns:
            return self._urns[lowered].id, ""
        for urn_lower, schema in self._urns.items():
            if lowered.startswith(urn_lower + ":"):
                return schema.id, path[len(urn_lower) + 1 :]
        # An unknown URN: its attribute name is what follows the last ':' (RFC 7644 §3.10).
        head, _, tail = path.rpartition(":")
        return head, tail

    def resolve(self, path: str) -> ResolvedPath | None:
        """Resolve `name`, `name.sub`, or a URN-qualified path; None when the schema has no such attribute."""
        return _resolve_cached(self, path.lower())

    def _resolve(self, path: str) -> ResolvedPath | None:
        urn, rest = self.split_urn(path)
        if not rest:
            return None
        name, _, sub_name = rest.partition(".")
        found = self.top_level(name, urn)
        if found is None:
            return None
        owner, attr = found
        if not sub_name:
            return ResolvedPath(owner, attr, None)
        sub = attr.sub(sub_name)
        if sub is None:
            return None
        return ResolvedPath(owner, attr, sub)

    def all_attributes(self) -> list[tuple[str | None, Attribute]]:
        """Every top-level attribute with its owning extension URN (None for core and common)."""
        out: list[tuple[str | None, Attribute]] = [(None, a) for a in self.common]
        out.extend((None, a) for a in self.core.attributes)
        for ext in self.extensions:
            out.extend((ext.id, a) for a in ext.attributes)
        return out


@functools.lru_cache(maxsize=4096)  # bounded: paths come from client input
def _resolve_cached(schema: ResourceSchema, path: str) -> ResolvedPath | None:
    return schema._resolve(path)


def _multi(
    name: str,
    description: str,
    *,
    types: tuple[str, ...] = ("work", "home", "other"),
    value_type: str = STRING,
    extra: tuple[Attribute, ...] = (),
    reference_types: tuple[str, ...] = (),
) -> Attribute:
    """The usual multi-valued complex shape of RFC 7643 §2.4: value, display, type, primary."""
    subs = (
        Attribute("value", value_type, reference_types=reference_types, description=f"Value of {name}."),
        Attribute("display", description="A human-readable name, primarily used for display purposes."),
        Attribute("type", canonical_values=types, description="A label indicating the attribute's function."),
        Attribute("primary", BOOLEAN, description="Indicates the primary or preferred value."),
        *extra,
    )
    return Attribute(name, COMPLEX, multi_valued=True, sub_attributes=subs, description=description)


COMMON_ATTRIBUTES: Final = (
    Attribute(
        "schemas",
        REFERENCE,
        multi_valued=True,
        mutability="readOnly",
        returned="always",
        case_exact=True,
        reference_types=("uri",),
        description="The schema URNs the resource conforms to (RFC 7643 §3).",
    ),
    Attribute(
        "id",
        mutability="readOnly",
        returned="always",
        case_exact=True,
        uniqueness="server",
        description="Unique identifier for the SCIM resource as defined by the service provider.",
    ),
    Attribute(
        "externalId", case_exact=True, description="Identifier for the resource as defined by the client."
    ),
    Attribute(
        "meta",
        COMPLEX,
        mutability="readOnly",
        description="Resource metadata.",
        sub_attributes=(
            Attribute("resourceType", mutability="readOnly", case_exact=True),
            Attribute("created", DATETIME, mutability="readOnly"),
            Attribute("lastModified", DATETIME, mutability="readOnly"),
            Attribute(
                "location", REFERENCE, mutability="readOnly", reference_types=("uri",), case_exact=True
            ),
            Attribute("version", mutability="readOnly", case_exact=True),
        ),
    ),
)

_NAME = Attribute(
    "name",
    COMPLEX,
    description="The components of the user's real name.",
    sub_attributes=(
        Attribute("formatted", description="The full name, formatted for display."),
        Attribute("familyName", description="The family name of the User."),
        Attribute("givenName", description="The given name of the User."),
        Attribute("middleName", description="The middle name(s) of the User."),
        Attribute("honorificPrefix", description="The honorific prefix(es) of the User."),
        Attribute("honorificSuffix", description="The honorific suffix(es) of the User."),
    ),
)

_ADDRESSES = Attribute(
    "addresses",
    COMPLEX,
    multi_valued=True,
    description="A physical mailing address for this User.",
    sub_attributes=(
        Attribute("formatted", description="The full mailing address, formatted for display."),
        Attribute("streetAddress", description="The full street address component."),
        Attribute("locality", description="The city or locality component."),
        Attribute("region", description="The state or region component."),
        Attribute("postalCode", description="The zip code or postal code component."),
        Attribute("country", description="The country name component (ISO 3166-1 alpha-2)."),
        Attribute("type", canonical_values=("work", "home", "other"), description="The kind of address."),
        Attribute("primary", BOOLEAN, description="Indicates the primary address."),
    ),
)

_GROUPS = Attribute(
    "groups",
    COMPLEX,
    multi_valued=True,
    mutability="readOnly",
    description="A list of groups to which the user belongs.",
    sub_attributes=(
        Attribute("value", mutability="readOnly", description="The identifier of the User's group."),
        Attribute(
            "$ref",
            REFERENCE,
            mutability="readOnly",
            reference_types=("User", "Group"),
            description="The URI of the corresponding Group resource.",
        ),
        Attribute("display", mutability="readOnly", description="A human-readable name."),
        Attribute(
            "type",
            mutability="readOnly",
            canonical_values=("direct", "indirect"),
            description="Membership type.",
        ),
    ),
)

USER_CORE: Final = Schema(
    USER_URN,
    "User",
    "User Account",
    (
        Attribute(
            "userName",
            required=True,
            uniqueness="server",
            description="Unique identifier for the User, typically used to authenticate.",
        ),
        _NAME,
        Attribute("displayName", description="The name of the User, suitable for display to end-users."),
        Attribute("nickName", description="The casual way to address the user."),
        Attribute("profileUrl", REFERENCE, reference_types=("external",), description="Profile URL."),
        Attribute("title", description="The user's title, such as 'Vice President'."),
        Attribute("userType", description="The organization-to-user relationship."),
        Attribute("preferredLanguage", description="The User's preferred written or spoken language."),
        Attribute("locale", description="The User's default location."),
        Attribute("timezone", description="The User's time zone in the Olson format."),
        Attribute("active", BOOLEAN, description="The User's administrative status."),
        Attribute(
            "password",
            mutability="writeOnly",
            returned="never",
            description="The User's cleartext password; never returned.",
        ),
        _multi("emails", "Email addresses for the user."),
        _multi(
            "phoneNumbers",
            "Phone numbers for the User.",
            types=("work", "home", "mobile", "fax", "pager", "other"),
        ),
        _multi("ims", "Instant messaging addresses for the User.", types=("aim", "gtalk", "icq", "xmpp")),
        _multi(
            "photos",
            "URLs of photos of the User.",
            types=("photo", "thumbnail"),
            value_type=REFERENCE,
            reference_types=("external",),
        ),
        _ADDRESSES,
        _GROUPS,
        _multi("entitlements", "A list of entitlements for the User.", types=()),
        _multi("roles", "A list of roles for the User.", types=()),
        _multi("x509Certificates", "A list of certificates issued to the User.", types=(), value_type=BINARY),
    ),
)

ENTERPRISE_USER: Final = Schema(
    ENTERPRISE_USER_URN,
    "EnterpriseUser",
    "Enterprise User",
    (
        Attribute("employeeNumber", description="Numeric or alphanumeric identifier assigned to a person."),
        Attribute("costCenter", description="Identifies the name of a cost center."),
        Attribute("organization", description="Identifies the name of an organization."),
        Attribute("division", description="Identifies the name of a division."),
        Attribute("department", description="Identifies the name of a department."),
        Attribute(
            "manager",
            COMPLEX,
            description="The User's manager.",
            sub_attributes=(
                Attribute("value", description="The id of the SCIM resource representing the manager."),
                Attribute(
                    "$ref", REFERENCE, reference_types=("User",), description="The URI of the manager."
                ),
                Attribute("displayName", mutability="readOnly", description="The manager's displayName."),
            ),
        ),
    ),
)

GROUP_CORE: Final = Schema(
    GROUP_URN,
    "Group",
    "Group",
    (
        Attribute("displayName", required=True, description="A human-readable name for the Group."),
        Attribute(
            "members",
            COMPLEX,
            multi_valued=True,
            description="A list of members of the Group.",
            sub_attributes=(
                Attribute("value", mutability="immutable", description="Identifier of the member."),
                Attribute(
                    "$ref",
                    REFERENCE,
                    mutability="immutable",
                    reference_types=("User", "Group"),
                    description="The URI of the member resource.",
                ),
                Attribute("display", description="A human-readable name of the member."),
                Attribute(
                    "type",
                    mutability="immutable",
                    canonical_values=("User", "Group"),
                    description="The type of member.",
                ),
            ),
        ),
    ),
)

USER_SCHEMA: Final = ResourceSchema(
    "User", "/Users", "User Account", USER_CORE, (ENTERPRISE_USER,), COMMON_ATTRIBUTES
)
GROUP_SCHEMA: Final = ResourceSchema("Group", "/Groups", "Group", GROUP_CORE, (), COMMON_ATTRIBUTES)

RESOURCE_SCHEMAS: Final[Mapping[str, ResourceSchema]] = {"User": USER_SCHEMA, "Group": GROUP_SCHEMA}
