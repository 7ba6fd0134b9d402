"""Numbers in the customer's words: prices, durations, data, speeds, failures.

Money has ONE formatter, `hotspot.billing.currencies.format_money` (each currency's own minor
unit: KES 50.50, UGX 1,500, BHD 1.250); it is re-exported here for the templates' helpers.
"""

from __future__ import annotations

from dataclasses import dataclass

from hotspot.billing.currencies import format_money

__all__ = [
    "FAILURES",
    "Failure",
    "countdown",
    "format_bytes",
    "format_devices",
    "format_duration",
    "format_money",
    "format_speed",
]


_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def format_duration(seconds: int) -> str:
    """1 hour, 30 minutes, 7 days, 1 day 12 hours: the two largest units."""
    seconds = max(int(seconds), 0)
    if seconds == 0:
        return "0 minutes"
    parts: list[str] = []
    rest = seconds
    for word, size in _UNITS:
        if rest >= size:
            count, rest = divmod(rest, size)
            parts.append(_plural(count, word))
        if len(parts) == 2 or (parts and rest == 0):
            break
    return " ".join(parts)


def format_bytes(count: int) -> str:
    """500 MB, 1.5 GB, 2 GB (decimal units, as data bundles are sold)."""
    value = float(max(int(count), 0))
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            if unit == "B" or value >= 100 or value == int(value):
                return f"{value:.0f} {unit}"
            return f"{value:.1f}".rstrip("0").rstrip(".") + f" {unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def format_speed(bps: int) -> str:
    """5 Mbps, 1.5 Mbps, 512 kbps."""
    if bps >= 1_000_000:
        mbps = bps / 1_000_000
        text = f"{mbps:.1f}".rstrip("0").rstrip(".") if mbps < 100 else f"{mbps:.0f}"
        return f"{text} Mbps"
    return f"{max(bps, 0) // 1000} kbps"


def format_devices(count: int) -> str:
    return _plural(count, "device")


def countdown(seconds: int | None) -> str:
    """What the timer shows before the script takes over: 1:05:09, 4:09, or 2d 3:00:00."""
    if seconds is None:
        return ""
    seconds = max(int(seconds), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass(frozen=True)
class Failure:
    """Why a payment did not go through, and what the customer can do about it."""

    title: str
    message: str
    next_step: str
    other_number: bool = False  # suggest paying from another phone first


FAILURES: dict[str, Failure] = {
    "cancelled": Failure(
        "Payment cancelled",
        "The M-Pesa request was cancelled on your phone.",
        "Tap Try again to get a new prompt, then enter your PIN.",
    ),
    "timeout": Failure(
        "The prompt timed out",
        "The M-Pesa request expired before the PIN was entered.",
        "Keep your phone unlocked and nearby, then try again.",
    ),
    "insufficient_funds": Failure(
        "Not enough M-Pesa balance",
        "Your M-Pesa balance is too low for this package.",
        "Top up and try again, or pay from another number.",
        other_number=True,
    ),
    "wrong_pin": Failure(
        "Wrong M-Pesa PIN",
        "The PIN entered was not correct, so nothing was paid.",
        "Try again and enter your M-Pesa PIN carefully.",
    ),
    "unreachable": Failure(
        "We couldn't reach your phone",
        "The M-Pesa request could not be delivered to this number.",
        "Check the phone is on and has network, then try again, or use another number.",
        other_number=True,
    ),
    "busy": Failure(
        "Your phone is busy",
        "Another M-Pesa request is already waiting on this phone.",
        "Finish or cancel it, wait a few seconds, then try again.",
    ),
    "declined": Failure(
        "Payment declined",
        "M-Pesa declined this payment.",
        "Try paying from another number, or ask staff for help.",
        other_number=True,
    ),
    "error": Failure(
        "Something went wrong",
        "M-Pesa could not complete the payment.",
        "Please try again in a moment.",
    ),
}


def failure(reason: str) -> Failure:
    """The words for a failure reason; unknown or empty reasons read as a generic error."""
    return FAILURES.get(reason, FAILURES["error"])
