"""Built-in notifier on apprise (https://github.com/caronc/apprise): one URL per destination.

Only the hook implementations live here; the settings are in ``config``, the sending in
``notifier``.
"""

from __future__ import annotations

from hotspot.contracts import Notifier, PluginInfo
from hotspot.plugins import hookimpl

from .config import AppriseSettings
from .notifier import AppriseNotifier, NotifierError

__all__ = ["PLUGIN", "AppriseNotifier", "AppriseSettings", "NotifierError", "register_notifiers"]

PLUGIN = PluginInfo(
    name="apprise",
    kind="notifier",
    description="Alerts to the owner and SMS to customers through apprise (e-mail, Telegram, SMS...)",
    config=AppriseSettings,
)


@hookimpl
def register_notifiers(config: AppriseSettings) -> list[Notifier]:
    """The core calls this only when the plugin is enabled, with its validated block."""
    return [AppriseNotifier(config)]
