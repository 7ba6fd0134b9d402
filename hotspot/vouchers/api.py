"""Redeem a voucher over JSON: `POST /api/v1/portal/vouchers/redeem`.

The answer is the portal's order shape (`hotspot.portal.api.OrderOut`): the device follows its
voucher access exactly like a purchase (GET /api/v1/portal/orders/{order_id}). Refusals use
the one error shape of hotspot.http.errors, with `code` set to the refusal's reason
(unknown_code, wrong_pin, expired, device_limit, locked_out, ...) and `fields` naming the
input to blame; a 429 carries Retry-After. Like the rest of /api/v1/portal it is sessionless.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody
from pydantic import BaseModel, ConfigDict, Field

from hotspot.accounts.guards import PUBLIC
from hotspot.errors import Refused
from hotspot.http.client import client_ip
from hotspot.http.errors import refused_response
from hotspot.portal.api import ErrorOut, OrderOut
from hotspot.portal.redirect import parse_url
from hotspot.runtime import Hotspot
from hotspot.vouchers.service import RedeemRequest, VoucherError

__all__ = ["RedeemIn", "VoucherPortalApi"]


class RedeemIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(
        min_length=1,
        max_length=64,
        description="The voucher code as printed or scanned; case, spaces and dashes do not matter",
    )
    pin: str | None = Field(None, max_length=16, description="The voucher's PIN, when its card shows one")
    mac: str = Field(
        min_length=1, max_length=32, description="The device's MAC address, as the router reported it"
    )
    ip: str = Field(min_length=1, max_length=45, description="The device's IP address behind the router")
    router: str | None = Field(
        None, max_length=64, description="The router the device is behind (its name or identity)"
    )
    link_login_only: str | None = Field(
        None,
        max_length=300,
        description="The router's login URL ($(link-login-only)), for the login hand-off",
    )
    link_orig: str | None = Field(None, max_length=500, description="Where the customer was going")


def _url(value: str | None, name: str, max_length: int) -> str | None:
    if not value:
        return None
    url = parse_url(value, max_length=max_length)
    if url is None:
        raise VoucherError(f"Not an http(s) address: {name}", reason="invalid_input", field=name)
    return url


class VoucherPortalApi(Controller):
    """Voucher redeem for the portal's script, the installable app and integrators."""

    path = "/api/v1/portal/vouchers"
    opt = {PUBLIC: True}  # customers have no account (the portal's own limits apply)
    tags = ["portal"]
    exception_handlers = {Refused: refused_response}

    @post(
        "/redeem",
        summary="Redeem a voucher",
        status_code=200,
        responses={
            400: ResponseSpec(ErrorOut, description="Bad input, or a code/PIN that does not match"),
            403: ResponseSpec(ErrorOut, description="The voucher is locked to another device"),
            409: ResponseSpec(
                ErrorOut, description="Expired, used up, cancelled, or its device limit is reached"
            ),
            429: ResponseSpec(ErrorOut, description="Too many attempts: wait Retry-After seconds"),
        },
    )
    async def redeem(
        self, request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], data: JSONBody[RedeemIn]
    ) -> Response[OrderOut]:
        """Put the device online on a voucher; follow it with GET /api/v1/portal/orders/{order_id}."""
        status = await hotspot.vouchers.redeem(
            RedeemRequest(
                code=data.code,
                pin=data.pin,
                mac=data.mac,
                ip=data.ip,
                router=(data.router or "").strip() or None,
                link_login_only=_url(data.link_login_only, "link_login_only", 300),
                link_orig=_url(data.link_orig, "link_orig", 500),
                source_ip=client_ip(request),
            )
        )
        return Response(OrderOut.of(status), headers={"Cache-Control": "no-store"})
