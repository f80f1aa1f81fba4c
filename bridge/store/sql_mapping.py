"""Where SCIM attributes live in SQL, published as plain data for the SCIM filter compiler.

provisioning/ wraps these into `bridge.scim.filters.SqlMapping` (the store must not import bridge/scim).
Store.list_users / list_groups run the compiled WHERE/ORDER BY against exactly these table aliases.
Keys are lowercased attribute paths, as SqlMapping documents; unmapped attributes fall back to
json_extract over the document expression.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

USER_TABLE_ALIAS: Final = "u"
USER_DOCUMENT_SQL: Final = "u.doc"
USER_COLUMNS: Final[Mapping[str, str]] = {
    "id": "u.scim_id",
    "username": "u.user_name",
    "externalid": "u.external_id",
    "displayname": "u.display_name",
    "active": "u.active",
    "meta.created": "u.created",
    "meta.lastmodified": "u.last_modified",
}
# Each side table: (correlated FROM ... WHERE, sub-attribute columns, owner key, uncorrelated key select).
# The last two let the compiler emit `u.pk IN (SELECT e.user_pk ... WHERE cond)`, which SQLite answers
# from the side table's value index instead of probing it once per user.
MultiValuedColumns = tuple[str, Mapping[str, str], str, str]
USER_MULTI_VALUED: Final[Mapping[str, MultiValuedColumns]] = {
    "emails": (
        "FROM user_emails e WHERE e.user_pk = u.pk",
        {"value": "e.value", "type": "e.type", "primary": "e.is_primary", "display": "e.display"},
        "u.pk",
        "SELECT e.user_pk FROM user_emails e",
    ),
    # RFC 7643 §4.1.2 `groups`, readOnly: the user's direct memberships, from the membership rows. value is
    # the group's SCIM id, matched through groups_scim_id_nocase (value is not caseExact).
    "groups": (
        "FROM group_members gm JOIN groups gg ON gg.pk = gm.group_pk AND gm.member_type = 'User'"
        " WHERE gm.member_scim_id = u.scim_id",
        {"value": "gg.scim_id", "display": "gg.display_name", "type": "'direct'"},
        "u.scim_id",
        "SELECT gm.member_scim_id FROM group_members gm JOIN groups gg ON gg.pk = gm.group_pk"
        " AND gm.member_type = 'User'",
    ),
}

GROUP_TABLE_ALIAS: Final = "g"
GROUP_DOCUMENT_SQL: Final = "g.doc"
GROUP_COLUMNS: Final[Mapping[str, str]] = {
    "id": "g.scim_id",
    "displayname": "g.display_name",
    "externalid": "g.external_id",
    "meta.created": "g.created",
    "meta.lastmodified": "g.last_modified",
}
GROUP_MULTI_VALUED: Final[Mapping[str, MultiValuedColumns]] = {
    "members": (
        "FROM group_members m WHERE m.group_pk = g.pk",
        {"value": "m.member_scim_id", "type": "m.member_type", "display": "m.display"},
        "g.pk",
        "SELECT m.group_pk FROM group_members m",
    ),
}
