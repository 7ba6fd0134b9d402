"""Personal API tokens on both backends: shown once, stored as a digest, scoped, expiring, revocable."""

from __future__ import annotations

import hashlib
from typing import Any

from accounts_support import Box, Browser

from hotspot.accounts.tables import ApiToken


async def make_token(browser: Browser, scopes: list[str], days: int = 30, name: str = "script") -> Any:
    return await browser.post(
        "/api/v1/auth/tokens", json={"name": name, "scopes": scopes, "expires_in_days": days}
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_token_is_shown_once_and_stored_as_a_digest(box: Box) -> None:
    box.admin("ops", "admin")
    browser = await box.signed_in("ops")
    created = await make_token(browser, ["admins.read", "account.read"], days=7, name="nightly export")
    assert created.status_code == 201
    body = created.json()
    token = body["token"]
    assert token.startswith("hst_") and len(token) > 40
    info = body["info"]
    assert info["prefix"] == token[:12] and info["state"] == "active"
    assert info["expires_at"] == box.clock.now + 7 * 86400
    listed = (await browser.get("/api/v1/auth/tokens")).json()
    assert [t["name"] for t in listed] == ["nightly export"]
    assert "token" not in listed[0]
    rows = box.run(lambda: ApiToken.select().run())
    assert token not in str(rows)
    assert rows[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()

    me = await box.client.get("/api/v1/auth/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json()["via"] == "token" and me.json()["token_id"] == info["id"]
    assert set(me.json()["permissions"]) == {"admins.read", "account.read"}
    assert "set-cookie" not in me.headers  # token calls leave no session behind


async def test_scopes_limit_what_a_token_can_do(box: Box) -> None:
    box.admin("boss", "owner")
    browser = await box.signed_in("boss")
    token = (await make_token(browser, ["audit.read"])).json()["token"]
    assert (await box.client.get("/api/v1/audit", headers=bearer(token))).status_code == 200
    refused = await box.client.get("/api/v1/admins", headers=bearer(token))
    assert refused.status_code == 403 and "scope admins.read" in refused.json()["error"]["message"]
    # a token never manages the account: no new tokens, no logout-all, no 2FA changes
    assert (await box.client.post("/api/v1/auth/tokens", headers=bearer(token), json={})).status_code == 403
    assert (await box.client.post("/api/v1/auth/logout-all", headers=bearer(token))).status_code == 403


async def test_a_token_cannot_carry_more_than_its_owner_may(box: Box) -> None:
    box.admin("viewer", "viewer")
    browser = await box.signed_in("viewer")
    refused = await make_token(browser, ["sessions.read", "sessions.write"])
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["fields"][0]["field"] == "scopes" and "sessions.write" in error["message"]
    assert (await make_token(browser, ["account.manage"])).status_code == 400
    assert (await make_token(browser, ["no.such.thing"])).status_code == 400
    too_long = await make_token(browser, ["sessions.read"], days=400)
    assert too_long.status_code == 400 and too_long.json()["error"]["fields"][0]["field"] == "expires_in_days"


async def test_a_token_follows_its_owner_role_and_state(box: Box) -> None:
    boss = box.admin("boss", "owner")
    staff = box.admin("staff", "admin")
    token = (await make_token(await box.signed_in("staff"), ["admins.read"])).json()["token"]
    assert (await box.client.get("/api/v1/admins", headers=bearer(token))).status_code == 200
    owner = await box.signed_in("boss")
    assert (
        await owner.request("PATCH", f"/api/v1/admins/{staff['id']}", json={"role": "operator"})
    ).status_code == 200
    assert (await box.client.get("/api/v1/admins", headers=bearer(token))).status_code == 403
    assert (
        await owner.request("PATCH", f"/api/v1/admins/{staff['id']}", json={"active": False})
    ).status_code == 200
    assert (await box.client.get("/api/v1/admins", headers=bearer(token))).status_code == 401
    assert boss["role"] == "owner"


async def test_expiry_and_revocation(box: Box) -> None:
    box.admin("dev", "admin")
    browser = await box.signed_in("dev")
    short = (await make_token(browser, ["admins.read"], days=1)).json()
    keep = (await make_token(browser, ["admins.read"], days=30)).json()
    assert (await box.client.get("/api/v1/admins", headers=bearer(short["token"]))).status_code == 200
    box.clock.now += 86400 + 1
    browser = await box.signed_in("dev")
    assert (await box.client.get("/api/v1/admins", headers=bearer(short["token"]))).status_code == 401
    assert (await box.client.get("/api/v1/admins", headers=bearer(keep["token"]))).status_code == 200
    states = {t["id"]: t["state"] for t in (await browser.get("/api/v1/auth/tokens")).json()}
    assert states == {short["info"]["id"]: "expired", keep["info"]["id"]: "active"}

    revoked = await browser.request("DELETE", f"/api/v1/auth/tokens/{keep['info']['id']}")
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert (await box.client.get("/api/v1/admins", headers=bearer(keep["token"]))).status_code == 401
    assert (await browser.request("DELETE", "/api/v1/auth/tokens/999999")).status_code == 404


async def test_one_admin_cannot_revoke_anothers_token(box: Box) -> None:
    box.admin("alice", "admin")
    box.admin("bob", "admin")
    alice = await box.signed_in("alice")
    token_id = (await make_token(alice, ["admins.read"])).json()["info"]["id"]
    bob = await box.signed_in("bob")
    assert (await bob.request("DELETE", f"/api/v1/auth/tokens/{token_id}")).status_code == 404
    assert (await bob.get("/api/v1/auth/tokens")).json() == []


async def test_garbage_bearer_is_401_and_never_falls_back_to_the_cookie(box: Box) -> None:
    box.admin("eve", "owner")
    browser = await box.signed_in("eve")
    for value in ("hst_not-a-real-token", "something-else", ""):
        response = await browser.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {value}"})
        assert response.status_code == 401


async def test_last_used_is_recorded(box: Box) -> None:
    box.admin("sam", "admin")
    browser = await box.signed_in("sam")
    token = (await make_token(browser, ["admins.read"])).json()["token"]
    await box.client.get("/api/v1/admins", headers=bearer(token))
    [listed] = (await browser.get("/api/v1/auth/tokens")).json()
    assert listed["last_used_at"] == box.clock.now
