"""The security log keeps every security_event, whoever emits it; the settings store persists choices."""

from __future__ import annotations

from datetime import UTC, datetime

from accounts_support import Box

from hotspot.contracts import SecurityEvent
from hotspot.settings_store import SettingsStore


async def test_every_emitted_security_event_is_stored_and_still_reaches_plugins(box: Box) -> None:
    """Payments (not accounts) emit this one: the runtime stores it before the fan-out."""
    seen: list[SecurityEvent] = []

    class Listener:
        from hotspot import hookimpl

        @hookimpl
        def security_event(self, event: SecurityEvent) -> None:
            seen.append(event)

    box.hotspot.registry.pm.register(Listener(), name="listener")
    event = SecurityEvent(
        "payment_callback",
        "mpesa: amount does not match",
        "warning",
        datetime.fromtimestamp(box.clock.now, UTC),
        "203.0.113.5",
        "ws_CO_123",
    )
    box.run(lambda: box.hotspot.emit("security_event", event=event))
    assert seen == [event]
    box.admin("auditor", "viewer")
    browser = await box.signed_in("auditor")
    found = (await browser.get("/api/v1/security/events", params={"kind": "payment_callback"})).json()
    [stored] = found["events"]
    assert stored["detail"] == "mpesa: amount does not match" and stored["severity"] == "warning"
    assert (
        stored["ip"] == "203.0.113.5" and stored["subject"] == "ws_CO_123" and stored["at"] == box.clock.now
    )
    warnings = (await browser.get("/api/v1/security/events", params={"severity": "warning"})).json()["events"]
    assert [e["kind"] for e in warnings] == ["payment_callback"]
    assert (await browser.get("/api/v1/security/events", params={"severity": "loud"})).status_code == 400


async def test_events_page_newest_first(box: Box) -> None:
    box.admin("auditor", "viewer")
    browser = await box.signed_in("auditor")
    for i in range(5):
        await box.browser().login("auditor", f"wrong-{i}-password")
    first = (await browser.get("/api/v1/security/events", params={"kind": "login_failed", "limit": 3})).json()
    assert len(first["events"]) == 3 and first["next_cursor"] is not None
    rest = (
        await browser.get(
            "/api/v1/security/events",
            params={"kind": "login_failed", "limit": 3, "before_id": first["next_cursor"]},
        )
    ).json()
    assert len(rest["events"]) == 2 and rest["next_cursor"] is None
    ids = [e["id"] for e in first["events"] + rest["events"]]
    assert ids == sorted(ids, reverse=True)


async def test_settings_store_round_trip_and_cache(box: Box) -> None:
    store = box.hotspot.settings_store
    assert box.run(lambda: store.get("business.name", "default")) == "default"
    assert box.run(lambda: store.set("business.name", "Mama Mboga", by="owner")) is None
    assert box.run(lambda: store.set("business.name", "Mama Mboga Cafe", by="owner")) == "Mama Mboga"
    box.run(lambda: store.set("fup.rules", [{"above": 50, "factor": 0.7}]))
    assert box.run(lambda: store.get("business.name")) == "Mama Mboga Cafe"
    assert box.run(lambda: store.all("business.")) == {"business.name": "Mama Mboga Cafe"}

    other = SettingsStore(box.hotspot.db, cache_seconds=60)  # another process, caching
    assert box.run(lambda: other.get("fup.rules")) == [{"above": 50, "factor": 0.7}]
    box.run(lambda: store.set("fup.rules", []))
    assert box.run(lambda: other.get("fup.rules")) == [{"above": 50, "factor": 0.7}]  # within its cache time
    other.cache_seconds = 0
    assert box.run(lambda: other.get("fup.rules")) == []
