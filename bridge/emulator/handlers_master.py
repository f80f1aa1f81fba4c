"""Cluster info: GET /api/v1/master and the legacy GET /info every `det` command calls first (§10)."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from bridge.emulator.keys import EMULATOR_STATE
from bridge.emulator.wire import json_response

VERSION: Final = "0.38.1"
MASTER_ID: Final = "emulator-master"
CLUSTER_NAME: Final = "scim-bridge-emulator"


async def get_master(request: web.Request) -> web.Response:
    """GET /api/v1/master: no authentication needed."""
    state = request.app[EMULATOR_STATE]
    return json_response(
        {
            "version": VERSION,
            "masterId": MASTER_ID,
            "clusterId": state.config.cluster_id,
            "clusterName": CLUSTER_NAME,
            "telemetryEnabled": False,
            "ssoProviders": [],
            "externalLoginUri": "",
            "externalLogoutUri": "",
            "branding": "determined",
            "rbacEnabled": state.config.rbac,
            "product": "PRODUCT_UNSPECIFIED",
            "featureSwitches": [],
            "userManagementEnabled": True,
            "strictJobQueueControl": False,
            "hasCustomLogo": False,
        }
    )


async def get_info(request: web.Request) -> web.Response:
    """GET /info: legacy echo route with snake_case keys."""
    state = request.app[EMULATOR_STATE]
    return json_response(
        {
            "version": VERSION,
            "master_id": MASTER_ID,
            "cluster_id": state.config.cluster_id,
            "cluster_name": CLUSTER_NAME,
            "telemetry": {"enabled": False},
            "rbacEnabled": state.config.rbac,
        }
    )
