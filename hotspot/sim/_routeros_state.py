"""One simulated router's configuration and HotSpot sessions, driven by API commands.

Time is simulated lazily: before a command runs (or when a test calls advance/tick) every active
session is run forward from the last sync to now. Traffic flows at the device's demand capped by
the session's queues, so counters are piecewise linear and a limit is hit at an exact instant
inside the interval (the session ends there, not at the next sync).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from hotspot.sim._routeros_device_mode import FIRST_VERSION, NOT_ALLOWED, DeviceMode
from hotspot.sim._routeros_menus import MENUS, Menu
from hotspot.sim._routeros_query import compile_query
from hotspot.sim._routeros_values import (
    Field,
    Trap,
    format_bool,
    format_duration,
    format_id,
    normalize,
    parse_duration,
    parse_id,
    parse_mac,
    parse_rate_limit,
    parse_rate_pair,
    version_tuple,
)

__all__ = ["DEFAULT_DEMAND", "Logout", "Result", "Router"]

# A phone browsing: 1 Mbit/s down, 250 kbit/s up (bits per second, as rate limits are written).
DEFAULT_DEMAND = (1_000_000, 250_000)
_PACKET = 1000  # bytes per packet, to derive packet counters from byte counters
_EPS = 1e-9
_PRINT_ARGS = frozenset(
    {".proplist", "count-only", "detail", "without-paging", "terse", "brief", "stats", "from", "as-value"}
)
NO_SUCH_ITEM = "no such item"
# Menus whose rows are live objects (sessions, hosts) rather than configuration items.
_LIVE = frozenset({"/ip/hotspot/active", "/ip/hotspot/host"})
_T = TypeVar("_T")


@dataclass
class Item:
    """A configuration row: properties in printed form, plus flags the API cannot change."""

    id: int
    props: dict[str, str]
    dynamic: bool = False
    default: bool = False


@dataclass
class Table:
    items: dict[int, Item] = field(default_factory=dict)
    next_id: int = 1

    def add(self, props: dict[str, str], *, dynamic: bool = False, default: bool = False) -> Item:
        item = Item(self.next_id, props, dynamic, default)
        self.items[item.id] = item
        self.next_id += 1
        return item


@dataclass
class Counters:
    """A hotspot user's read-only totals; sessions add to them when they end."""

    uptime: float = 0.0
    bytes_in: float = 0.0
    bytes_out: float = 0.0


@dataclass
class Host:
    """A device the HotSpot has seen on its interface (joined the WiFi, got a DHCP lease)."""

    id: int
    mac: str
    ip: str
    server: str
    since: float


@dataclass
class Session:
    """An authorised host. Limits are what was left when it logged in (the router reads them then)."""

    id: int
    user_id: int
    user: str
    server: str
    mac: str
    ip: str
    domain: str
    login_by: str
    session_timeout: float | None
    idle_timeout: float | None
    keepalive_timeout: str
    uptime_left: float | None
    bytes_in_left: float | None
    bytes_out_left: float | None
    bytes_total_left: float | None
    queue_id: int | None = None
    uptime: float = 0.0
    bytes_in: float = 0.0
    bytes_out: float = 0.0
    idle: float = 0.0


@dataclass(frozen=True)
class Logout:
    """Why and when a session ended, with its final counters (for tests to assert on)."""

    user: str
    mac: str
    ip: str
    cause: str
    at: float
    uptime: float
    bytes_in: int
    bytes_out: int


@dataclass
class Result:
    """What a command produced: `!re` rows and the attributes of its `!done`."""

    rows: list[dict[str, str]] = field(default_factory=list)
    done: dict[str, str] = field(default_factory=dict)
    is_print: bool = False


def _int(value: float) -> int:
    return int(value + 1e-6)


def _ip_in(ip: str, target: str) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for part in target.split(","):
        try:
            if address in ipaddress.ip_network(part, strict=False):
                return True
        except ValueError:
            continue
    return False


class Router:
    """The router's state and the command handlers that read and change it."""

    def __init__(
        self,
        *,
        identity: str = "MikroTik",
        version: str = "7.16.2 (stable)",
        board_name: str = "hAP ac^2",
        clock: Callable[[], float] = time.monotonic,
        login_by: str = "http-chap",
        device_mode: str | None = None,
    ) -> None:
        self._clock = clock
        self._offset = 0.0
        self._synced = self.now()
        self.boot = self._synced
        self.version = version
        self.board_name = board_name
        self.cpu_load = 2
        self.login_by = login_by
        self.identity = identity
        # /system/device-mode exists from 7.17 on; None before (the menu is then unknown).
        self.device_mode: DeviceMode | None = None
        if version_tuple(version) >= FIRST_VERSION:
            self.device_mode = DeviceMode(device_mode or "enterprise")
        elif device_mode is not None:
            raise ValueError(f"RouterOS {version} has no device-mode (it came with 7.17)")
        self.default_demand = DEFAULT_DEMAND
        self.demand: dict[str, tuple[int, int]] = {}
        self.tables: dict[str, Table] = {
            path: Table() for path, menu in MENUS.items() if not menu.singleton and path not in _LIVE
        }
        self.sessions: dict[int, Session] = {}
        self.hosts: dict[int, Host] = {}
        self.counters: dict[int, Counters] = {}
        self.logouts: list[Logout] = []
        self._next_session = 1
        self._next_host = 1
        self._install_defaults()

    # --- time ---------------------------------------------------------------------------------

    def now(self) -> float:
        return self._clock() + self._offset

    def advance(self, seconds: float) -> None:
        """Move simulated time forward (on top of the clock) and run sessions up to it."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._offset += seconds
        self.sync()

    def sync(self) -> None:
        now = self.now()
        if now <= self._synced:
            return
        start = self._synced
        for session in list(self.sessions.values()):
            self._run(session, start, now)
        self._synced = now

    def rates(self, session: Session) -> tuple[float, float]:
        """(up, down) in bits/s: the device's demand capped by every queue that targets it."""
        down, up = self.demand.get(session.mac, self.default_demand)
        rate_up, rate_down = float(up), float(down)
        for item in self.tables["/queue/simple"].items.values():
            if item.props.get("disabled") == "true":
                continue
            if item.id != session.queue_id and (item.dynamic or not _ip_in(session.ip, item.props["target"])):
                continue
            limit_up, limit_down = parse_rate_pair(item.props.get("max-limit", "0/0"))
            if limit_up > 0:
                rate_up = min(rate_up, limit_up)
            if limit_down > 0:
                rate_down = min(rate_down, limit_down)
        return rate_up, rate_down

    def _run(self, session: Session, start: float, end: float) -> None:
        up_bps, down_bps = self.rates(session)
        up, down = up_bps / 8, down_bps / 8  # bytes per second
        span = end - start
        deadlines: list[tuple[float, str]] = []
        if session.uptime_left is not None:
            deadlines.append((session.uptime_left - session.uptime, "uptime limit reached"))
        if session.session_timeout is not None:
            deadlines.append((session.session_timeout - session.uptime, "session timeout"))
        if session.bytes_total_left is not None and up + down > 0:
            left = session.bytes_total_left - session.bytes_in - session.bytes_out
            deadlines.append((left / (up + down), "traffic limit reached"))
        if session.bytes_in_left is not None and up > 0:
            deadlines.append(((session.bytes_in_left - session.bytes_in) / up, "traffic limit reached"))
        if session.bytes_out_left is not None and down > 0:
            deadlines.append(((session.bytes_out_left - session.bytes_out) / down, "traffic limit reached"))
        if session.idle_timeout is not None and up + down == 0:
            deadlines.append((session.idle_timeout - session.idle, "idle timeout"))
        ending = min(deadlines, default=(span + 1.0, ""))
        step = max(0.0, min(span, ending[0]))
        session.uptime += step
        session.bytes_in += up * step
        session.bytes_out += down * step
        session.idle = session.idle + step if up + down == 0 else 0.0
        if ending[0] <= span + _EPS:
            self.end_session(session, ending[1], at=start + step)

    # --- defaults -----------------------------------------------------------------------------

    def _install_defaults(self) -> None:
        profiles = self.tables["/ip/hotspot/user/profile"]
        profiles.next_id = 0  # the default profile is *0, like on a real router
        profiles.add(self._defaults(MENUS["/ip/hotspot/user/profile"], {"name": "default"}), default=True)
        server_profiles = self.tables["/ip/hotspot/profile"]
        server_profiles.add(self._defaults(MENUS["/ip/hotspot/profile"], {"name": "default"}), default=True)
        server_profiles.add(
            self._defaults(
                MENUS["/ip/hotspot/profile"],
                {"name": "hsprof1", "hotspot-address": "10.5.50.1", "dns-name": "login.wifi"},
            )
        )
        self.tables["/ip/hotspot"].add(
            self._defaults(
                MENUS["/ip/hotspot"],
                {
                    "name": "hotspot1",
                    "interface": "bridge",
                    "address-pool": "hs-pool-1",
                    "profile": "hsprof1",
                },
            )
        )
        interfaces = self.tables["/interface"]
        for index, (name, kind, mac) in enumerate(
            (
                ("ether1", "ether", "48:8F:5A:10:20:01"),
                ("ether2", "ether", "48:8F:5A:10:20:02"),
                ("bridge", "bridge", "48:8F:5A:10:20:03"),
            ),
            start=1,
        ):
            props = {
                "name": name,
                "type": kind,
                "mtu": "1500",
                "actual-mtu": "1500",
                "l2mtu": "1598" if kind == "ether" else "1596",
                "mac-address": mac,
                "last-link-up-time": "2024-12-01 08:00:00",
            }
            if kind == "ether":
                props["default-name"] = name
                props["max-l2mtu"] = "2028"
            if index == 2:
                props["slave"] = "true"
            interfaces.add(self._defaults(MENUS["/interface"], props))

    @staticmethod
    def _defaults(menu: Menu, given: Mapping[str, str]) -> dict[str, str]:
        props = {name: spec.default for name, spec in menu.fields.items() if spec.default is not None}
        props.update(given)
        for name in menu.computed:
            props.pop(name, None)
        return props

    # --- lookups ------------------------------------------------------------------------------

    def find_user(self, name: str) -> Item | None:
        for item in self.tables["/ip/hotspot/user"].items.values():
            if item.props.get("name") == name:
                return item
        return None

    def find_profile(self, name: str) -> Item | None:
        for item in self.tables["/ip/hotspot/user/profile"].items.values():
            if item.props.get("name") == name:
                return item
        return None

    def menu(self, path: str) -> Menu | None:
        """The menu at `path` if this router's version has it."""
        if path == "/system/device-mode" and self.device_mode is None:
            return None
        return MENUS.get(path)

    def allows(self, feature: str) -> bool:
        """Whether device-mode lets `feature` (e.g. "hotspot") work; always so before 7.17."""
        return self.device_mode is None or self.device_mode.allows(feature)

    def host_by_mac(self, mac: str) -> Host | None:
        return next((host for host in self.hosts.values() if host.mac == mac), None)

    def session_by_mac(self, mac: str) -> Session | None:
        return next((s for s in self.sessions.values() if s.mac == mac), None)

    # --- hosts and sessions (also used directly by tests) -------------------------------------

    def add_host(self, mac: str, ip: str, server: str = "hotspot1") -> Host:
        """A device joined the WiFi: the HotSpot now sees it and redirects it to the login page."""
        self.sync()
        mac = parse_mac(mac)
        str(ipaddress.ip_address(ip))
        host = self.host_by_mac(mac)
        if host is not None:
            host.ip = ip
            return host
        host = Host(self._next_host, mac, ip, server, self.now())
        self._next_host += 1
        self.hosts[host.id] = host
        return host

    def remove_host(self, mac: str, cause: str = "host removed") -> None:
        self.sync()
        host = self.host_by_mac(parse_mac(mac))
        if host is None:
            raise KeyError(mac)
        self._drop_host(host, cause)

    def _drop_host(self, host: Host, cause: str) -> None:
        session = self.session_by_mac(host.mac)
        if session is not None:
            self.end_session(session, cause)
        del self.hosts[host.id]

    def end_session(self, session: Session, cause: str, at: float | None = None) -> None:
        """Log a session out: its counters go to its user, its dynamic queue goes away."""
        self.sessions.pop(session.id, None)
        user = self.tables["/ip/hotspot/user"].items.get(session.user_id)
        if user is not None:
            counters = self.counters.setdefault(user.id, Counters())
            counters.uptime += session.uptime
            counters.bytes_in += session.bytes_in
            counters.bytes_out += session.bytes_out
        if session.queue_id is not None:
            self.tables["/queue/simple"].items.pop(session.queue_id, None)
        self.logouts.append(
            Logout(
                session.user,
                session.mac,
                session.ip,
                cause,
                self.now() if at is None else at,
                session.uptime,
                _int(session.bytes_in),
                _int(session.bytes_out),
            )
        )

    # --- command dispatch ---------------------------------------------------------------------

    def execute(self, command: str, attrs: dict[str, str], queries: list[str]) -> Result:
        """Run one API command (already split into attributes and query words)."""
        menu_path, _, verb = command.rpartition("/")
        menu = self.menu(menu_path)
        if menu is None:
            raise Trap("no such command prefix", 0)
        if verb not in menu.verbs:
            raise Trap("no such command", 0)
        self.sync()
        if verb in ("print", "getall"):
            return self._print(menu, attrs, queries)
        handler = getattr(self, "_do_" + verb.replace("-", "_"))
        result: Result = handler(menu, attrs)
        return result

    # --- print --------------------------------------------------------------------------------

    def rows(self, path: str) -> list[dict[str, str]]:
        """Every item of a menu as print shows it (all properties)."""
        self.sync()
        menu = self.menu(path)
        if menu is None:
            raise KeyError(path)
        if path == "/ip/hotspot/active":
            return [self._session_row(s) for s in self.sessions.values()]
        if path == "/ip/hotspot/host":
            return [self._host_row(h) for h in self.hosts.values()]
        if path == "/system/identity":
            return [{"name": self.identity}]
        if path == "/system/resource":
            return [self._resource_row()]
        if path == "/system/device-mode" and self.device_mode is not None:
            return [self.device_mode.row()]
        return [self._item_row(menu, item) for item in self.tables[path].items.values()]

    def _print(self, menu: Menu, attrs: dict[str, str], queries: list[str]) -> Result:
        for name in attrs:
            if name not in _PRINT_ARGS:
                raise Trap(f"unknown parameter {name}")
        rows = self.rows(menu.path)
        if "from" in attrs:
            wanted = self._from(menu, rows, attrs["from"])
            rows = [row for row in rows if row.get(".id") in wanted]
        fields: dict[str, Field] = dict(menu.fields)
        fields[".id"] = Field()
        query = compile_query(queries, fields)
        rows = [row for row in rows if query.matches(row)]
        if "count-only" in attrs:
            return Result(done={"ret": str(len(rows))})
        proplist = attrs.get(".proplist")
        if proplist is not None:
            keep = {name.strip() for name in proplist.split(",") if name.strip()}
            rows = [{k: v for k, v in row.items() if k in keep} for row in rows]
        return Result(rows=rows, is_print=True)

    @staticmethod
    def _from(menu: Menu, rows: list[dict[str, str]], spec: str) -> set[str]:
        """Ids picked by print's `from` (ids, or names where the menu has them)."""
        wanted: set[str] = set()
        for token in (part.strip() for part in spec.split(",") if part.strip()):
            number = parse_id(token)
            if number is not None:
                matched = {format_id(number)} & {row.get(".id", "") for row in rows}
            elif menu.name_field is not None:
                matched = {row[".id"] for row in rows if row.get(menu.name_field) == token and ".id" in row}
            else:
                matched = set()
            if not matched:
                raise Trap(NO_SUCH_ITEM)
            wanted |= matched
        return wanted

    def _item_row(self, menu: Menu, item: Item) -> dict[str, str]:
        row = {".id": format_id(item.id)}
        extra = self._computed(menu, item)
        for name in menu.fields:
            if name == "dynamic":
                row[name] = format_bool(item.dynamic)
            elif name == "default":
                row[name] = format_bool(item.default)
            elif name in extra:
                row[name] = extra[name]
            elif name in item.props:
                row[name] = item.props[name]
        return row

    def _computed(self, menu: Menu, item: Item) -> dict[str, str]:
        if menu.path == "/ip/hotspot/user":
            c = self.counters.get(item.id, Counters())
            return {
                "uptime": format_duration(c.uptime),
                "bytes-in": str(_int(c.bytes_in)),
                "bytes-out": str(_int(c.bytes_out)),
                "packets-in": str(_int(c.bytes_in) // _PACKET),
                "packets-out": str(_int(c.bytes_out) // _PACKET),
            }
        if menu.path == "/ip/hotspot/ip-binding":
            kind = item.props.get("type", "regular")
            return {"bypassed": format_bool(kind == "bypassed"), "blocked": format_bool(kind == "blocked")}
        if menu.path == "/queue/simple":
            session = next((s for s in self.sessions.values() if s.queue_id == item.id), None)
            stats = dict.fromkeys(menu.computed, "0/0")
            if session is not None:
                up, down = self.rates(session)
                b_in, b_out = _int(session.bytes_in), _int(session.bytes_out)
                stats["bytes"] = f"{b_in}/{b_out}"
                stats["packets"] = f"{b_in // _PACKET}/{b_out // _PACKET}"
                stats["rate"] = f"{_int(up)}/{_int(down)}"
                stats["packet-rate"] = f"{_int(up / 8 / _PACKET)}/{_int(down / 8 / _PACKET)}"
            return stats
        return {}

    def _session_row(self, s: Session) -> dict[str, str]:
        row = {
            ".id": format_id(s.id),
            "server": s.server,
            "user": s.user,
        }
        if s.domain:
            row["domain"] = s.domain
        row.update(
            {
                "address": s.ip,
                "mac-address": s.mac,
                "login-by": s.login_by,
                "uptime": format_duration(s.uptime),
            }
        )
        lefts = [v - s.uptime for v in (s.uptime_left, s.session_timeout) if v is not None]
        if lefts:
            row["session-time-left"] = format_duration(max(0.0, min(lefts)))
        row["idle-time"] = format_duration(s.idle)
        if s.idle_timeout is not None:
            row["idle-timeout"] = format_duration(s.idle_timeout)
        if s.keepalive_timeout != "none":
            row["keepalive-timeout"] = s.keepalive_timeout
        b_in, b_out = _int(s.bytes_in), _int(s.bytes_out)
        row.update(
            {
                "bytes-in": str(b_in),
                "bytes-out": str(b_out),
                "packets-in": str(b_in // _PACKET),
                "packets-out": str(b_out // _PACKET),
            }
        )
        for name, value in (
            ("limit-bytes-in", s.bytes_in_left),
            ("limit-bytes-out", s.bytes_out_left),
            ("limit-bytes-total", s.bytes_total_left),
        ):
            if value is not None:
                row[name] = str(_int(value))
        row["radius"] = "false"
        row["blocked"] = "false"
        return row

    def _host_row(self, h: Host) -> dict[str, str]:
        session = self.session_by_mac(h.mac)
        b_in = _int(session.bytes_in) if session else 0
        b_out = _int(session.bytes_out) if session else 0
        bypassed = any(
            item.props.get("type") == "bypassed"
            and item.props.get("disabled") != "true"
            and (item.props.get("mac-address") == h.mac or item.props.get("address") == h.ip)
            for item in self.tables["/ip/hotspot/ip-binding"].items.values()
        )
        return {
            ".id": format_id(h.id),
            "mac-address": h.mac,
            "address": h.ip,
            "to-address": h.ip,
            "server": h.server,
            "uptime": format_duration(self.now() - h.since),
            "idle-time": format_duration(session.idle if session else 0.0),
            "idle-timeout": "5m",
            "host-dead-time": "0s",
            "bytes-in": str(b_in),
            "bytes-out": str(b_out),
            "packets-in": str(b_in // _PACKET),
            "packets-out": str(b_out // _PACKET),
            "found-by": f"DHCP {h.ip}",
            "authorized": format_bool(session is not None),
            "bypassed": format_bool(bypassed),
            "DHCP": "true",
            "dynamic": "true",
            "static": "false",
        }

    def _resource_row(self) -> dict[str, str]:
        return {
            "uptime": format_duration(self.now() - self.boot),
            "version": self.version,
            "build-time": "2024-12-03 11:20:45",
            "factory-software": "7.1",
            "free-memory": str(201 * 1024 * 1024 - 4096 * len(self.sessions)),
            "total-memory": str(256 * 1024 * 1024),
            "cpu": "ARMv7",
            "cpu-count": "4",
            "cpu-frequency": "716",
            "cpu-load": str(self.cpu_load),
            "free-hdd-space": str(3 * 1024 * 1024),
            "total-hdd-space": str(16 * 1024 * 1024),
            "write-sect-since-reboot": "312",
            "write-sect-total": "48213",
            "bad-blocks": "0",
            "architecture-name": "arm",
            "board-name": self.board_name,
            "platform": "MikroTik",
        }

    # --- items: resolve, validate -------------------------------------------------------------

    def _resolve(self, menu: Menu, spec: str) -> list[Item]:
        """Items named by `.id`/`numbers`: ids (`*1A`) or, where the menu has names, names."""
        table = self.tables[menu.path]
        found: list[Item] = []
        for token in (part.strip() for part in spec.split(",")):
            if not token:
                continue
            number = parse_id(token)
            item = table.items.get(number) if number is not None else None
            if item is None and menu.name_field is not None:
                item = next((i for i in table.items.values() if i.props.get(menu.name_field) == token), None)
            if item is None:
                raise Trap(NO_SUCH_ITEM)
            found.append(item)
        if not found:
            raise Trap(NO_SUCH_ITEM)
        return found

    def _targets(self, menu: Menu, attrs: dict[str, str]) -> list[Item]:
        spec = attrs.pop(".id", None)
        numbers = attrs.pop("numbers", None)
        if spec is None:
            spec = numbers
        if spec is None:
            raise Trap(NO_SUCH_ITEM)
        return self._resolve(menu, spec)

    def _clean(self, menu: Menu, attrs: Mapping[str, str]) -> dict[str, str]:
        """Check names and normalise values of add/set arguments."""
        clean: dict[str, str] = {}
        writable = menu.writable
        for name, value in attrs.items():
            if name not in writable:
                raise Trap(f"unknown parameter {name}")
            try:
                clean[name] = normalize(menu.fields[name], value)
            except ValueError:
                raise Trap(f"invalid value for argument {name}", 1) from None
        return clean

    def _validate(self, menu: Menu, props: dict[str, str], item: Item | None) -> None:
        """Cross-item rules: references must exist, names must be unique."""
        table = self.tables[menu.path]
        others = [i for i in table.items.values() if item is None or i.id != item.id]
        path = menu.path
        if path == "/ip/hotspot/user":
            if self.find_profile(props.get("profile", "default")) is None:
                raise Trap("input does not match any value of profile", 1)
            server = props.get("server", "all")
            servers = {i.props.get("name") for i in self.tables["/ip/hotspot"].items.values()}
            if server != "all" and server not in servers:
                raise Trap("input does not match any value of server", 1)
            for other in others:
                same_server = server == "all" or other.props.get("server", "all") in ("all", server)
                if other.props.get("name") == props.get("name") and same_server:
                    raise Trap("failure: already have user with this name for this server")
            return
        if path == "/ip/hotspot/user/profile" and props.get("rate-limit"):
            try:
                parse_rate_limit(props["rate-limit"])
            except ValueError:
                raise Trap("invalid value for argument rate-limit", 1) from None
        if path == "/ip/hotspot":
            names = {i.props.get("name") for i in self.tables["/ip/hotspot/profile"].items.values()}
            if props.get("profile", "default") not in names:
                raise Trap("input does not match any value of profile", 1)
            interfaces = {i.props.get("name") for i in self.tables["/interface"].items.values()}
            if props.get("interface") not in interfaces:
                raise Trap("input does not match any value of interface", 1)
        key = menu.name_field
        if key is not None and key in props and any(o.props.get(key) == props[key] for o in others):
            raise Trap("failure: already have such name")

    # --- generic verbs ------------------------------------------------------------------------

    def _do_add(self, menu: Menu, attrs: dict[str, str]) -> Result:
        clean = self._clean(menu, attrs)
        for name in menu.mandatory:
            if name not in clean:
                raise Trap(f"missing value(s) of argument(s) {name}", 1)
        table = self.tables[menu.path]
        if menu.path == "/queue/simple" and "name" not in clean:
            clean["name"] = f"queue{table.next_id}"
        if menu.name_field == "name" and not clean.get("name"):
            raise Trap("missing value(s) of argument(s) name", 1)
        props = self._defaults(menu, clean)
        self._validate(menu, props, None)
        item = table.add(props)
        return Result(done={"ret": format_id(item.id)})

    def _do_set(self, menu: Menu, attrs: dict[str, str]) -> Result:
        if menu.singleton:
            clean = self._clean(menu, attrs)
            if "name" in clean:
                self.identity = clean["name"]
            return Result()
        items = self._targets(menu, attrs)
        clean = self._clean(menu, attrs)
        for name in menu.mandatory:
            if name in clean and not clean[name]:
                raise Trap(f"missing value(s) of argument(s) {name}", 1)
        for item in items:
            self._validate(menu, {**item.props, **clean}, item)
        for item in items:
            self._rename_references(menu, item, clean)
            item.props.update(clean)
        return Result()

    def _rename_references(self, menu: Menu, item: Item, clean: Mapping[str, str]) -> None:
        """References are by id on a router, so renaming a profile renames it where it is used."""
        old, new = item.props.get("name"), clean.get("name")
        if new is None or old == new:
            return
        referring = {"/ip/hotspot/user/profile": "/ip/hotspot/user", "/ip/hotspot/profile": "/ip/hotspot"}
        if menu.path in referring:
            for other in self.tables[referring[menu.path]].items.values():
                if other.props.get("profile") == old:
                    other.props["profile"] = new

    def _do_remove(self, menu: Menu, attrs: dict[str, str]) -> Result:
        if menu.path == "/ip/hotspot/active":
            for session in self._live_targets(attrs, self.sessions):
                self.end_session(session, "admin reset")
            return Result()
        if menu.path == "/ip/hotspot/host":
            for host in self._live_targets(attrs, self.hosts):
                self._drop_host(host, "host removed")
            return Result()
        items = self._targets(menu, attrs)
        self._no_extra(attrs)
        for item in items:
            if item.default:
                raise Trap("failure: default item can not be removed")
            if item.dynamic:
                raise Trap("failure: dynamic item can not be removed")
        table = self.tables[menu.path]
        for item in items:
            del table.items[item.id]
            if menu.path == "/ip/hotspot/user":
                self.counters.pop(item.id, None)
        return Result()

    @staticmethod
    def _no_extra(attrs: Mapping[str, str]) -> None:
        for name in attrs:
            raise Trap(f"unknown parameter {name}")

    def _live_targets(self, attrs: dict[str, str], pool: Mapping[int, _T]) -> list[_T]:
        spec = attrs.pop(".id", None) or attrs.pop("numbers", None)
        self._no_extra(attrs)
        if not spec:
            raise Trap(NO_SUCH_ITEM)
        found: list[_T] = []
        for token in (part.strip() for part in spec.split(",")):
            number = parse_id(token)
            if number is None or number not in pool:
                raise Trap(NO_SUCH_ITEM)
            found.append(pool[number])
        return found

    def _do_enable(self, menu: Menu, attrs: dict[str, str]) -> Result:
        return self._set_flag(menu, attrs, "false")

    def _do_disable(self, menu: Menu, attrs: dict[str, str]) -> Result:
        return self._set_flag(menu, attrs, "true")

    def _set_flag(self, menu: Menu, attrs: dict[str, str], disabled: str) -> Result:
        items = self._targets(menu, attrs)
        self._no_extra(attrs)
        for item in items:
            item.props["disabled"] = disabled
        return Result()

    def _do_comment(self, menu: Menu, attrs: dict[str, str]) -> Result:
        items = self._targets(menu, attrs)
        comment = attrs.pop("comment", "")
        self._no_extra(attrs)
        for item in items:
            item.props["comment"] = comment
        return Result()

    def _do_unset(self, menu: Menu, attrs: dict[str, str]) -> Result:
        items = self._targets(menu, attrs)
        names = [n.strip() for n in attrs.pop("value-name", "").split(",") if n.strip()]
        self._no_extra(attrs)
        if not names:
            raise Trap("missing value(s) of argument(s) value-name", 1)
        for name in names:
            if name not in menu.writable or name in menu.mandatory or name == menu.name_field:
                raise Trap(f"unknown parameter {name}")
        for item in items:
            for name in names:
                default = menu.fields[name].default
                if default is None:
                    item.props.pop(name, None)
                else:
                    item.props[name] = default
        return Result()

    def _do_reset_counters(self, menu: Menu, attrs: dict[str, str]) -> Result:
        items = self._targets(menu, attrs)
        self._no_extra(attrs)
        if menu.path == "/ip/hotspot/user":
            for item in items:
                self.counters.pop(item.id, None)
        return Result()

    def _do_reset_html(self, menu: Menu, attrs: dict[str, str]) -> Result:
        self._targets(menu, attrs)
        self._no_extra(attrs)
        return Result()

    def _do_make_binding(self, menu: Menu, attrs: dict[str, str]) -> Result:
        kind = attrs.pop("type", "regular")
        comment = attrs.pop("comment", None)
        hosts = self._live_targets(attrs, self.hosts)
        if kind not in ("regular", "bypassed", "blocked"):
            raise Trap("invalid value for argument type", 1)
        binding_menu = MENUS["/ip/hotspot/ip-binding"]
        for host in hosts:
            given = {"mac-address": host.mac, "address": host.ip, "type": kind}
            if comment is not None:
                given["comment"] = comment
            self.tables[binding_menu.path].add(self._defaults(binding_menu, given))
        return Result()

    # --- /ip/hotspot/active/login -------------------------------------------------------------

    def _do_login(self, menu: Menu, attrs: dict[str, str]) -> Result:
        """Log a known host in as a user, with the checks a login page login goes through."""
        allowed = {"user", "password", "mac-address", "ip", "domain"}
        for arg in attrs:
            if arg not in allowed:
                raise Trap(f"unknown parameter {arg}")
        if not self.allows("hotspot"):
            raise Trap(NOT_ALLOWED)
        name = attrs.get("user")
        if not name:
            raise Trap("missing value(s) of argument(s) user", 1)
        host = self._login_host(attrs.get("mac-address"), attrs.get("ip"))
        if self.session_by_mac(host.mac) is not None:
            raise Trap(f"host {host.mac} is already logged in")
        user = self.find_user(name)
        password = attrs.get("password", "")
        if (
            user is None
            or user.props.get("password", "") != password
            or user.props.get("disabled") == "true"
            or user.props.get("server", "all") not in ("all", host.server)
        ):
            raise Trap("invalid username or password")
        bound = user.props.get("mac-address")
        if bound and bound != "00:00:00:00:00:00" and bound != host.mac:
            raise Trap(f"user {name} is not allowed to log in from this MAC address")
        counters = self.counters.get(user.id, Counters())
        props = user.props
        uptime_limit = parse_duration(props["limit-uptime"]) if props.get("limit-uptime") else 0.0
        if uptime_limit > 0 and counters.uptime >= uptime_limit - _EPS:
            raise Trap(f"user {name} has reached uptime limit")
        lefts = self._byte_lefts(props, counters)
        if any(left is not None and left <= _EPS for left in lefts):
            raise Trap(f"user {name} has reached traffic limit")
        profile = self.find_profile(props.get("profile", "default"))
        profile_props = profile.props if profile is not None else {}
        shared = profile_props.get("shared-users", "1")
        in_use = sum(1 for s in self.sessions.values() if s.user_id == user.id)
        if shared != "unlimited" and in_use >= int(shared):
            raise Trap(f"no more sessions are allowed for user {name}")
        session = Session(
            id=self._next_session,
            user_id=user.id,
            user=name,
            server=host.server,
            mac=host.mac,
            ip=host.ip,
            domain=attrs.get("domain", ""),
            login_by=self.login_by,
            session_timeout=self._timeout(profile_props.get("session-timeout")),
            idle_timeout=self._timeout(profile_props.get("idle-timeout")),
            keepalive_timeout=profile_props.get("keepalive-timeout", "none"),
            uptime_left=uptime_limit - counters.uptime if uptime_limit > 0 else None,
            bytes_in_left=lefts[0],
            bytes_out_left=lefts[1],
            bytes_total_left=lefts[2],
        )
        self._next_session += 1
        self.sessions[session.id] = session
        rate = parse_rate_limit(profile_props.get("rate-limit", ""))
        if rate is not None:
            session.queue_id = self._add_dynamic_queue(name, host.ip, rate)
        return Result()

    def _login_host(self, mac: str | None, ip: str | None) -> Host:
        if mac:
            try:
                mac = parse_mac(mac)
            except ValueError:
                raise Trap("invalid value for argument mac-address", 1) from None
            host = self.host_by_mac(mac)
            if host is not None and (not ip or host.ip == ip):
                return host
        elif ip:
            host = next((h for h in self.hosts.values() if h.ip == ip), None)
            if host is not None:
                return host
        else:
            raise Trap("missing value(s) of argument(s) ip", 1)
        raise Trap(f"host {ip or mac} not found")

    @staticmethod
    def _byte_lefts(props: Mapping[str, str], counters: Counters) -> tuple[float | None, ...]:
        used = (counters.bytes_in, counters.bytes_out, counters.bytes_in + counters.bytes_out)
        lefts: list[float | None] = []
        for name, spent in zip(("limit-bytes-in", "limit-bytes-out", "limit-bytes-total"), used, strict=True):
            limit = int(props.get(name, "0") or 0)
            lefts.append(limit - spent if limit > 0 else None)
        return tuple(lefts)

    @staticmethod
    def _timeout(value: str | None) -> float | None:
        if not value or value == "none":
            return None
        seconds = parse_duration(value)
        return seconds if seconds > 0 else None

    def _add_dynamic_queue(self, user: str, ip: str, rate: tuple[int, int]) -> int:
        """The per-user queue a profile rate-limit creates: `<hotspot-USER>`, max-limit up/down."""
        table = self.tables["/queue/simple"]
        taken = {item.props.get("name") for item in table.items.values()}
        name, suffix = f"<hotspot-{user}>", 2
        while name in taken:
            name, suffix = f"<hotspot-{user}-{suffix}>", suffix + 1
        menu = MENUS["/queue/simple"]
        props = self._defaults(
            menu,
            {
                "name": name,
                "target": f"{ip}/32",
                "queue": "hotspot-default/hotspot-default",
                "max-limit": f"{rate[0]}/{rate[1]}",
            },
        )
        return table.add(props, dynamic=True).id

    # --- direct access for tests --------------------------------------------------------------

    def set_device_mode(self, mode: str | None = None, features: dict[str, bool] | None = None) -> None:
        """Change device-mode as if confirmed on the router: a real change restarts it, ending sessions."""
        if self.device_mode is None:
            raise ValueError(f"RouterOS {self.version} has no device-mode (it came with 7.17)")
        self.sync()
        before = self.device_mode.row()
        self.device_mode.update(mode, features)
        if self.device_mode.row() != before:
            for session in list(self.sessions.values()):
                self.end_session(session, "reboot")

    def set_demand(self, mac: str, down_bps: int, up_bps: int) -> None:
        self.sync()
        self.demand[parse_mac(mac)] = (down_bps, up_bps)
