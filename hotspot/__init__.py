"""Hotspot: sell WiFi on MikroTik routers from one small box.

The public face for plugin authors: `hookimpl`, the contracts and the settings base class.
"""

__version__ = "0.1.0"

from hotspot.config import PluginSettings  # noqa: E402
from hotspot.contracts import PluginInfo  # noqa: E402
from hotspot.plugins.hookspecs import hookimpl  # noqa: E402

__all__ = ["PluginInfo", "PluginSettings", "__version__", "hookimpl"]
