"""The setup wizard at /setup: the owner's first ten minutes (Home Assistant's onboarding).

1. **Owner**: the only page anyone may open unauthenticated, and only while no admin exists
   (AccountService.create_first_owner refuses afterwards, under a lock, so two browsers racing
   make one owner). It signs the owner in.
2. **Business**: name, country, currency, time zone, saved in the settings table.
3. **Router**: connects before it saves (wrong password, API off and unreachable each get their
   own plain sentence), and offers the RouterOS script that prepares the router for this box.
4. **Payments**: the pages payment plugins contribute (hotspot.admin.plugin_setup), M-Pesa
   first: credentials tested against Daraja (or its simulator) before they are saved.
5. **Packages**: the first one to three things to sell.

Answers are saved in the database (hotspot.settings_store, secrets sealed) and the app is
rebuilt in place to use them (hotspot.admin.reload): no YAML to write, and a key the config
file sets still wins (shown as "set in the config file"). Each step can be opened again from
the admin's settings page; every change is in the audit log.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import MediaType, Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter
from litestar.response import Redirect, Template
from pydantic import SecretStr, ValidationError

from hotspot.accounts.errors import AccountError
from hotspot.accounts.guards import PUBLIC, authenticate, requires
from hotspot.accounts.principal import Principal
from hotspot.accounts.sessions import start_admin_session
from hotspot.admin.changes import NotApplied
from hotspot.admin.changes import apply_saved as _apply
from hotspot.admin.changes import not_applied as _not_applied
from hotspot.admin.changes import save_settings as _save_settings
from hotspot.admin.places import COUNTRIES, country, currencies, timezones
from hotspot.admin.plugin_setup import (
    PluginStep,
    answers,
    form_fields,
    parse_step_form,
    plugin_steps,
    step_block,
)
from hotspot.admin.router_form import ROUTER_TEST_SECONDS, router_problem
from hotspot.admin.router_form import check_router as _test_router
from hotspot.admin.router_form import parse_router_form as _router_form
from hotspot.admin.router_form import router_result as _result
from hotspot.admin.router_form import router_settings as _router_settings
from hotspot.admin.web import (
    flash,
    form_data,
    fragment,
    hotspot_of,
    page,
    page_exception_handlers,
    redirect,
    text,
)
from hotspot.billing.currencies import is_currency, to_decimal
from hotspot.billing.forms import FormErrors, PackageForm, parse_package
from hotspot.config import (
    BusinessSettings,
    PackageSettings,
    PluginSettings,
    seal_secrets,
    secret_key,
    settings_box,
)
from hotspot.errors import HotspotError
from hotspot.http.client import client_ip
from hotspot.routers.setup_script import RouterScript, SetupScriptError, setup_script
from hotspot.runtime import Hotspot

__all__ = ["DONE_KEY", "ROUTER_TEST_SECONDS", "STEPS", "WIZARD", "router_problem", "steps_done"]

log = logging.getLogger("hotspot.admin")

DONE_KEY = "setup.done"  # the steps finished, in the settings table (not merged into Settings)


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    icon: str
    href: str
    permission: str


STEPS: tuple[Step, ...] = (
    Step("owner", "Owner", "bi-person-badge", "/setup", "account.read"),
    Step("business", "Business", "bi-shop", "/setup/business", "settings.write"),
    Step("router", "Router", "bi-router", "/setup/router", "routers.write"),
    Step("payments", "Payments", "bi-phone", "/setup/payments", "money.settings"),
    Step("packages", "Packages", "bi-box-seam", "/setup/packages", "packages.write"),
)
DURATIONS = (
    ("30m", "30 minutes"),
    ("1h", "1 hour"),
    ("3h", "3 hours"),
    ("12h", "12 hours"),
    ("1d", "1 day"),
    ("3d", "3 days"),
    ("7d", "1 week"),
    ("30d", "30 days"),
)
SUGGESTED = (("1 hour", "1h", "20"), ("1 day", "1d", "50"), ("1 week", "7d", "250"))


async def steps_done(hotspot: Hotspot) -> list[str]:
    value = await hotspot.settings_store.get(DONE_KEY, [])
    done = [s for s in value if isinstance(s, str)] if isinstance(value, list) else []
    if "owner" not in done and await hotspot.accounts.has_admins():
        done.append("owner")
    return done


async def _mark_done(hotspot: Hotspot, step: str, by: str) -> None:
    done = await steps_done(hotspot)
    if step not in done:
        await hotspot.settings_store.set(DONE_KEY, [*done, step], by=by)


def _next_step(done: list[str]) -> str:
    for step in STEPS:
        if step.id not in done:
            return step.href
    return "/setup/done"


async def _wizard_page(
    request: Request[Any, Any, Any],
    template: str,
    *,
    principal: Principal | None,
    step: str,
    title: str,
    status_code: int = 200,
    **context: Any,
) -> Template:
    hotspot = hotspot_of(request)
    done = await steps_done(hotspot)
    return page(
        request,
        template,
        principal=principal,
        title=title,
        status_code=status_code,
        steps=STEPS,
        current=step,
        done=done,
        next_href=_next_after(step),
        **context,
    )


def _next_after(step: str) -> str:
    ids = [s.id for s in STEPS]
    if step in ids and ids.index(step) + 1 < len(ids):
        return STEPS[ids.index(step) + 1].href
    return "/setup/done"


# --- 1. the owner ----------------------------------------------------------------------------------


@get("/setup", include_in_schema=False, cache=False, opt={PUBLIC: True})
async def setup_start(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot]
) -> Template | Redirect:
    """A fresh box asks for its owner; afterwards the wizard continues where it was left."""
    if not await hotspot.accounts.has_admins():
        return await _wizard_page(
            request, "setup/owner.html", principal=None, step="owner", title="Welcome", form={}, errors={}
        )
    principal = await authenticate(request)
    if principal is None:
        return redirect("/admin/login?next=/setup")
    return redirect(_next_step(await steps_done(hotspot)))


@post("/setup/owner", include_in_schema=False, status_code=200, opt={PUBLIC: True})
async def create_owner(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot]
) -> Template | Redirect:
    data = await form_data(request)
    form = {k: text(data, k) for k in ("username", "email")}
    password = text(data, "password", strip=False)

    async def again(errors: dict[str, str], status_code: int = 400) -> Template:
        return await _wizard_page(
            request,
            "setup/owner.html",
            principal=None,
            step="owner",
            title="Welcome",
            form=form,
            errors=errors,
            status_code=status_code,
        )

    if await hotspot.accounts.has_admins():
        flash(request, "This box has its owner already: sign in.", "info")
        return redirect("/admin/login?next=/setup")
    if not form["username"]:
        return await again({"username": "Choose a username."})
    if not password:
        return await again({"password": "Choose a password."})
    if password != text(data, "confirm_password", strip=False):
        return await again({"confirm_password": "The two passwords are not the same."})
    accounts = hotspot.accounts
    ip = client_ip(request)
    try:
        await accounts.create_first_owner(
            username=form["username"], password=password, email=form["email"] or None, ip=ip
        )
    except AccountError as exc:
        if exc.code == "forbidden":  # another browser made the owner a moment ago
            flash(request, exc.message + " Sign in.", "info")
            return redirect("/admin/login?next=/setup")
        return await again({exc.field or "form": exc.message}, exc.status if 400 <= exc.status < 500 else 400)
    result = await accounts.authenticate(form["username"], password, ip=ip)
    start_admin_session(request, result.session)
    await _mark_done(hotspot, "owner", form["username"].strip().lower())
    return redirect("/setup/business")


# --- 2. the business ----------------------------------------------------------------------------


def _business_context(hotspot: Hotspot, form: Mapping[str, str] | None) -> dict[str, Any]:
    current = hotspot.settings.business
    values = (
        dict(form)
        if form is not None
        else {
            "name": "" if current.name == "Hotspot" else current.name,
            "country": current.country or "",
            "currency": current.currency,
            "timezone": current.timezone,
        }
    )
    return {
        "form": values,
        "countries": COUNTRIES,
        "currencies": currencies(),
        "timezones": timezones(),
        "pinned": {
            k: hotspot.settings.is_pinned(f"business.{k}")
            for k in ("name", "country", "currency", "timezone")
        },
        "source": hotspot.settings.source,
    }


@get("/setup/business", include_in_schema=False, cache=False, guards=[requires("settings.write")])
async def business_form(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    return await _wizard_page(
        request,
        "setup/business.html",
        principal=principal,
        step="business",
        title="Your business",
        errors={},
        **_business_context(hotspot, None),
    )


@post("/setup/business", include_in_schema=False, guards=[requires("settings.write")], status_code=200)
async def save_business(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template | Redirect:
    data = await form_data(request)
    form = {k: text(data, k) for k in ("name", "country", "currency", "timezone")}
    current = hotspot.settings.business
    for key in form:  # a key the config file sets is shown disabled, so it is not posted
        if hotspot.settings.is_pinned(f"business.{key}"):
            form[key] = str(getattr(current, key) or "")
    form["currency"] = form["currency"].upper()
    form["country"] = form["country"].upper()
    chosen = {
        "name": form["name"],
        "country": form["country"] or None,
        "currency": form["currency"],
        "timezone": form["timezone"],
    }
    errors: dict[str, str] = {}
    if not chosen["name"]:
        errors["name"] = "Give your business a name: customers see it on the WiFi page."
    if chosen["country"] and country(chosen["country"]) is None:
        errors["country"] = "Pick a country from the list, or Other."
    if not is_currency(form["currency"]):
        errors["currency"] = "Pick a currency from the list."
    if not errors:
        try:
            business = BusinessSettings.model_validate(chosen)
        except ValidationError as exc:
            for err in exc.errors():
                errors.setdefault(
                    str(err["loc"][0]), str(err["msg"]).removeprefix("Value error, ").capitalize()
                )
    if errors:
        return await _wizard_page(
            request,
            "setup/business.html",
            principal=principal,
            step="business",
            title="Your business",
            errors=errors,
            status_code=400,
            **_business_context(hotspot, form),
        )
    free = {k: v for k, v in business.model_dump().items() if not hotspot.settings.is_pinned(f"business.{k}")}
    effective = current.model_copy(update=free)  # a key the config file sets keeps its value
    await _save_settings(
        hotspot,
        principal,
        {f"business.{k}": v for k, v in free.items()},
        action="settings.update",
        target="business",
        before=current.model_dump(),
        after=effective.model_dump(),
        ip=client_ip(request),
    )
    new = await _apply(request)
    if new is None:  # not reloadable (a bare app, e.g. in a test): apply it to this one
        hotspot.apply_business(effective)
        engine = request.app.template_engine
        if engine is not None:
            engine.engine.globals["business_name"] = effective.name
        new = hotspot
    await _mark_done(new, "business", principal.username)
    flash(request, f"Saved. Customers will see “{new.settings.business.name}”.")
    return redirect("/setup/router")


# --- 3. the router ------------------------------------------------------------------------------


ROUTER_DEFAULTS = {"name": "main", "host": "", "port": "8728", "username": "hotspot", "tls": ""}


def _box_url(request: Request[Any, Any, Any]) -> str:
    return str(request.base_url).rstrip("/")


async def _router_page(
    request: Request[Any, Any, Any],
    hotspot: Hotspot,
    principal: Principal,
    *,
    form: Mapping[str, str] | None = None,
    errors: dict[str, str] | None = None,
    result: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    routers = await hotspot.router_store.listing()
    values = dict(ROUTER_DEFAULTS) | {"box_url": _box_url(request)}
    if form is not None:
        values |= {k: v for k, v in form.items() if v or k == "tls"}
    return await _wizard_page(
        request,
        "setup/router.html",
        principal=principal,
        step="router",
        title="Connect your router",
        form=values,
        errors=errors or {},
        result=result,
        routers=routers,
        status_code=status_code,
    )


@get("/setup/router", include_in_schema=False, cache=False, guards=[requires("routers.write")])
async def router_form(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    return await _router_page(request, hotspot, principal)


@post("/setup/router/test", include_in_schema=False, guards=[requires("routers.write")], status_code=200)
async def test_router(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    """Connect without saving; htmx swaps in just the verdict."""
    data = await form_data(request)
    form = _router_form(data)
    router, errors = _router_settings(form, text(data, "password", strip=False))
    result = None if router is None else _result((await _test_router(hotspot, router))[0], router)
    if request.headers.get("hx-request"):
        return fragment(request, "setup/_router_result.html", result=result, errors=errors)
    return await _router_page(request, hotspot, principal, form=form, errors=errors, result=result)


@post("/setup/router", include_in_schema=False, guards=[requires("routers.write")], status_code=200)
async def save_router(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template | Redirect:
    """Test again, and save only a router that answered."""
    data = await form_data(request)
    form = _router_form(data)
    router, errors = _router_settings(form, text(data, "password", strip=False))
    if router is None:
        return await _router_page(request, hotspot, principal, form=form, errors=errors, status_code=400)
    if any(r.name == router.name for r in hotspot.settings.routers):
        errors = {"name": f"“{router.name}” is defined in the config file; choose another name."}
        return await _router_page(request, hotspot, principal, form=form, errors=errors, status_code=400)
    health, plugin = await _test_router(hotspot, router)
    result = _result(health, router)
    if health.status == "down":
        return await _router_page(request, hotspot, principal, form=form, result=result, status_code=400)
    ip = client_ip(request)
    target = hotspot
    if plugin is not None:  # its driver is not on yet: switch the plugin on, then rebuild
        await _save_settings(
            hotspot,
            principal,
            {f"plugins.{plugin}": {"enabled": True}},
            action="plugin.enable",
            target=f"plugins.{plugin}",
            before={"enabled": False},
            after={"enabled": True},
            ip=ip,
        )
        rebuilt = await _apply(request)
        if rebuilt is None:
            return await _router_page(
                request,
                hotspot,
                principal,
                form=form,
                result={
                    "level": "warning",
                    "title": "Restart needed",
                    "message": f"The {plugin} plugin is on; restart Hotspot, then save the router again.",
                },
                status_code=409,
            )
        target = rebuilt
    try:
        async with target.db.transaction():
            await target.router_store.save(router)
            await target.accounts.audit.record(
                principal.actor,
                "router.save",
                ("router", router.name),
                None,
                {k: v for k, v in router.model_dump(mode="json").items() if k != "password"},
                ip,
            )
    except HotspotError as exc:
        return await _router_page(
            request,
            hotspot,
            principal,
            form=form,
            result={"level": "danger", "title": "Not saved", "message": str(exc)},
            status_code=400,
        )
    await _mark_done(target, "router", principal.username)
    flash(request, f"Router “{router.name}” saved: {health.detail}")
    return redirect("/setup/payments")


@post("/setup/router/script", include_in_schema=False, guards=[requires("routers.write")], status_code=200)
async def router_script(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Response[Any] | Template:
    """The .rsc the owner pastes into the router. It holds the API password: signed-in owners and
    admins only, sent once as a download, never cached."""
    data = await form_data(request)
    form = _router_form(data)
    password = text(data, "password", strip=False)
    errors: dict[str, str] = {}
    if not password:
        errors["password"] = "Choose the API user's password first: the script creates it."  # noqa: S105
    try:
        port = int(form["port"] or ("8729" if form["tls"] else "8728"))
        spec = RouterScript(
            box_url=form["box_url"] or _box_url(request),
            api_username=form["username"] or "hotspot",
            api_password=password,
            api_port=port,
            tls=bool(form["tls"]),
        )
        script = setup_script(spec) if not errors else ""
    except (SetupScriptError, ValueError) as exc:
        message = str(exc)
        errors["box_url" if "box_url" in message else "username"] = message
    if errors:
        return await _router_page(request, hotspot, principal, form=form, errors=errors, status_code=400)
    await hotspot.accounts.audit.record(
        principal.actor,
        "router.script",
        ("router", form["name"] or "main"),
        None,
        {"box_url": spec.box_url},
        client_ip(request),
    )
    return Response(
        script,
        media_type=MediaType.TEXT,
        headers={
            "Content-Disposition": 'attachment; filename="hotspot-setup.rsc"',
            "Cache-Control": "no-store",
        },
    )


# --- 4. payments ----------------------------------------------------------------------------------


def _payment_steps(hotspot: Hotspot) -> list[PluginStep]:
    return plugin_steps(hotspot.settings, hotspot.installed, kind="payment_gateway")


def _find_step(hotspot: Hotspot, step_id: str) -> PluginStep:
    for step in _payment_steps(hotspot):
        if step.step.id == step_id:
            return step
    raise NotFoundException(f"No payment setup named {step_id!r}.")


async def _payments_page(
    request: Request[Any, Any, Any],
    hotspot: Hotspot,
    principal: Principal,
    *,
    posted: dict[str, Mapping[str, str]] | None = None,
    errors: dict[str, dict[str, str]] | None = None,
    results: dict[str, dict[str, str]] | None = None,
    status_code: int = 200,
) -> Template:
    cards = []
    for step in _payment_steps(hotspot):
        current = hotspot.settings.plugins.get(step.plugin)
        cards.append(
            {
                "id": step.step.id,
                "title": step.step.title,
                "plugin": step.plugin,
                "description": step.info.description,
                "enabled": step.plugin in hotspot.registry.enabled,
                "pinned": hotspot.settings.is_pinned(step.key),
                "fields": form_fields(step, current, (posted or {}).get(step.step.id)),
                "errors": (errors or {}).get(step.step.id, {}),
                "result": (results or {}).get(step.step.id),
            }
        )
    return await _wizard_page(
        request,
        "setup/payments.html",
        principal=principal,
        step="payments",
        title="Take payments",
        cards=cards,
        gateways=sorted(hotspot.registry.gateways.values(), key=lambda g: g.display_name),
        source=hotspot.settings.source,
        status_code=status_code,
    )


@get(
    "/setup/payments",
    include_in_schema=False,
    cache=False,
    guards=[requires("money.settings"), requires("plugins.manage")],
)
async def payments_form(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    return await _payments_page(request, hotspot, principal)


async def _check_step(
    hotspot: Hotspot, step: PluginStep, posted: Mapping[str, str]
) -> tuple[Any, PluginSettings | None, dict[str, str]]:
    current = hotspot.settings.plugins.get(step.plugin)
    form, errors = parse_step_form(step, posted, current)
    if form is None:
        return None, None, errors
    block, errors = step_block(step, form, current)
    if block is None:
        return None, None, errors
    try:
        errors = await step.step.validate(form)
    except Exception as exc:  # a plugin's validator failing is its problem, shown as such
        log.exception("setup step %s failed", step.step.id)
        errors = {"": f"The {step.step.title} check failed: {exc}"}
    return form, block, errors


@post(
    "/setup/payments/{step_id:str}/test",
    include_in_schema=False,
    guards=[requires("money.settings"), requires("plugins.manage")],
    status_code=200,
)
async def test_payment(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    step_id: Annotated[str, PathParameter(max_length=64)],
) -> Template:
    step = _find_step(hotspot, step_id)
    posted = {k: _one(v) for k, v in (await form_data(request)).items()}
    _, _, errors = await _check_step(hotspot, step, posted)
    result = (
        {"level": "success", "title": "It works", "message": f"{step.step.title} accepted these details."}
        if not errors
        else {
            "level": "danger",
            "title": "Not yet",
            "message": errors.get("", "Check the fields marked below."),
        }
    )
    if request.headers.get("hx-request"):
        return fragment(request, "setup/_plugin_result.html", result=result, errors=errors)
    return await _payments_page(
        request,
        hotspot,
        principal,
        posted={step_id: posted},
        errors={step_id: errors},
        results={step_id: result},
        status_code=200 if not errors else 400,
    )


def _one(value: Any) -> str:
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return str(value)


@post(
    "/setup/payments/{step_id:str}",
    include_in_schema=False,
    guards=[requires("money.settings"), requires("plugins.manage")],
    status_code=200,
)
async def save_payment(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    step_id: Annotated[str, PathParameter(max_length=64)],
) -> Template | Redirect:
    """Test, then save the plugin's block (enabled, secrets sealed) and rebuild the app with it."""
    step = _find_step(hotspot, step_id)
    posted = {k: _one(v) for k, v in (await form_data(request)).items()}
    if hotspot.settings.is_pinned(step.key):
        flash(request, f"{step.step.title} is set in the config file; change it there.", "warning")
        return redirect("/setup/payments")
    form, block, errors = await _check_step(hotspot, step, posted)
    if form is None or block is None or errors:
        result = {
            "level": "danger",
            "title": "Not saved",
            "message": errors.get("", "Check the fields marked below."),
        }
        return await _payments_page(
            request,
            hotspot,
            principal,
            posted={step_id: posted},
            errors={step_id: errors},
            results={step_id: result},
            status_code=400,
        )
    stored = await hotspot.settings_store.get(step.key, {})
    previous = stored if isinstance(stored, dict) else {}
    box = settings_box(secret_key(hotspot.settings))
    plain = answers(form)
    value = {**previous, **seal_secrets(plain, step.model, box), "enabled": True}
    public = {k: ("(set)" if isinstance(getattr(form, k), SecretStr) else v) for k, v in plain.items()}
    await _save_settings(
        hotspot,
        principal,
        {step.key: value},
        action="plugin.configure",
        target=step.key,
        before={"enabled": step.plugin in hotspot.registry.enabled},
        after={"enabled": True, **public},
        ip=client_ip(request),
    )
    new = await _apply(request)
    if new is None:
        flash(request, f"{step.step.title} is saved; restart Hotspot to start using it.", "warning")
        return redirect("/setup/packages")
    await _mark_done(new, "payments", principal.username)
    if step.plugin in new.registry.enabled:
        flash(request, f"{step.step.title} is on: customers can pay with it now.")
    else:
        flash(request, f"{step.step.title} is saved but did not start; see the health page.", "warning")
    return redirect("/setup/packages")


# --- 5. packages ---------------------------------------------------------------------------------


ROWS = 3


def _package_rows(data: Mapping[str, Any] | None, currency: str, empty: bool) -> list[dict[str, str]]:
    rows = []
    for i in range(ROWS):
        if data is not None:
            rows.append(
                {k: text(data, f"{k}_{i}") for k in ("name", "price", "duration", "data", "down", "devices")}
            )
        elif empty:
            name, duration, price = SUGGESTED[i]
            rows.append(
                {
                    "name": name,
                    "price": price if currency == "KES" else "",
                    "duration": duration,
                    "data": "",
                    "down": "",
                    "devices": "1",
                }
            )
        else:
            rows.append({"name": "", "price": "", "duration": "1h", "data": "", "down": "", "devices": "1"})
    return rows


async def _packages_page(
    request: Request[Any, Any, Any],
    hotspot: Hotspot,
    principal: Principal,
    *,
    data: Mapping[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    existing = await hotspot.catalog.all()
    currency = hotspot.settings.business.currency
    return await _wizard_page(
        request,
        "setup/packages.html",
        principal=principal,
        step="packages",
        title="What you sell",
        existing=[
            {
                "name": p.name,
                "prices": ", ".join(f"{m.currency} {to_decimal(m)}" for m in p.prices.values()),
                "seconds": p.seconds,
                "visible": p.visible,
            }
            for p in existing
        ],
        rows=_package_rows(data, currency, not existing),
        currency=currency,
        durations=DURATIONS,
        errors=errors or {},
        status_code=status_code,
    )


@get("/setup/packages", include_in_schema=False, cache=False, guards=[requires("packages.write")])
async def packages_form(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    return await _packages_page(request, hotspot, principal)


@post("/setup/packages", include_in_schema=False, guards=[requires("packages.write")], status_code=200)
async def save_packages(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template | Redirect:
    data = await form_data(request)
    currency = hotspot.settings.business.currency
    specs: list[PackageSettings] = []
    errors: dict[str, str] = {}
    for i, row in enumerate(_package_rows(data, currency, False)):
        if not row["name"] and not row["price"]:
            continue
        typed = PackageForm(
            name=row["name"],
            prices={currency: row["price"]},
            duration=row["duration"] or "1h",
            data=row["data"],
            down=row["down"],
            devices=row["devices"] or "1",
            sort_order=str(i + 1),
        )
        try:
            specs.append(parse_package(typed, require=currency))
        except FormErrors as exc:  # the same checks and words as the admin's package form
            for key, message in exc.errors.items():
                field = "price" if key.startswith("price") else key
                errors.setdefault(f"{field if field in row else 'name'}_{i}", message)
    if not errors and not specs and not await hotspot.catalog.all():
        errors["form"] = "Add at least one package: it is what customers buy."
    if errors:
        return await _packages_page(request, hotspot, principal, data=data, errors=errors, status_code=400)
    ip = client_ip(request)
    for spec in specs:
        async with hotspot.db.transaction():
            package_id, created = await hotspot.catalog.upsert(spec)
            await hotspot.accounts.audit.record(
                principal.actor,
                "package.create" if created else "package.update",
                ("package", package_id),
                None,
                spec.model_dump(mode="json"),
                ip,
            )
    await _mark_done(hotspot, "packages", principal.username)
    if specs:
        flash(request, f"{len(specs)} package{'s' if len(specs) != 1 else ''} on sale.")
    return redirect("/setup/done")


# --- done --------------------------------------------------------------------------------------------


@get("/setup/done", include_in_schema=False, cache=False, guards=[requires("settings.read")])
async def setup_done(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    me = await hotspot.accounts.get_admin(principal.admin_id)
    return await _wizard_page(
        request,
        "setup/done.html",
        principal=principal,
        step="done",
        title="You're ready",
        routers=await hotspot.router_store.listing(),
        gateways=sorted(g.display_name for g in hotspot.registry.gateways.values()),
        packages=len(await hotspot.catalog.all()),
        two_step=me["totp_enabled"],
    )


WIZARD = Router(
    path="/",
    route_handlers=[
        setup_start,
        create_owner,
        business_form,
        save_business,
        router_form,
        test_router,
        save_router,
        router_script,
        payments_form,
        test_payment,
        save_payment,
        packages_form,
        save_packages,
        setup_done,
    ],
    exception_handlers={**page_exception_handlers(), NotApplied: _not_applied},
    include_in_schema=False,
)
