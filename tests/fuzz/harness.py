"""Send fuzz requests over a real socket and judge the answers: no 5xx, every error an RFC 7644 §3.12 body."""

from __future__ import annotations

import asyncio
import io
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

import aiohttp
from yarl import URL

from bridge.scim.errors import ERROR_URN
from tests.fuzz.strategies import FuzzRequest

# Characters left as they are in a path: RFC 3986 pchar plus '/', and '%' so that the fuzzer's own
# (possibly broken) percent-escapes reach the server unchanged.
_PATH_SAFE = "/%:@-._~!$&'()*+,;="


@dataclass(slots=True)
class Tally:
    """Figures for the whole fuzz session: requests sent, statuses seen, problems found."""

    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    not_implemented: int = 0

    @property
    def server_errors(self) -> int:
        """Count of 5xx answers other than the RFC-prescribed 501s for unsupported endpoints."""
        return sum(n for status, n in self.statuses.items() if status >= 500) - self.not_implemented


@dataclass(frozen=True, slots=True)
class Target:
    """Where to send and how to authenticate."""

    base_url: URL
    authorization: str


def judge(request: FuzzRequest, status: int, content_type: str, body: bytes) -> str | None:
    """Return a description of what is wrong with this answer, or None if it is acceptable."""
    where = f"{request.method} {request.path} params={request.params!r} headers={request.headers!r}"
    if status == 0:
        return f"connection dropped without an answer for {where}"
    if status == 501 and _unsupported_endpoint(request.path):
        # RFC 7644 §3.7 (Bulk) and §3.11 (/Me) prescribe 501 when unsupported; root /.search likewise.
        return _judge_scim_error(where, status, content_type, body)
    if status >= 500:
        return f"{status} for {where} body={body[:300]!r} sent={(request.body or b'')[:200]!r}"
    if status < 400 or request.method == "HEAD":
        return None
    # Before the OAuth check: aiohttp refuses the HTTP message itself on every path, the token endpoint too.
    if _refused_by_http_layer(request, status, content_type):
        return None
    if request.path.endswith("/oauth/token") and request.method == "POST":
        return _judge_oauth(where, status, content_type, body)
    return _judge_scim_error(where, status, content_type, body)


def _unsupported_endpoint(path: str) -> bool:
    segments = [s for s in path.split("/") if s]
    return len(segments) >= 3 and segments[:2] == ["scim", "v2"] and segments[2] in ("Bulk", "Me", ".search")


def _judge_scim_error(where: str, status: int, content_type: str, body: bytes) -> str | None:
    """An RFC 7644 §3.12 error: SCIM media type, Error URN, status as a string, string detail."""
    if content_type != "application/scim+json":
        return f"{status} with content type {content_type!r} for {where}"
    try:
        parsed = json.loads(body)
    except ValueError:
        return f"{status} with a non-JSON error body for {where}: {body[:200]!r}"
    if not isinstance(parsed, dict):
        return f"{status} with a non-object error body for {where}"
    if parsed.get("schemas") != [ERROR_URN] or parsed.get("status") != str(status):
        return f"{status} with a non-SCIM error body for {where}: {parsed!r}"
    if not isinstance(parsed.get("detail", ""), str):
        return f"{status} with a non-string detail for {where}"
    return None


def _refused_by_http_layer(request: FuzzRequest, status: int, content_type: str) -> bool:
    """aiohttp's protocol layer answers before any middleware runs, like a parse error: outside SCIM.

    An unknown ``Expect`` (RFC 9110 §10.1.1) gets 417; a body that does not decode under the sent
    ``Content-Encoding`` gets 400. Both are plain-text refusals of the HTTP message itself.
    """
    if content_type != "text/plain":
        return False
    headers = {name.lower(): value.strip().lower() for name, value in request.headers}
    if status == 417:
        return headers.get("expect", "100-continue") != "100-continue"
    return status == 400 and headers.get("content-encoding", "identity") != "identity"


def _judge_oauth(where: str, status: int, content_type: str, body: bytes) -> str | None:
    """The token endpoint is OAuth, not SCIM: its errors are RFC 6749 §5.2 JSON bodies."""
    if content_type != "application/json":
        return f"{status} with content type {content_type!r} for {where}"
    try:
        parsed = json.loads(body)
    except ValueError:
        return f"{status} with a non-JSON OAuth error for {where}"
    if not isinstance(parsed, dict) or not isinstance(parsed.get("error"), str):
        return f"{status} with a non-RFC 6749 error body for {where}: {parsed!r}"
    return None


async def send(
    session: aiohttp.ClientSession, target: Target, request: FuzzRequest
) -> tuple[int, str, bytes]:
    """Send one request exactly as drawn; the Content-Type is only what the fuzzer chose."""
    headers = dict(request.headers)
    if request.authenticated:
        headers["Authorization"] = target.authorization
    url = URL(str(target.base_url).rstrip("/") + quote(request.path, safe=_PATH_SAFE), encoded=True)
    if request.params:
        url = url.extend_query(list(request.params))
    try:
        return await _exchange(session, url, request, headers)
    except aiohttp.ClientResponseError as exc:
        # aiohttp's own client rejects some of aiohttp's protocol-level refusals (data after
        # `Connection: close`); the status line it read is still the server's answer.
        return exc.status, "text/plain", b""
    except aiohttp.ServerDisconnectedError:
        return 0, "", b""


async def _exchange(
    session: aiohttp.ClientSession, url: URL, request: FuzzRequest, headers: dict[str, str]
) -> tuple[int, str, bytes]:
    async with session.request(
        request.method,
        url,
        headers=headers,
        # aiohttp warns (an error under filterwarnings) when a large body is passed as raw bytes.
        data=io.BytesIO(request.body) if request.body and len(request.body) > 65536 else request.body,
        skip_auto_headers=("Content-Type",) if "Content-Type" not in headers else (),
        allow_redirects=False,
    ) as response:
        body = await response.read()
        return response.status, response.content_type, body


@dataclass(frozen=True, slots=True)
class Fuzzer:
    """What every fuzz test drives: the bridge, a session that reaches it, and the session's tally."""

    target: Target
    session: aiohttp.ClientSession
    tally: Tally

    async def fire(self, batch: Sequence[FuzzRequest]) -> list[str]:
        """Send a batch concurrently; record figures; return the problems found."""
        answers = await asyncio.gather(*(send(self.session, self.target, request) for request in batch))
        problems = []
        for request, (status, content_type, body) in zip(batch, answers, strict=True):
            self.tally.sent += 1
            self.tally.statuses[status] += 1
            if status == 501 and _unsupported_endpoint(request.path):
                self.tally.not_implemented += 1
            problem = judge(request, status, content_type, body)
            if problem is not None:
                self.tally.problems.append(problem)
                problems.append(problem)
        return problems
