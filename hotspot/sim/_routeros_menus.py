"""The menus the simulator knows, with their properties as the RouterOS API names them.

Field order is the order of properties in a printed row. Read-only fields are refused on add/set
with `unknown parameter`, as the router does for anything it cannot set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hotspot.sim._routeros_device_mode import FEATURES
from hotspot.sim._routeros_values import Field, FieldKind

__all__ = ["MENUS", "Menu"]

_GENERIC = frozenset({"print", "getall", "add", "set", "remove", "enable", "disable", "unset", "comment"})
_PRINT = frozenset({"print", "getall"})

_RO_FALSE = Field("bool", "false", readonly=True)


@dataclass(frozen=True)
class Menu:
    """One API menu: its path, properties, commands and how `numbers` finds items by name."""

    path: str
    fields: dict[str, Field]
    verbs: frozenset[str]
    name_field: str | None = "name"
    mandatory: tuple[str, ...] = ()
    singleton: bool = False
    computed: frozenset[str] = field(default_factory=frozenset)

    @property
    def writable(self) -> frozenset[str]:
        return frozenset(name for name, spec in self.fields.items() if not spec.readonly)


def _menu(
    path: str,
    fields: dict[str, Field],
    verbs: frozenset[str] = _GENERIC,
    *,
    name_field: str | None = "name",
    mandatory: tuple[str, ...] = (),
    singleton: bool = False,
    computed: tuple[str, ...] = (),
) -> Menu:
    return Menu(path, fields, verbs, name_field, mandatory, singleton, frozenset(computed))


_HOTSPOT = _menu(
    "/ip/hotspot",
    {
        "name": Field(),
        "interface": Field(),
        "address-pool": Field(default="none"),
        "profile": Field(default="default"),
        "idle-timeout": Field("duration-none", "5m"),
        "keepalive-timeout": Field("duration-none", "none"),
        "login-timeout": Field("duration-none", "none"),
        "addresses-per-mac": Field("int-unlimited", "2"),
        "proxy-status": Field(default="running", readonly=True),
        "HTTPS": _RO_FALSE,
        "invalid": _RO_FALSE,
        "disabled": Field("bool", "false"),
    },
    _GENERIC | {"reset-html"},
    mandatory=("interface",),
)

_SERVER_PROFILE = _menu(
    "/ip/hotspot/profile",
    {
        "name": Field(),
        "hotspot-address": Field(),
        "dns-name": Field(default=""),
        "html-directory": Field(default="hotspot"),
        "html-directory-override": Field(default=""),
        "rate-limit": Field(default=""),
        "http-proxy": Field(default="0.0.0.0:0"),
        "smtp-server": Field(default="0.0.0.0"),
        "login-by": Field(default="http-chap,cookie"),
        "http-cookie-lifetime": Field("duration", "3d"),
        "split-user-domain": Field("bool", "false"),
        "use-radius": Field("bool", "false"),
        "radius-accounting": Field("bool", "true"),
        "radius-interim-update": Field(default="received"),
        "nas-port-type": Field(default="wireless-802.11"),
        "radius-mac-format": Field(default="XX:XX:XX:XX:XX:XX"),
        "mac-auth-mode": Field(
            "enum", "mac-as-username", choices=("mac-as-username", "mac-as-username-and-password")
        ),
        "default": _RO_FALSE,
    },
    _GENERIC - {"enable", "disable"},
)

_USER_PROFILE = _menu(
    "/ip/hotspot/user/profile",
    {
        "name": Field(),
        "address-pool": Field(default="none"),
        "session-timeout": Field("duration"),
        "idle-timeout": Field("duration-none", "none"),
        "keepalive-timeout": Field("duration-none", "2m"),
        "status-autorefresh": Field("duration", "1m"),
        "shared-users": Field("int-unlimited", "1"),
        "rate-limit": Field(),
        "add-mac-cookie": Field("bool", "true"),
        "mac-cookie-timeout": Field("duration", "3d"),
        "address-list": Field(),
        "incoming-filter": Field(),
        "outgoing-filter": Field(),
        "incoming-packet-mark": Field(),
        "outgoing-packet-mark": Field(),
        "on-login": Field(),
        "on-logout": Field(),
        "parent-queue": Field(),
        "queue-type": Field(),
        "insert-queue-before": Field(),
        "transparent-proxy": Field("bool", "false"),
        "open-status-page": Field("enum", "always", choices=("always", "http-login")),
        "advertise": Field("bool", "false"),
        "advertise-url": Field(),
        "advertise-interval": Field(),
        "advertise-timeout": Field(),
        "default": _RO_FALSE,
    },
    _GENERIC - {"enable", "disable"},
)

_USER = _menu(
    "/ip/hotspot/user",
    {
        "server": Field(default="all"),
        "name": Field(),
        "password": Field(),
        "otp-secret": Field(),
        "address": Field(),
        "mac-address": Field("mac"),
        "profile": Field(default="default"),
        "routes": Field(),
        "email": Field(),
        "limit-uptime": Field("duration"),
        "limit-bytes-in": Field("bytes"),
        "limit-bytes-out": Field("bytes"),
        "limit-bytes-total": Field("bytes"),
        "uptime": Field("duration", readonly=True),
        "bytes-in": Field("int", readonly=True),
        "bytes-out": Field("int", readonly=True),
        "packets-in": Field("int", readonly=True),
        "packets-out": Field("int", readonly=True),
        "comment": Field(),
        "dynamic": _RO_FALSE,
        "disabled": Field("bool", "false"),
    },
    _GENERIC | {"reset-counters"},
    mandatory=("name",),
    computed=("uptime", "bytes-in", "bytes-out", "packets-in", "packets-out"),
)

_ACTIVE = _menu(
    "/ip/hotspot/active",
    {
        "server": Field(readonly=True),
        "user": Field(readonly=True),
        "domain": Field(readonly=True),
        "address": Field(readonly=True),
        "mac-address": Field("mac", readonly=True),
        "login-by": Field(readonly=True),
        "uptime": Field("duration", readonly=True),
        "session-time-left": Field("duration", readonly=True),
        "idle-time": Field("duration", readonly=True),
        "idle-timeout": Field("duration", readonly=True),
        "keepalive-timeout": Field("duration", readonly=True),
        "bytes-in": Field("int", readonly=True),
        "bytes-out": Field("int", readonly=True),
        "packets-in": Field("int", readonly=True),
        "packets-out": Field("int", readonly=True),
        "limit-bytes-in": Field("int", readonly=True),
        "limit-bytes-out": Field("int", readonly=True),
        "limit-bytes-total": Field("int", readonly=True),
        "radius": _RO_FALSE,
        "blocked": _RO_FALSE,
    },
    _PRINT | {"remove", "login"},
    name_field=None,
)

_HOST = _menu(
    "/ip/hotspot/host",
    {
        "mac-address": Field("mac", readonly=True),
        "address": Field(readonly=True),
        "to-address": Field(readonly=True),
        "server": Field(readonly=True),
        "uptime": Field("duration", readonly=True),
        "idle-time": Field("duration", readonly=True),
        "idle-timeout": Field("duration", readonly=True),
        "host-dead-time": Field("duration", readonly=True),
        "bytes-in": Field("int", readonly=True),
        "bytes-out": Field("int", readonly=True),
        "packets-in": Field("int", readonly=True),
        "packets-out": Field("int", readonly=True),
        "found-by": Field(readonly=True),
        "authorized": _RO_FALSE,
        "bypassed": _RO_FALSE,
        "DHCP": _RO_FALSE,
        "dynamic": _RO_FALSE,
        "static": _RO_FALSE,
    },
    _PRINT | {"remove", "make-binding"},
    name_field=None,
)

_IP_BINDING = _menu(
    "/ip/hotspot/ip-binding",
    {
        "mac-address": Field("mac"),
        "address": Field(),
        "to-address": Field(),
        "server": Field(default="all"),
        "type": Field("enum", "regular", choices=("regular", "bypassed", "blocked")),
        "comment": Field(),
        "bypassed": _RO_FALSE,
        "blocked": _RO_FALSE,
        "dynamic": _RO_FALSE,
        "disabled": Field("bool", "false"),
    },
    name_field=None,
    computed=("bypassed", "blocked"),
)

_WALLED_GARDEN = _menu(
    "/ip/hotspot/walled-garden",
    {
        "server": Field(),
        "src-address": Field(),
        "method": Field(),
        "dst-host": Field(),
        "dst-port": Field(),
        "path": Field(),
        "action": Field("enum", "allow", choices=("allow", "deny")),
        "hits": Field("int", "0", readonly=True),
        "comment": Field(),
        "dynamic": _RO_FALSE,
        "disabled": Field("bool", "false"),
    },
    name_field=None,
)

_WALLED_GARDEN_IP = _menu(
    "/ip/hotspot/walled-garden/ip",
    {
        "server": Field(),
        "src-address": Field(),
        "dst-address": Field(),
        "dst-host": Field(),
        "protocol": Field(),
        "dst-port": Field(),
        "src-address-list": Field(),
        "dst-address-list": Field(),
        "action": Field("enum", "accept", choices=("accept", "drop", "reject")),
        "comment": Field(),
        "invalid": _RO_FALSE,
        "dynamic": _RO_FALSE,
        "disabled": Field("bool", "false"),
    },
    name_field=None,
)

_COOKIE = _menu(
    "/ip/hotspot/cookie",
    {
        "user": Field(readonly=True),
        "domain": Field(readonly=True),
        "mac-address": Field("mac", readonly=True),
        "expires-in": Field("duration", readonly=True),
        "mac-cookie": _RO_FALSE,
    },
    _PRINT | {"remove"},
    name_field=None,
)

_QUEUE = _menu(
    "/queue/simple",
    {
        "name": Field(),
        "target": Field("target"),
        "dst": Field(),
        "parent": Field(default="none"),
        "packet-marks": Field(default=""),
        "priority": Field(default="8/8"),
        "queue": Field(default="default-small/default-small"),
        "limit-at": Field("rate", "0/0"),
        "max-limit": Field("rate", "0/0"),
        "burst-limit": Field("rate", "0/0"),
        "burst-threshold": Field("rate", "0/0"),
        "burst-time": Field(default="0s/0s"),
        "bucket-size": Field(default="0.1/0.1"),
        "comment": Field(),
        "bytes": Field(readonly=True),
        "packets": Field(readonly=True),
        "dropped": Field(readonly=True),
        "rate": Field(readonly=True),
        "packet-rate": Field(readonly=True),
        "queued-packets": Field(readonly=True),
        "queued-bytes": Field(readonly=True),
        "invalid": _RO_FALSE,
        "dynamic": _RO_FALSE,
        "disabled": Field("bool", "false"),
    },
    _GENERIC | {"reset-counters"},
    mandatory=("target",),
    computed=("bytes", "packets", "dropped", "rate", "packet-rate", "queued-packets", "queued-bytes"),
)

_IDENTITY = _menu("/system/identity", {"name": Field()}, _PRINT | {"set"}, name_field=None, singleton=True)

_RESOURCE_FIELDS: tuple[tuple[str, FieldKind], ...] = (
    ("uptime", "duration"),
    ("version", "str"),
    ("build-time", "str"),
    ("factory-software", "str"),
    ("free-memory", "int"),
    ("total-memory", "int"),
    ("cpu", "str"),
    ("cpu-count", "int"),
    ("cpu-frequency", "int"),
    ("cpu-load", "int"),
    ("free-hdd-space", "int"),
    ("total-hdd-space", "int"),
    ("write-sect-since-reboot", "int"),
    ("write-sect-total", "int"),
    ("bad-blocks", "str"),
    ("architecture-name", "str"),
    ("board-name", "str"),
    ("platform", "str"),
)

_RESOURCE = _menu(
    "/system/resource",
    {name: Field(kind, readonly=True) for name, kind in _RESOURCE_FIELDS},
    _PRINT,
    name_field=None,
    singleton=True,
)

# RouterOS 7.17+ only (the router hides it on older versions). Changing it needs a button press
# or a power cycle on the router itself, so the simulator offers only print; tests change it
# with RouterOSSimulator.device_mode().
_DEVICE_MODE = _menu(
    "/system/device-mode",
    {
        "mode": Field(readonly=True),
        "allowed-versions": Field(readonly=True),
        "flagged": _RO_FALSE,
        "flagging-enabled": Field("bool", "true", readonly=True),
        **{name: Field("bool", readonly=True) for name in FEATURES},
        "install-any-version": _RO_FALSE,
        "partitions": _RO_FALSE,
        "routerboard": _RO_FALSE,
        "attempt-count": Field("int", "0", readonly=True),
    },
    _PRINT,
    name_field=None,
    singleton=True,
)

_INTERFACE = _menu(
    "/interface",
    {
        "name": Field(),
        "default-name": Field(readonly=True),
        "type": Field(readonly=True),
        "mtu": Field("int"),
        "actual-mtu": Field("int", readonly=True),
        "l2mtu": Field("int", readonly=True),
        "max-l2mtu": Field("int", readonly=True),
        "mac-address": Field("mac", readonly=True),
        "last-link-up-time": Field(readonly=True),
        "link-downs": Field("int", "0", readonly=True),
        "rx-byte": Field("int", "0", readonly=True),
        "tx-byte": Field("int", "0", readonly=True),
        "rx-packet": Field("int", "0", readonly=True),
        "tx-packet": Field("int", "0", readonly=True),
        "comment": Field(),
        "running": Field("bool", "true", readonly=True),
        "slave": _RO_FALSE,
        "dynamic": _RO_FALSE,
        "disabled": Field("bool", "false"),
    },
    _PRINT | {"set", "enable", "disable", "comment", "reset-counters"},
)

MENUS: dict[str, Menu] = {
    menu.path: menu
    for menu in (
        _HOTSPOT,
        _SERVER_PROFILE,
        _USER_PROFILE,
        _USER,
        _ACTIVE,
        _HOST,
        _IP_BINDING,
        _WALLED_GARDEN,
        _WALLED_GARDEN_IP,
        _COOKIE,
        _QUEUE,
        _IDENTITY,
        _RESOURCE,
        _DEVICE_MODE,
        _INTERFACE,
    )
}
