-- Users' `groups.value eq "<group id>"` filters (RFC 7643 §4.1.2) compare the group's scim_id with
-- COLLATE NOCASE (value is not caseExact); only an index with that collation answers them without a scan.
CREATE INDEX groups_scim_id_nocase ON groups (scim_id COLLATE NOCASE);
