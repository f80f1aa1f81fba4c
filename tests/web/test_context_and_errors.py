"""Middlewares alone on a bare app: request ids, the canonical log line, SCIM error rendering."""

from __future__ import annotations

import re

from aiohttp import web
from pytest_aiohttp import AiohttpClient

from bridge.scim.errors import ERROR_URN, InvalidFilter, ServiceUnavailable
from bridge.web.context import context_middleware
from bridge.web.errors import error_middleware
from tests.conftest import LogReader


def bare_app() -> web.Application:
    async def ok(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def bad_filter(_: web.Request) -> web.Response:
        raise InvalidFilter("unexpected token at 7")

    async def down(_: web.Request) -> web.Response:
        raise ServiceUnavailable(retry_after=7)

    async def crash(_: web.Request) -> web.Response:
        raise KeyError("password=hunter2-leak")

    app = web.Application(middlewares=[context_middleware, error_middleware], client_max_size=64)
    app.router.add_get("/ok", ok)
    app.router.add_get("/filter", bad_filter)
    app.router.add_get("/down", down)
    app.router.add_get("/crash", crash)
    app.router.add_post("/ok", ok)
    return app


async def test_request_id_is_echoed_or_generated(
    aiohttp_client: AiohttpClient, captured_logs: LogReader
) -> None:
    client = await aiohttp_client(bare_app())
    sent = await client.get("/ok", headers={"X-Request-ID": "idp-req-42"})
    assert sent.headers["X-Request-ID"] == "idp-req-42"
    generated = await client.get("/ok")
    assert re.fullmatch("[0-9a-f]{32}", generated.headers["X-Request-ID"])
    empty = await client.get("/ok", headers={"X-Request-ID": ""})
    assert re.fullmatch("[0-9a-f]{32}", empty.headers["X-Request-ID"])
    forged = await client.get("/ok", headers={"X-Request-ID": 'bad id "x": {}'})
    assert forged.headers["X-Request-ID"] != 'bad id "x": {}'
    assert len(forged.headers["X-Request-ID"]) == 32
    lines = [line for line in captured_logs() if line["event"] == "request"]
    assert [line["request_id"] for line in lines[:3]] == [
        "idp-req-42",
        generated.headers["X-Request-ID"],
        empty.headers["X-Request-ID"],
    ]
    assert lines[0]["method"] == "GET"
    assert lines[0]["status"] == 200
    assert lines[0]["path"] == "/ok"
    assert isinstance(lines[0]["duration_ms"], float)


async def test_the_request_id_header_keeps_its_spelling_and_the_duration_two_decimals(
    aiohttp_client: AiohttpClient, captured_logs: LogReader
) -> None:
    """The header name is an istr now (looked up without folding its case): it is still written as
    X-Request-ID; duration_ms is rounded by integer arithmetic now: still hundredths of a millisecond."""
    client = await aiohttp_client(bare_app())
    response = await client.get("/ok")
    assert [name for name, _ in response.raw_headers if name.lower() == b"x-request-id"] == [b"X-Request-ID"]
    (line,) = [line for line in captured_logs() if line["event"] == "request"]
    assert line["duration_ms"] >= 0
    assert line["duration_ms"] == round(line["duration_ms"], 2)


async def test_scim_errors_render_rfc_body(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(bare_app())
    response = await client.get("/filter")
    assert response.status == 400
    assert response.content_type == "application/scim+json"
    assert await response.json(content_type=None) == {
        "schemas": [ERROR_URN],
        "status": "400",
        "scimType": "invalidFilter",
        "detail": "unexpected token at 7",
    }
    unavailable = await client.get("/down")
    assert unavailable.status == 503
    assert unavailable.headers["Retry-After"] == "7"


async def test_router_errors_and_oversized_bodies_are_scim(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(bare_app())
    for method, path, status in (("GET", "/nope", 404), ("DELETE", "/ok", 405)):
        response = await client.request(method, path)
        body = await response.json(content_type=None)
        assert response.status == status
        assert body["schemas"] == [ERROR_URN]
        assert body["status"] == str(status)


async def test_unhandled_error_is_generic_500_and_logged_without_secret(
    aiohttp_client: AiohttpClient, captured_logs: LogReader
) -> None:
    client = await aiohttp_client(bare_app())
    response = await client.get("/crash", headers={"X-Request-ID": "crash-1"})
    body = await response.json(content_type=None)
    assert response.status == 500
    assert body["detail"] == "Internal server error (request id crash-1)."
    assert "hunter2" not in str(body)
    raw = captured_logs.raw()
    assert "unhandled_error" in raw
    assert "hunter2-leak" not in raw


async def test_fields_bound_in_one_request_stay_out_of_the_next_on_the_same_connection(
    aiohttp_client: AiohttpClient, captured_logs: LogReader
) -> None:
    # aiohttp runs each request in a task of its own, started in the connection's context, so what a
    # request binds (scim_type here) ends with it; the request line never needs to clear the context.
    client = await aiohttp_client(bare_app())
    assert (await client.get("/filter")).status == 400
    assert (await client.get("/ok")).status == 200
    lines = [line for line in captured_logs() if line["event"] == "request"]
    assert [line["path"] for line in lines] == ["/filter", "/ok"]
    assert lines[0]["scim_type"] == "invalidFilter"
    assert "scim_type" not in lines[1]
    assert lines[0]["request_id"] != lines[1]["request_id"]
