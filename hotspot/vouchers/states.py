"""The voucher state machine: every state a voucher can be in and the moves allowed.

unused    -> active (first redeem) | expired (the batch's date passed unused) | revoked
active    -> exhausted (its grant ran out of time or data) | revoked
exhausted -> active (its grant was topped up and lives again) | revoked
expired   -> revoked
revoked is final: a cancelled code never works again.
"""

from __future__ import annotations

from hotspot.errors import HotspotError
from hotspot.vouchers.tables import VoucherState

__all__ = ["TRANSITIONS", "InvalidVoucherTransition", "check_transition"]

TRANSITIONS: dict[str, frozenset[str]] = {
    VoucherState.UNUSED: frozenset({VoucherState.ACTIVE, VoucherState.EXPIRED, VoucherState.REVOKED}),
    VoucherState.ACTIVE: frozenset({VoucherState.EXHAUSTED, VoucherState.REVOKED}),
    VoucherState.EXHAUSTED: frozenset({VoucherState.ACTIVE, VoucherState.REVOKED}),
    VoucherState.EXPIRED: frozenset({VoucherState.REVOKED}),
    VoucherState.REVOKED: frozenset(),
}


class InvalidVoucherTransition(HotspotError):
    """A voucher was asked to move somewhere the state machine does not allow."""


def check_transition(current: str, target: str) -> None:
    if target not in TRANSITIONS.get(current, frozenset()):
        raise InvalidVoucherTransition(f"a voucher that is {current} cannot become {target}")
