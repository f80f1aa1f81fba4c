"""Every AppKey and RequestKey of the bridge's web application, with its type."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from bridge.auth.principal import IdpPrincipal
from bridge.config import Settings
from bridge.determined import DeterminedClient
from bridge.provisioning.groups import GroupService
from bridge.provisioning.users import UserService
from bridge.store import Store
from bridge.web.forwarded import PublicUrl
from bridge.web.proxies import TrustedProxies
from bridge.web.rendered import RenderedUsers
from bridge.web.request_context import RequestContext

SETTINGS: Final = web.AppKey[Settings]("settings")
PUBLIC_URL: Final = web.AppKey[PublicUrl]("public_url")
# server.trusted_proxies parsed once per app, for the public URL and the failed-attempts key alike.
TRUSTED_PROXIES: Final = web.AppKey[TrustedProxies]("trusted_proxies")
REQUEST_CONTEXT: Final = web.RequestKey[RequestContext]("request_context")
PRINCIPAL: Final = web.RequestKey[IdpPrincipal]("principal")
# The request body as `read_json` decoded it, so the dialect's refinement after the handler (the context
# middleware's, bridge/web/dialect.py `refine_from_body`) sniffs it without decoding it again.
JSON_BODY: Final = web.RequestKey[object]("json_body")
STORE: Final = web.AppKey[Store]("store")
MASTER: Final = web.AppKey[DeterminedClient]("master")
USERS: Final = web.AppKey[UserService]("users")
GROUPS: Final = web.AppKey[GroupService]("groups")
RENDERED_USERS: Final = web.AppKey[RenderedUsers]("rendered_users")
