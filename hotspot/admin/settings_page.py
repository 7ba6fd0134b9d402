"""The admin's settings page: what the setup wizard chose, a link to each of its steps, and the
owner's sign-in policy ("require two-step sign-in for every admin")."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from hotspot.accounts.errors import AccountError
from hotspot.accounts.guards import requires
from hotspot.accounts.principal import Principal
from hotspot.admin.places import country
from hotspot.admin.web import flash, form_data, page, redirect, text
from hotspot.admin.wizard import STEPS, steps_done
from hotspot.http.client import client_ip
from hotspot.runtime import Hotspot

__all__ = ["SETTINGS_HANDLERS"]


@get("/admin/settings", include_in_schema=False, cache=False, guards=[requires("settings.read")])
async def settings_page(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    business = hotspot.settings.business
    accounts = hotspot.accounts
    place = country(business.country)
    return page(
        request,
        "admin/settings.html",
        principal=principal,
        active="settings",
        title="Settings",
        steps=[s for s in STEPS if s.id != "owner"],
        done=await steps_done(hotspot),
        business=business,
        country_name=place.name if place else (business.country or "Not set"),
        routers=await hotspot.router_store.listing(),
        gateways=sorted(hotspot.registry.gateways.values(), key=lambda g: g.display_name),
        packages=await hotspot.catalog.all(),
        require_2fa=await accounts.require_2fa(),
        require_2fa_pinned=accounts.security.require_2fa is not None,
        source=hotspot.settings.source,
        pinned=sorted(hotspot.settings.pinned),
    )


@post("/admin/settings/require-2fa", include_in_schema=False, guards=[requires("owners.manage")])
async def set_require_2fa(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Redirect:
    """Owners only: every admin must use two-step sign-in (those without it enrol at once)."""
    value = text(await form_data(request), "require_2fa") == "1"
    try:
        await hotspot.accounts.set_require_2fa(value, by=principal, ip=client_ip(request))
    except AccountError as exc:
        flash(request, exc.message, "danger")
    else:
        flash(
            request,
            "Every admin now needs two-step sign-in." if value else "Two-step sign-in is up to each admin.",
        )
    return redirect("/admin/settings#security")


SETTINGS_HANDLERS = [settings_page, set_require_2fa]
