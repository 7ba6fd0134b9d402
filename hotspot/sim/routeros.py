"""A RouterOS API simulator: one MikroTik router with a HotSpot, served over TCP (and API-SSL).

Tests and local development talk to it with the real librouteros client, so the wire format,
replies and error texts follow RouterOS 7 (see the research notes, sections 1 and 2): `!re` rows,
`!done` (with `=ret=` for add and count-only), `!trap` carrying only `message`/`category`,
`!fatal <reason>`, `.tag` echoed only when asked for, and `!empty` before `!done` in 7.18+ mode.

    async with RouterOSSimulator(username="admin", password="secret") as sim:
        sim.add_host("AA:BB:CC:DD:EE:01", "10.5.50.23")      # a phone joins the WiFi
        api = await librouteros.async_connect("127.0.0.1", "admin", "secret", port=sim.port)
        ...
        sim.advance(600)                                      # ten minutes of browsing

`await sim.start_http()` also serves the HotSpot login servlet (`sim.http_url`: login page,
`/login` with HTTP-CHAP or PAP per `sim.login_by`, `/status`, `/logout`; see _routeros_http).

Faults (refused/hung connections, traps, dropped or slow replies) are switched on at runtime via
`sim.faults` to exercise a driver's error handling. From version 7.17 on the router also has
`/system/device-mode` (see `device_mode`): in `home` mode, or with `sim.device_mode(hotspot=False)`,
hotspot logins fail with "not allowed by device-mode".
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import hmac
import importlib
import ipaddress
import logging
import os
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType

from hotspot.sim._routeros_device_mode import MODES as DEVICE_MODES
from hotspot.sim._routeros_http import HotspotServlet
from hotspot.sim._routeros_state import Logout, Router
from hotspot.sim._routeros_values import Trap, version_tuple
from hotspot.sim._routeros_wire import FramingError, SentenceDecoder, encode_sentence

__all__ = ["DEVICE_MODES", "Faults", "Logout", "RouterOSSimulator", "Trap", "self_signed_context"]

log = logging.getLogger(__name__)

LOGIN_FAILED = "invalid user name or password (6)"
LEGACY_LOGIN_FAILED = "cannot log in"
_REDACTED = "******"
_SECRET_ATTRS = ("password", "response")


@dataclass
class _Rule:
    message: str = ""
    category: int | None = None
    remaining: int | None = None  # None = every time

    def take(self) -> bool:
        if self.remaining is None:
            return True
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True


class Faults:
    """Ways to make the router misbehave, switched at runtime (command "*" means any command).

    * refuse: accept a connection and close it at once;
    * hang: accept (or keep) a connection and never answer;
    * trap(command, message): the command fails with `!trap` + `!done`, nothing is changed;
    * drop(command): the command runs, then half its reply is sent and the connection closed;
    * slow(seconds, command): wait before answering.
    """

    def __init__(self) -> None:
        self.refuse = False
        self.hang = False
        self._traps: dict[str, _Rule] = {}
        self._drops: dict[str, _Rule] = {}
        self._delays: dict[str, float] = {}

    def trap(
        self, command: str, message: str, *, category: int | None = None, times: int | None = None
    ) -> None:
        self._traps[command] = _Rule(message, category, times)

    def drop(self, command: str = "*", *, times: int | None = None) -> None:
        self._drops[command] = _Rule(remaining=times)

    def slow(self, seconds: float, command: str = "*") -> None:
        self._delays[command] = seconds

    def clear(self) -> None:
        self.refuse = self.hang = False
        self._traps.clear()
        self._drops.clear()
        self._delays.clear()

    def take_trap(self, command: str) -> _Rule | None:
        for key in (command, "*"):
            rule = self._traps.get(key)
            if rule is not None and rule.take():
                return rule
        return None

    def take_drop(self, command: str) -> bool:
        return any((rule := self._drops.get(key)) is not None and rule.take() for key in (command, "*"))

    def delay(self, command: str) -> float:
        return self._delays.get(command, self._delays.get("*", 0.0))


@dataclass
class _Connection:
    """Per-connection API state: login happens per connection."""

    peer: str
    logged_in: bool = False
    challenge: bytes | None = None
    user: str | None = None


@dataclass
class _Request:
    command: str
    attrs: dict[str, str] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)
    tag: str | None = None
    stray: str | None = None


def _parse_request(words: list[str]) -> _Request:
    request = _Request(words[0])
    for word in words[1:]:
        if word.startswith("="):
            name, _, value = word[1:].partition("=")
            request.attrs[name] = value
        elif word.startswith(".tag="):
            request.tag = word[5:]
        elif word.startswith("?"):
            request.queries.append(word)
        elif not word.startswith("."):  # other API attributes are ignored, like the router does
            request.stray = request.stray or word
    return request


def _redact(words: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for word in words:
        for name in _SECRET_ATTRS:
            if word.startswith(f"={name}="):
                word = f"={name}={_REDACTED}"
        out.append(word)
    return tuple(out)


Sentence = list[str]


class RouterOSSimulator:
    """One simulated router: state (see Router) plus the API server in front of it."""

    def __init__(
        self,
        username: str = "admin",
        password: str = "",
        identity: str = "MikroTik",
        *,
        version: str = "7.16.2 (stable)",
        board_name: str = "hAP ac^2",
        clock: Callable[[], float] = time.monotonic,
        empty_replies: bool | None = None,
        legacy_login: bool = False,
        max_log: int = 100_000,
        device_mode: str | None = None,
    ) -> None:
        """`device_mode` (RouterOS 7.17+ only; default enterprise): one of DEVICE_MODES."""
        self.username = username
        self.password = password
        self.router = Router(
            identity=identity, version=version, board_name=board_name, clock=clock, device_mode=device_mode
        )
        self.faults = Faults()
        # RouterOS 7.18 started answering "nothing found" with !empty before !done.
        self.empty_replies = version_tuple(version) >= (7, 18) if empty_replies is None else empty_replies
        self.legacy_login = legacy_login
        # Every sentence received, passwords redacted; trimmed so a long-running `hotspot sim` stays small.
        self.commands: list[tuple[str, ...]] = []
        self.max_log = max_log
        self.host = "127.0.0.1"
        self.port = 0
        self.tls = False
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        # The HotSpot's HTTP login servlet; serves only after start_http().
        self.http = HotspotServlet(self.router)

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """Listen on host:port (0 = any free port, then read `self.port`); tls=True is API-SSL."""
        if self._server is not None:
            raise RuntimeError("simulator already started")
        context = ssl_context
        if tls and context is None:
            context = await asyncio.to_thread(self_signed_context)
        self._server = await asyncio.start_server(self._serve, host, port, ssl=context)
        address = self._server.sockets[0].getsockname()
        self.host, self.port, self.tls = str(address[0]), int(address[1]), context is not None

    async def start_http(
        self, host: str = "127.0.0.1", port: int = 0, *, portal_url: str | None = None
    ) -> str:
        """Serve the HotSpot login servlet on host:port (0 = any free port); returns `http_url`.

        `portal_url` replaces the placeholder in web/router/login.html (see `sim.http`).
        """
        if portal_url is not None:
            self.http.portal_url = portal_url
        await self.http.start(host, port)
        return self.http.url

    @property
    def http_url(self) -> str:
        """The login servlet's base URL, e.g. http://127.0.0.1:40123 (after start_http)."""
        return self.http.url

    @property
    def login_by(self) -> set[str]:
        """The hotspot server profile's `login-by` methods (default {"http-chap", "cookie"})."""
        return self.http.login_methods()

    @login_by.setter
    def login_by(self, methods: Iterable[str] | str) -> None:
        self.http.set_login_methods(methods)

    async def stop(self) -> None:
        """Stop listening and drop every open connection (hung ones included)."""
        await self.http.stop()
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task, writer in list(self._connections.items()):
            writer.transport.abort()
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def __aenter__(self) -> RouterOSSimulator:
        if self._server is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    # --- state for tests ----------------------------------------------------------------------

    @property
    def users(self) -> dict[str, dict[str, str]]:
        """Hotspot users by name, as `/ip/hotspot/user/print` shows them."""
        return {row["name"]: row for row in self.router.rows("/ip/hotspot/user")}

    @property
    def profiles(self) -> dict[str, dict[str, str]]:
        """Hotspot user profiles by name."""
        return {row["name"]: row for row in self.router.rows("/ip/hotspot/user/profile")}

    @property
    def active(self) -> list[dict[str, str]]:
        return self.router.rows("/ip/hotspot/active")

    @property
    def hosts(self) -> list[dict[str, str]]:
        return self.router.rows("/ip/hotspot/host")

    @property
    def queues(self) -> list[dict[str, str]]:
        return self.router.rows("/queue/simple")

    @property
    def logouts(self) -> list[Logout]:
        self.router.sync()
        return list(self.router.logouts)

    @property
    def identity(self) -> str:
        return self.router.identity

    def rows(self, menu: str) -> list[dict[str, str]]:
        """Any menu's rows, e.g. rows("/ip/hotspot/walled-garden")."""
        return self.router.rows(menu)

    def add_host(self, mac: str, ip: str, server: str = "hotspot1") -> str:
        """A phone joins the WiFi and gets `ip`: it appears in /ip/hotspot/host. Returns its id."""
        return f"*{self.router.add_host(mac, ip, server).id:X}"

    def remove_host(self, mac: str) -> None:
        """The phone leaves (DHCP lease gone): its host entry and any session end."""
        self.router.remove_host(mac)

    def device_mode(self, mode: str | None = None, **features: bool) -> dict[str, str]:
        """Change /system/device-mode (7.17+) and return it as printed; no arguments just reads it.

        `mode` applies that mode's preset, then each feature (bandwidth_test= for bandwidth-test)
        is switched on its own: `sim.device_mode(hotspot=False)` makes hotspot logins fail with
        "not allowed by device-mode". On a router the change takes a reboot, so sessions end.
        Raises ValueError before 7.17, or for an unknown mode or feature.
        """
        if mode is not None or features or self.router.device_mode is None:
            changes = {name.replace("_", "-"): value for name, value in features.items()}
            self.router.set_device_mode(mode, changes)
        return self.router.rows("/system/device-mode")[0]

    def set_demand(self, mac: str, down_bps: int, up_bps: int) -> None:
        """How fast the device would like to download/upload (bits/s), before queues cap it."""
        self.router.set_demand(mac, down_bps, up_bps)

    def advance(self, seconds: float) -> None:
        """Let `seconds` of simulated time pass (sessions gain uptime and bytes, limits end them)."""
        self.router.advance(seconds)

    def tick(self) -> None:
        """Bring sessions up to the clock's current time without adding any."""
        self.router.sync()

    def call(self, command: str, **attrs: str) -> list[dict[str, str]]:
        """Run a command directly (no socket): rows, or the `!done` attributes as one row.

        Raises Trap as the API would answer `!trap`. Handy for seeding state in tests.
        """
        result = self.router.execute(command, dict(attrs), [])
        return result.rows or ([result.done] if result.done else [])

    def sent(self, command: str) -> list[dict[str, str]]:
        """The attribute words of every received `command` sentence (passwords redacted)."""
        return [_parse_request(list(words)).attrs for words in self.commands if words[0] == command]

    # --- connections --------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        try:
            if self.faults.refuse:
                return
            await self._converse(reader, writer)
        except (ConnectionError, ssl.SSLError, OSError):
            pass
        except asyncio.CancelledError:
            # stop() ends connections this way. Ending normally rather than cancelled keeps
            # Python 3.11's start_server callback from logging it as an unhandled exception.
            if self._server is not None:
                raise
        finally:
            self._connections.pop(task, None)
            writer.close()
            try:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(writer.wait_closed(), 1.0)
            except asyncio.CancelledError:
                if self._server is not None:  # as above: stop() may cancel while closing
                    raise

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        connection = _Connection(peer=str(peer))
        decoder = SentenceDecoder()
        while True:
            data = await reader.read(65536)
            if not data:
                return
            try:
                sentences = decoder.feed(data)
            except FramingError:
                return  # a reserved control byte: the stream cannot be resynchronised
            for words in sentences:
                self.commands.append(_redact(words))
                if len(self.commands) > self.max_log:
                    del self.commands[: len(self.commands) - self.max_log // 2]
                if self.faults.hang:
                    continue
                if not await self._answer(connection, words, writer):
                    return

    async def _answer(self, connection: _Connection, words: list[str], writer: asyncio.StreamWriter) -> bool:
        """Reply to one sentence; False when the connection must close afterwards."""
        request = _parse_request(words)
        delay = self.faults.delay(request.command)
        if delay > 0:
            await asyncio.sleep(delay)
        sentences, keep_open = self._reply(connection, request)
        if request.tag is not None:
            sentences = [[*sentence, f".tag={request.tag}"] for sentence in sentences]
        data = b"".join(encode_sentence(sentence) for sentence in sentences)
        if self.faults.take_drop(request.command):
            writer.write(data[: max(1, len(data) // 2)])
            await writer.drain()
            return False
        writer.write(data)
        await writer.drain()
        return keep_open

    def _reply(self, connection: _Connection, request: _Request) -> tuple[list[Sentence], bool]:
        command = request.command
        if command == "/quit":
            return [["!fatal", "session terminated on request"]], False
        rule = self.faults.take_trap(command)
        if rule is not None:
            return _trap(rule.message, rule.category), True
        if command == "/login":
            return self._login(connection, request.attrs), True
        if not connection.logged_in:
            return [["!fatal", "not logged in"]], False
        if command == "/cancel":
            return [["!done"]], True  # commands finish before the next is read: nothing to cancel
        try:
            if request.stray is not None:
                raise Trap(f"unknown parameter {request.stray}")
            result = self.router.execute(command, request.attrs, request.queries)
        except Trap as trap:
            return _trap(trap.message, trap.category), True
        except Exception as exc:  # a simulator bug: say so in the reply rather than hang the client
            log.exception("simulator failed on %s", command)
            return _trap(f"failure: simulator error: {exc!r}"), True
        sentences: list[Sentence] = [["!re", *(f"={k}={v}" for k, v in row.items())] for row in result.rows]
        if result.is_print and not result.rows and self.empty_replies:
            sentences.append(["!empty"])
        sentences.append(["!done", *(f"={k}={v}" for k, v in result.done.items())])
        return sentences, True

    def _login(self, connection: _Connection, attrs: dict[str, str]) -> list[Sentence]:
        name, password, response = attrs.get("name"), attrs.get("password"), attrs.get("response")
        if self.legacy_login and password is None:
            if response is None:  # step 1 of the pre-6.43 challenge login
                connection.challenge = os.urandom(16)
                return [["!done", f"=ret={connection.challenge.hex()}"]]
            challenge, connection.challenge = connection.challenge, None
            if challenge is not None and name == self.username:
                digest = hashlib.md5(
                    b"\x00" + self.password.encode() + challenge, usedforsecurity=False
                ).hexdigest()
                if hmac.compare_digest(response, "00" + digest):
                    connection.logged_in, connection.user = True, name
                    return [["!done"]]
            return _trap(LEGACY_LOGIN_FAILED)
        if (
            name is not None
            and password is not None
            and hmac.compare_digest(name.encode(), self.username.encode())
            and hmac.compare_digest(password.encode(), self.password.encode())
        ):
            connection.logged_in, connection.user = True, name
            return [["!done"]]
        return _trap(LOGIN_FAILED)


def _trap(message: str, category: int | None = None) -> list[Sentence]:
    trap = ["!trap", f"=message={message}"]
    if category is not None:
        trap.append(f"=category={category}")
    return [trap, ["!done"]]


# --- API-SSL ----------------------------------------------------------------------------------

_CERT_DIR: tempfile.TemporaryDirectory[str] | None = None


def _write_cert_with_cryptography(cert: Path, key: Path) -> None:
    """Self-signed EC certificate via the `cryptography` package (imported lazily: optional)."""
    x509 = importlib.import_module("cryptography.x509")
    oid = importlib.import_module("cryptography.x509.oid")
    ec = importlib.import_module("cryptography.hazmat.primitives.asymmetric.ec")
    hashes = importlib.import_module("cryptography.hazmat.primitives.hashes")
    serialization = importlib.import_module("cryptography.hazmat.primitives.serialization")
    private_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(oid.NameOID.COMMON_NAME, "routeros-sim")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(private_key, hashes.SHA256())
    )
    key.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def _write_cert_with_openssl(cert: Path, key: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("API-SSL needs the `cryptography` package or the openssl command")
    subprocess.run(  # noqa: S603 - fixed arguments, no shell
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "30",
            "-subj",
            "/CN=routeros-sim",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )


def self_signed_context() -> ssl.SSLContext:
    """A server context with a certificate made on first use (kept for the process's lifetime).

    A router's api-ssl service likewise usually runs on a self-signed certificate, so clients
    connect with check_hostname=False and CERT_NONE.
    """
    global _CERT_DIR
    if _CERT_DIR is None:
        directory = tempfile.TemporaryDirectory(prefix="routeros-sim-")
        atexit.register(directory.cleanup)
        cert, key = Path(directory.name) / "cert.pem", Path(directory.name) / "key.pem"
        try:
            _write_cert_with_cryptography(cert, key)
        except ImportError:
            _write_cert_with_openssl(cert, key)
        _CERT_DIR = directory
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    base = Path(_CERT_DIR.name)
    context.load_cert_chain(base / "cert.pem", base / "key.pem")
    return context
