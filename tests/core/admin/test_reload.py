"""The app rebuilt in place (hotspot.admin.reload): what it carries over (the owner stays signed
in), what it lets go (the old app is closed once idle, the database is not), how other processes
notice a change, and that a failed rebuild leaves the running app alone."""

from __future__ import annotations

from typing import Any

import pytest
from admin_support import PASSWORD, Box

from hotspot.admin.reload import ReloadableApp
from hotspot.runtime import Hotspot


async def test_a_rebuild_keeps_the_owner_signed_in(box: Box, backend: str) -> None:
    box.admin("owner", "owner")
    browser = await box.signed_in("owner")
    assert box.wrapper is not None
    old: Hotspot = box.hotspot
    new_app = box.run(box.wrapper.reload)
    assert new_app is box.wrapper.app and box.hotspot is not old
    page = await browser.get("/admin/account")
    assert page.status_code == 200  # the session survived: carried stores, or Redis
    if backend == "sqlite":
        assert box.hotspot.stores is old.stores
        assert box.hotspot.db is old.db  # one engine per process: carried over
    assert not old.owns_db and box.hotspot.owns_db


async def test_the_replaced_app_is_closed_once_idle(box: Box) -> None:
    assert box.wrapper is not None
    old: Hotspot = box.hotspot
    closed: list[str] = []
    original = old.close

    async def close() -> None:
        closed.append("old")
        await original()

    old.close = close  # type: ignore[method-assign]
    box.run(box.wrapper.reload)

    async def settle() -> None:
        for task in list(box.wrapper._retiring):  # type: ignore[union-attr]
            await task

    box.run(settle)
    assert closed == ["old"]
    assert (await box.browser().get("/admin/login")).status_code in (200, 303)  # the database still answers


async def test_another_process_saving_settings_is_noticed(box: Box) -> None:
    assert box.wrapper is not None
    wrapper: ReloadableApp = box.wrapper
    assert box.run(wrapper.check) is False  # nothing new
    box.run(lambda: box.hotspot.settings_store.set("business.name", "Saved Elsewhere"))
    assert box.run(wrapper.check) is True
    assert box.hotspot.settings.business.name == "Saved Elsewhere"
    assert box.run(wrapper.check) is False
    assert wrapper.reloads == 1


async def test_a_failed_rebuild_leaves_the_running_app(box: Box) -> None:
    assert box.wrapper is not None
    running = box.wrapper.app
    box.run(lambda: box.hotspot.settings_store.set("plugins.mpesa", {"enabled": True, "shortcode": "1"}))
    with pytest.raises(Exception, match="5 to 7 digits"):
        box.run(box.wrapper.reload)
    assert box.wrapper.app is running
    assert (await box.browser().get("/setup")).status_code == 200


async def test_the_wizard_reports_a_rebuild_that_failed(box: Box) -> None:
    browser = box.browser()
    await browser.get("/setup")
    await browser.submit(
        "/setup/owner", {"username": "amina", "password": PASSWORD, "confirm_password": PASSWORD}
    )
    await browser.get("/setup/business")

    async def broken() -> Any:
        raise RuntimeError("disk full")

    assert box.wrapper is not None
    box.app.state["reload"] = broken
    answer = await browser.submit(
        "/setup/business", {"name": "Kiosk", "country": "KE", "currency": "KES", "timezone": "Africa/Nairobi"}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/setup/business"
    page = await browser.get("/setup/business")
    assert "could not start using it: disk full" in page.text
    assert box.run(lambda: box.hotspot.settings_store.get("business.name")) == "Kiosk"  # saved all the same
