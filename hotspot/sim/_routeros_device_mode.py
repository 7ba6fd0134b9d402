"""`/system/device-mode` (RouterOS 7.17+): which features the router lets its configuration use.

A mode is a preset of feature switches; each switch can then be changed on its own (on a real
router `/system/device-mode/update`, confirmed by a button press or a power cycle). Routers ship in
`advanced` or `enterprise` mode, where the HotSpot works; `home` and `basic` turn it off, and then
`/ip/hotspot/active/login` is refused with NOT_ALLOWED.

Before 7.17 the menu does not exist (`no such command prefix`), so nothing is forbidden there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hotspot.sim._routeros_values import format_bool

__all__ = ["FEATURES", "FIRST_VERSION", "MODES", "NOT_ALLOWED", "DeviceMode"]

FIRST_VERSION = (7, 17)
NOT_ALLOWED = "not allowed by device-mode"

# In the order `/system/device-mode/print` shows them.
FEATURES = (
    "scheduler",
    "socks",
    "fetch",
    "pptp",
    "l2tp",
    "bandwidth-test",
    "traffic-gen",
    "sniffer",
    "ipsec",
    "romon",
    "proxy",
    "hotspot",
    "smb",
    "email",
    "zerotier",
    "container",
)

# The features each mode turns off; everything else is on.
_OFF: dict[str, frozenset[str]] = {
    "enterprise": frozenset({"container"}),
    "advanced": frozenset({"traffic-gen", "container"}),
    "rose": frozenset({"traffic-gen"}),
    "basic": frozenset(
        {"socks", "pptp", "l2tp", "bandwidth-test", "traffic-gen", "sniffer", "proxy", "hotspot"}
        | {"smb", "zerotier", "container"}
    ),
    "home": frozenset(FEATURES) - {"ipsec"},
}
MODES = tuple(_OFF)


def _preset(mode: str) -> dict[str, bool]:
    if mode not in _OFF:
        raise ValueError(f"unknown device-mode {mode!r} (one of {', '.join(MODES)})")
    return {name: name not in _OFF[mode] for name in FEATURES}


@dataclass
class DeviceMode:
    """The active mode and its feature switches."""

    mode: str = "enterprise"
    features: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.features = {**_preset(self.mode), **self.features}

    def update(self, mode: str | None = None, features: dict[str, bool] | None = None) -> None:
        """Switch to `mode` (its preset), then change single features (names as printed)."""
        changes = dict(features or {})
        for name in changes:
            if name not in FEATURES:
                raise ValueError(f"unknown device-mode feature {name!r}")
        if mode is not None:
            self.features = _preset(mode)
            self.mode = mode
        self.features.update(changes)

    def allows(self, feature: str) -> bool:
        return self.features[feature]

    def row(self) -> dict[str, str]:
        row = {
            "mode": self.mode,
            "allowed-versions": "7.13+,6.49.8+",
            "flagged": "false",
            "flagging-enabled": "true",
        }
        row.update((name, format_bool(self.features[name])) for name in FEATURES)
        row.update({"install-any-version": "false", "partitions": "false", "routerboard": "false"})
        row["attempt-count"] = "0"
        return row
