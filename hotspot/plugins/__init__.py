"""Plugin machinery: the hook contract, discovery through entry points, and safe calling.

Entry-point group: ``hotspot.plugins``. A plugin package declares, in its pyproject.toml::

    [project.entry-points."hotspot.plugins"]
    mygateway = "hotspot_mygateway"

and its module defines ``PLUGIN = PluginInfo(...)`` plus ``@hookimpl`` functions.
"""

from hotspot.plugins.call import ImplOutcome, await_me_maybe, call_each, fan_out
from hotspot.plugins.hookspecs import hookimpl, hookspec
from hotspot.plugins.manager import (
    ENTRY_POINT_GROUP,
    InstalledPlugin,
    Registry,
    discover,
    load_plugins,
    settings_models,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "ImplOutcome",
    "InstalledPlugin",
    "Registry",
    "await_me_maybe",
    "call_each",
    "discover",
    "fan_out",
    "hookimpl",
    "hookspec",
    "load_plugins",
    "settings_models",
]
