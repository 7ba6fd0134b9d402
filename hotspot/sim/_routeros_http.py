"""The simulated router's HotSpot HTTP servlet: login page, `/login`, `/status`, `/logout`.

Enough of the real servlet (research notes, section 3) to test the portal's fallback login end to
end: a browser is sent to `link-login-only` with a username and a CHAP response or plain password,
and the device must show up in `/ip/hotspot/active` as after an API login.

* The device is the `/ip/hotspot/host` whose address is the HTTP client's IP (tests add one for
  127.0.0.1; bind an httpx transport to `local_address="127.0.0.2"` for a second device).
* Every login page view renders the template with RouterOS's `$(var)` language and, when the
  server profile's `login-by` has `http-chap`, a fresh 1-byte chap-id and 16-byte challenge
  (every byte written `\\ooo`, as RouterOS does), remembered for that client IP. Any login
  attempt consumes it, like a page reload does on the router.
* `/login` accepts `password` = hex MD5(id + password + challenge) with `http-chap`, the plain
  password with `http-pap`, then logs in through the same code as `/ip/hotspot/active/login`.
  A failure re-renders the login page with `$(error)` in RouterOS's errors.txt wording.
* A request whose Host is not the servlet's own address, or for an unknown path, is treated as an
  intercepted one: `link-orig` is the URL it asked for. A logged-in device gets the status page
  for everything but `/logout` (which ends its session, cause "user request").

Not modelled: cookies and MAC logins, trial, HTTPS, RADIUS, challenge expiry, the other pages
(`flogin.html`, `rlogin.html`, ...) and `$(if http-status)` setting the response status.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote

from hotspot.http.assets import web_dir
from hotspot.routers.setup_script import PORTAL_PLACEHOLDER
from hotspot.sim._daraja_http import MiniServer
from hotspot.sim._routeros_state import Host, Router, Session
from hotspot.sim._routeros_values import Trap, format_duration

__all__ = [
    "CHAP_MISSING",
    "LOGIN_METHODS",
    "PORTAL_URL_PLACEHOLDER",
    "HotspotServlet",
    "octal_escape",
    "render_template",
]

# What web/router/login.html posts to until the owner (or the box's setup script) puts in the real one.
PORTAL_URL_PLACEHOLDER = PORTAL_PLACEHOLDER
LOGIN_METHODS = frozenset({"mac", "cookie", "http-chap", "https", "http-pap", "trial", "mac-cookie"})
# errors.txt wording (RouterOS 6/7).
INVALID = "invalid username or password"
CHAP_MISSING = "web browser did not send challenge response (try again, enable JavaScript)"
_SERVLET_PATHS = frozenset({"/", "/login", "/status", "/logout"})
_TOKEN = re.compile(r"\$\(([^()]*)\)")
_CONDITION = re.compile(r"^([\w.-]+)\s*(?:(==|!=)\s*(.*))?$")


def octal_escape(data: bytes) -> str:
    """Bytes as RouterOS renders `$(chap-id)`/`$(chap-challenge)`: `\\ooo` for every byte."""
    return "".join(f"\\{byte:03o}" for byte in data)


# --- the $(var) template language ---------------------------------------------------------------


@dataclass
class _Branch:
    condition: str | None  # None: $(else)
    body: list[_Node] = field(default_factory=list)


@dataclass
class _If:
    branches: list[_Branch]


@dataclass
class _Var:
    name: str


_Node = str | _Var | _If


def _parse(template: str) -> list[_Node]:
    root: list[_Node] = []
    stack: list[tuple[_If, list[_Node]]] = []  # open ifs and the body they were opened in
    body = root
    pos = 0
    for match in _TOKEN.finditer(template):
        if match.start() > pos:
            body.append(template[pos : match.start()])
        pos = match.end()
        word, _, rest = match.group(1).strip().partition(" ")
        rest = rest.strip()
        if word == "if":
            node = _If([_Branch(rest)])
            body.append(node)
            stack.append((node, body))
            body = node.branches[0].body
        elif word in ("elif", "else"):
            if not stack:
                raise ValueError(f"$({word}) without $(if) at offset {match.start()}")
            current = stack[-1][0]
            if current.branches[-1].condition is None:
                raise ValueError(f"$({word}) after $(else) at offset {match.start()}")
            branch = _Branch(rest if word == "elif" else None)
            current.branches.append(branch)
            body = branch.body
        elif word == "endif":
            if not stack:
                raise ValueError(f"$(endif) without $(if) at offset {match.start()}")
            body = stack.pop()[1]
        else:
            body.append(_Var(match.group(1).strip()))
    if stack:
        raise ValueError("$(if) without $(endif)")
    if pos < len(template):
        body.append(template[pos:])
    return root


def _holds(condition: str, lookup: Callable[[str], str]) -> bool:
    match = _CONDITION.match(condition)
    if match is None:
        raise ValueError(f"bad condition $(if {condition})")
    name, operator, operand = match.groups()
    value = lookup(name)
    if operator is None:
        return value != ""
    operand = operand.strip()
    if len(operand) >= 2 and operand[0] == operand[-1] == '"':
        operand = operand[1:-1]
    return (value == operand) == (operator == "==")


def _emit(nodes: Iterable[_Node], lookup: Callable[[str], str], out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, _Var):
            out.append(lookup(node.name))
        else:
            for branch in node.branches:
                if branch.condition is None or _holds(branch.condition, lookup):
                    _emit(branch.body, lookup, out)
                    break


def render_template(
    template: str, variables: Mapping[str, str], headers: Mapping[str, str] | None = None
) -> str:
    """Render RouterOS's page language: `$(name)`, `$(name-esc)` (URL-escaped), and
    `$(if name)`, `$(if name == value)` / `!= value` (value may be "quoted"), `$(elif ...)`,
    `$(else)`, `$(endif)`, nestable. Unknown names fall back to the request header of that name
    (`$(user-agent)`), else render empty, as on the router. Raises ValueError on unbalanced ifs.
    """

    def lookup(name: str) -> str:
        if name in variables:
            return variables[name]
        if name.endswith("-esc") and name[:-4] in variables:
            return quote(variables[name[:-4]], safe="")
        return (headers or {}).get(name.lower(), "")

    out: list[str] = []
    _emit(_parse(template), lookup, out)
    return "".join(out)


# --- the servlet ----------------------------------------------------------------------------------


@dataclass
class _Request:
    method: str
    path: str
    target: str
    params: dict[str, str]
    headers: dict[str, str]
    client_ip: str


@dataclass
class _Reply:
    status: int
    body: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title></head>\n<body>{body}</body></html>\n"
    )


def _verify_chap(response: str, password: str, challenge: tuple[bytes, bytes]) -> bool:
    """The router's side of HTTP-CHAP, written independently of hotspot.portal.chap on purpose.

    The router knows the stored password's bytes (as the API delivered them: UTF-8).
    """
    ident, nonce = challenge
    expected = hashlib.md5(ident + password.encode() + nonce, usedforsecurity=False).hexdigest()
    return hmac.compare_digest(response.strip().lower().encode(), expected.encode())


class HotspotServlet:
    """The login servlet of a simulated router (`RouterOSSimulator.http`)."""

    def __init__(self, router: Router) -> None:
        self.router = router
        # The page `/` and `/login` render; None reads web/router/login.html from disk each time.
        self.login_page: str | None = None
        # Put in place of PORTAL_URL_PLACEHOLDER in the login page, as the installer does.
        self.portal_url: str | None = None
        # client IP -> (chap-id, chap-challenge) issued with the last login page it was shown.
        self.challenges: dict[str, tuple[bytes, bytes]] = {}
        self._server: MiniServer | None = None

    # --- lifecycle --------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._server is not None:
            raise RuntimeError("hotspot HTTP servlet already started")
        server = MiniServer(self.app)
        await server.start(host, port)
        self._server = server

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.stop()

    @property
    def url(self) -> str:
        """e.g. http://127.0.0.1:40123 (while serving)."""
        if self._server is None:
            raise RuntimeError("hotspot HTTP servlet not started (await sim.start_http())")
        return f"http://{self._server.host}:{self._server.port}"

    # --- login-by (the server profile's, as the router reads it per login) -----------------------

    def _server_profile(self, server: str) -> dict[str, str] | None:
        tables = self.router.tables
        hotspot = next(
            (i for i in tables["/ip/hotspot"].items.values() if i.props.get("name") == server), None
        )
        name = hotspot.props.get("profile", "default") if hotspot is not None else "default"
        profiles = tables["/ip/hotspot/profile"].items.values()
        return next((p.props for p in profiles if p.props.get("name") == name), None)

    def login_methods(self, server: str = "hotspot1") -> set[str]:
        profile = self._server_profile(server)
        value = profile.get("login-by", "") if profile is not None else "http-chap,cookie"
        return {method.strip() for method in value.split(",") if method.strip()}

    def set_login_methods(self, methods: Iterable[str] | str) -> None:
        """Set `login-by` on every server profile (as `/ip/hotspot/profile/set` would)."""
        chosen = {m.strip() for m in methods.split(",")} if isinstance(methods, str) else set(methods)
        chosen.discard("")
        unknown = chosen - LOGIN_METHODS
        if unknown:
            raise ValueError(f"unknown login-by method(s) {sorted(unknown)}; known: {sorted(LOGIN_METHODS)}")
        value = ",".join(sorted(chosen))
        for item in self.router.tables["/ip/hotspot/profile"].items.values():
            item.props["login-by"] = value

    # --- ASGI ---------------------------------------------------------------------------------------

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = scope["query_string"].decode("latin-1")
        params = dict(parse_qsl(query, keep_blank_values=True))
        if scope["method"] == "POST" and "form-urlencoded" in headers.get("content-type", ""):
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        target = scope["raw_path"].decode("latin-1") + (f"?{query}" if query else "")
        request = _Request(scope["method"], scope["path"], target, params, headers, scope["client"][0])
        reply = self.handle(request)
        raw_headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            *((name.encode(), value.encode("latin-1")) for name, value in reply.headers),
        ]
        await send({"type": "http.response.start", "status": reply.status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": reply.body.encode()})

    def handle(self, request: _Request) -> _Reply:
        host = next((h for h in self.router.hosts.values() if h.ip == request.client_ip), None)
        if host is None:
            message = f"unknown host {request.client_ip}: no /ip/hotspot/host has this address"
            return _Reply(403, _page("error", f"<p>{html.escape(message)}</p>"))
        self.router.sync()
        session = self.router.session_by_mac(host.mac)
        path = request.path if request.path in _SERVLET_PATHS and self._is_own(request) else ""
        if path == "/logout":
            if session is None:
                return self._login_page(request, host, error=f"you are not logged in (ip {host.ip})")
            self.router.end_session(session, "user request")
            return _Reply(
                200, _page("logout", f"<p>You have just logged out, {html.escape(session.user)}.</p>")
            )
        if session is not None:  # already logged in: every page, /login too, shows the status
            return self._status(session)
        if path == "/login" and "username" in request.params:
            return self._login(request, host)
        if path == "/status":
            return self._login_page(request, host, error=f"you are not logged in (ip {host.ip})")
        return self._login_page(request, host)

    def _is_own(self, request: _Request) -> bool:
        if self._server is None:
            return True
        own = {f"{self._server.host}:{self._server.port}"}
        if self._server.port == 80:
            own.add(self._server.host)
        return request.headers.get("host", "") in own

    # --- pages --------------------------------------------------------------------------------------

    def _template(self) -> str:
        if self.login_page is not None:
            page = self.login_page
        else:
            path = web_dir() / "router" / "login.html"
            if not path.is_file():
                raise RuntimeError(
                    f"{path} is missing (installed without web/router?); set sim.http.login_page"
                )
            page = path.read_text(encoding="utf-8")
        if self.portal_url is not None:
            page = page.replace(PORTAL_URL_PLACEHOLDER, self.portal_url)
        return page

    def _login_page(self, request: _Request, host: Host, *, error: str = "") -> _Reply:
        methods = self.login_methods(host.server)
        chap_id = chap_challenge = ""
        if "http-chap" in methods:
            issued = (os.urandom(1), os.urandom(16))
            self.challenges[request.client_ip] = issued
            chap_id, chap_challenge = octal_escape(issued[0]), octal_escape(issued[1])
        else:
            self.challenges.pop(request.client_ip, None)
        base = self.url if self._server is not None else "http://10.5.50.1"
        if self._is_own(request) and request.path in _SERVLET_PATHS:
            link_orig = request.params.get("dst", "")
        else:
            link_orig = f"http://{request.headers.get('host', '')}{request.target}"
        link_login_only = f"{base}/login"
        profile = self._server_profile(host.server) or {}
        hotspot = next(
            (
                i.props
                for i in self.router.tables["/ip/hotspot"].items.values()
                if i.props.get("name") == host.server
            ),
            {},
        )
        variables = {
            "identity": self.router.identity,
            "server-name": host.server,
            "hostname": profile.get("dns-name") or base.split("//", 1)[1],
            "server-address": base.split("//", 1)[1],
            "interface-name": hotspot.get("interface", ""),
            "login-by": ",".join(sorted(methods)),
            "plain-passwd": "yes" if "http-pap" in methods else "no",
            "ssl-login": "no",
            "mac": host.mac,
            "ip": host.ip,
            "username": request.params.get("username", ""),
            "logged-in": "no",
            "trial": "no",
            "link-login-only": link_login_only,
            "link-login": f"{link_login_only}?dst={quote(link_orig, safe='')}"
            if link_orig
            else link_login_only,
            "link-logout": f"{base}/logout",
            "link-status": f"{base}/status",
            "link-orig": link_orig,
            "link-redirect": link_orig,
            "error": error,
            "error-orig": error,
            "chap-id": chap_id,
            "chap-challenge": chap_challenge,
            "popup": "true",
        }
        return _Reply(200, render_template(self._template(), variables, request.headers))

    def _status(self, session: Session) -> _Reply:
        rows = (
            ("user", session.user),
            ("IP address", session.ip),
            ("MAC address", session.mac),
            ("uptime", format_duration(session.uptime)),
            ("bytes up/down", f"{int(session.bytes_in)}/{int(session.bytes_out)}"),
        )
        cells = "".join(f"<tr><td>{name}</td><td>{html.escape(value)}</td></tr>" for name, value in rows)
        return _Reply(200, _page("status", f"<p>You are logged in.</p><table>{cells}</table>"))

    # --- /login -------------------------------------------------------------------------------------

    def _login(self, request: _Request, host: Host) -> _Reply:
        username = request.params["username"]
        password = request.params.get("password", "")
        methods = self.login_methods(host.server)
        issued = self.challenges.pop(request.client_ip, None)  # one attempt per page, like the router
        user = self.router.find_user(username)
        stored = user.props.get("password", "") if user is not None else None
        method: str | None = None
        if stored is not None:
            if "http-chap" in methods and issued is not None and _verify_chap(password, stored, issued):
                method = "http-chap"
            elif "http-pap" in methods and hmac.compare_digest(password.encode(), stored.encode()):
                method = "http-pap"
        if method is None:
            chap_only = "http-chap" in methods and "http-pap" not in methods
            error = CHAP_MISSING if chap_only and issued is None else INVALID
            return self._login_page(request, host, error=error)
        try:  # the same checks and session as /ip/hotspot/active/login
            self.router.execute(
                "/ip/hotspot/active/login",
                {"user": username, "password": stored or "", "mac-address": host.mac, "ip": host.ip},
                [],
            )
        except Trap as trap:
            return self._login_page(request, host, error=trap.message)
        session = self.router.session_by_mac(host.mac)
        assert session is not None
        session.login_by = method
        dst = request.params.get("dst", "")
        if dst:
            return _Reply(302, _page("redirect", ""), [("location", dst)])
        message = f"<p>You are logged in as {html.escape(username)}.</p>"
        return _Reply(200, _page("logged in", message))
