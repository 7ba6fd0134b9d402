"""The routers page (/admin/routers): every router with its health, a map of where they are, and
the owner's actions: add or edit one (a Bootstrap modal; connection tested before saving), test
it, remove it, download its RouterOS setup script, and choose the map's tile server.

Routers from config.yaml are listed and mapped but changed in the file only. An admin-managed
router's password stays sealed in the database: the form never shows it, and left empty on edit
the saved one is kept. Every change is audited and the pool is rebuilt at once (RouterStore).

The map is Leaflet (vendored) drawn by web/static/js/routers.js from a JSON data island. Tiles
come from the `map.tile_url` setting (OpenStreetMap by default); this page's CSP allows that one
tile host for images, and no other page does. Without internet the markers still show, on a
plain background.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from litestar import MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, NotFoundException
from litestar.params import PathParameter
from litestar.response import Redirect, Template

from hotspot.accounts.guards import requires
from hotspot.accounts.principal import Principal
from hotspot.admin.changes import NotApplied, apply_saved, save_settings
from hotspot.admin.router_form import check_router, parse_router_form, router_result, router_settings
from hotspot.admin.sessions import Sessions
from hotspot.admin.web import flash, form_data, fragment, hx_redirect, page, redirect, text, wants_fragment
from hotspot.config import RouterSettings
from hotspot.contracts import Health
from hotspot.errors import HotspotError
from hotspot.http.client import client_ip
from hotspot.http.security import CSP
from hotspot.routers.setup_script import RouterScript, SetupScriptError, setup_script
from hotspot.runtime import Hotspot
from hotspot.secrets_box import SecretUnreadable

__all__ = [
    "DEFAULT_TILE_URL",
    "ROUTERS_HANDLERS",
    "TILE_URL_KEY",
    "map_csp",
    "parse_tile_url",
    "tile_source",
]

TILE_URL_KEY = "map.tile_url"  # in the settings table; "" = no tiles (a box without internet)
DEFAULT_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = "© OpenStreetMap contributors"
STATUS_WORDS = {"ok": "up", "degraded": "degraded", "down": "down"}
_HOST = re.compile(
    r"^(\{s\}\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)
_URL_SAFE = re.compile(r"^[A-Za-z0-9{}._~:/?&=%@+-]+$")
RouterName = Annotated[str, PathParameter(max_length=64)]


# --- map tiles -------------------------------------------------------------------------------------


def parse_tile_url(raw: str) -> str:
    """A Leaflet tile URL template, checked so it can go into a CSP header; ValueError says why."""
    value = raw.strip()
    if len(value) > 300 or not _URL_SAFE.match(value):
        raise ValueError("Use a plain URL like https://tile.openstreetmap.org/{z}/{x}/{y}.png.")
    parts = urlsplit(value)
    host = parts.netloc.rsplit(":", 1)[0] if parts.netloc.count(":") == 1 else parts.netloc
    port = parts.netloc.rsplit(":", 1)[1] if parts.netloc.count(":") == 1 else ""
    if parts.scheme not in ("http", "https") or not host or not _HOST.match(host) or "@" in parts.netloc:
        raise ValueError("Start with https:// and a host name, e.g. https://tile.openstreetmap.org/.")
    if port and not (re.fullmatch(r"[0-9]{1,5}", port) and 1 <= int(port) <= 65535):
        raise ValueError("The port after the host name must be a number from 1 to 65535.")
    if not all(p in value for p in ("{z}", "{x}", "{y}")):
        raise ValueError("The address needs {z}, {x} and {y} where the tile's zoom and position go.")
    return value


def tile_source(tile_url: str) -> str | None:
    """The CSP source of a tile URL template ({s} subdomains as a wildcard), None without tiles."""
    if not tile_url:
        return None
    parts = urlsplit(tile_url)
    return f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"


def map_csp(tile_url: str) -> str:
    """The default CSP with the tile host allowed for images (this page only)."""
    source = tile_source(tile_url)
    return CSP.replace("img-src 'self' data:", f"img-src 'self' data: {source}") if source else CSP


async def _tile_url(hotspot: Hotspot) -> str:
    value = await hotspot.settings_store.get(TILE_URL_KEY, DEFAULT_TILE_URL)
    if not isinstance(value, str):
        return DEFAULT_TILE_URL
    try:
        return parse_tile_url(value) if value else ""
    except ValueError:  # written by hand into the table: fall back rather than break the page
        return DEFAULT_TILE_URL


# --- the list --------------------------------------------------------------------------------------


async def _rows(hotspot: Hotspot) -> list[dict[str, Any]]:
    """Every router with where it is defined, its last health check and its customers online."""
    statuses = await hotspot.routers.statuses()
    online = await Sessions.active_by_router()
    rows = []
    for router in sorted(await hotspot.router_store.listing(), key=lambda r: r["name"]):
        enabled = bool(router.get("enabled", True))
        state = statuses.get(router["name"]) if enabled else None
        status = (
            "disabled" if not enabled else STATUS_WORDS.get(str(state["status"]) if state else "", "unknown")
        )
        rows.append(
            {
                **router,
                "enabled": enabled,
                "status": status,
                "detail": state["detail"] if state else "",
                "latency_ms": state["latency_ms"] if state else None,
                "checked_at": state["checked_at"] if state else None,
                "online": online.get(router["name"], 0),
            }
        )
    return rows


def _markers(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "name": r["name"],
            "lat": r["latitude"],
            "lon": r["longitude"],
            "status": r["status"],
            "site": r["site"],
            "online": r["online"],
        }
        for r in rows
        if r.get("latitude") is not None and r.get("longitude") is not None
    ]


def _with_csp(response: Template, tile_url: str) -> Template:
    response.headers["Content-Security-Policy"] = map_csp(tile_url)
    return response


def _box_url(hotspot: Hotspot, request: Request[Any, Any, Any]) -> str:
    return (hotspot.settings.server.public_url or str(request.base_url)).rstrip("/")


async def _routers_page(
    request: Request[Any, Any, Any],
    hotspot: Hotspot,
    principal: Principal,
    *,
    tile_errors: dict[str, str] | None = None,
    tile_form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    rows = await _rows(hotspot)
    tile_url = await _tile_url(hotspot)
    attribution = OSM_ATTRIBUTION if "openstreetmap" in tile_url else (urlsplit(tile_url).hostname or "")
    response = page(
        request,
        "admin/routers.html",
        principal=principal,
        active="routers",
        title="Routers",
        rows=rows,
        can_write=principal.can("routers.write"),
        can_settings=principal.can("settings.write"),
        map_data={"tiles": tile_url, "attribution": attribution, "routers": _markers(rows)},
        tile_form=tile_form
        or {"tiles_on": "1" if tile_url else "", "tile_url": tile_url or DEFAULT_TILE_URL},
        tile_errors=tile_errors or {},
        default_tile_url=DEFAULT_TILE_URL,
        box_url=_box_url(hotspot, request),
        status_code=status_code,
    )
    return _with_csp(response, tile_url)


@get("/admin/routers", include_in_schema=False, cache=False, guards=[requires("routers.read")])
async def routers_page(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    return await _routers_page(request, hotspot, principal)


# --- add / edit -------------------------------------------------------------------------------------


def _form_of(router: RouterSettings, enabled: bool) -> dict[str, str]:
    """What the edit form shows for a saved router (never its password)."""
    return {
        "name": router.name,
        "host": router.host,
        "port": str(router.port),
        "username": router.username,
        "tls": "1" if router.tls else "",
        "site": router.site,
        "weight": str(router.weight),
        "latitude": "" if router.latitude is None else f"{router.latitude:g}",
        "longitude": "" if router.longitude is None else f"{router.longitude:g}",
        "enabled": "1" if enabled else "",
    }


NEW_ROUTER = {
    "name": "",
    "host": "",
    "port": "8728",
    "username": "hotspot",
    "tls": "",
    "site": "default",
    "weight": "1",
    "latitude": "",
    "longitude": "",
    "enabled": "1",
}


async def _form_response(
    request: Request[Any, Any, Any],
    hotspot: Hotspot,
    principal: Principal,
    *,
    form: dict[str, str],
    original: str = "",
    errors: dict[str, str] | None = None,
    result: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    """The add/edit form: into the modal for htmx, else as a page of its own."""
    tile_url = await _tile_url(hotspot)
    context: dict[str, Any] = {
        "form": form,
        "original": original,
        "errors": errors or {},
        "result": result,
        "map_data": {
            "tiles": tile_url,
            "attribution": OSM_ATTRIBUTION if "openstreetmap" in tile_url else "",
        },
    }
    if wants_fragment(request):  # swapped into the page, which already carries the map's CSP
        return fragment(request, "admin/_router_form.html", status_code=status_code, **context)
    response = page(
        request,
        "admin/router_edit.html",
        principal=principal,
        active="routers",
        title=f"Router {original}" if original else "Add a router",
        status_code=status_code,
        **context,
    )
    return _with_csp(response, tile_url)


async def _managed(hotspot: Hotspot, name: str) -> tuple[RouterSettings, bool]:
    """An admin-managed router with its password opened; 404 for others, 409 when unreadable."""
    try:
        found = await hotspot.router_store.get(name)
    except SecretUnreadable:
        raise ClientException(
            f"The saved password of router {name!r} cannot be read (the box's secret key changed): "
            "remove the router and add it again.",
            status_code=409,
        ) from None
    if found is None:
        if any(r.name == name for r in hotspot.settings.routers):
            raise NotFoundException(f"Router {name!r} is defined in the config file; change it there.")
        raise NotFoundException(f"No router named {name!r}.")
    return found


@get("/admin/routers/new", include_in_schema=False, cache=False, guards=[requires("routers.write")])
async def new_router(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    return await _form_response(request, hotspot, principal, form=dict(NEW_ROUTER))


@get(
    "/admin/routers/{name:str}/edit",
    include_in_schema=False,
    cache=False,
    guards=[requires("routers.write")],
)
async def edit_router(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    name: RouterName,
) -> Template:
    router, enabled = await _managed(hotspot, name)
    return await _form_response(request, hotspot, principal, form=_form_of(router, enabled), original=name)


def _moved(saved: RouterSettings, router: RouterSettings) -> bool:
    """The router now points somewhere the saved password was not meant for."""
    return (
        router.host.strip().lower() != saved.host.strip().lower()
        or router.port != saved.port
        or (saved.tls and not router.tls)
    )


async def _posted(
    hotspot: Hotspot, data: dict[str, Any], *, saving: bool = True
) -> tuple[dict[str, str], str, RouterSettings | None, dict[str, str]]:
    """(form, original name, router, errors): on edit the name stays and an empty password keeps
    the saved one, but only for the address it was saved for: a changed host or port (or TLS
    switched off) needs it typed again, so a test or save never sends it anywhere else. A name
    already taken matters only when saving."""
    form = parse_router_form(data)
    original = text(data, "original")[:64]
    typed = text(data, "password", strip=False)[:256]
    password = typed
    saved: RouterSettings | None = None
    if original:
        saved, _ = await _managed(hotspot, original)
        form["name"] = original
        password = typed or saved.password.get_secret_value()
    elif not form["name"]:
        return form, original, None, {"name": "Give the router a name, e.g. main or cafe."}
    router, errors = router_settings(form, password, extended=True)
    if router is not None and saved is not None and not typed and _moved(saved, router):
        errors = {
            "password": "Type the API user's password again: the saved one is only sent to the "
            "address it was saved for, and the host, port or TLS changed."
        }
    if router is not None and not original and saving:
        if any(r.name == router.name for r in hotspot.settings.routers):
            errors = {"name": f"“{router.name}” is defined in the config file; choose another name."}
        elif await hotspot.router_store.get(router.name) is not None:
            errors = {"name": f"There is a router named “{router.name}” already; edit it instead."}
    return form, original, (router if not errors else None), errors


@post("/admin/routers/test", include_in_schema=False, guards=[requires("routers.write")], status_code=200)
async def test_connection(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    """Connect without saving; htmx swaps in just the verdict."""
    form, original, router, errors = await _posted(hotspot, await form_data(request), saving=False)
    result = None if router is None else router_result((await check_router(hotspot, router))[0], router)
    if wants_fragment(request):
        return fragment(request, "setup/_router_result.html", result=result, errors=errors)
    return await _form_response(
        request, hotspot, principal, form=form, original=original, errors=errors, result=result
    )


@post("/admin/routers", include_in_schema=False, guards=[requires("routers.write")], status_code=200)
async def save_router(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template | Redirect | Response[Any]:
    """Test, then save an enabled router that answered (a disabled one is saved untested)."""
    data = await form_data(request)
    form, original, router, errors = await _posted(hotspot, data)
    enabled = bool(form["enabled"])

    async def again(status: int, result: dict[str, str] | None = None) -> Template:
        return await _form_response(
            request,
            hotspot,
            principal,
            form=form,
            original=original,
            errors=errors,
            result=result,
            status_code=status,
        )

    if router is None:
        return await again(400)
    plugin: str | None = None
    health: Health | None = None
    if enabled:
        health, plugin = await check_router(hotspot, router)
        if health.status == "down":
            return await again(400, router_result(health, router))
        message = f"Router “{router.name}” saved: {health.detail}"
    else:
        message = f"Router “{router.name}” saved, switched off: it gets no customers."
    ip = client_ip(request)
    target = hotspot
    if plugin is not None and not principal.can("plugins.manage"):
        result = {
            "level": "danger",
            "title": "Not saved",
            "message": f"This router needs the {plugin} plugin, which is off, and switching plugins on "
            f"needs the plugins.manage permission: ask an admin who can to switch the {plugin} plugin "
            "on (Plugins), then save the router again.",
        }
        return await again(403, result)
    if plugin is not None:  # its driver's plugin is not on yet: switch it on, then rebuild
        await save_settings(
            hotspot,
            principal,
            {f"plugins.{plugin}": {"enabled": True}},
            action="plugin.enable",
            target=f"plugins.{plugin}",
            before={"enabled": False},
            after={"enabled": True},
            ip=ip,
        )
        try:
            rebuilt = await apply_saved(request)
        except NotApplied as exc:
            return await again(409, {"level": "danger", "title": "Not saved", "message": str(exc)})
        if rebuilt is None:
            result = {
                "level": "warning",
                "title": "Restart needed",
                "message": f"The {plugin} plugin is on; restart Hotspot, then save the router again.",
            }
            return await again(409, result)
        target = rebuilt
    before: dict[str, Any] | None = None
    if original:
        saved, was_enabled = await _managed(target, original)
        before = {**saved.model_dump(mode="json", exclude={"password"}), "enabled": was_enabled}
    after = {**router.model_dump(mode="json", exclude={"password"}), "enabled": enabled}
    if before is not None:
        after["password_changed"] = bool(text(data, "password", strip=False))
    try:
        async with target.db.transaction():
            await target.router_store.save(router, enabled=enabled)
            await target.accounts.audit.record(
                principal.actor,
                "router.update" if original else "router.create",
                ("router", router.name),
                before,
                after,
                ip,
            )
    except HotspotError as exc:
        return await again(400, {"level": "danger", "title": "Not saved", "message": str(exc)})
    await target.router_store.refresh_pool()
    if health is not None:  # the test just made is its first health check
        await target.routers.record(router.name, health)
    flash(request, message)
    return hx_redirect(request, "/admin/routers")


# --- remove, script, map tiles ----------------------------------------------------------------------


@post(
    "/admin/routers/{name:str}/remove",
    include_in_schema=False,
    guards=[requires("routers.write")],
    status_code=200,
)
async def remove_router(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    name: RouterName,
) -> Redirect | Response[Any]:
    """Remove a router; with customers online only when the owner confirmed it seeing that."""
    try:
        router, enabled = await _managed(hotspot, name)
        before = {**router.model_dump(mode="json", exclude={"password"}), "enabled": enabled}
    except ClientException as exc:
        if exc.status_code != 409:
            raise
        before = {"name": name, "password": "unreadable"}  # removing it is the way out
    online = await Sessions(hotspot.db).count_active(name)
    if online and text(await form_data(request), "force") != "1":
        flash(
            request,
            f"“{name}” has {online} customer{'s' if online != 1 else ''} online: not removed. "
            "Switch it off first (edit it) so they move elsewhere, or remove it anyway.",
            "warning",
        )
        return hx_redirect(request, "/admin/routers")
    try:
        async with hotspot.db.transaction():
            await hotspot.router_store.remove(name)
            await hotspot.accounts.audit.record(
                principal.actor,
                "router.remove",
                ("router", name),
                before,
                {"online": online},
                client_ip(request),
            )
    except HotspotError as exc:
        flash(request, str(exc), "danger")
        return hx_redirect(request, "/admin/routers")
    await hotspot.router_store.refresh_pool()
    flash(request, f"Router “{name}” removed." + (f" {online} sessions were still open." if online else ""))
    return hx_redirect(request, "/admin/routers")


@post(
    "/admin/routers/{name:str}/script",
    include_in_schema=False,
    guards=[requires("routers.write")],
    status_code=200,
)
async def router_script(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    name: RouterName,
) -> Response[Any] | Redirect:
    """The router's .rsc with its saved API user and password: a download, never cached."""
    router, _ = await _managed(hotspot, name)
    box_url = text(await form_data(request), "box_url")[:200] or _box_url(hotspot, request)
    spec = RouterScript(
        box_url=box_url,
        api_username=router.username,
        api_password=router.password.get_secret_value(),
        api_port=router.port,
        tls=router.tls,
    )
    try:
        script = setup_script(spec)
    except SetupScriptError as exc:
        flash(request, f"No script for “{name}”: {exc}", "danger")
        return redirect("/admin/routers")
    await hotspot.accounts.audit.record(
        principal.actor, "router.script", ("router", name), None, {"box_url": box_url}, client_ip(request)
    )
    return Response(
        script,
        media_type=MediaType.TEXT,
        headers={
            "Content-Disposition": f'attachment; filename="hotspot-setup-{name}.rsc"',
            "Cache-Control": "no-store",
        },
    )


@post("/admin/routers/map", include_in_schema=False, guards=[requires("settings.write")], status_code=200)
async def save_map(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template | Redirect:
    """Where map tiles come from, or none at all (a box without internet)."""
    data = await form_data(request)
    form = {
        "tiles_on": "1" if text(data, "tiles_on") in ("1", "on") else "",
        "tile_url": text(data, "tile_url"),
    }
    value = ""
    if form["tiles_on"]:
        try:
            value = parse_tile_url(form["tile_url"] or DEFAULT_TILE_URL)
        except ValueError as exc:
            return await _routers_page(
                request,
                hotspot,
                principal,
                tile_errors={"tile_url": str(exc)},
                tile_form=form,
                status_code=400,
            )
    before = await _tile_url(hotspot)
    await save_settings(
        hotspot,
        principal,
        {TILE_URL_KEY: value},
        action="settings.map_tiles",
        target=TILE_URL_KEY,
        before={"tile_url": before},
        after={"tile_url": value},
        ip=client_ip(request),
    )
    source = tile_source(value)
    flash(request, f"The map loads its tiles from {source}." if source else "The map shows no tiles.")
    return redirect("/admin/routers#map")


ROUTERS_HANDLERS = [
    routers_page,
    new_router,
    save_map,
    test_connection,
    save_router,
    edit_router,
    remove_router,
    router_script,
]
