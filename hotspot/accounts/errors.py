"""The one exception accounts raise on purpose, carrying what an HTTP answer needs."""

from __future__ import annotations

from hotspot.errors import HotspotError

__all__ = ["AccountError"]


class AccountError(HotspotError):
    """A refusal the caller can act on: an HTTP status, a machine code and the field to blame."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        code: str | None = None,
        field: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.field = field
        self.retry_after = retry_after
