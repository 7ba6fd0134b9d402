"""The plugin registry, driven through the test-only third-party package (tests/thirdparty)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fakes import IdleRouterDriver
from litestar.testing import AsyncTestClient

from hotspot import PluginSettings, hookimpl
from hotspot.app import create_app
from hotspot.config import load_settings
from hotspot.contracts import (
    Money,
    PaymentConfirmed,
    PaymentRequest,
    PaymentStatus,
    RouterStatusChanged,
    SecurityEvent,
    SessionChanged,
)
from hotspot.errors import ConfigError, PluginError
from hotspot.plugins import discover, fan_out, load_plugins, settings_models
from hotspot.plugins.manager import new_plugin_manager

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def _settings(tmp_path: Path, plugins: dict[str, Any]) -> Any:
    return load_settings(
        None,
        env={"HOTSPOT_DATA_DIR": str(tmp_path)},
        overrides={"plugins": plugins},
        plugins=settings_models(discover()),
    )


@pytest.fixture
def example(third_party_plugin: Path) -> Any:
    import hotspot_examplegw

    hotspot_examplegw.EVENTS.clear()
    return hotspot_examplegw


@pytest.fixture
def registry(example: Any, tmp_path: Path) -> Any:
    return load_plugins(_settings(tmp_path, {"examplegw": {"enabled": True, "counter_name": "Till 2"}}))


def test_third_party_plugin_is_discovered_through_its_entry_point(example: Any) -> None:
    found = discover()
    assert "examplegw" in found
    plugin = found["examplegw"]
    assert plugin.error is None
    assert plugin.distribution == "hotspot-examplegw"
    assert plugin.version == "1.2.3"
    assert plugin.info is not None and plugin.info.kind == "payment_gateway"


def test_disabled_plugin_is_installed_but_not_registered(example: Any, tmp_path: Path) -> None:
    registry = load_plugins(_settings(tmp_path, {}))
    assert "examplegw" not in registry.enabled
    assert registry.gateways == {}
    assert registry.pm.get_plugin("examplegw") is None


def test_plugin_block_is_validated_by_the_plugin_model(example: Any, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _settings(tmp_path, {"examplegw": {"enabled": True, "counter_nam": "x", "fail_health": "maybe"}})
    text = str(info.value)
    assert "plugins.examplegw.counter_nam: unknown key (did you mean 'counter_name'?)" in text
    assert "plugins.examplegw.fail_health: expected true or false" in text


def test_unknown_plugin_name_suggests_the_installed_one(example: Any, tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"plugins.examplgw: no plugin named 'examplgw' is installed \(did you mean 'examplegw'\?\)",
    ):
        _settings(tmp_path, {"examplgw": {"enabled": True}})


def test_hook_register_payment_gateways(registry: Any) -> None:
    gateway = registry.gateways["counter"]
    assert gateway.display_name == "Pay at the counter"
    assert gateway.config.counter_name == "Till 2"  # the plugin got its own validated block


async def test_gateway_from_third_party_runs_a_payment(registry: Any) -> None:
    gateway = registry.gateways["counter"]
    request = PaymentRequest("p1", "o1", Money(5000, "KES"), "1 hour")
    started = await gateway.initiate(request)
    assert started.status is PaymentStatus.PENDING
    verified = await gateway.verify(started.reference)
    assert verified.status is PaymentStatus.SUCCEEDED and verified.amount == Money(5000, "KES")


def test_hook_register_router_drivers(registry: Any) -> None:
    class RouterPlugin:
        @hookimpl
        def register_router_drivers(self, config: Any) -> list[Any]:
            return [IdleRouterDriver()]

    assert registry.router_drivers == {}
    loaded = load_plugins(
        registry_settings(), {}, extra=[("fakerouter", RouterPlugin(), PluginSettings(enabled=True))]
    )
    assert list(loaded.router_drivers) == ["fake"]


def registry_settings() -> Any:
    return load_settings(None, env={"HOTSPOT_DATA_DIR": "/tmp/unused-hotspot"})


def _extra(name: str, obj: object) -> Any:
    return [(name, obj, PluginSettings(enabled=True))]


def test_hook_register_notifiers() -> None:
    sent: list[Any] = []

    class Note:
        id = "memo"

        async def send(self, notification: Any) -> None:
            sent.append(notification)

    class P:
        @hookimpl
        def register_notifiers(self, config: Any) -> list[Any]:
            return [Note()]

    loaded = load_plugins(registry_settings(), {}, extra=_extra("memo", P()))
    assert list(loaded.notifiers) == ["memo"]


def test_hook_register_accounting_sinks() -> None:
    class Sink:
        id = "csvbook"

        async def export(self, entry: Any) -> str | None:
            return entry.entry_id

    class P:
        @hookimpl
        def register_accounting_sinks(self, config: Any) -> list[Any]:
            return [Sink()]

    loaded = load_plugins(registry_settings(), {}, extra=_extra("books", P()))
    assert list(loaded.accounting_sinks) == ["csvbook"]


def test_hook_register_fraud_detectors() -> None:
    class Detector:
        id = "rules"

        async def score(self, context: Any) -> Any: ...
        async def learn(self, context: Any, fraudulent: bool) -> None: ...

    class P:
        @hookimpl
        def register_fraud_detectors(self, config: Any) -> list[Any]:
            return [Detector()]

    loaded = load_plugins(registry_settings(), {}, extra=_extra("fraud", P()))
    assert list(loaded.fraud_detectors) == ["rules"]


def test_provider_that_breaks_its_protocol_is_refused() -> None:
    class P:
        @hookimpl
        def register_notifiers(self, config: Any) -> list[Any]:
            return [object()]

    with pytest.raises(
        PluginError, match=r"plugin 'broken': register_notifiers returned .* does not implement Notifier"
    ):
        load_plugins(registry_settings(), {}, extra=_extra("broken", P()))


def test_duplicate_provider_ids_stop_startup(registry: Any) -> None:
    class Gw:
        id = "counter"
        display_name = "Dup"
        currencies = frozenset({"KES"})

        async def initiate(self, request: Any) -> Any: ...
        async def verify(self, reference: str) -> Any: ...
        async def health(self) -> Any: ...

    class P:
        @hookimpl
        def register_payment_gateways(self, config: Any) -> list[Any]:
            return [Gw()]

    with pytest.raises(PluginError, match="id 'counter' is already taken"):
        load_plugins(registry_settings(), {}, extra=[*_extra("a", P()), *_extra("b", P())])


def test_hook_with_a_typo_is_refused() -> None:
    class P:
        @hookimpl
        def register_notifyers(self, config: Any) -> list[Any]:
            return []

    with pytest.raises(PluginError, match="implements a hook that does not exist"):
        load_plugins(registry_settings(), {}, extra=_extra("typo", P()))


def test_registration_hook_that_raises_names_the_plugin() -> None:
    class P:
        @hookimpl
        def register_notifiers(self, config: Any) -> list[Any]:
            raise RuntimeError("no API key")

    with pytest.raises(PluginError, match="plugin 'sms' failed in register_notifiers: no API key"):
        load_plugins(registry_settings(), {}, extra=_extra("sms", P()))


def test_enabled_but_broken_plugin_stops_startup(tmp_path: Path) -> None:
    from hotspot.plugins.manager import InstalledPlugin

    broken = {"ghost": InstalledPlugin("ghost", None, None, "ghost", "1.0", "ImportError: no module")}
    settings = load_settings(
        None,
        env={"HOTSPOT_DATA_DIR": str(tmp_path)},
        overrides={"plugins": {"ghost": {"enabled": True}}},
        plugins={"ghost": PluginSettings},
    )
    with pytest.raises(PluginError, match="plugin 'ghost' is enabled in the config but cannot be loaded"):
        load_plugins(settings, broken)


async def test_hook_register_routes(example: Any, make_settings: Any) -> None:
    settings = make_settings(
        {"plugins": {"examplegw": {"enabled": True}}}, plugins=settings_models(discover())
    )
    async with AsyncTestClient(create_app(settings)) as client:
        response = await client.post("/hooks/examplegw/paid/ABC123")
        assert response.status_code == 201
        assert response.json() == {"received": "ABC123"}
    assert ("webhook", "ABC123") in example.EVENTS


def test_hook_register_template_dirs(registry: Any) -> None:
    assert any((d / "hotspot_examplegw" / "pay_form.html").is_file() for d in registry.template_dirs)


async def test_plugin_templates_render_without_shadowing_core(example: Any, tmp_path: Path) -> None:
    settings = _settings(tmp_path, {"examplegw": {"enabled": True}})
    app = create_app(settings)
    engine = app.template_engine
    assert engine is not None
    html = engine.get_template("hotspot_examplegw/pay_form.html").render(amount="KES 100")
    assert "Pay KES 100 at the counter" in html
    assert "error.html" in engine.engine.list_templates()  # type: ignore[attr-defined]


async def test_hook_register_setup_steps(registry: Any) -> None:
    [step] = registry.setup_steps
    assert step.id == "counter" and step.template == "hotspot_examplegw/pay_form.html"
    assert await step.validate(step.form(counter_name="  ")) == {"counter_name": "Give the counter a name"}
    assert await step.validate(step.form(counter_name="Till 1")) == {}


async def test_hook_startup(example: Any, make_settings: Any) -> None:
    settings = make_settings(
        {"plugins": {"examplegw": {"enabled": True}}}, plugins=settings_models(discover())
    )
    async with AsyncTestClient(create_app(settings)):
        assert ("startup", "Hotspot") in example.EVENTS
        assert ("shutdown", None) not in example.EVENTS


async def test_hook_shutdown(example: Any, make_settings: Any) -> None:
    settings = make_settings(
        {"plugins": {"examplegw": {"enabled": True}}}, plugins=settings_models(discover())
    )
    async with AsyncTestClient(create_app(settings)):
        pass
    assert example.EVENTS[-1] == ("shutdown", None)


async def test_hook_payment_confirmed(registry: Any, example: Any) -> None:
    event = PaymentConfirmed("p1", "o1", Money(5000, "KES"), "counter", "CTR-p1", NOW)
    await fan_out(registry.hook.payment_confirmed, event=event)
    assert ("payment_confirmed", event) in example.EVENTS


async def test_hook_session_changed(registry: Any, example: Any) -> None:
    event = SessionChanged("g1", "router-a", "AA:BB:CC:DD:EE:FF", True, NOW)
    outcomes = await fan_out(registry.hook.session_changed, event=event)  # a sync impl works too
    assert [o.error for o in outcomes] == [None]
    assert ("session_changed", event) in example.EVENTS


async def test_hook_router_status_changed(registry: Any, example: Any) -> None:
    event = RouterStatusChanged("router-a", "ok", "down", "connection refused", NOW)
    await fan_out(registry.hook.router_status_changed, event=event)
    assert ("router_status_changed", event) in example.EVENTS


async def test_hook_security_event(registry: Any, example: Any) -> None:
    event = SecurityEvent("login_failed", "5 failures for owner", "warning", NOW, ip="10.0.0.9")
    await fan_out(registry.hook.security_event, event=event)
    assert ("security_event", event) in example.EVENTS


async def test_fan_out_isolates_failures_and_runs_everyone(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []

    class Good:
        @hookimpl
        async def security_event(self, event: Any) -> None:
            calls.append("good")

    class SyncGood:
        @hookimpl
        def security_event(self, event: Any) -> None:
            calls.append("sync")

    class Bad:
        @hookimpl
        async def security_event(self, event: Any) -> None:
            raise RuntimeError("smtp down")

    class Slow:
        @hookimpl
        async def security_event(self, event: Any) -> None:
            await asyncio.sleep(5)

    pm = new_plugin_manager()
    for name, obj in [("bad", Bad()), ("good", Good()), ("slow", Slow()), ("syncgood", SyncGood())]:
        pm.register(obj, name=name)
    event = SecurityEvent("x", "y", "info", NOW)
    with caplog.at_level(logging.ERROR, logger="hotspot.plugins"):
        outcomes = await fan_out(pm.hook.security_event, budget=0.2, event=event)
    assert sorted(calls) == ["good", "sync"]
    errors = {o.plugin: type(o.error).__name__ for o in outcomes if o.error}
    assert errors == {"bad": "RuntimeError", "slow": "TimeoutError"}
    assert "plugin 'bad' failed in security_event: smtp down" in caplog.text
    assert "plugin 'slow' failed in security_event: no answer after 0.2 s" in caplog.text


def test_async_registration_hook_is_refused() -> None:
    class P:
        @hookimpl
        async def register_notifiers(self, config: Any) -> list[Any]:
            return []

    with pytest.raises(PluginError, match="must be a plain function, not async"):
        load_plugins(registry_settings(), {}, extra=_extra("asyncreg", P()))
