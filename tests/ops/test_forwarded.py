"""PublicUrl.base_url: public_url wins; proxy headers honoured only from trusted proxies (real sockets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from bridge.config import Settings
from bridge.web.forwarded import PublicUrl
from bridge.web.proxies import TrustedProxies
from tests.ops.settings import make_settings


def _app(settings: Settings) -> web.Application:
    public = PublicUrl.from_settings(settings, TrustedProxies.from_entries(settings.server.trusted_proxies))

    async def where(request: web.Request) -> web.Response:
        return web.Response(text=public.base_url(request))

    app = web.Application()
    app.router.add_get("/where", where)
    return app


async def _ask(client_factory: AiohttpClient, settings: Settings, headers: dict[str, str]) -> str:
    client = await client_factory(_app(settings))
    response = await client.get("/where", headers=headers)
    assert response.status == 200
    return await response.text()


def _settings(tmp_path: Path, **server: Any) -> Settings:
    return make_settings(tmp_path, server=server)


PROXY_HEADERS = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "scim.example.com"}


async def test_untrusted_peer_headers_are_ignored(tmp_path: Path, aiohttp_client: AiohttpClient) -> None:
    settings = _settings(tmp_path, trusted_proxies=["10.0.0.0/8"])
    headers = {**PROXY_HEADERS, "Host": "bridge.internal:8080"}
    assert await _ask(aiohttp_client, settings, headers) == "http://bridge.internal:8080/scim/v2"


async def test_no_trusted_proxies_ignores_headers(tmp_path: Path, aiohttp_client: AiohttpClient) -> None:
    headers = {**PROXY_HEADERS, "Forwarded": "proto=https;host=evil.example", "Host": "b:1"}
    assert await _ask(aiohttp_client, _settings(tmp_path), headers) == "http://b:1/scim/v2"


async def test_trusted_peer_x_forwarded(tmp_path: Path, aiohttp_client: AiohttpClient) -> None:
    settings = _settings(tmp_path, trusted_proxies=["127.0.0.0/8", "::1"])
    assert await _ask(aiohttp_client, settings, PROXY_HEADERS) == "https://scim.example.com/scim/v2"


async def test_trusted_peer_first_hop_of_lists(tmp_path: Path, aiohttp_client: AiohttpClient) -> None:
    settings = _settings(tmp_path, trusted_proxies=["127.0.0.1"])
    headers = {"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "scim.example.com:8443, inner"}
    assert await _ask(aiohttp_client, settings, headers) == "https://scim.example.com:8443/scim/v2"


async def test_rfc7239_forwarded_preferred(tmp_path: Path, aiohttp_client: AiohttpClient) -> None:
    settings = _settings(tmp_path, trusted_proxies=["127.0.0.0/8"])
    headers = {
        "Forwarded": 'for=192.0.2.60;proto=https;host="idp-facing.example.org", for=10.1.1.1;proto=http',
        **PROXY_HEADERS,
    }
    assert await _ask(aiohttp_client, settings, headers) == "https://idp-facing.example.org/scim/v2"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-Proto": "javascript", "X-Forwarded-Host": "evil.example/path"},
        {"X-Forwarded-Proto": "ftp", "X-Forwarded-Host": "user@evil.example"},
    ],
)
async def test_trusted_peer_malformed_values_fall_back(
    tmp_path: Path, aiohttp_client: AiohttpClient, headers: dict[str, str]
) -> None:
    settings = _settings(tmp_path, trusted_proxies=["127.0.0.0/8"])
    result = await _ask(aiohttp_client, settings, {**headers, "Host": "own.host:8080"})
    assert result == "http://own.host:8080/scim/v2"


async def test_public_url_wins(tmp_path: Path, aiohttp_client: AiohttpClient) -> None:
    settings = _settings(
        tmp_path,
        public_url="https://scim.corp.example/",
        trusted_proxies=["127.0.0.0/8"],
        base_path="/scim/v2/",
    )
    assert await _ask(aiohttp_client, settings, PROXY_HEADERS) == "https://scim.corp.example/scim/v2"
