"""What an admin does to vouchers, shared by the JSON API (`admin_api`) and the dashboard's pages
(`hotspot.admin.vouchers_page`): each change goes through the service and writes its audit row
here, and printing reads the batch the same way, so both doors behave alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import anyio

from hotspot.accounts.principal import Principal
from hotspot.billing import format_money
from hotspot.vouchers.printing import Card, batch_csv, cards_for, sheet_pdf
from hotspot.vouchers.service import (
    Batch,
    BatchSpec,
    GeneratedBatch,
    IssuedVoucher,
    VoucherError,
    VoucherView,
)

if TYPE_CHECKING:
    from hotspot.runtime import Hotspot

__all__ = [
    "batch_cards",
    "batch_csv_text",
    "batch_pdf",
    "create_batch",
    "revoke_batch",
    "revoke_voucher",
]


async def create_batch(
    hotspot: Hotspot, spec: BatchSpec, principal: Principal, ip: str | None
) -> GeneratedBatch:
    """Generate the codes (VoucherError names the field at fault) and audit the batch."""
    made = await hotspot.vouchers.generate(spec)
    batch = made.batch
    await hotspot.accounts.audit.record(
        principal.actor,
        "voucher_batch.create",
        ("voucher_batch", batch.id),
        None,
        {
            "package": batch.package,
            "count": batch.count,
            "price": format_money(batch.price),
            "pin": batch.pin,
        },
        ip,
    )
    return made


async def revoke_voucher(hotspot: Hotspot, code: str, principal: Principal, ip: str | None) -> VoucherView:
    """Cancel one voucher (its devices are disconnected, durably) and audit the move."""
    before = await hotspot.vouchers.get(code)
    after = await hotspot.vouchers.revoke(code)
    await hotspot.accounts.audit.record(
        principal.actor,
        "voucher.revoke",
        ("voucher", after.id),
        {"state": before.state},
        {"state": after.state},
        ip,
    )
    return after


async def revoke_batch(
    hotspot: Hotspot, batch_id: int, principal: Principal, ip: str | None, *, unused_only: bool = False
) -> int:
    """Cancel a batch's vouchers (all, or only the unused ones) and audit how many: the entry
    is written with the unused codes' revocation, before the redeemed ones are revoked one by one."""

    async def audit(count: int) -> None:
        after: dict[str, object] = {"revoked": count}
        if unused_only:
            after["unused_only"] = True
        await hotspot.accounts.audit.record(
            principal.actor, "voucher_batch.revoke", ("voucher_batch", batch_id), None, after, ip
        )

    return await hotspot.vouchers.revoke_batch(batch_id, unused_only=unused_only, audit=audit)


async def batch_cards(
    hotspot: Hotspot,
    batch_id: int,
    *,
    portal_url: str | None = None,
    unused_only: bool = False,
    issued: Sequence[IssuedVoucher] | None = None,
) -> tuple[Batch, list[Card]]:
    """The batch's cards as printed: its vouchers read back, or the ones just `issued` (with
    their PINs, which are never stored in clear). PrintError when there is no portal address."""
    settings = hotspot.settings
    batch = await hotspot.vouchers.batch(batch_id)
    rows: Sequence[IssuedVoucher | VoucherView]
    if issued is not None:
        if unused_only:
            unused = {v.code for v in await hotspot.vouchers.batch_vouchers(batch_id, state="unused")}
            rows = [v for v in issued if v.code in unused]
        else:
            rows = issued
    else:
        rows = await hotspot.vouchers.batch_vouchers(batch_id, state="unused" if unused_only else None)
    cards = cards_for(
        batch,
        rows,
        base_url=portal_url or settings.server.public_url or "",
        timezone=settings.business.timezone,
    )
    return batch, cards


async def batch_csv_text(
    hotspot: Hotspot,
    batch_id: int,
    *,
    portal_url: str | None = None,
    issued: Sequence[IssuedVoucher] | None = None,
) -> str:
    """The batch as CSV, one voucher a row (PINs only for vouchers just `issued`)."""
    batch, cards = await batch_cards(hotspot, batch_id, portal_url=portal_url, issued=issued)
    return batch_csv(cards, batch)


async def batch_pdf(
    hotspot: Hotspot,
    batch_id: int,
    *,
    layout: str = "a4",
    portal_url: str | None = None,
    unused_only: bool = True,
    issued: Sequence[IssuedVoucher] | None = None,
) -> bytes:
    """A printable sheet of the batch's cards; VoucherError (409) when none is left to print."""
    _, cards = await batch_cards(
        hotspot, batch_id, portal_url=portal_url, unused_only=unused_only, issued=issued
    )
    if not cards:
        raise VoucherError("No vouchers left to print in this batch", reason="empty", status_code=409)
    business = hotspot.settings.business.name
    # Rendering is CPU work (~a second per few hundred cards): off the event loop.
    return await anyio.to_thread.run_sync(lambda: sheet_pdf(cards, business=business, layout=layout))
