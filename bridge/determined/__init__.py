"""Outbound async client for the Determined master's REST API (contract: shared/determined/master-api.md)."""

from bridge.determined.calls import calls_made, start_counting
from bridge.determined.client import (
    DeterminedClient,
    create_master_client,
    escape_like,
)
from bridge.determined.credentials import MasterCredential
from bridge.determined.errors import (
    MasterBadRequest,
    MasterConflict,
    MasterError,
    MasterForbidden,
    MasterInternal,
    MasterMismatch,
    MasterNotFound,
    MasterProtocolError,
    MasterThrottled,
    MasterUnauthorized,
    MasterUnavailable,
    MasterUnimplemented,
    MasterUnverified,
)
from bridge.determined.models import (
    CreatedToken,
    MasterGroup,
    MasterGroupDetails,
    MasterGroupPage,
    MasterInfo,
    MasterUser,
    MasterUserPage,
    Pagination,
)
from bridge.determined.settings import MasterClientSettings

__all__ = [
    "CreatedToken",
    "DeterminedClient",
    "MasterBadRequest",
    "MasterClientSettings",
    "MasterConflict",
    "MasterCredential",
    "MasterError",
    "MasterForbidden",
    "MasterGroup",
    "MasterGroupDetails",
    "MasterGroupPage",
    "MasterInfo",
    "MasterInternal",
    "MasterMismatch",
    "MasterNotFound",
    "MasterProtocolError",
    "MasterThrottled",
    "MasterUnauthorized",
    "MasterUnavailable",
    "MasterUnimplemented",
    "MasterUnverified",
    "MasterUser",
    "MasterUserPage",
    "Pagination",
    "calls_made",
    "create_master_client",
    "escape_like",
    "start_counting",
]
