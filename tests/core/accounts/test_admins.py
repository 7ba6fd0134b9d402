"""Managing admins on both backends: only owners touch owners, the last owner stays, clear errors."""

from __future__ import annotations

import asyncio

import pytest
from accounts_support import PASSWORD, Box

from hotspot.accounts import AccountError


async def test_admin_manages_staff_but_not_owners(box: Box) -> None:
    owner = box.admin("owner", "owner")
    box.admin("manager", "admin")
    manager = await box.signed_in("manager")

    made = await manager.post(
        "/api/v1/admins", json={"username": "till", "password": PASSWORD, "role": "operator"}
    )
    assert made.status_code == 201 and made.json()["role"] == "operator"
    no_owner = await manager.post(
        "/api/v1/admins", json={"username": "coup", "password": PASSWORD, "role": "owner"}
    )
    assert no_owner.status_code == 403
    promote = await manager.request("PATCH", f"/api/v1/admins/{made.json()['id']}", json={"role": "owner"})
    assert promote.status_code == 403
    demote_owner = await manager.request("PATCH", f"/api/v1/admins/{owner['id']}", json={"role": "viewer"})
    assert demote_owner.status_code == 403
    deactivate_owner = await manager.request("PATCH", f"/api/v1/admins/{owner['id']}", json={"active": False})
    assert deactivate_owner.status_code == 403
    password_owner = await manager.post(f"/api/v1/admins/{owner['id']}/password", json={"password": "x" * 12})
    assert password_owner.status_code == 403

    boss = await box.signed_in("owner")
    second = await boss.post(
        "/api/v1/admins", json={"username": "partner", "password": PASSWORD, "role": "owner"}
    )
    assert second.status_code == 201


async def test_the_last_owner_cannot_be_demoted_or_deactivated(box: Box) -> None:
    first = box.admin("first", "owner")
    second = box.admin("second", "owner")
    browser = await box.signed_in("first")
    self_demote = await browser.request("PATCH", f"/api/v1/admins/{first['id']}", json={"role": "admin"})
    assert self_demote.status_code == 403  # nobody changes their own role
    ok = await browser.request("PATCH", f"/api/v1/admins/{second['id']}", json={"role": "admin"})
    assert ok.status_code == 200
    with pytest.raises(AccountError, match="last active owner"):
        box.run(lambda: box.accounts.update_admin(first["id"], {"role": "viewer"}, by=None))
    with pytest.raises(AccountError, match="last active owner"):
        box.run(lambda: box.accounts.update_admin(first["id"], {"active": False}, by=None))


async def test_a_role_change_ends_the_admins_sessions(box: Box) -> None:
    box.admin("boss", "owner")
    staff = box.admin("staff", "admin")
    staff_browser = await box.signed_in("staff")
    boss = await box.signed_in("boss")
    assert (await staff_browser.get("/api/v1/admins")).status_code == 200
    await boss.request("PATCH", f"/api/v1/admins/{staff['id']}", json={"role": "viewer"})
    assert (await staff_browser.get("/api/v1/admins")).status_code == 401
    again = await box.signed_in("staff")
    assert (await again.get("/api/v1/admins")).status_code == 200  # viewers read admins
    assert (await again.post("/api/v1/admins", json={})).status_code == 403


async def test_bad_input_names_the_field(box: Box) -> None:
    box.admin("boss", "owner")
    boss = await box.signed_in("boss")
    cases = [
        ({"username": "x", "password": PASSWORD, "role": "viewer"}, "username"),
        ({"username": "Bad Name!", "password": PASSWORD, "role": "viewer"}, "username"),
        ({"username": "newbie", "password": PASSWORD, "role": "king"}, "role"),
        ({"username": "newbie", "password": "short", "role": "viewer"}, "password"),
        ({"username": "newbie", "password": "newbie-password-1", "role": "viewer"}, "password"),
        ({"username": "newbie", "password": PASSWORD, "role": "viewer", "email": "nope"}, "email"),
        ({"username": "newbie", "password": PASSWORD, "role": "viewer", "phone": "call me"}, "phone"),
        ({"username": "boss", "password": PASSWORD, "role": "viewer"}, "username"),
    ]
    for body, field in cases:
        response = await boss.post("/api/v1/admins", json=body)
        assert 400 <= response.status_code < 500, (body, response.text)
        assert response.json()["error"]["fields"][0]["field"] == field, (body, response.text)
    taken = await boss.post(
        "/api/v1/admins", json={"username": "BOSS", "password": PASSWORD, "role": "viewer"}
    )
    assert taken.status_code == 409
    assert (await boss.request("PATCH", "/api/v1/admins/999999", json={"email": None})).status_code == 404
    assert (await boss.get("/api/v1/admins/999999")).status_code == 404
    phone = await boss.post(
        "/api/v1/admins",
        json={"username": "newbie", "password": PASSWORD, "role": "viewer", "phone": "+254 712 345-678"},
    )
    assert phone.status_code == 201 and phone.json()["phone"] == "+254712345678"


async def test_list_shows_no_secrets(box: Box) -> None:
    box.admin("boss", "owner", email="boss@example.com")
    box.admin("clerk", "operator")
    boss = await box.signed_in("boss")
    listed = (await boss.get("/api/v1/admins")).json()
    assert [a["username"] for a in listed] == ["boss", "clerk"]
    assert listed[0]["last_login_at"] == box.clock.now and listed[1]["last_login_at"] is None
    assert set(listed[0]) == {
        "id",
        "username",
        "email",
        "phone",
        "role",
        "active",
        "totp_enabled",
        "recovery_codes_left",
        "last_login_at",
        "last_login_ip",
        "password_changed_at",
        "created_at",
    }


async def test_first_owner_is_made_once_even_when_two_ask_at_once(box: Box) -> None:
    """The setup wizard's first step: refused once an admin exists (also under a race)."""

    async def both() -> list[object]:
        return await asyncio.gather(
            box.accounts.create_first_owner(username="one", password=PASSWORD),
            box.accounts.create_first_owner(username="two", password=PASSWORD),
            return_exceptions=True,
        )

    results = box.run(both)
    made = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, AccountError)]
    assert len(made) == 1 and len(refused) == 1 and made[0]["role"] == "owner"
    assert refused[0].status == 403
    assert len(box.run(box.accounts.list_admins)) == 1
