"""The vouchers admin API at /api/v1/vouchers (both backends): guarded by permission, batches
created, listed, exported (CSV, PDF), revoked, a code's history; writes land in the audit log."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from argon2 import PasswordHasher
from voucher_support import IPS, PHONE_A, Box, pages_text, qr_urls

from hotspot.accounts import Principal, permissions_for
from hotspot.accounts.tables import AuditEntry

PASSWORD = "plum-orchard-velvet-42"


async def token_for(box: Box, username: str, role: str) -> dict[str, str]:
    """A bearer token of an admin with `role`, holding every scope that role may grant."""
    accounts = box.hotspot.accounts
    accounts.passwords.hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    admin = await accounts.create_admin(username=username, password=PASSWORD, role=role)
    principal = Principal(admin["id"], username, role, permissions_for(role), "session")
    scopes = sorted(permissions_for(role) - {"account.manage"})
    token = await accounts.create_token(principal, name="test", scopes=scopes, days=1)
    return {"Authorization": f"Bearer {token.token}"}


@pytest.fixture
async def operator(box: Box) -> dict[str, str]:
    return await token_for(box, "olive", "operator")


async def test_the_routes_need_an_admin_with_the_permission(box: Box) -> None:
    assert (await box.api.get("/api/v1/vouchers/batches")).status_code == 401
    viewer = await token_for(box, "victor", "viewer")
    assert (await box.api.get("/api/v1/vouchers/batches", headers=viewer)).status_code == 200
    denied = await box.api.post(
        "/api/v1/vouchers/batches", json={"package": "1 hour", "count": 2}, headers=viewer
    )
    assert denied.status_code == 403 and "vouchers.write" in denied.json()["error"]["message"]
    made = await box.batch()
    for path in (
        f"/batches/{made.batch.id}",
        f"/batches/{made.batch.id}/csv",
        f"/batches/{made.batch.id}/pdf",
    ):
        assert (
            await box.api.get("/api/v1/vouchers" + path, headers=viewer)
        ).status_code == 403  # codes are money
    history = await box.api.get(f"/api/v1/vouchers/codes/{made.vouchers[0].code}", headers=viewer)
    assert history.status_code == 200 and history.json()["voucher"]["state"] == "unused"


async def test_create_list_read_and_export_a_batch(box: Box, operator: dict[str, str]) -> None:
    response = await box.api.post(
        "/api/v1/vouchers/batches",
        json={
            "package": "1 day",
            "count": 30,
            "prefix": "mm",
            "pin": True,
            "expires": "2030-06-30",
            "note": "market",
        },
        headers=operator,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    batch = created["batch"]
    assert batch["package"] == "1 day" and batch["price"] == {"amount": 5000, "currency": "KES"}
    assert batch["price_text"] == "KES 50" and batch["created_by"] == "olive" and batch["note"] == "market"
    assert batch["states"]["unused"] == 30 and batch["expires_at"] == 1_909_083_600.0
    assert len(created["vouchers"]) == 30 and all(len(v["pin"]) == 6 for v in created["vouchers"])
    [entry] = await AuditEntry.select().where(AuditEntry.action == "voucher_batch.create").run()
    assert entry["actor"] == "olive" and entry["target_id"] == str(batch["id"])

    listed = (await box.api.get("/api/v1/vouchers/batches", headers=operator)).json()
    assert [b["id"] for b in listed] == [batch["id"]]
    detail = (await box.api.get(f"/api/v1/vouchers/batches/{batch['id']}", headers=operator)).json()
    assert [v["code"] for v in detail["vouchers"]] == [v["code"] for v in created["vouchers"]]

    exported = await box.api.get(f"/api/v1/vouchers/batches/{batch['id']}/csv", headers=operator)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 30 and {r["pin"] for r in rows} == {""}

    pdf = await box.api.get(f"/api/v1/vouchers/batches/{batch['id']}/pdf?layout=a4", headers=operator)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert created["vouchers"][0]["printed_code"] in "\n".join(pages_text(pdf.content))
    assert len(qr_urls(pdf.content)) == 24


async def test_bad_batches_and_missing_portal_address_are_400s(box: Box, operator: dict[str, str]) -> None:
    bad = await box.api.post(
        "/api/v1/vouchers/batches", json={"package": "2 hours", "count": 2}, headers=operator
    )
    assert bad.status_code == 400 and bad.json()["error"]["fields"][0]["field"] == "package"
    bad = await box.api.post(
        "/api/v1/vouchers/batches", json={"package": "1 hour", "count": 0}, headers=operator
    )
    assert bad.status_code == 400 and "count" in bad.json()["error"]["fields"][0]["field"]
    missing = await box.api.get("/api/v1/vouchers/batches/99/csv", headers=operator)
    assert missing.status_code == 404
    made = await box.batch()
    box.hotspot.settings = box.hotspot.settings.model_copy(
        update={"server": box.hotspot.settings.server.model_copy(update={"public_url": None})}
    )
    no_url = await box.api.get(f"/api/v1/vouchers/batches/{made.batch.id}/csv", headers=operator)
    assert no_url.status_code == 400 and no_url.json()["error"]["fields"][0]["field"] == "portal_url"
    given = await box.api.get(
        f"/api/v1/vouchers/batches/{made.batch.id}/csv?portal_url=http://192.168.88.2", headers=operator
    )
    assert given.status_code == 200 and "http://192.168.88.2/portal?voucher=" in given.text


async def test_revoke_a_code_and_a_batch_and_read_the_history(box: Box, operator: dict[str, str]) -> None:
    made = await box.batch(count=3)
    code = made.vouchers[0].code
    await box.redeem(code)
    await box.settle()
    revoked = await box.api.post(f"/api/v1/vouchers/codes/{code.lower()}/revoke", headers=operator)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    await box.settle()
    assert PHONE_A not in box.online()
    history: dict[str, Any] = (await box.api.get(f"/api/v1/vouchers/codes/{code}", headers=operator)).json()
    assert history["voucher"]["state"] == "revoked" and history["devices"][0]["mac"] == PHONE_A
    assert history["attempts"][0]["outcome"] == "accepted" and history["attempts"][0]["ip"] == IPS[PHONE_A]
    whole = await box.api.post(f"/api/v1/vouchers/batches/{made.batch.id}/revoke", headers=operator)
    assert whole.status_code == 200 and whole.json() == {"revoked": 2}
    actions = [r["action"] for r in await AuditEntry.select(AuditEntry.action).order_by(AuditEntry.id).run()]
    assert actions[-2:] == ["voucher.revoke", "voucher_batch.revoke"]
    unknown = await box.api.get("/api/v1/vouchers/codes/NOPE-NOPE", headers=operator)
    assert unknown.status_code == 404
