"""Core pages and probes: the home page, /healthz and the router's login page."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.response import Redirect, Response, Template
from litestar.status_codes import HTTP_200_OK, HTTP_303_SEE_OTHER, HTTP_503_SERVICE_UNAVAILABLE

from hotspot.routers.setup_script import SetupScriptError, login_page
from hotspot.runtime import Hotspot

__all__ = ["healthz", "home", "router_login_page"]


@get(
    "/healthz",
    include_in_schema=True,
    tags=["system"],
    summary="Health of the box and its parts",
    cache=False,
)
async def healthz(hotspot: NamedDependency[Hotspot]) -> Response[dict[str, Any]]:
    """Status of the database, Redis, routers and gateways; HTTP 503 when a required part is down."""
    report = await hotspot.health()
    status = HTTP_503_SERVICE_UNAVAILABLE if report["status"] == "down" else HTTP_200_OK
    return Response(report, status_code=status, headers={"Cache-Control": "no-store"})


@get("/", include_in_schema=False, cache=False)
async def home(request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot]) -> Template | Redirect:
    """The box's status page; a fresh install (no admin yet) goes to the setup wizard."""
    if not await hotspot.accounts.has_admins():
        return Redirect("/setup", status_code=HTTP_303_SEE_OTHER, headers={"Cache-Control": "no-store"})
    enabled = set(hotspot.registry.enabled)
    plugins = [
        {
            "name": p.name,
            "kind": p.info.kind if p.info else "unknown",
            "version": p.version or "",
            "enabled": p.name in enabled,
            "error": p.error,
        }
        for p in hotspot.installed.values()
    ]
    return Template(
        template_name="home.html",
        context={
            "data_dir": str(hotspot.settings.data_dir),
            "database": hotspot.db.backend,
            "redis": hotspot.redis is not None,
            "health": await hotspot.health(),
            "plugins": plugins,
            "request_id": request.scope.get("state", {}).get("request_id", "-"),
        },
    )


@get("/router/login.html", include_in_schema=False, cache=False)
async def router_login_page(request: Request[Any, Any, Any]) -> Response[str]:
    """web/router/login.html pointing at this box, for the setup script's `/tool fetch`.

    The portal address is the one the router used to ask: the box as seen from the hotspot
    network (server.public_url may be an internet address for callbacks, unreachable there)."""
    try:
        page = login_page(str(request.base_url).rstrip("/") + "/portal")
    except SetupScriptError as exc:
        raise ValidationException(str(exc)) from None
    return Response(
        page,
        media_type="text/html",
        headers={"Content-Disposition": 'attachment; filename="login.html"', "Cache-Control": "no-store"},
    )
