"""Pure helpers: the router redirect's values checked, numbers in the customer's words."""

from __future__ import annotations

import pytest

from hotspot.addresses import normalize_mac
from hotspot.contracts import Money
from hotspot.portal.format import (
    FAILURES,
    countdown,
    failure,
    format_bytes,
    format_duration,
    format_money,
    format_speed,
)
from hotspot.portal.redirect import RouterRedirect, parse_redirect, parse_url


@pytest.mark.parametrize(
    ("raw", "mac"),
    [
        ("01:23:45:67:89:ab", "01:23:45:67:89:AB"),
        ("01-23-45-67-89-AB", "01:23:45:67:89:AB"),
        ("0123.4567.89ab", "01:23:45:67:89:AB"),
        ("0123456789ab", "01:23:45:67:89:AB"),
        (" 01:23:45:67:89:AB ", "01:23:45:67:89:AB"),
        ("01:23:45:67:89", None),
        ("01:23-45:67:89:ab", None),
        ("zz:23:45:67:89:ab", None),
        ("01:23:45:67:89:ab<script>", None),
        ("", None),
    ],
)
def test_mac_is_normalised_or_dropped(raw: str, mac: str | None) -> None:
    assert normalize_mac(raw, dotted=True) == mac  # the router redirect's and the portal API's rule
    if raw is not None and "." in raw:
        assert normalize_mac(raw) is None  # forms and voucher redeems: colons, dashes or bare hex
    else:
        assert normalize_mac(raw) == mac


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("http://10.5.50.1/login", True),
        ("https://portal.example/x?y=1", True),
        ("javascript:alert(1)", False),
        ("ftp://10.5.50.1/login", False),
        ("//10.5.50.1/login", False),
        ("http://user:pw@10.5.50.1/login", False),
        ("http://10.5.50.1:99999/login", False),
        ("http://10.5.50.1/lo gin", False),
        ("http://10.5.50.1/\r\nSet-Cookie: x", False),
        ("http://10.5.50.1/" + "a" * 600, False),
        ("http:///nohost", False),
    ],
)
def test_urls_must_be_bounded_http(raw: str, ok: bool) -> None:
    assert (parse_url(raw) == raw) is ok


def test_a_good_redirect_is_kept_whole() -> None:
    redirect = parse_redirect(
        {
            "mac": "02-ab-cd-00-00-01",
            "ip": "10.5.50.23",
            "username": "T-02:AB:CD:00:00:01",
            "link-login": "http://10.5.50.1/login?dst=x",
            "link-login-only": "http://10.5.50.1/login",
            "link-orig": "http://example.com/",
            "error": "invalid username or password",
            "chap-id": "\\371",
            "chap-challenge": "\\357\\015\\330",
            "server-name": "hotspot1",
            "identity": "cafe-main",
        }
    )
    assert redirect == RouterRedirect(
        mac="02:AB:CD:00:00:01",
        ip="10.5.50.23",
        username="T-02:AB:CD:00:00:01",
        link_login="http://10.5.50.1/login?dst=x",
        link_login_only="http://10.5.50.1/login",
        link_orig="http://example.com/",
        error="invalid username or password",
        chap_id="\\371",
        chap_challenge="\\357\\015\\330",
        server_name="hotspot1",
        identity="cafe-main",
    )
    assert redirect.router_hint == "cafe-main"
    assert parse_redirect({"identity": "a", "router": "b"}).router_hint == "b"
    assert RouterRedirect.from_session(redirect.as_session()) == redirect


def test_bad_values_are_dropped_one_by_one() -> None:
    redirect = parse_redirect(
        {
            "mac": "not-a-mac",
            "ip": "10.5.50.999",
            "username": "two words",
            "link-login-only": "javascript:alert(1)",
            "link-orig": "data:text/html,hi",
            "error": "bad\x00\r\n  thing " + "x" * 500,
            "chap-id": "\\371\\372",  # two bytes: not a CHAP id
            "chap-challenge": "\\357",
            "identity": "<script>",
        }
    )
    assert redirect.mac is None and redirect.ip is None and redirect.username is None
    assert redirect.link_login_only is None and redirect.link_orig is None
    assert redirect.chap_id is None and redirect.chap_challenge is None  # both or neither
    assert redirect.identity is None
    assert (
        redirect.error is not None and redirect.error.startswith("bad thing x") and len(redirect.error) == 200
    )
    assert parse_redirect({"chap-id": "\\371", "chap-challenge": "\\9"}).chap_id is None
    assert parse_redirect({"ip": "fe80::1"}).ip == "fe80::1"
    assert RouterRedirect.from_session("garbage") == RouterRedirect()
    assert RouterRedirect.from_session({"mac": 5, "nope": "x", "ip": "10.0.0.1"}) == RouterRedirect(
        ip="10.0.0.1"
    )


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(5000, "KES"), "KES 50"),
        (Money(100000, "KES"), "KES 1,000"),
        (Money(40, "USD"), "USD 0.40"),
        (Money(1050, "USD"), "USD 10.50"),
        (Money(123456789, "KES"), "KES 1,234,567.89"),
        (Money(1500, "UGX"), "UGX 1,500"),  # no minor unit: 1500 is not UGX 15
        (Money(1250, "BHD"), "BHD 1.250"),  # three decimals
    ],
)
def test_prices_from_minor_units(money: Money, text: str) -> None:
    assert format_money(money) == text


def test_the_portal_has_one_money_formatter() -> None:
    from hotspot.billing import currencies

    assert format_money is currencies.format_money


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (60, "1 minute"),
        (1800, "30 minutes"),
        (3600, "1 hour"),
        (5400, "1 hour 30 minutes"),
        (86400, "1 day"),
        (7 * 86400, "7 days"),
        (30 * 86400, "30 days"),
        (86400 + 6 * 3600, "1 day 6 hours"),
        (45, "45 seconds"),
        (0, "0 minutes"),
    ],
)
def test_durations_in_words(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


def test_data_speed_and_timer() -> None:
    assert format_bytes(2_000_000_000) == "2 GB"
    assert format_bytes(1_500_000_000) == "1.5 GB"
    assert format_bytes(500_000_000) == "500 MB"
    assert format_bytes(999) == "999 B"
    assert format_speed(5_000_000) == "5 Mbps"
    assert format_speed(1_500_000) == "1.5 Mbps"
    assert format_speed(512_000) == "512 kbps"
    assert countdown(3599) == "59:59"
    assert countdown(3600) == "1:00:00"
    assert countdown(2 * 86400 + 5) == "2d 00:00:05"
    assert countdown(-3) == "0:00"
    assert countdown(None) == ""


def test_every_failure_reason_has_words_and_a_next_step() -> None:
    for reason in (
        "cancelled",
        "timeout",
        "insufficient_funds",
        "wrong_pin",
        "unreachable",
        "busy",
        "declined",
        "error",
    ):
        words = FAILURES[reason]
        assert words.title and words.message and words.next_step
    assert failure("something new") == FAILURES["error"] == failure("")
