"""A new phone's landing (hotspot.portal.landing): the same page as the handler's, from bytes.

The fast path is checked against the page handler itself: the same request with a session
cookie (which sends it to the handler) must get the same page, byte for byte.
"""

from __future__ import annotations

import gzip
import os
import random
import zlib
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from bs4 import BeautifulSoup
from litestar import Litestar
from litestar.testing import AsyncTestClient
from portal_support import MAC, REDIRECT, AppFactory, hotspot_of, in_app, land

from hotspot.config import PackageSettings
from hotspot.payments.tables import Order
from hotspot.portal.devices import DeviceOrders
from hotspot.portal.landing import Landing, parse_query
from hotspot.portal.rendition import Hole, Rendition, RenditionError, _Shift

GZIP = {"Accept-Encoding": "gzip, deflate"}
QUERIES: list[dict[str, str]] = [
    {},
    REDIRECT,
    {"identity": "cafe-main"},
    {"mac": "02:ab:cd:00:00:99", "link-orig": 'http://example.com/?q=<script>"x"&y=1', "shop": "1"},
    {"mac": "not a mac", "ip": "10.0.0.1", "status": "1"},
]


def landing_of(client: AsyncTestClient[Litestar]) -> Landing:
    landing: Landing = client.app.state.portal_landing
    return landing


async def get(
    client: AsyncTestClient[Litestar], query: dict[str, str], request_id: str, *, cookie: bool, zipped: bool
) -> Any:
    client.cookies.clear()
    if cookie:  # a browser with a session cookie: the page handler answers
        client.cookies.set("hotspot_session", "0" * 64)
    headers = {"X-Request-ID": request_id, **(GZIP if zipped else {"Accept-Encoding": "identity"})}
    return await client.get("/portal", params=query, headers=headers)


@pytest.mark.parametrize("zipped", [True, False])
async def test_the_landing_is_the_handlers_page_byte_for_byte(
    portal: AsyncTestClient[Litestar], zipped: bool
) -> None:
    landing = landing_of(portal)
    for query in QUERIES:
        for request_id in ("abcdefgh", "0123456789abcdef" * 2, "Req-1.2_3" * 7):
            served = landing.served
            fast = await get(portal, query, request_id, cookie=False, zipped=zipped)
            assert landing.served == served + 1, query
            slow = await get(portal, query, request_id, cookie=True, zipped=zipped)
            assert landing.served == served + 1, query
            assert fast.status_code == slow.status_code == 200
            assert fast.content == slow.content, (query, request_id)  # decoded by httpx
            assert fast.headers.get("content-encoding") == slow.headers.get("content-encoding")
            assert ("gzip" if zipped else None) == fast.headers.get("content-encoding")
            for name in ("content-type", "cache-control", "content-security-policy", "x-frame-options"):
                assert fast.headers[name] == slow.headers[name], name
            assert fast.headers["x-request-id"] == request_id
            assert "set-cookie" not in fast.headers
            if zipped:
                assert fast.headers["vary"] == "Accept-Encoding"
    # What a browser sees of the request id: the meta tag and the footer's short reference.
    page = BeautifulSoup(fast.text, "html.parser")
    assert page.select_one("meta[name=request-id]")["content"] == "Req-1.2_3" * 7
    assert "ref Req-1.2_" in page.select_one("footer").text


async def test_every_form_carries_the_redirect_and_stays_byte_identical(portal_factory: AppFactory) -> None:
    """With a notifier, the landing has three forms (buy, voucher, move here), each with the
    router's redirect drawn in: the same hole three times, still the handler's page exactly."""
    portal = await portal_factory(notifier=True)
    landing = landing_of(portal)
    for query in QUERIES:
        for zipped in (True, False):
            served = landing.served
            fast = await get(portal, query, "abcdefgh1234", cookie=False, zipped=zipped)
            slow = await get(portal, query, "abcdefgh1234", cookie=True, zipped=zipped)
            assert landing.served == served + 1
            assert fast.content == slow.content, query
    page = BeautifulSoup(fast.text, "html.parser")
    forms = {f.get("id") or f["class"][0]: f for f in page.select("form")}
    assert set(forms) == {"buy-form", "voucher-form", "hs-move"}
    hidden = [{i["name"]: i["value"] for i in f.select("input[type=hidden]")} for f in forms.values()]
    assert hidden[0] == hidden[1] == hidden[2] == {"ip": "10.0.0.1"}  # the last query: its MAC was bad


async def test_hidden_inputs_are_escaped(portal: AsyncTestClient[Litestar]) -> None:
    odd = 'http://example.com/?q=<script>"x"</script>&y=1'
    response = await get(portal, {"mac": MAC, "link-orig": odd}, "abcdefgh12", cookie=False, zipped=True)
    assert '<script>"x"' not in response.text and "&lt;script&gt;&#34;x&#34;" in response.text
    form = BeautifulSoup(response.text, "html.parser").select_one("form#buy-form")
    assert {i["name"]: i["value"] for i in form.select("input[type=hidden]")} == {
        "mac": MAC,
        "link-orig": odd,
    }


async def test_the_handler_answers_whoever_the_page_is_not_the_same_for(
    portal: AsyncTestClient[Litestar],
) -> None:
    landing = landing_of(portal)
    served = landing.served
    # A router error to show: the handler (a session, a rendered page).
    error = await portal.get("/portal", params={**REDIRECT, "error": "radius timeout"})
    assert "radius timeout" in error.text and "set-cookie" in error.headers
    assert landing.served == served
    portal.cookies.clear()

    # A device with an order: its payment in flight, even in a fresh browser.
    fields = await land(portal)
    assert landing.served == served + 1
    ids = {p["name"]: p["id"] for p in (await portal.get("/api/v1/portal/packages")).json()["packages"]}
    await portal.post("/portal/orders", data={**fields, "package_id": ids["1 hour"], "phone": "0712345601"})
    portal.cookies.clear()
    page = BeautifulSoup((await portal.get("/portal", params=REDIRECT)).text, "html.parser")
    assert landing.served == served + 1
    assert page.select_one("#pay-status .hs-panel")["data-state"] == "waiting"


async def test_a_catalogue_change_is_drawn_at_once(portal: AsyncTestClient[Litestar]) -> None:
    before = await get(portal, REDIRECT, "abcdefgh", cookie=False, zipped=True)
    assert "Night owl" not in before.text
    spec = PackageSettings.model_validate(
        {"name": "Night owl", "price": "30 KES", "duration": "8h", "sort_order": 9}
    )
    in_app(portal, lambda: hotspot_of(portal).catalog.upsert(spec))
    served = landing_of(portal).served
    after = await get(portal, REDIRECT, "abcdefgh", cookie=False, zipped=True)
    assert landing_of(portal).served == served + 1
    names = [n.text for n in BeautifulSoup(after.text, "html.parser").select(".hs-pkg-name")]
    assert names == ["1 hour", "1 day", "1 week", "Night owl"]
    assert after.content == (await get(portal, REDIRECT, "abcdefgh", cookie=True, zipped=True)).content


async def test_device_orders_reads_the_table_on_both_backends(portal_factory: AppFactory) -> None:
    client = await portal_factory()
    devices = DeviceOrders(hotspot_of(client).db)
    try:
        assert in_app(client, lambda: devices.has_any(MAC)) is False
        fields = await land(client)
        ids = {p["name"]: p["id"] for p in (await client.get("/api/v1/portal/packages")).json()["packages"]}
        await client.post(
            "/portal/orders", data={**fields, "package_id": ids["1 day"], "phone": "0712345602"}
        )
        assert in_app(client, lambda: devices.has_any(MAC)) is True
        assert in_app(client, lambda: devices.has_any("02:AB:CD:00:00:02")) is False
        # A direct read that fails (here: a table that is not there) falls back to Piccolo.
        devices._sql = 'SELECT 1 FROM "no_such_table" WHERE "mac" = ? LIMIT 1'
        assert in_app(client, lambda: devices.has_any(MAC)) is True

        async def count() -> int:
            return int(await Order.count().where(Order.mac == MAC).run())

        assert in_app(client, count) == 1
    finally:
        devices.close()


# --- the rendition: gzip made without compressing per request ------------------------------------


def _page(parts: int) -> tuple[str, dict[str, Hole]]:
    words = ['<div class="hs-card">', "packages", "</div>", "M-Pesa", "<span>", "1 hour", "\n"]
    text = [" ".join(random.choice(words) for _ in range(random.randint(0, 400))) for _ in range(parts)]
    holes = {"rid": Hole("rid", "\x02" * 8 + "\x01" * 24), "ref": Hole("ref", "\x02" * 8)}
    holes["inputs"] = Hole("inputs", "\x03", fixed=False)
    order = [random.choice(list(holes.values())) for _ in range(parts - 1)]
    page = text[0] + "".join(hole.placeholder + piece for hole, piece in zip(order, text[1:], strict=True))
    return page, holes


def test_gzip_bodies_decompress_to_the_page() -> None:
    random.seed(7)
    for _ in range(60):
        page, holes = _page(random.randint(1, 6))
        rendition = Rendition.build(page, holes)
        for _ in range(5):
            rid = os.urandom(16).hex().encode()
            inputs = os.urandom(random.randint(0, 300)).hex().encode()
            values = {"rid": rid, "ref": rid[:8], "inputs": inputs}
            body = rendition.body(values)
            expected = (
                page.replace(holes["rid"].placeholder, rid.decode())
                .replace(holes["ref"].placeholder, rid[:8].decode())
                .replace("\x03", inputs.decode())
                .encode()
            )
            assert body == expected
            zipped = rendition.gzip(values)
            stream = zlib.decompressobj(wbits=31)
            assert stream.decompress(zipped) == body and stream.eof and not stream.unused_data
            assert gzip.decompress(zipped) == body


def test_holes_are_checked() -> None:
    rendition = Rendition.build("<p>\x01\x01\x01\x01</p>", {"id": Hole("id", "\x01" * 4)})
    with pytest.raises(RenditionError):
        rendition.gzip({"id": b"12345"})  # a fixed hole keeps its size
    with pytest.raises(RenditionError):
        Rendition.build("<p>\x01\x01</p>", {"id": Hole("id", "\x01" * 4)})  # not a known placeholder
    with pytest.raises(ValueError):
        Hole("bad", "abc")


def test_crc_of_a_concatenation_from_its_parts() -> None:
    for length in (0, 1, 5, 1000, 9000):
        shift = _Shift(length)
        for _ in range(50):
            head, tail = os.urandom(random.randint(0, 64)), os.urandom(length)
            assert shift(zlib.crc32(head), zlib.crc32(tail)) == zlib.crc32(head + tail)


def test_query_parsing_matches_litestars() -> None:
    random.seed(11)
    alphabet = "ab=&%+2F0A9z\u00e9 ;-"
    for _ in range(20000):
        raw = "".join(random.choice(alphabet) for _ in range(random.randint(0, 24))).encode()
        expected = dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True, separator="&"))
        assert parse_query(raw) == expected, raw
    assert parse_query(urlencode(REDIRECT).encode()) == REDIRECT


async def test_landings_are_not_counted_by_the_rate_limit_but_the_rest_is(portal_factory: AppFactory) -> None:
    """The landing is served as a static file is: many phones may share one address."""
    client = await portal_factory(rate_limit={"enabled": True, "per_minute": 3})
    landings = [(await client.get("/portal", params=REDIRECT)).status_code for _ in range(5)]
    assert landings == [200] * 5 and landing_of(client).served == 5
    # A page the handler renders (a router error to show) is counted, and so is the API.
    codes = [(await client.get("/portal", params={**REDIRECT, "error": "x"})).status_code for _ in range(3)]
    codes.append((await client.get("/api/v1/portal/packages")).status_code)
    assert codes == [200, 200, 200, 429]
    assert landing_of(client).served == 5


async def test_the_landing_sends_the_security_headers_hsts_behind_tls(portal_factory: AppFactory) -> None:
    client = await portal_factory(server={"behind_tls": True})
    response = await client.get("/portal", params=REDIRECT)
    assert landing_of(client).served == 1
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert len(response.headers["x-request-id"]) == 32


async def test_a_failing_read_hands_the_request_to_the_page_handler(
    portal: AsyncTestClient[Litestar], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(mac: str) -> bool:
        raise OSError("disk I/O error")

    monkeypatch.setattr(landing_of(portal).devices, "has_any", broken)
    response = await portal.get("/portal", params=REDIRECT)
    assert response.status_code == 200 and BeautifulSoup(response.text, "html.parser").select(".hs-pkg")
    assert landing_of(portal).served == 0
    assert "could not be served from its rendition" in caplog.text


async def test_a_page_that_cannot_be_drawn_is_rendered_per_request(
    portal: AsyncTestClient[Litestar], monkeypatch: pytest.MonkeyPatch
) -> None:
    def cannot(*args: Any) -> Rendition:
        raise RenditionError("unexpected control bytes")

    monkeypatch.setattr(Landing, "_draw", staticmethod(cannot))
    for _ in range(2):
        response = await portal.get("/portal", params=REDIRECT)
        assert response.status_code == 200 and BeautifulSoup(response.text, "html.parser").select(".hs-pkg")
    assert landing_of(portal).served == 0


async def test_the_brand_reloads_the_landing_but_not_a_form_post(portal: AsyncTestClient[Litestar]) -> None:
    fields = await land(portal)
    page = await portal.get("/portal", params=REDIRECT)
    assert BeautifulSoup(page.text, "html.parser").select_one("a.hs-pbrand")["href"] == ""
    # A plain form post answered with the page (a bad phone) is at /portal/orders: no reload there.
    posted = await portal.post("/portal/orders", data={**fields, "phone": "12"})
    assert posted.status_code == 422
    assert BeautifulSoup(posted.text, "html.parser").select_one("a.hs-pbrand")["href"] == "/portal"
