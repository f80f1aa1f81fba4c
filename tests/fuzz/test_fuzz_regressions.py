"""What the fuzzers found, pinned: each case failed once with a 5xx or a non-SCIM error."""

from __future__ import annotations

import pytest

from tests.fuzz.harness import Fuzzer
from tests.fuzz.strategies import BASE, FuzzRequest


def _deep_not(levels: int, leaf: str) -> str:
    return "not (" * levels + leaf + ")" * levels


@pytest.mark.parametrize(
    "filter_text",
    [
        _deep_not(26, 'userName eq "a"'),  # compiled SQL overflowed SQLite's parser stack: 500
        'not (userName eq "a" or ' * 11 + 'emails[type eq "work" and value co "x"]' + ")" * 11,
        'not (emails[not (value eq "x")] and not (' * 8 + 'userName eq "a"' + "))" * 8,
    ],
)
async def test_filters_too_deep_for_sqlite_are_invalid_filter(fuzzer: Fuzzer, filter_text: str) -> None:
    requests = [
        FuzzRequest("GET", f"{BASE}/Users", params=(("filter", filter_text),)),
        FuzzRequest(
            "GET", f"{BASE}/Groups", params=(("filter", filter_text.replace("userName", "displayName")),)
        ),
    ]
    assert await fuzzer.fire(requests) == []
    assert fuzzer.tally.statuses[400] >= 2


async def test_non_utf8_token_form_is_oauth_400(fuzzer: Fuzzer) -> None:
    request = FuzzRequest(
        "POST",
        f"{BASE}/oauth/token",
        headers=(("Content-Type", "application/x-www-form-urlencoded"),),
        body=b"grant_type=client_credentials&client_id=\xff\xfe",
        authenticated=False,
    )
    assert await fuzzer.fire([request]) == []
    assert fuzzer.tally.statuses[400] >= 1


@pytest.mark.parametrize("kind", ["Users", "Groups"])
async def test_lone_surrogate_escapes_are_400_not_500(fuzzer: Fuzzer, kind: str) -> None:
    """`\\ud800` decodes to a str SQLite cannot encode: once a 500, after the master had accepted the write."""
    headers = (("Content-Type", "application/scim+json"),)
    requests = [
        FuzzRequest("POST", f"{BASE}/{kind}", headers=headers, body=b'{"userName":"\\ud800"}'),
        FuzzRequest(
            "POST", f"{BASE}/{kind}", headers=headers, body=b'{"userName":"ok","displayName":"\\udfff"}'
        ),
        FuzzRequest("GET", f"{BASE}/{kind}", params=(("filter", 'displayName eq "\\ud800"'),)),
        FuzzRequest("GET", f"{BASE}/{kind}", params=(("filter", 'userName eq "a\\udfffb"'),)),
    ]
    before = fuzzer.tally.statuses[400]
    assert await fuzzer.fire(requests) == []
    assert fuzzer.tally.statuses[400] - before == len(requests)


async def test_unknown_expect_on_the_token_endpoint_is_refused_by_the_http_layer(fuzzer: Fuzzer) -> None:
    """aiohttp answers an unknown Expect (RFC 9110 §10.1.1) with a plain 417 before any middleware, on the
    token endpoint as on SCIM paths; the judge once held the token endpoint to RFC 6749 bodies first."""
    request = FuzzRequest(
        "POST",
        f"{BASE}/oauth/token",
        headers=(("Content-Type", "application/scim+json"), ("Expect", "0")),
        authenticated=False,
    )
    assert await fuzzer.fire([request]) == []
    assert fuzzer.tally.statuses[417] >= 1
