"""A router's connection details as typed in a browser, and the connection test, shared by the
setup wizard's router step and the admin's routers page.

Both read the same fields, check them with RouterSettings (what config.yaml is checked with),
and connect before anything is saved. A router driver whose plugin is installed but not on yet
is borrowed for the test (`driver_for`), so the first router can be tested before MikroTik is
switched on; saving then switches the plugin on.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from pydantic import SecretStr, ValidationError

from hotspot.admin.web import text
from hotspot.config import RouterSettings
from hotspot.contracts import Health, RouterDriver
from hotspot.errors import HotspotError
from hotspot.plugins import fan_out, load_plugins
from hotspot.runtime import Hotspot

__all__ = [
    "ROUTER_FIELDS",
    "ROUTER_TEST_SECONDS",
    "check_router",
    "close_probe",
    "driver_for",
    "parse_router_form",
    "router_problem",
    "router_result",
    "router_settings",
]

log = logging.getLogger("hotspot.admin")

ROUTER_TEST_SECONDS = 20.0
# Every field either form may post (the wizard's has no site, weight, map or enabled switch).
ROUTER_FIELDS = (
    "name",
    "host",
    "port",
    "username",
    "tls",
    "box_url",
    "site",
    "weight",
    "latitude",
    "longitude",
    "enabled",
)
_SWITCH_ON = ("1", "on", "true")


def parse_router_form(data: Mapping[str, Any]) -> dict[str, str]:
    """The posted fields as trimmed strings; switches as "1" or ""."""
    form = {k: text(data, k) for k in ROUTER_FIELDS}
    for switch in ("tls", "enabled"):
        form[switch] = "1" if form[switch] in _SWITCH_ON else ""
    return form


def _number(raw: str, kind: type[int] | type[float]) -> int | float | None:
    try:
        value = kind(raw.replace(",", ".") if kind is float else raw)  # a phone keyboard's comma
    except ValueError:
        return None
    return value if math.isfinite(value) else None  # nan and inf are not coordinates


def router_settings(
    form: Mapping[str, str], password: str, *, extended: bool = False
) -> tuple[RouterSettings | None, dict[str, str]]:
    """RouterSettings from the form, or errors by field in words an owner can act on.

    `extended` reads the admin page's extra fields (site, weight, latitude, longitude)."""
    errors: dict[str, str] = {}
    if not form.get("host"):
        errors["host"] = "Enter the router's address, e.g. 192.168.88.1."
    if not password:
        errors["password"] = "Enter the API user's password."  # noqa: S105 (a message)
    tls = bool(form.get("tls"))
    port = _number(form.get("port") or ("8729" if tls else "8728"), int)
    if port is None:
        errors["port"] = "The port is a number: 8728 for the API, 8729 for API-SSL."
    extra: dict[str, Any] = {}
    if extended:
        extra["site"] = form.get("site") or "default"
        weight = _number(form.get("weight") or "1", int)
        if weight is None:
            errors["weight"] = "A whole number from 1 to 100."
        extra["weight"] = weight
        for key, limit in (("latitude", 90), ("longitude", 180)):
            raw = form.get(key, "")
            value = _number(raw, float) if raw else None
            if raw and value is None:
                errors[key] = f"A number between -{limit} and {limit}, e.g. -1.2921 (or leave it empty)."
            extra[key] = value
        if (extra["latitude"] is None) != (extra["longitude"] is None) and not errors.keys() & {
            "latitude",
            "longitude",
        }:
            missing = "longitude" if extra["longitude"] is None else "latitude"
            errors[missing] = "Give both latitude and longitude, or neither (click the map to set them)."
    if errors:
        return None, errors
    try:
        router = RouterSettings(
            name=form.get("name") or "main",
            host=form["host"],
            port=port,
            username=form.get("username") or "hotspot",
            password=SecretStr(password),
            tls=tls,
            **extra,
        )
    except ValidationError as exc:
        for err in exc.errors():
            key = str(err["loc"][0]) if err["loc"] else "form"
            message = str(err["msg"]).removeprefix("Value error, ")
            if key == "name":
                message = "Use letters, digits, dot, dash or underscore (no spaces), e.g. main."
            errors.setdefault(key, message[:1].upper() + message[1:])
        return None, errors
    return router, {}


def router_problem(health: Health, host: str, port: int) -> str:
    """What went wrong connecting to a router, in words an owner can act on."""
    detail = health.detail
    low = detail.lower()
    if "login refused" in low or "invalid user" in low or "cannot log in" in low or "password" in low:
        return (
            "The router refused this username or password. Check the API user on the router "
            "(System → Users) and type the password again."
        )
    if "refused" in low or "errno 111" in low or "connect call failed" in low:
        return (
            f"The router at {host} answered, but its API service is off or on another port than {port}. "
            "Turn it on under IP → Services (api, 8728), or paste the setup script below."
        )
    unreachable = ("no answer", "timed out", "timeout", "unreachable", "no route", "not known", "errno 113")
    if any(w in low for w in unreachable):
        return (
            f"No answer from {host}:{port}. Check the address, that this box and the router are on the "
            "same network, and that no firewall blocks the port."
        )
    return f"The router could not be used: {detail}"


def router_result(health: Health, router: RouterSettings) -> dict[str, str]:
    """A connection test's verdict for the `alert` macro."""
    if health.status == "ok":
        return {"level": "success", "title": "Connected", "message": health.detail}
    if health.status == "degraded":
        return {"level": "warning", "title": "Connected, with a warning", "message": health.detail}
    return {
        "level": "danger",
        "title": "Could not connect",
        "message": router_problem(health, router.host, router.port),
        "detail": health.detail,
    }


async def driver_for(hotspot: Hotspot, kind: str) -> tuple[RouterDriver | None, str | None, Any]:
    """(driver, plugin to enable for it or None when already on, the probe registry to close)."""
    live = hotspot.registry.router_drivers.get(kind)
    if live is not None:
        return live, None, None
    for name, plugin in hotspot.installed.items():
        if plugin.module is None or plugin.info is None or plugin.info.kind != "router_driver":
            continue
        if hotspot.settings.is_pinned(f"plugins.{name}.enabled"):
            continue  # the config file switched it off: respect that
        try:
            block = plugin.config_model.model_validate({"enabled": True})
            probe = load_plugins(
                hotspot.settings.model_copy(update={"plugins": {name: block}}), {name: plugin}
            )
        except (HotspotError, ValidationError) as exc:
            log.warning("plugin %s cannot provide a router driver: %s", name, exc)
            continue
        driver = probe.router_drivers.get(kind)
        if driver is not None:
            return driver, name, probe
    return None, None, None


async def close_probe(probe: Any) -> None:
    """Let a probe's plugin close its connections through its own shutdown hook."""
    if probe is None:
        return
    await fan_out(probe.hook.shutdown, hotspot=SimpleNamespace(registry=probe))


async def check_router(hotspot: Hotspot, router: RouterSettings) -> tuple[Health, str | None]:
    """Connect and ask the router about itself; (health, plugin that must be switched on)."""
    driver, plugin, probe = await driver_for(hotspot, router.driver)
    if driver is None:
        return Health("down", "no installed plugin can talk to this kind of router"), None
    try:
        async with asyncio.timeout(ROUTER_TEST_SECONDS):
            health = await driver.health(router.target())
    except TimeoutError:
        health = Health("down", f"no answer within {ROUTER_TEST_SECONDS:g} s")
    except Exception as exc:  # a driver reports failures as exceptions (RouterUnreachable...)
        health = Health("down", str(exc) or type(exc).__name__)
    finally:
        await close_probe(probe)
    return health, plugin
