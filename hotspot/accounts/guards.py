"""Guards for admin routes: who is calling, and may they do this?

Every admin page and API route carries one guard naming the permission it needs::

    @post("/vouchers", guards=[requires("vouchers.write")])
    async def create(self, principal: Principal) -> ...:

The caller is resolved once per request, from `Authorization: Bearer <token>` when present
(a token never falls back to the cookie), else from the session cookie; handlers receive it as
the `principal` dependency. No caller: 401. Not allowed: 403.

Cross-site request forgery: a session-authenticated call that changes something (POST, PUT,
PATCH, DELETE) must carry `X-Requested-With` or `HX-Request` (htmx sends it on every request).
A cross-site page cannot add a custom header without a CORS preflight this app never grants,
and a plain HTML form cannot send one at all. API tokens are not sent by browsers on their own,
so token calls need no header. The HTML admin's forms carry Litestar's CSRF token instead
(hotspot.admin.csrf): a request whose token the CSRF middleware verified passes too.

tests/core/accounts/test_rbac.py walks every route of the app: a route under /api/v1 without
one of these guards (outside the public list) fails the suite. And at run time the app-wide
`closed_unless_guarded` refuses any route under the admin and API prefixes that names no
permission and is not marked `opt={PUBLIC: True}`: a route that slipped through is closed, not
open.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.utils.scope.state import ScopeState

from hotspot.accounts.permissions import PERMISSIONS
from hotspot.accounts.principal import Principal
from hotspot.accounts.sessions import ADMIN_KEY, admin_session, update_admin_session

__all__ = [
    "CSRF_HEADERS",
    "GUARDED_PREFIXES",
    "PUBLIC",
    "Requires",
    "authenticate",
    "check_csrf_header",
    "closed_unless_guarded",
    "current_principal",
    "required_permissions",
    "requires",
    "resolved_principal",
]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
GUARDED_PREFIXES = ("/api/v1/", "/admin", "/setup")  # every route here needs a permission ...
PUBLIC = "public"  # ... unless its handler (or controller) says opt={PUBLIC: True}
CSRF_HEADERS = ("x-requested-with", "hx-request")
_CACHE = "hotspot.principal"
_NOBODY = object()


class Requires:
    """A guard: the caller must hold `permission` (hotspot.accounts.permissions)."""

    def __init__(self, permission: str) -> None:
        if permission not in PERMISSIONS:
            raise ValueError(f"unknown permission {permission!r}; add it to hotspot.accounts.permissions")
        self.permission = permission

    def __repr__(self) -> str:
        return f"requires({self.permission!r})"

    async def __call__(self, connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = await authenticate(connection)
        if principal is None:
            raise NotAuthorizedException("Please sign in first.")
        if principal.via == "session" and connection.scope.get("method", "GET") not in SAFE_METHODS:
            check_csrf_header(connection)
        if principal.can(self.permission):
            return
        if principal.must_enrol_2fa:
            raise PermissionDeniedException(
                "The owner requires two-factor sign-in: set it up first (POST /api/v1/auth/2fa/enrol)."
            )
        if principal.via == "token":
            raise PermissionDeniedException(f"This API token lacks the scope {self.permission}.")
        raise PermissionDeniedException(
            f"Your role ({principal.role}) is not allowed to do this ({self.permission})."
        )


def requires(permission: str) -> Requires:
    return Requires(permission)


def required_permissions(handler: BaseRouteHandler) -> list[str]:
    """The permissions a route's guards demand, from every layer (app, router, controller, handler)."""
    found: list[str] = []
    for layer in handler.ownership_layers:
        for guard in getattr(layer, "guards", None) or []:
            if isinstance(guard, Requires):
                found.append(guard.permission)
    return found


def check_csrf_header(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    if any(connection.headers.get(h) for h in CSRF_HEADERS) or _csrf_token_verified(connection):
        return
    raise PermissionDeniedException(
        "Refused: a request signed in by cookie must carry the X-Requested-With header."
    )


def _csrf_token_verified(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """Litestar's CSRF middleware records the token only once it matched the cookie (unsafe methods)."""
    token = ScopeState.from_scope(connection.scope).csrf_token
    return isinstance(token, str) and bool(token)


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """The caller, resolved once per request (bearer token first, else the session)."""
    state: dict[str, Any] = connection.scope.setdefault("state", {})
    cached = state.get(_CACHE)
    if cached is _NOBODY:
        return None
    if isinstance(cached, Principal):
        return cached
    accounts = connection.app.state.hotspot.accounts
    principal: Principal | None = None
    authorization = connection.headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        principal = await accounts.tokens.resolve(authorization[7:].strip())
    else:
        data = admin_session(connection)
        if data is not None:
            resolved = await accounts.resolve_session(data)
            if resolved is None:
                current = connection.scope.get("session")
                session = dict(current) if isinstance(current, dict) else {}
                session.pop(ADMIN_KEY, None)
                connection.set_session(session)
            else:
                principal, refreshed = resolved
                update_admin_session(connection, refreshed)
    state[_CACHE] = principal if principal is not None else _NOBODY
    return principal


def resolved_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """The caller `authenticate` already resolved in this request (for sync exception handlers)."""
    cached = connection.scope.get("state", {}).get(_CACHE)
    return cached if isinstance(cached, Principal) else None


async def current_principal(request: Request[Any, Any, Any]) -> Principal:
    """Dependency `principal`: the caller a guard let through (401 when nobody is signed in)."""
    principal = await authenticate(request)
    if principal is None:
        raise NotAuthorizedException("Please sign in first.")
    return principal


async def closed_unless_guarded(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """App-wide guard: under GUARDED_PREFIXES a route either names a permission (`requires`) or
    is public on purpose; anything else answers 403 instead of serving whoever asks."""
    if not connection.scope.get("path", "").startswith(GUARDED_PREFIXES) or handler.opt.get(PUBLIC):
        return
    if required_permissions(handler):
        return
    raise PermissionDeniedException("This route names no permission, so it is closed.")
