"""The plugin API: every hook a plugin may implement, and nothing else.

Two kinds of hook:

* **Registration hooks** (``register_*``) are plain functions, called once at startup for each
  *enabled* plugin, with that plugin's own validated settings as ``config``. They return provider
  objects (see hotspot.contracts); the core keeps them in the registry. Behaviour lives on the
  returned objects, not in the hooks.
* **Event hooks** (past tense, plus ``startup``/``shutdown``) may be ``async def`` or plain
  functions. The core calls every implementation; one that raises or times out is logged with
  its plugin's name and the others still run. Their return value is ignored.

Implementations may accept fewer arguments than the spec (pluggy's rule), so adding an argument
here breaks no plugin. Implement with ``@hotspot.hookimpl``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

from hotspot.contracts import (
    AccountingSink,
    FraudDetector,
    Notifier,
    PaymentConfirmed,
    PaymentGateway,
    RouterDriver,
    RouterStatusChanged,
    SecurityEvent,
    SessionChanged,
    SetupStep,
)

if TYPE_CHECKING:  # only for annotations of startup/shutdown; plugins never need to import it
    from pathlib import Path

    from litestar.types import ControllerRouterHandler

    from hotspot.runtime import Hotspot

PROJECT = "hotspot"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

# --- registration (sync, once, per enabled plugin) --------------------------------------------


@hookspec
def register_payment_gateways(config: Any) -> list[PaymentGateway]:  # type: ignore[empty-body]
    """Return the payment gateways this plugin provides (M-Pesa, card, crypto...).

    Each gateway's ``id`` must be unique across plugins; a duplicate stops startup.
    """


@hookspec
def register_router_drivers(config: Any) -> list[RouterDriver]:  # type: ignore[empty-body]
    """Return router drivers; routers in YAML pick one by its ``kind`` (e.g. ``mikrotik``)."""


@hookspec
def register_notifiers(config: Any) -> list[Notifier]:  # type: ignore[empty-body]
    """Return notifiers (e-mail, SMS, chat) the core sends alerts and customer messages through."""


@hookspec
def register_accounting_sinks(config: Any) -> list[AccountingSink]:  # type: ignore[empty-body]
    """Return sinks that copy settled sales into the owner's books (QuickBooks, Xero, CSV...)."""


@hookspec
def register_fraud_detectors(config: Any) -> list[FraudDetector]:  # type: ignore[empty-body]
    """Return detectors that score payments, redeems and logins; the core combines the scores."""


@hookspec
def register_routes(config: Any) -> list[ControllerRouterHandler]:  # type: ignore[empty-body]
    """Return Litestar route handlers or routers, mounted under ``/hooks/<plugin name>``.

    For provider webhooks. Handlers must authenticate the caller themselves (secret path,
    signature) and hand the parsed result to a core service; they never write core tables.
    """


@hookspec
def register_template_dirs(config: Any) -> list[Path]:  # type: ignore[empty-body]
    """Return folders of Jinja templates. Keep them namespaced (``<plugin>/...``) so they never
    shadow the core's templates; the core's own folder always wins a name clash."""


@hookspec
def register_setup_steps(config: Any) -> list[SetupStep]:  # type: ignore[empty-body]
    """Return pages for the setup wizard (credentials, a test connection); ordered by ``order``."""


# --- lifecycle and events (async or sync, fan-out, failures isolated) ------------------------


@hookspec
def startup(hotspot: Hotspot) -> None:
    """Called once the database and stores are open, before requests are served."""


@hookspec
def shutdown(hotspot: Hotspot) -> None:
    """Called while the app stops, before the database and stores close; release connections."""


@hookspec
def payment_confirmed(event: PaymentConfirmed) -> None:
    """A payment was confirmed by its gateway and matched to its order (receipts, accounting)."""


@hookspec
def session_changed(event: SessionChanged) -> None:
    """A device went online or offline under a grant."""


@hookspec
def router_status_changed(event: RouterStatusChanged) -> None:
    """A router's health changed (up, degraded, down)."""


@hookspec
def security_event(event: SecurityEvent) -> None:
    """Something suspicious or notable happened (failed logins, guessing, new admin IP)."""
