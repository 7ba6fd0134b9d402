"""Give every request an id (kept from X-Request-ID when nginx sent a sane one) and log it.

The request line's level says what it is worth: a server error WARNING, a refused request or
anything that may change state (POST, PUT, PATCH, DELETE) INFO, a successful read DEBUG. Reads
are most of the traffic (every phone's portal page, its status polls, static files): at INFO
they would bury the lines that matter, and cost a busy portal a tenth of its throughput. The
appliance's nginx keeps an access log of every request; `logging.level: DEBUG` shows them here.
"""

from __future__ import annotations

import logging
import os
import re
import time

from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from hotspot.logs import request_id_var

__all__ = ["REQUEST_ID", "RequestIdMiddleware", "line_level"]

log = logging.getLogger("hotspot.http")
# What a request id may be (nginx's, else ours): safe to draw into a page or a log as it is.
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


class RequestIdMiddleware:
    """Pure ASGI middleware (cheaper than Litestar's class-based one on every request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        http: HTTPScope = scope
        incoming = next((v for k, v in http["headers"] if k == b"x-request-id"), b"").decode("latin-1")
        # os.urandom, not uuid4: the same 128 random bits at a fraction of the cost per request.
        request_id = incoming if REQUEST_ID.fullmatch(incoming) else os.urandom(16).hex()
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            level = line_level(http["method"], status)
            if log.isEnabledFor(level):
                log.log(
                    level,
                    "%s %s %s %.1fms",
                    http["method"],
                    http["path"],
                    status,
                    (time.perf_counter() - started) * 1000,
                    extra={"status": status, "path": http["path"], "method": http["method"]},
                )
            request_id_var.reset(token)


_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def line_level(method: str, status: int) -> int:
    """The request line's level (see the module docstring)."""
    if status >= 500:
        return logging.WARNING
    if status >= 400 or method not in _READS:
        return logging.INFO
    return logging.DEBUG
