"""Every AppKey and RequestKey of the bridge's web application, with its type."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from bridge.auth.credentials import Authenticator
from bridge.auth.principal import IdpPrincipal
from bridge.config import Settings

SETTINGS: Final = web.AppKey[Settings]("settings")
REQUEST_ID: Final = web.RequestKey[str]("request_id")
CLIENT_NAME: Final = web.RequestKey[str]("client_name")
AUTHENTICATOR: Final = web.AppKey[Authenticator]("authenticator")
PRINCIPAL: Final = web.RequestKey[IdpPrincipal]("principal")
