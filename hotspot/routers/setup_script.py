"""The RouterOS script (.rsc) an owner pastes into a MikroTik to connect it to this box.

Why a script: enabling the API, a least-privilege API user, the walled garden for the box and
the login page by hand is where most hotspot installs go wrong (peers ship a login template and
a wiki page). The script is idempotent (re-running it updates instead of duplicating), limits
the API to the box's address, and keeps `http-chap` and `http-pap` in `login-by` so the portal
can log devices in even when the API is unreachable. RouterOS v6.43+ and v7 syntax.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from hotspot import __version__
from hotspot.http.assets import web_dir

__all__ = [
    "PORTAL_PLACEHOLDER",
    "RouterScript",
    "SetupScriptError",
    "login_page",
    "setup_script",
]

# The address web/router/login.html posts to as shipped; replaced with the box's portal URL.
PORTAL_PLACEHOLDER = "http://10.5.50.2:8000/portal"
API_GROUP = "hotspot-api"
COMMENT = "hotspot appliance"
# Only what managing hotspot users, sessions and queues needs: no ssh/winbox/ftp/reboot/policy.
API_POLICY = "read,write,api,test"
_SAFE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class SetupScriptError(ValueError):
    """The script cannot be made from these values (the message names the value)."""


@dataclass(frozen=True)
class RouterScript:
    """What the owner chose: the box's address as the router sees it and the API account."""

    box_url: str  # how phones and the router reach this box, e.g. http://10.5.50.2:8000
    api_username: str = "hotspot"
    api_password: str = ""
    api_port: int = 8728
    tls: bool = False  # api-ssl (8729) instead of the plain API

    def box_host(self) -> str:
        parts = urlsplit(self.box_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SetupScriptError(f"box_url must be http(s)://address[:port], not {self.box_url!r}")
        return parts.hostname

    def box_ip(self) -> str:
        """The box as an IPv4 address: RouterOS address limits and the walled garden need one."""
        host = self.box_host()
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise SetupScriptError(
                f"box_url needs the box's IP address (router address limits take no names), not {host!r}"
            ) from None
        if address.version != 4:
            raise SetupScriptError(f"box_url needs an IPv4 address, not {host!r}")
        return str(address)

    def portal_url(self) -> str:
        return self.box_url.rstrip("/") + "/portal"


def _quote(value: str) -> str:
    """A RouterOS string literal: backslash, quote and $ (variable expansion) escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def setup_script(spec: RouterScript, *, generated_at: datetime | None = None) -> str:
    """The .rsc text. The API password is in it: serve it only to an authenticated owner."""
    box = spec.box_ip()
    if not _SAFE.match(spec.api_username):
        raise SetupScriptError("api_username may use letters, digits, '_', '.' and '-' (1-64)")
    if len(spec.api_password) < 12:
        raise SetupScriptError("api_password must be at least 12 characters")
    if not 1 <= spec.api_port <= 65535:
        raise SetupScriptError("api_port must be 1-65535")
    when = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    service = "api-ssl" if spec.tls else "api"
    user, password = _quote(spec.api_username), _quote(spec.api_password)
    login_url = _quote(spec.box_url.rstrip("/") + "/router/login.html")
    lines = [
        f"# Hotspot {__version__}: connect this MikroTik to the hotspot box at {box}",
        f"# Generated {when}. Paste into Winbox > New Terminal, or upload and run: /import hotspot-setup.rsc",
        "# Safe to run again: it updates what it made before instead of adding copies.",
        "",
        "# 1. An API account that can manage hotspot users and nothing else, usable only from the box",
        f":if ([:len [/user group find name={API_GROUP}]] = 0) do={{ /user group add name={API_GROUP}"
        f' policy={API_POLICY} comment="{COMMENT}" }} else={{ /user group set [find name={API_GROUP}]'
        f" policy={API_POLICY} }}",
        f":if ([:len [/user find name={user}]] = 0) do={{ /user add name={user} password={password}"
        f' group={API_GROUP} address={box}/32 comment="{COMMENT}" }} else={{ /user set [find name={user}]'
        f" password={password} group={API_GROUP} address={box}/32 }}",
        "",
        f"# 2. The RouterOS API ({service}, port {spec.api_port}), reachable from the box only",
        f"/ip service set [find name={service}] disabled=no port={spec.api_port} address={box}/32",
        "",
        "# 3. Phones that have not paid yet may reach the box (all ports, so HTTPS works too)",
        f":if ([:len [/ip hotspot walled-garden ip find dst-address={box} comment={_quote(COMMENT)}]] = 0)"
        f' do={{ /ip hotspot walled-garden ip add dst-address={box} action=accept comment="{COMMENT}" }}',
        "",
        "# 4. Keep http-chap and http-pap: the portal logs devices in with them if the API is down",
        ":foreach p in=[/ip hotspot profile find] do={",
        "  /ip hotspot profile set $p login-by=http-chap,http-pap,cookie",
        "}",
        "",
        "# 5. The login page that sends new phones to the box's portal (into each profile's html directory)",
        ":foreach p in=[/ip hotspot profile find] do={",
        "  :local dir [/ip hotspot profile get $p html-directory]",
        '  :if ([:len $dir] = 0) do={ :set dir "hotspot" }',
        f'  /tool fetch url={login_url} dst-path=($dir . "/login.html")',
        "}",
        "",
        f':log info "hotspot: router connected to the box at {box}"',
        "",
    ]
    return "\n".join(lines)


def login_page(portal_url: str) -> str:
    """web/router/login.html with the box's portal address in place of the shipped one."""
    parts = urlsplit(portal_url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c in portal_url for c in "\"'<> "):
        raise SetupScriptError(f"not a usable portal URL: {portal_url!r}")
    text = (web_dir() / "router" / "login.html").read_text(encoding="utf-8")
    if PORTAL_PLACEHOLDER not in text:
        raise SetupScriptError("web/router/login.html no longer holds the portal placeholder")
    return text.replace(PORTAL_PLACEHOLDER, portal_url)
