"""Exceptions the core raises on purpose.

* HotspotError            every deliberate failure; carries a message fit for an owner's eyes
  + ConfigError           the configuration is wrong; holds one ConfigProblem per wrong key
  + PluginError           a plugin could not be loaded, configured or registered
  + StorageError          the database or Redis cannot be reached or migrated
  + StartupRefused        the requested process layout is unsafe (e.g. workers > 1 without Redis)
  + RouterUnreachable     a router cannot be reached now (drivers raise it; the core retries)
  + RouterRefused         a router refused a command (drivers raise it; retrying will not help)
  + Refused               a request the caller can fix or wait out (a purchase, a voucher, a
                          promo code, a move): checkout, vouchers, promos and customers refine it
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "ConfigProblem",
    "FormErrors",
    "HotspotError",
    "PluginError",
    "Refused",
    "RouterRefused",
    "RouterUnreachable",
    "StartupRefused",
    "StorageError",
]


class HotspotError(Exception):
    """Base of every deliberate failure."""


@dataclass(frozen=True)
class ConfigProblem:
    """One wrong key: where it is, and what is wrong with it."""

    path: str
    message: str
    source: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = ""
        if self.source:
            where = f"{self.source}:{self.line}: " if self.line else f"{self.source}: "
        key = self.path or "(top level)"
        return f"{where}{key}: {self.message}"


class ConfigError(HotspotError):
    """The configuration cannot be used; every problem found is listed, not just the first."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class PluginError(HotspotError):
    """A plugin broke its contract while loading or registering."""


class StorageError(HotspotError):
    """The database or Redis is unreachable or its schema cannot be brought up to date."""


class StartupRefused(HotspotError):
    """The requested way of running would be silently wrong, so it is refused."""


class RouterUnreachable(HotspotError):
    """A router could not be reached or stopped answering; the work is retried later.

    Router drivers raise this (or a subclass) so the core can fail over and retry.
    """


class RouterRefused(HotspotError):
    """A router understood a command and refused it (a !trap); retrying will not help."""


class Refused(HotspotError):
    """A request the caller can fix or wait out, answered as a 4xx (hotspot.http.errors.refused).

    `message` is for the person asking (a customer at the portal, an integrator); `reason` a
    machine-readable code; `field` the input to blame, if one is; `retry_after` (seconds) comes
    with rate limits and lockouts (HTTP 429)."""

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        field: str | None = None,
        status_code: int = 400,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.field = field
        self.status_code = status_code
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        """What a response to it carries: never cached; when to try again."""
        headers = {"Cache-Control": "no-store"}
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class FormErrors(ValueError):
    """What is wrong with a posted form, by field ("form" for the whole of it)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
