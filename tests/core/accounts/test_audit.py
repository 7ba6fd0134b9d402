"""The audit log on both backends: an entry for every admin change, search and keyset pages, CSV
export, and proof that it is append-only (no code path, and the database refuses it)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pyotp
import pytest
from accounts_support import PASSWORD, Box

from hotspot.accounts import Actor, AuditFilter
from hotspot.accounts.tables import AuditEntry

ROOT = Path(__file__).resolve().parents[3]


async def test_every_admin_change_is_audited_with_who_what_before_after_and_where(box: Box) -> None:
    box.admin("boss", "owner")
    owner = await box.signed_in("boss")
    ip = {"X-Forwarded-For": "192.0.2.44"}

    created = await owner.post(
        "/api/v1/admins", json={"username": "clerk", "password": PASSWORD, "role": "operator"}, headers=ip
    )
    assert created.status_code == 201
    clerk_id = created.json()["id"]
    steps: list[tuple[str, Any]] = [
        (
            "admin.role",
            owner.request("PATCH", f"/api/v1/admins/{clerk_id}", json={"role": "accountant"}, headers=ip),
        ),
        (
            "admin.update",
            owner.request("PATCH", f"/api/v1/admins/{clerk_id}", json={"email": "c@example.com"}, headers=ip),
        ),
        (
            "admin.password_reset",
            owner.post(
                f"/api/v1/admins/{clerk_id}/password", json={"password": "brisk-meadow-sparrow-7"}, headers=ip
            ),
        ),
        ("admin.2fa_reset", owner.post(f"/api/v1/admins/{clerk_id}/reset-2fa", headers=ip)),
        (
            "admin.deactivate",
            owner.request("PATCH", f"/api/v1/admins/{clerk_id}", json={"active": False}, headers=ip),
        ),
        (
            "admin.activate",
            owner.request("PATCH", f"/api/v1/admins/{clerk_id}", json={"active": True}, headers=ip),
        ),
        (
            "settings.update",
            owner.request("PUT", "/api/v1/security/policy", json={"require_2fa": False}, headers=ip),
        ),
    ]
    for _, call in steps:
        response = await call
        assert response.status_code < 300, response.text
    token = await owner.post(
        "/api/v1/auth/tokens", json={"name": "n", "scopes": ["audit.read"], "expires_in_days": 1}, headers=ip
    )
    await owner.request("DELETE", f"/api/v1/auth/tokens/{token.json()['info']['id']}", headers=ip)
    secret = (await owner.post("/api/v1/auth/2fa/enrol", headers=ip)).json()["secret"]
    await owner.post(
        "/api/v1/auth/2fa/confirm", json={"code": pyotp.TOTP(secret).at(box.clock.now)}, headers=ip
    )
    box.clock.now += 30
    await owner.post(
        "/api/v1/auth/2fa/disable",
        json={"password": PASSWORD, "code": pyotp.TOTP(secret).at(box.clock.now)},
        headers=ip,
    )
    await owner.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "amber-canyon-lattice-3"},
        headers=ip,
    )

    page = (await owner.get("/api/v1/audit?limit=100")).json()
    entries = list(reversed(page["entries"]))
    actions = [e["action"] for e in entries]
    assert actions == [
        "admin.create",  # boss, made by the test through the service (system)
        "admin.create",
        *[a for a, _ in steps],
        "token.create",
        "token.revoke",
        "account.2fa_enable",
        "account.2fa_disable",
        "account.password",
    ]
    assert entries[0]["actor"] == "system"
    by_boss = entries[1:]
    assert all(e["actor"] == "boss" and e["ip"] == "192.0.2.44" for e in by_boss)
    role = entries[2]
    assert role["target_type"] == "admin" and role["target_id"] == str(clerk_id)
    assert role["before"]["role"] == "operator" and role["after"]["role"] == "accountant"
    assert entries[1]["before"] is None and entries[1]["after"]["username"] == "clerk"
    text = str(page)
    for secretish in (
        PASSWORD,
        "brisk-meadow-sparrow-7",
        "amber-canyon-lattice-3",
        secret,
        token.json()["token"],
    ):
        assert secretish not in text
    assert "password_hash" not in text and "argon2" not in text


async def test_search_filters_and_keyset_pages(box: Box) -> None:
    box.admin("auditor", "viewer")
    browser = await box.signed_in("auditor")
    audit = box.accounts.audit
    for i in range(7):
        box.clock.now += 60
        box.run(
            lambda i=i: audit.record(
                Actor("alice" if i % 2 else "bob", i), f"thing.{'a' if i < 4 else 'b'}", ("x", i)
            )
        )
    pages: list[list[str]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, "action": "thing."}
        if cursor is not None:
            params["before_id"] = cursor
        page = (await browser.get("/api/v1/audit", params=params)).json()
        pages.append([e["target_id"] for e in page["entries"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [["6", "5", "4"], ["3", "2", "1"], ["0"]]
    everything = (await browser.get("/api/v1/audit")).json()["entries"]
    assert everything[-1]["action"] == "admin.create"  # the auditor's own creation, oldest

    alice = (await browser.get("/api/v1/audit", params={"actor": "alice"})).json()["entries"]
    assert [e["target_id"] for e in alice] == ["5", "3", "1"]
    b_only = (await browser.get("/api/v1/audit", params={"action": "thing.b"})).json()["entries"]
    assert [e["target_id"] for e in b_only] == ["6", "5", "4"]
    prefix = (await browser.get("/api/v1/audit", params={"action": "thing."})).json()["entries"]
    assert len(prefix) == 7
    start = 1_800_000_000 + 3 * 60
    ranged = (
        await browser.get(
            "/api/v1/audit",
            params={"since": _iso(start), "until": _iso(start + 120), "action": "thing.*"},
        )
    ).json()["entries"]
    assert [e["target_id"] for e in ranged] == ["3", "2"]
    bad = await browser.get("/api/v1/audit", params={"since": "yesterday"})
    assert bad.status_code == 400


async def test_csv_export(box: Box) -> None:
    box.run(
        lambda: box.accounts.audit.record(
            Actor('=HYPERLINK("evil")'), "x.y", ("t", 1), {"a": 1}, {"a": 2}, "192.0.2.1"
        )
    )
    box.admin("acc", "accountant")
    browser = await box.signed_in("acc")
    response = await browser.get("/api/v1/audit/export.csv", params={"action": "x.y"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["id", "at", "actor", "action", "target_type", "target_id", "ip", "before", "after"]
    [row] = rows[1:]
    assert row[2] == '\'=HYPERLINK("evil")'  # a spreadsheet will not run it
    assert row[3:7] == ["x.y", "t", "1", "192.0.2.1"] and row[7] == '{"a": 1}' and row[8] == '{"a": 2}'
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", row[1])


async def test_export_reads_in_batches(box: Box) -> None:
    for i in range(12):
        box.run(lambda i=i: box.accounts.audit.record(Actor("bulk"), "bulk.add", ("n", i)))

    async def collect() -> str:
        return "".join(
            [chunk async for chunk in box.accounts.audit.export_csv(AuditFilter(actor="bulk"), batch=5)]
        )

    lines = box.run(collect).strip().splitlines()
    assert len(lines) == 13 and lines[1].split(",")[5] == "11" and lines[-1].split(",")[5] == "0"


# --- append-only -------------------------------------------------------------------------------

_FORBIDDEN = [
    re.compile(r"AuditEntry\s*\.\s*(update|delete|alter|raw)\b"),
    re.compile(r"(UPDATE|DELETE\s+FROM|TRUNCATE(\s+TABLE)?)\s+\"?hotspot_audit\b", re.IGNORECASE),
    re.compile(r"\bAuditEntry\b[^\n]*\.save\("),
]


def _code_files() -> list[Path]:
    files = [p for p in (ROOT / "hotspot").rglob("*.py") if "piccolo_migrations" not in p.parts]
    files += [p for p in (ROOT / "plugins").rglob("*.py")]
    return sorted(files)


def test_no_code_updates_or_deletes_audit_entries() -> None:
    files = _code_files()
    assert any(p.name == "audit.py" for p in files)
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if any(pattern.search(line) for pattern in _FORBIDDEN)
    ]
    assert not offenders, "the audit log is append-only:\n" + "\n".join(offenders)


def test_the_scan_would_catch_an_update() -> None:
    for line in (
        "await AuditEntry.update({AuditEntry.actor: 'x'}).run()",
        "await AuditEntry.delete(force=True).run()",
        'await db.run_ddl("DELETE FROM hotspot_audit WHERE id = 1")',
        "UPDATE hotspot_audit SET actor = 'x'",
        "entry = AuditEntry(actor='x'); await entry.save().run()",
    ):
        assert any(p.search(line) for p in _FORBIDDEN), line


async def test_the_database_refuses_to_rewrite_history(box: Box) -> None:
    box.run(lambda: box.accounts.audit.record(Actor("someone"), "x.y"))
    engine = box.hotspot.db.engine
    for statement in ("UPDATE hotspot_audit SET actor = 'nobody'", "DELETE FROM hotspot_audit"):
        with pytest.raises(Exception, match="append-only"):
            box.run(lambda statement=statement: engine.run_ddl(statement))
    rows = box.run(lambda: AuditEntry.select(AuditEntry.actor).run())
    assert rows == [{"actor": "someone"}]


def _iso(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).isoformat()
