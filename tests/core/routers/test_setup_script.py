"""The RouterOS setup script and the router login page the box serves."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from hotspot.routers.setup_script import (
    PORTAL_PLACEHOLDER,
    RouterScript,
    SetupScriptError,
    login_page,
    setup_script,
)

PASSWORD = 'pa$$ "word" \\ 42xyz'


def script(**kw: object) -> str:
    spec = RouterScript(**{"box_url": "http://10.5.50.2:8000", "api_password": PASSWORD, **kw})  # type: ignore[arg-type]
    return setup_script(spec, generated_at=datetime(2026, 11, 30, tzinfo=UTC))


def test_script_limits_the_api_to_the_box_and_a_least_privilege_account() -> None:
    text = script()
    assert "/ip service set [find name=api] disabled=no port=8728 address=10.5.50.2/32" in text
    assert "policy=read,write,api,test" in text
    assert "address=10.5.50.2/32" in text.split("/user add", 1)[1].split("\n", 1)[0]
    for forbidden in ("ssh", "winbox", "ftp", "reboot", "policy,", "sensitive"):
        assert forbidden not in text.split("policy=", 1)[1].split(" ", 1)[0]
    assert "2026-11-30 00:00 UTC" in text


def test_script_escapes_the_password_for_routeros_strings() -> None:
    text = script()
    # $ would expand a variable, " would end the string, \ would escape the next character.
    assert 'password="pa\\$\\$ \\"word\\" \\\\ 42xyz"' in text
    assert PASSWORD not in text


def test_script_is_idempotent_and_keeps_chap_and_pap() -> None:
    text = script()
    assert ":if ([:len [/user group find name=hotspot-api]] = 0) do=" in text
    assert ":if ([:len [/user find name=" in text
    assert '[/ip hotspot walled-garden ip find dst-address=10.5.50.2 comment="hotspot appliance"]' in text
    assert "login-by=http-chap,http-pap,cookie" in text
    assert '/tool fetch url="http://10.5.50.2:8000/router/login.html"' in text
    assert text.count("{") == text.count("}")


def test_script_uses_api_ssl_when_asked() -> None:
    text = script(tls=True, api_port=8729)
    assert "/ip service set [find name=api-ssl] disabled=no port=8729 address=10.5.50.2/32" in text


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"box_url": "10.5.50.2:8000"}, "box_url must be"),
        ({"box_url": "http://hotspot.local:8000"}, "IP address"),
        ({"box_url": "http://[fe80::1]:8000"}, "IPv4"),
        ({"api_username": "bad name"}, "api_username"),
        ({"api_password": "short"}, "api_password"),
        ({"api_port": 0}, "api_port"),
    ],
)
def test_bad_values_name_the_value(kw: dict[str, object], message: str) -> None:
    with pytest.raises(SetupScriptError, match=message):
        script(**kw)


def test_login_page_points_at_the_box() -> None:
    page = login_page("http://192.168.88.5:8080/portal")
    assert 'action="http://192.168.88.5:8080/portal"' in page
    assert PORTAL_PLACEHOLDER not in page
    with pytest.raises(SetupScriptError):
        login_page('http://x/"><script>')


async def test_the_box_serves_the_login_page_with_its_own_address(
    client: AsyncTestClient[Litestar],
) -> None:
    response = await client.get("/router/login.html", headers={"Host": "10.5.50.9:8000"})
    assert response.status_code == 200
    assert 'action="http://10.5.50.9:8000/portal"' in response.text
    assert "attachment" in response.headers["content-disposition"]
