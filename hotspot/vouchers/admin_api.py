"""The vouchers admin JSON API at /api/v1/vouchers: batches (list, create, read, revoke, CSV, PDF)
and single codes (history, revoke).

Permissions (hotspot.accounts): reading a batch's summary or a code's history needs
`vouchers.read`; anything that shows codes in bulk (a batch's vouchers, CSV, PDF), creates or
revokes needs `vouchers.write`, since a code is money. Creating and revoking are written to the
audit log. PINs appear once, in the answer to the create call; they are stored only hashed.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter
from pydantic import BaseModel, ConfigDict, Field

from hotspot.accounts import Principal, requires
from hotspot.billing import format_money
from hotspot.errors import Refused
from hotspot.http.client import client_ip
from hotspot.http.errors import error_body, refused_response
from hotspot.portal.api import MoneyOut
from hotspot.runtime import Hotspot
from hotspot.vouchers.admin_actions import (
    batch_csv_text,
    batch_pdf,
    create_batch,
    revoke_batch,
    revoke_voucher,
)
from hotspot.vouchers.codes import DEFAULT_LENGTH, MAX_LENGTH, MIN_LENGTH
from hotspot.vouchers.printing import PrintError
from hotspot.vouchers.service import (
    MAX_BATCH,
    Batch,
    BatchSpec,
    VoucherHistory,
    VoucherView,
    expiry_timestamp,
)

__all__ = ["VoucherAdminApi"]

NO_STORE = {"Cache-Control": "no-store"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BatchIn(_Model):
    package: str = Field(min_length=1, max_length=64, description="The package's name")
    count: int = Field(ge=1, le=MAX_BATCH, description="How many vouchers")
    prefix: str = Field("", max_length=8, description="Letters every code starts with")
    length: int = Field(
        DEFAULT_LENGTH, ge=MIN_LENGTH, le=MAX_LENGTH, description="Random characters per code"
    )
    expires: date | None = Field(None, description="Last day an unused voucher works (business time zone)")
    devices: int | None = Field(None, ge=1, le=100, description="Devices at once (default: the package's)")
    devices_total: int | None = Field(None, ge=1, le=10_000, description="Distinct devices over its life")
    bind_mac: bool = Field(False, description="Only the first device may ever use a voucher")
    pin: bool = Field(False, description="Each voucher also needs a 6-digit PIN")
    currency: str | None = Field(None, pattern=r"^[A-Za-z]{3}$", description="The price printed")
    note: str = Field("", max_length=300)


class BatchOut(_Model):
    id: int
    package: str
    price: MoneyOut
    price_text: str
    count: int
    prefix: str
    code_length: int
    expires_at: float | None = Field(description="When unused vouchers stop working (Unix time)")
    devices_at_once: int
    devices_total: int | None
    bind_mac: bool
    pin: bool
    created_by: str
    created_at: float
    note: str
    states: dict[str, int] = Field(description="How many vouchers are unused, active, exhausted, ...")

    @classmethod
    def of(cls, batch: Batch, states: dict[str, int]) -> BatchOut:
        return cls(
            id=batch.id,
            package=batch.package,
            price=MoneyOut(amount=batch.price.amount, currency=batch.price.currency),
            price_text=format_money(batch.price),
            count=batch.count,
            prefix=batch.prefix,
            code_length=batch.code_length,
            expires_at=batch.expires_at,
            devices_at_once=batch.devices_at_once,
            devices_total=batch.devices_total,
            bind_mac=batch.bind_mac,
            pin=batch.pin,
            created_by=batch.created_by,
            created_at=batch.created_at,
            note=batch.note,
            states=states,
        )


class IssuedOut(_Model):
    code: str
    printed_code: str
    pin: str | None = Field(description="Shown this once; only its hash is kept")


class CreatedOut(_Model):
    batch: BatchOut
    vouchers: list[IssuedOut]


class VoucherOut(_Model):
    code: str
    printed_code: str
    batch_id: int
    state: str = Field(description="unused, active, exhausted, expired or revoked")
    package: str
    expires_at: float | None
    first_used_at: float | None
    bound_mac: str | None
    devices_used: int
    devices_at_once: int
    devices_total: int | None
    ended_at: float | None
    end_reason: str | None

    @classmethod
    def of(cls, v: VoucherView) -> VoucherOut:
        return cls(
            code=v.code,
            printed_code=v.display,
            batch_id=v.batch_id,
            state=v.state,
            package=v.package,
            expires_at=v.expires_at,
            first_used_at=v.first_used_at,
            bound_mac=v.bound_mac,
            devices_used=v.devices_used,
            devices_at_once=v.devices_at_once,
            devices_total=v.devices_total,
            ended_at=v.ended_at,
            end_reason=v.end_reason,
        )


class BatchDetailOut(_Model):
    batch: BatchOut
    vouchers: list[VoucherOut]


class HistoryOut(_Model):
    voucher: VoucherOut
    devices: list[dict[str, Any]]
    sessions: list[dict[str, Any]] = Field(description="Each device's sessions: bytes in/out, time online")
    bytes_in: int = Field(description="Uploaded under this voucher, all sessions")
    bytes_out: int = Field(description="Downloaded under this voucher, all sessions")
    seconds_online: int
    attempts: list[dict[str, Any]] = Field(description="Every redeem attempt on this code, and why refused")

    @classmethod
    def of(cls, h: VoucherHistory) -> HistoryOut:
        return cls(
            voucher=VoucherOut.of(h.voucher),
            devices=h.devices,
            sessions=h.sessions,
            bytes_in=h.bytes_in,
            bytes_out=h.bytes_out,
            seconds_online=h.seconds_online,
            attempts=h.attempts,
        )


class RevokedOut(_Model):
    revoked: int = Field(description="Vouchers cancelled now (already cancelled ones are not counted)")


def _print_error(request: Request[Any, Any, Any], exc: PrintError) -> Response[Any]:
    request_id = str(request.scope.get("state", {}).get("request_id", "-"))
    return Response(
        error_body(400, str(exc), request_id, fields=[{"field": "portal_url", "message": str(exc)}]),
        status_code=400,
        media_type=MediaType.JSON,
        headers=NO_STORE,
    )


BatchId = Annotated[int, PathParameter(ge=1, description="The batch's id")]
Code = Annotated[str, PathParameter(min_length=1, max_length=64, description="A voucher code, as printed")]
PortalUrl = Annotated[
    str | None,
    QueryParameter(
        required=False, max_length=200, description="The portal's address (default: server.public_url)"
    ),
]


class VoucherAdminApi(Controller):
    """Voucher batches and codes for the admin dashboard and scripts."""

    path = "/api/v1/vouchers"
    tags = ["vouchers"]
    exception_handlers = {Refused: refused_response, PrintError: _print_error}

    @get("/batches", summary="Voucher batches", cache=False, guards=[requires("vouchers.read")])
    async def batches(
        self,
        hotspot: NamedDependency[Hotspot],
        limit: Annotated[int, QueryParameter(ge=1, le=500, required=False)] = 100,
    ) -> list[BatchOut]:
        """Newest first, with how many of each batch's vouchers are in each state."""
        found = await hotspot.vouchers.batches(limit)
        counts = await hotspot.vouchers.state_counts([b.id for b in found])
        return [BatchOut.of(b, counts[b.id]) for b in found]

    @post("/batches", summary="Create a batch", status_code=201, guards=[requires("vouchers.write")])
    async def create(
        self,
        request: Request[Any, Any, Any],
        hotspot: NamedDependency[Hotspot],
        principal: NamedDependency[Principal],
        data: JSONBody[BatchIn],
    ) -> Response[CreatedOut]:
        """Generate the codes; the answer is the only time the PINs are shown."""
        settings = hotspot.settings
        made = await create_batch(
            hotspot,
            BatchSpec(
                package=data.package,
                count=data.count,
                prefix=data.prefix,
                length=data.length,
                expires_at=expiry_timestamp(data.expires, settings.business.timezone)
                if data.expires
                else None,
                devices=data.devices,
                devices_total=data.devices_total,
                bind_mac=data.bind_mac,
                pin=data.pin,
                currency=data.currency,
                created_by=principal.username,
                note=data.note,
            ),
            principal,
            client_ip(request),
        )
        batch = made.batch
        counts = await hotspot.vouchers.state_counts([batch.id])
        out = CreatedOut(
            batch=BatchOut.of(batch, counts[batch.id]),
            vouchers=[
                IssuedOut(code=v.code, printed_code=batch.display(v.code), pin=v.pin) for v in made.vouchers
            ],
        )
        return Response(out, status_code=201, headers=NO_STORE)

    @get(
        "/batches/{batch_id:int}",
        summary="A batch and its codes",
        cache=False,
        guards=[requires("vouchers.write")],
    )
    async def batch(self, hotspot: NamedDependency[Hotspot], batch_id: BatchId) -> Response[BatchDetailOut]:
        """The batch and every voucher in it (codes: `vouchers.write`)."""
        vouchers = hotspot.vouchers
        batch = await vouchers.batch(batch_id)
        rows = await vouchers.batch_vouchers(batch_id)
        counts = await vouchers.state_counts([batch_id])
        out = BatchDetailOut(
            batch=BatchOut.of(batch, counts[batch_id]), vouchers=[VoucherOut.of(v) for v in rows]
        )
        return Response(out, headers=NO_STORE)

    @get(
        "/batches/{batch_id:int}/csv",
        summary="A batch as CSV",
        cache=False,
        guards=[requires("vouchers.write")],
    )
    async def csv(
        self, hotspot: NamedDependency[Hotspot], batch_id: BatchId, portal_url: PortalUrl = None
    ) -> Response[str]:
        """One voucher a row, with its state and the QR code's address (no PINs: they are not kept)."""
        return Response(
            await batch_csv_text(hotspot, batch_id, portal_url=portal_url),
            media_type="text/csv; charset=utf-8",
            headers={**NO_STORE, "Content-Disposition": f'attachment; filename="vouchers-{batch_id}.csv"'},
        )

    @get(
        "/batches/{batch_id:int}/pdf",
        summary="A batch as a printable sheet",
        cache=False,
        guards=[requires("vouchers.write")],
    )
    async def pdf(
        self,
        hotspot: NamedDependency[Hotspot],
        batch_id: BatchId,
        portal_url: PortalUrl = None,
        layout: Annotated[Literal["a4", "58mm", "80mm"], QueryParameter(required=False)] = "a4",
        unused_only: Annotated[bool, QueryParameter(required=False)] = True,
    ) -> Response[bytes]:
        """The batch's vouchers as cards (only the unused ones unless unused_only=false)."""
        document = await batch_pdf(
            hotspot, batch_id, layout=layout, portal_url=portal_url, unused_only=unused_only
        )
        return Response(
            document,
            media_type="application/pdf",
            headers={
                **NO_STORE,
                "Content-Disposition": f'attachment; filename="vouchers-{batch_id}-{layout}.pdf"',
            },
        )

    @post(
        "/batches/{batch_id:int}/revoke",
        summary="Revoke a whole batch",
        status_code=200,
        guards=[requires("vouchers.write")],
    )
    async def revoke_batch(
        self,
        request: Request[Any, Any, Any],
        hotspot: NamedDependency[Hotspot],
        principal: NamedDependency[Principal],
        batch_id: BatchId,
    ) -> RevokedOut:
        """Cancel every voucher of the batch; devices online on them are disconnected."""
        return RevokedOut(revoked=await revoke_batch(hotspot, batch_id, principal, client_ip(request)))

    @get(
        "/codes/{code:str}",
        summary="A voucher and its history",
        cache=False,
        guards=[requires("vouchers.read")],
    )
    async def history(self, hotspot: NamedDependency[Hotspot], code: Code) -> Response[HistoryOut]:
        """State, devices, sessions with bytes in/out and time online, and every redeem attempt."""
        return Response(HistoryOut.of(await hotspot.vouchers.history(code)), headers=NO_STORE)

    @post(
        "/codes/{code:str}/revoke",
        summary="Revoke a voucher",
        status_code=200,
        guards=[requires("vouchers.write")],
    )
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        hotspot: NamedDependency[Hotspot],
        principal: NamedDependency[Principal],
        code: Code,
    ) -> VoucherOut:
        """Cancel one voucher; its devices are disconnected (durably, even if the router is away)."""
        return VoucherOut.of(await revoke_voucher(hotspot, code, principal, client_ip(request)))
