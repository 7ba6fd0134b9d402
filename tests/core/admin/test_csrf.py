"""CSRF on the HTML forms (Litestar's middleware): a form posted without the token is refused before
anything runs; with it, it works. What is exempt stays token-free, each for its reason."""

from __future__ import annotations

import re

from admin_support import CSRF_COOKIE, HTML, PASSWORD, Box

from hotspot.admin.csrf import EXEMPT


async def test_a_form_post_without_the_token_is_refused_and_with_it_succeeds(box: Box) -> None:
    box.admin("owner", "owner")
    browser = box.browser()
    page = await browser.get("/admin/login")
    assert page.status_code == 200
    assert browser.cookies.get(CSRF_COOKIE), "the page sets the token cookie"
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert meta is not None and meta[1] == browser.token  # htmx reads the same token from the meta tag

    form = {"username": "owner", "password": PASSWORD, "next": "/admin"}
    refused = await browser.submit("/admin/login", form, token=False)
    assert refused.status_code == 403
    assert "hotspot_session" not in browser.cookies  # nothing ran: no sign-in, no session
    assert "CSRF" in refused.text

    forged = await browser.request(
        "POST", "/admin/login", data={**form, "_csrf_token": "x" * 128}, headers=HTML
    )
    assert forged.status_code == 403

    signed_in = await browser.submit("/admin/login", form)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/admin"


async def test_a_token_from_another_browser_does_not_pass(box: Box) -> None:
    box.admin("owner", "owner")
    mallory, victim = box.browser(), box.browser()
    await mallory.get("/admin/login")
    await victim.get("/admin/login")
    assert mallory.token != victim.token
    response = await victim.request(
        "POST",
        "/admin/login",
        data={"username": "owner", "password": PASSWORD, "_csrf_token": mallory.token},
        headers=HTML,
    )
    assert response.status_code == 403


async def test_signed_in_forms_pass_the_cookie_rule_with_the_token_alone(box: Box) -> None:
    """A plain form cannot send X-Requested-With; the verified token stands in for it. Without
    the token the same post is refused, and the JSON API still wants its header."""
    box.admin("owner", "owner")
    browser = await box.signed_in("owner")
    await browser.get("/admin/account")
    ok = await browser.submit("/admin/account/logout-all")
    assert ok.status_code == 303 and ok.headers["location"] == "/admin/account#sessions"
    assert (await browser.submit("/admin/account/logout-all", token=False)).status_code == 403
    api = await browser.request("POST", "/api/v1/auth/logout-all")
    assert api.status_code == 403 and "X-Requested-With" in api.text
    assert (
        await browser.request("POST", "/api/v1/auth/logout-all", headers={"X-Requested-With": "x"})
    ).status_code == 204


async def test_htmx_sends_the_token_as_a_header(box: Box) -> None:
    box.admin("owner", "owner")
    browser = await box.signed_in("owner")
    await browser.get("/setup/router")
    assert browser.token
    headers = {"HX-Request": "true", "X-CSRFToken": browser.token}
    response = await browser.request("POST", "/setup/router/test", data={"host": ""}, headers=headers)
    assert response.status_code == 200 and "Fill in the connection details" in response.text
    no_token = await browser.request(
        "POST", "/setup/router/test", data={"host": ""}, headers={"HX-Request": "true"}
    )
    assert no_token.status_code == 403


async def test_exempt_paths_stay_token_free(box: Box) -> None:
    """Webhooks, the portal and the JSON API never see the CSRF check; each has its own defence."""
    assert set(EXEMPT) == {r"^/hooks(/|$)", r"^/portal(/|$)", r"^/api/v1(/|$)", r"^/healthz$", r"^/static/"}
    assert all(reason for reason in EXEMPT.values())
    box.admin("owner", "owner")
    browser = box.browser()
    # the JSON sign-in: no CSRF token, its custom header is the defence
    api = await browser.request(
        "POST",
        "/api/v1/auth/login",
        json={"username": "owner", "password": PASSWORD},
        headers={"X-Requested-With": "x"},
    )
    assert api.status_code == 200
    # a webhook path: no CSRF refusal (404 because no gateway is mounted here, not 403)
    assert (await browser.request("POST", "/hooks/lnm/whatever", content=b"{}")).status_code == 404
    # the portal's own posts are not refused by the CSRF check (its handlers answer for themselves)
    portal = await browser.request("POST", "/portal/orders", data={}, headers={"HX-Request": "true"})
    assert portal.status_code != 403 or "CSRF" not in portal.text
    # the probe and static files set no token cookie
    fresh = box.browser()
    await fresh.request("GET", "/healthz")
    await fresh.request("GET", "/static/css/admin.css")
    assert CSRF_COOKIE not in fresh.cookies
