"""Admin accounts: see them (admins.read); add, change role, deactivate, reset 2FA (admins.manage).

The rules are AccountService's: only an owner creates or changes an owner, nobody changes their
own role or deactivates themselves, the last active owner stays. The page offers only what the
signed-in admin may do, and the service refuses the rest anyway (a hand-made POST included).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import PathParameter
from litestar.response import Redirect, Template

from hotspot.accounts.errors import AccountError
from hotspot.accounts.guards import requires
from hotspot.accounts.permissions import ROLES
from hotspot.accounts.principal import Principal
from hotspot.admin.web import flash, form_data, page, redirect, text
from hotspot.http.client import client_ip
from hotspot.runtime import Hotspot

__all__ = ["ADMINS_HANDLERS", "ROLE_HELP"]

ROLE_HELP = {
    "owner": "Everything, including other owners, plugins and money settings",
    "admin": "Everything except managing owners",
    "operator": "Sessions, customers and vouchers; no money settings",
    "accountant": "Reports, payments and exports; read-only elsewhere",
    "viewer": "Read-only",
}


def _roles_for(principal: Principal) -> list[str]:
    """Roles this admin may hand out."""
    if not principal.can("admins.manage"):
        return []
    return [r for r in ROLES if r != "owner" or principal.can("owners.manage")]


async def _admins_page(
    request: Request[Any, Any, Any],
    hotspot: Hotspot,
    principal: Principal,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    admins = await hotspot.accounts.list_admins()
    return page(
        request,
        "admin/admins.html",
        principal=principal,
        active="admins",
        title="Admins",
        admins=admins,
        roles=_roles_for(principal),
        role_help=ROLE_HELP,
        can_manage=principal.can("admins.manage"),
        can_manage_owners=principal.can("owners.manage"),
        errors=errors or {},
        form=form or {},
        status_code=status_code,
    )


@get("/admin/admins", include_in_schema=False, cache=False, guards=[requires("admins.read")])
async def admins_page(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    return await _admins_page(request, hotspot, principal)


@post("/admin/admins", include_in_schema=False, guards=[requires("admins.manage")])
async def create_admin(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template | Redirect:
    data = await form_data(request)
    form = {k: text(data, k) for k in ("username", "role", "email", "phone")}
    password = text(data, "password", strip=False)
    given = {**form, "password": password}
    missing = next((k for k in ("username", "password", "role") if not given.get(k)), None)
    if missing is not None:
        return await _admins_page(
            request, hotspot, principal, errors={missing: "Fill this in."}, form=form, status_code=400
        )
    try:
        admin = await hotspot.accounts.create_admin(
            username=form["username"],
            password=password,
            role=form["role"],
            email=form["email"] or None,
            phone=form["phone"] or None,
            by=principal,
            ip=client_ip(request),
        )
    except AccountError as exc:
        status = exc.status if 400 <= exc.status < 500 else 400
        return await _admins_page(
            request,
            hotspot,
            principal,
            errors={exc.field or "form": exc.message},
            form=form,
            status_code=status,
        )
    flash(request, f"{admin['username']} can sign in now as {admin['role']}.")
    return redirect("/admin/admins")


async def _change(
    request: Request[Any, Any, Any],
    hotspot: Hotspot,
    principal: Principal,
    admin_id: int,
    changes: dict[str, Any],
    done: str,
) -> Redirect:
    try:
        admin = await hotspot.accounts.update_admin(admin_id, changes, by=principal, ip=client_ip(request))
    except AccountError as exc:
        flash(request, exc.message, "danger")
    else:
        flash(request, done.format(**admin))
    return redirect("/admin/admins")


@post("/admin/admins/{admin_id:int}/role", include_in_schema=False, guards=[requires("admins.manage")])
async def change_role(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    admin_id: Annotated[int, PathParameter(ge=1)],
) -> Redirect:
    """A new role ends the admin's sessions: they sign in again with it."""
    role = text(await form_data(request), "role")
    return await _change(
        request, hotspot, principal, admin_id, {"role": role}, "{username} is now {role}; they sign in again."
    )


@post("/admin/admins/{admin_id:int}/active", include_in_schema=False, guards=[requires("admins.manage")])
async def set_active(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    admin_id: Annotated[int, PathParameter(ge=1)],
) -> Redirect:
    active = text(await form_data(request), "active") == "1"
    done = "{username} can sign in again." if active else "{username} is deactivated and signed out."
    return await _change(request, hotspot, principal, admin_id, {"active": active}, done)


@post("/admin/admins/{admin_id:int}/reset-2fa", include_in_schema=False, guards=[requires("admins.manage")])
async def reset_2fa(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    admin_id: Annotated[int, PathParameter(ge=1)],
) -> Redirect:
    """For a lost phone: 2FA off, sessions ended; they set it up again after signing in."""
    try:
        admin = await hotspot.accounts.reset_2fa(admin_id, by=principal, ip=client_ip(request))
    except AccountError as exc:
        flash(request, exc.message, "danger")
    else:
        flash(request, f"Two-step sign-in is off for {admin['username']}; they set it up again.", "warning")
    return redirect("/admin/admins")


ADMINS_HANDLERS = [admins_page, create_admin, change_role, set_active, reset_2fa]
