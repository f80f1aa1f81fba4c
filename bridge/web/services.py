"""Lifecycles of the store, the master client and the services (cleanup_ctx), and how handlers reach them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from bridge.config import Settings
from bridge.determined import create_master_client
from bridge.provisioning.binding import MasterBinding, announce
from bridge.provisioning.consistency import Caller
from bridge.provisioning.ended import EndedIntents
from bridge.provisioning.groups import GroupService
from bridge.provisioning.locks import KeyedLocks
from bridge.provisioning.users import UserService
from bridge.reconcile.background import reconcile_context
from bridge.reconcile.factory import build_intent_resolver
from bridge.store import open_store
from bridge.tasks import stop
from bridge.web.keys import GROUPS, MASTER, REQUEST_CONTEXT, STORE, USERS
from bridge.web.metrics import METRICS
from bridge.web.readiness import READINESS, DatabaseReadiness
from bridge.web.retention import retention_context
from bridge.wiring import busy_timeout_ms, master_client_settings

Context = Callable[[web.Application], AsyncIterator[None]]


def service_contexts(settings: Settings) -> list[Context]:
    """cleanup_ctx entries in start-up order: store (with migrations), master client, reconcile, services,
    retention."""

    async def store_ctx(app: web.Application) -> AsyncIterator[None]:
        store = await open_store(settings.database.path, busy_timeout_ms=busy_timeout_ms(settings.database))
        app[STORE] = store
        app[READINESS]["database"] = DatabaseReadiness(store)
        try:
            yield
        finally:
            await store.close()

    async def master_ctx(app: web.Application) -> AsyncIterator[None]:
        # Start-up does not wait for the master: /readyz reports it, requests answer 503 meanwhile.
        binding = MasterBinding(app[STORE])
        client = create_master_client(
            master_client_settings(settings.master), observer=app.get(METRICS), session_check=binding
        )
        app[MASTER] = client

        async def master_ready() -> str | None:
            if not await client.ping():
                return "master unreachable"
            return binding.problem

        app[READINESS]["master"] = master_ready
        announcing = asyncio.create_task(announce(binding, client))
        try:
            yield
        finally:
            await stop(announcing)
            await client.close()

    async def services_ctx(app: web.Application) -> AsyncIterator[None]:
        locks = KeyedLocks()
        # What this process's ended requests left pending, resolved by their retries (provisioning/ended.py);
        # kept no longer than the grace, after which the background resolution takes them.
        resolver = build_intent_resolver(settings, app[STORE], app[MASTER], path="retry")
        ended = EndedIntents(resolver.resolve_ended, settings.reconcile.intent_grace)
        app[USERS] = UserService(
            app[STORE],
            app[MASTER],
            settings.users,
            ended=ended,
            own_username=settings.master.username,
            locks=locks,
        )
        app[GROUPS] = GroupService(app[STORE], app[MASTER], ended=ended, locks=locks)
        yield

    # After the store and client, before the services: it resolves a previous process's pending intents
    # before serving, and in `mode: shadow` puts the write-recording client in place for the services.
    # Retention last: its start-up pass runs beside serving, not before the listener opens.
    return [
        store_ctx,
        master_ctx,
        reconcile_context(settings),
        services_ctx,
        retention_context(settings.database),
    ]


def caller(request: web.Request) -> Caller:
    """The request id and authenticated IdP client, for the intent journal and the audit log."""
    context = request[REQUEST_CONTEXT]
    return Caller(request_id=context.request_id, client=context.client or "-")
