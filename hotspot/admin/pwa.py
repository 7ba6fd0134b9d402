"""The admin as an installable app: its web manifest, its service worker and the offline page
the worker shows when the box is out of reach (hotspot.http.pwa has what the portal shares)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.response import Template

from hotspot.accounts.guards import PUBLIC
from hotspot.admin.web import page
from hotspot.http.pwa import manifest_response, service_worker_response
from hotspot.runtime import Hotspot

__all__ = ["PWA_HANDLERS"]


@get("/admin/manifest.webmanifest", include_in_schema=False, cache=False, opt={PUBLIC: True})
async def admin_manifest(hotspot: NamedDependency[Hotspot]) -> Response[dict[str, Any]]:
    name = hotspot.settings.business.name or "Hotspot"
    return manifest_response(
        name=f"{name} Admin",
        short_name=f"{name} Admin" if len(name) <= 6 else name,
        description=f"Run {name}: who is online, payments, vouchers and reports.",
        scope="/admin",
        start_url="/admin?source=pwa",
    )


@get("/admin/sw.js", include_in_schema=False, cache=False, opt={PUBLIC: True})
async def admin_service_worker(hotspot: NamedDependency[Hotspot]) -> Response[bytes]:
    """Served from /admin/ (not /static/) so it may control the admin pages."""
    return service_worker_response("admin/sw.js", scope="/admin", business=hotspot.settings.business.name)


@get("/admin/offline", include_in_schema=False, cache=False, opt={PUBLIC: True})
async def admin_offline(request: Request[Any, Any, Any]) -> Template:
    """Stored by the service worker at install; holds no data, so it needs no sign-in."""
    response = page(request, "admin/offline.html", principal=None, title="Offline")
    response.headers["Cache-Control"] = "no-cache"
    return response


PWA_HANDLERS = [admin_manifest, admin_service_worker, admin_offline]
