"""Find installed plugins, register the enabled ones and collect what they provide.

Discovery: every entry point in the ``hotspot.plugins`` group names a module with a ``PLUGIN``
attribute (hotspot.contracts.PluginInfo) and ``@hookimpl`` functions. The built-in plugins are
declared in this project's own pyproject.toml under that group, so they load exactly like a
third-party package does. A plugin is *installed* when its entry point exists and *enabled*
when its YAML block says ``enabled: true``; only enabled plugins are registered with pluggy.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import pluggy

from hotspot.config import PluginSettings, Settings
from hotspot.contracts import (
    AccountingSink,
    FraudDetector,
    Notifier,
    PaymentGateway,
    PluginInfo,
    RouterDriver,
    SetupStep,
)
from hotspot.errors import PluginError
from hotspot.plugins import hookspecs
from hotspot.plugins.call import call_each

__all__ = ["ENTRY_POINT_GROUP", "InstalledPlugin", "Registry", "discover", "load_plugins"]

ENTRY_POINT_GROUP = "hotspot.plugins"
log = logging.getLogger("hotspot.plugins")
T = TypeVar("T")


@dataclass(frozen=True)
class InstalledPlugin:
    """A plugin found through its entry point; `error` says why it could not be imported."""

    name: str
    module: ModuleType | None
    info: PluginInfo | None
    distribution: str | None
    version: str | None
    error: str | None = None

    @property
    def config_model(self) -> type[PluginSettings]:
        model = self.info.config if self.info else PluginSettings
        assert issubclass(model, PluginSettings)
        return model


def discover() -> dict[str, InstalledPlugin]:
    """Import every plugin module named under the entry-point group."""
    found: dict[str, InstalledPlugin] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        dist_name = dist.name if dist else None
        dist_version = dist.version if dist else None
        if ep.name in found:
            log.warning("plugin %r is installed twice; keeping %s", ep.name, found[ep.name].distribution)
            continue
        try:
            module = ep.load()
            info = getattr(module, "PLUGIN", None)
            if not isinstance(info, PluginInfo):
                raise PluginError(f"module {ep.value} has no PLUGIN = PluginInfo(...)")
            if info.name != ep.name:
                raise PluginError(f"PLUGIN.name is {info.name!r} but the entry point says {ep.name!r}")
            if not (isinstance(info.config, type) and issubclass(info.config, PluginSettings)):
                raise PluginError("PLUGIN.config must subclass hotspot.config.PluginSettings")
        except Exception as exc:
            found[ep.name] = InstalledPlugin(ep.name, None, None, dist_name, dist_version, str(exc))
            continue
        found[ep.name] = InstalledPlugin(ep.name, module, info, dist_name, info.version or dist_version)
    return dict(sorted(found.items()))


def settings_models(installed: dict[str, InstalledPlugin]) -> dict[str, type[PluginSettings]]:
    """Each installed plugin's settings model, for hotspot.config.load_settings."""
    return {name: plugin.config_model for name, plugin in installed.items()}


@dataclass
class Registry:
    """Everything enabled plugins registered, keyed by the provider's id."""

    pm: pluggy.PluginManager
    enabled: list[str] = field(default_factory=list)
    gateways: dict[str, PaymentGateway] = field(default_factory=dict)
    router_drivers: dict[str, RouterDriver] = field(default_factory=dict)
    notifiers: dict[str, Notifier] = field(default_factory=dict)
    accounting_sinks: dict[str, AccountingSink] = field(default_factory=dict)
    fraud_detectors: dict[str, FraudDetector] = field(default_factory=dict)
    routes: dict[str, list[Any]] = field(default_factory=dict)
    route_paths: dict[str, str] = field(default_factory=dict)  # plugin -> where its routes are mounted
    gateway_plugins: dict[str, str] = field(default_factory=dict)  # gateway id -> plugin name
    template_dirs: list[Path] = field(default_factory=list)
    setup_steps: list[SetupStep] = field(default_factory=list)

    @property
    def hook(self) -> Any:
        return self.pm.hook


def new_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if os.environ.get("HOTSPOT_TRACE_PLUGINS"):
        pm.trace.root.setwriter(lambda msg: log.info("hook trace: %s", msg.rstrip()))
        pm.enable_tracing()
    return pm


def load_plugins(
    settings: Settings,
    installed: dict[str, InstalledPlugin] | None = None,
    *,
    extra: Iterable[tuple[str, object, PluginSettings]] = (),
) -> Registry:
    """Register enabled plugins and collect their providers; raise PluginError naming the culprit.

    `extra` registers in-memory plugins (name, module or object, settings): tests use it.
    """
    installed = discover() if installed is None else installed
    pm = new_plugin_manager()
    configs: dict[str, PluginSettings] = {}
    for name, plugin_settings in settings.plugins.items():
        if not plugin_settings.enabled:
            continue
        plugin = installed.get(name)
        if plugin is None or plugin.module is None:
            reason = plugin.error if plugin else "not installed"
            raise PluginError(f"plugin {name!r} is enabled in the config but cannot be loaded: {reason}")
        pm.register(plugin.module, name=name)
        configs[name] = plugin_settings
    for name, obj, plugin_settings in extra:
        pm.register(obj, name=name)
        configs[name] = plugin_settings
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        name = (pm.get_name(exc.plugin) if exc.plugin is not None else None) or "?"
        raise PluginError(f"plugin {name!r} implements a hook that does not exist: {exc}") from None

    registry = Registry(pm=pm, enabled=list(configs))
    for name in configs:
        info = installed[name].info if name in installed else getattr(pm.get_plugin(name), "PLUGIN", None)
        custom = info.routes_path if isinstance(info, PluginInfo) else None
        registry.route_paths[name] = custom.rstrip("/") if custom else f"/hooks/{name}"

    def collect(hook_name: str, proto: type[T] | None, key: str | None, into: Any) -> None:
        outcomes = call_each(getattr(pm.hook, hook_name), lambda plugin: {"config": configs[plugin]})
        for outcome in outcomes:
            if outcome.error is not None:
                raise PluginError(f"plugin {outcome.plugin!r} failed in {hook_name}: {outcome.error}")
            items = outcome.result or []
            if not isinstance(items, list | tuple):
                raise PluginError(f"plugin {outcome.plugin!r}: {hook_name} must return a list")
            for item in items:
                if proto is not None and not isinstance(item, proto):
                    raise PluginError(
                        f"plugin {outcome.plugin!r}: {hook_name} returned {item!r}, "
                        f"which does not implement {proto.__name__}"
                    )
                if key is None:
                    bucket = into if isinstance(into, list) else into.setdefault(outcome.plugin, [])
                    bucket.append(item)
                    continue
                ident = getattr(item, key)
                if ident in into:
                    raise PluginError(f"plugin {outcome.plugin!r}: {hook_name} id {ident!r} is already taken")
                into[ident] = item
                if hook_name == "register_payment_gateways":
                    registry.gateway_plugins[ident] = outcome.plugin

    collect("register_payment_gateways", PaymentGateway, "id", registry.gateways)
    collect("register_router_drivers", RouterDriver, "kind", registry.router_drivers)
    collect("register_notifiers", Notifier, "id", registry.notifiers)
    collect("register_accounting_sinks", AccountingSink, "id", registry.accounting_sinks)
    collect("register_fraud_detectors", FraudDetector, "id", registry.fraud_detectors)
    collect("register_routes", None, None, registry.routes)
    collect("register_template_dirs", None, None, registry.template_dirs)
    steps: dict[str, SetupStep] = {}
    collect("register_setup_steps", SetupStep, "id", steps)
    registry.setup_steps = sorted(steps.values(), key=lambda s: (s.order, s.id))
    registry.template_dirs = [Path(p) for p in registry.template_dirs]
    return registry
