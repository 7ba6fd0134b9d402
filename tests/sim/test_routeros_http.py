"""The simulated router's HotSpot HTTP servlet, driven over real HTTP (httpx) and checked through the API.

The device is the HTTP client itself: a hotspot host with address 127.0.0.1 (127.0.0.2 for a
second phone). Passwords for CHAP are computed with the portal's own helper, so these tests are
also the end-to-end check of the fallback login: router page -> portal -> link-login-only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import librouteros
import pytest
from bs4 import BeautifulSoup
from fakes import Clock
from librouteros.api import AsyncApi

from hotspot.portal.chap import chap_response, login_fields, unescape_octal
from hotspot.sim._routeros_http import CHAP_MISSING, _verify_chap, octal_escape, render_template
from hotspot.sim.routeros import RouterOSSimulator

ADMIN, ADMIN_PASSWORD = "admin", "secret"
PHONE_MAC, PHONE_IP = "AA:BB:CC:DD:EE:01", "127.0.0.1"
OTHER_MAC, OTHER_IP = "AA:BB:CC:DD:EE:02", "127.0.0.2"
PORTAL = "http://portal.test:8000/portal"
USER, PASSWORD = "VCH8K2", "s3cret"
INVALID = "invalid username or password"


@pytest.fixture
async def sim() -> AsyncIterator[RouterOSSimulator]:
    async with RouterOSSimulator(ADMIN, ADMIN_PASSWORD, "cafe-main", clock=Clock(1000.0)) as simulator:
        await simulator.start_http(portal_url=PORTAL)
        simulator.add_host(PHONE_MAC, PHONE_IP)
        simulator.call(
            "/ip/hotspot/user/profile/add", name="plan-5M", **{"rate-limit": "2M/5M", "shared-users": "1"}
        )
        simulator.call("/ip/hotspot/user/add", name=USER, password=PASSWORD, profile="plan-5M")
        yield simulator


@pytest.fixture
async def phone(sim: RouterOSSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.http_url, trust_env=False, timeout=5) as client:
        yield client


class Page:
    """The router's login page as a browser sees it: where the form goes and what it carries."""

    def __init__(self, response: httpx.Response) -> None:
        assert response.status_code == 200, response.text
        soup = BeautifulSoup(response.text, "html.parser")
        form = soup.find("form")
        assert form is not None
        self.action = str(form["action"])
        self.method = str(form.get("method", "get"))
        self.fields = {str(i["name"]): str(i.get("value", "")) for i in form.find_all("input")}
        self.text = soup.get_text(" ", strip=True)

    def portal_query(self) -> dict[str, str]:
        """What the portal receives: the browser's GET submission, URL-encoded and decoded again."""
        url = f"{self.action}?{urlencode(self.fields)}"
        return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


async def login_page(
    phone: httpx.AsyncClient,
    path: str = "/",
    *,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> Page:
    return Page(await phone.get(path, headers=headers, params=params))


async def portal_login(
    phone: httpx.AsyncClient, page: Page, password: str = PASSWORD, dst: str | None = "http://neverssl.com/"
) -> httpx.Response:
    """What the portal does after payment: send the browser to link-login-only with the fields."""
    query = page.portal_query()
    fields = login_fields(
        USER,
        password,
        chap_id=query["chap-id"] or None,
        chap_challenge=query["chap-challenge"] or None,
        dst=dst,
    )
    return await phone.post(query["link-login-only"], data=fields)


async def api_rows(sim: RouterOSSimulator, command: str) -> list[dict[str, object]]:
    api: AsyncApi = await librouteros.async_connect(
        "127.0.0.1", ADMIN, ADMIN_PASSWORD, port=sim.port, timeout=2
    )
    try:
        return [row async for row in api.rawCmd(command)]
    finally:
        await api.close()


# --- the login page ---------------------------------------------------------------------------


async def test_login_page_sends_the_phone_to_the_portal_with_its_details(
    sim: RouterOSSimulator, phone: httpx.AsyncClient
) -> None:
    page = await login_page(phone)
    assert page.action == PORTAL and page.method == "get"
    query = page.portal_query()
    assert query["mac"] == PHONE_MAC
    assert query["ip"] == PHONE_IP
    assert query["link-login-only"] == f"{sim.http_url}/login"
    assert query["server-name"] == "hotspot1"
    assert query["identity"] == "cafe-main"
    assert query["error"] == "" and query["link-orig"] == ""
    # The literals survive the URL round trip as RouterOS wrote them, every byte as \ooo.
    chap_id, challenge = sim.http.challenges[PHONE_IP]
    assert len(chap_id) == 1 and len(challenge) == 16
    assert query["chap-id"] == octal_escape(chap_id)
    assert len(query["chap-challenge"]) == 4 * 16
    assert unescape_octal(query["chap-id"]) == chap_id
    assert unescape_octal(query["chap-challenge"]) == challenge
    assert "Welcome to cafe-main WiFi" in page.text


async def test_every_page_view_gets_a_fresh_challenge(
    sim: RouterOSSimulator, phone: httpx.AsyncClient
) -> None:
    first = (await login_page(phone)).portal_query()
    second = (await login_page(phone, "/login")).portal_query()
    assert first["chap-challenge"] != second["chap-challenge"]
    assert unescape_octal(second["chap-challenge"]) == sim.http.challenges[PHONE_IP][1]


async def test_an_intercepted_request_becomes_link_orig(phone: httpx.AsyncClient) -> None:
    page = await login_page(phone, "/news/today?x=1", headers={"Host": "neverssl.com"})
    assert page.portal_query()["link-orig"] == "http://neverssl.com/news/today?x=1"
    page = await login_page(phone, "/login", params={"dst": "http://example.com/a"})
    assert page.portal_query()["link-orig"] == "http://example.com/a"


async def test_without_portal_url_the_shipped_placeholder_stays(sim: RouterOSSimulator) -> None:
    sim.http.portal_url = None
    async with httpx.AsyncClient(base_url=sim.http_url, trust_env=False) as phone:
        page = await login_page(phone)
    assert page.action == "http://10.5.50.2:8000/portal"


async def test_a_custom_login_page_template(sim: RouterOSSimulator, phone: httpx.AsyncClient) -> None:
    sim.http.login_page = (
        "<form action='x'></form>$(if chap-id)chap $(mac-esc)$(else)pap$(endif)|$(user-agent)|$(nothing)|"
    )
    response = await phone.get("/", headers={"User-Agent": "Android 4.4"})
    assert response.text == "<form action='x'></form>chap AA%3ABB%3ACC%3ADD%3AEE%3A01|Android 4.4||"
    sim.login_by = "http-pap"
    response = await phone.get("/")
    assert response.text.startswith("<form action='x'></form>pap|")


async def test_an_unknown_device_is_refused(sim: RouterOSSimulator) -> None:
    sim.remove_host(PHONE_MAC)
    async with httpx.AsyncClient(base_url=sim.http_url, trust_env=False) as phone:
        response = await phone.get("/")
    assert response.status_code == 403
    assert "unknown host 127.0.0.1" in response.text


# --- logging in at link-login-only ------------------------------------------------------------


async def test_chap_login_creates_the_active_session(
    sim: RouterOSSimulator, phone: httpx.AsyncClient
) -> None:
    page = await login_page(phone)
    response = await portal_login(phone, page)
    assert response.status_code == 302
    assert response.headers["location"] == "http://neverssl.com/"
    active = await api_rows(sim, "/ip/hotspot/active/print")
    assert len(active) == 1
    row = active[0]
    assert row["user"] == USER
    assert row["mac-address"] == PHONE_MAC
    assert row["address"] == PHONE_IP
    assert row["login-by"] == "http-chap"
    assert row["server"] == "hotspot1"
    # The profile's rate limit made the dynamic queue, as an API login would.
    assert [q["name"] for q in sim.queues] == [f"<hotspot-{USER}>"]
    hosts = await api_rows(sim, "/ip/hotspot/host/print")
    assert hosts[0]["authorized"] is True


async def test_login_without_dst_shows_the_logged_in_page(
    sim: RouterOSSimulator, phone: httpx.AsyncClient
) -> None:
    response = await portal_login(phone, await login_page(phone), dst=None)
    assert response.status_code == 200
    assert "You are logged in as VCH8K2" in response.text
    status = await phone.get("/status")
    assert "You are logged in" in status.text and PHONE_MAC in status.text
    # A logged-in phone sent to /login again just sees its status; no second session.
    again = await phone.post("/login", data={"username": USER, "password": "whatever"})
    assert "You are logged in." in again.text
    assert len(sim.active) == 1


async def test_wrong_password_shows_the_login_page_again_with_the_error(
    sim: RouterOSSimulator, phone: httpx.AsyncClient
) -> None:
    response = await portal_login(phone, await login_page(phone), password="wrong")
    page = Page(response)
    query = page.portal_query()
    assert query["error"] == INVALID
    assert INVALID in page.text
    assert query["chap-id"]  # a new challenge with the new page
    assert sim.active == []
    # The re-rendered page's challenge works.
    response = await portal_login(phone, page)
    assert response.status_code == 302 and len(sim.active) == 1


async def test_unknown_user_is_invalid(sim: RouterOSSimulator, phone: httpx.AsyncClient) -> None:
    query = (await login_page(phone)).portal_query()
    fields = login_fields(
        "NOBODY", PASSWORD, chap_id=query["chap-id"], chap_challenge=query["chap-challenge"], dst=None
    )
    page = Page(await phone.post("/login", data=fields))
    assert page.portal_query()["error"] == INVALID
    assert sim.active == []


async def test_plain_password_refused_without_http_pap_and_accepted_with_it(
    sim: RouterOSSimulator, phone: httpx.AsyncClient
) -> None:
    assert sim.login_by == {"http-chap", "cookie"}
    await login_page(phone)
    response = await phone.post("/login", data={"username": USER, "password": PASSWORD})
    assert Page(response).portal_query()["error"] == INVALID
    assert sim.active == []

    sim.login_by = {"http-chap", "http-pap"}
    assert sim.rows("/ip/hotspot/profile")[1]["login-by"] == "http-chap,http-pap"
    response = await phone.get(
        "/login", params={"username": USER, "password": PASSWORD, "dst": "http://x.test/"}
    )
    assert response.status_code == 302
    assert [s["login-by"] for s in sim.active] == ["http-pap"]


async def test_pap_only_router_gives_no_challenge_and_the_portal_sends_the_password(
    sim: RouterOSSimulator, phone: httpx.AsyncClient
) -> None:
    sim.call("/ip/hotspot/profile/set", **{".id": "hsprof1", "login-by": "http-pap"})  # over the API
    assert sim.login_by == {"http-pap"}
    page = await login_page(phone)
    assert page.portal_query()["chap-id"] == "" and page.portal_query()["chap-challenge"] == ""
    response = await portal_login(phone, page)
    assert response.status_code == 302
    assert [s["login-by"] for s in sim.active] == ["http-pap"]


async def test_chap_only_login_without_a_challenge_is_chap_missing(
    sim: RouterOSSimulator, phone: httpx.AsyncClient
) -> None:
    response = await phone.post("/login", data={"username": USER, "password": PASSWORD})
    assert Page(response).portal_query()["error"] == CHAP_MISSING


async def test_a_challenge_is_good_for_one_login_only(
    sim: RouterOSSimulator, phone: httpx.AsyncClient
) -> None:
    page = await login_page(phone)
    stale = login_fields(
        USER,
        PASSWORD,
        chap_id=page.portal_query()["chap-id"],
        chap_challenge=page.portal_query()["chap-challenge"],
        dst=None,
    )
    assert (await phone.post("/login", data=stale)).status_code == 200
    assert len(sim.active) == 1
    logout = await phone.get("/logout")
    assert "You have just logged out" in logout.text
    assert sim.active == []
    assert sim.logouts[-1].cause == "user request"
    # Replaying the captured response: the router has no challenge for this phone any more ...
    replay = Page(await phone.post("/login", data=stale))
    assert replay.portal_query()["error"] == CHAP_MISSING
    # ... and that failure showed a new page, whose new challenge the old response does not answer.
    replay = Page(await phone.post("/login", data=stale))
    assert replay.portal_query()["error"] == INVALID
    assert sim.active == []


async def test_router_limits_apply_as_for_an_api_login(
    sim: RouterOSSimulator, phone: httpx.AsyncClient
) -> None:
    # Another phone already uses the voucher and the plan allows one session.
    sim.add_host(OTHER_MAC, OTHER_IP)
    sim.call(
        "/ip/hotspot/active/login", user=USER, password=PASSWORD, **{"mac-address": OTHER_MAC, "ip": OTHER_IP}
    )
    page = Page(await portal_login(phone, await login_page(phone)))
    assert page.portal_query()["error"] == f"no more sessions are allowed for user {USER}"
    assert [s["mac-address"] for s in sim.active] == [OTHER_MAC]

    sim.call("/ip/hotspot/user/disable", numbers=USER)
    sim.call("/ip/hotspot/active/remove", **{".id": sim.active[0][".id"]})
    page = Page(await portal_login(phone, await login_page(phone)))
    assert page.portal_query()["error"] == INVALID
    assert sim.active == []


async def test_a_second_phone_is_told_apart_by_its_address(sim: RouterOSSimulator) -> None:
    sim.add_host(OTHER_MAC, OTHER_IP)
    transport = httpx.AsyncHTTPTransport(local_address=OTHER_IP)
    async with httpx.AsyncClient(base_url=sim.http_url, trust_env=False, transport=transport) as other:
        page = await login_page(other)
        assert page.portal_query()["mac"] == OTHER_MAC
        assert (await portal_login(other, page)).status_code == 302
    assert [(s["mac-address"], s["address"]) for s in sim.active] == [(OTHER_MAC, OTHER_IP)]


async def test_status_and_logout_when_not_logged_in(phone: httpx.AsyncClient) -> None:
    for path in ("/status", "/logout"):
        page = await login_page(phone, path)
        assert page.portal_query()["error"] == f"you are not logged in (ip {PHONE_IP})"


async def test_stop_closes_the_http_listener() -> None:
    sim = RouterOSSimulator(ADMIN, ADMIN_PASSWORD)
    url = await sim.start_http()
    assert url == sim.http_url
    await sim.stop()
    with pytest.raises(RuntimeError, match="not started"):
        _ = sim.http_url
    async with httpx.AsyncClient(trust_env=False) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(url)


def test_login_by_rejects_unknown_methods() -> None:
    sim = RouterOSSimulator()
    with pytest.raises(ValueError, match="unknown login-by"):
        sim.login_by = {"http-chap", "telepathy"}


# --- the template language --------------------------------------------------------------------


def test_template_conditionals_and_escaping() -> None:
    template = (
        '$(if error)E:$(error)$(elif chap-id == "\\001")one$(elif trial == yes)trial$(else)none$(endif)'
        "|$(if mac != x)$(if ip)$(ip)$(endif)$(endif)|$(link-orig-esc)"
    )
    base = {
        "error": "",
        "chap-id": "",
        "trial": "no",
        "mac": "m",
        "ip": "1.2.3.4",
        "link-orig": "http://a/b?c=d",
    }
    assert render_template(template, base) == "none|1.2.3.4|http%3A%2F%2Fa%2Fb%3Fc%3Dd"
    assert render_template(template, base | {"trial": "yes"}).startswith("trial|")
    assert render_template(template, base | {"chap-id": "\\001"}).startswith("one|")
    assert (
        render_template(template, base | {"error": "bad", "mac": "x"}) == "E:bad||http%3A%2F%2Fa%2Fb%3Fc%3Dd"
    )


@pytest.mark.parametrize("bad", ["$(if a)x", "$(endif)", "$(else)", "$(if a)$(else)$(elif b)$(endif)"])
def test_template_unbalanced_conditionals_raise(bad: str) -> None:
    with pytest.raises(ValueError, match=r"\$\("):
        render_template(bad, {})


def test_octal_escape_writes_every_byte_as_three_digits() -> None:
    assert octal_escape(b"\xf9\x0d A") == "\\371\\015\\040\\101"
    assert unescape_octal(octal_escape(bytes(range(256)))) == bytes(range(256))


def test_chap_response_matches_what_the_router_checks() -> None:
    # The simulator verifies CHAP with its own code; both sides agree.
    ident, challenge = b"\x01", bytes(16)
    response = chap_response(octal_escape(ident), "pw", octal_escape(challenge))
    assert _verify_chap(response, "pw", (ident, challenge))
    assert not _verify_chap(response, "pW", (ident, challenge))
