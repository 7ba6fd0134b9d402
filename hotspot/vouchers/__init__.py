"""Vouchers: prepaid codes for a package, printed in batches, redeemed on the portal or the API.

The service is `Vouchers` (on `Hotspot.vouchers`); codes and their guess probability are in
`codes`, guessing protection in `guard`, sheets, posters and CSV in `printing`.
"""

from hotspot.vouchers.codes import ALPHABET, display_code, normalise_code
from hotspot.vouchers.guard import GuardLimits
from hotspot.vouchers.service import (
    Batch,
    BatchSpec,
    GeneratedBatch,
    IssuedVoucher,
    RedeemRequest,
    VoucherError,
    VoucherHistory,
    Vouchers,
    VoucherView,
)
from hotspot.vouchers.tables import VoucherState

__all__ = [
    "ALPHABET",
    "Batch",
    "BatchSpec",
    "GeneratedBatch",
    "GuardLimits",
    "IssuedVoucher",
    "RedeemRequest",
    "VoucherError",
    "VoucherHistory",
    "VoucherState",
    "VoucherView",
    "Vouchers",
    "display_code",
    "normalise_code",
]
