"""Filter grammar edges test_filters.py leaves out: backslashes before a closing quote (Windows-style
`DOMAIN\\user` names), `+` for spaces around escaped quotes, malformed paths after a value filter, and
sortBy targets that cannot be ordered."""

from __future__ import annotations

import pytest

from bridge.scim.errors import InvalidFilter, InvalidValue
from bridge.scim.filters import Compare, MultiValuedSql, SqlMapping, matches, parse_filter, sort_sql
from bridge.scim.schemas import USER_SCHEMA
from bridge.store import sql_mapping

USERS = SqlMapping(
    document=sql_mapping.USER_DOCUMENT_SQL,
    columns=sql_mapping.USER_COLUMNS,
    multi_valued={k: MultiValuedSql(*v) for k, v in sql_mapping.USER_MULTI_VALUED.items()},
)


def _value(text: str) -> object:
    parsed = parse_filter(text)
    assert isinstance(parsed, Compare)
    return parsed.value


def test_a_literal_ending_in_an_escaped_backslash_is_terminated() -> None:
    assert _value(r'userName eq "CORP\\"') == "CORP\\"
    assert _value(r'userName eq "CORP\\jdoe"') == "CORP\\jdoe"
    assert matches(parse_filter(r'userName eq "corp\\JDOE"'), {"userName": "CORP\\jdoe"}, USER_SCHEMA)


@pytest.mark.parametrize("text", [r'userName eq "CORP\"', r'userName eq "CORP\\\"'])
def test_a_literal_whose_last_quote_is_escaped_is_unterminated(text: str) -> None:
    with pytest.raises(InvalidFilter, match="unterminated string"):
        parse_filter(text)


def test_plus_inside_a_string_with_an_escaped_quote_stays_a_plus() -> None:
    # Not form-decoded: `+` outside the quotes is a space, inside it (past an escaped quote too) it is kept.
    assert _value(r'userName+eq+"a\"+b"') == 'a"+b'


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ('urn: eq "x"', "invalid attribute path 'urn:'"),
        ('name.givenName[value eq "x"]', "a value filter needs a plain attribute"),
        ('emails[type eq "work" "x"]', "expected ']' at position 22"),
        ('emails[type eq "work"].display.x eq "y"', "invalid sub-attribute '.display.x'"),
        ('emails[type eq "work"].urn:a:b eq "y"', "invalid sub-attribute '.urn:a:b'"),
    ],
)
def test_malformed_paths_around_value_filters(text: str, detail: str) -> None:
    with pytest.raises(InvalidFilter) as err:
        parse_filter(text)
    assert detail in err.value.detail


def test_a_filter_that_is_not_text_is_invalid_filter() -> None:
    with pytest.raises(InvalidFilter, match="must be a string"):
        parse_filter(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("name", "is complex; name a sub-attribute"),
        ("groups.$ref", "is not sortable"),  # the membership rows have no column for it
    ],
)
def test_sort_by_a_complex_or_unstored_target_is_invalid_value(path: str, detail: str) -> None:
    with pytest.raises(InvalidValue) as err:
        sort_sql(path, USER_SCHEMA, USERS)
    assert detail in err.value.detail
