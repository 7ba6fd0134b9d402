"""Who may do what, proven on the real app: every admin route is guarded, every role gets exactly
what the permission table says (403 or not), and the table says what the issue says.

A new route under /api/v1, an admin page under /admin or a setup step under /setup without
`requires(...)` fails `test_every_admin_route_has_a_permission_guard`; a guard that does not
match the table fails the matrix. HTML pages are walked too: their form posts carry the CSRF
token (the test browser fetches it like a page would), so only the guard can refuse them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from accounts_support import Box
from litestar import Litestar
from litestar.handlers.base import BaseRouteHandler
from litestar.routes import HTTPRoute, WebSocketRoute

from hotspot.accounts.guards import GUARDED_PREFIXES, PUBLIC, required_permissions
from hotspot.accounts.permissions import (
    ALL_PERMISSIONS,
    PERMISSIONS,
    READ_PERMISSIONS,
    ROLE_PERMISSIONS,
    ROLES,
    SELF_PERMISSIONS,
    TOKEN_FORBIDDEN,
    permissions_for,
)
from hotspot.app import create_app
from hotspot.config import Settings

# Public on purpose, and why. Everything else under the prefixes above needs a permission.
PUBLIC_ROUTES = {
    ("/api/v1/auth/login", "POST"): "signing in is how one gets a session",
    ("/admin/login", "GET"): "the sign-in page",
    ("/admin/login", "POST"): "signing in (step one: the password)",
    ("/admin/login/code", "POST"): "signing in (step two: the 2FA code of a password checked a moment ago)",
    ("/admin/manifest.webmanifest", "GET"): "the installable app's manifest: names and icons, no data",
    ("/admin/sw.js", "GET"): "the admin's service worker script (caches vendored files only)",
    ("/admin/offline", "GET"): "the page shown when the box is out of reach: stored by the worker, no data",
    ("/setup", "GET"): "a fresh box asks for its owner; once one exists it sends everyone to sign in",
    ("/setup/owner", "POST"): "creates the first owner; refused once any admin exists",
}
PUBLIC_PREFIXES = {
    "/api/v1/portal": "the captive portal's API: customers have no account",
}
# Outside GUARDED_PREFIXES, so not checked here: /, /healthz (probes), /portal and /login pages
# (customers), /hooks/* (gateway webhooks: a secret path each), /static, /api/schema (OpenAPI).
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def routes(app: Litestar) -> Iterator[tuple[str, str, BaseRouteHandler]]:
    """(path, method, handler) for every registered HTTP and WebSocket route."""
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                for method in sorted(handler.http_methods):
                    if method not in ("HEAD", "OPTIONS"):
                        yield route.path, method, handler
        elif isinstance(route, WebSocketRoute):
            yield route.path, "WEBSOCKET", route.route_handler


def is_public(path: str, method: str) -> bool:
    if (path, method) in PUBLIC_ROUTES:
        return True
    return any(path == p or path.startswith(p + "/") for p in PUBLIC_PREFIXES)


def guarded_routes(app: Litestar) -> list[tuple[str, str, list[str]]]:
    return [
        (path, method, required_permissions(handler))
        for path, method, handler in routes(app)
        if path.startswith(GUARDED_PREFIXES) and not is_public(path, method)
    ]


def test_every_admin_route_has_a_permission_guard(settings: Settings) -> None:
    app = create_app(settings)
    everything = list(routes(app))
    assert any(p == "/api/v1/auth/me" for p, _, _ in everything), "the route walk found nothing"
    for public in PUBLIC_ROUTES:
        assert any((p, m) == public for p, m, _ in everything), f"allow-listed {public} no longer exists"
    unguarded = [f"{m} {p}" for p, m, perms in guarded_routes(app) if not perms]
    assert not unguarded, (
        "routes without a permission guard (add guards=[requires('<permission>')], or allow-list "
        "them in PUBLIC_ROUTES with the reason):\n" + "\n".join(unguarded)
    )
    unknown = [(p, perm) for p, _, perms in guarded_routes(app) for perm in perms if perm not in PERMISSIONS]
    assert not unknown


def test_the_walk_catches_an_unguarded_route(settings: Settings) -> None:
    """The meta-test above can fail: a route added without a guard is reported."""
    from litestar import get

    @get("/api/v1/oops")
    async def oops() -> str:
        return "no guard"

    app = create_app(settings)
    app.register(oops)
    assert ("/api/v1/oops", "GET", []) in guarded_routes(app)


async def test_a_route_that_slipped_through_is_closed_at_run_time(settings: Settings) -> None:
    """The app-wide guard (closed_unless_guarded): no permission and not public means 403, even
    for a signed-out caller; the same route outside the guarded prefixes is untouched."""
    from litestar import get
    from litestar.testing import AsyncTestClient

    @get("/admin/oops")
    async def oops() -> str:
        return "no guard"

    @get("/oops")
    async def elsewhere() -> str:
        return "not under /admin"

    app = create_app(settings)
    app.register(oops)
    app.register(elsewhere)
    async with AsyncTestClient(app) as client:
        closed = await client.get("/admin/oops")
        assert closed.status_code == 403 and "no guard" not in closed.text
        assert (await client.get("/oops")).text == "not under /admin"


def test_public_routes_are_marked_so_in_the_code(settings: Settings) -> None:
    """What the run-time guard lets through (opt public) is exactly the reviewed list above."""
    app = create_app(settings)
    marked = {
        (path, method)
        for path, method, handler in routes(app)
        if path.startswith(GUARDED_PREFIXES) and handler.opt.get(PUBLIC)
    }
    listed = {(p, m) for p, m, _ in routes(app) if p.startswith(GUARDED_PREFIXES) and is_public(p, m)}
    assert marked == listed


# --- the table ---------------------------------------------------------------------------------


def test_the_table_says_what_the_issue_says() -> None:
    table = ROLE_PERMISSIONS
    assert set(table) == set(ROLES) == {"owner", "admin", "operator", "accountant", "viewer"}
    writes = ALL_PERMISSIONS - READ_PERMISSIONS - SELF_PERMISSIONS
    # owner: everything, incl. admins, plugins, money settings
    assert table["owner"] == ALL_PERMISSIONS
    # admin: all operations except managing owners
    assert table["admin"] == ALL_PERMISSIONS - {"owners.manage"}
    # operator: sessions, customers, vouchers; no money settings
    assert {"sessions.write", "customers.write", "vouchers.write"} <= table["operator"]
    assert table["operator"] & writes == {"sessions.write", "customers.write", "vouchers.write"}
    assert "money.settings" not in table["operator"] and "packages.write" not in table["operator"]
    # accountant: reports, payments, exports; read-only elsewhere
    assert {"reports.read", "payments.read", "payments.write", "exports.run"} <= table["accountant"]
    assert table["accountant"] & writes == {"payments.write", "exports.run"}
    assert table["accountant"] >= READ_PERMISSIONS
    # viewer: read-only
    assert table["viewer"] == READ_PERMISSIONS | SELF_PERMISSIONS
    for role in ROLES:
        assert table[role] >= SELF_PERMISSIONS, f"{role} must be able to sign out and set up 2FA"


def test_tokens_narrow_a_role_and_never_manage_the_account() -> None:
    assert permissions_for("viewer", ["sessions.write", "sessions.read"]) == {"sessions.read"}
    assert permissions_for("owner", ["account.manage", "account.read"]) == {"account.read"}
    assert permissions_for("owner", []) == frozenset()
    assert {"account.manage"} == TOKEN_FORBIDDEN
    assert permissions_for("nobody") == frozenset()


# --- the matrix on the running app --------------------------------------------------------------


def _url(path: str, ids: dict[str, Any]) -> str:
    """Fill path parameters: a real admin id where one is needed, harmless values elsewhere."""

    def fill(match: re.Match[str]) -> str:
        name, _, kind = match.group(1).partition(":")
        if name in ids:
            return str(ids[name])
        return "999999" if kind == "int" else "rbac-probe"

    return re.sub(r"\{([^}]+)\}", fill, path)


async def test_rbac_matrix(box: Box) -> None:
    """Each role, signed in afresh, calls every guarded route: 403 exactly when the table says so.

    Writes send a body no route accepts, so an allowed call stops at validation (400) and a
    refused one at the guard (403): the guard runs before the body is read.
    """
    target = box.admin("target", "viewer")  # whom admin routes act on (never the caller)
    for role in ROLES:
        box.admin(f"{role}-1", role)
    checked = 0
    for path, method, perms in guarded_routes(box.client.app):
        if method == "WEBSOCKET":
            continue
        url = _url(path, {"admin_id": target["id"]})
        for role in ROLES:
            browser = await box.signed_in(f"{role}-1")
            body = {"json": {"__rbac_probe__": True}} if method in WRITE_METHODS else {}
            response = await browser.request(method, url, **body)
            allowed = all(p in ROLE_PERMISSIONS[role] for p in perms)
            where = f"{role} {method} {url} (needs {perms}) -> {response.status_code} {response.text[:200]}"
            assert response.status_code != 401, where
            if allowed:
                assert response.status_code != 403, where
                assert response.status_code < 500, where
            else:
                assert response.status_code == 403, where
            checked += 1
    assert checked >= 5 * 20


@pytest.mark.parametrize("role", ["operator", "viewer"])
async def test_a_token_is_held_to_its_scopes_in_the_matrix_too(box: Box, role: str) -> None:
    box.admin("scoped", role)
    browser = await box.signed_in("scoped")
    token = (
        await browser.post(
            "/api/v1/auth/tokens", json={"name": "script", "scopes": ["sessions.read"], "expires_in_days": 1}
        )
    ).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    for path, method, perms in guarded_routes(box.client.app):
        if method != "GET" or "{" in path:
            continue
        response = await box.client.get(path, headers=auth)
        expected = all(p in permissions_for(role, ["sessions.read"]) for p in perms)
        assert (response.status_code != 403) == expected, f"{path} {perms} -> {response.status_code}"
