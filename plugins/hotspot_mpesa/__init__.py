"""Built-in M-Pesa gateway: Lipa Na M-Pesa Online (STK push) through Safaricom's Daraja API.

* Gateway id ``mpesa``: `initiate` sends the PIN prompt, `verify` asks the STK query what became
  of it (``gateway``); settings are in ``config``; the Daraja wire protocol in ``daraja``.
* The setup wizard's M-Pesa page (``setup``) tests the keys by fetching a token before saving.
* Callbacks arrive at ``POST /hooks/lnm/<callback token>`` (``callback``). Not /hooks/mpesa:
  Daraja refuses callback URLs containing "mpesa" (or "safaricom", "query", "sql"...), so
  ``PLUGIN.routes_path`` moves the routes. The token is derived from the credentials (or set),
  so every worker and every restart agree on it without storing anything.
* OAuth tokens are shared by every client of one consumer key in the process: Daraja
  invalidates the previous token whenever it issues a new one.
* A box without a public URL still works: the callback goes nowhere and the core settles each
  payment by polling `verify`.
"""

from __future__ import annotations

from typing import Any

from litestar.types import ControllerRouterHandler

from hotspot.contracts import PaymentGateway, PluginInfo, SetupStep
from hotspot.plugins import hookimpl

from .callback import callback_routes
from .config import MpesaSettings
from .daraja import DarajaAuthError, DarajaError, DarajaUnavailable
from .gateway import GATEWAY_ID, MpesaGateway
from .setup import MpesaSetupForm, setup_step

__all__ = [
    "GATEWAY_ID",
    "PLUGIN",
    "ROUTES_PATH",
    "DarajaAuthError",
    "DarajaError",
    "DarajaUnavailable",
    "MpesaGateway",
    "MpesaSettings",
    "MpesaSetupForm",
    "register_payment_gateways",
    "register_routes",
    "register_setup_steps",
    "shutdown",
]

ROUTES_PATH = "/hooks/lnm"

PLUGIN = PluginInfo(
    name="mpesa",
    kind="payment_gateway",
    description="M-Pesa Express (STK push) through Safaricom Daraja, for PayBill or Till (Buy Goods)",
    config=MpesaSettings,
    routes_path=ROUTES_PATH,
)


@hookimpl
def register_payment_gateways(config: MpesaSettings) -> list[PaymentGateway]:
    """Called only when the plugin is enabled, with its validated block."""
    return [MpesaGateway(config)]


@hookimpl
def register_setup_steps(config: MpesaSettings) -> list[SetupStep]:
    """The wizard's M-Pesa page; asked even while the plugin is disabled (that is when it is needed)."""
    return [setup_step()]


@hookimpl
def register_routes(config: MpesaSettings) -> list[ControllerRouterHandler]:
    """The callback handler, built from the same block as the gateway (same token)."""
    return list(callback_routes(config))


@hookimpl
async def shutdown(hotspot: Any) -> None:
    """Close the gateway's HTTP connections."""
    gateway = hotspot.registry.gateways.get(GATEWAY_ID)
    if isinstance(gateway, MpesaGateway):
        await gateway.aclose()
