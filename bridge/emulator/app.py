"""Assembly of the emulator application and a standalone runner."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from bridge.emulator import handlers_auth, handlers_groups, handlers_master, handlers_tokens, handlers_users
from bridge.emulator.admin import add_admin_routes
from bridge.emulator.config import EmulatorConfig
from bridge.emulator.keys import EMULATOR_STATE
from bridge.emulator.middleware import envelope_middleware, faults_middleware
from bridge.emulator.state import EmulatorState

# Order matters: the literal /users/assignments must be tried before /users/{userId}.
_ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("POST", "/api/v1/auth/login", handlers_auth.login),
    ("POST", "/api/v1/auth/logout", handlers_auth.logout),
    ("GET", "/api/v1/auth/user", handlers_auth.current_user),
    ("GET", "/api/v1/me", handlers_auth.current_user),
    ("GET", "/api/v1/users", handlers_users.get_users),
    ("POST", "/api/v1/users", handlers_users.post_user),
    ("PATCH", "/api/v1/users", handlers_users.patch_users),
    ("PATCH", "/api/v1/users/assignments", handlers_groups.assign_groups),
    ("GET", "/api/v1/users/{userId}", handlers_users.get_user),
    ("PATCH", "/api/v1/users/{userId}", handlers_users.patch_user),
    ("POST", "/api/v1/users/{userId}/password", handlers_users.set_user_password),
    ("GET", "/api/v1/users/{username}/by-username", handlers_users.get_user_by_username),
    ("POST", "/api/v1/groups", handlers_groups.create_group),
    ("POST", "/api/v1/groups/search", handlers_groups.search_groups),
    ("GET", "/api/v1/groups/{groupId}", handlers_groups.get_group),
    ("PUT", "/api/v1/groups/{groupId}", handlers_groups.update_group),
    ("DELETE", "/api/v1/groups/{groupId}", handlers_groups.delete_group),
    ("POST", "/api/v1/tokens", handlers_tokens.post_token),
    ("GET", "/api/v1/tokens", handlers_tokens.get_tokens),
    ("PATCH", "/api/v1/tokens/{tokenId}", handlers_tokens.patch_token),
    ("GET", "/api/v1/master", handlers_master.get_master),
    ("GET", "/info", handlers_master.get_info),
)


def create_emulator_app(config: EmulatorConfig | None = None) -> web.Application:
    """Build the emulated master; its state is at `app[EMULATOR_STATE]`."""
    config = config or EmulatorConfig()
    app = web.Application(middlewares=[envelope_middleware, faults_middleware])
    app[EMULATOR_STATE] = EmulatorState(config)
    if config.admin_endpoint:
        add_admin_routes(app)
    for method, path, handler in _ROUTES:
        app.router.add_route(method, path, handler)
        # Echo strips a trailing slash before routing (§1.1).
        app.router.add_route(method, path + "/", handler)
    return app
