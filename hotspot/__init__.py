"""Hotspot: sell WiFi on MikroTik routers from one small box.

The public face for plugin authors: `hookimpl`, the contracts and the settings base class.
"""

__version__ = "0.1.0"

from hotspot.config import PluginSettings
from hotspot.contracts import PluginInfo
from hotspot.plugins.hookspecs import hookimpl

__all__ = ["PluginInfo", "PluginSettings", "__version__", "hookimpl"]
