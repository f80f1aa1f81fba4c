"""Conversions between SQLite values and store records: timestamps, JSON documents, rows."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Final

import orjson

from bridge import jsonenc
from bridge.store.errors import InvalidDocument
from bridge.store.records import (
    AuditEntry,
    GroupRecord,
    IntentRecord,
    IntentState,
    MemberRecord,
    MemberType,
    UserGroup,
    UserRecord,
)

# Keys the store never keeps in a document: id and meta are columns, members are rows, and a password
# must never be written to disk (issue 5: "full SCIM document ... never contains password").
_USER_FORBIDDEN: Final = frozenset({"id", "meta", "password"})
_GROUP_FORBIDDEN: Final = frozenset({"id", "meta", "members", "password"})


# Zero-padded fields by lookup: isoformat() cost ~14k instructions per call (it builds its text with
# PyUnicode_FromFormat) and %-formatting of the seven fields ~12k, against ~4k for these lookups. A write stamps
# its intent, row and audit line, and its answer's meta shows two timestamps.
_TWO_DIGITS: Final = tuple(f"{n:02d}" for n in range(100))
_MILLIS_Z: Final = tuple(f".{n:03d}Z" for n in range(1000))


def format_ts(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and Z; fixed width so text order is time order.

    The text of ``moment.astimezone(UTC).isoformat(timespec="milliseconds")`` with ``Z`` for ``+00:00``.
    """
    if moment.tzinfo is not UTC:
        if moment.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        moment = moment.astimezone(UTC)
    two = _TWO_DIGITS
    year = moment.year
    return (
        f"{two[year // 100]}{two[year % 100]}-{two[moment.month]}-{two[moment.day]}"
        f"T{two[moment.hour]}:{two[moment.minute]}:{two[moment.second]}{_MILLIS_Z[moment.microsecond // 1000]}"
    )


class SystemStamps:
    """``format_ts(datetime.now(UTC))``, the store's stamp for every write (two per SCIM write: its intent and
    its change), with the text up to the second formatted once per second: ~9k instructions a stamp (the
    datetime ~3.6k, its text ~5k), ~3k this way."""

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self) -> str:
        second, micro = divmod(time.time_ns() // 1000, 1_000_000)
        if second != self._second:
            self._prefix = format_ts(datetime.fromtimestamp(second, UTC))[: -len(".000Z")]
            self._second = second
        return self._prefix + _MILLIS_Z[micro // 1000]


def parse_ts(text: str) -> datetime:
    """Inverse of format_ts (fromisoformat reads its Z suffix since Python 3.11, ~20x faster than strptime)."""
    return datetime.fromisoformat(text)


def stored_ts(text: str) -> str:
    """``format_ts(parse_ts(text))``: `text` itself when it has format_ts's form, as every timestamp the store
    writes has (formatting costs ~5k instructions, parsing ~2k; a GET that misses the kept bodies shows two).

    Parsed all the same, so a text that is no time fails as it would have. With the separators at their
    places in 24 characters, what parses is four digits, five pairs and three digits of a UTC time, which
    format_ts writes back as they are.
    """
    moment = parse_ts(text)
    if len(text) == 24 and text[4:20:3] == "--T::." and text[23] == "Z":
        return text
    return format_ts(moment)


# json.dumps builds a new JSONEncoder per call when given options; one encoder is reused (the same text).
_DOC_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
# orjson encodes str, int, float, bool, None, dict and list as _DOC_ENCODER does, but subclasses of them, dates
# and dataclasses in its own way: those go to _not_plain (and the document to _DOC_ENCODER) instead.
_ORJSON_PLAIN: Final = (
    orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def _not_plain(value: object) -> object:
    raise TypeError(type(value).__name__)


def encode_doc(doc: Mapping[str, object], *, group: bool) -> str:
    """Serialise a SCIM document after refusing keys the store must not hold (compared case-insensitively)."""
    return _encode_doc(doc, group)[0]


def encode_doc_as_read(doc: Mapping[str, object], *, group: bool) -> tuple[str, Mapping[str, object]]:
    """`encode_doc`'s text and the document a read of it decodes, for the record a write answers with.

    When orjson wrote the text, that document is `doc` itself, not decoded again (~19k instructions per user
    write): orjson refuses what json would write differently or read back as something else (integers beyond
    64 bits, lone surrogates, keys that are not text, subclasses), so its text holds `doc`'s values exactly,
    provided `doc` holds JSON values as a decoder gives them (dicts, lists, text, numbers, booleans), as every
    SCIM document here does (tuples and enums would be read back as lists and their values). The record then
    shares `doc`, which no one changes once a write has it. Otherwise the text is decoded, as a read does.
    """
    text, exact = _encode_doc(doc, group)
    return text, doc if exact else decode_doc(text)


def _encode_doc(doc: Mapping[str, object], group: bool) -> tuple[str, bool]:
    """The text of `doc` and whether orjson wrote it.

    Every user and group write encodes one: orjson (~4k instructions for an IdP's user against ~37k for
    _DOC_ENCODER) where it writes what json would, else _DOC_ENCODER, whose refusals say why. orjson refuses
    integers beyond 64 bits, lone surrogates, keys that are not text and other types; it writes NaN and
    infinities as null, which json refuses here, so a text holding "null" is made by json instead (documents
    from request bodies hold neither NaN nor null). The two may write a float differently (1e+16 and 1e16),
    never as a different number.
    """
    forbidden = _GROUP_FORBIDDEN if group else _USER_FORBIDDEN
    bad = [k for k in doc if k.lower() in forbidden]
    if bad:
        raise InvalidDocument(f"document must not contain {', '.join(sorted(bad))}")
    try:
        encoded = orjson.dumps(doc, default=_not_plain, option=_ORJSON_PLAIN)
    except orjson.JSONEncodeError:
        pass
    else:
        if b"null" not in encoded:
            return encoded.decode(), True
    try:
        return _DOC_ENCODER.encode(doc), False
    except (TypeError, ValueError) as exc:
        raise InvalidDocument(f"document is not JSON-serialisable: {exc}") from None


def json_array(values: Iterable[object]) -> str:
    """`values` as the text of a JSON array, for a statement's ``json_each(?)``: orjson's text (json.dumps took
    ~15k instructions for a list of one SCIM id, ~2k here; a member add makes four), the standard library's
    where orjson refuses a value. json_each reads the same values from either (a BLOB would be read as JSONB)."""
    return jsonenc.dumps(list(values)).decode()


def decode_doc(text: str) -> dict[str, object]:
    """Parse a stored document (every read of a user or group that is not kept rendered decodes one)."""
    value = jsonenc.loads_if_exact(text.encode("utf-8", "surrogatepass"))
    if value is jsonenc.UNSURE:
        value = json.loads(text)  # a long digit run, or what orjson refuses and json reads (NaN, surrogates)
    assert isinstance(value, dict)
    return value


# (position, value, type, is_primary, display): one user_emails row without its user_pk.
EmailRow = tuple[int, str | None, str | None, int, str | None]


def email_rows(doc: Mapping[str, object]) -> list[EmailRow]:
    """(position, value, type, is_primary, display) for each object in doc.emails (RFC 7643 §4.1.2)."""
    # Documents arrive canonicalised by the SCIM core, so the schema's own spelling is the only key.
    emails = doc.get("emails")
    if not isinstance(emails, list):
        return []
    rows: list[EmailRow] = []
    for position, item in enumerate(emails):
        if not isinstance(item, dict):
            continue
        fields = {str(k).lower(): v for k, v in item.items()}
        value, kind, display = fields.get("value"), fields.get("type"), fields.get("display")
        rows.append(
            (
                position,
                value if isinstance(value, str) else None,
                kind if isinstance(kind, str) else None,
                1 if fields.get("primary") is True else 0,
                display if isinstance(display, str) else None,
            )
        )
    return rows


def _opt_ts(value: object) -> datetime | None:
    return parse_ts(value) if isinstance(value, str) else None


# A row is read by position, in the column order of `SELECT *` (and `RETURNING *`), which is the table's: a
# test holds these to the migrated schema. sqlite3.Row looks a name up by comparing it with each column's name
# in turn, case-insensitively: ~16k instructions for a user's twelve columns, ~4k by position.
USER_ROW: Final = (
    "pk",
    "scim_id",
    "det_id",
    "user_name",
    "external_id",
    "display_name",
    "active",
    "doc",
    "version",
    "created",
    "last_modified",
    "tombstoned_at",
)
GROUP_ROW: Final = (
    "pk",
    "scim_id",
    "det_id",
    "display_name",
    "external_id",
    "doc",
    "version",
    "created",
    "last_modified",
)


def user_from_row(row: sqlite3.Row, groups: tuple[UserGroup, ...] = ()) -> UserRecord:
    """Build a UserRecord from a `users` row (columns in `USER_ROW` order, others after them) and, if the
    caller read them, the user's groups."""
    (
        _,
        scim_id,
        det_id,
        user_name,
        external_id,
        display_name,
        active,
        doc,
        version,
        created,
        modified,
        gone,
    ) = row[:12]
    created = stored_ts(created)
    # Positional, in the record's field order (~5k instructions fewer than by keyword).
    return UserRecord(
        scim_id,
        det_id,
        user_name,
        external_id,
        display_name,
        bool(active),
        decode_doc(doc),
        version,
        created,
        created if modified == created else stored_ts(modified),
        _opt_ts(gone),
        groups,
    )


def group_from_row(row: sqlite3.Row) -> GroupRecord:
    """Build a GroupRecord from a `groups` row (columns in `GROUP_ROW` order)."""
    _, scim_id, det_id, display_name, external_id, doc, version, created, modified = row[:9]
    created = stored_ts(created)
    return GroupRecord(
        scim_id,
        det_id,
        display_name,
        external_id,
        decode_doc(doc),
        version,
        created,
        created if modified == created else stored_ts(modified),
    )


def member_from_row(row: sqlite3.Row) -> MemberRecord:
    """Build a MemberRecord from a `group_members` row."""
    return MemberRecord(
        member_scim_id=row["member_scim_id"],
        member_type=MemberType(row["member_type"]),
        display=row["display"],
    )


def intent_from_row(row: sqlite3.Row) -> IntentRecord:
    """Build an IntentRecord from an `intents` row."""
    return IntentRecord(
        id=row["id"],
        request_id=row["request_id"],
        operation=row["operation"],
        resource_type=row["resource_type"],
        target=row["target"],
        payload_digest=row["payload_digest"],
        state=IntentState(row["state"]),
        created=parse_ts(row["created"]),
        finished=_opt_ts(row["finished"]),
    )


def audit_from_row(row: sqlite3.Row) -> AuditEntry:
    """Build an AuditEntry from an `audit_log` row."""
    return AuditEntry(
        id=row["id"],
        ts=parse_ts(row["ts"]),
        request_id=row["request_id"],
        client=row["client"],
        operation=row["operation"],
        resource_type=row["resource_type"],
        resource_id=row["resource_id"],
        master_calls=row["master_calls"],
        outcome=row["outcome"],
    )
