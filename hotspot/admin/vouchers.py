"""The voucher read models the dashboard needs beyond the service: the redeem log (every attempt,
accepted or refused and why) in keyset pages, and a voucher found by its id.

Why keyset pages on the attempt's id and no total count: the log grows with every code typed on
every phone (and every guess); a page reads one index range whatever page the owner is on.
The search box takes what an owner has at hand: a MAC, an IP or the start of a code. A reader
without vouchers.write sees codes masked, so for them a code matches only whole: a search by
its start would give the hidden symbols away one by one.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from hotspot.vouchers.codes import display_code, has_only_code_symbols, normalise_code
from hotspot.vouchers.tables import Voucher, VoucherAttempt

__all__ = [
    "OUTCOMES",
    "REASONS",
    "AttemptFilter",
    "AttemptPage",
    "AttemptQueryError",
    "AttemptRow",
    "RedeemLog",
    "code_of",
]

MAX_LIMIT = 200
OUTCOMES = ("accepted", "refused")
# Why a redeem was refused (hotspot.vouchers.service and guard), in the owner's words.
REASONS: dict[str, str] = {
    "unknown_code": "Unknown code",
    "malformed_code": "Not a voucher code",
    "wrong_pin": "Wrong PIN",
    "pin_required": "PIN missing",
    "revoked": "Revoked",
    "expired": "Expired",
    "exhausted": "Used up",
    "bound_to_other_device": "Locked to another device",
    "devices_total_reached": "Device limit reached",
    "device_limit": "Too many devices at once",
    "busy": "Used at the same moment",
    "locked_out": "Device locked out (guessing)",
    "rate_limited": "Too many tries",
    "invalid_input": "Device unknown (no MAC or IP)",
}
_MAC = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$")
_REASON = re.compile(r"^[a-z_]{1,32}$")


class AttemptQueryError(ValueError):
    """A filter or cursor that cannot be used (the message names the field)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class AttemptFilter:
    outcome: str | None = None  # accepted | refused
    reason: str | None = None  # one of REASONS
    q: str | None = None  # a MAC, an IP or the start of a code
    voucher_id: int | None = None
    whole_code: bool = False  # a code in `q` matches only whole (for readers who see codes masked)


@dataclass(frozen=True)
class AttemptRow:
    id: int
    at: float
    code_tried: str
    display: str  # as printed when it matched a voucher, else as typed (normalised)
    voucher_id: int | None
    batch_id: int | None
    outcome: str
    reason: str
    mac: str | None
    ip: str | None
    source_ip: str | None
    router: str | None

    @property
    def reason_text(self) -> str:
        return REASONS.get(self.reason, self.reason.replace("_", " "))


@dataclass(frozen=True)
class AttemptPage:
    rows: list[AttemptRow]
    next_cursor: str | None  # None on the last page


def _search(q: str, whole_code: bool) -> tuple[str, Any]:
    """The condition the search text means, and its value."""
    text = q.strip()
    if _MAC.match(text):
        return "a.mac = {}", text.upper().replace("-", ":")
    try:
        return "(a.ip = {0} OR a.source_ip = {0})", str(ipaddress.ip_address(text))
    except ValueError:
        pass
    code = normalise_code(text)
    what = "a whole code" if whole_code else "the start of a code"
    if not code or not has_only_code_symbols(code) or len(code) > 32:
        raise AttemptQueryError(f"Search by a MAC (AA:BB:CC:DD:EE:FF), an IP or {what}", "q")
    if whole_code:
        return "a.code_tried = {}", code
    return "a.code_tried LIKE {}", code + "%"  # code symbols only: nothing to escape


class RedeemLog:
    """Every redeem attempt, newest first, in keyset pages."""

    async def page(self, f: AttemptFilter, after: str | None = None, limit: int = 50) -> AttemptPage:
        if not 1 <= limit <= MAX_LIMIT:
            raise AttemptQueryError(f"limit must be 1-{MAX_LIMIT}", "limit")
        where: list[str] = []
        args: list[Any] = []
        if f.outcome:
            if f.outcome not in OUTCOMES:
                raise AttemptQueryError("Choose accepted or refused", "outcome")
            where.append("a.outcome = {}")
            args.append(f.outcome)
        if f.reason:
            if not _REASON.match(f.reason):  # not only REASONS: a plugin's gate may add its own
                raise AttemptQueryError("Not a reason a redeem is refused for", "reason")
            where.append("a.reason = {}")
            args.append(f.reason)
        if f.voucher_id is not None:
            where.append("a.voucher = {}")
            args.append(f.voucher_id)
        if f.q and f.q.strip():
            condition, value = _search(f.q, f.whole_code)
            count = condition.count("{0}")
            where.append(condition.replace("{0}", "{}"))
            args += [value] * max(count, 1)
        if after:
            if not re.fullmatch(r"[0-9]{1,18}", after):  # not isdigit(): "²" is a digit to it
                raise AttemptQueryError("not a page cursor from this log", "after")
            where.append("a.id < {}")
            args.append(int(after))
        sql = (
            "SELECT a.id, a.at, a.code_tried, a.voucher, a.outcome, a.reason, a.mac, a.ip,"  # noqa: S608 (placeholders and fixed SQL only)
            " a.source_ip, a.router, v.batch_id, b.prefix"
            " FROM hotspot_voucher_attempt a"
            " LEFT JOIN hotspot_voucher v ON v.id = a.voucher"
            " LEFT JOIN hotspot_voucher_batch b ON b.id = v.batch_id"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY a.id DESC LIMIT {}"
        )
        rows = await VoucherAttempt.raw(sql, *args, limit + 1).run()
        page = [_row(r) for r in rows[:limit]]
        return AttemptPage(page, str(page[-1].id) if len(rows) > limit else None)


def _row(r: dict[str, Any]) -> AttemptRow:
    code = str(r["code_tried"] or "")
    matched = r["voucher"] is not None and r["batch_id"] is not None
    return AttemptRow(
        id=int(r["id"]),
        at=float(r["at"]),
        code_tried=code,
        display=display_code(code, len(r["prefix"] or "")) if matched else code,
        voucher_id=int(r["voucher"]) if r["voucher"] is not None else None,
        batch_id=int(r["batch_id"]) if r["batch_id"] is not None else None,
        outcome=str(r["outcome"]),
        reason=str(r["reason"] or ""),
        mac=r["mac"],
        ip=r["ip"],
        source_ip=r["source_ip"],
        router=r["router"],
    )


async def code_of(voucher_id: int) -> str | None:
    """A voucher's code from its id (the pages link vouchers by id, so no code sits in a URL)."""
    row = await Voucher.select(Voucher.code).where(Voucher.id == voucher_id).first().run()
    return str(row["code"]) if row is not None else None
