"""Saving settings from a browser and starting to use them, shared by the setup wizard and the
admin's plugins page: the rows and their audit entry in one transaction, then the app rebuilt
in place (hotspot.admin.reload) because plugins are registered when the app is built."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from litestar import Request, Response

from hotspot.accounts.principal import Principal
from hotspot.admin.reload import reload_app
from hotspot.admin.web import flash, redirect
from hotspot.errors import HotspotError
from hotspot.runtime import Hotspot

__all__ = ["NotApplied", "apply_saved", "not_applied", "save_settings"]

log = logging.getLogger("hotspot.admin")


async def save_settings(
    hotspot: Hotspot,
    principal: Principal,
    values: Mapping[str, Any],
    *,
    action: str,
    target: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    ip: str | None,
) -> None:
    """Store settings and their audit entry in one transaction (`after` must hold no secret)."""
    async with hotspot.db.transaction():
        for key, value in values.items():
            await hotspot.settings_store.set(key, value, by=principal.username)
        await hotspot.accounts.audit.record(principal.actor, action, ("setting", target), before, after, ip)


class NotApplied(HotspotError):
    """Saved, but the app could not be rebuilt with it (the old one keeps running)."""


async def apply_saved(request: Request[Any, Any, Any]) -> Hotspot | None:
    """Rebuild the app with what was saved; the new app's runtime, or None when not reloadable."""
    try:
        new = await reload_app(request.app)
    except Exception as exc:
        log.exception("could not rebuild the app with the settings just saved")
        raise NotApplied(f"Saved, but the box could not start using it: {exc}") from exc
    if new is None:
        return None
    hotspot: Hotspot = new.state.hotspot
    return hotspot


def not_applied(request: Request[Any, Any, Any], exc: NotApplied) -> Response[Any]:
    """Exception handler: say so on the page the change was made from."""
    flash(request, str(exc), "danger")
    return redirect(request.url.path)
