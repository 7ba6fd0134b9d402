"""What makes the portal and the admin installable web apps: a web manifest and a service worker.

Both apps are PWAs (design.md: "manifest + service worker for both portal and admin"); they
differ in name, scope and what their worker caches, so each passes its own. A worker is
served from its app's own path (a worker controls only pages under the path it came from),
never cached by HTTP, with the version in its cache name so an upgrade replaces every file.
"""

from __future__ import annotations

import html
import json
from functools import cache
from typing import Any

from litestar import Response

from hotspot import __version__
from hotspot.http.assets import static_dir

__all__ = ["ICONS", "manifest_response", "service_worker_response"]

ICONS: list[dict[str, str]] = [
    {"src": "/static/portal/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any"},
    {"src": "/static/portal/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
    {
        "src": "/static/portal/icon-maskable-512.png",
        "sizes": "512x512",
        "type": "image/png",
        "purpose": "maskable",
    },
]


def manifest_response(
    *,
    name: str,
    short_name: str,
    description: str,
    scope: str,
    start_url: str,
    orientation: str = "any",
    background_color: str = "#f3f6f6",
    theme_color: str = "#0f766e",
) -> Response[dict[str, Any]]:
    manifest = {
        "name": name,
        "short_name": short_name[:12],
        "description": description,
        "id": scope,
        "start_url": start_url,
        "scope": scope,
        "display": "standalone",
        "orientation": orientation,
        "background_color": background_color,
        "theme_color": theme_color,
        "icons": ICONS,
    }
    return Response(
        manifest, media_type="application/manifest+json", headers={"Cache-Control": "public, max-age=3600"}
    )


SHARED_WORKER = "js/sw-cache.js"  # hotspotCache(): what both workers do alike


@cache
def _worker(source: str, business: str) -> bytes:
    """The worker's text followed by the shared part, with the version (cache name) and the business
    name (HTML-escaped, inside a JS string) filled in."""
    text = "\n".join((static_dir() / f).read_text(encoding="utf-8") for f in (source, SHARED_WORKER))
    name = json.dumps(html.escape(business))[1:-1]
    return text.replace("__HOTSPOT_VERSION__", __version__).replace("__BUSINESS_NAME__", name).encode()


def service_worker_response(source: str, *, scope: str, business: str) -> Response[bytes]:
    """`source` is the worker's own file under web/static/ (e.g. portal/sw.js)."""
    return Response(
        _worker(source, business),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": scope},
    )
