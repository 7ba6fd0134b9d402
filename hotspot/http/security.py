"""Security headers on every response: no inline scripts, no framing, no sniffing."""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CSP", "SecurityHeadersMiddleware", "security_headers"]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


def security_headers(*, hsts: bool) -> list[tuple[bytes, bytes]]:
    """The defaults, encoded (also sent as they are by the portal landing, which sets none)."""
    defaults = {
        "content-security-policy": CSP,
        "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",
        "x-frame-options": "DENY",
        "permissions-policy": "camera=(self), geolocation=(), microphone=()",
    }
    if hsts:
        defaults["strict-transport-security"] = "max-age=31536000"
    return [(k.encode(), v.encode("latin-1")) for k, v in defaults.items()]


class SecurityHeadersMiddleware:
    """Pure ASGI: adds headers a handler did not set itself; HSTS only behind TLS.

    The defaults are encoded once; per response the handler's header names are read once."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts
        self._defaults = security_headers(hsts=hsts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in self._defaults if k not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
