"""The payment state machine: every state a payment attempt can be in and the moves allowed.

created -> pending (the gateway accepted the request) | failed (it refused, or was unreachable)
pending -> succeeded (verified) | failed | cancelled | expired
expired -> succeeded: the box stopped waiting, but the gateway later confirmed the money was
taken; the customer gets what they paid for.
failed -> pending: only a request whose answer the box never got (the gateway timed out or the
line dropped: no reference was stored) when a callback later shows the prompt did reach the
phone and was paid ("adopted", PaymentService._adopt); it is then verified like any other.
succeeded and cancelled are final: a later query or callback never changes them (a verified
success is never downgraded).
"""

from __future__ import annotations

import enum

from hotspot.errors import HotspotError

__all__ = ["CLOSED", "FINAL", "TRANSITIONS", "InvalidTransition", "PaymentState", "check_transition"]


class PaymentState(enum.StrEnum):
    CREATED = "created"
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


TRANSITIONS: dict[PaymentState, frozenset[PaymentState]] = {
    PaymentState.CREATED: frozenset({PaymentState.PENDING, PaymentState.FAILED}),
    PaymentState.PENDING: frozenset(
        {PaymentState.SUCCEEDED, PaymentState.FAILED, PaymentState.CANCELLED, PaymentState.EXPIRED}
    ),
    PaymentState.SUCCEEDED: frozenset(),
    PaymentState.FAILED: frozenset({PaymentState.PENDING}),
    PaymentState.CANCELLED: frozenset(),
    PaymentState.EXPIRED: frozenset({PaymentState.SUCCEEDED}),
}
FINAL = frozenset(state for state, moves in TRANSITIONS.items() if not moves)
CLOSED = FINAL | {PaymentState.EXPIRED, PaymentState.FAILED}  # the customer no longer waits on these


class InvalidTransition(HotspotError):
    """A payment was asked to move somewhere the state machine does not allow."""


def check_transition(current: str, target: str) -> None:
    if PaymentState(target) not in TRANSITIONS[PaymentState(current)]:
        raise InvalidTransition(f"a {current} payment cannot become {target}")
