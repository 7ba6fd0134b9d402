"""AppriseNotifier against real servers: mail reaches an SMTP server, failures raise."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from pydantic import SecretStr

from hotspot.config import load_settings
from hotspot.contracts import Notification, Notifier
from hotspot.plugins import discover, load_plugins, settings_models
from hotspot_apprise import AppriseNotifier, AppriseSettings, NotifierError

FROM = "from=hotspot@example.com"

# --- real servers ----------------------------------------------------------------------


def free_port() -> int:
    """A port nothing listens on right now (bound, read, released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Mail:
    """One message as the SMTP server received it."""

    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain", "html"))
        assert part is not None
        return str(part.get_content()).replace("\r\n", "\n")  # SMTP carries CRLF line ends


@dataclass
class Inbox:
    """The aiosmtpd handler: keeps every message it accepts."""

    port: int = 0
    mails: list[Mail] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.mails.append(Mail(list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def url(self, *, to: str | None = "owner@example.com") -> str:
        """An apprise mailto:// URL for this server: plain SMTP, no TLS, no login."""
        query = "from=hotspot@example.com" + (f"&to={to}" if to else "")
        return f"mailto://127.0.0.1:{self.port}?{query}"


@pytest.fixture
def smtp_server() -> Iterator[Inbox]:
    """A real SMTP server on 127.0.0.1 (aiosmtpd, no auth, no TLS) that collects messages."""
    inbox = Inbox(port=free_port())
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def closed_port() -> int:
    """A port with no listener: connections are refused at once."""
    return free_port()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections (kernel backlog) but never says a word: a hung server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


@dataclass
class WebhookSink:
    port: int
    posts: list[dict[str, Any]]


@pytest.fixture
def webhook_sink() -> Iterator[WebhookSink]:
    """A real HTTP server that records the JSON bodies posted to it (apprise's json:// target)."""
    posts: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            posts.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield WebhookSink(server.server_address[1], posts)
    finally:
        server.shutdown()
        server.server_close()


# --- tests --------------------------------------------------------------------------------


def notifier(*owner_urls: str, **options: object) -> AppriseNotifier:
    config = AppriseSettings.model_validate({"enabled": True, "owner_urls": list(owner_urls), **options})
    return AppriseNotifier(config)


async def test_owner_alert_arrives_by_email(smtp_server: Inbox) -> None:
    apprise = notifier(smtp_server.url(), title_prefix="[Hotspot] ")
    assert isinstance(apprise, Notifier) and apprise.id == "apprise"

    await apprise.send(
        Notification(subject="Router down", body="Router A is down.\nSince 10:02.", severity="critical")
    )

    [mail] = smtp_server.mails
    assert mail.rcpt_tos == ["owner@example.com"]
    assert mail.subject == "[Hotspot] Router down"
    assert mail.message["From"] == "hotspot@example.com"
    assert mail.text.strip() == "Router A is down.\nSince 10:02."


async def test_plain_text_body_is_sent_as_is(smtp_server: Inbox) -> None:
    await notifier(smtp_server.url()).send(Notification(subject="Tags", body="<b>1 < 2</b> & more"))
    [mail] = smtp_server.mails
    assert mail.message.get_content_type() == "text/plain"
    assert mail.text.strip() == "<b>1 < 2</b> & more"


async def test_every_owner_url_receives_the_alert(smtp_server: Inbox) -> None:
    urls = (smtp_server.url(to="owner@example.com"), smtp_server.url(to="partner@example.com"))
    await notifier(*urls).send(Notification(subject="Daily sales", body="KES 1,200"))
    assert sorted(rcpt for mail in smtp_server.mails for rcpt in mail.rcpt_tos) == [
        "owner@example.com",
        "partner@example.com",
    ]


async def test_customer_targets_are_appended_to_the_template(smtp_server: Inbox) -> None:
    apprise = notifier(smtp_server.url(), customer_sms_url=smtp_server.url(to=None))
    await apprise.send(
        Notification(subject="Your code", body="Voucher 4821", to=("c1@example.com", "c2@example.com"))
    )
    assert sorted(rcpt for mail in smtp_server.mails for rcpt in mail.rcpt_tos) == [
        "c1@example.com",
        "c2@example.com",
    ]
    assert all(mail.text.strip() == "Voucher 4821" for mail in smtp_server.mails)


async def test_customer_message_without_template_raises(smtp_server: Inbox) -> None:
    with pytest.raises(NotifierError, match="customer_sms_url is not configured"):
        await notifier(smtp_server.url()).send(Notification(subject="x", body="y", to=("+254712345678",)))
    assert smtp_server.mails == []


async def test_empty_customer_target_raises(smtp_server: Inbox) -> None:
    apprise = notifier(smtp_server.url(), customer_sms_url=smtp_server.url(to=None))
    with pytest.raises(NotifierError, match="empty recipient"):
        await apprise.send(Notification(subject="x", body="y", to=("c1@example.com", " ")))
    assert smtp_server.mails == []


async def test_refused_connection_raises_without_leaking_the_url(
    closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = "hunter2-smtp-password"
    apprise = notifier(f"mailto://user:{password}@127.0.0.1:{closed_port}?{FROM}")
    with pytest.raises(NotifierError, match=r"not delivered .*E-Mail: failure") as exc:
        await apprise.send(Notification(subject="x", body="y"))
    assert password not in str(exc.value) and str(closed_port) not in str(exc.value)
    assert password not in caplog.text


async def test_one_failed_service_fails_the_send(smtp_server: Inbox, closed_port: int) -> None:
    """The core must hear about a broken channel even when another one delivered."""
    apprise = notifier(smtp_server.url(), f"mailto://127.0.0.1:{closed_port}?{FROM}")
    with pytest.raises(NotifierError, match=r"\(partial\): 1 of 2"):
        await apprise.send(Notification(subject="Both", body="y"))
    assert [mail.subject for mail in smtp_server.mails] == ["Both"]


async def test_hung_server_times_out(silent_server: int) -> None:
    apprise = notifier(f"mailto://127.0.0.1:{silent_server}?{FROM}", timeout_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(NotifierError, match="not delivered"):
        await apprise.send(Notification(subject="x", body="y"))
    assert time.monotonic() - started < 3


async def test_severity_maps_to_apprise_notify_type(webhook_sink: WebhookSink) -> None:
    apprise = notifier(f"json://127.0.0.1:{webhook_sink.port}/")
    for severity in ("info", "warning", "critical"):
        await apprise.send(Notification(subject=f"s-{severity}", body="b", severity=severity))
    assert [(post["title"], post["type"]) for post in webhook_sink.posts] == [
        ("s-info", "info"),
        ("s-warning", "warning"),
        ("s-critical", "failure"),
    ]


async def test_notifier_without_owner_urls_raises() -> None:
    with pytest.raises(NotifierError, match="no owner_urls"):
        await AppriseNotifier(AppriseSettings()).send(Notification(subject="x", body="y"))


def test_plugin_is_discovered_through_the_entry_point() -> None:
    installed = discover()["apprise"]
    assert installed.error is None, installed.error
    assert installed.module is not None and installed.module.__name__ == "hotspot_apprise"
    assert installed.info is not None and installed.info.kind == "notifier"
    assert installed.config_model is AppriseSettings


async def test_hook_register_notifiers(tmp_path: Path, smtp_server: Inbox) -> None:
    """Enabled in YAML, the plugin's hook puts a working notifier in the registry."""
    installed = discover()
    path = tmp_path / "config.yaml"
    path.write_text(
        "plugins:\n  apprise:\n    enabled: true\n    owner_urls:\n      - {$env: OWNER_URL}\n",
        encoding="utf-8",
    )
    settings = load_settings(
        path,
        plugins=settings_models(installed),
        env={"HOTSPOT_DATA_DIR": str(tmp_path / "data"), "OWNER_URL": smtp_server.url()},
    )

    registry = load_plugins(settings, installed)

    assert "apprise" in registry.enabled
    notifier_ = registry.notifiers["apprise"]
    assert isinstance(notifier_, AppriseNotifier)
    await notifier_.send(Notification(subject="Registered", body="through the hook"))
    assert [mail.subject for mail in smtp_server.mails] == ["Registered"]


def test_disabled_plugin_registers_nothing(tmp_path: Path) -> None:
    installed = discover()
    settings = load_settings(
        None,
        plugins=settings_models(installed),
        env={"HOTSPOT_DATA_DIR": str(tmp_path / "data")},
        overrides={
            "plugins": {
                "apprise": {"enabled": False, "owner_urls": [SecretStr(f"mailto://127.0.0.1:1?{FROM}")]}
            }
        },
    )
    assert "apprise" not in load_plugins(settings, installed).notifiers
