"""The landing page for a phone the box has never sold to, served from bytes made in advance.

Every phone that joins the WiFi is sent to `GET /portal?mac=..&ip=..&link-login-only=..` by the
router, often many at once (a bus pulls in). Almost all of them are new: no session cookie, no
order for the MAC. Their page is the shop, the same for all but the request id and the router's
redirect, so `PortalLanding` (ASGI, in front of Litestar's routing: see its docstring) answers
them from a `Rendition` of portal/index.html, pre-gzipped, with the
redirect drawn in as hidden inputs of the buy form (`views.router_inputs`): it reaches the
purchase with the form, so a landing stores no session (no store write, no cookie) for the many
phones that never buy.

Everything else goes on to `views.portal_page` unchanged: a browser with a session cookie (it
may own orders), a device with any order (`DeviceOrders`: it may have a payment in flight or
live access), a router error to show, another method or path. The rendition is drawn from the
same `page_context` as the handler's page, and drawn again when what it shows changes: the
package offers (the catalogue's own cache decides when they are re-read), the currencies on
offer and the move-here link (`PortalOptions`), the Jinja globals (business name, version) or
the length of the request id. A scanned voucher (`?voucher=`) or another currency
(`?currency=`) is the handler's to render (`LANDING_DECLINES`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from litestar.enums import ScopeType
from litestar.middleware import DefineMiddleware
from litestar.middleware.session.server_side import ServerSideSessionBackend
from litestar.template import TemplateEngineProtocol
from litestar.types import ASGIApp, HTTPScope, Receive, Scope, Send
from markupsafe import Markup

from hotspot.http.request_id import REQUEST_ID
from hotspot.http.security import security_headers
from hotspot.payments.checkout import PackageOffer
from hotspot.portal.devices import DeviceOrders
from hotspot.portal.redirect import RouterRedirect, has_redirect_params, parse_redirect
from hotspot.portal.rendition import Hole, Rendition, RenditionError
from hotspot.portal.views import (
    LANDING,
    LANDING_DECLINES,
    PortalOptions,
    package_view,
    page_context,
    portal_options,
    router_inputs,
)
from hotspot.runtime import Hotspot

__all__ = ["Landing", "PortalLanding", "parse_query", "session_cookie_of"]

log = logging.getLogger("hotspot.portal")

PATH = "/portal"
TEMPLATE = "portal/index.html"
REF = 8  # the footer shows the request id's first 8 characters (portal/layout.html)
# The request id is drawn as 8 \x02 then \x01s, so the template's request_id[:8] is 8 \x02.
_REF_HOLE = Hole("ref", "\x02" * REF)
_INPUTS_HOLE = Hole("router_inputs", "\x03", fixed=False)
_NO_INPUTS = b""
_PAGE_HEADERS = [(b"cache-control", b"no-store"), (b"content-type", b"text/html; charset=utf-8")]
_GZIP_HEADERS = [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]


@dataclass(frozen=True)
class _Drawn:
    """What a rendition was drawn from: when any of it changes, it is drawn again."""

    offers: tuple[PackageOffer, ...]
    options: PortalOptions
    globals: tuple[tuple[str, str], ...]


class Landing:
    """Decides whether a request is a new device's landing, and answers it."""

    def __init__(self, hotspot: Hotspot, session_cookie: str, *, hsts: bool) -> None:
        self.hotspot = hotspot
        # What the app would add: the security middleware's defaults (this answer passes it by).
        self._plain_headers = [*_PAGE_HEADERS, *security_headers(hsts=hsts)]
        self._gzip_headers = [*self._plain_headers, *_GZIP_HEADERS]
        self.devices = DeviceOrders(hotspot.db)
        self._cookie_name = session_cookie.encode("latin-1")
        self._drawn: _Drawn | None = None
        self._renditions: dict[int, Rendition | None] = {}  # None: this page cannot be drawn
        self._inputs: tuple[Any, ...] | None = None  # what the renditions were last checked against
        self.served = 0  # landings answered from the rendition (for tests and curiosity)

    def close(self) -> None:
        self.devices.close()

    # --- the decision ----------------------------------------------------------------------

    def _headers(self, scope: HTTPScope) -> tuple[bool, bool]:
        """(gzip accepted, may be served here): no session cookie, no bearer token."""
        gzip = False
        for name, value in scope["headers"]:
            if name == b"cookie":
                for part in value.split(b";"):
                    if part.strip().partition(b"=")[0] == self._cookie_name:
                        return False, False
            elif name == b"authorization":
                return False, False
            elif name == b"accept-encoding":
                gzip = gzip or b"gzip" in value  # as the compression middleware decides
        return gzip, True

    async def respond(self, scope: HTTPScope, send: Send) -> bool:
        """Answer the request if it is a new device's landing; False: the app's turn.

        Nothing is sent before the answer is whole, so a failure on the way (the database, say)
        hands the request to the app, whose page handler shows what is wrong as any page does."""
        try:
            answer = await self._answer(scope)
        except Exception:
            log.exception("the landing page could not be served from its rendition")
            return False
        if answer is None:
            return False
        headers, body = answer
        self.served += 1
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})
        return True

    async def _answer(self, scope: HTTPScope) -> tuple[list[tuple[bytes, bytes]], bytes] | None:
        gzip, ours = self._headers(scope)
        request_id = str(scope.get("state", {}).get("request_id") or "")
        if not ours:
            return None
        if not REQUEST_ID.fullmatch(request_id):  # at least REF characters, drawn in as they are
            return None  # never: the request id middleware lets nothing else through
        query = parse_query(scope["query_string"])
        if any(name in query for name in LANDING_DECLINES):
            return None  # a scanned voucher, another currency: the page differs
        redirect = parse_redirect(query) if has_redirect_params(query) else None
        if redirect is not None and redirect.error:
            return None  # shown on the page: rare enough to render
        if redirect is not None and redirect.mac and await self.devices.has_any(redirect.mac):
            return None
        rendition = await self._rendition(scope, len(request_id))
        if rendition is None:
            return None
        values = {
            "request_id": request_id.encode(),
            _REF_HOLE.name: request_id[:REF].encode(),
            _INPUTS_HOLE.name: router_inputs(redirect).encode() if redirect is not None else _NO_INPUTS,
        }
        if gzip:
            body = rendition.gzip(values)
            return [*self._gzip_headers, (b"content-length", str(len(body)).encode())], body
        body = rendition.body(values)
        return [*self._plain_headers, (b"content-length", str(len(body)).encode())], body

    # --- the rendition -------------------------------------------------------------------------

    async def _rendition(self, scope: HTTPScope, id_length: int) -> Rendition | None:
        engine: TemplateEngineProtocol[Any, Any] | None = scope["app"].template_engine
        if engine is None:
            return None
        # The catalog hands out the same list until it changes (or its cache expires): while it
        # does, with the same settings and templates, what is drawn is what was drawn.
        inputs = (await self.hotspot.catalog.visible(), self.hotspot.settings, engine)
        last = self._inputs
        if (
            last is not None
            and inputs[0] is last[0]
            and inputs[1] is last[1]
            and inputs[2] is last[2]
            and id_length in self._renditions
        ):
            return self._renditions[id_length]
        self._inputs = inputs
        offers = tuple(await self.hotspot.checkout.packages())
        options = await portal_options(self.hotspot)  # a currency price added: the picker appears
        env_globals: Mapping[str, Any] = getattr(getattr(engine, "engine", None), "globals", {})
        drawn = _Drawn(offers, options, tuple((k, v) for k, v in env_globals.items() if isinstance(v, str)))
        if drawn != self._drawn:
            self._drawn, self._renditions = drawn, {}
        if id_length not in self._renditions:
            try:
                self._renditions[id_length] = self._draw(engine, offers, options, id_length)
            except RenditionError as exc:  # e.g. control characters in a package's text
                log.warning("the landing page is rendered per request: %s", exc)
                self._renditions[id_length] = None
        return self._renditions[id_length]

    @staticmethod
    def _draw(
        engine: TemplateEngineProtocol[Any, Any],
        offers: tuple[PackageOffer, ...],
        options: PortalOptions,
        id_length: int,
    ) -> Rendition:
        request_id = Hole("request_id", _REF_HOLE.placeholder + "\x01" * (id_length - REF))
        context = page_context(
            [package_view(o) for o in offers],
            RouterRedirect(),
            options=options,
            request_id=request_id.placeholder,
        )
        context["router_inputs"] = Markup(_INPUTS_HOLE.placeholder)  # noqa: S704 (a constant)
        page = str(engine.get_template(TEMPLATE).render(**context, **LANDING))
        holes = {hole.name: hole for hole in (request_id, _REF_HOLE, _INPUTS_HOLE)}
        log.debug("drew the landing page for request ids of %s characters", id_length)
        return Rendition.build(page, holes)


def parse_query(raw: bytes) -> dict[str, str]:
    """`dict(request.query_params)` as Litestar makes it (urllib's parse_qsl, blanks kept, the last
    of repeated names wins), without urllib's cost where the escapes are ASCII: 10x faster."""
    query: dict[str, str] = {}
    for part in raw.decode("latin-1").split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if "%" in name or "+" in name:
            name = _unquote(name)
        if "%" in value or "+" in value:
            value = _unquote(value)
        query[name] = value
    return query


# Every escape of an ASCII character, "%3a" and "%3A" alike (the first digit is 0-7: no case).
_ASCII_ESCAPES = {spelling: chr(code) for code in range(128) for spelling in (f"{code:02x}", f"{code:02X}")}


def _unquote(text: str) -> str:
    """parse_qsl's `unquote(text.replace("+", " "))`; urllib itself only for what is not ASCII
    (an escaped UTF-8 sequence) or not an escape at all (a stray "%")."""
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    head, *chunks = text.split("%")
    parts = [head]
    for chunk in chunks:
        char = _ASCII_ESCAPES.get(chunk[:2])
        if char is None:
            return unquote(text)
        parts += (char, chunk[2:])
    return "".join(parts)


class PortalLanding:
    """ASGI: new devices' `GET /portal` answered by `Landing`, all else passed on to the app.

    It stands outside Litestar's routing, inside the request id middleware (which logs the
    request) and outside the security headers one (the landing sends them itself): a landing
    is served from bytes made in advance, as a static file is, and like static files it is not
    counted by the per-IP rate limit (many phones can share one address behind a router)."""

    def __init__(self, app: ASGIApp, landing: Landing) -> None:
        self.app = app
        self.landing = landing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            http: HTTPScope = scope
            if http["path"] == PATH and http["method"] == "GET" and await self.landing.respond(http, send):
                return
        await self.app(scope, receive, send)


def session_cookie_of(sessions: DefineMiddleware) -> str:
    """The session cookie's name: a request carrying it may own orders (the handler's turn)."""
    backend = sessions.kwargs.get("backend")
    if not isinstance(backend, ServerSideSessionBackend):
        raise TypeError("the portal landing expects the server-side session middleware")
    return backend.config.key
