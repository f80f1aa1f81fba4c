"""Envelope parsing and status → MasterError mapping (master-api.md §1.5, §7.3, §8.1)."""

from __future__ import annotations

import pytest

from bridge.determined.errors import (
    MasterBadRequest,
    MasterConflict,
    MasterError,
    MasterForbidden,
    MasterInternal,
    MasterNotFound,
    MasterThrottled,
    MasterUnauthorized,
    MasterUnavailable,
    MasterUnimplemented,
    error_from_response,
    parse_envelope,
)


def test_envelope_fields_are_read() -> None:
    body = b'{"error": {"code": 5, "reason": "NotFound", "error": "user not found"}}\n'
    assert parse_envelope(body) == (5, "NotFound", "user not found")


@pytest.mark.parametrize(
    ("status", "code", "reason", "text", "cls"),
    [
        (401, 16, "Unauthenticated", "token missing", MasterUnauthorized),
        (401, 16, "Unauthenticated", "user access token revoked", MasterUnauthorized),
        (403, 7, "PermissionDenied", "user does not have permission", MasterForbidden),
        (404, 5, "NotFound", "user not found", MasterNotFound),
        (400, 3, "InvalidArgument", "Display name or username value has minimum length.", MasterBadRequest),
        (400, 9, "FailedPrecondition", "please run `det auth login` to authenticate", MasterBadRequest),
        (409, 6, "AlreadyExists", "Error creating group ml: row already exists", MasterConflict),
        (500, 13, "Internal", "code=400, message=user already exists", MasterInternal),
        (501, 12, "Unimplemented", "Not Implemented", MasterUnimplemented),
        (503, 14, "Unavailable", "shutting down", MasterUnavailable),
        (429, 8, "ResourceExhausted", "slow down", MasterThrottled),
    ],
)
def test_status_maps_to_class(status: int, code: int, reason: str, text: str, cls: type[MasterError]) -> None:
    body = f'{{"error": {{"code": {code}, "reason": "{reason}", "error": "{text}"}}}}'.encode()
    err = error_from_response(status, body)
    assert type(err) is cls
    assert (err.http_status, err.grpc_code, err.reason, err.message) == (status, code, reason, text)


def test_non_json_body_keeps_a_short_excerpt() -> None:
    err = error_from_response(502, b"<html><body>Bad Gateway</body></html>" + b"x" * 1000)
    assert isinstance(err, MasterUnavailable)
    assert err.grpc_code is None
    assert err.message.startswith("<html><body>Bad Gateway")
    assert len(err.message) <= 200


def test_empty_body_names_the_status() -> None:
    assert error_from_response(504, b"").message == "HTTP 504"


def test_echo_message_shape() -> None:
    assert error_from_response(403, b'{"message": "Forbidden"}').message == "Forbidden"


def test_unlisted_status_falls_back_by_class() -> None:
    assert type(error_from_response(408, b"{}")) is MasterBadRequest
    assert type(error_from_response(599, b"{}")) is MasterInternal


def test_retry_after_is_carried() -> None:
    err = error_from_response(429, b"{}", retry_after=7.0)
    assert isinstance(err, MasterThrottled)
    assert err.retry_after == 7.0


def test_duplicate_username_on_create_and_rename() -> None:
    create = error_from_response(
        500, b'{"error":{"code":13,"reason":"Internal","error":"code=400, message=user already exists"}}'
    )
    rename = error_from_response(
        500,
        b'{"error":{"code":13,"reason":"Internal","error":"error setting active status of \\"bob\\": ERROR: duplicate key value violates unique constraint \\"users_username_key\\" (SQLSTATE 23505)"}}',
    )
    other = error_from_response(500, b'{"error":{"code":13,"reason":"Internal","error":"boom"}}')
    assert create.is_duplicate_username()
    assert rename.is_duplicate_username()
    assert not other.is_duplicate_username()


def test_duplicate_group_on_create_and_rename_but_not_duplicate_member() -> None:
    def conflict(text: str) -> MasterError:
        return error_from_response(
            409, f'{{"error":{{"code":6,"reason":"AlreadyExists","error":"{text}"}}}}'.encode()
        )

    assert conflict("Error creating group ml-team: row already exists").is_duplicate_group()
    assert conflict("Error updating group 14 name: row already exists").is_duplicate_group()
    assert not conflict("Error when adding 1 user(s) to 1 group(s): row already exists").is_duplicate_group()


@pytest.mark.parametrize(
    ("status", "text", "unknown"),
    [
        (404, "Error getting group 14: not found", True),
        (404, "Error deleting group 14: not found", True),
        (404, "cannot get a personal group: not found", True),
        (404, "group does not exist or is a personal group: not found", True),
        (404, "user not found", False),
        (404, "404 page not found", False),
        (
            404,
            "Error removing 1 user(s) from 1 group(s) because none were members of these groups: not found",
            False,
        ),
        (
            404,
            "Error adding 1 user(s) to 1 group(s) because one or more of them were not found: not found",
            False,
        ),
        (404, "<html>Error getting group 14: not found</html>", False),
        (500, "Error getting group 14: not found", False),
    ],
)
def test_unknown_group_is_only_the_masters_own_answer(status: int, text: str, unknown: bool) -> None:
    """master-api.md §4.13-4.16: the texts the master's usergroup package wraps db.ErrNotFound in; a member's
    404, a user's, or anyone else's page (a proxy's, even one quoting the text) is not "no such group"."""
    body = f'{{"error":{{"code":5,"reason":"NotFound","error":"{text}"}}}}'.encode()
    assert error_from_response(status, body).is_unknown_group() is unknown


@pytest.mark.parametrize(
    ("status", "text", "unknown"),
    [
        (404, "user not found", True),
        (404, "user not found, please check your permissions.", True),
        (404, "404 page not found", False),
        (404, "sso-gateway: user not found in session store", False),
        (404, "user not found, please check your permissions", False),
        (404, "Error getting group 14: not found", False),
        (
            404,
            "Error adding 1 user(s) to 1 group(s) because one or more of them were not found: not found",
            False,
        ),
        (500, "user not found", False),
    ],
)
def test_unknown_user_is_only_the_masters_own_answer(status: int, text: str, unknown: bool) -> None:
    """master-api.md §4.5, §8.1: the master's "user" NotFound text, with the RBAC UI's hint or without; anyone
    else's 404 (a gateway's page that merely contains the words) is not "no such user"."""
    body = f'{{"error":{{"code":5,"reason":"NotFound","error":"{text}"}}}}'.encode()
    assert error_from_response(status, body).is_unknown_user() is unknown


def test_a_proxys_html_page_containing_user_not_found_is_not_the_masters_answer() -> None:
    """Before the fix the excerpt of a non-JSON page was enough if it held the words anywhere."""
    page = b"<html><body><h1>404 Not Found</h1><p>user not found</p></body></html>"
    assert not error_from_response(404, page).is_unknown_user()


@pytest.mark.parametrize(
    ("status", "text", "unknown"),
    [
        (
            404,
            "Error adding 1 user(s) to 1 group(s) because one or more of them were not found: not found",
            True,
        ),
        (
            404,
            "Error adding 12 user(s) to 1 group(s) because one or more of them were not found: not found",
            True,
        ),
        (404, "Error adding 1 user(s) to 1 group(s): upstream not found", False),
        (
            404,
            "Error removing 1 user(s) from 1 group(s) because none were members of these groups: not found",
            False,
        ),
        (404, "user not found", False),
        (
            500,
            "Error adding 1 user(s) to 1 group(s) because one or more of them were not found: not found",
            False,
        ),
    ],
)
def test_unknown_member_is_only_the_masters_own_answer(status: int, text: str, unknown: bool) -> None:
    """master-api.md §4.11 step 5, §4.14 step 3: the one text for an added user the master lacks."""
    body = f'{{"error":{{"code":5,"reason":"NotFound","error":"{text}"}}}}'.encode()
    assert error_from_response(status, body).is_unknown_member() is unknown


@pytest.mark.parametrize(
    ("status", "text", "none_removed"),
    [
        (
            404,
            "Error removing 1 user(s) from 1 group(s) because none were members of these groups: not found",
            True,
        ),
        (
            404,
            "Error removing 3 user(s) from 2 group(s) because none were members of these groups: not found",
            True,
        ),
        (404, "<html><p>Sorry, none were members of these groups: not found</p></html>", False),
        (404, "Error removing 1 user(s) from 1 group(s): upstream not found", False),
        (
            500,
            "Error removing 1 user(s) from 1 group(s) because none were members of these groups: not found",
            False,
        ),
    ],
)
def test_no_member_removed_is_only_the_masters_own_answer(status: int, text: str, none_removed: bool) -> None:
    """master-api.md §4.14 step 4: removing only non-members is a 404 with this one text, which callers take as
    "already removed"; a proxy's 404 that contains the words is a failure like any other."""
    body = f'{{"error":{{"code":5,"reason":"NotFound","error":"{text}"}}}}'.encode()
    assert error_from_response(status, body).is_no_member_removed() is none_removed
