"""One's own account: password, two-step sign-in (2FA), API tokens, signing out everywhere.

Everything goes through AccountService, so the rules are the JSON API's: the current password
to change it (throttled like a sign-in), a confirmed code before 2FA counts, recovery codes and
new tokens shown exactly once (in the answer to the POST that made them, never stored in a
page). While the QR code waits for its first code, the enrolment stays in the server-side
session for ten minutes, so a mistyped code does not mean scanning again.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import PathParameter
from litestar.response import Redirect, Template

from hotspot.accounts.errors import AccountError
from hotspot.accounts.guards import requires
from hotspot.accounts.permissions import PERMISSIONS, grantable_scopes
from hotspot.accounts.principal import Principal
from hotspot.accounts.sessions import admin_session, rotate_session, update_admin_session
from hotspot.admin.web import flash, form_data, page, redirect, text, values
from hotspot.http.client import client_ip
from hotspot.runtime import Hotspot

__all__ = ["ACCOUNT_HANDLERS"]

ENROLMENT = "enrolment"
ENROLMENT_SECONDS = 600


async def _account_page(
    request: Request[Any, Any, Any],
    hotspot: Hotspot,
    principal: Principal,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    new_token: dict[str, Any] | None = None,
    recovery_codes: list[str] | None = None,
    enrolment: dict[str, Any] | None = None,
) -> Template:
    accounts = hotspot.accounts
    me = await accounts.get_admin(principal.admin_id)
    tokens = await accounts.list_tokens(principal)
    scopes = sorted(grantable_scopes(principal.role))
    return page(
        request,
        "admin/account.html",
        principal=principal,
        active="account",
        title="Your account",
        me=me,
        tokens=tokens,
        scopes=[(s, PERMISSIONS[s]) for s in scopes],
        max_days=accounts.security.api_token_max_days,
        require_2fa=await accounts.require_2fa(),
        errors=errors or {},
        new_token=new_token,
        recovery_codes=recovery_codes,
        enrolment=enrolment if enrolment is not None else _pending_enrolment(request, accounts.clock()),
        status_code=status_code,
    )


def _pending_enrolment(request: Request[Any, Any, Any], now: float) -> dict[str, Any] | None:
    current = request.scope.get("session")
    item = current.get(ENROLMENT) if isinstance(current, dict) else None
    if isinstance(item, dict) and now - float(item.get("at", 0)) < ENROLMENT_SECONDS:
        return item
    return None


def _set_enrolment(request: Request[Any, Any, Any], item: dict[str, Any] | None) -> None:
    session = dict(request.session) if isinstance(request.scope.get("session"), dict) else {}
    if item is None:
        session.pop(ENROLMENT, None)
    else:
        session[ENROLMENT] = item
    request.set_session(session)


async def _keep_this_session(request: Request[Any, Any, Any], hotspot: Hotspot, principal: Principal) -> None:
    """After the admin's session generation moved on: carry this session over, under a new id."""
    accounts = hotspot.accounts
    current = admin_session(request) or {}
    login_at = float(current.get("login_at", accounts.clock()))
    update_admin_session(request, await accounts.session_for(principal.admin_id, login_at))
    rotate_session(request)


@get("/admin/account", include_in_schema=False, cache=False, guards=[requires("account.read")])
async def account_page(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    return await _account_page(request, hotspot, principal)


@post("/admin/account/password", include_in_schema=False, guards=[requires("account.manage")])
async def change_password(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template | Redirect:
    data = await form_data(request)
    current = text(data, "current_password", strip=False)
    new = text(data, "new_password", strip=False)
    if not current or not new:
        errors = {"current_password" if not current else "new_password": "Fill this in."}
        return await _account_page(request, hotspot, principal, errors=errors, status_code=400)
    if new != text(data, "confirm_password", strip=False):
        errors = {"confirm_password": "The two new passwords are not the same."}
        return await _account_page(request, hotspot, principal, errors=errors, status_code=400)
    try:
        await hotspot.accounts.change_own_password(principal, current, new, ip=client_ip(request))
    except AccountError as exc:
        field = "new_password" if exc.field == "password" else (exc.field or "current_password")
        status = exc.status if 400 <= exc.status < 500 else 400
        return await _account_page(
            request, hotspot, principal, errors={field: exc.message}, status_code=status
        )
    await _keep_this_session(request, hotspot, principal)
    flash(request, "Password changed. Your other sessions have been signed out.")
    return redirect("/admin/account")


@post("/admin/account/2fa/enrol", include_in_schema=False, guards=[requires("account.manage")])
async def enrol(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template | Redirect:
    """A new secret and its QR code; 2FA is on once a code from it is confirmed."""
    try:
        enrolment = await hotspot.accounts.begin_enrolment(principal)
    except AccountError as exc:
        flash(request, exc.message, "warning")
        return redirect("/admin/account#two-step")
    _set_enrolment(
        request,
        {"secret": enrolment.secret, "qr": enrolment.qr_svg, "at": hotspot.accounts.clock()},
    )
    return redirect("/admin/account#two-step")


@post("/admin/account/2fa/confirm", include_in_schema=False, guards=[requires("account.manage")])
async def confirm(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template | Redirect:
    """Check a first code; the answer shows the recovery codes, this once."""
    data = await form_data(request)
    code = text(data, "code")[:12]
    if not code:
        return await _account_page(
            request, hotspot, principal, errors={"code": "Enter the 6-digit code."}, status_code=400
        )
    try:
        codes = await hotspot.accounts.confirm_enrolment(principal, code, ip=client_ip(request))
    except AccountError as exc:
        status = exc.status if 400 <= exc.status < 500 else 400
        return await _account_page(
            request, hotspot, principal, errors={"code": exc.message}, status_code=status
        )
    _set_enrolment(request, None)
    rotate_session(request)  # privileges changed (no longer limited to enrolment)
    return await _account_page(request, hotspot, principal, recovery_codes=codes, enrolment={})


@post("/admin/account/2fa/cancel", include_in_schema=False, guards=[requires("account.manage")])
async def cancel_enrolment(request: Request[Any, Any, Any]) -> Redirect:
    _set_enrolment(request, None)
    return redirect("/admin/account#two-step")


@post("/admin/account/2fa/disable", include_in_schema=False, guards=[requires("account.manage")])
async def disable(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template | Redirect:
    data = await form_data(request)
    password = text(data, "password", strip=False)
    code = text(data, "code")[:12]
    if not password or not code:
        errors = {"disable": "Enter your password and a current code."}
        return await _account_page(request, hotspot, principal, errors=errors, status_code=400)
    try:
        await hotspot.accounts.disable_2fa(principal, password, code, ip=client_ip(request))
    except AccountError as exc:
        status = exc.status if 400 <= exc.status < 500 else 400
        return await _account_page(
            request, hotspot, principal, errors={"disable": exc.message}, status_code=status
        )
    flash(request, "Two-step sign-in is off. Signing in needs only your password now.", "warning")
    return redirect("/admin/account#two-step")


@post("/admin/account/tokens", include_in_schema=False, guards=[requires("account.manage")])
async def create_token(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    """The token is in this answer only: it is stored as a hash."""
    data = await form_data(request)
    try:
        days = int(text(data, "expires_in_days") or "90")
    except ValueError:
        return await _account_page(
            request,
            hotspot,
            principal,
            errors={"expires_in_days": "Enter a number of days."},
            status_code=400,
        )
    try:
        new = await hotspot.accounts.create_token(
            principal,
            name=text(data, "name"),
            scopes=values(data, "scopes"),
            days=days,
            ip=client_ip(request),
        )
    except AccountError as exc:
        status = exc.status if 400 <= exc.status < 500 else 400
        return await _account_page(
            request, hotspot, principal, errors={exc.field or "token": exc.message}, status_code=status
        )
    return await _account_page(
        request, hotspot, principal, new_token={"token": new.token, **new.info}, status_code=201
    )


@post(
    "/admin/account/tokens/{token_id:int}/revoke",
    include_in_schema=False,
    guards=[requires("account.manage")],
)
async def revoke_token(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    token_id: Annotated[int, PathParameter(ge=1)],
) -> Redirect:
    try:
        token = await hotspot.accounts.revoke_token(principal, token_id, ip=client_ip(request))
    except AccountError as exc:
        flash(request, exc.message, "danger")
    else:
        flash(request, f"Token “{token['name']}” revoked: it no longer works.")
    return redirect("/admin/account#tokens")


@post("/admin/account/logout-all", include_in_schema=False, guards=[requires("account.manage")])
async def logout_everywhere(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Redirect:
    """Every other session of this admin ends; this one goes on under a new id."""
    await hotspot.accounts.logout_everywhere(principal, client_ip(request))
    await _keep_this_session(request, hotspot, principal)
    flash(request, "Signed out everywhere else. This browser stays signed in.")
    return redirect("/admin/account#sessions")


@post("/admin/account/theme", include_in_schema=False, guards=[requires("account.manage")], status_code=200)
async def save_theme(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Response[Any]:
    """The light/dark toggle (web/static/js/admin.js) remembers the choice for this admin, not
    only this browser, so the owner's phone and laptop open in the same mode."""
    try:
        await hotspot.accounts.set_theme(principal, text(await form_data(request), "theme"))
    except AccountError as exc:
        return Response({"detail": exc.message, "field": exc.field}, status_code=400)
    return Response(b"", status_code=204, headers={"Cache-Control": "no-store"})


ACCOUNT_HANDLERS = [
    account_page,
    save_theme,
    change_password,
    enrol,
    confirm,
    cancel_enrolment,
    disable,
    create_token,
    revoke_token,
    logout_everywhere,
]
