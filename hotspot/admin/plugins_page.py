"""The plugins page (/admin/plugins): every installed plugin (entry point `hotspot.plugins`), what
it provides, its version and whether it is on; switch it on or off, configure it, test it.

The form is drawn from the plugin's own settings model (hotspot.admin.plugin_setup.config_step):
secrets show only as "set", and left empty they are kept. A plugin with a setup step of its own
(M-Pesa) offers "Test connection", and is tested before it is saved or switched on (connect
before save, as in the setup wizard). Answers are saved like the wizard's: the `plugins.<name>`
row of the settings table, secrets sealed, then the app is rebuilt in place to use them
(hotspot.admin.changes); a block the config file sets is changed there only. Every change is
audited with its secrets as "(set)", never their values.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException
from litestar.params import PathParameter
from litestar.response import Redirect, Template
from pydantic import SecretStr, ValidationError

from hotspot.accounts.guards import requires
from hotspot.accounts.principal import Principal
from hotspot.admin.changes import NotApplied, apply_saved, save_settings
from hotspot.admin.plugin_setup import (
    PluginStep,
    config_step,
    form_fields,
    parse_step_form,
    plugin_steps,
)
from hotspot.admin.router_form import close_probe
from hotspot.admin.web import (
    flash,
    form_data,
    fragment,
    fragment_or_page,
    hx_redirect,
    page,
    text,
    wants_fragment,
)
from hotspot.config import PluginSettings, seal_secrets, secret_key, settings_box
from hotspot.errors import HotspotError
from hotspot.http.client import client_ip
from hotspot.plugins import InstalledPlugin, load_plugins
from hotspot.runtime import Hotspot

__all__ = ["KINDS", "PLUGINS_HANDLERS", "public_values"]

log = logging.getLogger("hotspot.admin")

KINDS = {
    "payment_gateway": "Payments",
    "router_driver": "Routers",
    "notifier": "Notifications",
    "accounting_sink": "Accounting",
    "fraud_detector": "Fraud checks",
    "other": "Other",
}
PluginName = Annotated[str, PathParameter(max_length=64)]


def public_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Settings as the audit log may keep them: every secret as "(set)" (or None when empty)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, SecretStr):
            out[key] = "(set)"
        elif isinstance(value, list) and any(isinstance(v, SecretStr) for v in value):
            out[key] = f"({len(value)} set)"
        else:
            out[key] = value
    return out


# --- finding things ---------------------------------------------------------------------------------


def _installed(hotspot: Hotspot, name: str) -> InstalledPlugin:
    plugin = hotspot.installed.get(name)
    if plugin is None:
        raise NotFoundException(f"No plugin named {name!r} is installed.")
    return plugin


def _loaded(hotspot: Hotspot, name: str) -> InstalledPlugin:
    """An installed plugin that could be imported: one that failed has no settings model to draw
    a form from, so configuring it is refused (409) with the reason it did not load."""
    plugin = _installed(hotspot, name)
    if plugin.info is None:
        raise HTTPException(
            status_code=409,
            detail=f"{name} cannot be configured: it failed to load ({plugin.error or 'no PLUGIN found'}). "
            "Reinstall or update it, then restart Hotspot.",
        )
    return plugin


def _may_change(principal: Principal, plugin: InstalledPlugin) -> None:
    """Payment plugins move money: changing them also needs money.settings (as in the wizard)."""
    if (
        plugin.info is not None
        and plugin.info.kind == "payment_gateway"
        and not principal.can("money.settings")
    ):
        raise PermissionDeniedException("Changing a payment plugin needs the money.settings permission.")


def _test_step(hotspot: Hotspot, name: str) -> PluginStep | None:
    """The plugin's own setup step: its `validate` is the connection test (only this plugin's
    steps are built: the list page asks for every card)."""
    plugin = hotspot.installed.get(name)
    steps = plugin_steps(hotspot.settings, {name: plugin}) if plugin is not None else []
    return steps[0] if steps else None


def _current(hotspot: Hotspot, plugin: InstalledPlugin) -> PluginSettings | None:
    return hotspot.settings.plugins.get(plugin.name)


def _card(hotspot: Hotspot, plugin: InstalledPlugin) -> dict[str, Any]:
    info = plugin.info
    return {
        "name": plugin.name,
        "kind": KINDS.get(info.kind, info.kind) if info else "—",
        "description": info.description if info else "",
        "version": plugin.version or "",
        "distribution": plugin.distribution or "",
        "error": plugin.error,
        "enabled": plugin.name in hotspot.registry.enabled,
        "pinned": hotspot.settings.is_pinned(f"plugins.{plugin.name}"),
        "has_test": _test_step(hotspot, plugin.name) is not None,
        "money": info is not None and info.kind == "payment_gateway",
    }


# --- the list ---------------------------------------------------------------------------------------


@get("/admin/plugins", include_in_schema=False, cache=False, guards=[requires("plugins.read")])
async def plugins_page(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    return page(
        request,
        "admin/plugins.html",
        principal=principal,
        active="plugins",
        title="Plugins",
        cards=[_card(hotspot, p) for p in hotspot.installed.values()],
        can_manage=principal.can("plugins.manage"),
        can_money=principal.can("money.settings"),
        source=hotspot.settings.source,
    )


# --- configure --------------------------------------------------------------------------------------


async def _config_response(
    request: Request[Any, Any, Any],
    hotspot: Hotspot,
    principal: Principal,
    plugin: InstalledPlugin,
    *,
    posted: Mapping[str, str] | None = None,
    errors: dict[str, str] | None = None,
    result: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    """The configuration form: into the modal for htmx, else as a page of its own."""
    step, skipped = config_step(plugin)
    context: dict[str, Any] = {
        "plugin": _card(hotspot, plugin),
        "card": {"id": f"plugin-{plugin.name}", "errors": errors or {}},
        "fields": form_fields(step, _current(hotspot, plugin), posted),
        "skipped": skipped,
        "result": result,
        "source": hotspot.settings.source,
    }
    return fragment_or_page(
        request,
        "admin/_plugin_form.html",
        "admin/plugin_config.html",
        principal=principal,
        active="plugins",
        title=f"Plugin {plugin.name}",
        status_code=status_code,
        **context,
    )


@get(
    "/admin/plugins/{name:str}/configure",
    include_in_schema=False,
    cache=False,
    guards=[requires("plugins.manage")],
)
async def configure_form(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    name: PluginName,
) -> Template:
    plugin = _loaded(hotspot, name)
    _may_change(principal, plugin)
    return await _config_response(request, hotspot, principal, plugin)


def _posted(data: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in data.items():
        if key == "_csrf_token":
            continue
        out[key] = str(value[0] if value else "") if isinstance(value, list) else str(value)
    return out


def _block(
    plugin: InstalledPlugin, current: PluginSettings | None, values: Mapping[str, Any], enabled: bool
) -> tuple[PluginSettings | None, dict[str, str]]:
    """The plugin's whole block after these answers, validated by its model; errors by field."""
    base = current.model_dump() if current is not None else {}
    try:
        return plugin.config_model.model_validate({**base, **values, "enabled": enabled}), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            where = str(err["loc"][0]) if err["loc"] else ""
            message = str(err["msg"]).removeprefix("Value error, ")
            errors.setdefault(where, message[:1].upper() + message[1:])
        return None, errors


async def _connects(hotspot: Hotspot, plugin: InstalledPlugin, block: PluginSettings) -> dict[str, str]:
    """The plugin's own test (if it has one) with this block, then a trial start: errors by field."""
    step = _test_step(hotspot, plugin.name)
    if step is not None:
        values = {k: getattr(block, k, None) for k in step.step.form.model_fields}
        try:
            form = step.step.form.model_validate({k: v for k, v in values.items() if v is not None})
        except ValidationError as exc:
            errors: dict[str, str] = {}
            for err in exc.errors():
                where = str(err["loc"][0]) if err["loc"] else ""
                message = str(err["msg"]).removeprefix("Value error, ")
                errors.setdefault(where, "Fill this in." if err["type"] == "missing" else message)
            return errors
        try:
            errors = await step.step.validate(form)
        except Exception as exc:  # a plugin's test failing is its problem, shown as such
            log.exception("plugin %s: the connection test failed", plugin.name)
            errors = {"": f"The {step.step.title} test failed: {exc}"}
        if errors:
            return errors
    if not block.enabled:
        return {}
    try:
        probe = load_plugins(
            hotspot.settings.model_copy(update={"plugins": {plugin.name: block}}), {plugin.name: plugin}
        )
    except HotspotError as exc:
        return {"": f"The plugin does not start with these settings: {exc}"}
    await close_probe(probe)
    return {}


def _verdict(errors: dict[str, str], ok: str) -> dict[str, str]:
    if not errors:
        return {"level": "success", "title": "It works", "message": ok}
    return {
        "level": "danger",
        "title": "Not yet",
        "message": errors.get("", "Check the fields marked below."),
    }


@post(
    "/admin/plugins/{name:str}/test",
    include_in_schema=False,
    guards=[requires("plugins.manage")],
    status_code=200,
)
async def test_plugin(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    name: PluginName,
) -> Template:
    """Try the typed settings without saving them; htmx swaps in just the verdict."""
    plugin = _loaded(hotspot, name)
    _may_change(principal, plugin)
    posted = _posted(await form_data(request))
    errors = await _check(hotspot, plugin, posted, enabled=True)
    result = _verdict(errors, f"{name} accepted these settings.")
    if wants_fragment(request):
        response = fragment(
            request,
            "setup/_plugin_result.html",
            status_code=400 if errors else 200,
            result=result,
            errors=errors,
        )
        return response
    return await _config_response(
        request,
        hotspot,
        principal,
        plugin,
        posted=posted,
        errors=errors,
        result=result,
        status_code=200 if not errors else 400,
    )


async def _check(
    hotspot: Hotspot, plugin: InstalledPlugin, posted: Mapping[str, str], *, enabled: bool
) -> dict[str, str]:
    """Errors of the posted settings: the form, the plugin's model, then its own test."""
    step, _ = config_step(plugin)
    current = _current(hotspot, plugin)
    form, errors = parse_step_form(step, posted, current)
    if form is None:
        return errors
    block, errors = _block(plugin, current, {k: getattr(form, k) for k in type(form).model_fields}, enabled)
    if block is None:
        return errors
    return await _connects(hotspot, plugin, block)


async def _store(
    request: Request[Any, Any, Any],
    hotspot: Hotspot,
    principal: Principal,
    plugin: InstalledPlugin,
    values: Mapping[str, Any],
    *,
    enabled: bool,
    action: str,
) -> Hotspot | None:
    """Save the block (secrets sealed) with its audit entry, then rebuild the app with it."""
    key = f"plugins.{plugin.name}"
    stored = await hotspot.settings_store.get(key, {})
    previous = stored if isinstance(stored, dict) else {}
    box = settings_box(secret_key(hotspot.settings))
    plain = {k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in values.items()}
    value = {**previous, **seal_secrets(plain, plugin.config_model, box), "enabled": enabled}
    current = _current(hotspot, plugin)
    before_values = {k: getattr(current, k) for k in values if current is not None and hasattr(current, k)}
    await save_settings(
        hotspot,
        principal,
        {key: value},
        action=action,
        target=key,
        before={"enabled": plugin.name in hotspot.registry.enabled, **public_values(before_values)},
        after={"enabled": enabled, **public_values(values)},
        ip=client_ip(request),
    )
    return await apply_saved(request)


def _applied(request: Request[Any, Any, Any], new: Hotspot | None, name: str, enabled: bool) -> None:
    if new is None:
        flash(request, f"{name} is saved; restart Hotspot to start using it.", "warning")
    elif enabled and name not in new.registry.enabled:
        flash(request, f"{name} is saved but did not start; see the health page.", "warning")
    else:
        flash(request, f"{name} is saved and {'on' if enabled else 'off'}.")


@post(
    "/admin/plugins/{name:str}/configure",
    include_in_schema=False,
    guards=[requires("plugins.manage")],
    status_code=200,
)
async def save_plugin(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    name: PluginName,
) -> Template | Redirect | Response[Any]:
    """Check (and for a plugin that is on, test) the settings, save them and start using them."""
    plugin = _loaded(hotspot, name)
    _may_change(principal, plugin)
    posted = _posted(await form_data(request))

    async def again(errors: dict[str, str], status: int, title: str = "Not saved") -> Template:
        result = {
            "level": "danger",
            "title": title,
            "message": errors.get("", "Check the fields marked below."),
        }
        return await _config_response(
            request,
            hotspot,
            principal,
            plugin,
            posted=posted,
            errors=errors,
            result=result,
            status_code=status,
        )

    if hotspot.settings.is_pinned(f"plugins.{name}"):
        return await again({"": f"{name} is set in the config file; change it there."}, 409)
    enabled = name in hotspot.registry.enabled
    step, _ = config_step(plugin)
    form, errors = parse_step_form(step, posted, _current(hotspot, plugin))
    if form is None:
        return await again(errors, 400)
    values = {k: getattr(form, k) for k in type(form).model_fields}
    block, errors = _block(plugin, _current(hotspot, plugin), values, enabled)
    if block is None:
        return await again(errors, 400)
    if enabled and (errors := await _connects(hotspot, plugin, block)):
        return await again(errors, 400)
    try:
        new = await _store(
            request, hotspot, principal, plugin, values, enabled=enabled, action="plugin.configure"
        )
    except NotApplied as exc:
        return await again({"": str(exc)}, 409)
    _applied(request, new, name, enabled)
    return hx_redirect(request, "/admin/plugins")


@post(
    "/admin/plugins/{name:str}/enable",
    include_in_schema=False,
    guards=[requires("plugins.manage")],
    status_code=200,
)
async def set_enabled(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    name: PluginName,
) -> Redirect | Response[Any]:
    """Switch a plugin on (its saved settings checked and tested first) or off."""
    plugin = _installed(hotspot, name)
    _may_change(principal, plugin)
    enabled = text(await form_data(request), "enabled") == "1"
    if hotspot.settings.is_pinned(f"plugins.{name}"):
        flash(request, f"{name} is set in the config file; change it there.", "warning")
        return hx_redirect(request, "/admin/plugins")
    if plugin.module is None:
        flash(request, f"{name} cannot be loaded: {plugin.error}", "danger")
        return hx_redirect(request, "/admin/plugins")
    block, errors = _block(plugin, _current(hotspot, plugin), {}, enabled)
    if block is not None and enabled:
        errors = await _connects(hotspot, plugin, block)
    if errors:
        detail = "; ".join(f"{k.replace('_', ' ')}: {v}" if k else v for k, v in errors.items())
        flash(request, f"{name} stays off: {detail}. Configure it first.", "danger")
        return hx_redirect(request, "/admin/plugins")
    try:
        new = await _store(
            request,
            hotspot,
            principal,
            plugin,
            {},
            enabled=enabled,
            action="plugin.enable" if enabled else "plugin.disable",
        )
    except NotApplied as exc:
        flash(request, str(exc), "danger")
        return hx_redirect(request, "/admin/plugins")
    _applied(request, new, name, enabled)
    return hx_redirect(request, "/admin/plugins")


PLUGINS_HANDLERS = [plugins_page, configure_form, test_plugin, save_plugin, set_enabled]
